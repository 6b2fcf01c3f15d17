//! The WAF compiler: packs the catalog's specific `block` signatures into AWS
//! WAF statements within the quotas (regex pattern sets, regexes per set,
//! characters per regex, WCU), and proves the result.
//!
//! - One LOWERCASE text transformation on the User-Agent header; patterns are
//!   lowercased escape-aware and capturing groups become non-capturing.
//! - Literal-only signatures are merged into alternations with common
//!   prefixes factored (`googlebot-(?:image|news)`); others are joined with `|`.
//! - Regexes fill pattern sets first (35 WCU per set for up to 10 × 200
//!   characters), then single regex match statements (13 WCU each).
//! - Non-block signatures that outrank a packed block signature on one of their
//!   examples become exceptions (`AND(blocks, NOT(exceptions))`), so WAF never
//!   blocks what the edge lets through.
//! - Generic rules stay at the edge, where precedence is exact.
//! - Over quota, signatures are left out by [`priority`] and listed, never
//!   dropped silently.
//!
//! [`prove`] re-checks the output with a regex engine on lowercased input (WAF's
//! view): every example of every packed signature is blocked, no browser and
//! no example of an exception is, and every quota holds.

use std::collections::BTreeMap;

use bot_signatures_matcher::Action;
use serde::Serialize;

use crate::catalog::{Catalog, Signature};
use crate::corpus::BrowserCorpus;
use crate::pattern;

/// WAF's quota on characters per regex.
pub const MAX_REGEX_CHARS: usize = 200;
/// WAF's quota on regexes per pattern set.
pub const MAX_REGEXES_PER_SET: usize = 10;
/// WCU of a regex pattern set reference with one text transformation.
pub const WCU_SET_REFERENCE: u32 = 25 + 10;
/// WCU of a regex match statement with one text transformation.
pub const WCU_REGEX_MATCH: u32 = 3 + 10;

/// What the packer may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Budget {
    /// Regex pattern sets available (WAF: 10 per account and scope).
    pub max_sets: usize,
    /// WCU this rule may use (the web ACL has 5,000; 1,500 are in the base price).
    pub max_wcu: u32,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_sets: 10,
            max_wcu: 500,
        }
    }
}

/// One packed regex and the signatures it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackedRegex {
    /// The regex, for lowercased input.
    pub regex: String,
    /// Ids of the signatures in it.
    pub signatures: Vec<String>,
}

/// A group of statements ORed together.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Statements {
    /// Regex pattern sets, each up to 10 regexes.
    pub regex_pattern_sets: Vec<Vec<PackedRegex>>,
    /// Single regex match statements.
    pub regex_match: Vec<PackedRegex>,
}

impl Statements {
    /// Every regex in these statements.
    pub fn regexes(&self) -> impl Iterator<Item = &PackedRegex> {
        self.regex_pattern_sets
            .iter()
            .flatten()
            .chain(&self.regex_match)
    }

    /// WCU of these statements.
    pub fn wcu(&self) -> u32 {
        self.regex_pattern_sets.len() as u32 * WCU_SET_REFERENCE
            + self.regex_match.len() as u32 * WCU_REGEX_MATCH
    }

    fn is_empty(&self) -> bool {
        self.regex_pattern_sets.is_empty() && self.regex_match.is_empty()
    }
}

/// A signature the compiler did not pack, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    /// Signature id.
    pub id: String,
    /// Why.
    pub reason: String,
}

/// The WAF form of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WafRules {
    /// Layout version of this JSON.
    pub version: u32,
    /// The budget it was packed for.
    pub budget: Budget,
    /// The one text transformation applied to the User-Agent.
    pub text_transformation: &'static str,
    /// What blocks.
    pub block: Statements,
    /// What is exempt from the block (non-block signatures that outrank a block).
    pub exceptions: Statements,
    /// Total WCU.
    pub wcu: u32,
    /// Pattern sets used.
    pub sets_used: usize,
    /// Signature ids packed as blocks.
    pub packed: Vec<String>,
    /// Signatures not packed, with the reason.
    pub left_out: Vec<LeftOut>,
    /// The AWS WAF rule statement; `${set:N}` stands for the ARN of pattern set N
    /// (block sets first, then exception sets), filled in by waf-sync.
    pub statement: serde_json::Value,
}

/// Priority when over quota (lower packs first): the categories that cost the
/// site most first, then catalog precedence order.
pub fn priority(category: &str) -> u8 {
    match category {
        "scanner" => 0,
        "ai-crawler" => 1,
        "http-library" | "browser-automation" => 2,
        "seo" => 3,
        "archiver" | "academic" => 4,
        _ => 5,
    }
}

/// Lowercases a checked pattern escape-aware and turns capturing groups into
/// non-capturing ones, for WAF with a LOWERCASE transformation.
pub fn to_waf_regex(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '(' if !in_class => {
                if chars.peek() == Some(&'?') {
                    // Named groups `(?P<n>` / `(?<n>` (not look-behind) become `(?:`.
                    let rest: String = chars.clone().take(3).collect();
                    let named = rest.starts_with("?P<")
                        || (rest.starts_with("?<")
                            && !rest.starts_with("?<=")
                            && !rest.starts_with("?<!"));
                    if named {
                        out.push_str("(?:");
                        for n in chars.by_ref() {
                            if n == '>' {
                                break;
                            }
                        }
                    } else {
                        out.push('(');
                    }
                } else {
                    out.push_str("(?:");
                }
            }
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

fn escape_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A trie of literals, printed with common prefixes factored.
#[derive(Default)]
struct Trie {
    end: bool,
    children: BTreeMap<char, Trie>,
}

impl Trie {
    fn insert(&mut self, s: &str) {
        let mut node = self;
        for c in s.chars() {
            node = node.children.entry(c).or_default();
        }
        node.end = true;
    }

    fn print(&self) -> String {
        let branches: Vec<String> = self
            .children
            .iter()
            .map(|(c, t)| format!("{}{}", escape_literal(&c.to_string()), t.print()))
            .collect();
        match (branches.len(), self.end) {
            (0, _) => String::new(),
            (1, false) => branches.into_iter().next().unwrap_or_default(),
            (_, false) => format!("(?:{})", branches.join("|")),
            (_, true) => format!("(?:{})?", branches.join("|")),
        }
    }

    fn print_top(&self) -> String {
        // The top level needs no group: `a|b` instead of `(?:a|b)`.
        let branches: Vec<String> = self
            .children
            .iter()
            .map(|(c, t)| format!("{}{}", escape_literal(&c.to_string()), t.print()))
            .collect();
        branches.join("|")
    }
}

/// An item to pack: one signature's regex text (or literals to factor).
struct Item {
    id: String,
    literals: Option<Vec<String>>,
    regex: String,
}

/// Packs items into regexes of at most `MAX_REGEX_CHARS`, in order.
fn chunk(items: &[Item]) -> Vec<PackedRegex> {
    let mut out: Vec<PackedRegex> = Vec::new();
    let mut lits: Vec<(String, String)> = Vec::new(); // (literal, id)
    let mut others: Vec<&Item> = Vec::new();
    for item in items {
        match &item.literals {
            Some(l) => lits.extend(l.iter().map(|x| (x.clone(), item.id.clone()))),
            None => others.push(item),
        }
    }
    lits.sort();
    let mut current: Vec<(String, String)> = Vec::new();
    let render = |group: &[(String, String)]| {
        let mut t = Trie::default();
        for (l, _) in group {
            t.insert(l);
        }
        t.print_top()
    };
    for lit in lits {
        current.push(lit);
        if render(&current).len() > MAX_REGEX_CHARS {
            let last = current.pop();
            if !current.is_empty() {
                out.push(packed(render(&current), &current));
            }
            current = last.into_iter().collect();
        }
    }
    if !current.is_empty() {
        out.push(packed(render(&current), &current));
    }
    let mut text = String::new();
    let mut ids: Vec<String> = Vec::new();
    for item in others {
        let extra = if text.is_empty() {
            item.regex.len()
        } else {
            item.regex.len() + 1
        };
        if text.len() + extra > MAX_REGEX_CHARS && !text.is_empty() {
            out.push(PackedRegex {
                regex: std::mem::take(&mut text),
                signatures: std::mem::take(&mut ids),
            });
        }
        if !text.is_empty() {
            text.push('|');
        }
        text.push_str(&item.regex);
        ids.push(item.id.clone());
    }
    if !text.is_empty() {
        out.push(PackedRegex {
            regex: text,
            signatures: ids,
        });
    }
    out
}

fn packed(regex: String, group: &[(String, String)]) -> PackedRegex {
    let mut ids: Vec<String> = group.iter().map(|(_, id)| id.clone()).collect();
    ids.sort();
    ids.dedup();
    PackedRegex {
        regex,
        signatures: ids,
    }
}

fn item(s: &Signature) -> Option<Item> {
    let hir = pattern::check(&s.pattern).ok()?;
    let lits = pattern::literals(&hir).filter(|l| l.exact).map(|l| l.set);
    let regex = to_waf_regex(&s.pattern);
    Some(Item {
        id: s.id.clone(),
        literals: lits,
        regex,
    })
}

/// Places regexes into sets, then single statements, within what is left of the budget.
fn place(
    regexes: Vec<PackedRegex>,
    sets_left: &mut usize,
    wcu_left: &mut u32,
) -> (Statements, Vec<PackedRegex>) {
    let mut st = Statements::default();
    // Two regex match statements (26 WCU) are cheaper than a set (35 WCU) and keep a set free.
    let use_sets = regexes.len() > 2;
    let mut rest = regexes.into_iter().peekable();
    while use_sets && rest.peek().is_some() && *sets_left > 0 && *wcu_left >= WCU_SET_REFERENCE {
        let set: Vec<PackedRegex> = rest.by_ref().take(MAX_REGEXES_PER_SET).collect();
        st.regex_pattern_sets.push(set);
        *sets_left -= 1;
        *wcu_left -= WCU_SET_REFERENCE;
    }
    while rest.peek().is_some() && *wcu_left >= WCU_REGEX_MATCH {
        if let Some(r) = rest.next() {
            st.regex_match.push(r);
            *wcu_left -= WCU_REGEX_MATCH;
        }
    }
    (st, rest.collect())
}

/// Compiles the catalog into WAF rules within `budget`.
pub fn compile(catalog: &Catalog, budget: Budget) -> WafRules {
    let compiled = crate::compile::compile(catalog);
    let mut left_out = Vec::new();
    let mut blocks: Vec<(u8, usize, &Signature)> = Vec::new();
    for (rank, &i) in compiled.source.iter().enumerate() {
        let s = &catalog.signatures[i];
        if s.action != Action::Block {
            continue;
        }
        if s.generic {
            left_out.push(LeftOut {
                id: s.id.clone(),
                reason: "generic rule: kept at the edge, where specific signatures take precedence"
                    .into(),
            });
            continue;
        }
        blocks.push((priority(&s.category), rank, s));
    }
    blocks.sort_by_key(|(p, rank, _)| (*p, *rank));

    // Exceptions: specific non-block signatures whose examples a block would hit.
    let block_regexes: Vec<regex::Regex> = blocks
        .iter()
        .filter_map(|(_, _, s)| {
            regex::RegexBuilder::new(&to_waf_regex(&s.pattern))
                .build()
                .ok()
        })
        .collect();
    let mut exceptions: Vec<&Signature> = Vec::new();
    for &i in &compiled.source {
        let s = &catalog.signatures[i];
        if s.action == Action::Block || s.generic {
            continue;
        }
        let hit = s.instances.iter().any(|(ua, _)| {
            let ua = ua.to_ascii_lowercase();
            block_regexes.iter().any(|r| r.is_match(&ua))
        });
        if hit {
            exceptions.push(s);
        }
    }

    let mut sets_left = budget.max_sets;
    let mut wcu_left = budget.max_wcu;
    // Exceptions first: without them a block could hit a verified good bot.
    let exception_items: Vec<Item> = exceptions.iter().filter_map(|s| item(s)).collect();
    let (exc, exc_rest) = place(chunk(&exception_items), &mut sets_left, &mut wcu_left);
    let dropped_exceptions: Vec<String> =
        exc_rest.iter().flat_map(|r| r.signatures.clone()).collect();

    let mut block_items: Vec<Item> = Vec::new();
    for (_, _, s) in &blocks {
        match item(s) {
            Some(it) if it.regex.len() <= MAX_REGEX_CHARS => block_items.push(it),
            Some(_) => left_out.push(LeftOut {
                id: s.id.clone(),
                reason: format!(
                    "longer than {MAX_REGEX_CHARS} characters once made WAF-compatible"
                ),
            }),
            None => left_out.push(LeftOut {
                id: s.id.clone(),
                reason: "pattern fails `bot-signatures check`".into(),
            }),
        }
    }
    // Chunk per priority tier so a cut falls between tiers, lowest priority last.
    let mut regexes = Vec::new();
    let mut start = 0;
    while start < block_items.len() {
        let tier = blocks
            .iter()
            .find(|(_, _, s)| s.id == block_items[start].id)
            .map_or(5, |(p, _, _)| *p);
        let end = (start..block_items.len())
            .find(|&k| {
                blocks
                    .iter()
                    .find(|(_, _, s)| s.id == block_items[k].id)
                    .map_or(5, |(p, _, _)| *p)
                    != tier
            })
            .unwrap_or(block_items.len());
        regexes.extend(chunk(&block_items[start..end]));
        start = end;
    }
    let (block, rest) = place(regexes, &mut sets_left, &mut wcu_left);
    for r in rest {
        for id in r.signatures {
            left_out.push(LeftOut {
                id,
                reason: format!(
                    "over the budget ({} sets, {} WCU): lower priority",
                    budget.max_sets, budget.max_wcu
                ),
            });
        }
    }
    // A block whose exception did not fit would hit a good bot: leave it out too.
    if !dropped_exceptions.is_empty() {
        left_out.push(LeftOut {
            id: dropped_exceptions.join(","),
            reason: "exceptions over the budget".into(),
        });
    }
    let packed: Vec<String> = block.regexes().flat_map(|r| r.signatures.clone()).collect();
    let statement = statement(&block, &exc);
    WafRules {
        version: 1,
        budget,
        text_transformation: "LOWERCASE",
        wcu: block.wcu() + exc.wcu(),
        sets_used: block.regex_pattern_sets.len() + exc.regex_pattern_sets.len(),
        block,
        exceptions: exc,
        packed,
        left_out,
        statement,
    }
}

fn field_statements(st: &Statements, first_set: usize) -> Vec<serde_json::Value> {
    use serde_json::json;
    let field = json!({ "SingleHeader": { "Name": "user-agent" } });
    let tt = json!([{ "Priority": 0, "Type": "LOWERCASE" }]);
    let mut out: Vec<serde_json::Value> = (0..st.regex_pattern_sets.len())
        .map(|n| json!({ "RegexPatternSetReferenceStatement": { "ARN": format!("${{set:{}}}", first_set + n), "FieldToMatch": field, "TextTransformations": tt } }))
        .collect();
    out.extend(st.regex_match.iter().map(|r| json!({ "RegexMatchStatement": { "RegexString": r.regex, "FieldToMatch": field, "TextTransformations": tt } })));
    out
}

fn any_of(mut list: Vec<serde_json::Value>) -> serde_json::Value {
    if list.len() == 1 {
        list.remove(0)
    } else {
        serde_json::json!({ "OrStatement": { "Statements": list } })
    }
}

fn statement(block: &Statements, exc: &Statements) -> serde_json::Value {
    use serde_json::json;
    let b = field_statements(block, 0);
    if b.is_empty() {
        return serde_json::Value::Null;
    }
    let b = any_of(b);
    if exc.is_empty() {
        return b;
    }
    let e = any_of(field_statements(exc, block.regex_pattern_sets.len()));
    json!({ "AndStatement": { "Statements": [b, { "NotStatement": { "Statement": e } }] } })
}

/// One problem found by [`prove`].
pub type Problem = String;

/// Checks `rules` against the catalog and the browser corpus with a regex
/// engine on lowercased input, as WAF evaluates them.
pub fn prove(
    rules: &WafRules,
    catalog: &Catalog,
    browsers: Option<&BrowserCorpus>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let compile = |st: &Statements, problems: &mut Vec<Problem>| -> Vec<regex::Regex> {
        st.regexes()
            .filter_map(|r| {
                if r.regex.len() > MAX_REGEX_CHARS {
                    problems.push(format!(
                        "regex of {} characters (quota {MAX_REGEX_CHARS}): {}",
                        r.regex.len(),
                        r.regex
                    ));
                }
                match regex::Regex::new(&r.regex) {
                    Ok(re) => Some(re),
                    Err(e) => {
                        problems.push(format!("regex does not compile: {e}"));
                        None
                    }
                }
            })
            .collect()
    };
    let block = compile(&rules.block, &mut problems);
    let exc = compile(&rules.exceptions, &mut problems);
    for set in rules
        .block
        .regex_pattern_sets
        .iter()
        .chain(&rules.exceptions.regex_pattern_sets)
    {
        if set.len() > MAX_REGEXES_PER_SET {
            problems.push(format!(
                "a pattern set holds {} regexes (quota {MAX_REGEXES_PER_SET})",
                set.len()
            ));
        }
    }
    if rules.sets_used > rules.budget.max_sets {
        problems.push(format!(
            "{} pattern sets used, budget {}",
            rules.sets_used, rules.budget.max_sets
        ));
    }
    if rules.wcu > rules.budget.max_wcu {
        problems.push(format!(
            "{} WCU used, budget {}",
            rules.wcu, rules.budget.max_wcu
        ));
    }
    let blocked = |ua: &str| {
        let ua = ua.to_ascii_lowercase();
        block.iter().any(|r| r.is_match(&ua)) && !exc.iter().any(|r| r.is_match(&ua))
    };
    let packed: std::collections::HashSet<&str> = rules.packed.iter().map(String::as_str).collect();
    for s in &catalog.signatures {
        if packed.contains(s.id.as_str()) {
            for (ua, _) in &s.instances {
                if !blocked(ua) {
                    problems.push(format!(
                        "signature '{}': example {ua:?} is not blocked by the WAF rules",
                        s.id
                    ));
                }
            }
        } else if s.action != Action::Block {
            for (ua, _) in &s.instances {
                if blocked(ua) {
                    problems.push(format!(
                        "signature '{}' ({}): example {ua:?} would be blocked by WAF",
                        s.id, s.action
                    ));
                }
            }
        }
    }
    if let Some(corpus) = browsers {
        for ua in &corpus.user_agents {
            if blocked(ua) {
                problems.push(format!("browser user-agent {ua:?} would be blocked by WAF"));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waf_regex_form() {
        assert_eq!(to_waf_regex(r"Googlebot\/"), r"googlebot\/");
        assert_eq!(
            to_waf_regex(r"(Foo|Bar)Bot\W[A-Z]"),
            r"(?:foo|bar)bot\W[a-z]"
        );
        assert_eq!(to_waf_regex(r"(?P<n>x)(?:y)(?<m>z)"), r"(?:x)(?:y)(?:z)");
        assert_eq!(to_waf_regex(r"[(]A"), r"[(]a");
    }

    #[test]
    fn trie_factors_prefixes() {
        let mut t = Trie::default();
        for s in ["googlebot-image", "googlebot-news", "googlebot", "bingbot"] {
            t.insert(s);
        }
        let printed = t.print_top();
        assert_eq!(printed, "bingbot|googlebot(?:-(?:image|news))?");
        let re = regex::Regex::new(&format!("^(?:{printed})$")).unwrap();
        for s in ["googlebot-image", "googlebot-news", "googlebot", "bingbot"] {
            assert!(re.is_match(s), "{s}");
        }
        assert!(!re.is_match("googlebot-"));
    }

    fn sig(id: &str, pattern: &str, action: Action, instances: &[&str]) -> Signature {
        let at = crate::catalog::Location {
            file: "t.toml".into(),
            line: 1,
        };
        Signature {
            id: id.into(),
            pattern: pattern.into(),
            action,
            category: "seo".into(),
            generic: false,
            description: "d".into(),
            url: None,
            added: "2026-11-21".into(),
            author: "a".into(),
            instances: instances
                .iter()
                .map(|i| ((*i).to_owned(), at.clone()))
                .collect(),
            location: at.clone(),
            pattern_location: at,
        }
    }

    #[test]
    fn allowed_bots_hit_by_a_block_become_exceptions() {
        let catalog = Catalog {
            signatures: vec![
                sig("fetchers", r"fetch/\d", Action::Block, &["Fetch/1"]),
                sig(
                    "good-fetch",
                    "GoodBot Fetch/",
                    Action::Allow,
                    &["GoodBot Fetch/2"],
                ),
            ],
        };
        let rules = compile(&catalog, Budget::default());
        assert_eq!(
            rules
                .exceptions
                .regexes()
                .flat_map(|r| r.signatures.clone())
                .collect::<Vec<_>>(),
            vec!["good-fetch"]
        );
        assert!(
            prove(&rules, &catalog, None).is_empty(),
            "{:?}",
            prove(&rules, &catalog, None)
        );
        assert!(rules.statement.to_string().contains("NotStatement"));
    }

    #[test]
    fn over_budget_is_reported_by_priority_never_silently() {
        let mut signatures: Vec<Signature> = (0..400)
            .map(|i| {
                sig(
                    &format!("seo-{i}"),
                    &format!("SeoCrawlerNumber{i:04}"),
                    Action::Block,
                    &[&format!("x SeoCrawlerNumber{i:04} y")],
                )
            })
            .collect();
        let mut scanner = sig(
            "scanner-1",
            "EvilScanner",
            Action::Block,
            &["EvilScanner/1"],
        );
        scanner.category = "scanner".into();
        signatures.push(scanner);
        let catalog = Catalog { signatures };
        let rules = compile(
            &catalog,
            Budget {
                max_sets: 1,
                max_wcu: 35 + 13,
            },
        );
        assert!(
            rules.packed.contains(&"scanner-1".to_owned()),
            "the highest priority packs first"
        );
        assert_eq!(
            rules.packed.len() + rules.left_out.len(),
            401,
            "every signature is packed or listed"
        );
        assert!(
            rules
                .left_out
                .iter()
                .all(|l| l.reason.contains("over the budget"))
        );
        assert!(rules.wcu <= 48 && rules.sets_used <= 1);
        assert!(prove(&rules, &catalog, None).is_empty());
    }

    #[test]
    fn prove_catches_a_broken_packing() {
        let catalog = Catalog {
            signatures: vec![sig("foo", "FooBot", Action::Block, &["FooBot/1"])],
        };
        let mut rules = compile(&catalog, Budget::default());
        assert!(prove(&rules, &catalog, None).is_empty());
        rules.block.regex_match[0].regex = "barbot".into();
        assert_eq!(prove(&rules, &catalog, None).len(), 1);
        rules.block.regex_match[0].regex = "x".repeat(201);
        assert!(
            prove(&rules, &catalog, None)
                .iter()
                .any(|p| p.contains("quota"))
        );
    }

    #[test]
    fn chunks_respect_the_length_quota() {
        let items: Vec<Item> = (0..300)
            .map(|i| Item {
                id: format!("s{i}"),
                literals: Some(vec![format!("crawler{i:04}x")]),
                regex: String::new(),
            })
            .collect();
        let out = chunk(&items);
        assert!(out.iter().all(|r| r.regex.len() <= MAX_REGEX_CHARS));
        assert_eq!(out.iter().map(|r| r.signatures.len()).sum::<usize>(), 300);
    }
}
