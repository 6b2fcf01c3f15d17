//! Splitting text on an ASCII byte with the `memchr` crate's search: what
//! `str::split(char)` and `str::split_once(char)` give, without the standard
//! library's character searcher, which showed in the wasm's per-request
//! profile (the packed fields, the URI's segments, the cookies). The
//! separator is a const parameter, checked to be ASCII when the caller
//! compiles: only an ASCII byte is sure to sit between two characters.

/// The pieces of `text` between occurrences of `SEP`, as `text.split(SEP)`
/// gives them (an empty text is one empty piece).
pub fn split_byte<const SEP: u8>(text: &str) -> SplitByte<'_, SEP> {
    const { assert!(SEP.is_ascii(), "split_byte splits on ASCII bytes only") };
    SplitByte { rest: Some(text) }
}

/// `text.split_once(SEP)` for an ASCII `SEP`.
pub fn split_once_byte<const SEP: u8>(text: &str) -> Option<(&str, &str)> {
    const { assert!(SEP.is_ascii(), "split_once_byte splits on ASCII bytes only") };
    let at = find(SEP, text.as_bytes())?;
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
pub struct SplitByte<'a, const SEP: u8> {
    rest: Option<&'a str>,
}

impl<'a, const SEP: u8> Iterator for SplitByte<'a, SEP> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        // An ASCII byte never sits inside a multi-byte character, so both
        // slices below start and end on character boundaries.
        match find(SEP, rest.as_bytes()) {
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

    /// Texts of separators, their neighbours and multi-byte characters, so
    /// that empty pieces, leading and trailing separators all occur.
    const TEXT: &str = "[;=/\\x00aé€😀]{0,24}";

    fn both<const SEP: u8>(text: &str) -> (Vec<&str>, Option<(&str, &str)>) {
        (
            split_byte::<SEP>(text).collect(),
            split_once_byte::<SEP>(text),
        )
    }

    proptest! {
        #[test]
        fn split_byte_is_str_split(text in TEXT) {
            for (sep, got) in [(';', both::<b';'>(&text)), ('=', both::<b'='>(&text)), ('/', both::<b'/'>(&text)), ('\0', both::<0>(&text))] {
                let std: Vec<&str> = text.split(sep).collect();
                prop_assert_eq!(&got.0, &std);
                prop_assert_eq!(got.1, text.split_once(sep));
            }
        }
    }

    #[test]
    fn the_generator_reaches_empty_pieces_and_non_ascii_text() {
        use proptest::strategy::{Strategy, ValueTree};
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let strategy = TEXT;
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
}
