//! A generic rule's exception (`unless`), evaluated cheaply: its top-level
//! alternatives that are plain words (`android`, `\bnokia`, `^sie-`,
//! `\b(?:alcatel|amoi|...)`) become literals with a [`shape`](crate::shape),
//! found in one pass of a [`LiteralIndex`]; only the other alternatives run as
//! one regex, and only when no word was found. An exception is a list of
//! device families, mostly names, and a regex over a long alternation of
//! names is the slowest thing the edge could run; the split keeps the exact
//! meaning of the regex (an alternative this module cannot read as words
//! stays in the regex).

use crate::engine::Regex;
use crate::index::LiteralIndex;
use crate::shape;

/// A compiled exception.
#[derive(Debug)]
pub(crate) struct Exception {
    words: Option<(LiteralIndex, Vec<u8>)>,
    /// The alternatives of the rest with no literal every match of theirs
    /// contains, as one regex.
    rest: Option<Regex>,
    /// The other alternatives of the rest, each with its required literal
    /// (ASCII lowercase): run only when the literal is in the text, so a
    /// regex over a long text (`\btrident/7\.0;[^()]*\brv:11\.0\) like
    /// gecko$`) is skipped for every text it could never match.
    gated: Vec<(Vec<u8>, Regex)>,
    /// The rest did not compile: the exception excepts nothing (fail closed).
    broken: bool,
}

impl Exception {
    /// Splits and compiles `pattern` (ASCII case-insensitive).
    pub(crate) fn new(pattern: &str) -> Exception {
        let mut words: Vec<(String, u8)> = Vec::new();
        let mut rest: Vec<&str> = Vec::new();
        for alternative in top_level(pattern) {
            match as_words(alternative) {
                Some(found) => words.extend(found),
                None => rest.push(alternative),
            }
        }
        let (rest, gated, broken) = if rest.is_empty() {
            (None, Vec::new(), false)
        } else if let Some((plain, gated)) = gate(&rest) {
            // Every alternative compiled on its own, so their alternation
            // does too: nothing is compiled twice.
            (plain, gated, false)
        } else {
            match Regex::new(&rest.join("|")) {
                Some(all) => (Some(all), Vec::new(), false),
                None => (None, Vec::new(), true),
            }
        };
        let words = (!words.is_empty()).then(|| {
            let index = LiteralIndex::new(words.iter().map(|(w, _)| w.as_str()));
            (index, words.iter().map(|(_, s)| *s).collect())
        });
        Exception {
            words,
            rest,
            gated,
            broken,
        }
    }

    /// Whether the exception spares `text`.
    #[cfg(test)]
    pub(crate) fn spares(&self, text: &str) -> bool {
        self.spares_by_words(text) || self.spares_by_rest(text)
    }

    /// Whether one of the exception's words is in `text` (cheap: one pass of
    /// a literal index).
    pub(crate) fn spares_by_words(&self, text: &str) -> bool {
        if self.broken {
            return false;
        }
        let Some((index, shapes)) = &self.words else {
            return false;
        };
        let bytes = text.as_bytes();
        let mut found = false;
        index.for_each_hit(text, |word, start, end| {
            found |= shape::fits(shapes[word as usize], bytes, start, end);
        });
        found
    }

    /// Whether the rest of the exception, the regex, matches `text`.
    pub(crate) fn spares_by_rest(&self, text: &str) -> bool {
        !self.broken
            && (self.rest.as_ref().is_some_and(|re| re.is_match(text))
                || self.gated.iter().any(|(literal, re)| {
                    contains_ignore_case(text.as_bytes(), literal) && re.is_match(text)
                }))
    }
}

/// The rest's alternatives split into those without a required literal (one
/// regex, or none) and those with one (each its own regex); `None` when no
/// alternative has one (the rest stays one regex) or one does not compile
/// alone. Same meaning: the rest matches when one of its alternatives does.
#[allow(clippy::type_complexity)] // a pair of the two halves, used once
fn gate(alternatives: &[&str]) -> Option<(Option<Regex>, Vec<(Vec<u8>, Regex)>)> {
    let mut plain: Vec<&str> = Vec::new();
    let mut gated = Vec::new();
    for alternative in alternatives {
        match required_literal(alternative) {
            Some(literal) => gated.push((literal, Regex::new(alternative)?)),
            None => plain.push(alternative),
        }
    }
    if gated.is_empty() {
        return None;
    }
    let plain = if plain.is_empty() {
        None
    } else {
        Some(Regex::new(&plain.join("|"))?)
    };
    Some((plain, gated))
}

/// The longest run of literal bytes (three or more, ASCII lowercase) that
/// every match of `alternative`, a regex with no top-level `|`, contains: the
/// bytes at the top level between groups, classes, anchors and repeats (a
/// byte made optional by `?`, `*` or `{..}` is not in it). `None` when there
/// is none, or for anything this reading does not know (an escape other than
/// punctuation and `\b \B \d \D \w \W \s \S \A \z`, non-ASCII text,
/// an unbalanced group or class).
pub(crate) fn required_literal(alternative: &str) -> Option<Vec<u8>> {
    if !alternative.is_ascii() {
        return None;
    }
    let b = alternative.as_bytes();
    let mut runs: Vec<Vec<u8>> = Vec::new();
    let mut run: Vec<u8> = Vec::new();
    let mut last_literal = false;
    let mut i = 0;
    while i < b.len() {
        let mut literal = None;
        match b[i] {
            b'\\' => {
                let e = *b.get(i + 1)?;
                if e.is_ascii_alphanumeric() {
                    if !b"bBdDwWsSAz".contains(&e) {
                        return None;
                    }
                } else {
                    literal = Some(e);
                }
                i += 2;
            }
            b'[' => i = class_end(b, i)? + 1,
            b'(' => i = group_end(b, i)? + 1,
            b'.' | b'^' | b'$' => i += 1,
            q @ (b'?' | b'*' | b'+' | b'{') => {
                if q == b'{' {
                    i += b[i..].iter().position(|&c| c == b'}')? + 1;
                } else {
                    i += 1;
                }
                if last_literal && q != b'+' {
                    run.pop();
                }
                runs.push(std::mem::take(&mut run));
                last_literal = false;
                continue;
            }
            b')' | b']' | b'|' => return None,
            c => {
                literal = Some(c);
                i += 1;
            }
        }
        match literal {
            Some(c) => run.push(c.to_ascii_lowercase()),
            None => runs.push(std::mem::take(&mut run)),
        }
        last_literal = literal.is_some();
    }
    runs.push(run);
    runs.into_iter()
        .filter(|r| r.len() >= 3)
        .max_by_key(|r| r.len())
}

/// Where the class opening at `b[open]` ends (its `]`).
fn class_end(b: &[u8], open: usize) -> Option<usize> {
    let mut j = open + 1;
    if b.get(j) == Some(&b'^') {
        j += 1;
    }
    if b.get(j) == Some(&b']') {
        j += 1;
    }
    while *b.get(j)? != b']' {
        j += if b[j] == b'\\' { 2 } else { 1 };
    }
    Some(j)
}

/// Where the group opening at `b[open]` ends (its matching `)`), classes and
/// escapes inside read as such.
fn group_end(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = open;
    loop {
        match *b.get(j)? {
            b'\\' => j += 1,
            b'[' => j = class_end(b, j)?,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
        j += 1;
    }
}

/// Whether `needle` (ASCII lowercase) is in `hay`, ASCII case-insensitively.
fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    memchr::memchr2_iter(first, first.to_ascii_uppercase(), hay).any(|at| {
        hay.get(at + 1..at + needle.len())
            .is_some_and(|tail| tail.eq_ignore_ascii_case(rest))
    })
}

/// The top-level alternatives of a regex (`|` outside groups and classes).
pub(crate) fn top_level(pattern: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut in_class, mut escaped, mut from) = (0i32, false, false, 0);
    for (i, c) in pattern.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => depth -= 1,
            '|' if !in_class && depth == 0 => {
                out.push(&pattern[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push(&pattern[from..]);
    out
}

/// An alternative read as words: `[^][\b]word[\b]` or
/// `[^][\b](?:word|word|...)[\b]`, a word being letters, digits, space, `_`,
/// `-`, `/`, `,` and escaped `.`; a boundary only where the word starts or
/// ends with a word character (so `\b` means what it does in the regex).
/// `None` for anything else.
fn as_words(alternative: &str) -> Option<Vec<(String, u8)>> {
    let mut s = alternative;
    let mut flags = 0;
    if let Some(r) = s.strip_prefix('^') {
        flags |= shape::AT_START;
        s = r;
    }
    if let Some(r) = s.strip_prefix("\\b") {
        flags |= shape::WORD_START;
        s = r;
    }
    if let Some(r) = s.strip_suffix("\\b") {
        flags |= shape::WORD_END;
        s = r;
    }
    let list: Vec<&str> = match s.strip_prefix("(?:").and_then(|r| r.strip_suffix(')')) {
        Some(inner) => inner.split('|').collect(),
        None => vec![s],
    };
    let word_char = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    list.into_iter()
        .map(|w| {
            let text = w.replace("\\.", ".");
            let plain = !text.is_empty()
                && text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b" _-/,.".contains(&b))
                && !w.replace("\\.", "").contains('.');
            let b = text.as_bytes();
            let ends_fit = plain
                && (flags & shape::WORD_START == 0 || word_char(b[0]))
                && (flags & shape::WORD_END == 0 || word_char(b[b.len() - 1]));
            ends_fit.then(|| (text.to_ascii_lowercase(), flags))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_read_and_the_rest_stays_a_regex() {
        assert_eq!(
            top_level("a|(b|c)|[|]|d\\|e"),
            ["a", "(b|c)", "[|]", "d\\|e"]
        );
        // A parenthesis inside a class opens or closes no group.
        assert_eq!(top_level("[(]|a"), ["[(]", "a"]);
        assert_eq!(top_level("[)]|b"), ["[)]", "b"]);
        assert_eq!(
            as_words("\\b(?:nokia|sie-|lg)"),
            Some(vec![
                ("nokia".into(), shape::WORD_START),
                ("sie-".into(), shape::WORD_START),
                ("lg".into(), shape::WORD_START)
            ])
        );
        assert_eq!(
            as_words("^opera/"),
            Some(vec![("opera/".into(), shape::AT_START)])
        );
        assert_eq!(as_words("mac os"), Some(vec![("mac os".into(), 0)]));
        assert_eq!(
            as_words("\\bios\\b"),
            Some(vec![("ios".into(), shape::WORD_START | shape::WORD_END)])
        );
        assert_eq!(as_words("a\\.b"), Some(vec![("a.b".into(), 0)]));
        // Without a boundary, a word may start or end with any allowed byte.
        assert_eq!(as_words("-x,"), Some(vec![("-x,".into(), 0)]));
        // Not words: a regex dot, classes, repeats, a boundary beside a
        // non-word character, nested groups, an empty word.
        for no in [
            "a.b",
            "mac ?os",
            "[0-9]{3}x",
            "\\b-x",
            "x-\\b",
            "(?:a|(b))",
            "(?:a|)",
            "",
            "^\\d",
        ] {
            assert_eq!(as_words(no), None, "{no}");
        }
    }

    #[test]
    fn spares_exactly_what_the_regex_matches() {
        let pattern =
            "\\b(?:nokia|sie-)|android|^opera/|\\bios\\b|^[^/ ]*[a-z][0-9]|[0-9]{3}x[0-9]{3}";
        let e = Exception::new(pattern);
        assert!(e.words.is_some() && e.rest.is_some());
        let re = Regex::new(pattern).unwrap();
        for text in [
            "Nokia6300/2.0",
            "xnokia",
            "SIE-C65",
            "ANDROID",
            "Opera/9.80",
            "x Opera/9",
            "iOS 17",
            "kiosk",
            "bios",
            "ab1/x",
            "a/b1",
            "240x320",
            "nothing here",
            "",
            "ios",
        ] {
            assert_eq!(e.spares(text), re.is_match(text), "{text}");
        }
    }

    #[test]
    fn required_literals_are_what_every_match_contains() {
        let lit = |p: &str| required_literal(p).map(|l| String::from_utf8(l).unwrap());
        assert_eq!(
            lit("\\btrident/7\\.0;[^()]*\\brv:11\\.0\\) like gecko$").as_deref(),
            Some("rv:11.0) like gecko")
        );
        // A repeated byte is optional unless it is '+'; a group, a class, a
        // dot or an anchor ends a run.
        assert_eq!(lit("abcd?xy").as_deref(), Some("abc"));
        assert_eq!(lit("abcd*xy").as_deref(), Some("abc"));
        assert_eq!(lit("abcd{0,2}xy").as_deref(), Some("abc"));
        assert_eq!(lit("abcd+xy").as_deref(), Some("abcd"));
        assert_eq!(lit("ab(?:cd)efgh").as_deref(), Some("efgh"));
        assert_eq!(lit("ab[(]cd)efgh"), None);
        assert_eq!(lit("x[^)]*(?:[)]y)ABCD").as_deref(), Some("abcd"));
        assert_eq!(lit("a.bcd").as_deref(), Some("bcd"));
        assert_eq!(
            lit("android [\\d.]+;(?: u;)? [^;)/]*bot\\b").as_deref(),
            Some("android ")
        );
        assert_eq!(lit("^http/1\\.[01] ").as_deref(), Some("http/1."));
        // A repeat's bounds are skipped as a whole; a class that opens with
        // ']' (or '^]') holds it.
        assert_eq!(lit("ab{2}cdefg").as_deref(), Some("cdefg"));
        assert_eq!(lit("[]a]bcdef").as_deref(), Some("bcdef"));
        assert_eq!(lit("x[^]a]bcdef").as_deref(), Some("bcdef"));
        // Nothing long enough, or something this reading does not know.
        for no in [
            "ab",
            "a.b.c",
            "^[^/ ]*(?:[a-z][0-9])",
            "\\x41bcd",
            "\\p{L}abc",
            "ab)cd",
            "[abc",
            "(abc",
            "é123",
            "",
        ] {
            assert_eq!(lit(no), None, "{no}");
        }
    }

    #[test]
    fn the_gate_finds_a_literal_in_any_case() {
        let hay = b"Mozilla/5.0 (Windows NT 6.1; TRIDENT/7.0; rv:11.0)";
        assert!(contains_ignore_case(hay, b"trident/7.0;"));
        assert!(contains_ignore_case(hay, b"rv:11.0)"));
        assert!(contains_ignore_case(hay, b""));
        // Absent, cut off by the end of the text, or a first byte that
        // occurs without the rest.
        assert!(!contains_ignore_case(hay, b"gecko"));
        assert!(!contains_ignore_case(hay, b"rv:11.0) like"));
        assert!(!contains_ignore_case(b"tttt", b"trident"));
        assert!(!contains_ignore_case(b"", b"x"));
    }

    #[test]
    fn a_gated_rest_spares_exactly_what_the_regex_matches() {
        // The shipped catalog's kinds of exception, and texts around their
        // literals (the catalog-wide check is the integration test
        // `binary_artifact_matches_exactly_what_the_regexes_match`).
        let patterns = [
            "\\bbrowser\\b|\\bembeddedwb\\b|\\btrident/7\\.0;[^()]*\\brv:11\\.0\\) like gecko$",
            "cubot|android [\\d.]+;(?: u;)?(?: [a-z]{2}[-_][a-z]{2};)? [^;)/]*bot\\b[^;)/]*(?: build/|;|\\))|\\btrident/7\\.0;[^()]*\\brv:11\\.0\\) like gecko$",
            "^http/1\\.[01] ",
            "^[^/ ]*(?:[a-z][0-9])|abc+d|x[0-9]{3}yz",
        ];
        let texts = [
            "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko",
            "Mozilla/5.0 (Windows NT 10.0; TRIDENT/7.0; x; RV:11.0) LIKE GECKO",
            "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko (+https://q.example)",
            "Mozilla/5.0 (Trident/7.0; (x) rv:11.0) like Gecko",
            "rv:11.0) like gecko",
            "Mozilla/5.0 (Linux; Android 12; Numbat Bot 5 Build/SP1A) Mobile",
            "Mozilla/5.0 (Linux; Android 12; U; en-us; Numbat Bot 5) Mobile",
            "Mozilla/5.0 (Linux; android 12;  bot)",
            "HTTP/1.1 Nokia6300/2.0",
            "http/1.2 x",
            "abccccd",
            "abd",
            "x123yz",
            "x12yz",
            "q1",
            "",
        ];
        let mut gated = 0;
        for pattern in patterns {
            let e = Exception::new(pattern);
            gated += e.gated.len();
            let re = Regex::new(pattern).unwrap();
            for text in texts {
                assert_eq!(e.spares(text), re.is_match(text), "{pattern} on {text}");
            }
        }
        assert_eq!(gated, 5, "the alternatives with a literal are gated");
    }

    #[test]
    fn a_rest_that_does_not_compile_spares_nothing() {
        let e = Exception::new("nokia|(unclosed");
        assert!(!e.spares("Nokia6300"));
        let words_only = Exception::new("nokia|\\bsie-");
        assert!(words_only.rest.is_none());
        assert!(words_only.spares("SIE-C65") && !words_only.spares("xsie-"));
    }
}
