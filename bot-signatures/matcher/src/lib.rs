//! The user-agent matcher that runs at the edge: it loads the artifact that
//! `bot-signatures` compiles at build time and classifies user-agents with it.
//!
//! The artifact ([`CompiledCatalog`]) holds, per signature, its metadata, its
//! pattern and the literals that any match of the pattern must contain. At load
//! time only a literal index is built ([`index::LiteralIndex`], a table of
//! 3-byte grams); no regex is compiled and no automaton is built. A user-agent is scanned
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

pub mod index;

use index::LiteralIndex;

/// Version of the artifact layout; bumped on any incompatible change.
pub const ARTIFACT_VERSION: u32 = 1;

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
    (
        generic,
        action,
        std::cmp::Reverse(pattern.len()),
        catalog_position,
    )
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
    /// Signatures with no usable literal: their regex runs on every user-agent.
    pub unindexed: Vec<u32>,
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
}

/// The signature that decided a user-agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict<'m> {
    /// Index in precedence order.
    pub index: usize,
    /// The deciding signature.
    pub signature: &'m SignatureMeta,
}

/// A loaded matcher; cheap to query, holds lazily compiled confirmation regexes.
#[derive(Debug)]
pub struct Matcher {
    signatures: Vec<SignatureMeta>,
    /// Signature index for each literal.
    literal_owner: Vec<u32>,
    index: LiteralIndex,
    unindexed: Vec<u32>,
    regexes: Vec<OnceLock<Option<regex_lite::Regex>>>,
}

impl Matcher {
    /// Parses and loads an artifact from its JSON bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Matcher, MatcherError> {
        Matcher::new(serde_json::from_slice(bytes)?)
    }

    /// Loads an artifact.
    pub fn new(catalog: CompiledCatalog) -> Result<Matcher, MatcherError> {
        if catalog.version != ARTIFACT_VERSION {
            return Err(MatcherError::Version {
                found: catalog.version,
                expected: ARTIFACT_VERSION,
            });
        }
        let len = catalog.signatures.len();
        let check = |index: u32| {
            if (index as usize) < len {
                Ok(index)
            } else {
                Err(MatcherError::BadIndex { index, len })
            }
        };
        let mut literal_owner = Vec::with_capacity(catalog.literals.len());
        let mut literals = Vec::with_capacity(catalog.literals.len());
        for (literal, owner) in &catalog.literals {
            literal_owner.push(check(*owner)?);
            literals.push(literal.as_str());
        }
        for &index in &catalog.unindexed {
            check(index)?;
        }
        let index = LiteralIndex::new(literals);
        let regexes = (0..len).map(|_| OnceLock::new()).collect();
        Ok(Matcher {
            signatures: catalog.signatures,
            literal_owner,
            index,
            unindexed: catalog.unindexed,
            regexes,
        })
    }

    /// All signatures, in precedence order.
    pub fn signatures(&self) -> &[SignatureMeta] {
        &self.signatures
    }

    /// The signature that decides `user_agent`, or `None` when none matches.
    pub fn classify(&self, user_agent: &str) -> Option<Verdict<'_>> {
        self.verdicts(user_agent).next()
    }

    /// Every signature that matches `user_agent`, in precedence order (the
    /// first one decides). Used to explain a decision.
    pub fn matches(&self, user_agent: &str) -> Vec<Verdict<'_>> {
        self.verdicts(user_agent).collect()
    }

    /// Matching signatures in precedence order, confirmed lazily: `classify`
    /// stops at the first, so lower-ranked regexes never run.
    fn verdicts<'s, 'u>(
        &'s self,
        user_agent: &'u str,
    ) -> impl Iterator<Item = Verdict<'s>> + use<'s, 'u> {
        let mut candidates: Vec<u32> = self.unindexed.clone();
        self.index.for_each_hit(user_agent, |literal| {
            candidates.push(self.literal_owner[literal as usize])
        });
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .filter(move |&index| self.confirm(index as usize, user_agent))
            .map(|index| Verdict {
                index: index as usize,
                signature: &self.signatures[index as usize],
            })
    }

    fn confirm(&self, index: usize, user_agent: &str) -> bool {
        let signature = &self.signatures[index];
        if signature.exact {
            return true;
        }
        let regex = self.regexes[index].get_or_init(|| {
            regex_lite::RegexBuilder::new(&signature.pattern)
                .case_insensitive(true)
                .build()
                .ok()
        });
        // A pattern that does not compile here never matches; `bot-signatures
        // check` refuses such patterns, so this only guards a hand-edited artifact.
        regex.as_ref().is_some_and(|r| r.is_match(user_agent))
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
            unindexed: vec![],
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
            m.matches("Mozilla/5.0 (compatible; Googlebot/2.1)").len(),
            2
        );
    }

    #[test]
    fn regex_confirms_non_exact() {
        let m = sample();
        assert_eq!(m.classify("FOO/2").unwrap().signature.id, "foo-version");
        assert!(m.classify("foo/x").is_none());
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
            unindexed: vec![],
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
}
