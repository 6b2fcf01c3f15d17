//! A generic rule's exception (`unless`), evaluated cheaply: its top-level
//! alternatives that are plain words (`android`, `\bnokia`, `^sie-`,
//! `\b(?:alcatel|amoi|...)`) become literals with a [`shape`](crate::shape),
//! found in one pass of a [`LiteralIndex`]; only the other alternatives run as
//! one regex, and only when no word was found. An exception is a list of
//! device families, mostly names, and a regex over a long alternation of
//! names is the slowest thing the edge could run; the split keeps the exact
//! meaning of the regex (an alternative this module cannot read as words
//! stays in the regex).

use crate::index::LiteralIndex;
use crate::shape;

/// A compiled exception.
#[derive(Debug)]
pub(crate) struct Exception {
    words: Option<(LiteralIndex, Vec<u8>)>,
    rest: Option<regex_lite::Regex>,
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
        let (rest, broken) = if rest.is_empty() {
            (None, false)
        } else {
            match regex_lite::RegexBuilder::new(&rest.join("|"))
                .case_insensitive(true)
                .build()
            {
                Ok(re) => (Some(re), false),
                Err(_) => (None, true),
            }
        };
        let words = (!words.is_empty()).then(|| {
            let index = LiteralIndex::new(words.iter().map(|(w, _)| w.as_str()));
            (index, words.iter().map(|(_, s)| *s).collect())
        });
        Exception {
            words,
            rest,
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
        !self.broken && self.rest.as_ref().is_some_and(|re| re.is_match(text))
    }
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
        let re = regex_lite::RegexBuilder::new(pattern)
            .case_insensitive(true)
            .build()
            .unwrap();
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
    fn a_rest_that_does_not_compile_spares_nothing() {
        let e = Exception::new("nokia|(unclosed");
        assert!(!e.spares("Nokia6300"));
        let words_only = Exception::new("nokia|\\bsie-");
        assert!(words_only.rest.is_none());
        assert!(words_only.spares("SIE-C65") && !words_only.spares("xsie-"));
    }
}
