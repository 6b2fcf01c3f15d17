//! Verified good bots: the address ranges crawler operators publish, and which
//! `allow` signatures claim to be which operator. A claim counts only when the
//! client address lies in one of the claimed operator's lists.
//!
//! `bot-signatures` builds a [`VerifiedBots`] from the pinned range files
//! (`bot-signatures/verified/`) and writes it in a compact binary form
//! ([`VerifiedBots::to_bytes`]); the edge loads it ([`VerifiedBots::from_bytes`])
//! into sorted, merged interval tables, IPv4 and IPv6 apart, and looks an
//! address up by binary search: O(log n), no allocation.
//!
//! No I/O, no clock; builds for wasm32.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{MatcherError, Reader};

/// The first bytes of the binary form: magic and layout version 1.
pub const VERIFY_MAGIC: &[u8; 8] = b"BOTVER\x00\x01";

/// At most this many lists (a claim names its lists as a bit mask).
pub const MAX_LISTS: usize = 32;

/// One published list: closed intervals, sorted, merged, non-overlapping.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RangeList {
    /// The list's name (e.g. `googlebot`).
    pub name: String,
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

/// A network prefix: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// The address (host bits are ignored).
    pub addr: IpAddr,
    /// The prefix length: 0..=32 for IPv4, 0..=128 for IPv6.
    pub len: u8,
}

impl Prefix {
    /// Parses `a.b.c.d/n`, `x::y/n`, or a bare address (a /32 or /128).
    pub fn parse(text: &str) -> Option<Prefix> {
        let (addr, len) = match text.trim().split_once('/') {
            Some((a, l)) => (a.parse::<IpAddr>().ok()?, Some(l.parse::<u8>().ok()?)),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = len.unwrap_or(max);
        (len <= max).then_some(Prefix { addr, len })
    }
}

fn v4_interval(a: Ipv4Addr, len: u8) -> (u32, u32) {
    let start = u32::from(a);
    let host = if len == 0 {
        u32::MAX
    } else {
        (1u32 << (32 - u32::from(len))) - 1
    };
    (start & !host, (start & !host) | host)
}

fn v6_interval(a: Ipv6Addr, len: u8) -> (u128, u128) {
    let start = u128::from(a);
    let host = if len == 0 {
        u128::MAX
    } else {
        (1u128 << (128 - u32::from(len))) - 1
    };
    (start & !host, (start & !host) | host)
}

fn merge<T: Copy + Ord + num_step::Step>(mut v: Vec<(T, T)>) -> Vec<(T, T)> {
    v.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1.next_or_max() => {
                if e > last.1 {
                    last.1 = e;
                }
            }
            _ => out.push((s, e)),
        }
    }
    out
}

mod num_step {
    //! The successor of an interval end, for merging adjacent intervals.
    pub trait Step {
        fn next_or_max(self) -> Self;
    }
    impl Step for u32 {
        fn next_or_max(self) -> Self {
            self.saturating_add(1)
        }
    }
    impl Step for u128 {
        fn next_or_max(self) -> Self {
            self.saturating_add(1)
        }
    }
}

/// The aligned blocks that cover `[s, e]` exactly, in an address space of
/// `bits` bits: (start, prefix length), largest block first at each step.
fn cover(mut s: u128, e: u128, bits: u32) -> Vec<(u128, u8)> {
    let mask = |k: u32| {
        if k >= 128 {
            u128::MAX
        } else {
            (1u128 << k) - 1
        }
    };
    let mut out = Vec::new();
    loop {
        // The largest block aligned at `s` that ends at or before `e`.
        let mut k = if s == 0 {
            bits
        } else {
            s.trailing_zeros().min(bits)
        };
        while k > 0 && mask(k) > e - s {
            k -= 1;
        }
        out.push((s, (bits - k) as u8));
        let last = s + mask(k);
        if last >= e {
            return out;
        }
        s = last + 1;
    }
}

fn contains<T: Copy + Ord>(table: &[(T, T)], x: T) -> bool {
    // The last interval starting at or before x.
    let i = table.partition_point(|&(s, _)| s <= x);
    i > 0 && table[i - 1].1 >= x
}

impl RangeList {
    /// A list from prefixes (any order, overlaps allowed).
    pub fn new(name: &str, prefixes: &[Prefix]) -> RangeList {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for p in prefixes {
            match p.addr {
                IpAddr::V4(a) => v4.push(v4_interval(a, p.len)),
                IpAddr::V6(a) => v6.push(v6_interval(a, p.len)),
            }
        }
        RangeList {
            name: name.to_owned(),
            v4: merge(v4),
            v6: merge(v6),
        }
    }

    /// Whether `ip` lies in the list. An IPv4-mapped IPv6 address
    /// (`::ffff:a.b.c.d`) is looked up as the IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => contains(&self.v4, u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => contains(&self.v4, u32::from(v4)),
                None => contains(&self.v6, u128::from(a)),
            },
        }
    }

    /// Addresses covered, IPv4 (for diffs and summaries).
    pub fn v4_addresses(&self) -> u64 {
        self.v4.iter().map(|&(s, e)| u64::from(e - s) + 1).sum()
    }

    /// Intervals held: (IPv4, IPv6).
    pub fn intervals(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    /// The list as the fewest CIDR blocks that cover exactly its addresses:
    /// (IPv4, IPv6), in address order, host bits zero (`66.249.64.0/26`).
    /// The form AWS WAF IP sets take; reading them back with [`Prefix::parse`]
    /// and [`RangeList::new`] gives this list again.
    pub fn cidrs(&self) -> (Vec<String>, Vec<String>) {
        let v4 = self
            .v4
            .iter()
            .flat_map(|&(s, e)| cover(u128::from(s), u128::from(e), 32))
            .map(|(start, len)| format!("{}/{len}", Ipv4Addr::from(start as u32)))
            .collect();
        let v6 = self
            .v6
            .iter()
            .flat_map(|&(s, e)| cover(s, e, 128))
            .map(|(start, len)| format!("{}/{len}", Ipv6Addr::from(start)))
            .collect();
        (v4, v6)
    }

    /// The first address of the list (for tests and examples).
    pub fn first_address(&self) -> Option<IpAddr> {
        self.v4
            .first()
            .map(|&(s, _)| IpAddr::V4(Ipv4Addr::from(s)))
            .or_else(|| self.v6.first().map(|&(s, _)| IpAddr::V6(Ipv6Addr::from(s))))
    }
}

/// The lists, and for each `allow` signature that is verified by address,
/// the lists that may carry it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifiedBots {
    lists: Vec<RangeList>,
    /// (signature id, operator name, bit mask over `lists`), sorted by id,
    /// each id once: found by binary search (a handful of claims; no hash
    /// map to build on a cold start, nor its hasher's code to compile).
    claims: Vec<(String, String, u32)>,
}

/// What a claim came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimCheck<'v> {
    /// The signature is verified by address and the client is in one of its lists.
    Verified {
        /// The operator (e.g. `google`).
        operator: &'v str,
    },
    /// The signature is verified by address and the client is not in its lists.
    Spoofed {
        /// The operator the user-agent claims.
        operator: &'v str,
    },
    /// The catalog verifies this signature by no means: taken on its word.
    Unverifiable,
}

impl VerifiedBots {
    /// Builds the table. `claims` maps a signature id to its operator and the
    /// indices of its lists in `lists`.
    pub fn new(
        lists: Vec<RangeList>,
        claims: Vec<(String, String, Vec<usize>)>,
    ) -> Result<VerifiedBots, String> {
        if lists.len() > MAX_LISTS {
            return Err(format!("{} lists; at most {MAX_LISTS}", lists.len()));
        }
        let mut sorted = Vec::with_capacity(claims.len());
        for (id, operator, idx) in claims {
            let mut mask = 0u32;
            for i in idx {
                if i >= lists.len() {
                    return Err(format!("{id}: list #{i} does not exist"));
                }
                mask |= 1 << i;
            }
            if mask == 0 {
                return Err(format!("{id}: no list"));
            }
            sorted.push((id, operator, mask));
        }
        sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!("{}: claimed twice", w[0].0));
        }
        Ok(VerifiedBots {
            lists,
            claims: sorted,
        })
    }

    /// The operator and list mask of signature `id`'s claim.
    fn claim(&self, id: &str) -> Option<(&str, u32)> {
        let at = self
            .claims
            .binary_search_by(|(c, _, _)| c.as_str().cmp(id))
            .ok()?;
        let (_, operator, mask) = &self.claims[at];
        Some((operator, *mask))
    }

    /// The lists.
    pub fn lists(&self) -> &[RangeList] {
        &self.lists
    }

    /// How many signatures are verified by address.
    pub fn claims(&self) -> usize {
        self.claims.len()
    }

    /// The operator and lists of signature `id`, when it is verified by address.
    pub fn claim_lists(&self, id: &str) -> Option<(&str, Vec<&RangeList>)> {
        let (operator, mask) = self.claim(id)?;
        let lists = (0..self.lists.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| &self.lists[i])
            .collect();
        Some((operator, lists))
    }

    /// Checks the claim of signature `id` for a client at `ip` (`None`: the
    /// address did not parse, so no claim can be verified).
    pub fn check(&self, id: &str, ip: Option<IpAddr>) -> ClaimCheck<'_> {
        let Some((operator, mask)) = self.claim(id) else {
            return ClaimCheck::Unverifiable;
        };
        let inside = ip.is_some_and(|ip| {
            self.lists
                .iter()
                .enumerate()
                .any(|(i, l)| mask & (1 << i) != 0 && l.contains(ip))
        });
        if inside {
            ClaimCheck::Verified { operator }
        } else {
            ClaimCheck::Spoofed { operator }
        }
    }

    /// The binary form: [`VERIFY_MAGIC`]; the list count, then per list its
    /// name (u32 length + UTF-8), the IPv4 interval count and the intervals
    /// (u32 start, u32 end), the IPv6 interval count and the intervals (u128
    /// start, u128 end); the claim count, then per claim the signature id,
    /// the operator name and the list mask (u32). Integers little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        fn put_str(out: &mut Vec<u8>, s: &str) {
            out.extend((s.len() as u32).to_le_bytes());
            out.extend(s.as_bytes());
        }
        let mut out = Vec::new();
        out.extend(VERIFY_MAGIC);
        out.extend((self.lists.len() as u32).to_le_bytes());
        for l in &self.lists {
            put_str(&mut out, &l.name);
            out.extend((l.v4.len() as u32).to_le_bytes());
            for (s, e) in &l.v4 {
                out.extend(s.to_le_bytes());
                out.extend(e.to_le_bytes());
            }
            out.extend((l.v6.len() as u32).to_le_bytes());
            for (s, e) in &l.v6 {
                out.extend(s.to_le_bytes());
                out.extend(e.to_le_bytes());
            }
        }
        out.extend((self.claims.len() as u32).to_le_bytes());
        for (id, operator, mask) in &self.claims {
            put_str(&mut out, id);
            put_str(&mut out, operator);
            out.extend(mask.to_le_bytes());
        }
        out
    }

    /// Loads the binary form. Corrupt bytes are an error (the edge then fails
    /// closed), never a panic or a partial table; intervals must be sorted
    /// and disjoint, and claims sorted by id, each once, or lookups would be
    /// wrong. The intervals are read as blocks (plain loops over fixed-size
    /// records, as the matcher's loader: see `Reader::records`).
    pub fn from_bytes(bytes: &[u8]) -> Result<VerifiedBots, MatcherError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(8, "verified-bots magic")? != VERIFY_MAGIC {
            return Err(r.fail("not a verified-bots table (bad magic)"));
        }
        let n = r.count(12, "list count")?;
        if n > MAX_LISTS {
            return Err(r.fail("too many lists"));
        }
        let mut lists = Vec::with_capacity(n);
        for _ in 0..n {
            let name = r.string("list name")?;
            let n4 = r.count(8, "IPv4 interval count")?;
            let v4 = v4_block(r.take(n4 * 8, "IPv4 interval")?);
            let n6 = r.count(32, "IPv6 interval count")?;
            let v6 = v6_block(r.take(n6 * 32, "IPv6 interval")?);
            if !sorted_disjoint(&v4) || !sorted_disjoint(&v6) {
                return Err(r.fail("intervals not sorted and disjoint"));
            }
            lists.push(RangeList { name, v4, v6 });
        }
        let n = r.count(12, "claim count")?;
        let mut claims: Vec<(String, String, u32)> = Vec::with_capacity(n);
        for _ in 0..n {
            let id = r.string("claim id")?;
            let operator = r.string("claim operator")?;
            let mask = r.u32("claim mask")?;
            if mask == 0 || (lists.len() < 32 && mask >> lists.len() != 0) {
                return Err(r.fail("claim names a list that does not exist"));
            }
            if claims.last().is_some_and(|(last, _, _)| *last >= id) {
                return Err(r.fail("claims not sorted by id, each once"));
            }
            claims.push((id, operator, mask));
        }
        if r.at != bytes.len() {
            return Err(r.fail("trailing bytes"));
        }
        Ok(VerifiedBots { lists, claims })
    }
}

/// IPv4 intervals, eight bytes each (start, end).
#[inline(never)]
fn v4_block(block: &[u8]) -> Vec<(u32, u32)> {
    block
        .chunks_exact(8)
        .map(|c| (crate::le32(c, 0), crate::le32(c, 4)))
        .collect()
}

/// IPv6 intervals, 32 bytes each (start, end).
#[inline(never)]
fn v6_block(block: &[u8]) -> Vec<(u128, u128)> {
    let word = |c: &[u8]| {
        let mut a = [0u8; 16];
        a.copy_from_slice(c);
        u128::from_le_bytes(a)
    };
    block
        .chunks_exact(32)
        .map(|c| (word(&c[..16]), word(&c[16..])))
        .collect()
}

fn sorted_disjoint<T: Copy + Ord>(v: &[(T, T)]) -> bool {
    v.iter().all(|(s, e)| s <= e) && v.windows(2).all(|w| w[0].1 < w[1].0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        Prefix::parse(s).unwrap()
    }

    fn table() -> VerifiedBots {
        let google = RangeList::new(
            "googlebot",
            &[
                p("66.249.64.0/27"),
                p("66.249.64.32/27"),
                p("2001:4860:4801:10::/64"),
            ],
        );
        let ddg = RangeList::new("duckduckbot", &[p("20.191.45.212"), p("40.88.21.235/32")]);
        VerifiedBots::new(
            vec![google, ddg],
            vec![
                ("cua-googlebot".into(), "google".into(), vec![0]),
                ("cua-duckduckbot".into(), "duckduckgo".into(), vec![1]),
            ],
        )
        .unwrap()
    }

    #[test]
    fn prefixes_parse_and_merge() {
        assert_eq!(p("10.0.0.1").len, 32);
        assert_eq!(p("::1").len, 128);
        assert!(Prefix::parse("10.0.0.0/33").is_none());
        assert!(Prefix::parse("nonsense").is_none());
        let t = table();
        assert_eq!(t.lists()[0].intervals(), (1, 1), "adjacent /27s merge");
        assert_eq!(t.lists()[0].v4_addresses(), 64);
    }

    #[test]
    fn cidrs_cover_exactly_and_read_back() {
        let l = RangeList::new(
            "x",
            &[
                p("66.249.64.0/27"),
                p("66.249.64.32/27"),
                p("66.249.64.64/32"),
                p("10.0.0.5/24"),
                p("2001:4860:4801:10::/64"),
                p("2001:4860:4801:11::/64"),
                p("2001:db8::7"),
            ],
        );
        let (v4, v6) = l.cidrs();
        assert_eq!(v4, ["10.0.0.0/24", "66.249.64.0/26", "66.249.64.64/32"]);
        assert_eq!(v6, ["2001:db8::7/128", "2001:4860:4801:10::/63"]);
        let back: Vec<Prefix> = v4.iter().chain(&v6).map(|c| p(c)).collect();
        assert_eq!(RangeList::new("x", &back), l);
        // An unaligned interval needs several blocks: 10.0.0.1-10.0.0.6.
        assert_eq!(
            cover(0x0A00_0001, 0x0A00_0006, 32),
            [
                (0x0A00_0001, 32),
                (0x0A00_0002, 31),
                (0x0A00_0004, 31),
                (0x0A00_0006, 32)
            ]
        );
        assert_eq!(cover(0, u128::from(u32::MAX), 32), [(0, 0)]);
        assert_eq!(cover(0, u128::MAX, 128), [(0, 0)]);
    }

    proptest::proptest! {
        #[test]
        fn cidrs_read_back_to_the_same_list(
            v4 in proptest::collection::vec((proptest::prelude::any::<u32>(), 8u8..=32), 0..20),
            v6 in proptest::collection::vec((proptest::prelude::any::<u128>(), 16u8..=128), 0..20),
        ) {
            let mut prefixes: Vec<Prefix> = v4
                .iter()
                .map(|&(a, len)| Prefix { addr: IpAddr::V4(Ipv4Addr::from(a)), len })
                .collect();
            prefixes.extend(v6.iter().map(|&(a, len)| Prefix { addr: IpAddr::V6(Ipv6Addr::from(a)), len }));
            let l = RangeList::new("p", &prefixes);
            let (c4, c6) = l.cidrs();
            let back: Vec<Prefix> = c4.iter().chain(&c6).map(|c| p(c)).collect();
            proptest::prop_assert_eq!(RangeList::new("p", &back), l);
            // Blocks never overlap and are in address order.
            let again = RangeList::new("p", &back);
            proptest::prop_assert!(c4.len() >= again.intervals().0 && c6.len() >= again.intervals().1);
        }
    }

    #[test]
    fn claims_are_checked_by_address() {
        let t = table();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        for inside in [
            "66.249.64.0",
            "66.249.64.63",
            "::ffff:66.249.64.7",
            "2001:4860:4801:10::1",
        ] {
            assert!(
                matches!(
                    t.check("cua-googlebot", ip(inside)),
                    ClaimCheck::Verified { operator: "google" }
                ),
                "{inside}"
            );
        }
        for outside in [
            "66.249.64.64",
            "66.249.63.255",
            "203.0.113.10",
            "2001:4860:4801:11::1",
        ] {
            assert!(
                matches!(
                    t.check("cua-googlebot", ip(outside)),
                    ClaimCheck::Spoofed { .. }
                ),
                "{outside}"
            );
        }
        assert!(matches!(
            t.check("cua-googlebot", None),
            ClaimCheck::Spoofed { .. }
        ));
        assert_eq!(
            t.check("cua-twitterbot", ip("66.249.64.1")),
            ClaimCheck::Unverifiable
        );
        // A list is not another operator's: DuckDuckBot's address proves no Googlebot.
        assert!(matches!(
            t.check("cua-googlebot", ip("20.191.45.212")),
            ClaimCheck::Spoofed { .. }
        ));
        assert!(matches!(
            t.check("cua-duckduckbot", ip("20.191.45.212")),
            ClaimCheck::Verified { .. }
        ));
    }

    #[test]
    fn cidrs_are_the_fewest_blocks() {
        let list = |cidrs: &[&str]| {
            RangeList::new(
                "t",
                &cidrs
                    .iter()
                    .map(|c| Prefix::parse(c).unwrap())
                    .collect::<Vec<_>>(),
            )
        };
        let v4 = |cidrs: &[&str]| list(cidrs).cidrs().0;
        assert_eq!(
            v4(&["10.0.0.0/24"]),
            ["10.0.0.0/24"],
            "an exact block stays one"
        );
        assert_eq!(v4(&["10.0.0.0/24", "10.0.1.0/24"]), ["10.0.0.0/23"]);
        assert_eq!(v4(&["0.0.0.0/0"]), ["0.0.0.0/0"]);
        assert_eq!(
            v4(&["10.0.1.0/24", "10.0.2.0/24"]),
            ["10.0.1.0/24", "10.0.2.0/24"]
        );
        assert_eq!(v4(&["10.0.0.7/32"]), ["10.0.0.7/32"]);
        assert_eq!(list(&["2001:db8::/32"]).cidrs().1, ["2001:db8::/32"]);
    }

    #[test]
    fn the_first_address_is_the_lowest_v4_else_v6() {
        let list = |cidrs: &[&str]| {
            let ps: Vec<Prefix> = cidrs.iter().map(|c| Prefix::parse(c).unwrap()).collect();
            RangeList::new("t", &ps)
        };
        assert_eq!(
            list(&["2001:db8::/32", "10.9.0.0/16", "10.1.0.0/16"]).first_address(),
            Some("10.1.0.0".parse().unwrap())
        );
        assert_eq!(
            list(&["2001:db8::/32"]).first_address(),
            Some("2001:db8::".parse().unwrap())
        );
        assert_eq!(list(&[]).first_address(), None);
    }

    #[test]
    fn claims_name_their_operator_and_lists() {
        let t = table();
        assert_eq!(t.claims(), 2);
        let (operator, lists) = t.claim_lists("cua-duckduckbot").unwrap();
        assert_eq!(operator, "duckduckgo");
        let names: Vec<&str> = lists.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["duckduckbot"]);
        let (_, lists) = t.claim_lists("cua-googlebot").unwrap();
        assert_eq!(lists.len(), 1);
        assert_eq!(lists[0].name, "googlebot");
        assert!(t.claim_lists("cua-nobody").is_none());
    }

    /// Claims given in any order are found by id, each with its own
    /// operator and lists, through the binary form too; an id between two
    /// claimed ones, before the first or after the last is not a claim.
    /// An id claimed twice is refused when built, claims out of order when
    /// loaded.
    #[test]
    fn claims_are_found_by_id_in_any_order() {
        let lists: Vec<RangeList> = (0..3)
            .map(|i| RangeList::new(&format!("l{i}"), &[p(&format!("10.{i}.0.0/16"))]))
            .collect();
        let ids = ["m", "c", "x", "a", "k", "q", "e"];
        let claims = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.to_string(), format!("op-{id}"), vec![i % 3]))
            .collect();
        let built = VerifiedBots::new(lists.clone(), claims).unwrap();
        let loaded = VerifiedBots::from_bytes(&built.to_bytes()).unwrap();
        for t in [&built, &loaded] {
            assert_eq!(t.claims(), ids.len());
            for (i, id) in ids.iter().enumerate() {
                let inside: IpAddr = format!("10.{}.1.1", i % 3).parse().unwrap();
                let outside: IpAddr = format!("10.{}.1.1", (i + 1) % 3).parse().unwrap();
                let want = format!("op-{id}");
                assert_eq!(
                    t.check(id, Some(inside)),
                    ClaimCheck::Verified { operator: &want }
                );
                assert_eq!(
                    t.check(id, Some(outside)),
                    ClaimCheck::Spoofed { operator: &want }
                );
            }
            for other in ["", "0", "b", "d", "l", "n", "z", "mm"] {
                assert_eq!(t.check(other, None), ClaimCheck::Unverifiable, "{other}");
            }
        }
        let twice = vec![
            ("a".to_owned(), "x".to_owned(), vec![0]),
            ("a".to_owned(), "y".to_owned(), vec![1]),
        ];
        assert!(VerifiedBots::new(lists.clone(), twice).is_err());
        for claims in [vec![("b", 1), ("a", 1)], vec![("a", 1), ("a", 2)]] {
            let t = VerifiedBots {
                lists: lists.clone(),
                claims: claims
                    .into_iter()
                    .map(|(id, mask)| (id.to_owned(), "op".to_owned(), mask))
                    .collect(),
            };
            assert!(
                matches!(
                    VerifiedBots::from_bytes(&t.to_bytes()),
                    Err(MatcherError::Binary {
                        what: "claims not sorted by id, each once",
                        ..
                    })
                ),
                "{:?}",
                t.claims
            );
        }
    }

    /// Tables no builder makes, written and read back: each is refused.
    #[test]
    fn tables_that_would_answer_wrongly_are_refused_when_loaded() {
        let list = |v4: Vec<(u32, u32)>| RangeList {
            name: "l".into(),
            v4,
            v6: vec![(1, 2), (4, 5)],
        };
        let with = |lists: Vec<RangeList>, mask: u32| VerifiedBots {
            lists,
            claims: vec![("c".to_owned(), "op".to_owned(), mask)],
        };
        let loads = |t: &VerifiedBots| VerifiedBots::from_bytes(&t.to_bytes()).is_ok();
        assert!(loads(&with(vec![list(vec![(1, 2), (4, 5)])], 1)));
        assert!(loads(&with(vec![list(vec![(3, 3)])], 1)), "one address");
        for bad in [vec![(5, 3)], vec![(1, 4), (4, 6)], vec![(4, 6), (1, 2)]] {
            assert!(!loads(&with(vec![list(bad.clone())], 1)), "{bad:?}");
        }
        let mut v6_overlap = list(vec![]);
        v6_overlap.v6 = vec![(1, 4), (4, 5)];
        assert!(!loads(&with(vec![v6_overlap], 1)));
        // A claim must name at least one list, and only lists that exist.
        assert!(!loads(&with(vec![list(vec![])], 0)));
        assert!(!loads(&with(vec![list(vec![])], 0b10)));
        assert!(loads(&with(vec![list(vec![]), list(vec![])], 0b11)));
        // At most MAX_LISTS lists.
        let many = |n: usize| with((0..n).map(|_| list(vec![])).collect(), 1);
        assert!(loads(&many(MAX_LISTS)));
        assert!(!loads(&many(MAX_LISTS + 1)));
    }

    #[test]
    fn binary_round_trip_and_corruption() {
        let t = table();
        let bytes = t.to_bytes();
        assert_eq!(VerifiedBots::from_bytes(&bytes).unwrap(), t);
        for cut in 0..bytes.len() {
            assert!(
                VerifiedBots::from_bytes(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(VerifiedBots::from_bytes(&extra).is_err());
    }

    /// The binary search agrees with a linear scan of the prefixes.
    #[test]
    fn lookup_agrees_with_a_linear_scan() {
        use proptest::prelude::*;
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(
                &(
                    proptest::collection::vec((any::<u32>(), 8u8..=32), 1..40),
                    proptest::collection::vec(any::<u32>(), 50),
                ),
                |(prefixes, probes)| {
                    let ps: Vec<Prefix> = prefixes
                        .iter()
                        .map(|&(a, len)| Prefix {
                            addr: IpAddr::V4(Ipv4Addr::from(a)),
                            len,
                        })
                        .collect();
                    let list = RangeList::new("x", &ps);
                    // Probe around every prefix's edges too, not only at random.
                    let mut all = probes.clone();
                    for &(a, len) in &prefixes {
                        let (s, e) = v4_interval(Ipv4Addr::from(a), len);
                        all.extend([s, e, s.wrapping_sub(1), e.wrapping_add(1)]);
                    }
                    for x in all {
                        let naive = ps.iter().any(|p| {
                            let IpAddr::V4(a) = p.addr else { return false };
                            let (s, e) = v4_interval(a, p.len);
                            (s..=e).contains(&x)
                        });
                        prop_assert_eq!(
                            list.contains(IpAddr::V4(Ipv4Addr::from(x))),
                            naive,
                            "{}",
                            x
                        );
                    }
                    Ok(())
                },
            )
            .unwrap();
    }
}
