//! The literal index: finds every occurrence of every literal in a text, in
//! about one table look-up per byte, with nothing to compile at load.
//!
//! Each literal of three or more bytes is filed under one of its 3-byte grams,
//! the one least common in browser user-agents (so a browser's user-agent,
//! the common case, hits almost nothing); two-byte literals are filed under
//! themselves. A scan slides over the lowercased text, looks each gram up in a
//! 64 Ki-bucket table and verifies the few literals filed there. Every
//! occurrence of a literal contains its filed gram at a known offset, so none
//! is missed. Faster to build than an Aho-Corasick automaton (no states, no
//! failure links) and, on user-agents, faster to scan.

/// Text the gram choice avoids: the tokens every browser sends.
const COMMON: &str = "mozilla/5.0 (windows nt 10.0; win64; x64) applewebkit/537.36 (khtml, like gecko) \
chrome/131.0.0.0 safari/537.36 edg/131.0.0.0 mozilla/5.0 (macintosh; intel mac os x 10_15_7) \
applewebkit/605.1.15 (khtml, like gecko) version/18.1 safari/605.1.15 mozilla/5.0 (iphone; cpu iphone os \
18_1 like mac os x) mobile/15e148 crios/131.0 fxios/132.0 mozilla/5.0 (linux; android 14; sm-s918b) \
samsungbrowser/26.0 chrome/131.0.0.0 mobile safari/537.36 mozilla/5.0 (x11; linux x86_64; rv:132.0) \
gecko/20100101 firefox/132.0 (ipad; cpu os 17_6 like mac os x) opr/114.0.0.0 en-us; wv) build/";

const BUCKETS: usize = 1 << 16;

fn gram(b: &[u8]) -> u32 {
    (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
}

fn bucket3(g: u32) -> usize {
    (g.wrapping_mul(0x9E37_79B1) >> 16) as usize
}

/// One literal filed under a gram.
#[derive(Debug, Clone)]
struct Entry {
    gram: u32,
    offset: u32,
    literal: u32,
}

/// Every literal, findable in one pass.
#[derive(Debug, Clone)]
pub struct LiteralIndex {
    literals: Vec<Box<[u8]>>,
    /// CSR layout: entries of bucket `b` are `entries[starts[b]..starts[b + 1]]`.
    starts: Vec<u32>,
    /// Bit `b` set when bucket `b` is not empty: 8 KiB that stay in L1 cache,
    /// so most positions never touch `starts`.
    occupied: Vec<u64>,
    entries: Vec<Entry>,
    /// Two-byte literals: `(first << 8 | second, literal)`. (Not `([u8; 2], u32)`:
    /// rustc 1.95 at opt-level 3 miscompiled pushing that tuple; see the
    /// regression test `pair_literals_keep_their_index`.)
    pairs: Vec<(u16, u32)>,
    /// Bit `b` set when some two-byte literal starts with byte `b`.
    pair_first: [u64; 4],
}

impl LiteralIndex {
    /// Indexes lowercase ASCII literals. Literals shorter than two bytes are
    /// refused by the catalog compiler; here they are ignored.
    pub fn new<'a>(literals: impl IntoIterator<Item = &'a str>) -> LiteralIndex {
        let mut common = std::collections::HashMap::<u32, u32>::new();
        for w in COMMON.as_bytes().windows(3) {
            *common.entry(gram(w)).or_default() += 1;
        }
        let literals: Vec<Box<[u8]>> = literals
            .into_iter()
            .map(|l| l.to_ascii_lowercase().into_bytes().into_boxed_slice())
            .collect();
        let mut filed: Vec<(usize, Entry)> = Vec::new();
        let mut pairs = Vec::new();
        let mut pair_first = [0u64; 4];
        // Short literals choose first (they have the fewest grams); each takes
        // the gram least common in browsers, then the one fewest literals share,
        // so no bucket fills up with every "...bot" literal.
        let mut order: Vec<usize> = (0..literals.len()).collect();
        order.sort_by_key(|&i| literals[i].len());
        let mut load = std::collections::HashMap::<u32, u32>::new();
        for i in order {
            let lit = &literals[i];
            let literal = i as u32;
            match lit.len() {
                0 | 1 => {}
                2 => {
                    pairs.push((u16::from_be_bytes([lit[0], lit[1]]), literal));
                    pair_first[usize::from(lit[0] >> 6)] |= 1u64 << (lit[0] & 63);
                }
                _ => {
                    let mut best = (u32::MAX, u32::MAX, 0usize, 0u32);
                    for offset in 0..lit.len() - 2 {
                        let g = gram(&lit[offset..offset + 3]);
                        let cost = (
                            common.get(&g).copied().unwrap_or(0),
                            load.get(&g).copied().unwrap_or(0),
                        );
                        if (cost.0, cost.1) < (best.0, best.1) {
                            best = (cost.0, cost.1, offset, g);
                        }
                    }
                    let (_, _, offset, g) = best;
                    *load.entry(g).or_default() += 1;
                    filed.push((
                        bucket3(g),
                        Entry {
                            gram: g,
                            offset: offset as u32,
                            literal,
                        },
                    ));
                }
            }
        }
        filed.sort_by_key(|(b, _)| *b);
        let mut starts = vec![0u32; BUCKETS + 1];
        for (b, _) in &filed {
            starts[b + 1] += 1;
        }
        for b in 0..BUCKETS {
            starts[b + 1] += starts[b];
        }
        let mut occupied = vec![0u64; BUCKETS / 64];
        for (b, _) in &filed {
            occupied[b / 64] |= 1u64 << (b % 64);
        }
        let entries = filed.into_iter().map(|(_, e)| e).collect();
        LiteralIndex {
            literals,
            starts,
            occupied,
            entries,
            pairs,
            pair_first,
        }
    }

    /// Calls `hit(literal)` for every occurrence of every literal in `text`
    /// (ASCII case-insensitively). A literal may be reported more than once.
    pub fn for_each_hit(&self, text: &str, mut hit: impl FnMut(u32)) {
        let mut buf = [0u8; 512];
        let owned;
        let lower: &[u8] = if text.len() <= buf.len() {
            let b = &mut buf[..text.len()];
            b.copy_from_slice(text.as_bytes());
            b.make_ascii_lowercase();
            b
        } else {
            owned = text.to_ascii_lowercase().into_bytes();
            &owned
        };
        if !self.pairs.is_empty() {
            for w in lower.windows(2) {
                if self.pair_first[usize::from(w[0] >> 6)] & (1u64 << (w[0] & 63)) != 0 {
                    let key = u16::from_be_bytes([w[0], w[1]]);
                    for &(p, lit) in &self.pairs {
                        if p == key {
                            hit(lit);
                        }
                    }
                }
            }
        }
        if lower.len() < 3 {
            return;
        }
        let mut g = (u32::from(lower[0]) << 8) | u32::from(lower[1]);
        for i in 2..lower.len() {
            g = ((g << 8) | u32::from(lower[i])) & 0x00FF_FFFF;
            let b = bucket3(g);
            if self.occupied[b / 64] & (1u64 << (b % 64)) == 0 {
                continue;
            }
            let (lo, hi) = (self.starts[b] as usize, self.starts[b + 1] as usize);
            if lo == hi {
                continue;
            }
            let at = i - 2;
            for e in &self.entries[lo..hi] {
                if e.gram != g {
                    continue;
                }
                let Some(start) = at.checked_sub(e.offset as usize) else {
                    continue;
                };
                let lit = &self.literals[e.literal as usize];
                if lower.get(start..start + lit.len()) == Some(&lit[..]) {
                    hit(e.literal);
                }
            }
        }
    }

    /// Bytes held, roughly.
    pub fn memory_bytes(&self) -> usize {
        self.starts.len() * 4
            + self.entries.len() * std::mem::size_of::<Entry>()
            + self.literals.iter().map(|l| l.len() + 16).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(literals: &[String], text: &str) -> Vec<u32> {
        let t = text.to_ascii_lowercase();
        let mut out: Vec<u32> = literals
            .iter()
            .enumerate()
            .filter(|(_, l)| l.len() >= 2 && t.contains(l.as_str()))
            .map(|(i, _)| i as u32)
            .collect();
        out.sort();
        out
    }

    fn found(index: &LiteralIndex, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        index.for_each_hit(text, |l| out.push(l));
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn finds_overlapping_and_case_insensitive() {
        let lits: Vec<String> = ["googlebot", "bot", "go", "mozilla/", "ahrefsbot/"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let idx = LiteralIndex::new(lits.iter().map(String::as_str));
        assert_eq!(
            found(&idx, "Mozilla/5.0 (compatible; GoogleBot/2.1)"),
            vec![0, 1, 2, 3]
        );
        assert_eq!(found(&idx, "x"), Vec::<u32>::new());
        let long = format!("{}AhrefsBot/7", "a".repeat(600));
        assert_eq!(found(&idx, &long), vec![1, 4]);
    }

    /// Regression: rustc 1.95 release builds stored garbage indices for
    /// two-byte literals when they were kept as `([u8; 2], u32)`. Runs in
    /// release in `cargo xtask ci`.
    #[test]
    fn pair_literals_keep_their_index() {
        let idx = LiteralIndex::new(["go", "bot", "ab"]);
        assert_eq!(found(&idx, "GO ab"), vec![0, 2]);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]
        #[test]
        fn same_as_naive(lits in proptest::collection::vec("[a-d/ ]{2,6}", 1..40), text in "[a-dA-D/ ]{0,80}") {
            let idx = LiteralIndex::new(lits.iter().map(String::as_str));
            prop_assert_eq!(found(&idx, &text), naive(&lits, &text));
        }
    }
}
