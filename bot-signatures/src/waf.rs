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
//! - Non-block signatures that a packed block signature hits on one of their
//!   examples become exceptions (`AND(blocks, NOT(exceptions))`), so WAF never
//!   blocks what the edge lets through, and no more than that:
//!   - an `allow` that an operator's address lists verify
//!     (`verified/operators.toml`) is exempt only from those addresses:
//!     `AND(user-agent matches, source address in the operator's IP sets)`, one
//!     IP set per list and address family ([`IpSet`]). A scraper that appends
//!     `Googlebot/2.1` to its own user-agent is still blocked;
//!   - an `allow` taken on its word is not exempt: at the edge a specific block
//!     beats it, so WAF blocks it too;
//!   - `monitor` and `rate_limit` signatures are exempt by user-agent, as at
//!     the edge.
//! - Generic rules stay at the edge, where precedence is exact.
//! - Over quota, signatures are left out by [`priority`] and listed, never
//!   dropped silently.
//!
//! [`prove`] re-checks the output with a regex engine on lowercased input (WAF's
//! view) and the IP sets read back as address tables: every example of every
//! packed signature is blocked, also with a good bot's example appended and
//! from an address outside every list; no browser and no example of an
//! exception is (a verified bot's from inside its lists, and only from there);
//! the IP sets hold exactly the lists' addresses; every quota holds.

use std::collections::BTreeMap;

use bot_signatures_matcher::Action;
use bot_signatures_matcher::verify::{Prefix, RangeList, VerifiedBots};
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
/// WCU of an IP set reference statement.
pub const WCU_IP_SET_REFERENCE: u32 = 1;
/// Addresses (CIDR blocks) one WAF IP set holds.
pub const MAX_IP_SET_ADDRESSES: usize = 10_000;

/// What the packer may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Budget {
    /// Regex pattern sets available (WAF: 10 per account and scope).
    pub max_sets: usize,
    /// WCU this rule may use (the web ACL has 5,000; 1,500 are in the base price).
    pub max_wcu: u32,
    /// IP sets available for verified bots' addresses (WAF: 100 per account
    /// and scope).
    pub max_ip_sets: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_sets: 10,
            max_wcu: 500,
            max_ip_sets: 20,
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

/// One operator's exception: its `allow` signatures that a block would hit,
/// exempt only from the addresses in its IP sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedException {
    /// The operator (`google`).
    pub operator: String,
    /// The user-agents it claims (ORed).
    pub user_agents: Statements,
    /// Names of the [`IpSet`]s whose addresses prove the claim (ORed).
    pub ip_sets: Vec<String>,
}

impl VerifiedException {
    /// WCU of the exception: its user-agent statements and IP set references.
    pub fn wcu(&self) -> u32 {
        self.user_agents.wcu() + self.ip_sets.len() as u32 * WCU_IP_SET_REFERENCE
    }
}

/// One WAF IP set: a verified-bot list's addresses of one family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpSet {
    /// `<list>-v4` or `<list>-v6`.
    pub name: String,
    /// The list it holds (`googlebot`).
    pub list: String,
    /// `IPV4` or `IPV6` (WAF's `IPAddressVersion`).
    pub version: &'static str,
    /// CIDR blocks, host bits zero, the fewest that cover the list exactly.
    pub addresses: Vec<String>,
}

/// The IP sets of one list: IPv4 and IPv6, each when non-empty.
pub fn ip_sets_of(list: &RangeList) -> Vec<IpSet> {
    let (v4, v6) = list.cidrs();
    [("v4", "IPV4", v4), ("v6", "IPV6", v6)]
        .into_iter()
        .filter(|(_, _, a)| !a.is_empty())
        .map(|(suffix, version, addresses)| IpSet {
            name: format!("{}-{suffix}", list.name),
            list: list.name.clone(),
            version,
            addresses,
        })
        .collect()
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
    /// What is exempt from the block by user-agent alone (`monitor` and
    /// `rate_limit` signatures a block would hit).
    pub exceptions: Statements,
    /// What is exempt from the block by user-agent and source address:
    /// verified bots, per operator.
    pub verified: Vec<VerifiedException>,
    /// The IP sets the verified exceptions reference.
    pub ip_sets: Vec<IpSet>,
    /// Total WCU.
    pub wcu: u32,
    /// Pattern sets used.
    pub sets_used: usize,
    /// Signature ids packed as blocks.
    pub packed: Vec<String>,
    /// Signatures not packed, with the reason.
    pub left_out: Vec<LeftOut>,
    /// The AWS WAF rule statement; `${set:N}` stands for the ARN of pattern set N
    /// (block sets first, then exception sets, then verified exceptions'
    /// sets) and `${ipset:NAME}` for the ARN of IP set NAME, filled in by
    /// waf-sync.
    pub statement: serde_json::Value,
}

/// Priority when over quota (lower packs first): the categories that cost the
/// site most first, then catalog precedence order. [`FLAGGED`] signatures
/// come last, in pattern sets of their own.
pub fn priority(category: &str) -> u8 {
    match category {
        "scanner" => 0,
        "ai-crawler" => 1,
        "http-library" | "browser-automation" => 2,
        "seo" => 3,
        "archiver" | "academic" => 4,
        FLAGGED => FLAGGED_TIER,
        _ => 5,
    }
}

/// The category of signatures that come and go between runs (waf-sync's
/// candidates flagged by reporting). They are packed after the catalog's and
/// never share a pattern set (or a regex) with them, so a nightly change
/// rewrites only their sets and statements while the catalog's sets keep
/// their exact contents, and can be kept by name.
pub const FLAGGED: &str = "flagged";
const FLAGGED_TIER: u8 = 6;

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

/// An item to pack: one signature's regex text (or literals to factor, with
/// the [`shape`](bot_signatures_matcher::shape) around them).
struct Item {
    id: String,
    literals: Option<(Vec<String>, u8)>,
    regex: String,
}

/// A factored alternation of literals with the boundaries and version its
/// shape asks for (`\b(?:foo|bar)/v?\d`).
fn wrap(shape: u8, body: &str) -> String {
    use bot_signatures_matcher::shape::{AT_START, VERSION_AFTER, WORD_END, WORD_START};
    if shape == 0 {
        return body.to_owned();
    }
    format!(
        "{}{}(?:{body}){}{}",
        if shape & AT_START != 0 { "^" } else { "" },
        if shape & WORD_START != 0 { r"\b" } else { "" },
        if shape & WORD_END != 0 { r"\b" } else { "" },
        if shape & VERSION_AFTER != 0 {
            r"v?\d"
        } else {
            ""
        },
    )
}

/// Packs items into regexes of at most `MAX_REGEX_CHARS`, in order.
fn chunk(items: &[Item]) -> Vec<PackedRegex> {
    let mut out: Vec<PackedRegex> = Vec::new();
    let mut lits: Vec<(u8, String, String)> = Vec::new(); // (shape, literal, id)
    let mut others: Vec<&Item> = Vec::new();
    for item in items {
        match &item.literals {
            Some((l, shape)) => lits.extend(l.iter().map(|x| (*shape, x.clone(), item.id.clone()))),
            None => others.push(item),
        }
    }
    lits.sort();
    // One run of regexes per shape: literals of one shape share its wrapper.
    for shape in 0..=bot_signatures_matcher::shape::ALL {
        let mut current: Vec<(String, String)> = Vec::new();
        let render = |group: &[(String, String)]| {
            let mut t = Trie::default();
            for (l, _) in group {
                t.insert(l);
            }
            wrap(shape, &t.print_top())
        };
        for (_, lit, id) in lits.iter().filter(|(s, _, _)| *s == shape) {
            current.push((lit.clone(), id.clone()));
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

/// Chunks per priority tier so a cut falls between tiers, lowest priority last.
fn chunk_tiers(items: &[Item], tiers: &[u8]) -> Vec<PackedRegex> {
    let mut regexes = Vec::new();
    let mut start = 0;
    while start < items.len() {
        let end = tiers[start..]
            .iter()
            .position(|&t| t != tiers[start])
            .map_or(items.len(), |n| start + n);
        regexes.extend(chunk(&items[start..end]));
        start = end;
    }
    regexes
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
    let lits = pattern::edge_literals(&hir)
        .filter(|(l, _)| l.exact)
        .map(|(l, shape)| (l.set, shape));
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

/// Compiles the catalog into WAF rules within `budget`. `verified` is the
/// catalog's verified-bot table ([`crate::verified::for_catalog`]); without
/// one every `allow` is taken on its word, and a block that hits it wins.
pub fn compile(catalog: &Catalog, verified: Option<&VerifiedBots>, budget: Budget) -> WafRules {
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
    // Operator → (its signatures a block would hit, its lists).
    let mut by_operator: BTreeMap<String, (Vec<&Signature>, Vec<&RangeList>)> = BTreeMap::new();
    for &i in &compiled.source {
        let s = &catalog.signatures[i];
        if s.action == Action::Block || s.generic {
            continue;
        }
        let hit = s.instances.iter().any(|(ua, _)| {
            let ua = ua.to_ascii_lowercase();
            block_regexes.iter().any(|r| r.is_match(&ua))
        });
        if !hit {
            continue;
        }
        if s.action != Action::Allow {
            exceptions.push(s);
        } else if let Some((operator, lists)) = verified.and_then(|v| v.claim_lists(&s.id)) {
            let entry = by_operator
                .entry(operator.to_owned())
                .or_insert_with(|| (Vec::new(), lists));
            entry.0.push(s);
        } else {
            left_out.push(LeftOut {
                id: s.id.clone(),
                reason: "allow taken on its word, hit by a block: not exempt, as at the edge (a specific block beats an unverified allow); verify it in verified/operators.toml".into(),
            });
        }
    }

    let mut sets_left = budget.max_sets;
    let mut wcu_left = budget.max_wcu;
    // Exceptions first: without them a block could hit a good bot.
    let exception_items: Vec<Item> = exceptions.iter().filter_map(|s| item(s)).collect();
    let (exc, exc_rest) = place(chunk(&exception_items), &mut sets_left, &mut wcu_left);
    let mut dropped_exceptions: Vec<String> =
        exc_rest.iter().flat_map(|r| r.signatures.clone()).collect();
    let mut verified_exc = Vec::new();
    let mut ip_sets: BTreeMap<String, IpSet> = BTreeMap::new();
    for (operator, (sigs, lists)) in by_operator {
        let ids = || sigs.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        let own: Vec<IpSet> = lists.iter().flat_map(|l| ip_sets_of(l)).collect();
        let new_sets = own
            .iter()
            .filter(|x| !ip_sets.contains_key(&x.name))
            .count();
        let too_big = own.iter().any(|x| x.addresses.len() > MAX_IP_SET_ADDRESSES);
        let refs_wcu = own.len() as u32 * WCU_IP_SET_REFERENCE;
        if too_big || ip_sets.len() + new_sets > budget.max_ip_sets || wcu_left < refs_wcu {
            dropped_exceptions.extend(ids());
            continue;
        }
        let items: Vec<Item> = sigs.iter().filter_map(|s| item(s)).collect();
        let (mut sets_try, mut wcu_try) = (sets_left, wcu_left - refs_wcu);
        let (user_agents, rest) = place(chunk(&items), &mut sets_try, &mut wcu_try);
        if !rest.is_empty() || user_agents.is_empty() {
            dropped_exceptions.extend(ids());
            continue;
        }
        (sets_left, wcu_left) = (sets_try, wcu_try);
        verified_exc.push(VerifiedException {
            operator,
            user_agents,
            ip_sets: own.iter().map(|x| x.name.clone()).collect(),
        });
        for x in own {
            ip_sets.entry(x.name.clone()).or_insert(x);
        }
    }

    // Each packed item with its tier (`tiers[i]` is `block_items[i]`'s).
    let mut block_items: Vec<Item> = Vec::new();
    let mut tiers: Vec<u8> = Vec::new();
    for (tier, _, s) in &blocks {
        match item(s) {
            Some(it) if it.regex.len() <= MAX_REGEX_CHARS => {
                block_items.push(it);
                tiers.push(*tier);
            }
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
    // The flagged tier starts a pattern set of its own (see `FLAGGED`);
    // blocks are sorted by tier, so it is the tail.
    let flagged_from = tiers
        .iter()
        .position(|&t| t == FLAGGED_TIER)
        .unwrap_or(block_items.len());
    let (catalog_items, flagged_items) = block_items.split_at(flagged_from);
    let (mut block, mut rest) = place(
        chunk_tiers(catalog_items, &tiers[..flagged_from]),
        &mut sets_left,
        &mut wcu_left,
    );
    let (flagged, flagged_rest) = place(chunk(flagged_items), &mut sets_left, &mut wcu_left);
    block.regex_pattern_sets.extend(flagged.regex_pattern_sets);
    block.regex_match.extend(flagged.regex_match);
    rest.extend(flagged_rest);
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
    let statement = statement(&block, &exc, &verified_exc);
    WafRules {
        version: 2,
        budget,
        text_transformation: "LOWERCASE",
        wcu: block.wcu() + exc.wcu() + verified_exc.iter().map(VerifiedException::wcu).sum::<u32>(),
        sets_used: block.regex_pattern_sets.len()
            + exc.regex_pattern_sets.len()
            + verified_exc
                .iter()
                .map(|v| v.user_agents.regex_pattern_sets.len())
                .sum::<usize>(),
        block,
        exceptions: exc,
        verified: verified_exc,
        ip_sets: ip_sets.into_values().collect(),
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

fn statement(
    block: &Statements,
    exc: &Statements,
    verified: &[VerifiedException],
) -> serde_json::Value {
    use serde_json::json;
    let b = field_statements(block, 0);
    if b.is_empty() {
        return serde_json::Value::Null;
    }
    let b = any_of(b);
    let mut next_set = block.regex_pattern_sets.len();
    let mut e = field_statements(exc, next_set);
    next_set += exc.regex_pattern_sets.len();
    for v in verified {
        let ua = any_of(field_statements(&v.user_agents, next_set));
        next_set += v.user_agents.regex_pattern_sets.len();
        let ips = any_of(
            v.ip_sets
                .iter()
                .map(|name| json!({ "IPSetReferenceStatement": { "ARN": format!("${{ipset:{name}}}") } }))
                .collect(),
        );
        e.push(json!({ "AndStatement": { "Statements": [ua, ips] } }));
    }
    if e.is_empty() {
        return b;
    }
    json!({ "AndStatement": { "Statements": [b, { "NotStatement": { "Statement": any_of(e) } }] } })
}

/// One problem found by [`prove`].
pub type Problem = String;

/// Checks `rules` against the catalog, its verified-bot table and the browser
/// corpus, with a regex engine on lowercased input and the IP sets read back
/// as address tables, as WAF evaluates them.
pub fn prove(
    rules: &WafRules,
    catalog: &Catalog,
    verified: Option<&VerifiedBots>,
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
    // The IP sets as WAF holds them, read back into address tables.
    let mut tables: BTreeMap<&str, RangeList> = BTreeMap::new();
    let mut by_list: BTreeMap<&str, Vec<Prefix>> = BTreeMap::new();
    for set in &rules.ip_sets {
        if set.addresses.len() > MAX_IP_SET_ADDRESSES {
            problems.push(format!(
                "IP set {} holds {} addresses (quota {MAX_IP_SET_ADDRESSES})",
                set.name,
                set.addresses.len()
            ));
        }
        let mut prefixes = Vec::new();
        for a in &set.addresses {
            match Prefix::parse(a) {
                Some(p) if p.len > 0 && p.addr.is_ipv4() == (set.version == "IPV4") => {
                    prefixes.push(p);
                }
                _ => problems.push(format!(
                    "IP set {}: {a:?} is not a {} CIDR block WAF accepts",
                    set.name, set.version
                )),
            }
        }
        tables.insert(&set.name, RangeList::new(&set.name, &prefixes));
        by_list.entry(&set.list).or_default().extend(prefixes);
    }
    for (list, prefixes) in &by_list {
        let published = verified.and_then(|v| v.lists().iter().find(|l| l.name == *list));
        if published != Some(&RangeList::new(list, prefixes)) {
            problems.push(format!(
                "the IP sets of list {list} do not hold exactly the list's addresses"
            ));
        }
    }
    if rules.ip_sets.len() > rules.budget.max_ip_sets {
        problems.push(format!(
            "{} IP sets used, budget {}",
            rules.ip_sets.len(),
            rules.budget.max_ip_sets
        ));
    }
    let verified_exc: Vec<(Vec<regex::Regex>, Vec<&RangeList>)> = rules
        .verified
        .iter()
        .map(|v| {
            let ips = v
                .ip_sets
                .iter()
                .filter_map(|n| {
                    let t = tables.get(n.as_str());
                    if t.is_none() {
                        problems.push(format!(
                            "the exception of {} references IP set {n}, which the rules do not define",
                            v.operator
                        ));
                    }
                    t
                })
                .collect();
            (compile(&v.user_agents, &mut problems), ips)
        })
        .collect();
    for set in rules
        .block
        .regex_pattern_sets
        .iter()
        .chain(&rules.exceptions.regex_pattern_sets)
        .chain(
            rules
                .verified
                .iter()
                .flat_map(|v| &v.user_agents.regex_pattern_sets),
        )
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
    let hits = |rs: &[regex::Regex], ua: &str| rs.iter().any(|r| r.is_match(ua));
    // Blocked by the rule, for a request from `ip` (`None`: an address in no list).
    let blocked = |ua: &str, ip: Option<std::net::IpAddr>| {
        let ua = ua.to_ascii_lowercase();
        hits(&block, &ua)
            && !hits(&exc, &ua)
            && !verified_exc.iter().any(|(uas, ips)| {
                hits(uas, &ua) && ip.is_some_and(|ip| ips.iter().any(|t| t.contains(ip)))
            })
    };
    let packed: std::collections::HashSet<&str> = rules.packed.iter().map(String::as_str).collect();
    // One example of every verified bot, to append to what is blocked.
    let good: Vec<&str> = catalog
        .signatures
        .iter()
        .filter(|s| verified.is_some_and(|v| v.claim_lists(&s.id).is_some()))
        .filter_map(|s| s.instances.first().map(|(ua, _)| ua.as_str()))
        .collect();
    for s in &catalog.signatures {
        if packed.contains(s.id.as_str()) {
            for (ua, _) in &s.instances {
                if !blocked(ua, None) {
                    problems.push(format!(
                        "signature '{}': example {ua:?} is not blocked by the WAF rules",
                        s.id
                    ));
                }
                for g in &good {
                    for spoof in [format!("{ua} {g}"), format!("{g} {ua}")] {
                        if hits(&block, &spoof.to_ascii_lowercase()) && !blocked(&spoof, None) {
                            problems.push(format!(
                                "signature '{}': {spoof:?}, a good bot's user-agent added to the example, passes WAF from an address outside every list",
                                s.id
                            ));
                        }
                    }
                }
            }
        } else if s.action == Action::Allow {
            // A verified bot passes from inside its lists; one taken on its
            // word may be blocked (a specific block beats it at the edge too).
            let Some((_, lists)) = verified.and_then(|v| v.claim_lists(&s.id)) else {
                continue;
            };
            for (ua, _) in &s.instances {
                for l in &lists {
                    let inside = l.first_address();
                    if blocked(ua, inside) {
                        problems.push(format!(
                            "signature '{}' (allow): example {ua:?} from {} (list {}) would be blocked by WAF",
                            s.id,
                            inside.map_or_else(|| "nowhere".into(), |a| a.to_string()),
                            l.name
                        ));
                    }
                }
            }
        } else if s.action != Action::Block && !s.generic {
            // (A generic rule's example that a specific block hits is
            // blocked at the edge too: specific signatures decide first.)
            for (ua, _) in &s.instances {
                if blocked(ua, None) {
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
            if blocked(ua, None) {
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
            unless: None,
            backstop: false,
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
        let mut monitor = sig(
            "seen-fetch",
            "SeenBot Fetch/",
            Action::Monitor,
            &["SeenBot Fetch/3"],
        );
        monitor.category = "monitoring".into();
        let catalog = Catalog {
            signatures: vec![
                sig("fetchers", r"fetch/\d", Action::Block, &["Fetch/1"]),
                sig(
                    "good-fetch",
                    "GoodBot Fetch/",
                    Action::Allow,
                    &["GoodBot Fetch/2"],
                ),
                monitor,
            ],
        };
        // No verified-bot table: the allow is taken on its word and the block
        // wins, as at the edge; the monitor is exempt by user-agent.
        let rules = compile(&catalog, None, Budget::default());
        let exempt = |st: &Statements| {
            st.regexes()
                .flat_map(|r| r.signatures.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(exempt(&rules.exceptions), vec!["seen-fetch"]);
        assert!(rules.verified.is_empty() && rules.ip_sets.is_empty());
        assert!(rules.left_out.iter().any(|l| l.id == "good-fetch"));
        assert_eq!(prove(&rules, &catalog, None, None), Vec::<Problem>::new());
        assert!(rules.statement.to_string().contains("NotStatement"));
    }

    fn verified_catalog() -> (Catalog, VerifiedBots) {
        let catalog = Catalog {
            signatures: vec![
                sig(
                    "fetchers",
                    r"fetch/\d",
                    Action::Block,
                    &["Fetch/1", "Scrapy Fetch/9"],
                ),
                sig(
                    "good-fetch",
                    "GoodBot Fetch/",
                    Action::Allow,
                    &["GoodBot Fetch/2"],
                ),
            ],
        };
        let p = |t: &str| Prefix::parse(t).unwrap();
        let list = RangeList::new(
            "goodlist",
            &[
                p("66.249.64.0/27"),
                p("66.249.64.32/27"),
                p("2001:db8:1::/48"),
            ],
        );
        let table = VerifiedBots::new(
            vec![list],
            vec![("good-fetch".into(), "goodco".into(), vec![0])],
        )
        .unwrap();
        (catalog, table)
    }

    #[test]
    fn a_verified_bot_is_exempt_only_from_its_addresses() {
        let (catalog, table) = verified_catalog();
        let rules = compile(&catalog, Some(&table), Budget::default());
        assert!(rules.exceptions.is_empty(), "{:?}", rules.exceptions);
        assert_eq!(rules.verified.len(), 1);
        assert_eq!(rules.verified[0].operator, "goodco");
        assert_eq!(rules.verified[0].ip_sets, ["goodlist-v4", "goodlist-v6"]);
        assert_eq!(rules.ip_sets[0].addresses, ["66.249.64.0/26"]);
        assert_eq!(rules.ip_sets[1].addresses, ["2001:db8:1::/48"]);
        assert_eq!(rules.ip_sets[1].version, "IPV6");
        assert_eq!(
            rules.wcu,
            WCU_REGEX_MATCH * 2 + 2 * WCU_IP_SET_REFERENCE,
            "one block regex, one exception regex, two IP set references"
        );
        assert_eq!(
            prove(&rules, &catalog, Some(&table), None),
            Vec::<Problem>::new()
        );
        let text = rules.statement.to_string();
        assert!(text.contains("${ipset:goodlist-v4}") && text.contains("${ipset:goodlist-v6}"));

        // The old shape, exempt by user-agent alone: the proof finds the
        // scraper that appends the good bot's user-agent.
        let mut loose = rules.clone();
        loose.exceptions = loose.verified[0].user_agents.clone();
        loose.verified.clear();
        let problems = prove(&loose, &catalog, Some(&table), None);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("\"Scrapy Fetch/9 GoodBot Fetch/2\"")),
            "{problems:?}"
        );
        // An IP set that lost a block, or gained one, is not the list.
        let mut short = rules.clone();
        short.ip_sets[0].addresses = vec!["66.249.64.0/27".into()];
        assert!(
            prove(&short, &catalog, Some(&table), None)
                .iter()
                .any(|p| p.contains("do not hold exactly"))
        );
        let mut wide = rules.clone();
        wide.ip_sets[0].addresses = vec!["0.0.0.0/0".into()];
        assert!(!prove(&wide, &catalog, Some(&table), None).is_empty());
        // The verified bot from inside its list passes; the proof notices
        // when it would not.
        let mut wrong = rules.clone();
        wrong.verified[0].ip_sets = vec!["goodlist-v6".into()];
        assert!(
            prove(&wrong, &catalog, Some(&table), None)
                .iter()
                .any(|p| p.contains("from 66.249.64.0 (list goodlist) would be blocked"))
        );
    }

    #[test]
    fn verified_exceptions_that_do_not_fit_are_reported() {
        let (catalog, table) = verified_catalog();
        let rules = compile(
            &catalog,
            Some(&table),
            Budget {
                max_ip_sets: 1,
                ..Budget::default()
            },
        );
        assert!(rules.verified.is_empty() && rules.ip_sets.is_empty());
        assert!(
            rules
                .left_out
                .iter()
                .any(|l| l.id == "good-fetch" && l.reason == "exceptions over the budget")
        );
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
            None,
            Budget {
                max_sets: 1,
                max_wcu: 35 + 13,
                ..Budget::default()
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
        assert!(prove(&rules, &catalog, None, None).is_empty());
    }

    #[test]
    fn prove_catches_a_broken_packing() {
        let catalog = Catalog {
            signatures: vec![sig("foo", "FooBot", Action::Block, &["FooBot/1"])],
        };
        let mut rules = compile(&catalog, None, Budget::default());
        assert!(prove(&rules, &catalog, None, None).is_empty());
        rules.block.regex_match[0].regex = "barbot".into();
        assert_eq!(prove(&rules, &catalog, None, None).len(), 1);
        rules.block.regex_match[0].regex = "x".repeat(201);
        assert!(
            prove(&rules, &catalog, None, None)
                .iter()
                .any(|p| p.contains("quota"))
        );
    }

    #[test]
    fn flagged_signatures_never_share_a_set_and_leave_the_catalogs_alone() {
        let (catalog, _) = Catalog::embedded();
        let flagged = |tokens: &[&str]| {
            let mut c = catalog.clone();
            for t in tokens {
                let mut s = sig(
                    &format!("flagged-{t}"),
                    t,
                    Action::Block,
                    &[&format!("{t}/1.0")],
                );
                s.category = FLAGGED.into();
                c.signatures.push(s);
            }
            c
        };
        let ids = |r: &PackedRegex| r.signatures.clone();
        let base = compile(&catalog, None, Budget::default());
        // Enough tokens for sets of their own, then one more in the middle.
        let many: Vec<String> = (0..40).map(|i| format!("zq{i:02}harvester")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let mut more = many.clone();
        more.push("zq17aharvester");
        for tokens in [&many[..3], &many[..], &more[..]] {
            let rules = compile(&flagged(tokens), None, Budget::default());
            assert!(
                rules.left_out.iter().all(|l| !l.id.starts_with("flagged-")),
                "{:?}",
                rules.left_out
            );
            // The catalog's sets are exactly as without the flagged ones...
            let n = base.block.regex_pattern_sets.len();
            assert_eq!(
                rules.block.regex_pattern_sets[..n],
                base.block.regex_pattern_sets[..]
            );
            // ...and no set or regex mixes the two.
            for set in &rules.block.regex_pattern_sets[n..] {
                assert!(
                    set.iter()
                        .flat_map(ids)
                        .all(|id| id.starts_with("flagged-")),
                    "{set:?}"
                );
            }
            for r in &rules.block.regex_match[base.block.regex_match.len()..] {
                assert!(
                    r.signatures.iter().all(|id| id.starts_with("flagged-")),
                    "{r:?}"
                );
            }
            assert!(prove(&rules, &flagged(tokens), None, None).is_empty());
        }
    }

    #[test]
    fn chunks_respect_the_length_quota() {
        let items: Vec<Item> = (0..300)
            .map(|i| Item {
                id: format!("s{i}"),
                literals: Some((vec![format!("crawler{i:04}x")], 0)),
                regex: String::new(),
            })
            .collect();
        let out = chunk(&items);
        assert!(out.iter().all(|r| r.regex.len() <= MAX_REGEX_CHARS));
        assert_eq!(out.iter().map(|r| r.signatures.len()).sum::<usize>(), 300);
    }
}
