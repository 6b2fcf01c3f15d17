//! The regex engine that confirms a signature or an exception: one meaning,
//! regex-lite's (code point by code point, ASCII classes, ASCII case
//! folding), two engines.
//!
//! At the edge (wasm) every pattern runs on regex-lite, whose code is small;
//! a cold start compiles what it runs. Natively (`bot-signatures classify`,
//! the benchmarks, the native core), where code size does not matter, a
//! pattern runs on regex-automata's meta regex (a lazy DFA) built from the
//! same pattern *read with regex-lite's meaning*: parsed by regex-syntax in
//! its byte-oriented, ASCII mode (which is how regex-lite reads `\w`, `\b`
//! and case folding), then each byte class turned back into the class of
//! characters regex-lite means (a class holding every byte from 0x80 holds
//! every non-ASCII character; one holding only some of them is refused).
//! A pattern this reading does not cover (a `\x`/`\u` escape, which names a
//! code point in regex-lite and a byte here; a Unicode class; a look-around
//! regex-lite spells differently) runs on regex-lite natively too. Whether a
//! pattern compiles is always regex-lite's answer, so both builds refuse the
//! same patterns.
//!
//! The tests below hold the two engines to the same answers where bytes and
//! characters differ; `bot-signatures/tests/engines.rs` does so for every
//! pattern of the catalog on every user-agent of its data sets, as written
//! and with non-ASCII characters put in.

/// A compiled pattern (ASCII case-insensitive), with [`is_match_at`]'s
/// context rules: `^` and `\b` see the whole text.
///
/// [`is_match_at`]: Regex::is_match_at
#[derive(Debug)]
pub struct Regex(Inner);

#[derive(Debug)]
enum Inner {
    Lite(regex_lite::Regex),
    #[cfg(not(target_arch = "wasm32"))]
    Dfa(regex_automata::meta::Regex),
}

impl Regex {
    /// `pattern` compiled as the edge reads patterns and exceptions (ASCII
    /// case-insensitive), or `None` when regex-lite does not compile it.
    pub fn new(pattern: &str) -> Option<Regex> {
        let lite = lite(pattern)?;
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(dfa) = native::build(pattern) {
            return Some(Regex(Inner::Dfa(dfa)));
        }
        Some(Regex(Inner::Lite(lite)))
    }

    /// Whether the pattern matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.is_match_at(text, 0)
    }

    /// Whether the pattern matches in `text` starting at or after byte
    /// `from` (a character boundary), with the text before it as context.
    pub fn is_match_at(&self, text: &str, from: usize) -> bool {
        match &self.0 {
            Inner::Lite(re) => re.is_match_at(text, from),
            #[cfg(not(target_arch = "wasm32"))]
            Inner::Dfa(re) => re.is_match(regex_automata::Input::new(text).range(from..)),
        }
    }

    /// Whether this pattern runs on regex-lite (always, in wasm).
    pub fn on_lite(&self) -> bool {
        matches!(self.0, Inner::Lite(_))
    }
}

/// `pattern` on regex-lite, as the edge compiles it.
pub fn lite(pattern: &str) -> Option<regex_lite::Regex> {
    regex_lite::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .build()
        .ok()
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use regex_syntax::hir::{
        Capture, Class, ClassBytes, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look, Repetition,
    };

    /// The meta regex of `pattern` read with regex-lite's meaning, or `None`
    /// when this reading does not cover the pattern.
    pub(super) fn build(pattern: &str) -> Option<regex_automata::meta::Regex> {
        let hir = read(pattern)?;
        regex_automata::meta::Regex::builder()
            .build_from_hir(&hir)
            .ok()
    }

    /// `pattern` as regex-lite means it, as a character-level HIR.
    pub(super) fn read(pattern: &str) -> Option<Hir> {
        // `\x41`, `\u{41}`: a code point to regex-lite, a byte here.
        if ["\\x", "\\u", "\\U"].iter().any(|e| pattern.contains(e)) {
            return None;
        }
        let bytes = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .case_insensitive(true)
            .build()
            .parse(pattern)
            .ok()?;
        chars(&bytes)
    }

    fn chars(hir: &Hir) -> Option<Hir> {
        Some(match hir.kind() {
            HirKind::Empty => Hir::empty(),
            HirKind::Literal(literal) => {
                std::str::from_utf8(&literal.0).ok()?;
                Hir::literal(literal.0.clone())
            }
            HirKind::Class(Class::Bytes(class)) => Hir::class(Class::Unicode(of_bytes(class)?)),
            // Only a `(?u)` in the pattern gives one: a Unicode reading.
            HirKind::Class(Class::Unicode(class)) => {
                if !class.is_ascii() {
                    return None;
                }
                Hir::class(Class::Unicode(class.clone()))
            }
            HirKind::Look(look) => match look {
                Look::Start
                | Look::End
                | Look::StartLF
                | Look::EndLF
                | Look::WordAscii
                | Look::WordAsciiNegate => Hir::look(*look),
                _ => return None,
            },
            HirKind::Repetition(r) => Hir::repetition(Repetition {
                min: r.min,
                max: r.max,
                greedy: r.greedy,
                sub: Box::new(chars(&r.sub)?),
            }),
            HirKind::Capture(c) => Hir::capture(Capture {
                index: c.index,
                name: c.name.clone(),
                sub: Box::new(chars(&c.sub)?),
            }),
            HirKind::Concat(subs) => Hir::concat(subs.iter().map(chars).collect::<Option<_>>()?),
            HirKind::Alternation(subs) => {
                Hir::alternation(subs.iter().map(chars).collect::<Option<_>>()?)
            }
        })
    }

    /// The characters a byte class means to regex-lite: its ASCII bytes as
    /// characters, and every non-ASCII character when it holds every byte
    /// from 0x80 (`[^;]`, `.`, `\S`); `None` when it holds only some.
    pub(super) fn of_bytes(class: &ClassBytes) -> Option<ClassUnicode> {
        let mut ranges = Vec::new();
        let mut high = 0u32;
        for r in class.iter() {
            let (start, end) = (r.start(), r.end());
            if start < 0x80 {
                ranges.push(ClassUnicodeRange::new(
                    char::from(start),
                    char::from(end.min(0x7F)),
                ));
            }
            if end >= 0x80 {
                high += u32::from(end) - u32::from(start.max(0x80)) + 1;
            }
        }
        match high {
            0 => {}
            128 => ranges.push(ClassUnicodeRange::new('\u{80}', char::MAX)),
            _ => return None,
        }
        Some(ClassUnicode::new(ranges))
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod engine_tests {
    use super::*;

    #[test]
    fn classes_mean_characters() {
        use regex_syntax::hir::{ClassBytes, ClassBytesRange};
        let ascii = ClassBytes::new([ClassBytesRange::new(b'a', b'z')]);
        let got = native::of_bytes(&ascii).unwrap();
        assert!(got.is_ascii());
        let mut negated = ClassBytes::new([ClassBytesRange::new(b';', b';')]);
        negated.negate();
        let got = native::of_bytes(&negated).unwrap();
        assert!(!got.is_ascii(), "every non-ASCII character");
        assert_eq!(got.iter().last().unwrap().end(), char::MAX);
        let some_high = ClassBytes::new([ClassBytesRange::new(0x80, 0x9F)]);
        assert!(native::of_bytes(&some_high).is_none());
        // Every byte from 0x80 and nothing below: every non-ASCII
        // character, and not DEL (0x7F), the last ASCII one.
        let high = ClassBytes::new([ClassBytesRange::new(0x80, 0xFF)]);
        let got = native::of_bytes(&high).unwrap();
        let ranges: Vec<(char, char)> = got.iter().map(|r| (r.start(), r.end())).collect();
        assert_eq!(ranges, [('\u{80}', char::MAX)]);
    }

    #[test]
    fn what_the_reading_does_not_cover_stays_on_lite() {
        for p in [r"\x41", r"\u{e9}", r"(?u)\w", r"(?u:k)", r"\b{start}x"] {
            if let Some(re) = Regex::new(p) {
                assert!(re.on_lite(), "{p}");
            }
        }
        for p in [r"^foo\b", r"[^;]+bot", r"\d{2,3}x\w", r"(?m)^a$", r"a.b"] {
            assert!(!Regex::new(p).unwrap().on_lite(), "{p}");
        }
        assert!(
            Regex::new("(").is_none(),
            "regex-lite refuses it: both refuse"
        );
    }

    #[test]
    fn the_dfa_reads_patterns_as_regex_lite_does() {
        // Non-ASCII text where bytes and characters differ, ASCII-only case
        // folding (the Kelvin sign is not a `k`), ASCII `\w` and `\b`.
        let cases: &[(&str, &[&str])] = &[
            (r"^.$", &["é", "a", "ab", "\u{212A}"]),
            (r"^[^/ ]{2}$", &["éé", "é", "ab", "a/"]),
            (r"k", &["\u{212A}", "K", "x"]),
            (r"\bbot\b", &["ébot", "ébotx", "a bot", "robot"]),
            (r"\w+", &["é", "_", "ß"]),
            (r"^\S+@\S+$", &["é@é", "a b@c", "x@y"]),
            (r"(?s)^a.b$", &["a\nb", "aéb"]),
            (r"(?m)^b", &["a\nb", "ab"]),
        ];
        for (p, texts) in cases {
            let re = Regex::new(p).unwrap();
            let lite = lite(p).unwrap();
            assert!(!re.on_lite(), "{p}");
            for t in *texts {
                for from in (0..=t.len()).filter(|&i| t.is_char_boundary(i)) {
                    assert_eq!(
                        re.is_match_at(t, from),
                        lite.is_match_at(t, from),
                        "{p} on {t:?} from {from}"
                    );
                }
            }
        }
    }
}
