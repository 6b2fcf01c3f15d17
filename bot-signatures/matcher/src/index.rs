//! The literal index: finds every occurrence of every literal in a text, in
//! about one table look-up per byte, with nothing to compile at load.
//!
//! Each literal of three or more bytes is filed under one of its 3-byte grams,
//! the one least common in browser user-agents (so a browser's user-agent,
//! the common case, hits almost nothing); two-byte literals are filed under
//! themselves. Which gram each literal is filed under (its *plan*) is chosen
//! at build time and stored in the artifact, so loading only lays out tables.
//!
//! A scan slides over the text, lowercasing through a table, and tests one bit
//! per byte in a 256 KiB bitmap keyed by the last three bytes (seven bits
//! each: exact for ASCII). Only on a set bit does it look the gram up (a hash
//! into [`BUCKETS`] buckets, found by rank: a popcount, no bucket-sized table)
//! and verify the literals filed there. Every occurrence of a literal contains its filed gram at a
//! known offset, so none is missed. Faster to build than an Aho-Corasick
//! automaton (no states, no failure links) and, on user-agents, faster to scan.

/// Text the gram choice avoids: the tokens every browser sends, and the
/// boilerplate most crawlers send ("compatible", "+http://www.", ".com/").
/// Not anyone's user-agent: a crawler's own name is what its literal is
/// filed under.
const COMMON: &str = "mozilla/5.0 (windows nt 10.0; win64; x64) applewebkit/537.36 (khtml, like gecko) \
chrome/131.0.0.0 safari/537.36 edg/131.0.0.0 mozilla/5.0 (macintosh; intel mac os x 10_15_7) \
applewebkit/605.1.15 (khtml, like gecko) version/18.1 safari/605.1.15 mozilla/5.0 (iphone; cpu iphone os \
18_1 like mac os x) mobile/15e148 crios/131.0 fxios/132.0 mozilla/5.0 (linux; android 14; sm-s918b) \
samsungbrowser/26.0 chrome/131.0.0.0 mobile safari/537.36 mozilla/5.0 (x11; linux x86_64; rv:132.0) \
gecko/20100101 firefox/132.0 (ipad; cpu os 17_6 like mac os x) opr/114.0.0.0 en-us; wv) build/ \
mozilla/5.0 (compatible; examplebot/2.1; +http://www.example.com/bot.html) \
mozilla/5.0 (compatible; crawler/1.0; +https://example.org/crawler.htm) spider (+http://example.net/)";

/// log2 of the bucket count.
const BUCKET_BITS: u32 = 17;
/// Gram buckets: 1,500 literals fill about 1% of them, so a scan position
/// rarely finds its bit set.
pub const BUCKETS: usize = 1 << BUCKET_BITS;

/// Where a literal is filed: `Some(offset)` of its gram, `None` for a
/// two-byte literal (or a shorter one, which is never found).
pub type Plan = Option<u32>;

/// ASCII lowercase, byte for byte.
static FOLD: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).to_ascii_lowercase();
        i += 1;
    }
    t
};

fn gram(b: &[u8]) -> u32 {
    (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
}

/// A gram's 21-bit key: seven bits per byte. Exact for ASCII; a non-ASCII
/// byte shares a key with an ASCII one, which can only add candidates that
/// verification then drops, never lose a match.
fn key7(g: u32) -> usize {
    (((g >> 2) & 0x1F_C000) | ((g >> 1) & 0x3F80) | (g & 0x7F)) as usize
}

/// Bits in the exact gram filter (one per 21-bit key): 256 KiB.
const KEYS: usize = 1 << 21;

fn bucket3(g: u32) -> usize {
    (g.wrapping_mul(0x9E37_79B1) >> (32 - BUCKET_BITS)) as usize
}

/// Why a plan cannot be laid out (a corrupt artifact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPlan {
    /// The literal's position.
    pub literal: usize,
}

/// One literal filed under a gram.
#[derive(Debug, Clone)]
struct Entry {
    gram: u32,
    /// Where the gram sits in the literal.
    offset: u32,
    /// The literal's bytes are `blob[start..start + len]`.
    start: u32,
    len: u32,
    literal: u32,
}

/// Every literal, findable in one pass.
#[derive(Debug, Clone)]
pub struct LiteralIndex {
    blob: Vec<u8>,
    /// Entries sorted by bucket.
    entries: Vec<Entry>,
    /// Bit `k` set when some literal is filed under a gram whose [`key7`] is
    /// `k`: the scan's only test per byte.
    grams: Box<[u64; KEYS / 64]>,
    /// Bit `b` set when bucket `b` is not empty.
    occupied: Box<[u64; BUCKETS / 64]>,
    /// `rank[w]`: occupied buckets in the words before `w`.
    rank: Vec<u32>,
    /// Entries of the `k`-th occupied bucket: `entries[first[k]..first[k + 1]]`.
    first: Vec<u32>,
    /// Two-byte literals: `(first << 8 | second, literal)`. (Not `([u8; 2], u32)`:
    /// rustc 1.95 at opt-level 3 miscompiled pushing that tuple; see the
    /// regression test `pair_literals_keep_their_index`.)
    pairs: Vec<(u16, u32)>,
    /// Bit `b` set when some two-byte literal starts with byte `b`.
    pair_first: [u64; 4],
}

/// Chooses the gram each literal is filed under. Short literals choose first
/// (they have the fewest grams); each takes the gram least common in
/// browsers, then the one fewest literals share, so no bucket fills up with
/// every "...bot" literal. Literals are lowercased first.
pub fn plan<'a>(literals: impl IntoIterator<Item = &'a str>) -> Vec<Plan> {
    let mut common = std::collections::HashMap::<u32, u32>::new();
    for w in COMMON.as_bytes().windows(3) {
        *common.entry(gram(w)).or_default() += 1;
    }
    let literals: Vec<Vec<u8>> = literals
        .into_iter()
        .map(|l| l.to_ascii_lowercase().into_bytes())
        .collect();
    let mut plans = vec![None; literals.len()];
    let mut order: Vec<usize> = (0..literals.len()).collect();
    order.sort_by_key(|&i| literals[i].len());
    let mut load = std::collections::HashMap::<u32, u32>::new();
    for i in order {
        let lit = &literals[i];
        if lit.len() < 3 {
            continue;
        }
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
        *load.entry(best.3).or_default() += 1;
        plans[i] = Some(best.2 as u32);
    }
    plans
}

impl LiteralIndex {
    /// Indexes ASCII literals (matched case-insensitively), planning where
    /// each is filed. Literals shorter than two bytes are refused by the
    /// catalog compiler; here they are ignored.
    pub fn new<'a>(literals: impl IntoIterator<Item = &'a str> + Clone) -> LiteralIndex {
        let plans = plan(literals.clone());
        match LiteralIndex::with_plan(literals, &plans) {
            Ok(index) => index,
            // `plan` files a literal only under a gram that fits in it.
            Err(e) => unreachable!("plan() made a plan with_plan() refuses: {e:?}"),
        }
    }

    /// Lays out literals filed as `plans` says (one plan per literal, as
    /// [`plan`] returns). Only a corrupt plan (an offset whose gram does not
    /// fit in its literal, or a gram for a literal under three bytes) fails.
    pub fn with_plan<'a>(
        literals: impl IntoIterator<Item = &'a str>,
        plans: &[Plan],
    ) -> Result<LiteralIndex, BadPlan> {
        let mut blob = Vec::new();
        let mut filed: Vec<(usize, Entry)> = Vec::with_capacity(plans.len());
        let mut pairs = Vec::new();
        let mut pair_first = [0u64; 4];
        let mut count = 0;
        for (i, lit) in literals.into_iter().enumerate() {
            count += 1;
            let plan = *plans.get(i).ok_or(BadPlan { literal: i })?;
            let lit = lit.as_bytes();
            let literal = i as u32;
            match (lit.len(), plan) {
                (0 | 1, None) => {}
                (2, None) => {
                    let (a, b) = (lit[0].to_ascii_lowercase(), lit[1].to_ascii_lowercase());
                    pairs.push((u16::from_be_bytes([a, b]), literal));
                    pair_first[usize::from(a >> 6)] |= 1u64 << (a & 63);
                }
                (len, Some(offset)) if len >= 3 && (offset as usize) + 3 <= len => {
                    let start = blob.len();
                    blob.extend(lit.iter().map(u8::to_ascii_lowercase));
                    let g = gram(&blob[start + offset as usize..]);
                    filed.push((
                        bucket3(g),
                        Entry {
                            gram: g,
                            offset,
                            start: start as u32,
                            len: len as u32,
                            literal,
                        },
                    ));
                }
                _ => return Err(BadPlan { literal: i }),
            }
        }
        if count != plans.len() {
            return Err(BadPlan { literal: count });
        }
        filed.sort_by_key(|(b, _)| *b);
        let mut occupied = Box::new([0u64; BUCKETS / 64]);
        let mut grams: Box<[u64; KEYS / 64]> = vec![0u64; KEYS / 64]
            .into_boxed_slice()
            .try_into()
            .unwrap_or_else(|_| unreachable!("KEYS / 64 words"));
        for (b, e) in &filed {
            occupied[b / 64] |= 1u64 << (b % 64);
            let k = key7(e.gram);
            grams[k / 64] |= 1u64 << (k % 64);
        }
        let mut rank = Vec::with_capacity(occupied.len());
        let mut total = 0u32;
        for w in occupied.iter() {
            rank.push(total);
            total += w.count_ones();
        }
        let mut first = Vec::with_capacity(total as usize + 1);
        let mut previous = usize::MAX;
        for (k, (b, _)) in filed.iter().enumerate() {
            if *b != previous {
                first.push(k as u32);
                previous = *b;
            }
        }
        first.push(filed.len() as u32);
        Ok(LiteralIndex {
            grams,
            blob,
            entries: filed.into_iter().map(|(_, e)| e).collect(),
            occupied,
            rank,
            first,
            pairs,
            pair_first,
        })
    }

    /// Calls `hit(literal)` for every occurrence of every literal in `text`
    /// (ASCII case-insensitively). A literal may be reported more than once.
    pub fn for_each_hit(&self, text: &str, mut hit: impl FnMut(u32)) {
        let text = text.as_bytes();
        let n = text.len();
        if !self.pairs.is_empty() {
            for i in 1..n {
                let a = FOLD[usize::from(text[i - 1])];
                if (self.pair_first[usize::from(a >> 6)] >> (a & 63)) & 1 != 0 {
                    let b = FOLD[usize::from(text[i])];
                    self.pairs_at(u16::from_be_bytes([a, b]), &mut hit);
                }
            }
        }
        if n < 3 {
            return;
        }
        // The hot loop: one table fold and one bit test per byte, on an exact
        // key of the last three bytes; everything else is out of line so that
        // this stays in registers.
        let grams: &[u64; KEYS / 64] = &self.grams;
        let fold = |b: u8| u32::from(FOLD[usize::from(b)] & 0x7F);
        let mut k = (fold(text[0]) << 7) | fold(text[1]);
        for (i, &byte) in text.iter().enumerate().skip(2) {
            k = ((k << 7) | fold(byte)) & 0x1F_FFFF;
            if (grams[(k >> 6) as usize] >> (k & 63)) & 1 != 0 {
                self.verify_at(text, i - 2, &mut hit);
            }
        }
    }

    #[inline(never)]
    fn pairs_at(&self, key: u16, hit: &mut dyn FnMut(u32)) {
        for &(p, lit) in &self.pairs {
            if p == key {
                hit(lit);
            }
        }
    }

    /// Verifies the literals filed under the gram found at `at`.
    #[inline(never)]
    fn verify_at(&self, text: &[u8], at: usize, hit: &mut dyn FnMut(u32)) {
        let g = (u32::from(FOLD[usize::from(text[at])]) << 16)
            | (u32::from(FOLD[usize::from(text[at + 1])]) << 8)
            | u32::from(FOLD[usize::from(text[at + 2])]);
        let b = bucket3(g);
        let word = self.occupied[b >> 6];
        if (word >> (b & 63)) & 1 == 0 {
            return; // a non-ASCII byte made the key match
        }
        let below = word & ((1u64 << (b & 63)) - 1);
        let k = (self.rank[b >> 6] + below.count_ones()) as usize;
        let (lo, hi) = (self.first[k] as usize, self.first[k + 1] as usize);
        for e in &self.entries[lo..hi] {
            if e.gram != g {
                continue;
            }
            let Some(start) = at.checked_sub(e.offset as usize) else {
                continue;
            };
            let (s, len) = (e.start as usize, e.len as usize);
            let Some(window) = text.get(start..start + len) else {
                continue;
            };
            if window
                .iter()
                .zip(&self.blob[s..s + len])
                .all(|(&t, &l)| FOLD[usize::from(t)] == l)
            {
                hit(e.literal);
            }
        }
    }

    /// Bytes held, roughly.
    pub fn memory_bytes(&self) -> usize {
        KEYS / 8
            + self.blob.len()
            + self.entries.len() * std::mem::size_of::<Entry>()
            + (self.occupied.len() + self.rank.len() / 2 + self.first.len() / 2) * 8
            + self.pairs.len() * 8
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
