//! One signature pattern on its own: the WAF-compatible dialect check and the
//! extraction of the literals that any match must contain (the matcher's index).
//!
//! Patterns are ASCII regexes in the subset both the edge (regex-lite) and AWS
//! WAF (a PCRE subset) run the same way: no back-references, look-around,
//! atomic groups, possessive quantifiers, recursion, conditionals, Unicode
//! classes, huge repeats, or more than [`MAX_PATTERN_CHARS`] characters.

use bot_signatures_matcher::shape;
use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// The WAF quota on one regex (the API accepts 512, the quota is 200).
pub const MAX_PATTERN_CHARS: usize = 200;
/// The largest counted repeat accepted (`{n,m}` with m above this is refused).
pub const MAX_REPEAT: u32 = 100;
/// Shortest literal worth indexing; patterns without one are "unindexed".
pub const MIN_LITERAL_LEN: usize = 2;
/// Largest set of literals one concatenation may expand to.
const MAX_LITERAL_SET: usize = 64;

/// Why a pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternProblem {
    /// True when the pattern is valid regex but outside what WAF and the edge run.
    pub waf_only: bool,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: String,
}

fn waf(message: impl Into<String>, hint: impl Into<String>) -> PatternProblem {
    PatternProblem {
        waf_only: true,
        message: message.into(),
        hint: hint.into(),
    }
}

/// The most characters of a generic rule's `unless`: it stays at the edge
/// (generic rules are never sent to WAF), so the WAF quota does not apply, but
/// the dialect does.
pub const MAX_UNLESS_CHARS: usize = 1000;

/// Checks that `pattern` compiles and stays in the WAF-compatible dialect.
/// Returns the parsed HIR (case-sensitive; matching is case-insensitive).
pub fn check(pattern: &str) -> Result<Hir, PatternProblem> {
    check_within(pattern, MAX_PATTERN_CHARS)
}

/// [`check`] for a generic rule's `unless`: the same dialect, up to
/// [`MAX_UNLESS_CHARS`] characters.
pub fn check_unless(pattern: &str) -> Result<Hir, PatternProblem> {
    check_within(pattern, MAX_UNLESS_CHARS)
}

fn check_within(pattern: &str, max: usize) -> Result<Hir, PatternProblem> {
    if pattern.is_empty() {
        return Err(PatternProblem {
            waf_only: false,
            message: "empty pattern".into(),
            hint: "write the product token the crawler sends, e.g. 'FooBot/'".into(),
        });
    }
    if let Some(c) = pattern
        .chars()
        .find(|c| !c.is_ascii() || c.is_ascii_control())
    {
        return Err(waf(
            format!("pattern contains {c:?}: patterns are printable ASCII"),
            "user-agents are ASCII; spell the character with an ASCII escape or drop it",
        ));
    }
    if pattern.len() > max {
        return Err(waf(
            format!(
                "pattern is {} characters; {} allows {max} per regex",
                pattern.len(),
                if max == MAX_PATTERN_CHARS {
                    "WAF"
                } else {
                    "an `unless`"
                }
            ),
            "shorten it to the distinctive product token, or split it into two signatures",
        ));
    }
    scan_unsupported(pattern)?;
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map_err(|e| PatternProblem {
            waf_only: false,
            message: format!("pattern does not compile: {}", one_line(&e.to_string())),
            hint: "escape regex metacharacters such as . ( ) + ? [ with a backslash".into(),
        })?;
    if let Err(e) = regex_lite::Regex::new(pattern) {
        return Err(waf(
            format!(
                "the edge regex engine refuses the pattern: {}",
                one_line(&e.to_string())
            ),
            "use only ASCII classes and plain syntax",
        ));
    }
    check_repeats(&hir)?;
    Ok(hir)
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Finds constructs that WAF's regex dialect does not support, escape-aware.
fn scan_unsupported(pattern: &str) -> Result<(), PatternProblem> {
    let b = pattern.as_bytes();
    let mut i = 0;
    let mut in_class = false;
    let mut after_quantifier = false;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            let next = b.get(i + 1).copied().unwrap_or(0);
            match next {
                b'1'..=b'9' | b'k' | b'g' => {
                    return Err(waf(
                        "back-references are not supported by WAF",
                        "match the repeated text literally instead",
                    ));
                }
                b'p' | b'P' => {
                    return Err(waf(
                        "Unicode classes (\\p, \\P) are not supported by WAF",
                        "use an ASCII class such as [a-z]",
                    ));
                }
                b'x' | b'u' | b'U' => {
                    return Err(waf(
                        "hex and Unicode escapes (\\x, \\u) are not supported: WAF lowercases the user-agent, and an escaped letter would not be",
                        "write the character itself (escape it with a backslash if it is a metacharacter)",
                    ));
                }
                _ => {}
            }
            i += 2;
            after_quantifier = false;
            continue;
        }
        if in_class {
            if c == b']' {
                in_class = false;
            } else if c == b'-'
                && i > 0
                && b[i - 1] != b'['
                && b.get(i + 1).is_some_and(|&n| n != b']' && n != b'\\')
            {
                // A range: both ends letters of one case, or neither a letter, so
                // lowercasing it for WAF keeps its meaning ([A-Z] -> [a-z]).
                let (lo, hi) = (b[i - 1], b[i + 1]);
                let same_case = (lo.is_ascii_lowercase() && hi.is_ascii_lowercase())
                    || (lo.is_ascii_uppercase() && hi.is_ascii_uppercase());
                if (lo.is_ascii_alphabetic() || hi.is_ascii_alphabetic()) && !same_case {
                    return Err(waf(
                        format!(
                            "class range {}-{} mixes letter cases or letters with other characters, which lowercasing for WAF would change",
                            lo as char, hi as char
                        ),
                        "split it, e.g. [A-Za-z0-9]",
                    ));
                }
            }
            i += 1;
            continue;
        }
        match c {
            b'[' => {
                in_class = true;
                // A `]` right after `[` or `[^` is a literal member.
                if b.get(i + 1) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i + 1) == Some(&b']') {
                    i += 1;
                }
                after_quantifier = false;
            }
            b'(' if b.get(i + 1) == Some(&b'?') => {
                let rest = &pattern[i + 2..];
                if rest.starts_with('=')
                    || rest.starts_with('!')
                    || rest.starts_with("<=")
                    || rest.starts_with("<!")
                {
                    return Err(waf(
                        "look-around is not supported by WAF",
                        "match the surrounding text directly, or use \\b for a word boundary",
                    ));
                }
                if rest.starts_with('>') {
                    return Err(waf(
                        "atomic groups (?>...) are not supported by WAF",
                        "use a plain group (?:...)",
                    ));
                }
                if rest.starts_with('(') {
                    return Err(waf(
                        "conditionals (?(...)...) are not supported by WAF",
                        "write two signatures instead",
                    ));
                }
                if rest.starts_with('R')
                    || rest.starts_with(|ch: char| ch.is_ascii_digit())
                    || rest.starts_with('&')
                    || rest.starts_with("P>")
                {
                    return Err(waf(
                        "recursion is not supported by WAF",
                        "spell the pattern out",
                    ));
                }
                i += 2;
                after_quantifier = false;
                continue;
            }
            b'+' if after_quantifier => {
                return Err(waf(
                    "possessive quantifiers (*+, ++, ?+, {n}+) are not supported by WAF",
                    "drop the trailing +",
                ));
            }
            b'*' | b'+' | b'}' => after_quantifier = true,
            b'?' => after_quantifier = !after_quantifier,
            _ => after_quantifier = false,
        }
        i += 1;
    }
    Ok(())
}

fn check_repeats(hir: &Hir) -> Result<(), PatternProblem> {
    match hir.kind() {
        HirKind::Repetition(rep) => {
            let bound = rep.max.unwrap_or(rep.min);
            if bound > MAX_REPEAT {
                return Err(waf(
                    format!("repeat bound {bound} is too large for WAF (at most {MAX_REPEAT})"),
                    "use + or * instead of a large counted repeat",
                ));
            }
            check_repeats(&rep.sub)
        }
        HirKind::Capture(cap) => check_repeats(&cap.sub),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => {
            subs.iter().try_for_each(check_repeats)
        }
        _ => Ok(()),
    }
}

/// The literals any match must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literals {
    /// Lowercase, deduplicated, sorted.
    pub set: Vec<String>,
    /// True when the pattern matches exactly when the text contains one of
    /// `set` (ASCII case-insensitively): no regex needs to run.
    pub exact: bool,
    /// The *lead*: at most how many bytes before an occurrence of one of `set`
    /// a match can start, for the occurrence every match contains; `None`
    /// when unbounded (`.*foo`). The edge starts the confirming regex that
    /// many bytes before the first hit instead of at the start of the text.
    pub lead: Option<u32>,
    /// Every byte that can lie between the start of a match and that
    /// occurrence (a 256-bit set, ASCII letters in both cases): a match
    /// starts no earlier than the run of these bytes that ends where the
    /// first hit starts ([`bot_signatures_matcher::walk_back`]), which bounds
    /// the search when `lead` does not (`[a-z0-9.]+@` starts inside the run
    /// of letters, digits and dots before the `@`).
    pub before: [u64; 4],
}

impl Literals {
    fn shortest(&self) -> usize {
        self.set.iter().map(String::len).min().unwrap_or(0)
    }
}

/// The union of two byte sets.
fn union(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
    [a[0] | b[0], a[1] | b[1], a[2] | b[2], a[3] | b[3]]
}

/// The bytes of `strings` as [`collect_bytes`] counts a literal's: ASCII
/// letters in both cases.
fn bytes_of<'a>(strings: impl IntoIterator<Item = &'a String>) -> [u64; 4] {
    let mut set = [0u64; 4];
    for s in strings {
        collect_bytes(&Hir::literal(s.as_bytes()), &mut set);
    }
    set
}

/// Extracts the required literals of a checked pattern, or `None` when no
/// literal of at least [`MIN_LITERAL_LEN`] characters is required.
pub fn literals(hir: &Hir) -> Option<Literals> {
    let mut lits = required(hir)?;
    lits.set.sort();
    lits.set.dedup();
    // A literal that contains another of the set adds nothing: any text with
    // it also has the shorter one.
    let all = lits.set.clone();
    lits.set.retain(|l| {
        !all.iter()
            .any(|o| o.len() < l.len() && l.contains(o.as_str()))
    });
    // A pruned literal's occurrence holds a kept one, at most their
    // difference in length further on: the lead grows by that much.
    if lits.set.len() < all.len() {
        let longest = all.iter().map(String::len).max().unwrap_or(0);
        let grow = u32::try_from(longest - lits.shortest()).ok();
        lits.lead = lits
            .lead
            .zip(grow)
            .and_then(|(lead, g)| lead.checked_add(g));
        // And the bytes before the kept literal may be the pruned one's.
        lits.before = union(lits.before, bytes_of(&all));
    }
    (lits.shortest() >= MIN_LITERAL_LEN).then_some(lits)
}

/// The literals the edge files a pattern under, and their [`shape`]: for
/// `^LIT`, `\bLIT`, `LIT\b`, `\bLIT\b` and `\bLIT/v?\d` (LIT an exact
/// literal set, its ends word characters where a boundary asks for one) the
/// literal with the anchor, boundaries and version the edge checks around
/// each hit, exact, so no regex runs; for any other pattern its
/// [`literals`], shape 0, or failing those a set with one-byte literals
/// of rare bytes (`@`, not a letter, digit, space or `./;:()_,+-`): the edge
/// looks for a rare byte rather than run a regex on every user-agent.
pub fn edge_literals(hir: &Hir) -> Option<(Literals, u8)> {
    shaped(hir)
        .or_else(|| literals(hir).map(|l| (l, 0)))
        .or_else(|| {
            let mut l = required(hir)?;
            l.set.sort();
            l.set.dedup();
            let rare = |s: &String| {
                s.len() > 1
                    || s.bytes()
                        .all(|b| !(b.is_ascii_alphanumeric() || b" ./;:()_,+-".contains(&b)))
            };
            (l.shortest() >= 1 && l.set.iter().all(rare)).then_some((l, 0))
        })
}

/// The opening every browser's user-agent has: a literal inside it hits on
/// every request, so the edge is better off without it (see
/// [`crate::compile::compile`]).
pub const EVERY_BROWSER: &str = "mozilla/5.0 (";

/// For a pattern anchored at both ends (`^...$`, every match the whole
/// user-agent), the bytes a match can contain: a 256-bit set, ASCII letters in
/// both cases, every non-ASCII byte when the pattern allows a non-ASCII
/// character. `None` for other patterns.
pub fn alphabet(hir: &Hir) -> Option<[u64; 4]> {
    let p = hir.properties();
    if !(p.look_set_prefix().contains(Look::Start) && p.look_set_suffix().contains(Look::End)) {
        return None;
    }
    let mut set = [0u64; 4];
    collect_bytes(hir, &mut set);
    Some(set)
}

/// What every match of a pattern anchored at both ends is made of (a match
/// is the whole user-agent, so a user-agent that breaks one of these is
/// refused before the regex runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchored {
    /// The bytes a match can contain ([`alphabet`]).
    pub alphabet: [u64; 4],
    /// The bytes a match holds at most a few of (`/` at most once in
    /// `^name(?:/version)?$`), ASCII letters folded: `(byte, most)`, at most
    /// four, the bytes user-agents have most of first.
    pub limits: Vec<(u8, u8)>,
    /// The bytes every match contains (ASCII letters lowercase, standing for
    /// either case), a 256-bit set.
    pub needs: [u64; 4],
}

/// [`Anchored`] for a pattern anchored at both ends; `None` for other patterns.
pub fn anchored(hir: &Hir) -> Option<Anchored> {
    let alphabet = alphabet(hir)?;
    let has = |b: u8| alphabet[usize::from(b >> 6)] & (1 << (b & 63)) != 0;
    let counts = byte_counts(hir);
    // Only bytes the pattern uses: a byte outside the alphabet is refused by
    // the alphabet already.
    let mut limits: Vec<(u8, u8)> = (0..=255u8)
        .filter(|b| !b.is_ascii_uppercase() && has(*b))
        .filter_map(|b| {
            let most = counts[usize::from(b)].1;
            (most < 4).then_some((b, most as u8))
        })
        .collect();
    // The bytes user-agents have many of first: a limit on one of them turns
    // the most away.
    const COMMON: &[u8] = b"/ ;().,-_:=+";
    limits.sort_by_key(|&(b, n)| {
        (
            COMMON.iter().position(|&c| c == b).unwrap_or(COMMON.len()),
            n,
            b,
        )
    });
    limits.truncate(4);
    let mut needs = [0u64; 4];
    for (b, (fewest, _)) in counts.into_iter().enumerate() {
        if fewest > 0 {
            needs[b >> 6] |= 1 << (b & 63);
        }
    }
    Some(Anchored {
        alphabet,
        limits,
        needs,
    })
}

/// The fewest and the most times each byte (ASCII letters folded to
/// lowercase) occurs in a match; the most is `u32::MAX` when unbounded.
fn byte_counts(hir: &Hir) -> Vec<(u32, u32)> {
    let mut out = vec![(0u32, 0u32); 256];
    match hir.kind() {
        HirKind::Literal(lit) => {
            for &b in lit.0.iter() {
                let (fewest, most) = &mut out[usize::from(b.to_ascii_lowercase())];
                *fewest = fewest.saturating_add(1);
                *most = most.saturating_add(1);
            }
        }
        HirKind::Class(class) => {
            // Any byte of the class once at most; a class of one character
            // (in either case) is that character, once at least.
            let mut set = [0u64; 4];
            collect_bytes(hir, &mut set);
            for b in 0..256usize {
                if set[b >> 6] & (1 << (b & 63)) != 0 {
                    out[usize::from((b as u8).to_ascii_lowercase())].1 = 1;
                }
            }
            if let Some(set) = small_class(class)
                && let [one] = set.as_slice()
                && let [b] = one.as_bytes()
            {
                out[usize::from(*b)].0 = 1;
            }
        }
        HirKind::Repetition(rep) => {
            for (o, (fewest, most)) in out.iter_mut().zip(byte_counts(&rep.sub)) {
                *o = (
                    fewest.saturating_mul(rep.min),
                    match (most, rep.max) {
                        (0, _) => 0,
                        (m, Some(times)) => m.saturating_mul(times),
                        (_, None) => u32::MAX,
                    },
                );
            }
        }
        HirKind::Capture(cap) => out = byte_counts(&cap.sub),
        HirKind::Concat(subs) => {
            for sub in subs {
                for (o, s) in out.iter_mut().zip(byte_counts(sub)) {
                    *o = (o.0.saturating_add(s.0), o.1.saturating_add(s.1));
                }
            }
        }
        HirKind::Alternation(subs) => {
            for (k, sub) in subs.iter().enumerate() {
                for (o, s) in out.iter_mut().zip(byte_counts(sub)) {
                    *o = if k == 0 {
                        s
                    } else {
                        (o.0.min(s.0), o.1.max(s.1))
                    };
                }
            }
        }
        HirKind::Empty | HirKind::Look(_) => {}
    }
    out
}

fn collect_bytes(hir: &Hir, set: &mut [u64; 4]) {
    let mut add = |b: u32| {
        if b < 256 {
            set[(b >> 6) as usize] |= 1 << (b & 63);
        }
    };
    let add_range = |lo: u32, hi: u32, add: &mut dyn FnMut(u32)| {
        for c in lo..=hi.min(127) {
            add(c);
            if let Some(ch) = char::from_u32(c) {
                add(u32::from(ch.to_ascii_lowercase()));
                add(u32::from(ch.to_ascii_uppercase()));
            }
        }
        if hi >= 128 {
            for b in 128..256 {
                add(b);
            }
        }
    };
    match hir.kind() {
        HirKind::Literal(lit) => {
            for &b in lit.0.iter() {
                add_range(u32::from(b), u32::from(b), &mut add);
            }
        }
        HirKind::Class(Class::Unicode(u)) => {
            for r in u.ranges() {
                add_range(r.start() as u32, r.end() as u32, &mut add);
            }
        }
        HirKind::Class(Class::Bytes(b)) => {
            for r in b.ranges() {
                add_range(u32::from(r.start()), u32::from(r.end()), &mut add);
            }
        }
        HirKind::Repetition(rep) => collect_bytes(&rep.sub, set),
        HirKind::Capture(cap) => collect_bytes(&cap.sub, set),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => {
            for sub in subs {
                collect_bytes(sub, set);
            }
        }
        HirKind::Empty | HirKind::Look(_) => {}
    }
}

fn shaped(hir: &Hir) -> Option<(Literals, u8)> {
    let HirKind::Concat(subs) = hir.kind() else {
        return None;
    };
    let boundary = |h: &Hir| matches!(h.kind(), HirKind::Look(Look::WordAscii | Look::WordUnicode));
    let mut parts: &[Hir] = subs;
    let mut flags = 0;
    if parts
        .first()
        .is_some_and(|h| matches!(h.kind(), HirKind::Look(Look::Start)))
    {
        flags |= shape::AT_START;
        parts = &parts[1..];
    }
    if parts.first().is_some_and(boundary) {
        flags |= shape::WORD_START;
        parts = &parts[1..];
    }
    if parts.last().is_some_and(boundary) {
        flags |= shape::WORD_END;
        parts = &parts[..parts.len() - 1];
    } else if let [rest @ .., v, d] = parts
        && is_optional_v(v)
        && is_ascii_digit_class(d)
    {
        flags |= shape::VERSION_AFTER;
        parts = rest;
    }
    if flags == 0 || parts.is_empty() {
        return None;
    }
    // Not `literals`: its pruning (a literal containing another adds
    // nothing) is wrong once the surroundings count, `\b(?:bot|googlebot)`.
    let mut core = required(&Hir::concat(parts.to_vec())).filter(|l| l.exact)?;
    core.set.sort();
    core.set.dedup();
    if core.shortest() < MIN_LITERAL_LEN {
        return None;
    }
    let word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    let ends_fit = core.set.iter().all(|l| {
        (flags & shape::WORD_START == 0 || word(l.as_bytes().first()))
            && (flags & shape::WORD_END == 0 || word(l.as_bytes().last()))
    });
    ends_fit.then_some((core, flags))
}

/// `v?` (the letter, either case).
fn is_optional_v(h: &Hir) -> bool {
    let HirKind::Repetition(rep) = h.kind() else {
        return false;
    };
    if rep.min != 0 || rep.max != Some(1) {
        return false;
    }
    match rep.sub.kind() {
        HirKind::Literal(l) => l.0.eq_ignore_ascii_case(b"v"),
        HirKind::Class(c) => small_class(c).is_some_and(|set| set == ["v"]),
        _ => false,
    }
}

/// `\d` or `[0-9]`: a class whose ASCII part is exactly the ten digits (the
/// edge reads user-agents as ASCII).
fn is_ascii_digit_class(h: &Hir) -> bool {
    let HirKind::Class(class) = h.kind() else {
        return false;
    };
    let ascii: Vec<(u32, u32)> = match class {
        Class::Unicode(u) => u
            .ranges()
            .iter()
            .filter(|r| (r.start() as u32) < 128)
            .map(|r| (r.start() as u32, (r.end() as u32).min(127)))
            .collect(),
        Class::Bytes(b) => b
            .ranges()
            .iter()
            .filter(|r| r.start() < 128)
            .map(|r| (u32::from(r.start()), u32::from(r.end()).min(127)))
            .collect(),
    };
    ascii == [(u32::from(b'0'), u32::from(b'9'))]
}

fn required(hir: &Hir) -> Option<Literals> {
    match hir.kind() {
        HirKind::Literal(lit) => {
            let s = std::str::from_utf8(&lit.0).ok()?.to_ascii_lowercase();
            Some(Literals {
                set: vec![s],
                exact: true,
                lead: Some(0),
                before: [0; 4],
            })
        }
        HirKind::Class(class) => small_class(class).map(|set| Literals {
            set,
            exact: true,
            lead: Some(0),
            before: [0; 4],
        }),
        HirKind::Capture(cap) => required(&cap.sub),
        HirKind::Repetition(rep) if rep.min >= 1 => {
            let sub = required(&rep.sub)?;
            let exact = sub.exact && rep.min == 1 && rep.max == Some(1);
            Some(Literals { exact, ..sub })
        }
        // `x?` of an exact set: the set or nothing. A concatenation multiplies
        // the empty string out (`https?:` is exactly "http:" or "https:"); on
        // its own, a set with "" is too short to index.
        HirKind::Repetition(rep) if rep.min == 0 && rep.max == Some(1) => {
            let sub = required(&rep.sub).filter(|l| l.exact)?;
            let mut set = sub.set;
            set.push(String::new());
            Some(Literals {
                set,
                exact: true,
                lead: Some(0),
                before: [0; 4],
            })
        }
        HirKind::Alternation(subs) => {
            let mut set = Vec::new();
            let mut exact = true;
            let mut lead = Some(0);
            let mut before = [0; 4];
            for sub in subs {
                let l = required(sub)?;
                exact &= l.exact;
                lead = lead.zip(l.lead).map(|(a, b)| a.max(b));
                before = union(before, l.before);
                set.extend(l.set);
            }
            set.sort();
            set.dedup();
            Some(Literals {
                set,
                exact,
                lead,
                before,
            })
        }
        HirKind::Concat(subs) => concat(subs),
        _ => None,
    }
}

/// A concatenation: runs of exact parts are multiplied out while small; the
/// best run or part (longest shortest literal, then fewest literals) is kept.
fn concat(subs: &[Hir]) -> Option<Literals> {
    let mut best: Option<Literals> = None;
    // The run so far, its lead (where it starts in a match) and the bytes
    // that can come before it in a match.
    let mut run: Option<(Vec<String>, Option<u32>, [u64; 4])> = None;
    let mut run_covers_all = true;
    // How far into a match the current part can start, at most, and the
    // bytes the parts before it can match.
    let mut offset = Some(0u32);
    let mut prefix = [0u64; 4];
    let consider = |cand: Literals, best: &mut Option<Literals>| {
        // Longest shortest literal, then fewest literals, then the smaller
        // lead (bounded before unbounded): `foo\d+bar` keeps "foo", whose
        // matches start where it does.
        let lead = |l: &Literals| std::cmp::Reverse(l.lead.unwrap_or(u32::MAX));
        let better = match best {
            None => true,
            Some(b) => {
                (
                    cand.shortest(),
                    std::cmp::Reverse(cand.set.len()),
                    lead(&cand),
                ) > (b.shortest(), std::cmp::Reverse(b.set.len()), lead(b))
            }
        };
        if better {
            *best = Some(cand);
        }
    };
    let inexact = |(set, lead, before): (Vec<String>, Option<u32>, [u64; 4])| Literals {
        set,
        exact: false,
        lead,
        before,
    };
    for sub in subs {
        match required(sub) {
            Some(l) if l.exact => {
                let starts = offset.zip(l.lead).and_then(|(o, lead)| o.checked_add(lead));
                let before = union(prefix, l.before);
                run = Some(match run.take() {
                    None => (l.set, starts, before),
                    Some((prev, lead, prev_before))
                        if prev.len() * l.set.len() <= MAX_LITERAL_SET =>
                    {
                        (
                            prev.iter()
                                .flat_map(|a| l.set.iter().map(move |b| format!("{a}{b}")))
                                .collect(),
                            lead,
                            prev_before,
                        )
                    }
                    Some(prev) => {
                        run_covers_all = false;
                        consider(inexact(prev), &mut best);
                        (l.set, starts, before)
                    }
                });
            }
            other => {
                run_covers_all = false;
                if let Some(prev) = run.take() {
                    consider(inexact(prev), &mut best);
                }
                if let Some(l) = other {
                    let lead = offset.zip(l.lead).and_then(|(o, lead)| o.checked_add(lead));
                    consider(
                        Literals {
                            exact: false,
                            lead,
                            before: union(prefix, l.before),
                            ..l
                        },
                        &mut best,
                    );
                }
            }
        }
        offset = offset
            .zip(sub.properties().maximum_len())
            .and_then(|(o, len)| o.checked_add(u32::try_from(len).ok()?));
        collect_bytes(sub, &mut prefix);
    }
    if let Some((set, lead, before)) = run {
        if run_covers_all {
            return Some(Literals {
                set,
                exact: true,
                lead,
                before,
            });
        }
        consider(inexact((set, lead, before)), &mut best);
    }
    best
}

/// A class of at most four distinct characters once lowercased, as strings.
fn small_class(class: &Class) -> Option<Vec<String>> {
    let mut chars: Vec<char> = Vec::new();
    let mut push = |c: char| {
        let c = c.to_ascii_lowercase();
        if !chars.contains(&c) {
            chars.push(c);
        }
        chars.len() <= 8
    };
    match class {
        Class::Unicode(u) => {
            for r in u.ranges() {
                if (r.end() as u32) - (r.start() as u32) > 8 {
                    return None;
                }
                for c in r.start()..=r.end() {
                    if !push(c) {
                        return None;
                    }
                }
            }
        }
        Class::Bytes(b) => {
            for r in b.ranges() {
                if r.end() - r.start() > 8 {
                    return None;
                }
                for c in r.start()..=r.end() {
                    if !push(c as char) {
                        return None;
                    }
                }
            }
        }
    }
    (chars.len() <= 4).then(|| chars.into_iter().map(String::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bot_signatures_matcher::walk_back;

    fn lits(p: &str) -> Option<Literals> {
        literals(&check(p).unwrap())
    }

    fn edge(p: &str) -> Option<(Vec<String>, bool, u8)> {
        edge_literals(&check(p).unwrap()).map(|(l, s)| (l.set, l.exact, s))
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn shaped_literals_are_exact_with_their_surroundings() {
        use shape::{AT_START, VERSION_AFTER, WORD_END, WORD_START};
        assert_eq!(
            edge(r"\bSonic"),
            Some((strings(&["sonic"]), true, WORD_START))
        );
        assert_eq!(edge(r"bot\b"), Some((strings(&["bot"]), true, WORD_END)));
        assert_eq!(
            edge(r"\bFever/v?\d"),
            Some((strings(&["fever/"]), true, WORD_START | VERSION_AFTER))
        );
        assert_eq!(
            edge(r"\bFoo/[vV]?[0-9]"),
            Some((strings(&["foo/"]), true, WORD_START | VERSION_AFTER))
        );
        assert_eq!(edge("^curl"), Some((strings(&["curl"]), true, AT_START)));
        // Every literal of a boundary's side must start or end with a word
        // character, and no literal may be pruned for containing another.
        assert_eq!(
            edge(r"\b(?:bot|googlebot)\b"),
            Some((strings(&["bot", "googlebot"]), true, WORD_START | WORD_END))
        );
        assert_eq!(
            edge(r"\b(?:-x|ab)"),
            Some((strings(&["-x", "ab"]), false, 0))
        );
        // Not shapes: a version that is not `v?\d`, a boundary in the middle.
        assert_eq!(edge(r"\bfoo/x?\d").map(|e| e.2), Some(0));
        assert_eq!(edge(r"foo\bbar").map(|e| e.2), Some(0));
        // One-byte literals of rare bytes only.
        assert_eq!(
            edge("[a-z]+@[a-z]+|mailto:"),
            Some((strings(&["@", "mailto:"]), false, 0))
        );
        assert_eq!(edge("[a-z]/[a-z]|[0-9];"), None, "no rare byte");
    }

    #[test]
    fn anchored_patterns_carry_alphabet_limits_and_needs() {
        let a = anchored(&check(r"^[a-z0-9 ._-]+(?:/[0-9.]*)?$").unwrap()).unwrap();
        let has = |set: &[u64; 4], b: u8| set[usize::from(b >> 6)] & (1 << (b & 63)) != 0;
        for b in b"aZ09 ._-/" {
            assert!(has(&a.alphabet, *b), "{}", *b as char);
        }
        for b in b";()+" {
            assert!(!has(&a.alphabet, *b), "{}", *b as char);
        }
        assert_eq!(a.limits, vec![(b'/', 1)]);
        assert_eq!(a.needs, [0; 4]);
        let a = anchored(&check(r"^mozilla/\d\.\d [a-z]+$").unwrap()).unwrap();
        for b in b"mozila/. " {
            assert!(has(&a.needs, *b), "{}", *b as char);
        }
        assert!(!has(&a.needs, b'M') && !has(&a.needs, b'x'));
        assert_eq!(a.limits[..2], [(b'/', 1), (b' ', 1)]);
        // An alternation needs what every branch needs.
        let needs = anchored(&check(r"^(?:ab|ac)$").unwrap()).unwrap().needs;
        assert!(has(&needs, b'a') && !has(&needs, b'b') && !has(&needs, b'c'));
        // Not anchored at both ends: nothing.
        assert!(alphabet(&check("^abc").unwrap()).is_none());
        assert!(anchored(&check("abc$").unwrap()).is_none());
        assert!(anchored(&check("abc").unwrap()).is_none());
    }

    #[test]
    fn plain_literal_is_exact() {
        assert_eq!(
            lits(r"Googlebot\/"),
            Some(Literals {
                set: vec!["googlebot/".into()],
                exact: true,
                lead: Some(0),
                before: [0; 4],
            })
        );
    }

    #[test]
    fn alternation_of_literals_is_exact() {
        let l = lits("AhrefsBot|SemrushBot").unwrap();
        assert_eq!(l.set, vec!["ahrefsbot", "semrushbot"]);
        assert!(l.exact);
    }

    #[test]
    fn case_classes_collapse() {
        let l = lits("[Bb]ot[Ss]earch").unwrap();
        assert_eq!(l.set, vec!["botsearch"]);
        assert!(l.exact);
        assert_eq!(lits("(?i)googlebot").unwrap().set, vec!["googlebot"]);
    }

    #[test]
    fn regex_parts_make_it_inexact() {
        let l = lits(r"FooBot/\d+\.\d").unwrap();
        assert_eq!(l.set, vec!["foobot/"]);
        assert!(!l.exact);
        let l = lits(r"^Java/").unwrap();
        assert_eq!(l.set, vec!["java/"]);
        assert!(!l.exact);
    }

    #[test]
    fn optional_parts_are_not_required() {
        // "fooba" contains "ba", so "ba" alone decides, exactly.
        assert_eq!(
            lits(r"(foo)?ba"),
            Some(Literals {
                set: vec!["ba".into()],
                exact: true,
                // "ba" is 3 bytes in when "foo" is there (the pruned "fooba").
                lead: Some(3),
                before: bytes_of(&["ba".to_owned(), "fooba".to_owned()]),
            })
        );
        assert_eq!(
            lits(r"\+https?:"),
            Some(Literals {
                set: vec!["+http:".into(), "+https:".into()],
                exact: true,
                lead: Some(0),
                before: [0; 4],
            })
        );
        assert_eq!(lits(r"xy?"), None, "\"x\" alone is too short to index");
        assert_eq!(
            lits(r"(foo)+?ba"),
            Some(Literals {
                set: vec!["foo".into()],
                exact: false,
                lead: Some(0),
                before: [0; 4],
            })
        );
        assert_eq!(lits(r"a.b"), None);
        assert_eq!(lits(r".*"), None);
    }

    /// A part that may repeat zero or more times is not "the set or
    /// nothing": `ab(?:cd)*ef` matches "abcdcdef", which holds neither
    /// "abcdef" nor "abef".
    #[test]
    fn zero_or_more_is_not_optional() {
        for (p, text) in [
            (r"ab(?:cd)*ef", "abcdcdef"),
            (r"ab(?:cd){0,3}ef", "abcdcdef"),
        ] {
            let l = lits(p).unwrap();
            let re = regex_lite::Regex::new(p).unwrap();
            assert!(re.is_match(text));
            assert!(
                l.set.iter().any(|lit| text.contains(lit.as_str())),
                "{p}: {:?} misses {text}",
                l.set
            );
            assert!(!l.exact, "{p}");
        }
        // `x{1}` is `x`.
        assert!(lits(r"(?:abc){1}d").unwrap().exact);
    }

    /// Multiplying out small classes stops at MAX_LITERAL_SET literals.
    #[test]
    fn literal_sets_stay_small() {
        let l = lits(r"[ab][cd][ef][gh][ij][kl][mn]xyz").unwrap();
        assert!(l.set.len() <= MAX_LITERAL_SET, "{}", l.set.len());
        let l = lits(r"[ab][cd][ef][gh][ij][kl]xyz").unwrap();
        assert_eq!(l.set.len(), 64);
        assert!(l.exact);
    }

    /// Between parts as good, the first with the smaller lead is kept.
    #[test]
    fn ties_keep_the_part_a_match_starts_with() {
        let l = lits(r"foo\d+bar").unwrap();
        assert_eq!((l.set, l.lead), (vec!["foo".to_owned()], Some(0)));
        let l = lits(r"\d+foo\d+bar").unwrap();
        assert_eq!(l.set, vec!["foo".to_owned()], "the first of two unbounded");
        let l = lits(r"\d+foo.bar").unwrap();
        assert_eq!((l.set, l.lead), (vec!["foo".to_owned()], None));
    }

    /// Where a lead is unbounded, the bytes before the literal bound the
    /// search instead: a match starts inside the run of them before the hit.
    #[test]
    fn bytes_before_bound_an_unbounded_lead() {
        let set = |s: &str| bytes_of(&[s.to_owned()]);
        let l = lits(r"[a-c]+foobot").unwrap();
        assert_eq!((l.lead, l.before), (None, set("abc")));
        // The e-mail shape: separators, an optional space, the local part.
        let hir = check(r"[;,+] ?[a-z0-9_.+-]+@[a-z]+\.[a-z]{2,}").unwrap();
        let l = required(&hir).unwrap();
        assert_eq!(l.set, vec!["@"]);
        assert_eq!(l.lead, None);
        let local = "abcdefghijklmnopqrstuvwxyz0123456789_.+-;, ";
        assert_eq!(l.before, set(local));
        let ua = b"Foo/1.0 (compatible; +me.x@example.org)";
        let at = ua.iter().position(|&b| b == b'@').unwrap();
        // Back over "compatible; +me.x" (letters are in the set) to the "(".
        assert_eq!(walk_back(ua, at, &l.before), 9);
        assert_eq!(walk_back(b"@", 0, &l.before), 0);
        assert_eq!(walk_back(b"x(ab@", 4, &l.before), 2);
        // Branches add up; pruning adds the pruned literal's bytes.
        let l = lits(r"(?:[x]+|[y]+)foobot").unwrap();
        assert_eq!(l.before, set("xy"));
        let l = lits(r"[z]+(?:bbb|xbbby)\d").unwrap();
        assert_eq!(l.before, union(set("z"), set("xbby")));
        // "zxbbby1" matches from 0; its first "bbb" is at 2, past the "x".
        assert_eq!(walk_back(b"zxbbby1", 2, &l.before), 0);
        // Parts before the chosen one count, whatever they are.
        let l = lits(r"q[0-9]+foobot").unwrap();
        assert_eq!(l.before, set("q0123456789"));
        assert_eq!(lits(r"foobot[a-z]+").unwrap().before, [0; 4]);
        // Each branch's bytes, joined: all but ' ', and all but '/'.
        let l = lits(r"[^ ]+foobot|[^/]+barbot").unwrap();
        assert_eq!(l.lead, None);
        assert_eq!(l.before, [u64::MAX; 4]);
        // A class that allows non-ASCII characters puts every byte from 0x80
        // up in the set, so a walk back crosses them whole.
        let l = lits(r"[^ ]+foobot").unwrap();
        assert_eq!(walk_back("x ééfoobot".as_bytes(), 6, &l.before), 2);
    }

    #[test]
    fn leads_bound_where_a_match_starts() {
        let lead = |p: &str| lits(p).unwrap().lead;
        assert_eq!(lead(r"^foobot/\d"), Some(0));
        // A small class and an optional space join the literal run.
        assert_eq!(lead(r"[+;] ?foobot"), Some(0));
        // Unicode digits are up to four bytes each (regex-syntax's measure;
        // the edge's are ASCII, so the bound is loose, never short).
        assert_eq!(lead(r"\d\dfoobot"), Some(8));
        // Unicode classes count up to four bytes a character.
        assert_eq!(lead(r".foobot"), Some(4));
        assert_eq!(lead(r"[a-z]+foobot"), None, "unbounded");
        assert_eq!(lead(r"^.*foobot"), None);
        // The widest branch.
        assert_eq!(lead(r"(?:x.|yyy)foobot|barbot"), Some(1 + 4));
        assert_eq!(lead(r"[a-z]+foobot|barbot"), None);
        // A repetition's first copy holds the literal.
        assert_eq!(lead(r"(?:a?foobot)+"), Some(1));
        // The literal after the best part, not the first one.
        assert_eq!(lead(r"ab.{1,3}longerbot"), Some(5 + 4 * 3 - 3));
        // Pruning moves the occurrence a match is sure to hold: "xbbby1"
        // matches from 0, its first "bbb" is at 1, and from 1 nothing matches.
        let l = lits(r"(?:bbb|xbbby)\d").unwrap();
        assert_eq!((l.set.clone(), l.lead), (vec!["bbb".to_owned()], Some(2)));
        let re = regex_lite::Regex::new(r"(?:bbb|xbbby)\d").unwrap();
        assert!(re.is_match_at("xbbby1", 1 - 1) && !re.is_match_at("xbbby1", 1));
        // The generic contact-URL shape: one byte of class, then the run.
        let l = lits(r"[+(;, ]https?:|^https?:[^ ]*$").unwrap();
        assert_eq!(l.set, vec!["http:", "https:"]);
        assert_eq!(l.lead, Some(1));
    }

    #[test]
    fn waf_dialect_problems() {
        for p in [
            r"(a)\1",
            r"foo(?=bar)",
            r"(?<!x)bot",
            r"(?>ab)",
            r"a*+",
            r"a++",
            r"a{2}+",
            r"\p{L}bot",
            r"a{1,500}",
            r"[O-l]x",
            r"[0-Z]",
            r"\x41bc",
            r"[mm-mOOWOO-lua]wtser",
        ] {
            let e = check(p).unwrap_err();
            assert!(e.waf_only, "{p}: {e:?}");
        }
        assert!(!check("foo(").unwrap_err().waf_only);
        assert!(
            check(&"a".repeat(201))
                .unwrap_err()
                .message
                .contains("201 characters")
        );
        assert!(check("bot\u{e9}").is_err());
    }

    #[test]
    fn legal_quantifiers_pass() {
        for p in [
            r"a+?b",
            r"a*?",
            r"(?:ab)+",
            r"x{2,3}",
            r"\++",
            r"[+*]+",
            r"a?b?",
            "(?i)bot",
            r"[A-Za-z0-9._-]+bot",
            r"[-a]x",
            r"[ab-]x",
            r"[!-/]x",
        ] {
            check(p).unwrap();
        }
    }
}

#[cfg(test)]
mod properties {
    //! Soundness of the literal index: whenever a pattern matches a text, the
    //! text contains one of the pattern's literals (else the matcher would miss
    //! it); and arbitrary input never panics.
    use super::*;
    use bot_signatures_matcher::regex_start;
    use proptest::prelude::*;

    fn atom() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9]{1,6}",
            Just(r"\d".to_owned()),
            Just(r"\w".to_owned()),
            Just(".".to_owned()),
            Just(r"\/".to_owned()),
            Just("[Bb]".to_owned()),
            Just("[a-c]".to_owned()),
            Just("^".to_owned()),
            Just(r"\b".to_owned()),
        ]
    }

    fn pattern() -> impl Strategy<Value = String> {
        let leaf = proptest::collection::vec(atom(), 1..4).prop_map(|v| v.concat());
        leaf.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 1..3).prop_map(|v| v.concat()),
                proptest::collection::vec(inner.clone(), 2..4)
                    .prop_map(|v| format!("(?:{})", v.join("|"))),
                inner.clone().prop_map(|p| format!("(?:{p})?")),
                inner.clone().prop_map(|p| format!("(?:{p})+")),
                inner.prop_map(|p| format!("({p})")),
            ]
        })
    }

    /// A text `hir` matches, built by walking it: the `pick`s choose
    /// alternation branches and repeat counts, so texts differ per case.
    /// Look-arounds add nothing (a `\b` between two word characters then
    /// fails the match; the property counts how many cases matched).
    fn sample(hir: &Hir, pick: &mut impl FnMut() -> usize, out: &mut String) {
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(l) => out.push_str(&String::from_utf8_lossy(&l.0)),
            HirKind::Class(Class::Unicode(c)) => {
                // ASCII members only: the edge matches bytes, and regex-lite's
                // `\w` and `\d` are ASCII.
                let ascii: Vec<_> = c.ranges().iter().filter(|r| r.start().is_ascii()).collect();
                match ascii.len() {
                    0 => out.push(c.ranges()[0].start()),
                    n => out.push(ascii[pick() % n].start()),
                }
            }
            HirKind::Class(Class::Bytes(c)) => {
                let ranges = c.ranges();
                let r = ranges[pick() % ranges.len()];
                out.push(char::from(r.start()));
            }
            HirKind::Repetition(rep) => {
                let extra = rep.max.unwrap_or(rep.min + 2).saturating_sub(rep.min);
                let n = rep.min as usize + pick() % (extra as usize + 1);
                for _ in 0..n {
                    sample(&rep.sub, pick, out);
                }
            }
            HirKind::Capture(c) => sample(&c.sub, pick, out),
            HirKind::Concat(v) => v.iter().for_each(|h| sample(h, pick, out)),
            HirKind::Alternation(v) => sample(&v[pick() % v.len()], pick, out),
        }
    }

    /// The index's soundness, on texts that mostly do match: any text the
    /// pattern matches holds one of its required literals, and an exact set
    /// matches exactly when a literal is present. Random texts almost never
    /// match a random pattern (the first version of this property reached
    /// its match branch 4 times in 10,240 cases), so most texts here are
    /// sampled from the pattern itself, with random text around; the test
    /// counts the branches it reached and fails below a floor.
    #[test]
    fn literals_are_required_on_texts_the_pattern_matches() {
        use proptest::strategy::ValueTree;
        let case = (
            pattern(),
            "[a-zA-Z0-9 /_.-]{0,8}",
            "[a-zA-Z0-9 /_.-]{0,8}",
            proptest::collection::vec(0usize..1000, 64),
            0..4u8,
        );
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let (mut matched, mut unmatched, mut exact, mut indexed) = (0, 0, 0, 0);
        // Matches whose search the lead moved off the start of the text, and
        // those the bytes before the literal moved (for any lead).
        let (mut led, mut walked) = (0, 0);
        for _ in 0..4000 {
            let (p, pre, post, picks, random) = case.new_tree(&mut runner).unwrap().current();
            let Ok(hir) = check(&p) else { continue };
            let Some(lits) = literals(&hir) else { continue };
            indexed += 1;
            let mut it = picks.iter().cycle().copied();
            let mut body = String::new();
            sample(&hir, &mut || it.next().unwrap_or(0), &mut body);
            // A quarter random text, a quarter the sample alone (`^` and `\b`
            // need its edges), half the sample inside random text.
            let text = match random {
                0 => pre + &post,
                1 => body,
                _ => format!("{pre}{body}{post}"),
            };
            let re = regex_lite::RegexBuilder::new(&p)
                .case_insensitive(true)
                .build()
                .unwrap();
            let lower = text.to_ascii_lowercase();
            let contains = lits.set.iter().any(|l| lower.contains(l.as_str()));
            if re.is_match(&text) {
                matched += 1;
                assert!(
                    contains,
                    "{p:?} matches {text:?} but no literal of {:?} is in it",
                    lits.set
                );
                // The edge starts the regex `lead` bytes before the first
                // literal hit, or where the run of `before` bytes ending at
                // it starts: a match must still be found from there.
                let first = lits
                    .set
                    .iter()
                    .filter_map(|l| lower.find(l.as_str()))
                    .min()
                    .unwrap_or(0);
                // Each bound on its own (the edge takes the lead when there
                // is one): `regex_start` is where the edge starts the regex.
                if let Some(lead) = lits.lead.and_then(|l| u16::try_from(l).ok()) {
                    let from = regex_start(&text, first, Some(lead), None);
                    led += usize::from(from > 0);
                    assert!(
                        re.is_match_at(&text, from),
                        "{p:?} matches {text:?}, but not from {from} (first hit {first}, lead {lead}, literals {:?})",
                        lits.set
                    );
                }
                let from = regex_start(&text, first, None, Some(&lits.before));
                walked += usize::from(from > 0);
                assert!(
                    re.is_match_at(&text, from),
                    "{p:?} matches {text:?}, but not from {from} (first hit {first}, bytes before {:x?}, literals {:?})",
                    lits.before,
                    lits.set
                );
            } else {
                unmatched += 1;
            }
            if lits.exact {
                exact += 1;
                assert_eq!(
                    re.is_match(&text),
                    contains,
                    "exact {:?} for {p:?} on {text:?}",
                    lits.set
                );
            }
        }
        eprintln!(
            "reached: {indexed} indexed patterns, {matched} matching texts ({led} searched from past the start by the lead, {walked} by the bytes before), {unmatched} not matching, {exact} exact sets"
        );
        assert!(
            matched >= 300 && unmatched >= 150 && exact >= 100 && led >= 100 && walked >= 100,
            "generator too narrow: {matched} matched ({led} led, {walked} walked), {unmatched} unmatched, {exact} exact of {indexed}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

        #[test]
        fn literals_are_required(p in pattern(), text in "[a-zA-Z0-9 /_.-]{0,30}") {
            let Ok(hir) = check(&p) else { return Ok(()) };
            let re = regex_lite::RegexBuilder::new(&p).case_insensitive(true).build().unwrap();
            if let Some(lits) = literals(&hir) {
                let lower = text.to_ascii_lowercase();
                let contains = lits.set.iter().any(|l| lower.contains(l.as_str()));
                if re.is_match(&text) {
                    prop_assert!(contains, "{p:?} matches {text:?} but no literal of {:?} is in it", lits.set);
                }
                if lits.exact {
                    prop_assert_eq!(re.is_match(&text), contains, "exact {:?} for {:?}", lits.set, p);
                }
            }
        }

        /// An exact set decides alone: a text holding any one literal of it
        /// matches the pattern (random texts rarely hold one, so build them).
        #[test]
        fn exact_literals_decide_alone(p in pattern(), pre in "[a-z /]{0,5}", post in "[a-z /]{0,5}", pick in 0usize..64) {
            let Ok(hir) = check(&p) else { return Ok(()) };
            let Some(lits) = literals(&hir) else { return Ok(()) };
            if !lits.exact {
                return Ok(());
            }
            let lit = &lits.set[pick % lits.set.len()];
            let text = format!("{pre}{lit}{post}");
            let re = regex_lite::RegexBuilder::new(&p).case_insensitive(true).build().unwrap();
            prop_assert!(re.is_match(&text), "exact {:?} for {:?}, but {:?} does not match", lits.set, p, text);
        }

        #[test]
        fn arbitrary_patterns_never_panic(p in ".{0,80}") {
            if let Ok(hir) = check(&p) {
                let _ = literals(&hir);
            }
        }

        #[test]
        fn arbitrary_catalog_text_never_panics(text in ".{0,400}") {
            let _ = crate::catalog::Catalog::parse(&[("fuzz.toml".to_owned(), text)]);
        }

        #[test]
        fn mutated_catalog_never_panics(pos in 0usize..600, byte in 0u8..128) {
            let mut text = include_str!("../catalog/generic.toml").as_bytes()[..600].to_vec();
            text[pos] = byte;
            let text = String::from_utf8_lossy(&text).into_owned();
            let (catalog, _) = crate::catalog::Catalog::parse(&[("fuzz.toml".to_owned(), text)]);
            let _ = crate::validate::validate(&catalog, None);
        }
    }

    /// `ua` with non-ASCII characters put in: after its first word, in place
    /// of the ASCII letters `k` and `s` (which Unicode case folding, not
    /// ASCII, ties to the Kelvin and long-s signs), and at its end.
    fn non_ascii(ua: &str, i: usize) -> String {
        const PUT: [&str; 4] = ["é", "\u{212A}", "\u{17F}", "🤖"];
        let put = PUT[i % PUT.len()];
        let cut = ua.find([' ', '/', ';']).unwrap_or(ua.len());
        let swapped = ua[cut..].replace('k', "\u{212A}").replace('s', "\u{17F}");
        format!("{}{put}{swapped}{put}", &ua[..cut])
    }

    /// The native engine (`bot_signatures_matcher::engine`: a lazy DFA built
    /// from each pattern read with regex-lite's meaning) against regex-lite,
    /// which the edge runs: every pattern and exception of the shipped
    /// catalog, on every user-agent of the data sets and on 60 texts sampled
    /// from the pattern itself (alone and inside a browser's words), each as
    /// written and with non-ASCII characters put in, searched from the start
    /// and from the middle. Counts what it reached.
    #[test]
    fn the_native_engine_answers_as_regex_lite_on_every_catalog_pattern() {
        use bot_signatures_matcher::engine;
        let (catalog, problems) = crate::Catalog::embedded();
        assert!(problems.is_empty(), "{problems:?}");
        let artifact = crate::compile::compile(&catalog).artifact;
        let patterns: std::collections::BTreeSet<String> = artifact
            .signatures
            .iter()
            .filter(|s| !s.exact)
            .map(|s| s.pattern.clone())
            .chain(artifact.signatures.iter().filter_map(|s| s.unless.clone()))
            .collect();
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let mut lines = std::collections::BTreeSet::new();
        for dir in std::fs::read_dir(&data).unwrap().map(|d| d.unwrap().path()) {
            for file in std::fs::read_dir(&dir).into_iter().flatten() {
                let path = file.unwrap().path();
                if path.extension().is_some_and(|e| e == "txt") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    lines.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
                }
            }
        }
        assert!(lines.len() > 40_000, "{} data lines", lines.len());

        let (mut on_dfa, mut with_both, mut matched, mut runs) = (0, 0, 0usize, 0usize);
        for (k, p) in patterns.iter().enumerate() {
            let lite = engine::lite(p).unwrap_or_else(|| panic!("{p} does not compile"));
            let native = engine::Regex::new(p).unwrap();
            if native.on_lite() {
                continue;
            }
            on_dfa += 1;
            let hir = regex_syntax::Parser::new().parse(p).unwrap();
            let mut seed = k as u64 + 1;
            let mut pick = move || {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (seed >> 33) as usize
            };
            let sampled: Vec<String> = (0..30)
                .flat_map(|_| {
                    let mut body = String::new();
                    sample(&hir, &mut pick, &mut body);
                    [format!("Mozilla/5.0 (compatible; {body}) like Gecko"), body]
                })
                .collect();
            let (mut yes, mut no) = (0, 0);
            for (i, t) in lines.iter().chain(&sampled).enumerate() {
                for t in [t.clone(), non_ascii(t, i)] {
                    let mid = (0..=t.len() / 2)
                        .rev()
                        .find(|&i| t.is_char_boundary(i))
                        .unwrap();
                    for from in [0, mid] {
                        let want = lite.is_match_at(&t, from);
                        assert_eq!(
                            native.is_match_at(&t, from),
                            want,
                            "{p} on {t:?} from {from}"
                        );
                        if want { yes += 1 } else { no += 1 }
                    }
                }
            }
            with_both += usize::from(yes > 0 && no > 0);
            matched += yes;
            runs += yes + no;
        }
        // The reach: the DFA ran on nearly every pattern, and the texts drove
        // nearly every one both ways.
        assert!(
            on_dfa * 10 >= patterns.len() * 9,
            "{on_dfa} of {} patterns on the DFA",
            patterns.len()
        );
        assert!(
            with_both * 10 >= on_dfa * 9,
            "{with_both} of {on_dfa} patterns both matched and not"
        );
        assert!(matched > 10_000, "{matched} of {runs} runs matched");
        eprintln!(
            "{on_dfa} of {} patterns on the DFA, {with_both} both ways; {matched} of {runs} runs matched",
            patterns.len()
        );
    }
}
