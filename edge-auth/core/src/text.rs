//! Splitting text on an ASCII byte with the `memchr` crate's search: what
//! `str::split(char)` and `str::split_once(char)` give, without the standard
//! library's character searcher, which showed in the wasm's per-request
//! profile (the packed fields, the URI's segments, the cookies).

/// The pieces of `text` between occurrences of `sep`, as `text.split(sep)`
/// gives them (an empty text is one empty piece).
///
/// # Panics
///
/// When `sep` is not ASCII: the pieces must start and end on character
/// boundaries, and only an ASCII byte is sure to be one.
pub fn split_byte(text: &str, sep: u8) -> SplitByte<'_> {
    assert!(sep.is_ascii(), "split_byte splits on ASCII bytes only");
    SplitByte {
        rest: Some(text),
        sep,
    }
}

/// `text.split_once(sep)` for an ASCII `sep`.
///
/// # Panics
///
/// When `sep` is not ASCII, as [`split_byte`].
pub fn split_once_byte(text: &str, sep: u8) -> Option<(&str, &str)> {
    assert!(sep.is_ascii(), "split_once_byte splits on ASCII bytes only");
    let at = find(sep, text.as_bytes())?;
    Some((&text[..at], &text[at + 1..]))
}

/// The first `byte` in `bytes`: one copy of `memchr`'s search for every
/// caller (inlined at each, it grew the zipped bundle by about 1 KB).
#[inline(never)]
fn find(byte: u8, bytes: &[u8]) -> Option<usize> {
    memchr::memchr(byte, bytes)
}

/// The iterator of [`split_byte`].
#[derive(Debug, Clone)]
pub struct SplitByte<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for SplitByte<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        // An ASCII byte never sits inside a multi-byte character, so both
        // slices below start and end on character boundaries.
        match find(self.sep, rest.as_bytes()) {
            Some(at) => {
                self.rest = Some(&rest[at + 1..]);
                Some(&rest[..at])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Texts of separators, their neighbours and multi-byte characters,
        // so that empty pieces, leading and trailing separators all occur.
        #[test]
        fn split_byte_is_str_split(text in "[;=/\\x00aé€😀]{0,24}", sep in prop_oneof![Just(b';'), Just(b'='), Just(b'/'), Just(0u8)]) {
            let ours: Vec<&str> = split_byte(&text, sep).collect();
            let std: Vec<&str> = text.split(char::from(sep)).collect();
            prop_assert_eq!(ours, std);
            prop_assert_eq!(split_once_byte(&text, sep), text.split_once(char::from(sep)));
        }
    }

    #[test]
    fn the_generator_reaches_empty_pieces_and_non_ascii_text() {
        use proptest::strategy::{Strategy, ValueTree};
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let strategy = "[;=/\\x00aé€😀]{0,24}";
        let (mut empty_piece, mut non_ascii, mut none) = (0, 0, 0);
        for _ in 0..256 {
            let t = strategy.new_tree(&mut runner).unwrap().current();
            empty_piece += usize::from(t.split(';').any(str::is_empty) && t.contains(';'));
            non_ascii += usize::from(!t.is_ascii());
            none += usize::from(!t.contains(';'));
        }
        assert!(
            empty_piece > 30 && non_ascii > 100 && none > 10,
            "{empty_piece} {non_ascii} {none}"
        );
    }

    #[test]
    #[should_panic(expected = "ASCII bytes only")]
    fn a_non_ascii_separator_is_refused() {
        let _ = split_byte("é", 0xc3).count();
    }
}
