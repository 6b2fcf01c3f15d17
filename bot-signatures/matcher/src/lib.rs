//! The user-agent matcher that runs at the edge: it loads the artifact that
//! `bot-signatures` compiles at build time and classifies user-agents with it.
//!
//! The artifact ([`CompiledCatalog`]) holds, per signature, its metadata, its
//! pattern and the literals that any match of the pattern must contain. It has
//! two encodings: JSON for people and tools, and a compact binary form
//! ([`CompiledCatalog::to_bytes`], [`Matcher::from_bytes`]) for the edge, which
//! also carries the literal index's plan so that loading does no planning and
//! no parsing beyond reading lengths. At load time only the literal index's
//! tables are laid out ([`index::LiteralIndex`], 3-byte grams); no regex is
//! compiled and no automaton is built. A user-agent is scanned
//! once for literals; a signature whose pattern *is* its literal set matches on
//! that hit alone, the others are confirmed with their regex, compiled lazily
//! the first time one of its literals is seen and then kept for the instance.
//!
//! Signatures are stored in precedence order, so the deciding signature is the
//! matching one with the lowest index (see [`precedence_key`]).
//!
//! This crate does no I/O and reads no clock; it builds natively and for
//! `wasm32-unknown-unknown`.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

pub mod engine;
mod exception;
pub mod index;
pub mod verify;

use index::LiteralIndex;

/// Version of the artifact layout; bumped on any incompatible change.
pub const ARTIFACT_VERSION: u32 = 3;

/// The first bytes of the binary artifact: magic and layout version 4
/// (version 3 stored every span's start whole, version 2 had no
/// [`CompiledCatalog::lead_sets`]; an older reader refuses a newer artifact
/// by its magic, never misreads it).
pub const BINARY_MAGIC: &[u8; 8] = b"BOTSIG\x00\x04";

/// What the edge does with a user-agent that a signature decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A verified good bot (e.g. a search engine): never blocked as a bot.
    Allow,
    /// Answer 403 at the edge and block in WAF.
    Block,
    /// Forward, but under a stricter rate limit.
    RateLimit,
    /// Forward and count only.
    Monitor,
}

impl Action {
    /// All actions, strongest first: the order used to break ties.
    pub const ALL: [Action; 4] = [
        Action::Allow,
        Action::Block,
        Action::RateLimit,
        Action::Monitor,
    ];

    /// The name used in the catalog and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Block => "block",
            Action::RateLimit => "rate_limit",
            Action::Monitor => "monitor",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The precedence of a signature: lower sorts first and wins.
///
/// 1. Specific signatures win over generic ones (an `allow` for a verified
///    search engine beats the generic "bot" token; a `monitor` an analyst set
///    for one crawler beats a generic `block`).
/// 2. Then by action: `allow` > `block` > `rate_limit` > `monitor`.
/// 3. Then the longer pattern: the more specific text decides
///    (`TelegramBot` over `Twitterbot` for Telegram's "TelegramBot (like TwitterBot)").
/// 4. Then catalog order (files by name, entries in file order).
pub fn precedence_key(
    generic: bool,
    action: Action,
    pattern: &str,
    catalog_position: usize,
) -> impl Ord {
    key(generic, action, pattern, catalog_position)
}

fn key(
    generic: bool,
    action: Action,
    pattern: &str,
    position: usize,
) -> (bool, Action, std::cmp::Reverse<usize>, usize) {
    (generic, action, std::cmp::Reverse(pattern.len()), position)
}

/// Which rule of [`precedence_key`] puts one signature before another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precedence {
    /// 1: specific before generic.
    Specific,
    /// 2: by action.
    Action,
    /// 3: the longer pattern.
    LongerPattern,
    /// 4: catalog order.
    CatalogOrder,
}

/// The rule that decides between `a` and `b` (at catalog positions `pa`
/// and `pb`): the first component of [`precedence_key`] that differs.
pub fn decided_by(a: Signature<'_>, pa: usize, b: Signature<'_>, pb: usize) -> Precedence {
    let (ka, kb) = (
        key(a.generic, a.action, a.pattern, pa),
        key(b.generic, b.action, b.pattern, pb),
    );
    if ka.0 != kb.0 {
        Precedence::Specific
    } else if ka.1 != kb.1 {
        Precedence::Action
    } else if ka.2 != kb.2 {
        Precedence::LongerPattern
    } else {
        Precedence::CatalogOrder
    }
}

/// One signature as the edge sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureMeta {
    /// Stable id from the catalog.
    pub id: String,
    /// What to do with a user-agent this signature decides.
    pub action: Action,
    /// Free-form category (e.g. `seo`, `ai-crawler`, `http-library`).
    pub category: String,
    /// Whether this is a generic rule (a token such as "bot") rather than a
    /// signature for one known crawler.
    pub generic: bool,
    /// The pattern, a regex matched case-insensitively anywhere in the user-agent.
    pub pattern: String,
    /// True when any hit of one of this signature's literals is a match, so the
    /// regex never needs to run.
    pub exact: bool,
    /// For a signature whose regex runs: at most how many bytes before the
    /// first hit of one of its literals a match can start, so the regex
    /// starts there, not at the start of the user-agent; `None` when that is
    /// unbounded or the signature has no literal (the regex reads it all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<u16>,
    /// A generic rule's exception: a regex that, when it matches anywhere in
    /// the user-agent, means this signature does not (a device-name family
    /// such as handset vendors for the single-token rule). With `exact`, the
    /// literal decides the pattern and only the exception's regex runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unless: Option<String>,
}

/// The top-level alternatives of a regex (`|` outside groups and character
/// classes): how the edge splits a rule's `unless`, and how the importer
/// tells whether a pattern needs a group before an anchor is added.
pub fn top_level_alternatives(pattern: &str) -> Vec<&str> {
    exception::top_level(pattern)
}

/// One entry of [`CompiledCatalog::alphabets`]: `(signature, bytes, limits,
/// needs)`.
pub type AlphabetEntry = (u32, [u64; 4], Vec<(u8, u8)>, [u64; 4]);

/// What must surround a literal's hit for it to count ([`CompiledCatalog::literal_shapes`]):
/// bit flags, ASCII word characters being `[0-9A-Za-z_]`, as in `\b`.
pub mod shape {
    /// Not preceded by a word character (`\bfoo`, the literal starting with one).
    pub const WORD_START: u8 = 1;
    /// Not followed by a word character (`foo\b`, the literal ending with one).
    pub const WORD_END: u8 = 2;
    /// Followed by a digit, or by `v` or `V` and a digit (`foo/v?\d`).
    pub const VERSION_AFTER: u8 = 4;
    /// At the start of the text (`^foo`).
    pub const AT_START: u8 = 8;
    /// Every flag.
    pub const ALL: u8 = WORD_START | WORD_END | VERSION_AFTER | AT_START;

    fn word(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b == b'_'
    }

    /// Whether the hit `text[start..end]` has the surroundings `shape` asks for.
    pub fn fits(shape: u8, text: &[u8], start: usize, end: usize) -> bool {
        if shape & AT_START != 0 && start != 0 {
            return false;
        }
        if shape & WORD_START != 0 && start > 0 && text.get(start - 1).copied().is_some_and(word) {
            return false;
        }
        if shape & WORD_END != 0 && text.get(end).copied().is_some_and(word) {
            return false;
        }
        if shape & VERSION_AFTER != 0 {
            let digit = |i: usize| text.get(i).is_some_and(u8::is_ascii_digit);
            let v = text.get(end).is_some_and(|b| b.eq_ignore_ascii_case(&b'v'));
            return digit(end) || (v && digit(end + 1));
        }
        true
    }
}

/// The compiled catalog: written by `bot-signatures` at build time, loaded by
/// the edge. Signatures are in precedence order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompiledCatalog {
    /// [`ARTIFACT_VERSION`] at the time of writing.
    pub version: u32,
    /// Signatures, strongest precedence first.
    pub signatures: Vec<SignatureMeta>,
    /// `(literal, signature index)`: any match of that signature contains one
    /// of its literals (ASCII case-insensitively). Literals are lowercase.
    pub literals: Vec<(String, u32)>,
    /// The [`shape`] of each literal, in the order of `literals`; empty when
    /// every literal counts wherever it occurs. A shaped literal decides an
    /// exact signature (`\bFooBot/v?\d`) without a regex.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub literal_shapes: Vec<u8>,
    /// Signatures with no usable literal: their regex runs on every user-agent.
    pub unindexed: Vec<u32>,
    /// `(signature, bytes, limits, needs)` for patterns anchored at both ends
    /// (`^...$`): a match spans the whole user-agent, so every byte of it is
    /// one of `bytes` (a 256-bit set, ASCII letters in both cases), each
    /// `(byte, most)` of `limits` (at most four; letters lowercase, counted in
    /// both cases) occurs at most `most` times, and every byte of `needs`
    /// (letters lowercase, either case will do) occurs; any other user-agent
    /// is refused before the regex runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alphabets: Vec<AlphabetEntry>,
    /// `(signature, bytes)` for signatures whose regex runs and whose lead
    /// is unbounded (`[a-z0-9.]+@`): every byte that can lie between the
    /// start of a match and its literal (a 256-bit set, ASCII letters in
    /// both cases). The regex starts where the run of these bytes ending at
    /// the first hit starts ([`walk_back`]), not at the start of the text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lead_sets: Vec<(u32, [u64; 4])>,
}

/// Where a match can start at the earliest when it starts no earlier than
/// the run of `before` bytes (a 256-bit set) that ends at byte `hit` of
/// `text`: the start of that run. Sound for a signature's
/// [`CompiledCatalog::lead_sets`] entry and the first hit of any of its
/// literals: every byte from a match's start to the occurrence of the
/// literal it holds is in the set, and that occurrence is at or past the
/// first hit.
pub fn walk_back(text: &[u8], hit: usize, before: &[u64; 4]) -> usize {
    let mut at = hit.min(text.len());
    while at > 0 && index::has_bit(before, usize::from(text[at - 1])) {
        at -= 1;
    }
    at
}

/// Why an artifact could not be loaded. The edge treats this as a broken
/// bundle (fail closed), never as "no bot".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MatcherError {
    /// The bytes are not a valid artifact.
    #[error("bot matcher artifact is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The artifact was written by an incompatible version.
    #[error(
        "bot matcher artifact has version {found}, expected {expected}: rebuild it with this version of bot-signatures"
    )]
    Version { found: u32, expected: u32 },
    /// A literal or unindexed entry points past the signature list.
    #[error("bot matcher artifact refers to signature #{index} but has only {len}")]
    BadIndex { index: u32, len: usize },
    /// The binary artifact is cut short or malformed.
    #[error(
        "bot matcher artifact is corrupt at byte {offset}: {what}; rebuild it with `bot-signatures compile --binary` or `cargo xtask dist`"
    )]
    Binary { offset: usize, what: &'static str },
}

/// One signature of a loaded matcher, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature<'m> {
    /// Stable id from the catalog.
    pub id: &'m str,
    /// What to do with a user-agent this signature decides.
    pub action: Action,
    /// Free-form category.
    pub category: &'m str,
    /// Whether this is a generic rule.
    pub generic: bool,
    /// The pattern (a regex, matched case-insensitively anywhere). Empty for
    /// an exact signature loaded from [`CompiledCatalog::to_edge_bytes`],
    /// which leaves those out (a literal hit alone is the match).
    pub pattern: &'m str,
    /// True when a literal hit alone is a match.
    pub exact: bool,
    /// See [`SignatureMeta::lead`].
    pub lead: Option<u16>,
    /// The exception regex, if any ([`SignatureMeta::unless`]).
    pub unless: Option<&'m str>,
}

impl Signature<'_> {
    /// An owned copy, as the artifact stores it.
    pub fn to_meta(&self) -> SignatureMeta {
        SignatureMeta {
            id: self.id.to_owned(),
            action: self.action,
            category: self.category.to_owned(),
            generic: self.generic,
            pattern: self.pattern.to_owned(),
            exact: self.exact,
            lead: self.lead,
            unless: self.unless.map(str::to_owned),
        }
    }
}

/// The signature that decided a user-agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict<'m> {
    /// Index in precedence order.
    pub index: usize,
    /// The deciding signature.
    pub signature: Signature<'m>,
}

/// A byte range of [`Matcher::text`].
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

/// One signature: its strings are spans of one shared text, so loading
/// allocates once for all of them.
#[derive(Debug, Clone, Copy)]
struct Record {
    id: Span,
    category: Span,
    pattern: Span,
    /// Empty when the signature has no exception.
    unless: Span,
    /// Index into [`Matcher::alphabets`], or `u32::MAX`.
    alphabet: u32,
    /// Index into [`Matcher::lead_sets`], or `u32::MAX`.
    lead_set: u32,
    action: Action,
    generic: bool,
    exact: bool,
    /// See [`SignatureMeta::lead`].
    lead: Option<u16>,
}

/// A loaded matcher; cheap to query, holds lazily compiled confirmation regexes.
#[derive(Debug)]
pub struct Matcher {
    records: Vec<Record>,
    /// Signature index for each literal.
    literal_owner: Vec<u32>,
    /// The [`shape`] of each literal.
    literal_shape: Vec<u8>,
    index: LiteralIndex,
    unindexed: Vec<u32>,
    /// Every unindexed signature is anchored at both ends and its alphabet
    /// refuses ';' (so a user-agent with one is a candidate for none).
    unindexed_refuse_semicolon: bool,
    /// Confirmation regexes of the inexact signatures only, in signature
    /// order; `regex_slot[i]` is signature `i`'s.
    regexes: Vec<OnceLock<Option<engine::Regex>>>,
    regex_slot: Vec<u32>,
    /// Exception regexes of the signatures that have one (a handful of
    /// generic rules), in signature order; `unless_slot[i]` is signature `i`'s.
    unless: Vec<OnceLock<exception::Exception>>,
    unless_slot: Vec<u32>,
    /// See [`CompiledCatalog::alphabets`].
    alphabets: Vec<Alphabet>,
    /// See [`CompiledCatalog::lead_sets`].
    lead_sets: Vec<[u64; 4]>,
}

fn action_code(a: Action) -> u8 {
    match a {
        Action::Allow => 0,
        Action::Block => 1,
        Action::RateLimit => 2,
        Action::Monitor => 3,
    }
}

fn action_from_code(c: u8) -> Option<Action> {
    Action::ALL.into_iter().find(|&a| action_code(a) == c)
}

/// Bytes of a span in the binary artifact: start and length, u32 each.
const SPAN: usize = 8;
/// Bytes of a signature record: action, flags, lead (u16), four spans.
const SIGNATURE_RECORD: usize = 4 + 4 * SPAN;
/// Bytes of a literal record: owner, plan, span.
const LITERAL_RECORD: usize = 4 + 4 + SPAN;

/// A lead as the binary artifact stores it: 0 for none, else lead + 1
/// (65,534 at most; a longer lead is stored as none, which is only slower).
fn lead_code(lead: Option<u16>) -> u16 {
    lead.and_then(|l| l.checked_add(1)).unwrap_or(0)
}

/// Appends `s` to `text`, returning its span.
fn push_span(text: &mut String, s: &str) -> Span {
    let span = Span {
        start: text.len() as u32,
        len: s.len() as u32,
    };
    text.push_str(s);
    span
}

/// The numbers the binary form stores as distances: a record's id start from
/// the previous record's, a literal's owner from the previous literal's and
/// its start from where the previous literal ends. Literals come in catalog
/// order, and the writer lays each signature's strings, then its new
/// literals, out one after the other, so those distances are small numbers,
/// mostly of one byte, where the whole numbers were counters deflate could
/// not shorten (the edge's zipped artifact: 33.6 → 25.2 KB). One type for
/// both ways, so that the reader undoes exactly what the writer did.
#[derive(Default)]
struct Deltas {
    id: u32,
    literal_end: u32,
    owner: u32,
}

/// The bits of a literal record's first word that hold its owner.
const OWNER: u32 = 0x00FF_FFFF;

impl Deltas {
    /// Writing: `owner` as the distance from the previous literal's owner
    /// (modulo 2^24, the field's width).
    fn owner(&mut self, owner: u32) -> u32 {
        let stored = owner.wrapping_sub(self.owner) & OWNER;
        self.owner = owner;
        stored
    }

    /// Reading: the owner that `stored` stands for.
    fn owner_of(&mut self, stored: u32) -> u32 {
        self.owner = self.owner.wrapping_add(stored) & OWNER;
        self.owner
    }

    /// Writing: `id` with its start as the distance from the previous id's.
    fn id(&mut self, id: Span) -> Span {
        let start = id.start.wrapping_sub(self.id);
        self.id = id.start;
        Span { start, ..id }
    }

    /// Writing: `literal` with its start as the distance from the previous
    /// literal's end.
    fn literal(&mut self, literal: Span) -> Span {
        let start = literal.start.wrapping_sub(self.literal_end);
        self.literal_end = literal.start.wrapping_add(literal.len);
        Span { start, ..literal }
    }

    /// Reading: the id start that `stored` stands for.
    fn id_start(&mut self, stored: u32) -> u32 {
        self.id = self.id.wrapping_add(stored);
        self.id
    }

    /// Reading: the literal start that `stored` stands for, for a literal
    /// of `len` bytes.
    fn literal_start(&mut self, stored: u32, len: u32) -> u32 {
        let start = self.literal_end.wrapping_add(stored);
        self.literal_end = start.wrapping_add(len);
        start
    }
}

impl CompiledCatalog {
    /// The binary form ([`Matcher::from_bytes`]): the same content plus the
    /// literal index's plan. Layout (integers u32
    /// little-endian): [`BINARY_MAGIC`]; the signature count, then per
    /// signature its action, flags (1 generic, 2 exact), its lead (u16, 0 for
    /// none, else the lead plus one: an artifact written before leads, with
    /// zero there, keeps its meaning) and
    /// the (start, length) spans of its id, category, pattern and exception
    /// (empty for none), the id's start stored as the distance from the
    /// previous record's id start; the literal
    /// count, then per literal its owner (the low 24 bits, as the distance
    /// from the previous literal's owner modulo 2^24; the high 8 its
    /// [`shape`]), its plan ([`index::Plan`], or u32::MAX) and its span, in
    /// catalog order, the start stored as the distance from where the
    /// previous literal ends (modulo 2^32; see [`Deltas`]);
    /// the unindexed count and indices; the alphabet count and alphabets;
    /// the lead set count, then per lead set its signature and 32 bytes of
    /// set; the text's length and the text (UTF-8) every span points into,
    /// each distinct string once.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.write_bytes(true)
    }

    /// [`Self::to_bytes`] as the edge bundle ships it: the patterns of exact
    /// signatures written as empty. A literal hit alone decides those, so the
    /// edge never reads them (nor shows them: it logs ids); they are about a
    /// third of the artifact's text. Decisions are the same (tested); only
    /// [`Signature::pattern`] and what [`decided_by`] says of two exact
    /// signatures differ, so the analyst's tools load the full form.
    pub fn to_edge_bytes(&self) -> Vec<u8> {
        self.write_bytes(false)
    }

    fn write_bytes<'a>(&'a self, exact_patterns: bool) -> Vec<u8> {
        let mut text = String::new();
        let mut out = Vec::with_capacity(64 * 1024);
        // Each distinct string once (a category is shared by hundreds).
        let mut seen = std::collections::HashMap::<&str, Span>::new();
        let mut place =
            |text: &mut String, s: &'a str| *seen.entry(s).or_insert_with(|| push_span(text, s));
        let put_span = |out: &mut Vec<u8>, span: Span| {
            out.extend(span.start.to_le_bytes());
            out.extend(span.len.to_le_bytes());
        };
        // A signature's literals go into the text right after its own strings
        // (the records below point at them wherever they lie): `googlebot/`
        // beside `cua-googlebot`, where deflate finds the one in the other
        // (the zipped artifact is about 5% smaller than with the literals
        // after all the signatures).
        let mut owned: Vec<Vec<&'a str>> = vec![Vec::new(); self.signatures.len()];
        for (literal, owner) in &self.literals {
            if let Some(list) = owned.get_mut(*owner as usize) {
                list.push(literal);
            }
        }
        let mut deltas = Deltas::default();
        out.extend(BINARY_MAGIC);
        out.extend((self.signatures.len() as u32).to_le_bytes());
        let records_at = out.len();
        for (i, s) in self.signatures.iter().enumerate() {
            out.extend([
                action_code(s.action),
                u8::from(s.generic) | (u8::from(s.exact) << 1),
            ]);
            out.extend(lead_code(s.lead).to_le_bytes());
            let pattern = if s.exact && !exact_patterns {
                ""
            } else {
                &s.pattern
            };
            let id = place(&mut text, &s.id);
            put_span(&mut out, deltas.id(id));
            for string in [&s.category, pattern, s.unless.as_deref().unwrap_or("")] {
                let span = place(&mut text, string);
                put_span(&mut out, span);
            }
            for literal in &owned[i] {
                place(&mut text, literal);
            }
        }
        debug_assert_eq!(
            out.len() - records_at,
            self.signatures.len() * SIGNATURE_RECORD
        );
        let plans = index::plan(self.literals.iter().map(|(l, _)| l.as_str()));
        let shapes = self
            .literal_shapes
            .iter()
            .copied()
            .chain(std::iter::repeat(0));
        out.extend((self.literals.len() as u32).to_le_bytes());
        let literals_at = out.len();
        for (((literal, owner), shape), plan) in self.literals.iter().zip(shapes).zip(plans) {
            out.extend((deltas.owner(*owner) | (u32::from(shape) << 24)).to_le_bytes());
            out.extend(plan.unwrap_or(u32::MAX).to_le_bytes());
            let span = place(&mut text, literal);
            put_span(&mut out, deltas.literal(span));
        }
        debug_assert_eq!(
            out.len() - literals_at,
            self.literals.len() * LITERAL_RECORD
        );
        out.extend((self.unindexed.len() as u32).to_le_bytes());
        for u in &self.unindexed {
            out.extend(u.to_le_bytes());
        }
        out.extend((self.alphabets.len() as u32).to_le_bytes());
        for (signature, bits, limits, needs) in &self.alphabets {
            out.extend(signature.to_le_bytes());
            for word in bits.iter().chain(needs) {
                out.extend(word.to_le_bytes());
            }
            // Four (byte, most) pairs; (0, 255) is no limit.
            for k in 0..4 {
                let (b, n) = limits.get(k).copied().unwrap_or((0, u8::MAX));
                out.extend([b, n]);
            }
        }
        out.extend((self.lead_sets.len() as u32).to_le_bytes());
        for (signature, bytes) in &self.lead_sets {
            out.extend(signature.to_le_bytes());
            for word in bytes {
                out.extend(word.to_le_bytes());
            }
        }
        out.extend((text.len() as u32).to_le_bytes());
        out.extend(text.as_bytes());
        out
    }
}

/// A signature's alphabet and byte limits, as loaded.
#[derive(Debug, Clone, Copy)]
struct Alphabet {
    signature: u32,
    bytes: [u64; 4],
    limits: [(u8, u8); 4],
    needs: [u64; 4],
}

impl Alphabet {
    fn allows(&self, b: u8) -> bool {
        index::has_bit(&self.bytes, usize::from(b))
    }

    /// Whether a match could span all of `text`, whose bytes are `present`:
    /// every byte allowed, and no limited byte too often.
    fn admits(&self, present: &[u64; 4], text: &[u8]) -> bool {
        if (0..4).any(|i| present[i] & !self.bytes[i] != 0) {
            return false;
        }
        // Needed bytes, a letter in either case: fold the upper-case letters
        // present onto the lower-case ones (bits 65-90 onto 97-122).
        let upper = (present[1] >> 1) & ((1 << 26) - 1);
        let folded = [
            present[0],
            present[1] | (upper << 33),
            present[2],
            present[3],
        ];
        if (0..4).any(|i| self.needs[i] & !folded[i] != 0) {
            return false;
        }
        self.limits.iter().all(|&(limited, most)| {
            most == u8::MAX
                || memchr::memchr2_iter(limited, limited.to_ascii_uppercase(), text)
                    .take(usize::from(most) + 1)
                    .count()
                    <= usize::from(most)
        })
    }
}

/// The bytes `text` holds, as a 256-bit set. The ASCII half is gathered in
/// two registers (a set held in memory made each byte wait for the previous
/// one's store), each byte's bit in both words read from a 2 KB table: no
/// branch and no arithmetic on which word it falls in.
fn bytes_present(text: &[u8]) -> [u64; 4] {
    static ASCII: [[u64; 2]; 128] = {
        let mut t = [[0u64; 2]; 128];
        let mut b = 0;
        while b < 128 {
            t[b][b >> 6] = 1 << (b & 63);
            b += 1;
        }
        t
    };
    let (mut low, mut high) = (0u64, 0u64);
    let mut rest = [0u64; 2];
    for &b in text {
        if let Some(&[l, h]) = ASCII.get(usize::from(b)) {
            low |= l;
            high |= h;
        } else {
            rest[usize::from((b >> 6) & 1)] |= 1u64 << (b & 63);
        }
    }
    [low, high, rest[0], rest[1]]
}

/// Reads a binary artifact front to back (the matcher's, and
/// [`verify::VerifiedBots`]'); every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn fail(&self, what: &'static str) -> MatcherError {
        MatcherError::Binary {
            offset: self.at,
            what,
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], MatcherError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.fail(what));
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, MatcherError> {
        Ok(le32(self.take(4, what)?, 0))
    }

    /// A u32 length, then that many bytes of UTF-8.
    fn string(&mut self, what: &'static str) -> Result<String, MatcherError> {
        let n = self.count(1, what)?;
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.fail(what))
    }

    fn magic(&mut self) -> Result<(), MatcherError> {
        const BAD_MAGIC: &str = "not a bot matcher artifact (bad magic)";
        if self.take(BINARY_MAGIC.len(), BAD_MAGIC)? != BINARY_MAGIC {
            return Err(MatcherError::Binary {
                offset: 0,
                what: BAD_MAGIC,
            });
        }
        Ok(())
    }

    /// The signature records, and where the first one starts (their spans
    /// are checked once the text is known, [`check_spans`]).
    ///
    /// This and the other parts of the load are small functions of their own,
    /// out of line, each one plain loop over fixed-size records: V8 counts
    /// the code each function runs and recompiles one that runs enough with
    /// TurboFan, on a background thread, mid-load (on Lambda@Edge, CPU taken
    /// from the same small share as the cold start's). A record read field by
    /// field through the bounds-checked reader ran enough to be recompiled
    /// (7 ms of TurboFan for the record reader alone at 1,541 signatures).
    #[inline(never)]
    fn records(&mut self) -> Result<(Vec<Record>, usize), MatcherError> {
        let n = self.count(SIGNATURE_RECORD, "signature count")?;
        let at = self.at;
        let block = self.take(n * SIGNATURE_RECORD, "signature")?;
        let mut records = Vec::with_capacity(n);
        let mut deltas = Deltas::default();
        for (i, r) in block.chunks_exact(SIGNATURE_RECORD).enumerate() {
            // Where the reader stood when it found a bad head: past it.
            let fail = |what| MatcherError::Binary {
                offset: at + i * SIGNATURE_RECORD + 4,
                what,
            };
            let action = action_from_code(r[0]).ok_or_else(|| fail("unknown action"))?;
            if r[1] > 3 {
                return Err(fail("unknown signature flags"));
            }
            let id = span_at(r, 4);
            records.push(Record {
                id: Span {
                    start: deltas.id_start(id.start),
                    ..id
                },
                category: span_at(r, 4 + SPAN),
                pattern: span_at(r, 4 + 2 * SPAN),
                unless: span_at(r, 4 + 3 * SPAN),
                alphabet: u32::MAX,
                lead_set: u32::MAX,
                action,
                generic: r[1] & 1 != 0,
                exact: r[1] & 2 != 0,
                lead: u16::from_le_bytes([r[2], r[3]]).checked_sub(1),
            });
        }
        Ok((records, at))
    }

    /// The literals: their owners, shapes, plans and spans, and where the
    /// first one starts.
    #[inline(never)]
    #[allow(clippy::type_complexity)]
    fn literals(
        &mut self,
    ) -> Result<(Vec<u32>, Vec<u8>, Vec<index::Plan>, Vec<(u32, u32)>, usize), MatcherError> {
        let n = self.count(LITERAL_RECORD, "literal count")?;
        let at = self.at;
        let block = self.take(n * LITERAL_RECORD, "literal")?;
        let mut owners = Vec::with_capacity(n);
        let mut shapes = Vec::with_capacity(n);
        let mut plans = Vec::with_capacity(n);
        let mut literals = Vec::with_capacity(n);
        let mut deltas = Deltas::default();
        for (i, r) in block.chunks_exact(LITERAL_RECORD).enumerate() {
            let owner = le32(r, 0);
            let shape = (owner >> 24) as u8;
            if shape & !shape::ALL != 0 {
                return Err(MatcherError::Binary {
                    offset: at + i * LITERAL_RECORD + 4,
                    what: "unknown literal shape",
                });
            }
            owners.push(deltas.owner_of(owner & OWNER));
            shapes.push(shape);
            let plan = le32(r, 4);
            plans.push((plan != u32::MAX).then_some(plan));
            let len = le32(r, 12);
            literals.push((deltas.literal_start(le32(r, 8), len), len));
        }
        Ok((owners, shapes, plans, literals, at))
    }

    #[inline(never)]
    fn unindexed(&mut self) -> Result<Vec<u32>, MatcherError> {
        let n = self.count(4, "unindexed count")?;
        (0..n).map(|_| self.u32("unindexed signature")).collect()
    }

    #[inline(never)]
    fn alphabets(&mut self) -> Result<Vec<Alphabet>, MatcherError> {
        let n = self.count(4 + 64 + 8, "alphabet count")?;
        (0..n)
            .map(|_| {
                let signature = self.u32("alphabet signature")?;
                let b = self.take(64, "alphabet")?;
                let l = self.take(8, "alphabet limits")?;
                let limits = [(l[0], l[1]), (l[2], l[3]), (l[4], l[5]), (l[6], l[7])];
                Ok(Alphabet {
                    signature,
                    bytes: byte_set(&b[..32]),
                    limits,
                    needs: byte_set(&b[32..]),
                })
            })
            .collect()
    }

    #[inline(never)]
    fn lead_sets(&mut self) -> Result<Vec<(u32, [u64; 4])>, MatcherError> {
        let n = self.count(4 + 32, "lead set count")?;
        (0..n)
            .map(|_| {
                let signature = self.u32("lead set signature")?;
                let b = self.take(32, "lead set")?;
                Ok((signature, byte_set(b)))
            })
            .collect()
    }

    /// Where the text starts; it must run to the end of the artifact.
    fn text(&mut self) -> Result<usize, MatcherError> {
        let len = self.count(1, "text length")?;
        let text_at = self.at;
        self.take(len, "text")?;
        if self.at != self.bytes.len() {
            return Err(self.fail("trailing bytes"));
        }
        Ok(text_at)
    }

    /// A count of items of `size` bytes each: refused when the rest of the
    /// artifact could not hold them (no huge allocation on a corrupt count).
    fn count(&mut self, size: usize, what: &'static str) -> Result<usize, MatcherError> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(size) > self.bytes.len() - self.at {
            return Err(self.fail(what));
        }
        Ok(n)
    }
}

/// A 256-bit byte set as the artifact stores it: four little-endian words.
fn byte_set(b: &[u8]) -> [u64; 4] {
    let word = |i: usize| index::le64(&b[8 * i..]);
    [word(0), word(1), word(2), word(3)]
}

/// The artifact's text, which runs from `text_at` to the end, as a string in
/// the same buffer.
#[inline(never)]
fn into_text(mut bytes: Vec<u8>, text_at: usize) -> Result<String, MatcherError> {
    bytes.drain(..text_at);
    // The bytes left past the text (a stale copy of its last `text_at`
    // bytes) zeroed: the edge bundle's memory image then holds only the text
    // (`Unindexed`; zero bytes are left out of the image).
    bytes
        .spare_capacity_mut()
        .fill(std::mem::MaybeUninit::new(0));
    String::from_utf8(bytes).map_err(|e| MatcherError::Binary {
        offset: text_at + e.utf8_error().valid_up_to(),
        what: "text is not UTF-8",
    })
}

/// The u32 at `at` of a record (little-endian; `at + 4` within it).
fn le32(record: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([record[at], record[at + 1], record[at + 2], record[at + 3]])
}

/// The (start, length) span at `at` of a record.
fn span_at(record: &[u8], at: usize) -> Span {
    Span {
        start: le32(record, at),
        len: le32(record, at + 4),
    }
}

/// Whether `span` is a string of `text`: in bounds and on character
/// boundaries.
fn fits(text: &str, span: Span) -> bool {
    usize::try_from(end(span)).is_ok_and(|end| text.get(span.start as usize..end).is_some())
}

/// Where a span ends.
fn end(span: Span) -> u64 {
    u64::from(span.start) + u64::from(span.len)
}

/// Refuses any span that is not a string of `text`, naming the byte of the
/// artifact it was read at: the records' four spans each (the first record
/// at `records_at`), then the literals' (from `literals_at`). In an all-ASCII
/// text (every artifact `bot-signatures` writes) any span in bounds is a
/// string: one comparison per record settles it.
#[inline(never)]
fn check_spans(
    text: &str,
    records: &[Record],
    records_at: usize,
    literals: &[(u32, u32)],
    literals_at: usize,
) -> Result<(), MatcherError> {
    if all_ascii(text.as_bytes()) {
        let text_len = text.len() as u64;
        let in_bounds = records.iter().all(|r| {
            end(r.id)
                .max(end(r.category))
                .max(end(r.pattern))
                .max(end(r.unless))
                <= text_len
        }) && literals
            .iter()
            .all(|&(start, len)| end(Span { start, len }) <= text_len);
        if in_bounds {
            return Ok(());
        }
    }
    first_bad_span(text, records, records_at, literals, literals_at)
}

/// [`str::is_ascii`], 32 bytes a turn: on wasm32 the library's version
/// reads four bytes a turn, and on a cold start V8 counts every turn
/// towards recompiling the function that runs it.
#[inline(never)]
fn all_ascii(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(32);
    let mut high = 0u64;
    for c in &mut chunks {
        for w in c.chunks_exact(8) {
            high |= index::le64(w);
        }
    }
    high & 0x8080_8080_8080_8080 == 0 && chunks.remainder().is_ascii()
}

/// [`check_spans`], span by span, on boundaries too.
#[cold]
#[inline(never)]
fn first_bad_span(
    text: &str,
    records: &[Record],
    records_at: usize,
    literals: &[(u32, u32)],
    literals_at: usize,
) -> Result<(), MatcherError> {
    let outside = |offset| MatcherError::Binary {
        offset,
        what: "a string is outside the text",
    };
    for (i, r) in records.iter().enumerate() {
        for (k, span) in [r.id, r.category, r.pattern, r.unless]
            .into_iter()
            .enumerate()
        {
            if !fits(text, span) {
                return Err(outside(records_at + i * SIGNATURE_RECORD + 4 + k * SPAN));
            }
        }
    }
    for (i, &(start, len)) in literals.iter().enumerate() {
        if !fits(text, Span { start, len }) {
            return Err(outside(literals_at + i * LITERAL_RECORD + 8));
        }
    }
    Ok(())
}

/// A binary artifact read and checked, all but its literal index: the
/// matcher's parts, its text and its literals with their index plans.
/// [`Unindexed::index`] builds the index and gives the [`Matcher`].
///
/// Two steps so that the edge bundle can do the first at build time: `cargo
/// xtask dist` reads the artifact in the wasm module and keeps the result in
/// the module's memory image, and a cold instance only builds the index. The
/// index is left to run time because it is large and hash-shaped (its tables
/// would add about 100 KB to the zipped bundle) and quick to build.
#[derive(Debug)]
pub struct Unindexed {
    records: Vec<Record>,
    literal_owner: Vec<u32>,
    literal_shape: Vec<u8>,
    unindexed: Vec<u32>,
    unindexed_refuse_semicolon: bool,
    regex_slot: Vec<u32>,
    inexact: u32,
    unless_slot: Vec<u32>,
    excepted: u32,
    alphabets: Vec<Alphabet>,
    lead_sets: Vec<[u64; 4]>,
    text: String,
    literals: Vec<(u32, u32)>,
    plans: Vec<index::Plan>,
    literals_at: usize,
}

impl Unindexed {
    /// Reads and checks the binary artifact ([`CompiledCatalog::to_bytes`]),
    /// whose text part becomes the matcher's text in place. Corrupt or
    /// truncated bytes are an error, never a panic or a partial matcher; a
    /// literal's index plan is checked by [`Unindexed::index`].
    pub fn read(bytes: Vec<u8>) -> Result<Unindexed, MatcherError> {
        // Each part in a function of its own, see `Reader::records`.
        let mut r = Reader {
            bytes: &bytes,
            at: 0,
        };
        r.magic()?;
        let (mut records, records_at) = r.records()?;
        let (literal_owner, literal_shape, plans, literals, literals_at) = r.literals()?;
        let unindexed = r.unindexed()?;
        let alphabets = r.alphabets()?;
        let lead_sets = r.lead_sets()?;
        let text_at = r.text()?;
        let text = into_text(bytes, text_at)?;
        check_spans(&text, &records, records_at, &literals, literals_at)?;
        let len = records.len();
        // Plain loops: a cold start runs this once, in V8's baseline code.
        // The highest signature index anything refers to, if anything does.
        let highest = literal_owner
            .iter()
            .chain(&unindexed)
            .chain(alphabets.iter().map(|a| &a.signature))
            .chain(lead_sets.iter().map(|(s, _)| s))
            .copied()
            .max();
        if let Some(index) = highest
            && index as usize >= len
        {
            return Err(MatcherError::BadIndex { index, len });
        }
        for (slot, a) in alphabets.iter().enumerate() {
            records[a.signature as usize].alphabet = slot as u32;
        }
        for (slot, (signature, _)) in lead_sets.iter().enumerate() {
            records[*signature as usize].lead_set = slot as u32;
        }
        let lead_sets = lead_sets.into_iter().map(|(_, bytes)| bytes).collect();
        let mut regex_slot = vec![u32::MAX; len];
        let mut inexact = 0u32;
        for (slot, r) in regex_slot.iter_mut().zip(&records) {
            if !r.exact {
                *slot = inexact;
                inexact += 1;
            }
        }
        let mut unless_slot = vec![u32::MAX; len];
        let mut excepted = 0u32;
        for (slot, r) in unless_slot.iter_mut().zip(&records) {
            if r.unless.len > 0 {
                *slot = excepted;
                excepted += 1;
            }
        }
        let unindexed_refuse_semicolon = unindexed.iter().all(|&u| {
            alphabets
                .get(records[u as usize].alphabet as usize)
                .is_some_and(|a| !a.allows(b';'))
        });
        Ok(Unindexed {
            records,
            literal_owner,
            literal_shape,
            unindexed,
            unindexed_refuse_semicolon,
            regex_slot,
            inexact,
            unless_slot,
            excepted,
            alphabets,
            lead_sets,
            text,
            literals,
            plans,
            literals_at,
        })
    }

    /// Builds the literal index and gives the matcher; a literal whose index
    /// plan does not fit it is an error.
    pub fn index(self) -> Result<Matcher, MatcherError> {
        let Unindexed {
            records,
            literal_owner,
            literal_shape,
            unindexed,
            unindexed_refuse_semicolon,
            regex_slot,
            inexact,
            unless_slot,
            excepted,
            alphabets,
            lead_sets,
            text,
            literals,
            plans,
            literals_at,
        } = self;
        // The index keeps the text (every id, category, pattern and literal,
        // back to back): the literals are found where they lie.
        let index =
            LiteralIndex::over_text(text, &literals, &plans).map_err(|e| MatcherError::Binary {
                offset: literals_at + e.literal * LITERAL_RECORD + 4,
                what: "a literal's index plan does not fit the literal",
            })?;
        Ok(Matcher {
            records,
            literal_owner,
            literal_shape,
            index,
            unindexed,
            unindexed_refuse_semicolon,
            regexes: (0..inexact).map(|_| OnceLock::new()).collect(),
            regex_slot,
            unless: (0..excepted).map(|_| OnceLock::new()).collect(),
            unless_slot,
            alphabets,
            lead_sets,
        })
    }
}

impl Matcher {
    /// Parses and loads an artifact from its JSON bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Matcher, MatcherError> {
        Matcher::new(serde_json::from_slice(bytes)?)
    }

    /// Loads the binary artifact ([`CompiledCatalog::to_bytes`]). Corrupt or
    /// truncated bytes are an error, never a panic or a partial matcher.
    pub fn from_bytes(bytes: &[u8]) -> Result<Matcher, MatcherError> {
        Matcher::from_vec(bytes.to_vec())
    }

    /// [`Matcher::from_bytes`] taking the buffer, whose text part becomes the
    /// matcher's text in place (no copy: what the edge does on a cold start).
    pub fn from_vec(bytes: Vec<u8>) -> Result<Matcher, MatcherError> {
        Unindexed::read(bytes)?.index()
    }

    /// Loads an artifact.
    pub fn new(catalog: CompiledCatalog) -> Result<Matcher, MatcherError> {
        if catalog.version != ARTIFACT_VERSION {
            return Err(MatcherError::Version {
                found: catalog.version,
                expected: ARTIFACT_VERSION,
            });
        }
        if !catalog.literal_shapes.is_empty()
            && catalog.literal_shapes.len() != catalog.literals.len()
        {
            return Err(MatcherError::Binary {
                offset: 0,
                what: "the literal shapes do not match the literals one to one",
            });
        }
        // One load path: the edge's, through the binary form.
        Matcher::from_vec(catalog.to_bytes())
    }

    fn str(&self, span: Span) -> &str {
        &self.index.text()[span.start as usize..(span.start + span.len) as usize]
    }

    /// The signature at `index` in precedence order.
    ///
    /// # Panics
    /// When `index >= self.len()`.
    pub fn signature(&self, index: usize) -> Signature<'_> {
        let r = &self.records[index];
        Signature {
            id: self.str(r.id),
            action: r.action,
            category: self.str(r.category),
            generic: r.generic,
            pattern: self.str(r.pattern),
            exact: r.exact,
            lead: r.lead,
            unless: (r.unless.len > 0).then(|| self.str(r.unless)),
        }
    }

    /// How many signatures are loaded.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no signature is loaded.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// All signatures, in precedence order.
    pub fn signatures(&self) -> impl ExactSizeIterator<Item = Signature<'_>> + '_ {
        (0..self.records.len()).map(|i| self.signature(i))
    }

    /// The signature that decides `user_agent`, or `None` when none matches.
    pub fn classify(&self, user_agent: &str) -> Option<Verdict<'_>> {
        // The first match in precedence order decides; the rest are never
        // confirmed. (`matches(..).next()` would do, but moves the candidate
        // list into the iterator: a copy of about 200 bytes per call.)
        let (mut candidates, mut present) = (Candidates::default(), Seen::default());
        self.candidates(user_agent, &mut candidates, &mut present);
        let len = candidates.sort_dedup();
        // Most user-agents (browsers) have no candidate: no call, so a cold
        // instance's first browser does not compile the confirmations.
        if len == 0 {
            return None;
        }
        self.first_confirmed(&candidates.list()[..len], user_agent, &mut present)
            .map(|(index, _)| self.verdict(index))
    }

    /// The first of `candidates` (sorted, deduplicated entries) that
    /// [`Matcher::confirm`] confirms, with its position in the list.
    fn first_confirmed(
        &self,
        candidates: &[u64],
        user_agent: &str,
        present: &mut Seen,
    ) -> Option<(u32, usize)> {
        candidates.iter().enumerate().find_map(|(at, &entry)| {
            let (index, first_hit) = ((entry >> 32) as u32, entry as u32 as usize);
            self.confirm(index as usize, user_agent, first_hit, present)
                .then_some((index, at))
        })
    }

    /// Every signature that matches `user_agent`, in precedence order (the
    /// first one decides), confirmed one at a time as the caller asks: the
    /// edge stops at the first claim it can prove, so the signatures after it
    /// (often generic rules that need a regex) are never run. Used to check a
    /// good bot's claim and to explain a decision.
    pub fn matches<'m, 'u>(&'m self, user_agent: &'u str) -> Matches<'m, 'u> {
        let (mut candidates, mut present) = (Candidates::default(), Seen::default());
        self.candidates(user_agent, &mut candidates, &mut present);
        let len = candidates.sort_dedup();
        Matches {
            matcher: self,
            user_agent,
            candidates,
            at: 0,
            len,
            present,
        }
    }

    fn verdict(&self, index: u32) -> Verdict<'_> {
        Verdict {
            index: index as usize,
            signature: self.signature(index as usize),
        }
    }

    /// The signatures that may match: those whose literal occurs, and those
    /// without literals (unless `user_agent` has a ';' none of them allows:
    /// most user-agents do; then `present` learns it has one).
    fn candidates(&self, user_agent: &str, out: &mut Candidates, present: &mut Seen) {
        let refused = self.unindexed_refuse_semicolon && present.semicolon(user_agent.as_bytes());
        if !refused {
            for &index in &self.unindexed {
                out.push(index, 0);
            }
        }
        let bytes = user_agent.as_bytes();
        self.index.for_each_hit(user_agent, |literal, start, end| {
            let shape = self.literal_shape[literal as usize];
            if shape == 0 || shape::fits(shape, bytes, start, end) {
                out.push(self.literal_owner[literal as usize], start);
            }
        });
    }

    /// Whether signature `index` (a candidate) matches `user_agent`; cheapest
    /// test first: the alphabet (with `present`: whether the user-agent has a
    /// `;`, and its bytes, each computed once per user-agent when first
    /// needed), the exception's words, the pattern's regex (from `first_hit`,
    /// the first hit of one of its literals, less its lead), the rest of the
    /// exception.
    fn confirm(
        &self,
        index: usize,
        user_agent: &str,
        first_hit: usize,
        present: &mut Seen,
    ) -> bool {
        let record = &self.records[index];
        let text = user_agent.as_bytes();
        if let Some(a) = self.alphabets.get(record.alphabet as usize) {
            // Most user-agents have a ';', which few anchored patterns allow:
            // one fast search before the pass over every byte.
            if !a.allows(b';') && present.semicolon(text) {
                return false;
            }
            let bytes = present.bytes.get_or_insert_with(|| bytes_present(text));
            if !a.admits(bytes, text) {
                return false;
            }
        }
        // An exception that does not compile excepts nothing: the rule stays
        // as strict as its pattern (fail closed).
        let exception = (record.unless.len > 0)
            .then(|| self.unless.get(self.unless_slot[index] as usize))
            .flatten()
            .map(|slot| slot.get_or_init(|| exception::Exception::new(self.str(record.unless))));
        if exception.is_some_and(|e| e.spares_by_words(user_agent)) {
            return false;
        }
        if !record.exact {
            let Some(slot) = self.regexes.get(self.regex_slot[index] as usize) else {
                return false;
            };
            // A pattern that does not compile here never matches; `bot-signatures
            // check` refuses such patterns, so this only guards a hand-edited artifact.
            let before = self.lead_sets.get(record.lead_set as usize);
            let from = regex_start(user_agent, first_hit, record.lead, before);
            if !lazy_regex(slot, self.str(record.pattern))
                .is_some_and(|r| r.is_match_at(user_agent, from))
            {
                return false;
            }
        }
        !exception.is_some_and(|e| e.spares_by_rest(user_agent))
    }
}

/// Where the edge starts a signature's confirming regex in `text`, given the
/// first hit of one of its literals: `lead` bytes before it when the lead is
/// bounded, else where the run of its lead set's bytes ending at the hit
/// starts ([`walk_back`]), else the start of the text; always on a character
/// boundary (a start inside a character moves back to its first byte).
pub fn regex_start(
    text: &str,
    first_hit: usize,
    lead: Option<u16>,
    before: Option<&[u64; 4]>,
) -> usize {
    let from = match (lead, before) {
        (Some(lead), _) => first_hit.saturating_sub(usize::from(lead)),
        (None, Some(before)) => walk_back(text.as_bytes(), first_hit, before),
        (None, None) => 0,
    };
    char_start(text, from)
}

/// The start of the character at byte `at` of `text` (or its end).
fn char_start(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The regex in `slot`, compiled (ASCII case-insensitively, see [`engine`])
/// the first time.
fn lazy_regex<'a>(
    slot: &'a OnceLock<Option<engine::Regex>>,
    pattern: &str,
) -> Option<&'a engine::Regex> {
    slot.get_or_init(|| engine::Regex::new(pattern)).as_ref()
}

/// Candidate signatures, each with where one of its literals was hit
/// (signature index in the high 32 bits, byte offset in the low ones): on the
/// stack for the usual handful, on the heap past that.
#[derive(Default)]
struct Candidates {
    inline: [u64; 16],
    len: usize,
    spill: Vec<u64>,
}

impl Candidates {
    fn push(&mut self, index: u32, hit: usize) {
        let entry = (u64::from(index) << 32) | u64::from(u32::try_from(hit).unwrap_or(u32::MAX));
        if self.len < self.inline.len() {
            self.inline[self.len] = entry;
            self.len += 1;
        } else {
            if self.spill.is_empty() {
                self.spill.extend_from_slice(&self.inline);
            }
            self.spill.push(entry);
        }
    }

    /// Sorts and keeps one entry per signature, its first hit; returns how
    /// many are kept (the first ones of [`Candidates::list`]).
    fn sort_dedup(&mut self) -> usize {
        let list: &mut [u64] = if self.spill.is_empty() {
            &mut self.inline[..self.len]
        } else {
            &mut self.spill
        };
        list.sort_unstable();
        let mut kept = 0;
        for i in 0..list.len() {
            if kept == 0 || list[i] >> 32 != list[kept - 1] >> 32 {
                list[kept] = list[i];
                kept += 1;
            }
        }
        kept
    }

    fn list(&self) -> &[u64] {
        if self.spill.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }
}

/// The signatures matching one user-agent, in precedence order, each
/// confirmed only when asked for ([`Matcher::matches`]).
pub struct Matches<'m, 'u> {
    matcher: &'m Matcher,
    user_agent: &'u str,
    candidates: Candidates,
    at: usize,
    len: usize,
    present: Seen,
}

/// What the alphabet checks learnt about one user-agent, each computed the
/// first time a candidate needs it: whether it has a `;` (most do, and few
/// anchored patterns allow one: the signatures without literals, which are
/// candidates for every user-agent, all ask), and which bytes it has.
#[derive(Default)]
struct Seen {
    semicolon: Option<bool>,
    bytes: Option<[u64; 4]>,
}

impl Seen {
    /// Whether `text` (the user-agent) has a ';', searched for once.
    fn semicolon(&mut self, text: &[u8]) -> bool {
        *self
            .semicolon
            .get_or_insert_with(|| memchr::memchr(b';', text).is_some())
    }
}

impl<'m> Iterator for Matches<'m, '_> {
    type Item = Verdict<'m>;

    fn next(&mut self) -> Option<Verdict<'m>> {
        let rest = &self.candidates.list()[self.at.min(self.len)..self.len];
        match self
            .matcher
            .first_confirmed(rest, self.user_agent, &mut self.present)
        {
            Some((index, at)) => {
                self.at += at + 1;
                Some(self.matcher.verdict(index))
            }
            None => {
                self.at = self.len;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, action: Action, generic: bool, pattern: &str, exact: bool) -> SignatureMeta {
        SignatureMeta {
            id: id.into(),
            action,
            category: "test".into(),
            generic,
            pattern: pattern.into(),
            exact,
            lead: None,
            unless: None,
        }
    }

    /// A catalog of no signatures, at the current version.
    fn empty() -> CompiledCatalog {
        CompiledCatalog {
            version: ARTIFACT_VERSION,
            signatures: vec![],
            literals: vec![],
            literal_shapes: vec![],
            unindexed: vec![],
            alphabets: vec![],
            lead_sets: vec![],
        }
    }

    fn sample() -> Matcher {
        Matcher::new(CompiledCatalog {
            version: ARTIFACT_VERSION,
            signatures: vec![
                meta("googlebot", Action::Allow, false, "googlebot", true),
                meta("foo-version", Action::Block, false, r"foo/\d", false),
                meta("generic-bot", Action::Block, true, "bot", true),
            ],
            literals: vec![
                ("googlebot".into(), 0),
                ("foo/".into(), 1),
                ("bot".into(), 2),
            ],
            literal_shapes: vec![],
            unindexed: vec![],
            alphabets: vec![],
            lead_sets: vec![],
        })
        .unwrap()
    }

    #[test]
    fn lowest_index_decides() {
        let m = sample();
        let v = m
            .classify("Mozilla/5.0 (compatible; Googlebot/2.1)")
            .unwrap();
        assert_eq!(v.signature.id, "googlebot");
        assert_eq!(
            m.matches("Mozilla/5.0 (compatible; Googlebot/2.1)").count(),
            2
        );
    }

    #[test]
    fn regex_confirms_non_exact() {
        let m = sample();
        assert_eq!(m.classify("FOO/2").unwrap().signature.id, "foo-version");
        assert!(m.classify("foo/x").is_none());
    }

    /// A catalog whose generic rule has an exception, and a specific
    /// signature below nothing.
    fn with_unless(unless: &str) -> Matcher {
        let mut rule = meta("generic-bot", Action::Block, true, r"bot\b", false);
        rule.unless = Some(unless.into());
        Matcher::new(CompiledCatalog {
            version: ARTIFACT_VERSION,
            signatures: vec![
                meta("foo-version", Action::Block, false, r"foo/\d", false),
                rule,
            ],
            literals: vec![("foo/".into(), 0), ("bot".into(), 1)],
            literal_shapes: vec![],
            unindexed: vec![],
            alphabets: vec![],
            lead_sets: vec![],
        })
        .unwrap()
    }

    #[test]
    fn an_exception_spares_what_it_matches_and_nothing_else() {
        let m = with_unless(r"android [\d.]+; [^;)]*bot[^;)]* build/");
        assert_eq!(
            m.classify("Mozilla/5.0 (compatible; QuokkaBot/1.0)")
                .unwrap()
                .signature
                .id,
            "generic-bot"
        );
        // Case-insensitive, like the pattern.
        let phone = "Mozilla/5.0 (Linux; ANDROID 10; Q bot 7 BUILD/QP1A)";
        assert!(m.classify(phone).is_none());
        assert_eq!(m.matches(phone).count(), 0);
        // The exception is the rule's own: another signature still decides.
        let both = "Mozilla/5.0 (Linux; Android 10; Q bot 7 Build/QP1A) foo/2";
        assert_eq!(m.classify(both).unwrap().signature.id, "foo-version");
        assert_eq!(m.matches(both).count(), 1);
        // The loaded signature shows it; the round trip keeps it.
        let sig = m.signature(1);
        assert_eq!(sig.unless, Some(r"android [\d.]+; [^;)]*bot[^;)]* build/"));
        assert_eq!(sig.to_meta().unless.as_deref(), sig.unless);
        assert_eq!(m.signature(0).unless, None);
        assert!(!sig.exact);
    }

    #[test]
    fn an_exception_that_does_not_compile_spares_nothing() {
        let m = with_unless("(unclosed");
        assert_eq!(
            m.classify("Mozilla/5.0 (Linux; Android 10; Q bot 7 Build/QP1A)")
                .unwrap()
                .signature
                .id,
            "generic-bot"
        );
    }

    #[test]
    fn shapes_ask_for_what_surrounds_a_hit() {
        use shape::{VERSION_AFTER as V, WORD_END as E, WORD_START as S, fits};
        let t = b"(Foo/2 _Foo/v3 xFoo/ Foo/V Foo";
        // "Foo/" at 1..5, "_Foo/" at 8..12, "xFoo/" at 16..20, "Foo/" at 21..25, "Foo" at 27..30.
        assert!(fits(S, t, 1, 5) && fits(S | V, t, 1, 5));
        assert!(!fits(S, t, 8, 12), "'_' is a word character");
        assert!(fits(V, t, 8, 12), "'v3' is a version");
        assert!(!fits(S, t, 17, 20));
        assert!(!fits(V, t, 17, 20), "a space is no version");
        assert!(!fits(V, t, 21, 25), "'V' without a digit is no version");
        assert!(fits(S | E, t, 27, 30), "the end of the text is a boundary");
        assert!(fits(S | E, b"Foo", 0, 3), "so is the start");
        assert!(!fits(E, b"Foox", 0, 3));
        assert!(fits(E, b"Foo-", 0, 3));
        assert!(!fits(V, b"Foo/", 0, 4), "nothing after");
        assert!(fits(0, b"xFoox", 1, 4));
    }

    #[test]
    fn an_alphabet_turns_away_bytes_counts_and_missing_bytes() {
        let set = |bytes: &[u8]| {
            let mut s = [0u64; 4];
            for &b in bytes {
                s[usize::from(b >> 6)] |= 1 << (b & 63);
            }
            s
        };
        let letters: Vec<u8> = (b'a'..=b'z')
            .chain(b'A'..=b'Z')
            .chain(b"0123456789/. ".iter().copied())
            .collect();
        // `^[a-z]+/[0-9.]+ x$`-like: one '/', at most one space, needs 'x' and '/'.
        let m = Matcher::new(CompiledCatalog {
            version: ARTIFACT_VERSION,
            signatures: vec![meta(
                "anchored",
                Action::Block,
                true,
                r"^[a-z]+/[0-9.]+ x$",
                false,
            )],
            literals: vec![],
            literal_shapes: vec![],
            unindexed: vec![0],
            alphabets: vec![(0, set(&letters), vec![(b'/', 1), (b' ', 1)], set(b"x/"))],
            lead_sets: vec![],
        })
        .unwrap();
        assert!(m.classify("quokka/1.0 x").is_some());
        assert!(
            m.classify("Quokka/1.0 X").is_some(),
            "either case of a needed letter"
        );
        assert!(
            m.classify("quokka/1.0 x;").is_none(),
            "a byte outside the alphabet"
        );
        assert!(m.classify("quokka/1/0 x").is_none(), "two slashes");
        assert!(m.classify("quokka/1.0  x").is_none(), "two spaces");
        assert!(
            m.classify("quokka/1.0 y").is_none(),
            "no x: refused before the regex"
        );
        // Bytes outside the alphabet are not needed bytes: the regex decides.
        assert!(m.classify("quokka/1.0 xx").is_none());
        // An alphabet that allows ';' is not turned away by the one-search
        // shortcut for ';'.
        let m = Matcher::new(CompiledCatalog {
            version: ARTIFACT_VERSION,
            signatures: vec![meta("semi", Action::Block, true, r"^[a-z;]+$", false)],
            literals: vec![],
            literal_shapes: vec![],
            unindexed: vec![0],
            alphabets: vec![(
                0,
                set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ;"),
                vec![],
                [0; 4],
            )],
            lead_sets: vec![],
        })
        .unwrap();
        assert!(m.classify("quokka;numbat").is_some());
        assert!(m.classify("quokka;numbat/1").is_none());
    }

    /// A literal whose plan does not fit it is refused at the byte of that
    /// plan in the artifact.
    #[test]
    fn a_bad_plan_is_refused_where_it_was_read() {
        let catalog = round_trip_catalog();
        let bytes = catalog.to_bytes();
        let (_, literals_at) = records_and_literals_at(&catalog);
        for k in [0, 3] {
            let plan_at = literals_at + k * LITERAL_RECORD + 4;
            let bad = with_words(&bytes, plan_at, &[1000]);
            assert_eq!(
                refusal(&bad, &format!("plan of literal {k}")),
                (plan_at, "a literal's index plan does not fit the literal")
            );
        }
    }

    /// The edge reads an artifact at build time ([`Unindexed::read`]) and
    /// builds its index at run time ([`Unindexed::index`]): reading refuses
    /// every cut of an artifact, and a bad plan passes it to be refused by
    /// the index, where it was read (the build loads the prepared instance
    /// once for this, `xtask/prepare.cjs`).
    #[test]
    fn reading_refuses_all_but_a_bad_plan_which_the_index_refuses() {
        let catalog = round_trip_catalog();
        let bytes = catalog.to_bytes();
        for cut in 0..bytes.len() {
            assert!(
                Unindexed::read(bytes[..cut].to_vec()).is_err(),
                "cut at {cut}"
            );
        }
        let (_, literals_at) = records_and_literals_at(&catalog);
        let plan_at = literals_at + 4;
        let read = Unindexed::read(with_words(&bytes, plan_at, &[1000])).expect("read");
        match read.index() {
            Err(MatcherError::Binary { offset, what }) => {
                assert_eq!(
                    (offset, what),
                    (plan_at, "a literal's index plan does not fit the literal")
                );
            }
            other => panic!("expected the bad plan refused, got {other:?}"),
        }
        let whole = Unindexed::read(bytes)
            .expect("read")
            .index()
            .expect("index");
        assert_eq!(whole.len(), catalog.signatures.len());
    }

    #[test]
    fn shapes_must_be_known_and_one_per_literal() {
        let mut c = round_trip_catalog();
        c.literal_shapes = vec![0; 2];
        let err = Matcher::new(c).unwrap_err().to_string();
        assert!(err.contains("literal shapes do not match"), "{err}");
        let mut c = round_trip_catalog();
        c.literal_shapes[0] = 16;
        let err = Matcher::new(c).unwrap_err().to_string();
        assert!(err.contains("unknown literal shape"), "{err}");
    }

    #[test]
    fn an_exact_signature_with_an_exception_runs_only_the_exception() {
        let mut rule = meta("generic-bot", Action::Block, true, r"bot\b", true);
        rule.unless = Some(r"\b(?:cubot|robot)|android [\d.]+; [^;)]*bot".into());
        let m = Matcher::new(CompiledCatalog {
            version: ARTIFACT_VERSION,
            signatures: vec![rule],
            literals: vec![("bot".into(), 0)],
            literal_shapes: vec![shape::WORD_END],
            unindexed: vec![],
            alphabets: vec![],
            lead_sets: vec![],
        })
        .unwrap();
        assert!(m.signature(0).exact);
        assert!(m.classify("QuokkaBot/1.0").is_some());
        assert!(m.classify("Botany").is_none(), "the literal's shape");
        assert!(
            m.classify("Cubot Note 7").is_none(),
            "a word of the exception"
        );
        assert!(m.classify("ROBOT arm").is_none(), "a word of the exception");
        assert!(
            m.classify("x (Linux; Android 9; Q bot 7)").is_none(),
            "the exception's regex"
        );
        assert!(
            m.classify("x (Linux; Android 9; Pixel) QuokkaBot/1")
                .is_some()
        );
    }

    #[test]
    fn no_match_is_none() {
        assert!(
            sample()
                .classify("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
                .is_none()
        );
    }

    #[test]
    fn bad_index_and_version_are_errors() {
        let mut c = CompiledCatalog {
            version: ARTIFACT_VERSION,
            signatures: vec![],
            literals: vec![("x".into(), 0)],
            literal_shapes: vec![],
            unindexed: vec![],
            alphabets: vec![],
            lead_sets: vec![],
        };
        assert!(matches!(
            Matcher::new(c.clone()),
            Err(MatcherError::BadIndex { index: 0, len: 0 })
        ));
        c.literals.clear();
        c.version = 99;
        assert!(matches!(
            Matcher::new(c),
            Err(MatcherError::Version { found: 99, .. })
        ));
    }

    /// The edge's form decides as the full one does, and leaves out the
    /// patterns of exact signatures and only those.
    #[test]
    fn the_edge_form_leaves_out_exact_patterns_and_decides_the_same() {
        let catalog = round_trip_catalog();
        let full = Matcher::from_bytes(&catalog.to_bytes()).unwrap();
        let edge_bytes = catalog.to_edge_bytes();
        let edge = Matcher::from_bytes(&edge_bytes).unwrap();
        assert!(edge_bytes.len() < catalog.to_bytes().len());
        let (mut exact, mut regex) = (0, 0);
        for (e, f) in edge.signatures().zip(full.signatures()) {
            assert_eq!((e.id, e.exact, e.unless), (f.id, f.exact, f.unless));
            if f.exact {
                assert_eq!(e.pattern, "", "{}", e.id);
                exact += 1;
            } else {
                assert_eq!(e.pattern, f.pattern);
                regex += 1;
            }
        }
        assert!(
            exact > 0 && regex > 0,
            "{exact} exact, {regex} with a regex"
        );
        for ua in [
            "Googlebot/2.1",
            "foo/1 bot",
            "go http",
            "GO bot",
            "a go bot",
            "a gopher bot",
            "(AhrefsBot/7.0)",
            "AhrefsBot/v7",
            "Mozilla/5.0 (X11; Linux x86_64)",
            "",
        ] {
            let ids = |m: &Matcher| {
                m.matches(ua)
                    .map(|x| x.signature.id.to_owned())
                    .collect::<Vec<_>>()
            };
            assert_eq!(ids(&edge), ids(&full), "{ua}");
        }
    }

    #[test]
    fn binary_artifact_round_trips() {
        let catalog = round_trip_catalog();
        let bytes = catalog.to_bytes();
        let from_bytes = Matcher::from_bytes(&bytes).unwrap();
        let from_struct = Matcher::new(catalog.clone()).unwrap();
        let metas: Vec<SignatureMeta> = from_bytes.signatures().map(|s| s.to_meta()).collect();
        assert_eq!(metas, catalog.signatures);
        // Matcher::new goes through the binary form too, so check the
        // decisions themselves (all matches, in precedence order).
        for (ua, want) in [
            (
                "Googlebot/2.1",
                &["googlebot", "generic-go", "generic-bot"][..],
            ),
            ("foo/1 bot", &["foo-version", "generic-bot"]),
            ("go http", &["go-client", "generic-go"]),
            ("GO bot", &["go-client", "generic-go", "generic-bot"]),
            ("a go bot", &["generic-go", "generic-bot"]),
            ("a gopher bot", &["generic-bot"]),
            ("(AhrefsBot/7.0)", &["ahrefs", "generic-bot"]),
            ("AhrefsBot/v7", &["ahrefs", "generic-bot"]),
            ("xAhrefsBot/7.0", &["generic-bot"]),
            ("AhrefsBot/x", &["generic-bot"]),
            ("AhrefsBot/v", &["generic-bot"]),
            ("browser", &[]),
            ("", &[]),
        ] {
            for m in [&from_bytes, &from_struct] {
                let ids: Vec<&str> = m.matches(ua).map(|v| v.signature.id).collect();
                assert_eq!(ids, want, "{ua}");
            }
        }
        // Every truncation is refused, as is a trailing byte or a bad magic.
        for cut in 0..bytes.len() {
            assert!(Matcher::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Matcher::from_bytes(&longer).is_err());
        let mut bad = bytes;
        bad[0] ^= 1;
        assert!(matches!(
            Matcher::from_bytes(&bad),
            Err(MatcherError::Binary { offset: 0, .. })
        ));
    }

    fn round_trip_catalog() -> CompiledCatalog {
        CompiledCatalog {
            version: ARTIFACT_VERSION,
            signatures: vec![
                meta("googlebot", Action::Allow, false, "googlebot", true),
                SignatureMeta {
                    lead: Some(0),
                    ..meta("foo-version", Action::Block, false, r"foo/\d", false)
                },
                SignatureMeta {
                    lead: Some(0x0129),
                    ..meta("go-client", Action::RateLimit, false, "^go ", false)
                },
                SignatureMeta {
                    unless: Some("gopher".into()),
                    ..meta("generic-go", Action::Monitor, true, "go", false)
                },
                meta("ahrefs", Action::Block, false, r"\bahrefsbot/v?\d", true),
                meta("generic-bot", Action::Monitor, true, "bot", true),
            ],
            literals: vec![
                ("googlebot".into(), 0),
                ("foo/".into(), 1),
                ("go".into(), 2),
                ("go".into(), 3),
                ("ahrefsbot/".into(), 4),
                ("bot".into(), 5),
            ],
            literal_shapes: vec![0, 0, 0, 0, shape::WORD_START | shape::VERSION_AFTER, 0],
            unindexed: vec![1],
            alphabets: vec![],
            // Digits, space and punctuation before "go" (changes no verdict
            // here; puts a lead set in every artifact the tests corrupt).
            lead_sets: vec![(3, [u64::MAX, 0, 0, 0])],
        }
    }

    /// Where the first signature record and the first literal record of
    /// `catalog`'s binary form start.
    fn records_and_literals_at(catalog: &CompiledCatalog) -> (usize, usize) {
        let records_at = BINARY_MAGIC.len() + 4;
        (
            records_at,
            records_at + catalog.signatures.len() * SIGNATURE_RECORD + 4,
        )
    }

    /// `bytes` with `words` (u32, little-endian) written from byte `at`.
    fn with_words(bytes: &[u8], at: usize, words: &[u32]) -> Vec<u8> {
        let mut bad = bytes.to_vec();
        for (k, w) in words.iter().enumerate() {
            bad[at + 4 * k..at + 4 * k + 4].copy_from_slice(&w.to_le_bytes());
        }
        bad
    }

    /// Where and why the binary artifact `bytes` is refused; panics, saying
    /// `case`, when it loads or fails otherwise.
    fn refusal(bytes: &[u8], case: &str) -> (usize, &'static str) {
        match Matcher::from_bytes(bytes) {
            Err(MatcherError::Binary { offset, what }) => (offset, what),
            other => panic!("{case}: {other:?}"),
        }
    }

    /// Every byte of a valid artifact, flipped in several ways: refused, or a
    /// matcher whose every string lies in its text and that classifies
    /// without panicking. Counts both, so the loop cannot go vacuous.
    #[test]
    fn every_single_byte_corruption_is_refused_or_harmless() {
        let bytes = round_trip_catalog().to_bytes();
        let (mut refused, mut loaded) = (0, 0);
        for at in 0..bytes.len() {
            for flip in [0x01u8, 0x04, 0x80, 0xFF] {
                let mut bad = bytes.clone();
                bad[at] ^= flip;
                match Matcher::from_bytes(&bad) {
                    Err(_) => refused += 1,
                    Ok(m) => {
                        loaded += 1;
                        for sig in m.signatures() {
                            let _ = (sig.id.len(), sig.category.len(), sig.pattern.len());
                        }
                        for ua in ["Googlebot/2.1", "foo/1 bot", "GO bot", "go http", "x"] {
                            let _ = m.matches(ua);
                        }
                    }
                }
            }
        }
        assert!(
            refused > 100 && loaded > 10,
            "{refused} refused, {loaded} loaded"
        );
    }

    #[test]
    fn flags_and_lead_of_a_record_are_checked() {
        let catalog = round_trip_catalog();
        let bytes = catalog.to_bytes();
        // The first record's head follows the magic and the count.
        let head = BINARY_MAGIC.len() + 4;
        assert_eq!(
            &bytes[head + 1..head + 4],
            &[2, 0, 0],
            "exact, not generic, no lead"
        );
        for (byte, value) in [(1, 4u8), (1, 0x83)] {
            let mut bad = bytes.clone();
            bad[head + byte] = value;
            assert!(
                matches!(
                    Matcher::from_bytes(&bad),
                    Err(MatcherError::Binary {
                        what: "unknown signature flags",
                        ..
                    })
                ),
                "byte {byte} = {value:#x}"
            );
        }
        // The lead is stored plus one, little-endian; zero is none (what an
        // artifact written before leads holds there).
        let second = head + SIGNATURE_RECORD;
        let third = second + SIGNATURE_RECORD;
        assert_eq!(&bytes[second + 2..second + 4], &[1, 0]);
        assert_eq!(&bytes[third + 2..third + 4], &[0x2A, 0x01]);
        let m = Matcher::from_bytes(&bytes).unwrap();
        let leads: Vec<_> = m.signatures().map(|s| s.lead).collect();
        assert_eq!(
            leads,
            catalog
                .signatures
                .iter()
                .map(|s| s.lead)
                .collect::<Vec<_>>()
        );
        assert_eq!(leads[..3], [None, Some(0), Some(0x0129)]);
        let mut none = bytes.clone();
        none[third + 2..third + 4].copy_from_slice(&[0, 0]);
        assert_eq!(Matcher::from_bytes(&none).unwrap().signature(2).lead, None);
        assert_eq!(lead_code(Some(u16::MAX)), 0, "too long to store: none");
    }

    /// The regex of a signature with a lead starts that many bytes before
    /// its literal's first hit: a match that starts earlier than the lead
    /// allows is not found (so the lead is what bounds the search), one
    /// within it is, and so is a match at a later hit of the literal.
    #[test]
    fn the_regex_starts_a_lead_before_the_first_hit() {
        let with_lead = |lead| {
            Matcher::new(CompiledCatalog {
                version: ARTIFACT_VERSION,
                signatures: vec![SignatureMeta {
                    lead,
                    ..meta("x-foo", Action::Block, false, r"x+foo/\d", false)
                }],
                literals: vec![("foo/".into(), 0)],
                literal_shapes: vec![],
                unindexed: vec![],
                alphabets: vec![],
                lead_sets: vec![],
            })
            .unwrap()
        };
        let ua = "a xxxfoo/1";
        assert!(with_lead(None).classify(ua).is_some());
        // The match starts three bytes before the hit.
        assert!(with_lead(Some(3)).classify(ua).is_some());
        assert!(with_lead(Some(1)).classify(ua).is_some(), "x+ needs one x");
        assert!(
            with_lead(Some(0)).classify(ua).is_none(),
            "no x after the start"
        );
        // A later hit that matches is found from an earlier one.
        assert!(with_lead(Some(1)).classify("foo/ xfoo/1").is_some());
        // Look-around sees the bytes before the start: no word boundary
        // invented mid-word.
        let bounded = Matcher::new(CompiledCatalog {
            version: ARTIFACT_VERSION,
            signatures: vec![SignatureMeta {
                lead: Some(0),
                ..meta("b-foo", Action::Block, false, r"\bfoo/\d", false)
            }],
            literals: vec![("foo/".into(), 0)],
            literal_shapes: vec![],
            unindexed: vec![],
            alphabets: vec![],
            lead_sets: vec![],
        })
        .unwrap();
        assert!(bounded.classify("xfoo/1").is_none());
        assert!(bounded.classify("x foo/1").is_some());
        // A start inside a character moves back to its first byte.
        assert_eq!(char_start("aé", 2), 1);
        assert_eq!(char_start("aé", 9), 3);
    }

    /// With no lead, the regex starts where the run of the signature's lead
    /// set ends at the first hit: a match starting before that run is not
    /// found (so the set is what bounds the search, and it is read from the
    /// artifact), one inside it is.
    #[test]
    fn an_unbounded_lead_starts_the_regex_at_the_run_before_the_hit() {
        let bytes = |s: &[u8]| {
            let mut set = [0u64; 4];
            for &b in s {
                set[usize::from(b >> 6)] |= 1 << (b & 63);
            }
            set
        };
        let with_set = |set: Option<[u64; 4]>| {
            Matcher::new(CompiledCatalog {
                version: ARTIFACT_VERSION,
                signatures: vec![meta(
                    "mail",
                    Action::Block,
                    false,
                    r"[;+] ?[a-z.]+@x\.org",
                    false,
                )],
                literals: vec![("@x.org".into(), 0)],
                literal_shapes: vec![],
                unindexed: vec![],
                alphabets: vec![],
                lead_sets: set.map(|s| (0, s)).into_iter().collect(),
            })
            .unwrap()
        };
        let ua = "Foo/1.0 (+me.too@x.org)";
        let right = bytes(b";+ abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.");
        assert!(
            with_set(None).classify(ua).is_some(),
            "no set: from the start"
        );
        assert!(with_set(Some(right)).classify(ua).is_some());
        assert!(
            with_set(Some(bytes(b"abcdefghijklmnopqrstuvwxyz.")))
                .classify(ua)
                .is_none(),
            "a set without the '+' stops the walk after it"
        );
        // A later hit that matches is found from an earlier one.
        assert!(
            with_set(Some(right))
                .classify("a@x.org; me@x.org")
                .is_some()
        );
        assert_eq!(walk_back(b"ab(cd@", 5, &bytes(b"abcd")), 3);
        assert_eq!(walk_back(b"cd@", 2, &bytes(b"abcd")), 0);
        assert_eq!(walk_back(b"cd@", 9, &bytes(b"abcd@")), 0, "past the end");
        assert_eq!(
            walk_back("é@".as_bytes(), 2, &[0, 0, u64::MAX, u64::MAX]),
            0
        );
    }

    /// A span past the text, or splitting a character, is refused at the
    /// byte it was read from: each of a record's four spans, and a literal's.
    #[test]
    fn a_string_outside_the_text_is_refused_where_it_was_read() {
        let catalog = round_trip_catalog();
        let bytes = catalog.to_bytes();
        let (records_at, literals_at) = records_and_literals_at(&catalog);
        // The second record's id start is stored as its distance from the
        // first's, the third literal's from where the second ends (the
        // first record's id starts the text, at 0).
        let second_literal = literals_at + LITERAL_RECORD + 8;
        let second_end = catalog.literals[0].0.len() as u32
            + u32::from_le_bytes(bytes[literals_at + 8..][..4].try_into().unwrap())
            + u32::from_le_bytes(bytes[second_literal..][..4].try_into().unwrap())
            + catalog.literals[1].0.len() as u32;
        let mut places: Vec<(usize, u32)> = (0..4)
            .map(|k| (records_at + SIGNATURE_RECORD + 4 + k * SPAN, 0))
            .collect();
        places.push((literals_at + 2 * LITERAL_RECORD + 8, second_end));
        for (at, from) in places {
            for (start, len) in [(u32::MAX - 1, 4u32), (0, u32::MAX), (1_000_000, 0)] {
                let bad = with_words(&bytes, at, &[start.wrapping_sub(from), len]);
                assert_eq!(
                    refusal(&bad, &format!("span ({start}, {len}) at {at}")),
                    (at, "a string is outside the text")
                );
            }
        }
    }

    /// `all_ascii` agrees with the library's `is_ascii` for every length up
    /// to three chunks and a high byte at every position.
    #[test]
    fn all_ascii_is_is_ascii() {
        let mut checked = (0, 0);
        for len in 0..100 {
            let plain = vec![b'a'; len];
            assert!(all_ascii(&plain));
            for at in 0..len {
                for high in [0x80u8, 0xC3, 0xFF] {
                    let mut b = plain.clone();
                    b[at] = high;
                    assert_eq!(all_ascii(&b), b.is_ascii(), "len {len}, {high:#x} at {at}");
                    checked.0 += 1;
                }
            }
            checked.1 += 1;
        }
        assert_eq!(checked, (3 * 99 * 100 / 2, 100));
    }

    /// In a text that is not all ASCII, a span must also start and end on
    /// character boundaries.
    #[test]
    fn a_span_splitting_a_character_is_refused() {
        let mut catalog = round_trip_catalog();
        catalog.signatures[1].category = "crawler \u{e9}t\u{e9}".into();
        let bytes = catalog.to_bytes();
        assert!(Matcher::from_bytes(&bytes).is_ok());
        let e_acute = bytes.windows(2).position(|w| w == [0xC3, 0xA9]).unwrap();
        // The text is the artifact's tail, after its length; spans count
        // from its start.
        let text_start = (4..bytes.len())
            .rev()
            .find(|&k| {
                u32::from_le_bytes(bytes[k - 4..k].try_into().unwrap()) as usize == bytes.len() - k
            })
            .unwrap();
        let inside = (e_acute - text_start + 1) as u32;
        let (records_at, _) = records_and_literals_at(&catalog);
        // The second record's category.
        let at = records_at + SIGNATURE_RECORD + 4 + SPAN;
        let bad = with_words(&bytes, at, &[inside, 1]);
        assert_eq!(
            refusal(&bad, "a span inside the \u{e9}"),
            (at, "a string is outside the text")
        );
    }

    #[test]
    fn a_count_the_rest_cannot_hold_is_refused_as_a_count() {
        let catalog = round_trip_catalog();
        let bytes = catalog.to_bytes();
        let literal_count = BINARY_MAGIC.len() + 4 + catalog.signatures.len() * SIGNATURE_RECORD;
        let n = u32::from_le_bytes(bytes[literal_count..literal_count + 4].try_into().unwrap());
        assert_eq!(n as usize, catalog.literals.len());
        // One more literal than the remaining bytes could hold.
        let rest = bytes.len() - (literal_count + 4);
        let too_many = (rest / LITERAL_RECORD + 1) as u32;
        let mut bad = bytes.clone();
        bad[literal_count..literal_count + 4].copy_from_slice(&too_many.to_le_bytes());
        assert!(matches!(
            Matcher::from_bytes(&bad),
            Err(MatcherError::Binary { what: "literal count", offset }) if offset == literal_count + 4
        ));
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_at_its_byte() {
        let mut bytes = round_trip_catalog().to_bytes();
        let last = bytes.len() - 1;
        bytes[last] = 0xFF;
        assert!(matches!(
            Matcher::from_bytes(&bytes),
            Err(MatcherError::Binary { what: "text is not UTF-8", offset }) if offset == last
        ));
    }

    #[test]
    fn a_literal_owner_past_the_signatures_is_a_bad_index() {
        let mut c = round_trip_catalog();
        c.unindexed.clear();
        c.literals.push(("zzz".into(), 9));
        c.literal_shapes.clear();
        let len = c.signatures.len();
        assert!(matches!(
            Matcher::new(c),
            Err(MatcherError::BadIndex { index: 9, len: l }) if l == len
        ));
        // So is a lead set's, also when nothing else refers to a signature
        // (no signature at all, here), and nothing else is.
        let mut c = round_trip_catalog();
        c.lead_sets.push((7, [0; 4]));
        assert!(matches!(
            Matcher::new(c),
            Err(MatcherError::BadIndex { index: 7, len: l }) if l == len
        ));
        assert!(Matcher::new(empty()).is_ok(), "an empty catalog loads");
        let mut c = empty();
        c.lead_sets.push((0, [0; 4]));
        assert!(matches!(
            Matcher::new(c),
            Err(MatcherError::BadIndex { index: 0, len: 0 })
        ));
        let mut c = empty();
        c.alphabets.push((0, [0; 4], vec![], [0; 4]));
        assert!(matches!(
            Matcher::new(c),
            Err(MatcherError::BadIndex { index: 0, len: 0 })
        ));
    }

    #[test]
    fn actions_len_and_emptiness() {
        let names: Vec<String> = Action::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["allow", "block", "rate_limit", "monitor"]);
        assert_eq!(Action::RateLimit.as_str(), "rate_limit");
        let m = sample();
        assert_eq!((m.len(), m.is_empty()), (3, false));
        let empty = Matcher::new(empty()).unwrap();
        assert_eq!((empty.len(), empty.is_empty()), (0, true));
    }

    #[test]
    fn many_candidates_spill_and_stay_ordered() {
        let n = 40;
        let signatures = (0..n)
            .map(|i| {
                meta(
                    &format!("s{i}"),
                    Action::Block,
                    false,
                    &format!("tok{i:02}"),
                    true,
                )
            })
            .collect();
        let literals = (0..n).map(|i| (format!("tok{i:02}"), i)).collect();
        let m = Matcher::new(CompiledCatalog {
            version: ARTIFACT_VERSION,
            signatures,
            literals,
            literal_shapes: vec![],
            unindexed: vec![],
            alphabets: vec![],
            lead_sets: vec![],
        })
        .unwrap();
        let ua: String = (0..n)
            .rev()
            .map(|i| format!("tok{i:02} tok{i:02} "))
            .collect();
        let found: Vec<usize> = m.matches(&ua).map(|v| v.index).collect();
        assert_eq!(found, (0..n as usize).collect::<Vec<_>>());
        assert_eq!(m.classify(&ua).unwrap().index, 0);
    }

    proptest::proptest! {
        /// Every byte value, ASCII and not, lands on its own bit, and no
        /// other: the set as a loop over a set in memory gathers it.
        #[test]
        fn bytes_present_is_the_set_of_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let mut want = [0u64; 4];
            for &b in &bytes {
                want[usize::from(b >> 6)] |= 1 << (b & 63);
            }
            proptest::prop_assert_eq!(bytes_present(&bytes), want);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let mut with_magic = BINARY_MAGIC.to_vec();
            with_magic.extend(&bytes);
            let _ = Matcher::from_bytes(&bytes);
            if let Ok(m) = Matcher::from_bytes(&with_magic) {
                let _ = m.classify("Mozilla/5.0 bot");
            }
        }
    }
}

#[cfg(test)]
mod precedence_tests {
    use super::*;

    fn sig(generic: bool, action: Action, pattern: &'static str) -> Signature<'static> {
        Signature {
            id: "x",
            action,
            category: "c",
            generic,
            pattern,
            exact: true,
            lead: None,
            unless: None,
        }
    }

    /// `decided_by` names the first component of the key that differs, and
    /// the key orders the pair the same way.
    #[test]
    fn each_rule_decides_in_key_order() {
        let cases = [
            (
                sig(false, Action::Monitor, "a"),
                sig(true, Action::Allow, "abcdef"),
                Precedence::Specific,
            ),
            (
                sig(true, Action::Allow, "a"),
                sig(true, Action::Block, "abcdef"),
                Precedence::Action,
            ),
            (
                sig(false, Action::Block, "abcd"),
                sig(false, Action::Block, "abc"),
                Precedence::LongerPattern,
            ),
            (
                sig(false, Action::Block, "abc"),
                sig(false, Action::Block, "xyz"),
                Precedence::CatalogOrder,
            ),
        ];
        for (winner, loser, rule) in cases {
            assert_eq!(decided_by(winner, 0, loser, 1), rule);
            assert!(
                precedence_key(winner.generic, winner.action, winner.pattern, 0)
                    < precedence_key(loser.generic, loser.action, loser.pattern, 1)
            );
        }
    }
}
