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
    /// Its WCU as AWS prices it: 2, plus 30 per custom key after the first,
    /// plus the scope-down statement (a STARTS_WITH byte match: 2).
    pub fn wcu(&self) -> u32 {
        let keys = match self.aggregate {
            Aggregate::Ip => 0,
            Aggregate::IpAndUserAgent => 30,
        };
        2 + keys
            + if self.scope_down_path_prefix.is_some() {
                2
            } else {
                0
            }
    }

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
    /// The number of the run that last wrote a set (`run=` in the sets'
    /// descriptions; 0 when none says): a set a run did not change keeps an
    /// older run's description, so "last time" is the highest number's.
    pub last_run: u64,
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
            category: bot_signatures::waf::FLAGGED.into(),
            generic: false,
            unless: None,
            backstop: false,
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
            last_run: 0,
        },
        rules,
        catalog: combined,
    }
}

/// Blue/green names for the user-agent rule's pattern sets, so that a run
/// switches the rule in one write and no signature is missing in between: a
/// desired set whose exact regexes WAF already holds keeps that set's name
/// (nothing written); any other gets a new name, and is created and filled
/// before the rule references it, the set it replaces deleted after. Only
/// when `max_sets` has no room for the old and the new sets side by side does
/// a changed set take a retiring set's name and get updated in place (a
/// moment where the old rule sees the new contents); the number of those is
/// returned, and the run reports it. IP sets keep their names: each holds one
/// operator's list and an update replaces exactly that list.
pub fn assign_names(
    current: &Managed,
    desired: &mut Managed,
    prefix: &str,
    max_sets: usize,
) -> usize {
    let is_regex = |n: &String| kind_of(n) == SetKind::Regex;
    let mut by_content: BTreeMap<&Vec<String>, Vec<&String>> = BTreeMap::new();
    for (name, regexes) in current.sets.iter().filter(|(n, _)| is_regex(n)) {
        by_content.entry(regexes).or_default().push(name);
    }
    let wanted: Vec<(String, Vec<String>)> = desired
        .sets
        .iter()
        .filter(|(n, _)| is_regex(n))
        .map(|(n, r)| (n.clone(), r.clone()))
        .collect();
    let mut rename: BTreeMap<String, String> = BTreeMap::new();
    let mut pending = Vec::new();
    for (name, regexes) in &wanted {
        match by_content.get_mut(regexes).and_then(Vec::pop) {
            Some(kept) => {
                rename.insert(name.clone(), kept.clone());
            }
            None => pending.push(name.clone()),
        }
    }
    let mut retiring: Vec<String> = by_content.into_values().flatten().cloned().collect();
    retiring.sort();
    retiring.reverse();
    let current_regex_sets = current.sets.keys().filter(|n| is_regex(n)).count();
    let room = max_sets.saturating_sub(current_regex_sets);
    let mut taken: std::collections::BTreeSet<String> = current.sets.keys().cloned().collect();
    let mut in_place = 0;
    for (i, name) in pending.into_iter().enumerate() {
        let target = if i >= room
            && let Some(old) = retiring.pop()
        {
            in_place += 1;
            old
        } else {
            let fresh = (0..)
                .map(|n| set_name(prefix, n))
                .find(|n| !taken.contains(n))
                .unwrap_or_else(|| set_name(prefix, usize::MAX));
            taken.insert(fresh.clone());
            fresh
        };
        rename.insert(name, target);
    }
    let mut sets: BTreeMap<String, Vec<String>> = desired
        .sets
        .iter()
        .filter(|(n, _)| !is_regex(n))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    for (name, regexes) in wanted {
        sets.insert(rename[&name].clone(), regexes);
    }
    desired.sets = sets;
    if let Some(rule) = &mut desired.ua_rule {
        rename_refs(rule, &rename);
    }
    in_place
}

fn rename_refs(s: &mut Stmt, rename: &BTreeMap<String, String>) {
    match s {
        Stmt::Or(v) | Stmt::And(v) => v.iter_mut().for_each(|x| rename_refs(x, rename)),
        Stmt::Not(x) => rename_refs(x, rename),
        Stmt::SetRef(name) => {
            if let Some(new) = rename.get(name) {
                name.clone_from(new);
            }
        }
        Stmt::Regex(_) | Stmt::IpSetRef(_) => {}
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

    /// The state after `p` is applied to `current` with `want`'s rule.
    fn applied(current: &Managed, p: &Plan, want: &Managed) -> Managed {
        let mut after = current.clone();
        for (n, r) in &p.create_sets {
            after.sets.insert(n.clone(), r.clone());
        }
        for (n, (_, r)) in &p.update_sets {
            after.sets.insert(n.clone(), r.clone());
        }
        for n in &p.delete_sets {
            after.sets.remove(n);
        }
        after.ua_rule.clone_from(&want.ua_rule);
        after.rate_rule.clone_from(&want.rate_rule);
        after
    }

    fn tokens(n: usize, salt: &str) -> Vec<Candidate> {
        (0..n)
            .map(|i| cand(&format!("{salt}{i:03}harvester")))
            .collect()
    }

    #[test]
    fn a_new_candidate_switches_only_the_flagged_sets_blue_green() {
        let (catalog, _) = Catalog::embedded();
        let budget = Budget::default();
        let first = desired(&catalog, None, &tokens(40, "zq"), budget, "edge", None);
        let mut state = first.managed.clone();
        assign_names(&Managed::default(), &mut state, "edge", budget.max_sets);
        let mut more = tokens(40, "zq");
        more.push(cand("zq0175harvester"));
        let mut want = desired(&catalog, None, &more, budget, "edge", None).managed;
        let in_place = assign_names(&state, &mut want, "edge", budget.max_sets);
        let p = plan(&state, &want);
        assert_eq!(in_place, 0);
        assert!(p.update_sets.is_empty(), "{p:?}");
        assert!(!p.create_sets.is_empty() && p.create_sets.len() == p.delete_sets.len());
        // Only sets holding flagged regexes change; the catalog's keep their names.
        for name in p.create_sets.keys().chain(&p.delete_sets) {
            let regexes = p
                .create_sets
                .get(name)
                .or_else(|| state.sets.get(name))
                .unwrap();
            assert!(
                regexes.iter().all(|r| r.starts_with("zq")),
                "{name}: {regexes:?}"
            );
        }
        assert!(p.create_sets.keys().all(|n| !state.sets.contains_key(n)));
        assert!(p.update_rules.is_some());
        let after = applied(&state, &p, &want);
        assert_eq!(after, want);
        // Next night, nothing new: nothing written.
        let mut again = desired(&catalog, None, &more, budget, "edge", None).managed;
        assert_eq!(assign_names(&after, &mut again, "edge", budget.max_sets), 0);
        assert!(plan(&after, &again).is_empty());
    }

    #[test]
    fn without_room_for_both_colours_changed_sets_are_updated_in_place_and_counted() {
        let (catalog, _) = Catalog::embedded();
        let budget = Budget::default();
        let mut state = desired(&catalog, None, &tokens(40, "zq"), budget, "edge", None).managed;
        assign_names(&Managed::default(), &mut state, "edge", budget.max_sets);
        let used = state.sets.len();
        let mut want = desired(&catalog, None, &tokens(40, "zr"), budget, "edge", None).managed;
        // No room: the regex sets in use are all max_sets allows.
        let in_place = assign_names(&state, &mut want, "edge", used);
        let p = plan(&state, &want);
        assert!(in_place > 0);
        assert_eq!(p.update_sets.len(), in_place);
        assert!(state.sets.len() + p.create_sets.len() <= used);
        assert_eq!(applied(&state, &p, &want), want);
    }

    /// Over two random nights (raw rows shuffled through `desired`):
    /// applying the named plan gives exactly the desired state, never more
    /// sets at once than `max_sets`, kept names keep their exact contents,
    /// and in-place updates happen only when there is no room. Counts what
    /// the cases reached, so a generator that stops reaching a branch fails.
    #[test]
    fn blue_green_names_are_sound() {
        use proptest::strategy::{Strategy, ValueTree};
        let names = || proptest::collection::btree_set("[a-z]{3,8}(bot|spider|crawler)", 0..160);
        let strategy = (names(), names(), 0usize..=3, 0u8..3);
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let (mut kept, mut switched, mut in_place_cases, mut no_change) = (0, 0, 0, 0);
        // A catalog of three pattern sets' worth of block signatures, which
        // stays, beside the flagged ones, which come and go.
        let mut catalog = Catalog::default();
        for i in 0..420u32 {
            let word: String = [i % 26, (i / 26) % 26, (i * 7) % 26, (i * 11) % 26]
                .iter()
                .map(|&c| char::from(b'a' + c as u8))
                .collect();
            let mut s = desired(
                &Catalog::default(),
                None,
                &[cand(&format!("{word}scraper{i}"))],
                Budget::default(),
                "edge",
                None,
            )
            .catalog
            .signatures
            .remove(0);
            s.category = "seo".into();
            catalog.signatures.push(s);
        }
        let catalog_sets = desired(&catalog, None, &[], Budget::default(), "edge", None)
            .managed
            .sets
            .len();
        let d = desired(&catalog, None, &[], Budget::default(), "edge", None);
        assert!(
            catalog_sets >= 3,
            "{catalog_sets} {:?} {:?}",
            d.managed.sets.values().map(|v| v.len()).collect::<Vec<_>>(),
            d.rules.left_out.first()
        );
        for _ in 0..100 {
            let (night1, night2, headroom, mode) =
                strategy.new_tree(&mut runner).unwrap().current();
            // Night two repeats night one, or adds a few to it, as real
            // sources do; or is another source altogether.
            let night2: std::collections::BTreeSet<String> = match mode {
                0 => night1.clone(),
                1 => night1
                    .iter()
                    .chain(night2.iter().take(3))
                    .cloned()
                    .collect(),
                _ => night2,
            };
            let rows: Vec<Candidate> = night1.iter().rev().map(|t| cand(t)).collect();
            let flagged_sets = |rows: &[Candidate]| {
                desired(
                    &Catalog::default(),
                    None,
                    rows,
                    Budget::default(),
                    "edge",
                    None,
                )
                .managed
                .sets
                .len()
            };
            let max_sets = catalog_sets
                + flagged_sets(&rows).max(flagged_sets(
                    &night2.iter().map(|t| cand(t)).collect::<Vec<_>>(),
                ))
                + headroom;
            let budget = Budget {
                max_sets,
                ..Budget::default()
            };
            let mut state = desired(&catalog, None, &rows, budget, "edge", None).managed;
            assign_names(&Managed::default(), &mut state, "edge", max_sets);
            let rows: Vec<Candidate> = night2.iter().map(|t| cand(t)).collect();
            let mut want = desired(&catalog, None, &rows, budget, "edge", None).managed;
            let before = want.clone();
            let in_place = assign_names(&state, &mut want, "edge", max_sets);
            let p = plan(&state, &want);
            let contents = |m: &Managed| {
                let mut v: Vec<Vec<String>> = m.sets.values().cloned().collect();
                v.sort();
                v
            };
            assert_eq!(contents(&want), contents(&before));
            assert_eq!(want.regexes(), before.regexes());
            assert_eq!(p.update_sets.len(), in_place);
            if in_place == 0 {
                assert!(state.sets.len() + p.create_sets.len() <= max_sets.max(state.sets.len()));
            } else {
                assert!(state.sets.len() + p.create_sets.len() + 1 > max_sets);
                in_place_cases += 1;
            }
            for (name, regexes) in &want.sets {
                if let Some(old) = state.sets.get(name)
                    && !p.update_sets.contains_key(name)
                {
                    assert_eq!(old, regexes);
                    kept += 1;
                }
            }
            if !p.create_sets.is_empty() && in_place == 0 {
                switched += 1;
            }
            if p.is_empty() {
                no_change += 1;
            }
            assert_eq!(applied(&state, &p, &want), want);
        }
        eprintln!(
            "reached: {kept} kept sets, {switched} blue/green switches, {in_place_cases} in-place cases, {no_change} unchanged"
        );
        assert!(
            kept >= 50 && switched >= 20 && in_place_cases >= 10 && no_change >= 10,
            "generator too narrow: {kept} kept, {switched} switched, {in_place_cases} in place, {no_change} unchanged"
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
