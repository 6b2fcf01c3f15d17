//! The planner, pure: from the WAF state waf-sync manages, the catalog and the
//! derived candidates, the desired state and the diff between the two. A run
//! with no new input plans nothing, so it makes no write calls.

use std::collections::BTreeMap;

use bot_signatures::Catalog;
use bot_signatures::VerifiedBots;
use bot_signatures::catalog::{Location, Signature};
use bot_signatures::waf::{Budget, Statements, WafRules};

use crate::derive::Candidate;

/// A rule statement of the shapes waf-sync writes. Every regex leaf matches
/// the User-Agent header after a LOWERCASE transformation; an IP set leaf
/// matches the request's source address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stmt {
    /// Any of.
    Or(Vec<Stmt>),
    /// All of.
    And(Vec<Stmt>),
    /// Not.
    Not(Box<Stmt>),
    /// A managed regex pattern set, by name.
    SetRef(String),
    /// One regex.
    Regex(String),
    /// A managed IP set, by name.
    IpSetRef(String),
}

/// What a managed set holds. Regex pattern sets are named `<prefix>-ua-<n>`,
/// IP sets `<prefix>-ip-<list>-v4` / `-v6` ([`kind_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    /// A regex pattern set (user-agent regexes).
    Regex,
    /// An IPv4 IP set (CIDR blocks).
    Ipv4,
    /// An IPv6 IP set.
    Ipv6,
}

/// The kind of the managed set called `name` (a name waf-sync made).
pub fn kind_of(name: &str) -> SetKind {
    let pattern_set = name
        .rsplit_once("-ua-")
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if pattern_set {
        SetKind::Regex
    } else if name.ends_with("-v6") {
        SetKind::Ipv6
    } else {
        SetKind::Ipv4
    }
}

/// How the rate-based rule aggregates requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// Per client IP.
    Ip,
    /// Per client IP and User-Agent.
    IpAndUserAgent,
}

/// The rate-based rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateRule {
    /// Requests per evaluation window (WAF: 10 to 2,000,000,000).
    pub limit: i64,
    /// 60, 120, 300 or 600 seconds.
    pub window_s: i64,
    /// Aggregation key.
    pub aggregate: Aggregate,
    /// Only count requests whose URI starts with this.
    pub scope_down_path_prefix: Option<String>,
}

impl RateRule {
    /// Checks WAF's limits locally (the emulator does not).
    pub fn validate(&self) -> Result<(), String> {
        if !(10..=2_000_000_000).contains(&self.limit) {
            return Err(format!(
                "rate limit {} is outside WAF's 10..=2,000,000,000",
                self.limit
            ));
        }
        if ![60, 120, 300, 600].contains(&self.window_s) {
            return Err(format!(
                "evaluation window {} s is not one of 60, 120, 300, 600",
                self.window_s
            ));
        }
        if let Some(p) = &self.scope_down_path_prefix
            && (p.is_empty() || p.len() > 200 || !p.starts_with('/'))
        {
            return Err(format!(
                "scope-down prefix {p:?} must start with '/' and be at most 200 characters"
            ));
        }
        Ok(())
    }
}

/// What waf-sync manages in WAF (everything else is left alone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Managed {
    /// Managed sets by name ([`kind_of`]): regex pattern sets' regexes and IP
    /// sets' CIDR blocks (sorted).
    pub sets: BTreeMap<String, Vec<String>>,
    /// The user-agent block rule's statement, if the rule exists.
    pub ua_rule: Option<Stmt>,
    /// The rate-based rule, if it exists.
    pub rate_rule: Option<RateRule>,
    /// Source rows seen by the run that last wrote (from the sets' description).
    pub rows_last_time: Option<usize>,
}

/// The changes a run makes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Sets to create: name → regexes.
    pub create_sets: BTreeMap<String, Vec<String>>,
    /// Sets to replace: name → (old, new) regexes.
    pub update_sets: BTreeMap<String, (Vec<String>, Vec<String>)>,
    /// Sets no longer needed (deleted after the rule stops using them).
    pub delete_sets: Vec<String>,
    /// The web ACL's managed rules, when either changes: (ua rule, rate rule).
    pub update_rules: Option<(Option<Stmt>, Option<RateRule>)>,
    /// Signatures added / removed compared with what WAF holds.
    pub added: Vec<String>,
    /// Signatures removed.
    pub removed: Vec<String>,
}

impl Plan {
    /// Whether the run would write nothing.
    pub fn is_empty(&self) -> bool {
        self.create_sets.is_empty()
            && self.update_sets.is_empty()
            && self.delete_sets.is_empty()
            && self.update_rules.is_none()
    }
}

/// The desired state and what went into it.
#[derive(Debug, Clone)]
pub struct Desired {
    /// What WAF should hold.
    pub managed: Managed,
    /// The packing report from bot-signatures' WAF compiler.
    pub rules: WafRules,
    /// The catalog the rules were packed from: the shipped signatures plus
    /// one block signature per candidate (for the proof).
    pub catalog: Catalog,
}

/// Name of the `n`-th managed pattern set.
pub fn set_name(prefix: &str, n: usize) -> String {
    format!("{prefix}-ua-{n}")
}

/// Name of the managed IP set for the compiler's IP set `ip_set` (`googlebot-v4`).
pub fn ip_set_name(prefix: &str, ip_set: &str) -> String {
    format!("{prefix}-ip-{ip_set}")
}

/// Computes the desired state: the catalog's specific block signatures plus
/// the candidates, packed by the WAF compiler within `budget`. Verified bots
/// (`verified`) that a block would hit are exempt only from their operators'
/// addresses, held in managed IP sets.
pub fn desired(
    catalog: &Catalog,
    verified: Option<&VerifiedBots>,
    candidates: &[Candidate],
    budget: Budget,
    prefix: &str,
    rate: Option<RateRule>,
) -> Desired {
    let mut combined = catalog.clone();
    let at = Location {
        file: "<flagged>".into(),
        line: 0,
    };
    for c in candidates {
        combined.signatures.push(Signature {
            id: c.id.clone(),
            pattern: escape(&c.token),
            action: bot_signatures::Action::Block,
            category: "flagged".into(),
            generic: false,
            description: format!("flagged by reporting: {} rows, {} hits", c.rows, c.hits),
            url: None,
            added: "1970-01-01".into(),
            author: "waf-sync".into(),
            instances: vec![(c.example.clone(), at.clone())],
            location: at.clone(),
            pattern_location: at.clone(),
        });
    }
    let rules = bot_signatures::waf::compile(&combined, verified, budget);
    let mut sets = BTreeMap::new();
    let mut n = 0;
    let mut leaves = |st: &Statements, sets: &mut BTreeMap<String, Vec<String>>| -> Vec<Stmt> {
        let mut out = Vec::new();
        for set in &st.regex_pattern_sets {
            let name = set_name(prefix, n);
            n += 1;
            let mut regexes: Vec<String> = set.iter().map(|r| r.regex.clone()).collect();
            regexes.sort();
            sets.insert(name.clone(), regexes);
            out.push(Stmt::SetRef(name));
        }
        out.extend(st.regex_match.iter().map(|r| Stmt::Regex(r.regex.clone())));
        out
    };
    let any = |mut v: Vec<Stmt>| {
        if v.len() == 1 {
            v.remove(0)
        } else {
            Stmt::Or(v)
        }
    };
    let block = leaves(&rules.block, &mut sets);
    let mut exceptions = leaves(&rules.exceptions, &mut sets);
    for v in &rules.verified {
        let ua = any(leaves(&v.user_agents, &mut sets));
        let ips = v
            .ip_sets
            .iter()
            .map(|n| Stmt::IpSetRef(ip_set_name(prefix, n)))
            .collect();
        exceptions.push(Stmt::And(vec![ua, any(ips)]));
    }
    for ip in &rules.ip_sets {
        let mut addresses = ip.addresses.clone();
        addresses.sort();
        sets.insert(ip_set_name(prefix, &ip.name), addresses);
    }
    let ua_rule = match (block.is_empty(), exceptions.is_empty()) {
        (true, _) => None,
        (false, true) => Some(any(block)),
        (false, false) => Some(Stmt::And(vec![
            any(block),
            Stmt::Not(Box::new(any(exceptions))),
        ])),
    };
    Desired {
        managed: Managed {
            sets,
            ua_rule,
            rate_rule: rate,
            rows_last_time: None,
        },
        rules,
        catalog: combined,
    }
}

fn escape(token: &str) -> String {
    let mut out = String::new();
    for c in token.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The diff from `current` to `desired`.
pub fn plan(current: &Managed, desired: &Managed) -> Plan {
    let mut p = Plan::default();
    for (name, regexes) in &desired.sets {
        match current.sets.get(name) {
            None => {
                p.create_sets.insert(name.clone(), regexes.clone());
            }
            Some(old) if old != regexes => {
                p.update_sets
                    .insert(name.clone(), (old.clone(), regexes.clone()));
            }
            Some(_) => {}
        }
    }
    p.delete_sets = current
        .sets
        .keys()
        .filter(|n| !desired.sets.contains_key(*n))
        .cloned()
        .collect();
    if current.ua_rule != desired.ua_rule || current.rate_rule != desired.rate_rule {
        p.update_rules = Some((desired.ua_rule.clone(), desired.rate_rule.clone()));
    }
    let (old, new) = (current.regexes(), desired.regexes());
    p.added = new.difference(&old).cloned().collect();
    p.removed = old.difference(&new).cloned().collect();
    p
}

impl Managed {
    /// Every regex the user-agent rule uses, in its pattern sets or inline.
    pub fn regexes(&self) -> std::collections::BTreeSet<String> {
        fn leaves(s: &Stmt, out: &mut std::collections::BTreeSet<String>) {
            match s {
                Stmt::Or(v) | Stmt::And(v) => v.iter().for_each(|x| leaves(x, out)),
                Stmt::Not(x) => leaves(x, out),
                Stmt::Regex(r) => {
                    out.insert(r.clone());
                }
                Stmt::SetRef(_) | Stmt::IpSetRef(_) => {}
            }
        }
        let mut out: std::collections::BTreeSet<String> = self
            .sets
            .iter()
            .filter(|(name, _)| kind_of(name) == SetKind::Regex)
            .flat_map(|(_, v)| v.iter().cloned())
            .collect();
        if let Some(s) = &self.ua_rule {
            leaves(s, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(token: &str) -> Candidate {
        Candidate {
            id: format!("flagged-{token}"),
            token: token.into(),
            rows: 1,
            hits: 5,
            example: format!("{token}/1.0"),
        }
    }

    fn rate() -> RateRule {
        RateRule {
            limit: 2000,
            window_s: 300,
            aggregate: Aggregate::Ip,
            scope_down_path_prefix: None,
        }
    }

    #[test]
    fn second_plan_is_empty() {
        let catalog = Catalog::default();
        let d = desired(
            &catalog,
            None,
            &[cand("foobot"), cand("barcrawler")],
            Budget::default(),
            "edge",
            Some(rate()),
        );
        let first = plan(&Managed::default(), &d.managed);
        assert!(!first.is_empty());
        assert_eq!(
            first.added,
            vec!["barcrawler|foobot".to_owned()],
            "{first:?}"
        );
        assert!(plan(&d.managed, &d.managed).is_empty());
    }

    #[test]
    fn rate_rule_limits_are_checked() {
        assert!(rate().validate().is_ok());
        assert!(RateRule { limit: 9, ..rate() }.validate().is_err());
        assert!(
            RateRule {
                window_s: 90,
                ..rate()
            }
            .validate()
            .is_err()
        );
    }

    proptest::proptest! {
        #[test]
        fn plan_is_idempotent_and_order_independent(tokens in proptest::collection::btree_set("[a-z]{4,10}bot", 0..30)) {
            let mut cands: Vec<Candidate> = tokens.iter().map(|t| cand(t)).collect();
            let a = desired(&Catalog::default(), None, &cands, Budget::default(), "edge", Some(rate()));
            cands.reverse();
            let b = desired(&Catalog::default(), None, &cands, Budget::default(), "edge", Some(rate()));
            proptest::prop_assert_eq!(&a.managed, &b.managed);
            // Apply the plan: the state becomes the desired one; planning again is empty.
            proptest::prop_assert!(plan(&a.managed, &a.managed).is_empty());
            for set in a.managed.sets.values() {
                proptest::prop_assert!(set.len() <= 10 && set.iter().all(|r| r.len() <= 200));
            }
        }
    }
}
