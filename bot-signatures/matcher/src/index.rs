//! The literal index: finds every occurrence of every literal in a text, in
//! about one table look-up every other byte, with nothing to compile at load.
//!
//! A scan tests one bit every other byte in a 128 KiB bitmap keyed by a hash
//! of the four bytes from there (letters folded to lower case, see
//! `key_of`). So that a test at every other position finds every literal,
//! each literal of five bytes or more is filed under two neighbouring windows
//! of four bytes, the pair least common in browser user-agents (so a
//! browser's user-agent, the common case, hits almost nothing); a literal of
//! three or four bytes is filed with every byte that can come before it (and,
//! for three, after it) (`short_entry_keys`). Two-byte literals are filed under
//! themselves. Where each literal's windows are (its *plan*) is chosen at
//! build time and stored in the artifact, so loading only lays out tables.
//!
//! Only on a set bit does the scan look the four bytes up (open addressing,
//! usually one probe; a key's entries are linked) and verify the literals
//! filed there, eight bytes at a time; a short literal is looked up by its
//! first three bytes, only when a small bitmap of those says so. Faster to
//! build than an Aho-Corasick automaton (no states, no failure links) and,
//! on user-agents, faster to scan (the measurements, and the index before
//! this one, in `docs/benchmarks.md`).

/// Text the gram choice avoids: the tokens every browser sends, the
/// boilerplate most crawlers send ("compatible", "+http://www.", ".com/") and
/// common words of crawler names ("search", "monitor", "google"). Not anyone's
/// user-agent: the rarest part of a crawler's own name is what its literal is
/// filed under.
const COMMON: &str = "mozilla/5.0 (windows nt 10.0; win64; x64) applewebkit/537.36 (khtml, like gecko) \
chrome/131.0.0.0 safari/537.36 edg/131.0.0.0 mozilla/5.0 (macintosh; intel mac os x 10_15_7) \
applewebkit/605.1.15 (khtml, like gecko) version/18.1 safari/605.1.15 mozilla/5.0 (iphone; cpu iphone os \
18_1 like mac os x) mobile/15e148 crios/131.0 fxios/132.0 mozilla/5.0 (linux; android 14; sm-s918b) \
samsungbrowser/26.0 chrome/131.0.0.0 mobile safari/537.36 mozilla/5.0 (x11; linux x86_64; rv:132.0) \
gecko/20100101 firefox/132.0 (ipad; cpu os 17_6 like mac os x) opr/114.0.0.0 en-us; wv) build/ \
mozilla/5.0 (compatible; examplebot/2.1; +http://www.example.com/bot.html) \
mozilla/5.0 (compatible; crawler/1.0; +https://example.org/crawler.htm) spider (+http://example.net/) \
search engine index indexer archive archiver monitoring monitor uptime agent content link links checker \
check preview fetch fetcher feed reader proxy scanner security research analytics marketing seo \
google bing yandex baidu apple facebook amazon microsoft cloudflare openai page site web service \
crawling robot robots spider spiders scraper api client library python java node version info about \
mozilla/4.0 (compatible; msie 8.0; windows nt 6.1; wow64; trident/4.0; slcc2; .net clr 2.0.50727; \
media center pc 6.0; infopath.3; tablet pc 2.0) (windows nt 6.3; trident/7.0; touch; rv:11.0) like gecko \
opera/9.80 (series 60; opera mini/7.1.32444/191.255; u; en) presto/2.12.423 version/12.16 \
nokia6300/2.0 (05.00) profile/midp-2.0 configuration/cldc-1.1 symbianos/9.4; series60/5.0 \
(linux; u; android 4.4.2; de-de; fr-fr; es-es; pt-br; zh-cn; ru-ru; ja-jp; sm-g900f build/kot49h) \
version/4.0 mobile safari/534.30 samsung galaxy gt-i9300 sonyericsson sony xperia lg-d855 htc motorola \
moto lenovo huawei honor xiaomi redmi oneplus oppo vivo realme pixel nexus zte alcatel asus acer \
blackberry; bb10; touch) windows phone 8.1; iemobile/11.0; arm; nokia; lumia 930) kindle silk \
smart-tv smarttv tizen webos hbbtv crkey playstation nintendo xbox ucbrowser miuibrowser yabrowser \
qqbrowser baidubrowser maxthon vivaldi seamonkey thunderbird epiphany midori konqueror";

/// How most browsers' (and many crawlers') user-agents open (generic
/// templates, not anyone's user-agent). At load, each that holds no gram a literal is filed under is
/// kept as a *clean prefix*: a scan starts after the longest one the text
/// opens with, which for a browser skips most of its user-agent. Sound: a
/// literal occurrence that starts inside a clean prefix has its filed gram
/// past the prefix (a gram inside would make the prefix unclean), where the
/// scan still looks, and verification reads the whole text.
const BROWSER_OPENINGS: &[&str] = &[
    "Mozilla/5.0 (",
    "Mozilla/5.0 (Windows NT ",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X ",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/",
    "Mozilla/5.0 (X11; Linux x86_64; rv:",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/",
    "Mozilla/5.0 (Linux; Android ",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/",
    "Mozilla/5.0 (iPhone; CPU iPhone OS ",
    "Mozilla/5.0 (iPad; CPU OS ",
    // Most crawlers say they are compatible first, then who they are.
    "Mozilla/5.0 (compatible; ",
];

/// Where a literal is filed: `Some(offset)` of the first of its two
/// four-byte windows; for a literal of three or four bytes, which is filed
/// whole, 0, or for four bytes 1 when its short entry is under its last three
/// bytes rather than its first three (what [`plan`] chooses since
/// 2026-11-28; 0 still loads); `None` for a two-byte literal (or a shorter
/// one, which is never found).
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

/// Marks a key that is a short literal's first three bytes (in the low 24
/// bits), not four bytes of a literal: no byte of UTF-8 text is 0xFF, so no
/// four bytes of a literal begin with it.
const TAIL: u32 = 0xFF00_0000;

/// No next entry.
const NONE: u32 = u32::MAX;

/// The first four bytes of `b`, ASCII-lowercased, as one number.
fn folded_quad(b: &[u8]) -> u32 {
    (folded_gram(b) << 8) | u32::from(FOLD[usize::from(b[3])])
}

/// A short literal's bit in [`LiteralIndex::tails`].
fn tail_bit(g: u32) -> usize {
    (g.wrapping_mul(0x9E37_79B1) >> (32 - 12)) as usize
}

fn gram(b: &[u8]) -> u32 {
    (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
}

/// The gram of the first three bytes, ASCII-lowercased.
fn folded_gram(b: &[u8]) -> u32 {
    gram(&[
        FOLD[usize::from(b[0])],
        FOLD[usize::from(b[1])],
        FOLD[usize::from(b[2])],
    ])
}

/// How the filter reads four bytes (one u32, first byte lowest): bit 7 of
/// each cleared, bit 5 set. That lowercases ASCII letters without a table,
/// and leaves 64 values a byte can take (see [`key_of`]).
fn fold4(four: u32) -> u32 {
    (four & 0x7F7F_7F7F) | 0x2020_2020
}

/// [`fold4`] on one byte.
fn fold_byte(b: u8) -> u8 {
    (b & 0x7F) | 0x20
}

/// A one in each byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;

/// [`fold4`] on eight bytes at once.
fn fold8(eight: u64) -> u64 {
    (eight & 0x7F7F_7F7F_7F7F_7F7F) | 0x2020_2020_2020_2020
}

/// The filter key of four folded bytes ([`fold4`]): a multiplicative hash
/// to [`KEY_BITS`] bits. Each position's key comes from its own four bytes,
/// so the scan carries no dependency from one byte to the next.
#[inline(always)]
fn hash_key(folded: u32) -> usize {
    (folded.wrapping_mul(0x9E37_79B1) >> (32 - KEY_BITS)) as usize
}

/// The filter key of the four bytes at a position, as the scan computes it.
/// Sound: a literal's bytes and any casing of them in a text get the same
/// key. Not exact: some bytes fold together ('[' and '{', '@' and '`', a
/// control byte and a digit, a non-ASCII byte and an ASCII one) and
/// different bytes may hash together, which only adds look-ups that then
/// find nothing, never loses a match.
fn key_of(four: [u8; 4]) -> usize {
    hash_key(fold4(u32::from_le_bytes(four)))
}

/// The filter keys each entry is filed under, so that the scan, which tests
/// every other position, finds each occurrence of its literal:
/// - a literal of five bytes or more has two entries, at two neighbouring
///   offsets: one of them is at a tested position; each is keyed by its four
///   bytes;
/// - a four-byte literal's entry at its start is keyed by its four bytes, and
///   its short entry, as its plan says, by its last three and every byte
///   that can follow them (offset 1: a test one position later; what [`plan`]
///   chooses) or by every byte that can come before it and its first three
///   (offset 0: a test one position earlier; artifacts compiled before);
/// - a three-byte literal's short entry, by its three bytes and every byte
///   that can follow them, and by every byte that can come before them.
///
/// "Every byte": every value a byte takes once folded (64); the end of the
/// text reads as a space, which is one of them.
///
/// This calls `set` with a short entry's keys (`e.key` has [`TAIL`]); an
/// entry keyed by four bytes has the one [`long_entry_key`] gives.
fn short_entry_keys(lit: &[u8], e: &Entry, mut set: impl FnMut(usize)) {
    let o = usize::from(e.offset);
    let three = fold4(u32::from_le_bytes([lit[o], lit[o + 1], lit[o + 2], 0])) & 0x00FF_FFFF;
    // Before the three bytes: a short entry at the literal's start; after
    // them: a three-byte literal's, or a four-byte literal's last three.
    let (before, after) = (o == 0, lit.len() == 3 || o == 1);
    // The folded values: bit 5 set, bit 7 clear.
    for x in (0..32u32).flat_map(|low| [0x20 | low, 0x60 | low]) {
        if before {
            set(hash_key((three << 8) | x));
        }
        if after {
            set(hash_key(three | (x << 24)));
        }
    }
}

/// The filter key of an entry keyed by four bytes (see
/// [`short_entry_keys`]), from its `key`, those bytes lowercased: folding
/// ignores case, so the key the scan computes from the text as it comes
/// ([`key_of`]) is the same.
#[inline(always)]
fn long_entry_key(key: u32) -> usize {
    hash_key(fold4(key.swap_bytes()))
}

/// Bits in a filter key.
const KEY_BITS: u32 = 20;
/// Bits in the gram filter (one per key): 128 KiB.
const KEYS: usize = 1 << KEY_BITS;

/// Bit `k` of a bitmap held in 64-bit words.
#[inline(always)]
pub(crate) fn has_bit<const W: usize>(bits: &[u64; W], k: usize) -> bool {
    (bits[k >> 6] >> (k & 63)) & 1 != 0
}

/// Sets bit `k` of a bitmap held in 64-bit words.
#[inline(always)]
fn set_bit<const W: usize>(bits: &mut [u64; W], k: usize) {
    bits[k >> 6] |= 1u64 << (k & 63);
}

/// The home slot of gram `g` in a table of `1 << bits` slots.
fn slot_of(g: u32, bits: u32) -> usize {
    (g.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize
}

/// The first eight bytes of `b` as a little-endian word.
pub(crate) fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// `text.starts_with(prefix)`, eight bytes a turn: in wasm, `memcmp` compares
/// one byte at a time, and a browser's opening is 14 to 90 bytes.
fn opens_with(text: &[u8], prefix: &[u8]) -> bool {
    let Some(head) = text.get(..prefix.len()) else {
        return false;
    };
    let (a, b) = (head.chunks_exact(8), prefix.chunks_exact(8));
    let (ra, rb) = (a.remainder(), b.remainder());
    a.zip(b).all(|(x, y)| le64(x) == le64(y)) && ra == rb
}

/// Marks an empty slot (a gram has 24 bits).
const EMPTY: u32 = u32::MAX;

/// ASCII-lowercases eight bytes at once (other bytes unchanged).
fn lower8(x: u64) -> u64 {
    let heptets = x & (0x7F * ONES);
    let at_least_a = heptets + (0x80 - u64::from(b'A')) * ONES;
    let above_z = heptets + (0x7F - u64::from(b'Z')) * ONES;
    let upper = at_least_a & !above_z & !x & (0x80 * ONES);
    x | (upper >> 2)
}

/// Up to eight bytes of `text` from `at`, little-endian, zero-padded.
#[inline(always)]
fn load8(text: &[u8], at: usize) -> u64 {
    match text.get(at..at + 8) {
        Some(b) => le64(b),
        None => load8_tail(text, at),
    }
}

/// [`load8`] within eight bytes of the end, out of line: the load's loop
/// over the literals stays short (see [`LOAD_SHARES`]).
#[cold]
#[inline(never)]
fn load8_tail(text: &[u8], at: usize) -> u64 {
    let n = text.len();
    if n >= 8 && at < n {
        // The last eight bytes, shifted so that `text[at]` comes first.
        return le64(&text[n - 8..]) >> (8 * (at + 8 - n));
    }
    text.get(at..)
        .unwrap_or_default()
        .iter()
        .rev()
        .fold(0, |w, &b| (w << 8) | u64::from(b))
}

/// Why a plan cannot be laid out (a corrupt artifact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPlan {
    /// The literal's position.
    pub literal: usize,
}

/// One literal filed under a key (32 bytes).
#[derive(Debug, Clone)]
struct Entry {
    /// The literal's first (up to) eight bytes, little-endian.
    head: u64,
    /// Four bytes of the literal from `offset`, lowercased; or, for a short
    /// entry (a literal of three or four bytes), [`TAIL`] and its first three.
    key: u32,
    /// The literal's bytes are `text[start..start + len]`.
    start: u32,
    literal: u32,
    /// The next entry under the same key, or [`NONE`].
    next: u32,
    len: u16,
    /// Where the key's bytes sit in the literal.
    offset: u16,
}

impl Entry {
    /// The bytes of `head` that belong to the literal.
    fn mask(&self) -> u64 {
        if self.len >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * self.len)) - 1
        }
    }
}

/// Every literal, findable in one pass.
#[derive(Debug, Clone)]
pub struct LiteralIndex {
    /// The text every literal is a span of (for a matcher, the artifact's
    /// text, which the index then holds for it).
    text: String,
    /// Entries, each linked to the next one under its key.
    entries: Vec<Entry>,
    /// Bit `k` set when [`long_entry_key`] or [`short_entry_keys`] gives `k`
    /// for some literal: the
    /// `k`: the scan's only test per byte.
    grams: Box<[u64; KEYS / 64]>,
    /// Open-addressing table of the keys: `(key, first entry)`, or
    /// `(EMPTY, _)`.
    slots: Vec<(u32, u32)>,
    slot_bits: u32,
    /// Bit [`tail_bit`] of each short literal's first three bytes: a
    /// look-up tries [`TAIL`] keys only when the bit is set.
    tails: [u64; 64],
    /// The clean [`BROWSER_OPENINGS`] past the generic "Mozilla/5.0 (", longest
    /// first, and whether that generic opening is clean itself.
    openings: Vec<&'static [u8]>,
    generic_opening_clean: bool,
    /// Two-byte literals: `(first << 8 | second, literal)`. (Not `([u8; 2], u32)`:
    /// rustc 1.95 at opt-level 3 miscompiled pushing that tuple; see the
    /// regression test `pair_literals_keep_their_index`.)
    pairs: Vec<(u16, u32)>,
    /// Bit `b` set when some two-byte literal starts with byte `b`.
    pair_first: [u64; 4],
    /// One-byte literals (lowercase), `(byte, literal)`: a rare byte such as
    /// '@' is still a cheaper test than a regex on every user-agent.
    singles: Vec<(u8, u32)>,
    /// When every one-byte literal is the same byte and no browser opening
    /// holds it: that byte as the scan reads it ([`fold8`]), in each of eight
    /// bytes. The scan then looks for it in the words it reads anyway, and
    /// searches for the singles only when it (or a byte folding like it) is
    /// there. 0 (never a folded byte) otherwise: they are searched for in
    /// every text.
    watch: u64,
}

/// Nonzero exactly when a byte of `x` is zero, for words whose bytes are all
/// below 0x80 (a folded word, see [`fold8`], or two of them xored): only a
/// zero byte borrows into its top bit (the bits above a zero byte may be
/// wrong, never whether there is one).
fn any_zero_byte(x: u64) -> u64 {
    x.wrapping_sub(ONES) & (0x80 * ONES)
}

/// [`LiteralIndex::watch`] for these one-byte literals.
fn watch_for(singles: &[(u8, u32)]) -> u64 {
    let Some(&(first, _)) = singles.first() else {
        return 0;
    };
    let one_byte = singles.iter().all(|&(b, _)| b == first);
    let in_opening = BROWSER_OPENINGS
        .iter()
        .any(|p| p.bytes().any(|b| fold_byte(b) == fold_byte(first)));
    if one_byte && !in_opening {
        u64::from(fold_byte(first)) * ONES
    } else {
        0
    }
}

/// How many copies of each of the load's per-item loops share the items.
///
/// V8 (Node 20) compiles a wasm function again with TurboFan, on a
/// background thread, once its Liftoff code has run about 1.8 MB
/// (`--wasm-tiering-budget`, counted per function: at each turn of a loop the
/// code size of its body, taken or not; at each return the code before it).
/// One function per step over 1,900 literals and 3,700 entries crossed it
/// four times mid-load (the short keys' step about 6 MB), and on one CPU, as
/// a Lambda@Edge function has at most, those compiles take the load's own
/// time: `Edge.prepared()` took 4.6 ms on one core against 2.0 ms once no
/// function crossed (docs/benchmarks.md, eighteenth session). So each step
/// runs in `LOAD_SHARES` copies (`file_literal_share::<S>`,
/// `file_entry_share::<S>`: a function each, the share's bounds in its
/// code, so no two are the same function), each over its part of the items;
/// their bodies stay short, the rare cases in calls out of line. The demo
/// catalog's copies run 0.6-0.9 MB each, and `cargo xtask ci` holds it to no
/// TurboFan compile at two thirds of the budget (`bench/cold-compile.cjs
/// --budget turbofan=0`): a catalog about twice this size still loads in
/// Liftoff alone.
const LOAD_SHARES: usize = 4;

/// The half-open range of `n` items that share `share` of [`LOAD_SHARES`] runs over.
#[inline(always)]
fn share_of(share: usize, n: usize) -> std::ops::Range<usize> {
    let per = n.div_ceil(LOAD_SHARES);
    (share * per).min(n)..((share + 1) * per).min(n)
}

/// Files a two-byte literal.
#[inline(never)]
fn file_pair(lit: &[u8], literal: u32, pairs: &mut Vec<(u16, u32)>, first: &mut [u64; 4]) {
    let (a, b) = (lit[0].to_ascii_lowercase(), lit[1].to_ascii_lowercase());
    pairs.push((u16::from_be_bytes([a, b]), literal));
    set_bit(first, usize::from(a));
}

/// The entry of the literal `text[start..start + len]` (`len` from 3 to
/// `u16::MAX`) before its key. Nothing is copied: the literal's tail is
/// compared where it lies, case-folded on both sides.
#[inline(always)]
fn entry_of(text: &[u8], start: usize, len: usize, literal: u32) -> Entry {
    let mask = if len >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * len)) - 1
    };
    Entry {
        head: lower8(load8(text, start)) & mask,
        key: 0,
        start: start as u32,
        literal,
        next: NONE,
        len: len as u16,
        offset: 0,
    }
}

/// Files `entry`'s literal (of five bytes or more) as its plan says
/// (`offset`, checked to leave three bytes by the caller): two entries at
/// neighbouring offsets, the plan's moved back to leave four bytes after
/// the second.
#[inline(always)]
fn file_long_literal(text: &[u8], mut entry: Entry, offset: usize, out: &mut Vec<Entry>) {
    let (start, len) = (entry.start as usize, usize::from(entry.len));
    let o = offset.min(len - 5);
    let lit = &text[start + o..start + o + 5];
    entry.key = folded_quad(lit);
    entry.offset = o as u16;
    out.push(entry.clone());
    entry.key = folded_quad(&lit[1..]);
    entry.offset = o as u16 + 1;
    out.push(entry);
}

/// Files `entry`'s literal (of three or four bytes) as its plan says: for
/// four bytes an entry and a short entry, for three a short entry (out of
/// line: few literals are this short).
#[inline(never)]
fn file_short_literal(text: &[u8], mut entry: Entry, offset: usize, out: &mut Vec<Entry>) {
    let (start, len) = (entry.start as usize, usize::from(entry.len));
    let lit = &text[start..start + len];
    // A four-byte literal's short entry is under the three bytes its plan
    // names (`offset` 0 or 1); a three-byte literal's under all three. The
    // caller's check already bounds `offset`; spelt out here, the bound also
    // spares the wasm a slice check.
    let o = if len == 4 { offset.min(1) } else { 0 };
    if len == 4 {
        entry.key = folded_quad(lit);
        out.push(entry.clone());
    }
    entry.key = TAIL | folded_gram(&lit[o..]);
    entry.offset = o as u16;
    out.push(entry);
}

/// Sets the filter bits of a short entry (a literal of three or four
/// bytes, 64 or 128 keys: out of line) whose literal is a span of `text`,
/// and its bit in `tails`.
#[inline(never)]
fn set_short_keys(text: &[u8], e: &Entry, grams: &mut [u64; KEYS / 64], tails: &mut [u64; 64]) {
    let lit = &text[e.start as usize..e.start as usize + usize::from(e.len)];
    short_entry_keys(lit, e, |key| set_bit(grams, key));
    set_bit(tails, tail_bit(e.key & !TAIL));
}

/// Files entry `k` under its key: first in the key's list, the one before
/// it next.
#[inline(always)]
fn file_key(entries: &mut [Entry], k: usize, slots: &mut [(u32, u32)], bits: u32) {
    let key = entries[k].key;
    let mut slot = slot_of(key, bits);
    while slots[slot].0 != EMPTY && slots[slot].0 != key {
        slot = (slot + 1) & (slots.len() - 1);
    }
    entries[k].next = if slots[slot].0 == key {
        slots[slot].1
    } else {
        NONE
    };
    slots[slot] = (key, k as u32);
}

/// Chooses where each literal is filed. A literal of three or four bytes is
/// filed whole. A longer one takes the two neighbouring four-byte windows
/// least common in browsers (`COMMON` and the `BROWSER_OPENINGS`, whose
/// windows a literal filed elsewhere leaves clean), then the pair fewest
/// literals share, so none is shared by every "...bot" literal; shorter
/// literals choose first (they have the fewest windows). Case is ignored
/// (`folded_quad`).
pub fn plan<'a>(literals: impl IntoIterator<Item = &'a str>) -> Vec<Plan> {
    let mut common = std::collections::HashMap::<u32, u32>::new();
    let browser_text = std::iter::once(COMMON).chain(BROWSER_OPENINGS.iter().copied());
    for text in browser_text {
        for w in text.as_bytes().windows(4) {
            *common.entry(folded_quad(w)).or_default() += 1;
        }
    }
    let literals: Vec<&[u8]> = literals.into_iter().map(str::as_bytes).collect();
    let mut plans = vec![None; literals.len()];
    let order = stable_order(literals.len(), |i| {
        u32::try_from(literals[i].len()).unwrap_or(u32::MAX)
    });
    let mut load = std::collections::HashMap::<u32, u32>::new();
    for i in order {
        let lit = literals[i];
        if lit.len() < 3 {
            continue;
        }
        // Three or four bytes: filed whole (`short_entry_keys`), a four-byte
        // literal's short entry under its last three bytes: its first three
        // are more often the start of a longer word ('.co' of every '.com',
        // 'bot' of 'bots'), which would look it up for nothing. Longer:
        // under two neighbouring four-byte windows, both counted.
        if lit.len() < 5 {
            let later = lit.len() == 4;
            plans[i] = Some(u32::from(later));
            continue;
        }
        let count = |m: &std::collections::HashMap<u32, u32>, o: usize| {
            m.get(&folded_quad(&lit[o..])).copied().unwrap_or(0)
                + m.get(&folded_quad(&lit[o + 1..])).copied().unwrap_or(0)
        };
        let best = (0..=lit.len() - 5)
            .min_by_key(|&o| (count(&common, o), count(&load, o)))
            .unwrap_or(0);
        for o in [best, best + 1] {
            *load.entry(folded_quad(&lit[o..])).or_default() += 1;
        }
        plans[i] = Some(best as u32);
    }
    plans
}

/// The literals of [`LiteralIndex::over_text`], filed by length: entries
/// (three bytes or more, in literal order), pairs and singles.
struct Filed {
    entries: Vec<Entry>,
    pairs: Vec<(u16, u32)>,
    pair_first: [u64; 4],
    singles: Vec<(u8, u32)>,
}

#[inline(never)]
fn file_literals(bytes: &[u8], spans: &[(u32, u32)], plans: &[Plan]) -> Result<Filed, BadPlan> {
    if spans.len() != plans.len() {
        return Err(BadPlan {
            literal: spans.len().min(plans.len()),
        });
    }
    let mut filed = Filed {
        entries: Vec::with_capacity(2 * plans.len()),
        pairs: Vec::new(),
        pair_first: [0; 4],
        singles: Vec::new(),
    };
    // In literal order, a share each (`LOAD_SHARES`).
    const _: () = assert!(
        LOAD_SHARES == 4,
        "one call per share here and in file_grams"
    );
    file_literal_share::<0>(bytes, spans, plans, &mut filed)?;
    file_literal_share::<1>(bytes, spans, plans, &mut filed)?;
    file_literal_share::<2>(bytes, spans, plans, &mut filed)?;
    file_literal_share::<3>(bytes, spans, plans, &mut filed)?;
    Ok(filed)
}

/// Files share `S` of the literals (see [`LOAD_SHARES`]).
#[inline(never)]
fn file_literal_share<const S: usize>(
    bytes: &[u8],
    spans: &[(u32, u32)],
    plans: &[Plan],
    filed: &mut Filed,
) -> Result<(), BadPlan> {
    for i in share_of(S, spans.len()) {
        let ((start, len), plan) = (spans[i], plans[i]);
        let (start, len) = (start as usize, len as usize);
        let fits = start.checked_add(len).is_some_and(|end| end <= bytes.len());
        match plan {
            Some(offset)
                if fits && len <= usize::from(u16::MAX) && (offset as usize) + 3 <= len =>
            {
                let entry = entry_of(bytes, start, len, i as u32);
                if len >= 5 {
                    file_long_literal(bytes, entry, offset as usize, &mut filed.entries);
                } else {
                    file_short_literal(bytes, entry, offset as usize, &mut filed.entries);
                }
            }
            None if fits && len <= 2 => file_tiny(&bytes[start..start + len], i as u32, filed),
            _ => return Err(BadPlan { literal: i }),
        }
    }
    Ok(())
}

/// Files a literal of two bytes or fewer (an empty one is never found).
#[cold]
#[inline(never)]
fn file_tiny(lit: &[u8], literal: u32, filed: &mut Filed) {
    match lit.len() {
        1 => filed.singles.push((lit[0].to_ascii_lowercase(), literal)),
        2 => file_pair(lit, literal, &mut filed.pairs, &mut filed.pair_first),
        _ => {}
    }
}

/// The positions `0..n` in stable ascending order of `key`: sorted as
/// `key << 32 | position` by `[u64]::sort_unstable`, the sort the candidates
/// use on every request, so the wasm carries that one sort routine instead of
/// a stable sort for each call site here (about 7 KB of wasm each). `n` is a
/// count of literals or openings, far below 2^32.
fn stable_order(n: usize, key: impl Fn(usize) -> u32) -> Vec<usize> {
    debug_assert!(u32::try_from(n).is_ok());
    let mut keyed: Vec<u64> = (0..n)
        .map(|i| (u64::from(key(i)) << 32) | i as u64)
        .collect();
    keyed.sort_unstable();
    keyed
        .into_iter()
        .map(|k| (k & 0xFFFF_FFFF) as usize)
        .collect()
}

/// The gram filter, the slot table (each key's entries linked), and the
/// short literals' bits, for entries whose literals are spans of `text`.
#[inline(never)]
#[allow(clippy::type_complexity)]
fn file_grams(
    text: &[u8],
    entries: &mut [Entry],
) -> (Box<[u64; KEYS / 64]>, Vec<(u32, u32)>, u32, [u64; 64]) {
    let mut grams: Box<[u64; KEYS / 64]> = vec![0u64; KEYS / 64]
        .into_boxed_slice()
        .try_into()
        .unwrap_or_else(|_| unreachable!("KEYS / 64 words"));
    // At most half full (keys are at most entries): a look-up usually
    // takes one probe.
    let slot_bits = (2 * entries.len())
        .next_power_of_two()
        .max(16)
        .trailing_zeros();
    let mut slots = vec![(EMPTY, 0u32); 1 << slot_bits];
    let mut tails = [0u64; 64];
    let mut tables = GramTables {
        grams: &mut grams,
        slots: &mut slots,
        slot_bits,
        tails: &mut tails,
    };
    file_entry_share::<0>(text, entries, &mut tables);
    file_entry_share::<1>(text, entries, &mut tables);
    file_entry_share::<2>(text, entries, &mut tables);
    file_entry_share::<3>(text, entries, &mut tables);
    (grams, slots, slot_bits, tails)
}

/// What [`file_grams`] fills, lent to each share.
struct GramTables<'a> {
    /// The gram filter.
    grams: &'a mut [u64; KEYS / 64],
    /// The slots, `1 << slot_bits` of them.
    slots: &'a mut [(u32, u32)],
    slot_bits: u32,
    /// The short literals' bits.
    tails: &'a mut [u64; 64],
}

/// Sets the filter bits of share `S` of the entries and files them under
/// their keys, in entry order (see [`LOAD_SHARES`]).
#[inline(never)]
fn file_entry_share<const S: usize>(text: &[u8], entries: &mut [Entry], t: &mut GramTables<'_>) {
    for k in share_of(S, entries.len()) {
        let key = entries[k].key;
        if key & TAIL == TAIL {
            set_short_keys(text, &entries[k], t.grams, t.tails);
        } else {
            set_bit(t.grams, long_entry_key(key));
        }
        file_key(entries, k, t.slots, t.slot_bits);
    }
}

/// The clean [`BROWSER_OPENINGS`] past the generic one, longest first, and
/// whether the generic one is clean.
#[inline(never)]
fn clean_openings(grams: &[u64; KEYS / 64]) -> (Vec<&'static [u8]>, bool) {
    // Every four bytes inside the opening: a literal that starts in it and
    // is filed under a gram that ends before its last three bytes would
    // set one of their keys; the scan covers the rest.
    let clean = |p: &[u8]| {
        p.windows(4)
            .all(|w| !has_bit(grams, key_of([w[0], w[1], w[2], w[3]])))
    };
    let clean_ones: Vec<&'static [u8]> = BROWSER_OPENINGS[1..]
        .iter()
        .map(|p| p.as_bytes())
        .filter(|p| clean(p))
        .collect();
    // Longest first (ties in their order): see `stable_order`.
    let openings = stable_order(clean_ones.len(), |i| {
        u32::MAX - u32::try_from(clean_ones[i].len()).unwrap_or(u32::MAX)
    })
    .into_iter()
    .map(|i| clean_ones[i])
    .collect();
    (openings, clean(BROWSER_OPENINGS[0].as_bytes()))
}

impl LiteralIndex {
    /// Indexes ASCII literals (matched case-insensitively), planning where
    /// each is filed. An empty literal is ignored.
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
        let mut text = String::new();
        let spans: Vec<(u32, u32)> = literals
            .into_iter()
            .map(|l| {
                let start = text.len() as u32;
                text.push_str(l);
                (start, l.len() as u32)
            })
            .collect();
        LiteralIndex::over_text(text, &spans, plans)
    }

    /// [`LiteralIndex::with_plan`] for literals that are `(start, length)`
    /// spans of `text`, which the index keeps ([`LiteralIndex::text`]): a
    /// matcher's literals are strings of its artifact's text, so loading
    /// copies none of them. A span outside `text` fails like a corrupt plan.
    pub fn over_text(
        text: String,
        spans: &[(u32, u32)],
        plans: &[Plan],
    ) -> Result<LiteralIndex, BadPlan> {
        // Each step in a function of its own, see `file_pair`.
        let Filed {
            mut entries,
            pairs,
            pair_first,
            singles,
        } = file_literals(text.as_bytes(), spans, plans)?;
        let (grams, slots, slot_bits, tails) = file_grams(text.as_bytes(), &mut entries);
        let (openings, generic_opening_clean) = clean_openings(&grams);
        let watch = watch_for(&singles);
        Ok(LiteralIndex {
            openings,
            generic_opening_clean,
            grams,
            text,
            entries,
            slots,
            slot_bits,
            tails,
            pairs,
            pair_first,
            singles,
            watch,
        })
    }

    /// The text the literals are spans of.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Calls `hit(literal, start, end)` for every occurrence of every literal
    /// in `text` (ASCII case-insensitively), with the byte range it occupies.
    /// A literal may be reported more than once.
    pub fn for_each_hit(&self, text: &str, mut hit: impl FnMut(u32, usize, usize)) {
        let text = text.as_bytes();
        let n = text.len();
        if self.watch == 0 {
            self.singles_in(text, &mut hit);
        }
        if !self.pairs.is_empty() {
            for i in 1..n {
                let a = FOLD[usize::from(text[i - 1])];
                if has_bit(&self.pair_first, usize::from(a)) {
                    let b = FOLD[usize::from(text[i])];
                    self.pairs_at(u16::from_be_bytes([a, b]), i - 1, &mut hit);
                }
            }
        }
        // The hot loop: one bit test every other byte, on the key of the
        // four bytes from there (`short_entry_keys` files each literal so that a
        // test at every other position finds it); everything else is out
        // of line so that this stays in registers. Eight bytes are read at a
        // time and give three keys; no key depends on the one before, so the
        // processor overlaps them. It starts three bytes before the end of a
        // clean browser opening, if any (four bytes from there run past the
        // opening).
        let grams: &[u64; KEYS / 64] = &self.grams;
        let from = self.clean_opening(text).saturating_sub(3);
        let (mut at, mut watched) = (from, 0);
        while let Some(eight) = text.get(at..at + 8) {
            let w = fold8(le64(eight));
            watched |= any_zero_byte(w ^ self.watch);
            for j in [0, 2, 4] {
                if has_bit(grams, hash_key((w >> (8 * j)) as u32)) {
                    self.verify_at(text, at + j, &mut hit);
                }
            }
            at += 6;
        }
        if self.watch != 0 {
            // The words read cover `from` to two bytes past `at`, if any was;
            // before `from` lies a browser opening, which cannot hold the byte.
            let rest = text.get(if at > from { at + 2 } else { from }..);
            let folded = self.watch as u8;
            if watched != 0
                || rest
                    .unwrap_or_default()
                    .iter()
                    .any(|&b| fold_byte(b) == folded)
            {
                self.singles_in(text, &mut hit);
            }
        }
        while let Some(&[a, b, c]) = text.get(at..at + 3) {
            // Past the end of the text reads as a space (see `short_entry_keys`).
            let d = text.get(at + 3).copied().unwrap_or(b' ');
            if has_bit(grams, key_of([a, b, c, d])) {
                self.verify_at(text, at, &mut hit);
            }
            at += 2;
        }
    }

    /// The length of the longest clean browser opening `text` starts with
    /// (exactly, case included), or 0.
    fn clean_opening(&self, text: &[u8]) -> usize {
        let generic = BROWSER_OPENINGS[0].as_bytes();
        if !opens_with(text, generic) {
            return 0;
        }
        let next = text.get(generic.len());
        self.openings
            .iter()
            .find(|p| p.get(generic.len()) == next && opens_with(text, p))
            .map_or(
                if self.generic_opening_clean {
                    generic.len()
                } else {
                    0
                },
                |p| p.len(),
            )
    }

    /// Every occurrence of a one-byte literal.
    #[inline(never)]
    fn singles_in(&self, text: &[u8], hit: &mut dyn FnMut(u32, usize, usize)) {
        #[cfg(test)]
        tests::SINGLES_SEARCHED.with(|n| n.set(n.get() + 1));
        for &(byte, literal) in &self.singles {
            // A byte without case ('@') is one search, not two.
            if byte.is_ascii_lowercase() {
                for at in memchr::memchr2_iter(byte, byte.to_ascii_uppercase(), text) {
                    hit(literal, at, at + 1);
                }
            } else {
                for at in memchr::memchr_iter(byte, text) {
                    hit(literal, at, at + 1);
                }
            }
        }
    }

    #[inline(never)]
    fn pairs_at(&self, key: u16, at: usize, hit: &mut dyn FnMut(u32, usize, usize)) {
        for &(p, lit) in &self.pairs {
            if p == key {
                hit(lit, at, at + 2);
            }
        }
    }

    /// Verifies the literals filed where the scan tested position `at` (three
    /// bytes of the text or more from there): under the four bytes there
    /// (a space past the end), and a short literal starting there or at the
    /// next byte, or a four-byte one whose last three bytes start there (its
    /// short entry's offset 1).
    #[inline(never)]
    fn verify_at(&self, text: &[u8], at: usize, hit: &mut dyn FnMut(u32, usize, usize)) {
        let g = folded_gram(&text[at..]);
        let d = text.get(at + 3).map_or(b' ', |&d| FOLD[usize::from(d)]);
        self.verify_key((g << 8) | u32::from(d), text, at, hit);
        if has_bit(&self.tails, tail_bit(g)) {
            self.verify_key(TAIL | g, text, at, hit);
        }
        if let Some(next) = text.get(at + 1..at + 4) {
            let g = folded_gram(next);
            if has_bit(&self.tails, tail_bit(g)) {
                self.verify_key(TAIL | g, text, at + 1, hit);
            }
        }
    }

    /// Verifies the literals filed under `key`, whose bytes are at `at`.
    fn verify_key(&self, key: u32, text: &[u8], at: usize, hit: &mut dyn FnMut(u32, usize, usize)) {
        let mask = self.slots.len() - 1;
        let mut slot = slot_of(key, self.slot_bits);
        let mut k = loop {
            match self.slots[slot] {
                (EMPTY, _) => return, // a key the filter shares
                (s, first) if s == key => break first,
                _ => slot = (slot + 1) & mask,
            }
        };
        while let Some(e) = self.entries.get(k as usize) {
            k = e.next;
            let Some(start) = at.checked_sub(e.offset as usize) else {
                continue;
            };
            let len = e.len as usize;
            if start + len > text.len() || lower8(load8(text, start)) & e.mask() != e.head {
                continue;
            }
            let s = e.start as usize;
            if len <= 8
                || text[start + 8..start + len]
                    .iter()
                    .zip(&self.text.as_bytes()[s + 8..s + len])
                    .all(|(&t, &l)| FOLD[usize::from(t)] == FOLD[usize::from(l)])
            {
                hit(e.literal, start, start + len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_literal_is_filed_where_its_plan_says_lowercased() {
        let g = |t: &[u8; 3]| (u32::from(t[0]) << 16) | (u32::from(t[1]) << 8) | u32::from(t[2]);
        let q = |t: &[u8; 4]| u32::from_be_bytes(*t);
        let filed = |lit: &str, offset: usize| {
            let mut out = Vec::new();
            let file = if lit.len() >= 5 {
                file_long_literal
            } else {
                file_short_literal
            };
            file(
                lit.as_bytes(),
                entry_of(lit.as_bytes(), 0, lit.len(), 7),
                offset,
                &mut out,
            );
            assert!(
                out.iter()
                    .all(|e| e.literal == 7 && usize::from(e.len) == lit.len())
            );
            out.iter().map(|e| (e.key, e.offset)).collect::<Vec<_>>()
        };
        // Two neighbouring windows of four bytes from the plan's offset.
        assert_eq!(filed("GoogleBot", 0), [(q(b"goog"), 0), (q(b"oogl"), 1)]);
        assert_eq!(filed("GoogleBot", 3), [(q(b"gleb"), 3), (q(b"lebo"), 4)]);
        // Moved back so that the second window fits.
        assert_eq!(filed("GoogleBot", 6), [(q(b"lebo"), 4), (q(b"ebot"), 5)]);
        // Short literals: four bytes whole and a short entry; three, a short
        // entry only.
        assert_eq!(filed("Bots", 0), [(q(b"bots"), 0), (TAIL | g(b"bot"), 0)]);
        // A four-byte literal's short entry under its last three bytes.
        assert_eq!(filed("Bots", 1), [(q(b"bots"), 0), (TAIL | g(b"ots"), 1)]);
        assert_eq!(filed("BOT", 0), [(TAIL | g(b"bot"), 0)]);
        assert_ne!(TAIL | g(b"bot"), q(b"\0bot"));
    }

    #[test]
    fn the_shares_cover_every_item_once_in_order() {
        for n in 0..=41 {
            let all: Vec<usize> = (0..LOAD_SHARES).flat_map(|s| share_of(s, n)).collect();
            assert_eq!(all, (0..n).collect::<Vec<_>>(), "{n} items");
            // No share runs over more than its part: that bounds what any
            // one copy of a loop runs.
            assert!(
                (0..LOAD_SHARES).all(|s| share_of(s, n).len() <= n.div_ceil(LOAD_SHARES)),
                "{n}"
            );
        }
        assert_eq!(share_of(1, 1901), 476..952);
    }

    #[test]
    fn a_long_entrys_filter_key_comes_from_its_key() {
        // `long_entry_key` takes a long entry's filter key from its
        // lowercased key; the scan computes it from the text as it comes.
        // Folding the lowercased byte gives the same, for every byte.
        for b in 0..=255u8 {
            assert_eq!(
                fold_byte(FOLD[usize::from(b)]),
                fold_byte(b),
                "byte {b:#04x}"
            );
        }
        for four in [
            *b"GoOg",
            *b"[Bot",
            *b"\xC3\xA9t/",
            *b"@X_~",
            *b"\x00\x7F\x80\xFF",
        ] {
            let key = folded_quad(&four);
            assert_eq!(long_entry_key(key), key_of(four), "{four:?}");
        }
    }

    #[test]
    fn short_literals_are_looked_up_only_under_their_own_bit() {
        let g = |t: &[u8; 3]| (u32::from(t[0]) << 16) | (u32::from(t[1]) << 8) | u32::from(t[2]);
        let index = LiteralIndex::new(["abc", "xyzzy"]);
        assert_ne!(tail_bit(g(b"abc")), tail_bit(g(b"xyz")), "the bits differ");
        assert!(has_bit(&index.tails, tail_bit(g(b"abc"))));
        assert!(!has_bit(&index.tails, tail_bit(g(b"xyz"))), "xyzzy is long");
    }

    #[test]
    fn plans_take_the_first_rarest_gram_and_spread_the_load() {
        // No four bytes of these are in the browser word list: the costs tie
        // on commonness, so load decides (a literal is filed under two
        // neighbouring windows of four bytes, both counted), and among equal
        // loads the first offset.
        let plans = plan(["qxzjkv", "qxzjkv", "qxzjkv"]);
        assert_eq!(plans[0], Some(0), "all free: the first");
        assert_eq!(plans[1], Some(1), "qxzj+xzjk taken (2), xzjk+zjkv (1)");
        assert_eq!(plans[2], Some(0), "both pairs at 3: the first again");
        assert_eq!(
            plan(["abc", "abcd", "abcde"]),
            [Some(0), Some(1), Some(0)],
            "filed whole (four bytes: the short entry under the last three), or one choice"
        );
        assert_eq!(
            plan(["ab", "x"]),
            [None, None],
            "under three bytes: no gram"
        );
    }

    #[test]
    fn the_slot_table_stays_at_most_half_full() {
        let mut sizes = std::collections::BTreeSet::new();
        for n in (1usize..=70).chain([1000]) {
            // Three-byte literals: as many grams as literals.
            let lits: Vec<String> = (0..n).map(|i| format!("{i:03}")).collect();
            let index = LiteralIndex::new(lits.iter().map(String::as_str));
            let distinct: std::collections::BTreeSet<u32> =
                index.entries.iter().map(|e| e.key).collect();
            assert!(
                index.slots.len() >= 2 * distinct.len() && index.slots.len() >= 16,
                "{n} literals, {} grams, {} slots",
                distinct.len(),
                index.slots.len()
            );
            assert_eq!(index.slots.len(), 1 << index.slot_bits);
            sizes.insert(distinct.len());
        }
        // Counts just past a power of two are where a sizing slip shows.
        assert!(
            sizes.contains(&9) && sizes.contains(&17) && sizes.contains(&33),
            "{sizes:?}"
        );
    }

    #[test]
    fn texts_as_short_as_a_literal_are_scanned() {
        let lits = vec!["bot".to_owned(), "ab".to_owned()];
        let index = LiteralIndex::new(lits.iter().map(String::as_str));
        assert_eq!(found(&index, &lits, "BOT"), naive(&lits, "BOT"));
        assert_eq!(found(&index, &lits, "bot"), [0]);
        assert_eq!(found(&index, &lits, "ab"), [1]);
        assert_eq!(found(&index, &lits, "bo"), Vec::<u32>::new());
    }

    #[test]
    fn a_four_byte_literal_is_filed_by_its_last_three_bytes() {
        assert_eq!(plan([".co)", "abcd", "abc"]), [Some(1), Some(1), Some(0)]);
    }

    #[test]
    fn home_slots_spread_grams_over_the_table() {
        // 1,000 distinct grams in a table of 4,096 slots: a hash that spreads
        // them leaves few sharing a home slot.
        let homes: std::collections::BTreeSet<usize> = (0..1000u32)
            .map(|i| slot_of(0x61_6100 + i * 7, 12))
            .collect();
        assert!(homes.len() > 800, "{} distinct home slots", homes.len());
        assert!(homes.iter().all(|&h| h < 4096));
    }

    use super::*;
    use proptest::prelude::*;

    fn naive(literals: &[String], text: &str) -> Vec<u32> {
        let t = text.to_ascii_lowercase();
        let mut out: Vec<u32> = literals
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.is_empty() && t.contains(l.to_ascii_lowercase().as_str()))
            .map(|(i, _)| i as u32)
            .collect();
        out.sort();
        out
    }

    fn found(index: &LiteralIndex, lits: &[String], text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        index.for_each_hit(text, |l, start, end| {
            assert_eq!(
                text.as_bytes()[start..end].to_ascii_lowercase(),
                lits[l as usize].to_ascii_lowercase().into_bytes(),
                "hit of literal {l} at {start}..{end} in {text:?}"
            );
            out.push(l)
        });
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
            found(&idx, &lits, "Mozilla/5.0 (compatible; GoogleBot/2.1)"),
            vec![0, 1, 2, 3]
        );
        assert_eq!(found(&idx, &lits, "x"), Vec::<u32>::new());
        let long = format!("{}AhrefsBot/7", "a".repeat(600));
        assert_eq!(found(&idx, &lits, &long), vec![1, 4]);
    }

    /// Regression: rustc 1.95 release builds stored garbage indices for
    /// two-byte literals when they were kept as `([u8; 2], u32)`. Runs in
    /// release in `cargo xtask ci`.
    #[test]
    fn pair_literals_keep_their_index() {
        let lits = vec!["go".to_owned(), "bot".to_owned(), "ab".to_owned()];
        let idx = LiteralIndex::new(lits.iter().map(String::as_str));
        assert_eq!(found(&idx, &lits, "GO ab"), vec![0, 2]);
    }

    #[test]
    fn one_byte_literals_are_found_at_every_occurrence() {
        let lits = vec!["@".to_owned(), "Q".to_owned(), "bot".to_owned()];
        let idx = LiteralIndex::new(lits.iter().map(String::as_str));
        assert_eq!(found(&idx, &lits, "ops@quokka.example q"), vec![0, 1]);
        assert_eq!(found(&idx, &lits, "a bot"), vec![2]);
        let mut at = Vec::new();
        idx.for_each_hit("q@q", |l, start, end| at.push((l, start, end)));
        at.sort();
        assert_eq!(at, [(0, 1, 2), (1, 0, 1), (1, 2, 3)]);
    }

    /// Literals as spans of a text the index keeps: found in any case,
    /// their own case included (a tail past the first eight bytes is folded
    /// on both sides); a span past the text or a plan that does not fit is
    /// refused, naming the literal.
    #[test]
    fn literals_over_a_text_are_found_where_they_lie() {
        use super::*;
        let text = "id: FooCrawlerLongName, then xybot".to_owned();
        let spans = [(4u32, 18u32), (31, 3), (29, 2)];
        let plans = [Some(15), Some(0), None];
        let idx = LiteralIndex::over_text(text.clone(), &spans, &plans).unwrap();
        assert_eq!(idx.text(), text);
        let hits = |t: &str| {
            let mut v = Vec::new();
            idx.for_each_hit(t, |l, s, e| v.push((l, s, e)));
            v.sort_unstable();
            v
        };
        assert_eq!(hits("a foocrawlerlongname/1"), vec![(0, 2, 20)]);
        assert_eq!(
            hits("a FOOCRAWLERLONGNAME/1 BOT"),
            vec![(0, 2, 20), (1, 23, 26)]
        );
        assert_eq!(hits("a foocrawlerlongnamf"), vec![], "last byte differs");
        assert_eq!(hits("XY"), vec![(2, 0, 2)]);
        for (spans, plans, bad) in [
            (vec![(4u32, 18u32), (31, 4)], vec![Some(0), Some(0)], 1),
            (vec![(u32::MAX, 2)], vec![None], 0),
            (vec![(4, 18)], vec![Some(16)], 0),
            (vec![(4, 18), (31, 3)], vec![Some(0)], 1),
        ] {
            assert_eq!(
                LiteralIndex::over_text(text.clone(), &spans, &plans).err(),
                Some(BadPlan { literal: bad })
            );
        }
    }

    /// An empty literal is ignored, not refused (`LiteralIndex::new` says
    /// so), and the others are found.
    #[test]
    fn an_empty_literal_is_ignored() {
        use super::*;
        let idx = LiteralIndex::new(["", "quokka", ""]);
        let mut hits = Vec::new();
        idx.for_each_hit("a Quokka", |l, s, e| hits.push((l, s, e)));
        assert_eq!(hits, vec![(1, 2, 8)]);
    }

    #[test]
    fn opens_with_is_starts_with() {
        use super::opens_with;
        let text = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36";
        let mut checked = 0;
        for len in 0..=text.len() + 1 {
            let prefix = &text[..len.min(text.len())];
            assert!(opens_with(text, prefix));
            for at in 0..prefix.len() {
                let mut other = prefix.to_vec();
                other[at] ^= 0x20;
                assert_eq!(
                    opens_with(text, &other),
                    text.starts_with(&other),
                    "{len} {at}"
                );
                checked += 1;
            }
        }
        assert!(!opens_with(b"Mozilla", b"Mozilla/5.0"));
        assert_eq!(checked, text.len() * (text.len() + 1) / 2 + text.len());
    }

    #[test]
    fn load8_pads_with_zeros_at_every_offset() {
        for n in 0..20 {
            let text: Vec<u8> = (1..=n as u8).collect();
            for at in 0..=n + 1 {
                let mut want = [0u8; 8];
                for (i, w) in want.iter_mut().enumerate() {
                    *w = text.get(at + i).copied().unwrap_or(0);
                }
                assert_eq!(load8(&text, at), u64::from_le_bytes(want), "n {n} at {at}");
            }
        }
    }

    #[test]
    fn clean_openings_skip_only_what_cannot_hold_a_gram() {
        let chrome = BROWSER_OPENINGS[4];
        // "windows" makes every Windows opening unclean; ") chr" and "like
        // gecko) chrome/12" start inside the Chrome opening and end after it.
        let lits: Vec<String> = [
            "windows",
            ") chrome/12",
            "like gecko) chrome/12",
            "zzbot",
            "safari",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let idx = LiteralIndex::new(lits.iter().map(String::as_str));
        assert!(
            idx.openings
                .iter()
                .all(|p| !p.starts_with(b"Mozilla/5.0 (Windows"))
        );
        for tail in ["120.0.0.0 Safari/537.36", "125.0 zzBot", "", "1"] {
            let text = format!("{chrome}{tail}");
            assert_eq!(found(&idx, &lits, &text), naive(&lits, &text), "{text}");
        }
        let mac = format!("{}120.0.0.0 Safari/537.36", BROWSER_OPENINGS[7]);
        assert_eq!(idx.clean_opening(mac.as_bytes()), BROWSER_OPENINGS[7].len());
        assert_eq!(found(&idx, &lits, &mac), naive(&lits, &mac));
        assert_eq!(
            idx.clean_opening(b"mozilla/5.0 (Macintosh"),
            0,
            "case matters"
        );
    }

    /// The watched byte ([`LiteralIndex::watch`]) at every position of texts
    /// of every length up to past two unrolled turns, after no opening, the
    /// generic one and a longer clean one: found where it is, and a byte that
    /// only folds like it ('`') finds nothing.
    #[test]
    fn a_watched_byte_is_found_at_every_position() {
        let lits: Vec<String> = ["@", "@", "zz@q", "xyzzy"].map(String::from).into();
        let index = LiteralIndex::new(lits.iter().map(String::as_str));
        assert_eq!(
            index.watch, 0x6060_6060_6060_6060,
            "'@' read as the scan folds it"
        );
        let mut checked = 0;
        for opening in ["", BROWSER_OPENINGS[0], "Mozilla/5.0 (compatible; "] {
            for len in 0..30 {
                for at in 0..len {
                    for (byte, expected) in [('@', vec![0, 1]), ('`', vec![])] {
                        let mut tail = vec!['q'; len];
                        tail[at] = byte;
                        let text = format!("{opening}{}", String::from_iter(tail));
                        assert_eq!(found(&index, &lits, &text), expected, "{text:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 3 * 2 * (0..30).sum::<usize>());
    }

    thread_local! {
        /// How many times [`LiteralIndex::singles_in`] ran on this thread.
        pub(super) static SINGLES_SEARCHED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// What watching saves: texts without the byte never search for the
    /// singles; a text with it, or with a byte that folds like it, does once.
    /// Without a watch (two one-byte literals), every text does.
    #[test]
    fn singles_are_searched_for_only_when_the_watched_byte_may_be_there() {
        let searches = |lits: &[&str], text: &str| {
            let index = LiteralIndex::new(lits.iter().copied());
            SINGLES_SEARCHED.with(|n| n.set(0));
            index.for_each_hit(text, |_, _, _| {});
            SINGLES_SEARCHED.with(|n| n.get())
        };
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        for text in [
            chrome,
            "curl/8.4.0",
            "",
            "q",
            "Mozilla/5.0 (compatible; Quokka/1.0)",
        ] {
            assert_eq!(searches(&["@", "xyzzy"], text), 0, "{text:?}");
            assert_eq!(searches(&["@", "!"], text), 1, "no watch: {text:?}");
        }
        for text in [
            "ops@quokka.example",
            "Mozilla/5.0 (compatible; +mailto:a@b.example)",
            "`",
            "Numbat/1.0 `x`",
        ] {
            assert_eq!(searches(&["@", "xyzzy"], text), 1, "{text:?}");
        }
    }

    #[test]
    fn only_one_byte_missing_from_every_opening_is_watched() {
        let watch = |singles: &[u8]| {
            let lits: Vec<String> = singles.iter().map(|&b| char::from(b).to_string()).collect();
            LiteralIndex::new(lits.iter().map(String::as_str)).watch
        };
        assert_eq!(watch(b"!"), 0x2121_2121_2121_2121);
        assert_eq!(watch(b"~~"), 0x7E7E_7E7E_7E7E_7E7E);
        assert_eq!(watch(b"@!"), 0, "two bytes: both searched for");
        assert_eq!(watch(b"z"), 0, "'z' is in \"Mozilla\"");
        assert_eq!(watch(b"Z"), 0, "folds like 'z'");
        assert_eq!(watch(b""), 0);
    }

    proptest! {
        /// `stable_order` is a stable sort by key: against the standard one,
        /// keys drawn from a few values so that ties are the rule.
        #[test]
        fn stable_order_is_a_stable_sort(keys in proptest::collection::vec(0u32..6, 0..60), big in any::<bool>()) {
            let keys: Vec<u32> = keys.into_iter().map(|k| if big { u32::MAX - k } else { k }).collect();
            let mut expected: Vec<usize> = (0..keys.len()).collect();
            expected.sort_by_key(|&i| keys[i]);
            prop_assert_eq!(stable_order(keys.len(), |i| keys[i]), expected);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]
        #[test]
        fn same_as_naive(lits in proptest::collection::vec("[a-d/ ]{1,6}", 1..40), text in "[a-dA-D/ ]{0,80}") {
            let idx = LiteralIndex::new(lits.iter().map(String::as_str));
            prop_assert_eq!(found(&idx, &lits, &text), naive(&lits, &text));
        }

        /// Four-byte literals whose short entry is under their first three
        /// bytes or their last three (the plan's offset 0 or 1, drawn), among
        /// literals of three to six bytes with either of their windows.
        #[test]
        fn same_as_naive_with_short_entries_at_either_end(
            lits in proptest::collection::vec("[a-d/ ]{3,6}", 1..40),
            later in proptest::collection::vec(any::<bool>(), 40),
            text in "[a-dA-D/ ]{0,80}",
        ) {
            let plans: Vec<Plan> = lits
                .iter()
                .zip(&later)
                .map(|(l, &b)| Some(match l.len() {
                    3 => 0,
                    4 => u32::from(b),
                    n => if b { (n - 5) as u32 } else { 0 },
                }))
                .collect();
            let idx = LiteralIndex::with_plan(lits.iter().map(String::as_str), &plans)
                .expect("every plan fits its literal");
            prop_assert_eq!(found(&idx, &lits, &text), naive(&lits, &text));
        }

        /// Texts that open like browsers, literals that overlap the openings.
        #[test]
        fn same_as_naive_after_browser_openings(
            opening in proptest::sample::select(BROWSER_OPENINGS),
            tail in "[a-zA-Z0-9/ ;().]{0,40}",
            cut in 0usize..100,
            lits in proptest::collection::vec("[a-z0-9/ ;().]{3,8}", 0..20),
        ) {
            let text = format!("{opening}{tail}");
            let mut lits = lits;
            // A literal taken from the text itself, straddling the opening's end.
            let start = cut.min(text.len().saturating_sub(4));
            let end = (start + 6).min(text.len());
            if end - start >= 3 && text.is_char_boundary(start) && text.is_char_boundary(end) {
                lits.push(text[start..end].to_ascii_lowercase());
            }
            let idx = LiteralIndex::new(lits.iter().map(String::as_str));
            prop_assert_eq!(found(&idx, &lits, &text), naive(&lits, &text));
        }

        /// One one-byte literal (so watched, see the assertion), among longer
        /// ones, in texts with bytes that fold like it, after an opening or not.
        #[test]
        fn same_as_naive_with_a_watched_byte(
            single in proptest::sample::select(&["@", "!", "~"][..]),
            lits in proptest::collection::vec("[a-d@!~]{3,6}", 0..10),
            opening in proptest::sample::select(vec!["", BROWSER_OPENINGS[0], BROWSER_OPENINGS[12]]),
            tail in "[a-dA-D/ @`!~^\u{e0}\u{c0}]{0,40}",
        ) {
            let lits: Vec<String> = [single.to_string()].into_iter().chain(lits).collect();
            let idx = LiteralIndex::new(lits.iter().map(String::as_str));
            prop_assert_ne!(idx.watch, 0);
            let text = format!("{opening}{tail}");
            prop_assert_eq!(found(&idx, &lits, &text), naive(&lits, &text));
        }

        /// Bytes whose filter keys collide ('[' and '{', a control byte and a
        /// digit, non-ASCII letters) and texts longer than one unrolled turn.
        #[test]
        fn same_as_naive_with_colliding_bytes(
            lits in proptest::collection::vec("[ab\\[{0\u{10}é]{2,5}", 1..30),
            text in "[aAbB\\[{0\u{10}éÉ]{0,120}",
        ) {
            let idx = LiteralIndex::new(lits.iter().map(String::as_str));
            prop_assert_eq!(found(&idx, &lits, &text), naive(&lits, &text));
        }
    }
}
