//! Candidate derivation and guards: raw flagged user-agents become signatures
//! on their distinctive product token (`FooBot/2.1 (+https://foo.example/bot)`
//! → `foobot`), merged and checked so that no human is ever blocked. Pure.

use std::collections::BTreeMap;

use bot_signatures::Matcher;
use bot_signatures::corpus::BrowserCorpus;

use crate::agent::FlaggedAgent;

/// The guards' settings.
///
/// Statuses are compared after [`normalize_status`] (trimmed, lowercase, runs
/// of spaces, `-` and `_` as one space), so `" Rejected"` and `false_positive`
/// mean what an analyst meant. A row whose status is in `skip_statuses` is
/// never blocked. With `block_statuses` set, only rows whose status is in it
/// block (and rows with no status only when `block_unreviewed`); without it,
/// every flagged row not skipped blocks, whatever its status. Rows with fewer
/// than `min_hits` hits are not blocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guards {
    /// Shortest token accepted.
    pub min_token_len: usize,
    /// Statuses whose rows are never blocked (analysts' false flags, allowed bots).
    pub skip_statuses: Vec<String>,
    /// When set, the only statuses whose rows block.
    pub block_statuses: Option<Vec<String>>,
    /// With `block_statuses`, whether rows with no status (NULL, empty) block.
    pub block_unreviewed: bool,
    /// Fewest hits a row needs to be blocked.
    pub min_hits: i64,
    /// Tokens never blocked (verified good bots), lowercase.
    pub allowlist: Vec<String>,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            min_token_len: 4,
            skip_statuses: vec!["rejected".into(), "allowed".into()],
            block_statuses: None,
            block_unreviewed: true,
            min_hits: 0,
            allowlist: Vec::new(),
        }
    }
}

/// A status as the guards compare it: trimmed, lowercase, and runs of
/// whitespace, `-` and `_` folded into one space; `None` for no status (NULL
/// or blank).
pub fn normalize_status(status: Option<&str>) -> Option<String> {
    let s = status?;
    let words: Vec<String> = s
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// A signature derived from flagged rows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    /// `flagged-<token>`.
    pub id: String,
    /// The lowercase token; the WAF pattern is this literal.
    pub token: String,
    /// Flagged rows merged into it.
    pub rows: usize,
    /// Their hits, summed.
    pub hits: i64,
    /// One of the user-agents, as an example.
    pub example: String,
}

/// Why a row did not become (part of) a candidate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rejection {
    /// The analysts reviewed it as this status.
    Status(String),
    /// `block_statuses` is set and does not list this status (`(none)`: no status).
    NotABlockingStatus(String),
    /// Fewer hits than `min_hits`.
    FewHits,
    /// No product token distinct from what browsers send.
    NoToken,
    /// The token is shorter than the minimum.
    TooShort(String),
    /// The token is on the allowlist.
    Allowlisted(String),
    /// The token appears in a browser user-agent of the corpus.
    MatchesBrowser(String),
    /// The catalog already decides this user-agent (signature id).
    CoveredByCatalog(String),
    /// A specific catalog signature allows, counts or rate-limits it (signature id).
    AllowedByCatalog(String),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Status(s) => write!(f, "reviewed as {s:?}"),
            Rejection::NotABlockingStatus(s) => {
                write!(f, "status {s:?} is not one of block_statuses")
            }
            Rejection::FewHits => write!(f, "fewer hits than min_hits"),
            Rejection::NoToken => write!(f, "no distinctive product token"),
            Rejection::TooShort(t) => write!(f, "token {t:?} is too short"),
            Rejection::Allowlisted(t) => write!(f, "token {t:?} is allowlisted"),
            Rejection::MatchesBrowser(t) => write!(f, "token {t:?} appears in browser user-agents"),
            Rejection::CoveredByCatalog(id) => {
                write!(f, "already covered by catalog signature {id}")
            }
            Rejection::AllowedByCatalog(id) => write!(
                f,
                "catalog signature {id} does not block it (allow, monitor or rate_limit)"
            ),
        }
    }
}

/// The result of derivation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Derived {
    /// Candidates, sorted by token.
    pub candidates: Vec<Candidate>,
    /// `(rejection, rows)`, sorted.
    pub rejected: BTreeMap<Rejection, usize>,
    /// Rows read per normalized status (`(none)` for NULL or blank).
    pub statuses: BTreeMap<String, usize>,
}

/// Tokens every browser sends; never distinctive.
const BROWSER_TOKENS: &[&str] = &[
    "mozilla",
    "applewebkit",
    "khtml",
    "gecko",
    "chrome",
    "safari",
    "version",
    "mobile",
    "firefox",
    "edg",
    "edge",
    "opr",
    "opera",
    "linux",
    "android",
    "windows",
    "compatible",
    "like",
    "intel",
    "macintosh",
    "iphone",
    "ipad",
    "crios",
    "fxios",
    "samsungbrowser",
    "trident",
    "msie",
    "nt",
    "x11",
    "win64",
    "x64",
    "wow64",
    "rv",
    "cpu",
    "os",
    "mac",
    "build",
    "wv",
];

/// Product tokens of a user-agent, in order: `Name/1.2` and `Name 1.2` forms.
pub fn product_tokens(ua: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = ua.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if ua[i..]
            .get(..4)
            .is_some_and(|w| w.eq_ignore_ascii_case("http"))
            || ua[i..]
                .get(..4)
                .is_some_and(|w| w.eq_ignore_ascii_case("www."))
        {
            // A URL: its path and host name the operator, not the product.
            while i < bytes.len() && !matches!(bytes[i], b' ' | b';' | b')') {
                i += 1;
            }
            continue;
        }
        if bytes[i].is_ascii_alphabetic() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'-' | b'_' | b'.'))
            {
                i += 1;
            }
            let token = ua[start..i].trim_end_matches(['.', '-', '_']);
            let versioned = bytes.get(i).is_some_and(|&b| b == b'/' || b == b' ')
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            let lower = token.to_ascii_lowercase();
            let botish = ["bot", "crawl", "spider", "scrap", "fetch"]
                .iter()
                .any(|w| lower.contains(w));
            if (versioned || botish)
                && !BROWSER_TOKENS.contains(&lower.as_str())
                && !lower.starts_with("http")
            {
                out.push(lower);
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Derives candidates from `rows`. `matcher` is the catalog's; `browsers` the
/// corpus no candidate may match.
pub fn derive(
    rows: &[FlaggedAgent],
    matcher: &Matcher,
    browsers: &BrowserCorpus,
    guards: &Guards,
) -> Derived {
    let lowered: Vec<String> = browsers
        .user_agents
        .iter()
        .map(|u| u.to_ascii_lowercase())
        .collect();
    let mut by_token: BTreeMap<String, Candidate> = BTreeMap::new();
    let mut rejected: BTreeMap<Rejection, usize> = BTreeMap::new();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let listed = |list: &[String], status: &str| {
        list.iter()
            .any(|s| normalize_status(Some(s)).as_deref() == Some(status))
    };
    for row in rows {
        let status = normalize_status(row.status.as_deref());
        *statuses
            .entry(status.clone().unwrap_or_else(|| "(none)".into()))
            .or_default() += 1;
        if let Some(st) = &status
            && listed(&guards.skip_statuses, st)
        {
            *rejected.entry(Rejection::Status(st.clone())).or_default() += 1;
            continue;
        }
        if let Some(block) = &guards.block_statuses {
            let blocks = match &status {
                Some(st) => listed(block, st),
                None => guards.block_unreviewed,
            };
            if !blocks {
                let name = status.clone().unwrap_or_else(|| "(none)".into());
                *rejected
                    .entry(Rejection::NotABlockingStatus(name))
                    .or_default() += 1;
                continue;
            }
        }
        if row.hits < guards.min_hits {
            *rejected.entry(Rejection::FewHits).or_default() += 1;
            continue;
        }
        // A specific catalog signature decides: a block is already in WAF;
        // allow/monitor/rate_limit mean analysts chose not to block it.
        // Generic rules stay at the edge, so what only they catch still
        // becomes a WAF candidate.
        if let Some(v) = matcher
            .classify(&row.user_agent)
            .filter(|v| !v.signature.generic)
        {
            let id = v.signature.id.to_owned();
            let r = if v.signature.action == bot_signatures::Action::Block {
                Rejection::CoveredByCatalog(id)
            } else {
                Rejection::AllowedByCatalog(id)
            };
            *rejected.entry(r).or_default() += 1;
            continue;
        }
        let mut tokens = product_tokens(&row.user_agent);
        // Tokens that say what they are first, then the rest in order.
        tokens.sort_by_key(|t| {
            !["bot", "crawl", "spider", "scrap", "fetch"]
                .iter()
                .any(|w| t.contains(w))
        });
        let judge = |token: &String| -> Option<Rejection> {
            if token.len() < guards.min_token_len {
                Some(Rejection::TooShort(token.clone()))
            } else if guards
                .allowlist
                .iter()
                .any(|a| token.contains(a.as_str()) || a.contains(token.as_str()))
            {
                Some(Rejection::Allowlisted(token.clone()))
            } else if lowered.iter().any(|b| b.contains(token.as_str())) {
                Some(Rejection::MatchesBrowser(token.clone()))
            } else {
                None
            }
        };
        let Some(first) = tokens.first() else {
            *rejected.entry(Rejection::NoToken).or_default() += 1;
            continue;
        };
        let Some(token) = tokens.iter().find(|t| judge(t).is_none()).cloned() else {
            let reason = judge(first).unwrap_or(Rejection::NoToken);
            *rejected.entry(reason).or_default() += 1;
            continue;
        };
        let c = by_token.entry(token.clone()).or_insert_with(|| Candidate {
            id: format!("flagged-{}", bot_signatures::import::slug(&token)),
            token: token.clone(),
            rows: 0,
            hits: 0,
            example: row.user_agent.clone(),
        });
        c.rows += 1;
        c.hits += row.hits;
        if row.user_agent < c.example {
            c.example = row.user_agent.clone();
        }
    }
    Derived {
        candidates: by_token.into_values().collect(),
        rejected,
        statuses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matcher of the catalog this build embeds.
    fn shipped_matcher() -> Matcher {
        let (catalog, _) = bot_signatures::Catalog::embedded();
        bot_signatures::compile::compile(&catalog)
            .matcher()
            .unwrap()
    }

    #[test]
    fn statuses_are_compared_as_analysts_mean_them() {
        assert_eq!(
            normalize_status(Some("  Rejected ")),
            Some("rejected".into())
        );
        assert_eq!(
            normalize_status(Some("False_Positive")),
            Some("false positive".into())
        );
        assert_eq!(
            normalize_status(Some("false  -  positive")),
            Some("false positive".into())
        );
        assert_eq!(normalize_status(Some("   ")), None);
        assert_eq!(normalize_status(None), None);
        let row = |ua: &str, hits: i64, status: Option<&str>| FlaggedAgent {
            user_agent: ua.into(),
            hits,
            status: status.map(str::to_owned),
        };
        let rows = [
            row("AlphaHarvester/1.0", 10, Some(" Rejected")),
            row("BetaHarvester/1.0", 10, Some("CONFIRMED")),
            row("GammaHarvester/1.0", 10, None),
            row("DeltaHarvester/1.0", 10, Some("maybe")),
            row("EpsilonHarvester/1.0", 1, Some("confirmed")),
        ];
        let matcher = shipped_matcher();
        let browsers = BrowserCorpus {
            source: "none".into(),
            files: vec![],
            user_agents: vec![
                "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0".into(),
            ],
        };
        // Default: everything flagged blocks except the skipped statuses.
        let d = derive(&rows, &matcher, &browsers, &Guards::default());
        let tokens: Vec<&str> = d.candidates.iter().map(|c| c.token.as_str()).collect();
        assert_eq!(
            tokens,
            [
                "betaharvester",
                "deltaharvester",
                "epsilonharvester",
                "gammaharvester"
            ]
        );
        assert_eq!(d.rejected[&Rejection::Status("rejected".into())], 1);
        assert_eq!(d.statuses["(none)"], 1);
        assert_eq!(d.statuses["confirmed"], 2);
        // Explicit: only confirmed rows with at least 5 hits, no unreviewed ones.
        let strict = Guards {
            block_statuses: Some(vec!["Confirmed".into()]),
            block_unreviewed: false,
            min_hits: 5,
            ..Guards::default()
        };
        let d = derive(&rows, &matcher, &browsers, &strict);
        let tokens: Vec<&str> = d.candidates.iter().map(|c| c.token.as_str()).collect();
        assert_eq!(tokens, ["betaharvester"]);
        assert_eq!(
            d.rejected[&Rejection::NotABlockingStatus("maybe".into())],
            1
        );
        assert_eq!(
            d.rejected[&Rejection::NotABlockingStatus("(none)".into())],
            1
        );
        assert_eq!(d.rejected[&Rejection::FewHits], 1);
    }

    #[test]
    fn tokens() {
        assert_eq!(
            product_tokens("FooBot/2.1 (+https://foo.example/bot)"),
            vec!["foobot"]
        );
        assert_eq!(
            product_tokens("Mozilla/5.0 (compatible; ZetaCrawler; +http://z.example)"),
            vec!["zetacrawler"]
        );
        assert!(
            product_tokens(
                "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
            )
            .is_empty()
        );
        assert_eq!(
            product_tokens("Mozilla/5.0 (Windows NT 10.0) SomeScraper/1.0"),
            vec!["somescraper"]
        );
        assert!(
            product_tokens("Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0")
                .is_empty()
        );
    }

    /// Raw rows as the reporting source returns them, in any order: the
    /// derived candidates, the rejections, the desired WAF state and so the
    /// plan are the same. Rows repeat products (merged into one candidate),
    /// carry statuses analysts type in any case, and include browsers and
    /// catalog bots; the test counts what its cases reached.
    #[test]
    fn raw_row_order_never_changes_what_is_derived_or_planned() {
        use crate::plan::{desired, plan};
        use proptest::strategy::{Strategy, ValueTree};
        let matcher = shipped_matcher();
        let browsers = BrowserCorpus {
            source: "test".into(),
            files: vec![],
            user_agents: vec![
                "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0".into(),
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1 Quokkaview/2".into(),
            ],
        };
        let products = [
            "QuollHarvester",
            "NumbatFetch",
            "WombatScan",
            "BilbyBot",
            "Quokkaview",
            "Googlebot",
            "python-requests",
            "Dingo",
        ];
        let statuses = [
            None,
            Some("confirmed"),
            Some(" Rejected "),
            Some("ALLOWED"),
            Some("maybe"),
        ];
        let row = (
            0..products.len(),
            0..9u32,
            0..40i64,
            0..statuses.len(),
            proptest::bool::ANY,
        )
            .prop_map(move |(p, v, hits, st, url)| FlaggedAgent {
                user_agent: if url {
                    format!(
                        "Mozilla/5.0 (compatible; {}/{v}.1; +https://{}.example/)",
                        products[p],
                        products[p].to_ascii_lowercase()
                    )
                } else {
                    format!("{}/{v}.0", products[p])
                },
                hits,
                status: statuses[st].map(str::to_owned),
            });
        let case = (
            proptest::collection::vec(row, 0..40),
            proptest::num::u64::ANY,
        );
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let (mut merged, mut rejected, mut nonempty, mut moved) = (0, 0, 0, 0);
        for _ in 0..200 {
            let (rows, seed) = case.new_tree(&mut runner).unwrap().current();
            // Fisher-Yates with a seeded xorshift.
            let mut shuffled = rows.clone();
            let mut x = seed | 1;
            for i in (1..shuffled.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                shuffled.swap(i, (x % (i as u64 + 1)) as usize);
            }
            moved += usize::from(shuffled != rows);
            let a = derive(&rows, &matcher, &browsers, &Guards::default());
            let b = derive(&shuffled, &matcher, &browsers, &Guards::default());
            assert_eq!(a, b, "rows {rows:?}");
            let want = |d: &Derived| {
                desired(
                    &bot_signatures::Catalog::default(),
                    None,
                    &d.candidates,
                    bot_signatures::waf::Budget::default(),
                    "edge",
                    None,
                )
                .managed
            };
            let (wa, wb) = (want(&a), want(&b));
            assert!(plan(&wa, &wb).is_empty() && wa == wb, "rows {rows:?}");
            merged += usize::from(a.candidates.iter().any(|c| c.rows > 1));
            rejected += usize::from(!a.rejected.is_empty());
            nonempty += usize::from(!a.candidates.is_empty());
        }
        eprintln!(
            "reached: {moved} reordered, {nonempty} with candidates, {merged} merging rows, {rejected} with rejections"
        );
        assert!(
            moved >= 150 && nonempty >= 150 && merged >= 100 && rejected >= 150,
            "generator too narrow: {moved} reordered, {nonempty} with candidates, {merged} merged, {rejected} rejected"
        );
    }
}
