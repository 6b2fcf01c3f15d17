//! The importers for third-party crawler lists: the npm packages
//! `crawler-user-agents` (MIT) and `isbot` (Unlicense), both pinned in the root
//! `package-lock.json`, become generated catalog files under
//! `catalog/imported/`.
//!
//! Every imported pattern is made to match a product, not a word
//! ([`tighten`]): it is anchored at a token boundary (`\bSonic`, so that
//! Panasonic and ViewSonic phones stay out) whenever every example still
//! matches; where the guard corpus of real devices still trips it, it also
//! gets a right boundary or a version shape (`\bButterfly/\d`, so that an
//! "HTC Butterfly" phone stays out). Entries that would fail `check` are not
//! written as signatures; they are listed, with the reason, in the generated
//! file's trailing comment, so nothing is dropped silently.

use std::collections::{BTreeMap, HashSet};

use bot_signatures_matcher::Action;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::corpus::BrowserCorpus;
use crate::validate::{decider, validate};

/// One entry of `crawler-user-agents.json`.
#[derive(Debug, Deserialize)]
pub struct UpstreamEntry {
    /// A regex.
    pub pattern: String,
    /// `YYYY/MM/DD`, when known.
    #[serde(default)]
    pub addition_date: Option<String>,
    /// The crawler's documentation.
    #[serde(default)]
    pub url: Option<String>,
    /// Example user-agents.
    #[serde(default)]
    pub instances: Vec<String>,
    /// What it is.
    #[serde(default)]
    pub description: Option<String>,
    /// Categories such as `search-engine` or `seo`.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A list the importer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// npm `crawler-user-agents`: patterns with tags, examples and dates.
    CrawlerUserAgents,
    /// npm `isbot`: a bare list of patterns; examples come from isbot's own
    /// test fixtures (`bot-signatures/data/isbot/crawlers.txt`).
    Isbot,
}

impl Source {
    /// Every source, in import order (isbot's entries are generic, so they are
    /// checked against crawler-user-agents' specific ones, never the reverse).
    pub const ALL: [Source; 2] = [Source::CrawlerUserAgents, Source::Isbot];

    /// The npm package name, also the generated file's stem.
    pub fn name(self) -> &'static str {
        match self {
            Source::CrawlerUserAgents => "crawler-user-agents",
            Source::Isbot => "isbot",
        }
    }

    /// The id prefix of generated signatures.
    pub fn prefix(self) -> &'static str {
        match self {
            Source::CrawlerUserAgents => "cua",
            Source::Isbot => "isbot",
        }
    }

    /// The package's licence, as the generated file's header names it.
    pub fn license(self) -> &'static str {
        match self {
            Source::CrawlerUserAgents => "MIT License",
            Source::Isbot => "Unlicense",
        }
    }

    /// The pattern list inside the installed package.
    pub fn list_file(self) -> &'static str {
        match self {
            Source::CrawlerUserAgents => "crawler-user-agents.json",
            Source::Isbot => "index.js",
        }
    }
}

/// isbot's pattern list from the file its package ships (`index.js`, where the
/// list is the JSON array literal `var patterns_default = [...];`), or from a
/// plain JSON array of strings.
pub fn isbot_patterns(text: &str) -> Result<Vec<String>, String> {
    const START: &str = "var patterns_default = [";
    let json = if text.trim_start().starts_with('[') {
        text.to_owned()
    } else {
        let at = text
            .find(START)
            .ok_or("no `var patterns_default = [` in the file: not isbot's index.js, or isbot changed its layout")?;
        let body = &text[at + START.len() - 1..];
        let end = body
            .find("\n];")
            .ok_or("the pattern list in index.js has no end (`];`)")?;
        format!("{}]", &body[..end])
    };
    serde_json::from_str(&json)
        .map_err(|e| format!("the pattern list is not a JSON array of strings: {e}"))
}

/// The action an imported crawler-user-agents signature gets from its first
/// tag. Search engines and link-preview fetchers are allowed (blocking them
/// breaks search and sharing); monitoring, feed readers and ad-quality bots
/// are counted; every other tag, and no tag, is blocked. Analysts override per
/// signature by moving it into a hand-edited file.
pub fn action_for_tags(tags: &[String]) -> Action {
    match tags.first().map(String::as_str) {
        Some("search-engine" | "social-preview") => Action::Allow,
        Some("monitoring" | "feed-reader" | "advertising") => Action::Monitor,
        _ => Action::Block,
    }
}

/// What an isbot pattern gets: `(action, category)`. isbot's list has no
/// metadata, so the decision is made from the pattern's own words: uptime,
/// performance and validation tools a site owner runs are counted
/// (`monitor`); link-preview and feed fetchers are counted too; everything
/// else is blocked. Never `allow`: an isbot entry is a heuristic, and an
/// `allow` on a heuristic would let anyone who spells it past the generic
/// rules.
pub fn isbot_decision(pattern: &str) -> (Action, &'static str) {
    const MONITORING: &[&str] = &[
        "monitor",
        "pingdom",
        "statuscake",
        "uptime",
        "speedcurve",
        "rigor",
        "synthetic",
        "pagespeed",
        "neustar",
        "iplabel",
        "dejaclick",
        "dareboost",
        "infrawatch",
        "24x7",
        "measure",
        "blackbox exporter",
        "hardenize",
        "securityheaders",
        "testlocally",
        "validator",
        "w3c",
        "linkcheck",
        "linktiger",
        "link sleuth",
    ];
    const PREVIEW: &[&str] = &["preview", "feed", "rss", "read"];
    let p = pattern.to_ascii_lowercase();
    if MONITORING.iter().any(|w| p.contains(w)) {
        (Action::Monitor, "monitoring")
    } else if PREVIEW.iter().any(|w| p.contains(w)) {
        (Action::Monitor, "preview")
    } else {
        (Action::Block, "isbot")
    }
}

/// One signature the importer may write.
#[derive(Debug, Clone, Serialize)]
pub struct Draft {
    id: String,
    pattern: String,
    action: Action,
    category: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    generic: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    unless: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    backstop: bool,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    added: String,
    author: String,
    instances: Vec<String>,
    /// The upstream pattern, when the draft rewrote it without look-around.
    #[serde(skip)]
    rewritten_from: Option<String>,
}

impl Draft {
    /// The pattern as the source wrote it.
    fn upstream(&self) -> &str {
        self.rewritten_from.as_deref().unwrap_or(&self.pattern)
    }
}

#[derive(Serialize)]
struct OutFile<'a> {
    signature: &'a [Draft],
}

/// What an import produced.
#[derive(Debug)]
pub struct Imported {
    /// The generated TOML file.
    pub text: String,
    /// Entries written.
    pub written: usize,
    /// `(upstream pattern, reason)` for every entry left out.
    pub skipped: Vec<(String, String)>,
    /// `(upstream pattern, written pattern)` for every pattern the importer
    /// tightened.
    pub tightened: Vec<(String, String)>,
}

/// The drafts for crawler-user-agents' entries (specific signatures).
pub fn crawler_user_agents(
    upstream: &[UpstreamEntry],
    package: &str,
    import_date: &str,
) -> Vec<Draft> {
    upstream
        .iter()
        .map(|e| Draft {
            id: String::new(),
            pattern: e.pattern.clone(),
            action: action_for_tags(&e.tags),
            category: e.tags.first().cloned().unwrap_or_else(|| "crawler".into()),
            generic: false,
            unless: None,
            backstop: false,
            description: e
                .description
                .clone()
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| "crawler listed by crawler-user-agents".into()),
            url: e
                .url
                .clone()
                .filter(|u| u.starts_with("http://") || u.starts_with("https://")),
            added: e
                .addition_date
                .as_deref()
                .map(|d| d.replace('/', "-"))
                .unwrap_or_else(|| import_date.to_owned()),
            author: format!("import:{package}"),
            instances: e.instances.clone(),
            rewritten_from: None,
        })
        .collect()
}

/// Where isbot's entries take their examples from.
#[derive(Debug, Clone, Default)]
pub struct IsbotExamples {
    /// isbot's crawler fixtures, then crawler-user-agents' instances (pinned
    /// beside it).
    pub primary: Vec<String>,
    /// The development sets of bots ([`crate::corpus::DEVELOPMENT_BOTS`], read
    /// by the caller): examples only for an entry that has none in `primary`,
    /// so the entries isbot's own data supports are drafted exactly as before.
    pub development: Vec<String>,
}

/// The user-agents isbot's entries take their examples from, each once. One
/// place for the CLI's `import` and the drift test.
pub fn isbot_examples(
    fixtures: Vec<String>,
    crawler_user_agents: &[UpstreamEntry],
    development: Vec<String>,
) -> IsbotExamples {
    let mut seen = HashSet::new();
    let primary: Vec<String> = fixtures
        .into_iter()
        .chain(
            crawler_user_agents
                .iter()
                .flat_map(|e| e.instances.iter().cloned()),
        )
        .filter(|u| seen.insert(u.clone()))
        .collect();
    let development = development
        .into_iter()
        .filter(|u| seen.insert(u.clone()))
        .collect();
    IsbotExamples {
        primary,
        development,
    }
}

/// Why an isbot pattern names a browser people use, if it does: such a
/// pattern is left out whatever its examples (a source may file the browser's
/// user-agent as a bot). The catalog's `generic-name-only` spares the same.
pub fn isbot_names_a_browser(pattern: &str) -> Option<&'static str> {
    const BROWSERS: &[(&str, &str)] = &[(
        "netsurf",
        "NetSurf, a web browser for RISC OS and Unix-like systems, sends its bare name",
    )];
    let p = pattern.to_ascii_lowercase();
    BROWSERS
        .iter()
        .find(|(word, _)| p.contains(word))
        .map(|&(_, why)| why)
}

/// The drafts for isbot's patterns: generic signatures (a specific signature
/// always decides before them), each with up to three examples from isbot's
/// crawler fixtures and crawler-user-agents' instances, or, for a pattern none
/// of those match, from the development sets of bots; those the rest of the
/// catalog does not already decide first. A pattern no example matches cannot
/// be checked, so it is left out (returned with the reason).
pub fn isbot(
    patterns: &[String],
    examples: &IsbotExamples,
    existing: &Catalog,
    package: &str,
    import_date: &str,
) -> (Vec<Draft>, Vec<(String, String)>) {
    let decided: HashSet<&str> = match crate::compile::compile(existing).matcher() {
        Ok(m) => examples
            .primary
            .iter()
            .chain(&examples.development)
            .filter(|f| m.classify(f).is_some())
            .map(String::as_str)
            .collect(),
        Err(_) => HashSet::new(),
    };
    let mut drafts = Vec::new();
    let mut skipped = Vec::new();
    for p in patterns {
        // A pattern with look-around is written as its core and an `unless`;
        // each compiled once, here.
        let rule = match case_insensitive(p) {
            Some(re) => Some((p.clone(), None, re, None)),
            None => without_lookaround(p).and_then(|(core, unless)| {
                let re = case_insensitive(&core)?;
                let spare = match &unless {
                    Some(u) => Some(case_insensitive(u)?),
                    None => None,
                };
                Some((core, unless, re, spare))
            }),
        };
        let Some((pattern, unless, re, spare)) = rule else {
            skipped.push((
                p.clone(),
                "pattern-syntax: a construct the edge's regex engine and AWS WAF lack, and no rewrite without look-around".to_owned(),
            ));
            continue;
        };
        if let Some(why) = isbot_names_a_browser(p) {
            skipped.push((p.clone(), format!("names a browser: {why}")));
            continue;
        }
        // isbot's own examples, or, when it has none, the development sets'.
        let mut hits: Vec<&String> = [&examples.primary, &examples.development]
            .into_iter()
            .map(|from| {
                from.iter()
                    .filter(|f| {
                        re.is_match(f.as_bytes())
                            && !spare.as_ref().is_some_and(|s| s.is_match(f.as_bytes()))
                    })
                    .collect::<Vec<_>>()
            })
            .find(|hits| !hits.is_empty())
            .unwrap_or_default();
        if hits.is_empty() {
            skipped.push((p.clone(), "no example: no user-agent of isbot's crawler fixtures, crawler-user-agents' instances or the development sets of bots matches it".to_owned()));
            continue;
        }
        hits.sort_by_key(|f| decided.contains(f.as_str()));
        let (action, category) = isbot_decision(p);
        let rewritten_from = (pattern != *p).then(|| p.clone());
        drafts.push(Draft {
            id: String::new(),
            pattern,
            action,
            category: category.to_owned(),
            generic: true,
            unless,
            backstop: false,
            description: format!("isbot pattern /{p}/"),
            url: None,
            added: import_date.to_owned(),
            author: format!("import:{package}"),
            instances: hits.into_iter().take(3).cloned().collect(),
            rewritten_from,
        });
    }
    (drafts, skipped)
}

/// isbot's pattern (JavaScript syntax) without look-around, which neither
/// the edge's regex engine nor AWS WAF has: a negative look-behind at the
/// start and a negative look-ahead at the end become the rule's `unless`,
/// which spares a user-agent where the rest (the core) occurs in the excluded
/// context. The rule then flags a subset of what the upstream pattern flags
/// (one occurrence in the excluded context spares the user-agent even when
/// another is not in it). A dash beside a class escape in brackets
/// (`[\w\d-.]`), a literal dash in JavaScript, is escaped. Returns the core
/// and the `unless`, or `None` when the result is still not a pattern the
/// catalog accepts (another look-around, a positive one, one in the middle,
/// an empty core).
pub fn without_lookaround(pattern: &str) -> Option<(String, Option<String>)> {
    let pattern = literal_class_dashes(pattern);
    let (behind, rest) = match pattern.strip_prefix("(?<!") {
        Some(after) => {
            let end = group_end(after)?;
            (Some(&after[..end]), &after[end + 1..])
        }
        None => (None, pattern.as_str()),
    };
    let (core, ahead) = match lookahead_at_end(rest) {
        Some(at) => (&rest[..at], Some(&rest[at + 3..rest.len() - 1])),
        None => (rest, None),
    };
    // Another look-around, in the core or inside these, is no pattern
    // either engine reads: `check` refuses it below.
    let spare: Vec<String> = [
        behind.map(|b| format!("(?:{b})(?:{core})")),
        ahead.map(|a| format!("(?:{core})(?:{a})")),
    ]
    .into_iter()
    .flatten()
    .collect();
    let unless = (!spare.is_empty()).then(|| spare.join("|"));
    let readable = crate::pattern::check(core).is_ok()
        && unless
            .as_deref()
            .is_none_or(|u| crate::pattern::check_unless(u).is_ok());
    readable.then(|| (core.to_owned(), unless))
}

/// `pattern` with each dash that sits beside a class escape inside brackets
/// (`[\w\d-.]`) escaped: JavaScript reads it as a literal, the Rust and WAF
/// engines refuse it as a range.
fn literal_class_dashes(pattern: &str) -> String {
    let b = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len());
    let (mut in_class, mut i) = (false, 0);
    let class_escape = |at: usize| {
        b.get(at) == Some(&b'\\') && b.get(at + 1).is_some_and(|c| b"wWdDsS".contains(c))
    };
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let next = pattern[i + 1..].chars().next().map_or(0, char::len_utf8);
                out.push_str(&pattern[i..i + 1 + next]);
                i += 1 + next;
                continue;
            }
            // Unescaped: '[' inside brackets is a literal; ']' closes them.
            b'[' => in_class = true,
            b']' => in_class = false,
            b'-' if in_class && (i >= 2 && class_escape(i - 2) || class_escape(i + 1)) => {
                out.push_str("\\-");
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = pattern[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&pattern[i..i + len]);
        i += len;
    }
    out
}

/// Walks `s` outside escapes and bracketed classes and calls `paren(i, open,
/// depth)` at each parenthesis (`depth`: the groups open before it), until it
/// returns a value.
fn find_paren<T>(s: &str, mut paren: impl FnMut(usize, bool, usize) -> Option<T>) -> Option<T> {
    let b = s.as_bytes();
    let (mut depth, mut in_class, mut i) = (0usize, false, 0);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'(' if !in_class => {
                if let Some(found) = paren(i, true, depth) {
                    return Some(found);
                }
                depth += 1;
            }
            b')' if !in_class => {
                if let Some(found) = paren(i, false, depth) {
                    return Some(found);
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the `)` that closes a group whose contents start at `s[0]`.
fn group_end(s: &str) -> Option<usize> {
    find_paren(s, |i, open, depth| (!open && depth == 0).then_some(i))
}

/// Where a top-level `(?!...)` that ends `s` starts, if one does.
fn lookahead_at_end(s: &str) -> Option<usize> {
    find_paren(s, |i, open, depth| {
        let ends_s = |end: usize| i + 3 + end == s.len() - 1;
        (open
            && depth == 0
            && s[i..].starts_with("(?!")
            && group_end(&s[i + 3..]).is_some_and(ends_s))
        .then_some(i)
    })
}

/// A regex as the edge and WAF read a pattern: case-insensitive, ASCII.
fn case_insensitive(pattern: &str) -> Option<regex::bytes::Regex> {
    regex::bytes::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .unicode(false)
        .build()
        .ok()
}

/// Whether `pattern` matches every one of `instances` (and there is one).
fn matches_all(pattern: &str, instances: &[String]) -> bool {
    case_insensitive(pattern).is_some_and(|re| {
        !instances.is_empty() && instances.iter().all(|i| re.is_match(i.as_bytes()))
    })
}

/// What follows the first match of `form` in every instance, when all
/// instances agree (ASCII case-insensitively): one or two separators
/// (` -_.,`, but not a comma alone, which separates list items) and a word
/// of three letters or more, or a shorter word and one more such step
/// (`, a Palo`), escaped for a regex; `None` otherwise.
fn shared_next_word(form: &str, instances: &[String]) -> Option<String> {
    let re = case_insensitive(form)?;
    let mut shared: Option<String> = None;
    for i in instances {
        let m = re.find(i.as_bytes())?;
        let next = next_words(&i.as_bytes()[m.end()..])?;
        match &shared {
            None => shared = Some(next),
            Some(s) if s.eq_ignore_ascii_case(&next) => {}
            Some(_) => return None,
        }
    }
    shared.map(|s| {
        s.chars()
            .map(|c| {
                if c == '.' {
                    "\\.".to_owned()
                } else {
                    c.to_string()
                }
            })
            .collect()
    })
}

/// Separators and a word (see [`shared_next_word`]), at most two steps.
fn next_words(rest: &[u8]) -> Option<String> {
    let mut out = String::new();
    let mut at = 0;
    for _ in 0..2 {
        let seps = rest[at..]
            .iter()
            .take_while(|b| b" -_.,".contains(b))
            .count();
        if !(1..=2).contains(&seps) {
            return None;
        }
        // A comma with no space separates the items of a list
        // (`daumoa,damoa,daum`), not the words of one product's name.
        if &rest[at..at + seps] == b"," {
            return None;
        }
        let word = rest[at + seps..]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        if word == 0 {
            return None;
        }
        out.push_str(std::str::from_utf8(&rest[at..at + seps + word]).ok()?);
        at += seps + word;
        if word >= 3 {
            return Some(out);
        }
    }
    None
}

/// An Android firmware build id (`AP3A.240617.008`, `TKQ1.221114.001`): it
/// names a phone's firmware, which millions of real devices share, never a
/// crawler.
pub fn is_android_build_id(pattern: &str) -> bool {
    let text = pattern.replace("\\.", ".");
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && parts[0].len() == 4
        && parts[0]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && parts[1].len() == 6
        && parts[1].bytes().all(|b| b.is_ascii_digit())
        && parts[2].len() == 3
        && parts[2].bytes().all(|b| b.is_ascii_digit())
}

/// Where a product token starts: the start of the user-agent, or after a
/// space, `/`, `;`, `(`, `+`, `,` or `:`. Not after `.`, `-` or `_`, which
/// join the parts of one token (`OMI/4.20.3.54.Catcher2` is a TV's firmware,
/// not the Catchpoint monitor).
pub const TOKEN_START: &str = r"(?:^|[\s/;(+,:])";

/// The forms a pattern can be tightened to, strictest last: anchored at a
/// token boundary on the left; on both sides; and with a version after the
/// product (`/1.0`, ` 2`, `/v3`). Empty when the pattern is already anchored
/// (`^`, `\b`) or does not start and end with a letter or digit.
pub fn tighter_forms(pattern: &str) -> Vec<String> {
    let starts_word = pattern
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        || pattern.starts_with("[")
            && pattern[1..]
                .chars()
                .take_while(|&c| c != ']')
                .all(|c| c.is_ascii_alphanumeric());
    if !starts_word {
        return Vec::new();
    }
    let top_level_alternation = bot_signatures_matcher::top_level_alternatives(pattern).len() > 1;
    let body = if top_level_alternation {
        format!("(?:{pattern})")
    } else {
        pattern.to_owned()
    };
    let mut forms = vec![format!(r"\b{body}")];
    let ends_word = pattern
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && !pattern.ends_with("\\d")
        && !pattern.ends_with("\\w");
    if ends_word || top_level_alternation {
        forms.push(format!(r"\b{body}\b"));
        forms.push(format!(r"\b{body}/v?\d"));
    }
    forms
}

/// The form of `pattern` the importer writes: the strictest of
/// [`tighter_forms`] that keeps every example (a product as its examples spell
/// it: `Fever/1.38` makes `\bFever/v?\d`, a bare `Expanse,` makes
/// `\bExpanse\b`), else the pattern as it is; then, while real devices of
/// `guard` still match, the stricter forms that keep at least one example,
/// each also tried at a token's start ([`TOKEN_START`]) in place of `\b`.
/// Returns the pattern and the examples it keeps, or `None` when every form
/// that keeps an example still matches a device.
pub fn tighten(
    pattern: &str,
    instances: &[String],
    guard: Option<&BrowserCorpus>,
) -> Option<(String, Vec<String>)> {
    tighten_unless(pattern, None, instances, guard)
}

/// [`tighten`] for a rule with an `unless`: a device the `unless` spares is
/// no false positive, and an example it spares is not kept.
pub fn tighten_unless(
    pattern: &str,
    unless: Option<&str>,
    instances: &[String],
    guard: Option<&BrowserCorpus>,
) -> Option<(String, Vec<String>)> {
    let spare = unless.and_then(case_insensitive);
    let spared = |u: &str| spare.as_ref().is_some_and(|s| s.is_match(u.as_bytes()));
    let instances: Vec<String> = instances.iter().filter(|i| !spared(i)).cloned().collect();
    if instances.is_empty() && unless.is_some() {
        return None;
    }
    let instances = &instances[..];
    let mut forms = tighter_forms(pattern);
    if let Some(context) = forms.first().and_then(|f| shared_next_word(f, instances)) {
        // The product's next word, when every example spells it the same:
        // "Speedy Spider", not the codename "speedy" a phone app sends.
        let at = forms.len().saturating_sub(1).max(1).min(forms.len());
        forms.insert(at, format!("{}{context}", forms[0]));
    }
    let mut best = (pattern.to_owned(), instances.to_vec());
    if let Some(strict) = forms.iter().rev().find(|f| matches_all(f, instances)) {
        best = (strict.clone(), instances.to_vec());
    }
    let clean = |p: &str| -> bool {
        let Some(re) = case_insensitive(p) else {
            return false;
        };
        guard.is_none_or(|g| {
            !g.user_agents
                .iter()
                .any(|u| re.is_match(u.as_bytes()) && !spared(u))
        })
    };
    if clean(&best.0) {
        return Some(best);
    }
    let candidates = forms.iter().flat_map(|f| {
        let at_token = f
            .strip_prefix(r"\b")
            .map(|rest| format!("{TOKEN_START}{rest}"));
        std::iter::once(f.clone()).chain(at_token)
    });
    for form in candidates {
        let Some(re) = case_insensitive(&form) else {
            continue;
        };
        let kept: Vec<String> = instances
            .iter()
            .filter(|i| re.is_match(i.as_bytes()))
            .cloned()
            .collect();
        if !kept.is_empty() && clean(&form) {
            return Some((form, kept));
        }
    }
    None
}

/// Builds the generated catalog file for `source` from its drafts.
///
/// `package` is `name@version`; `import_date` is written in the header;
/// `existing` is the rest of the catalog (hand-written files and the other
/// imports), used so that imported entries never duplicate or shadow it;
/// `skipped` are entries the draft step already left out.
pub fn import(
    source: Source,
    mut entries: Vec<Draft>,
    mut skipped: Vec<(String, String)>,
    package: &str,
    import_date: &str,
    existing: &Catalog,
    browsers: Option<&BrowserCorpus>,
) -> Imported {
    let mut used_ids: HashSet<String> = existing.signatures.iter().map(|s| s.id.clone()).collect();
    let mut tightened = Vec::new();
    let mut kept = Vec::with_capacity(entries.len());
    for mut e in entries.drain(..) {
        if is_android_build_id(&e.pattern) {
            skipped.push((e.pattern.clone(), "an Android build id: it names phone firmware that real devices share, not a crawler".to_owned()));
            continue;
        }
        match tighten_unless(&e.pattern, e.unless.as_deref(), &e.instances, browsers) {
            Some((pattern, instances)) => {
                if pattern != e.pattern {
                    tightened.push((e.upstream().to_owned(), pattern.clone()));
                }
                let base = format!("{}-{}", source.prefix(), slug(&e.pattern));
                let mut id = base.clone();
                if used_ids.contains(&id) {
                    id = (2..)
                        .map(|n| format!("{base}-{n}"))
                        .find(|c| !used_ids.contains(c))
                        .unwrap_or(base);
                }
                used_ids.insert(id.clone());
                e.id = id;
                e.pattern = pattern;
                e.instances = instances;
                kept.push(e);
            }
            None => skipped.push((
                e.upstream().to_owned(),
                "matches-browser: every form that keeps an example also matches a real device of the guard corpus".to_owned(),
            )),
        }
    }
    let mut entries = kept;

    // Validate together with the rest of the catalog; drop every entry with an
    // error and try again (dropping one can un-shadow another), at most ten rounds.
    for _ in 0..10 {
        let text = render(source, &entries, package, import_date, &[], &[]);
        let files = vec![("<import>".to_owned(), text)];
        let (generated, _) = Catalog::parse(&files);
        let mut all = existing.clone();
        all.signatures.extend(generated.signatures);
        let report = validate(&all, browsers);
        let errors: Vec<_> = report
            .diagnostics
            .iter()
            .filter(|d| d.severity == crate::Severity::Error && d.file == "<import>")
            .collect();
        // Shadowing depends on which entries stay: drop the other errors first.
        let only_shadowed = errors.iter().all(|d| d.code == crate::Code::Shadowed);
        let mut bad: BTreeMap<String, String> = BTreeMap::new();
        // A generic entry the catalog decides on every example stays as a
        // backstop (it generalizes past its examples); a specific one goes.
        let mut backstops: HashSet<String> = HashSet::new();
        for d in errors
            .into_iter()
            .filter(|d| only_shadowed || d.code != crate::Code::Shadowed)
        {
            if let Some(s) = all
                .signatures
                .iter()
                .find(|s| s.location.file == "<import>" && covers(s, d.line))
            {
                if d.code == crate::Code::Shadowed && s.generic {
                    backstops.insert(s.id.clone());
                    continue;
                }
                bad.entry(s.id.clone()).or_insert_with(|| {
                    format!("{}: {}", d.code.as_str(), without_dirs(&d.message))
                });
            }
        }
        // An import never takes an example away from the rest of the catalog:
        // the imported signatures that now decide a shadowed signature's
        // examples go.
        let newly_shadowed: Vec<&crate::Signature> = report
            .diagnostics
            .iter()
            .filter(|d| d.code == crate::Code::Shadowed && d.file != "<import>")
            .filter_map(|d| {
                all.signatures
                    .iter()
                    .find(|s| s.location.file == d.file && s.location.line == d.line)
            })
            .collect();
        if !newly_shadowed.is_empty()
            && let Ok(m) = report.compiled.matcher()
        {
            let imported = |id: &str| entries.iter().any(|e| e.id == id);
            for s in newly_shadowed {
                for (ua, _) in &s.instances {
                    let matches: Vec<_> = m.matches(ua).collect();
                    if let Some(v) = decider(s, &matches).filter(|v| imported(v.signature.id)) {
                        bad.entry(v.signature.id.to_owned()).or_insert_with(|| {
                            format!(
                                "shadowed: it would take every example of '{}' from it",
                                s.id
                            )
                        });
                    }
                }
            }
        }
        if bad.is_empty() && backstops.is_empty() {
            break;
        }
        for e in &mut entries {
            e.backstop |= backstops.contains(&e.id);
        }
        entries.retain(|e| match bad.get(&e.id) {
            Some(reason) => {
                skipped.push((e.upstream().to_owned(), reason.clone()));
                false
            }
            None => true,
        });
    }
    tightened.retain(|(_, to)| entries.iter().any(|e| &e.pattern == to));
    let written = entries.len();
    Imported {
        text: render(source, &entries, package, import_date, &skipped, &tightened),
        written,
        skipped,
        tightened,
    }
}

/// `message` with every path cut to its file name (`.../imported/x.toml:12`
/// becomes `x.toml:12`): the generated file must not depend on where the
/// repository is checked out.
fn without_dirs(message: &str) -> String {
    message
        .split(' ')
        .map(|word| match word.rfind('/') {
            Some(at) if word.contains(".toml") || word.contains(".txt") => &word[at + 1..],
            _ => word,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `line` falls inside signature `s` (its table starts at or before
/// the line, and the line is one of its parts).
fn covers(s: &crate::Signature, line: usize) -> bool {
    s.location.line == line
        || s.pattern_location.line == line
        || s.instances.iter().any(|(_, l)| l.line == line)
}

fn render(
    source: Source,
    entries: &[Draft],
    package: &str,
    import_date: &str,
    skipped: &[(String, String)],
    tightened: &[(String, String)],
) -> String {
    let name = source.name();
    let mut out = format!(
        "# GENERATED by `bot-signatures import` from the npm package {package} ({},\n\
         # see {name}.LICENSE beside this file). Do not edit by hand: to change an\n\
         # entry, copy it into a hand-edited catalog file with a new id and re-run the import.\n",
        source.license()
    );
    out.push_str(&format!("# Imported on {import_date}.\n\n"));
    let body = toml::to_string(&OutFile { signature: entries }).unwrap_or_default();
    out.push_str(&body);
    let rewritten: Vec<_> = entries
        .iter()
        .filter_map(|e| Some((e.rewritten_from.as_ref()?, &e.pattern, e.unless.as_ref()?)))
        .collect();
    if !rewritten.is_empty() {
        out.push_str(
            "\n# Rewritten without look-around (the user-agent is spared where the core occurs in\n\
             # the excluded context: a subset of what the upstream pattern flags):\n",
        );
        for (from, to, unless) in rewritten {
            out.push_str(&format!("# - {from:?} -> {to:?} unless {unless:?}\n"));
        }
    }
    if !tightened.is_empty() {
        out.push_str(
            "\n# Tightened by the importer (a product, not a word inside a device name):\n",
        );
        for (from, to) in tightened {
            out.push_str(&format!("# - {from:?} -> {to:?}\n"));
        }
    }
    if !skipped.is_empty() {
        out.push_str("\n# Left out by the importer (they fail `bot-signatures check`):\n");
        for (pattern, reason) in skipped {
            out.push_str(&format!("# - {pattern:?}: {}\n", reason.replace('\n', " ")));
        }
    }
    out
}

/// A readable id from a pattern: lowercase alphanumerics joined by '-'.
pub fn slug(pattern: &str) -> String {
    let mut out = String::new();
    for c in pattern.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-');
    let mut out: String = out.chars().take(48).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "pattern".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug(r"Googlebot\/"), "googlebot");
        assert_eq!(slug(r"^Java\/"), "java");
        assert_eq!(slug(r"[wW]get"), "ww-get");
    }

    #[test]
    fn tags_map_to_actions() {
        assert_eq!(action_for_tags(&["search-engine".into()]), Action::Allow);
        assert_eq!(action_for_tags(&["social-preview".into()]), Action::Allow);
        assert_eq!(action_for_tags(&["monitoring".into()]), Action::Monitor);
        assert_eq!(action_for_tags(&["feed-reader".into()]), Action::Monitor);
        assert_eq!(action_for_tags(&["advertising".into()]), Action::Monitor);
        assert_eq!(action_for_tags(&["seo".into()]), Action::Block);
        assert_eq!(action_for_tags(&[]), Action::Block);
    }

    #[test]
    fn isbot_entries_are_counted_or_blocked_never_allowed() {
        assert_eq!(isbot_decision("pingdom"), (Action::Monitor, "monitoring"));
        assert_eq!(isbot_decision("^w3c"), (Action::Monitor, "monitoring"));
        assert_eq!(isbot_decision(r"\bpreview"), (Action::Monitor, "preview"));
        assert_eq!(isbot_decision("^rss"), (Action::Monitor, "preview"));
        assert_eq!(isbot_decision("headless"), (Action::Block, "isbot"));
        assert_eq!(isbot_decision("^Facebook"), (Action::Block, "isbot"));
    }

    /// `import` of isbot drafts against `existing`, and the file it writes,
    /// parsed (it must parse cleanly).
    fn import_isbot(drafts: Vec<Draft>, existing: &Catalog) -> (Imported, Catalog) {
        let out = import(
            Source::Isbot,
            drafts,
            Vec::new(),
            "isbot@1",
            "2026-11-28",
            existing,
            None,
        );
        let (generated, diagnostics) = Catalog::parse(&[("isbot.toml".into(), out.text.clone())]);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        (out, generated)
    }

    /// An isbot draft with one example, as the importer's rounds receive it.
    fn isbot_draft(pattern: &str, generic: bool, instance: &str) -> Draft {
        Draft {
            id: String::new(),
            pattern: pattern.into(),
            action: Action::Block,
            category: "isbot".into(),
            generic,
            unless: None,
            backstop: false,
            description: "d".into(),
            url: None,
            added: "2026-11-28".into(),
            author: "import:isbot@1".into(),
            instances: strings(&[instance]),
            rewritten_from: None,
        }
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn tighter_forms_anchor_products_not_words() {
        assert_eq!(
            tighter_forms("Sonic"),
            strings(&[r"\bSonic", r"\bSonic\b", r"\bSonic/v?\d"])
        );
        // A class of letters is a word start too; a top-level alternation is
        // grouped so that the anchor covers every branch.
        assert_eq!(tighter_forms("[wW]get")[0], r"\b[wW]get");
        assert_eq!(
            tighter_forms("foo|bar(x|y)"),
            strings(&[
                r"\b(?:foo|bar(x|y))",
                r"\b(?:foo|bar(x|y))\b",
                r"\b(?:foo|bar(x|y))/v?\d"
            ])
        );
        // A parenthesis inside a class opens no group: the '|' after it is
        // still at the top level (read as the edge reads an `unless`).
        assert_eq!(tighter_forms("a[(]|b")[0], r"\b(?:a[(]|b)");
        // Ends that are not a word character get no right boundary or version.
        assert_eq!(tighter_forms(r"Googlebot\/"), strings(&[r"\bGooglebot\/"]));
        assert_eq!(tighter_forms(r"Fetch\d"), strings(&[r"\bFetch\d"]));
        // Already anchored, or starting with a non-word character: nothing.
        assert!(tighter_forms("^curl").is_empty());
        assert!(tighter_forms(r"\bdlc\b").is_empty());
        assert!(tighter_forms(r"\.com").is_empty());
        assert!(tighter_forms(" daum[ /]").is_empty());
        assert!(tighter_forms("").is_empty());
    }

    fn guard(list: &[&str]) -> BrowserCorpus {
        BrowserCorpus {
            source: "test".into(),
            user_agents: strings(list),
            files: vec![],
        }
    }

    #[test]
    fn tighten_writes_the_product_as_its_examples_spell_it() {
        let firefox = guard(&["Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"]);
        // Every example has a version after the name: the version shape.
        let sonic = strings(&["Mozilla/5.0 (compatible; Sonic/1.0; http://sonic.example)"]);
        assert_eq!(
            tighten("Sonic", &sonic, Some(&firefox)),
            Some((r"\bSonic/v?\d".to_owned(), sonic.clone()))
        );
        assert_eq!(tighten("Sonic", &sonic, None).unwrap().0, r"\bSonic/v?\d");
        // An example without a version: both token boundaries.
        let versions = strings(&[
            "Expanse, a scanning company, searches the IPv4 space",
            "Expanse/2.0",
        ]);
        assert_eq!(
            tighten("Expanse", &versions, None).unwrap().0,
            r"\bExpanse\b"
        );
        // An example glued to more letters: the left boundary.
        let speedy = strings(&["Speedy Spider", "SpeedyAds bot"]);
        assert_eq!(tighten("Speedy", &speedy, None).unwrap().0, r"\bSpeedy");
        // When a device of the guard has the word inside a dotted or dashed
        // token (a TV's firmware build, a phone's model; none of these is in
        // the fixtures), the same form at a token's start.
        let tv = guard(&[
            "Mozilla/5.0 (Linux armv7l) Chrome/90.0 Safari/537.36 NAV/2.1.0.77.Wombatter4.12 Model/ACME-T9",
            "Mozilla/5.0 (Linux; Android 12; Zeta-Wombatline 5G) Chrome/120.0 Mobile Safari/537.36",
        ]);
        let monitor = strings(&[
            "Mozilla/5.0 (compatible; Wombatpoint)",
            "Mozilla/5.0 (X11; Linux x86_64; Wombatpoint) Chrome/75.0",
        ]);
        let (form, kept) = tighten("wombat", &monitor, Some(&tv)).unwrap();
        assert_eq!(form, r"(?:^|[\s/;(+,:])wombat");
        assert_eq!(kept, monitor);
        assert!(tighten(r"\bwombat", &monitor, Some(&tv)).is_none());
        // Every example spells the next word the same: the product's name.
        let spider = strings(&[
            "Mozilla/5.0 (compatible; Speedy Spider; +http://s.example)",
            "speedy spider/2 (+http://s.example)",
        ]);
        assert_eq!(
            tighten("Speedy", &spider, None).unwrap().0,
            r"\bSpeedy Spider"
        );
        let dotted = strings(&["Mozilla/5.0 (compatible; Quokka.Fetch)", "quokka.fetch/2"]);
        assert_eq!(
            tighten("Quokka", &dotted, None).unwrap().0,
            r"\bQuokka\.Fetch"
        );
        // A short word takes the next one too; a description's first words.
        let expanse = strings(&["Expanse, a Palo Alto company, scans the IPv4 space"]);
        assert_eq!(
            tighten("Expanse", &expanse, None).unwrap().0,
            r"\bExpanse, a Palo"
        );
        // Examples whose first mention is followed by different words: no
        // word is the product's, even one that both spell somewhere.
        let differ = strings(&[
            "Wombat Spider/1 (wombat crawler)",
            "wombat crawler/2 (Wombat Spider)",
        ]);
        assert_eq!(tighten("Wombat", &differ, None).unwrap().0, r"\bWombat\b");
        // An example that is a list of names (comma, no space): the product
        // is its first item, whole, not glued to the next one.
        let listed = strings(&["wombatoa,wombat,wombatos"]);
        assert_eq!(
            tighten("wombatoa", &listed, None).unwrap().0,
            r"\bwombatoa\b"
        );
        // Words that end short, or different words, are no product name.
        let short = strings(&["Numbat of x", "Numbat of y"]);
        assert_eq!(tighten("Numbat", &short, None).unwrap().0, r"\bNumbat\b");
        let differ = strings(&["Wombat News x", "Wombat Pics y"]);
        assert_eq!(tighten("Wombat", &differ, None).unwrap().0, r"\bWombat\b");
        // An example that needs the word inside a longer name keeps the
        // pattern as it is.
        let two = strings(&[
            "RankSonicAuditor/1.0",
            "Mozilla/5.0 (compatible; Sonic/1.0)",
        ]);
        assert_eq!(
            tighten("Sonic", &two, None).unwrap(),
            ("Sonic".to_owned(), two.clone())
        );
        // ... until a device of the guard matches it: then the loosest form
        // that spares every device, with the examples it keeps.
        let viewsonic =
            guard(&["Mozilla/5.0 (Linux; U; Android 2.3; en-us; ViewSonic-ViewPad10 Build/ERE27)"]);
        assert_eq!(
            tighten("Sonic", &two, Some(&viewsonic)),
            Some((
                r"\bSonic".to_owned(),
                strings(&["Mozilla/5.0 (compatible; Sonic/1.0)"])
            ))
        );
        let huawei = guard(&[
            "Mozilla/5.0 (Linux; U; Android 2.3.3; de-de; HUAWEI SONIC Build/HuaweiU8650)",
        ]);
        assert_eq!(
            tighten("Sonic", &two, Some(&huawei)),
            Some((
                r"\bSonic/v?\d".to_owned(),
                strings(&["Mozilla/5.0 (compatible; Sonic/1.0)"])
            ))
        );
        // A device named like the product needs more than boundaries.
        let phone = guard(&["Mozilla/5.0 (Linux; Android 4.4.2; HTC Butterfly 3 Build/KOT49H)"]);
        let bf = strings(&[
            "Butterfly",
            "Mozilla/5.0 (compatible; Butterfly/1.0; +http://bf.example/)",
        ]);
        assert_eq!(
            tighten("Butterfly", &bf, Some(&phone)),
            Some((r"\bButterfly/v?\d".to_owned(), bf[1..].to_vec()))
        );
        // Nothing spares the device: left out.
        assert_eq!(
            tighten("Sonic", &strings(&["Sonic"]), Some(&guard(&["Sonic"]))),
            None
        );
        // A pattern that is no regex at all is never clean.
        assert_eq!(tighten("(", &strings(&["("]), Some(&firefox)), None);
    }

    #[test]
    fn reasons_do_not_name_the_checkout() {
        assert_eq!(
            without_dirs(
                "has the same pattern as 'cua-x' at /work/main/bot-signatures/catalog/imported/crawler-user-agents.toml:66 (see http://x.example/a)"
            ),
            "has the same pattern as 'cua-x' at crawler-user-agents.toml:66 (see http://x.example/a)"
        );
    }

    #[test]
    fn android_build_ids_are_recognised() {
        assert!(is_android_build_id(r"AP3A\.240617\.008"));
        assert!(is_android_build_id("TKQ1.221114.001"));
        assert!(is_android_build_id("UP1A.231005.007"));
        assert!(!is_android_build_id("AP3A.24061.008"));
        assert!(!is_android_build_id("ap3a.240617.008"));
        assert!(!is_android_build_id("AP3A.240617"));
        assert!(!is_android_build_id("AP3A.240617.0081"));
        assert!(!is_android_build_id("AP3AB.240617.008"));
        assert!(!is_android_build_id("AP3A.2406x7.008"));
        assert!(!is_android_build_id("AP3A.240617.00x"));
        assert!(!is_android_build_id("Googlebot"));
    }

    #[test]
    fn isbot_list_is_read_from_its_index_js_or_json() {
        let js = "var x = 1;\nvar patterns_default = [\n  \" daum[ /]\",\n  \"(?<! cu)bots?(?:\\\\b|_)\"\n];\nvar list = patterns_default;\n";
        assert_eq!(
            isbot_patterns(js).unwrap(),
            strings(&[" daum[ /]", r"(?<! cu)bots?(?:\b|_)"])
        );
        assert_eq!(
            isbot_patterns(r#"["a","b"]"#).unwrap(),
            strings(&["a", "b"])
        );
        assert!(
            isbot_patterns("module.exports = {}")
                .unwrap_err()
                .contains("patterns_default")
        );
        assert!(
            isbot_patterns("var patterns_default = [\"a\",")
                .unwrap_err()
                .contains("no end")
        );
        assert!(
            isbot_patterns("var patterns_default = [\n 1\n];")
                .unwrap_err()
                .contains("JSON")
        );
    }

    #[test]
    fn development_bots_give_examples_only_where_isbot_s_own_data_has_none() {
        let (existing, _) = Catalog::parse(&[]);
        let examples = isbot_examples(
            strings(&["Quokka-Agent/1.0", "Quokka-Agent/1.0"]),
            &[],
            strings(&[
                "Quokka-Agent/2.0 (development)",
                "Numbat Fetcher 3",
                "Quokka-Agent/1.0",
                "NetSurf/3.10 (Linux)",
            ]),
        );
        // Each user-agent once, isbot's own first.
        assert_eq!(examples.primary, strings(&["Quokka-Agent/1.0"]));
        assert_eq!(
            examples.development,
            strings(&[
                "Quokka-Agent/2.0 (development)",
                "Numbat Fetcher 3",
                "NetSurf/3.10 (Linux)"
            ])
        );
        let patterns = strings(&["quokka-agent", "numbat fetcher", "^netsurf", "wombat"]);
        let (drafts, skipped) = isbot(&patterns, &examples, &existing, "isbot@1", "2026-11-28");
        let by_pattern = |p: &str| {
            drafts
                .iter()
                .find(|d| d.pattern == p)
                .map(|d| d.instances.clone())
        };
        assert_eq!(
            by_pattern("quokka-agent"),
            Some(strings(&["Quokka-Agent/1.0"])),
            "isbot's own example only: the development set adds none to it"
        );
        assert_eq!(
            by_pattern("numbat fetcher"),
            Some(strings(&["Numbat Fetcher 3"])),
            "no example of isbot's own: the development set's"
        );
        let reason = |p: &str| skipped.iter().find(|(q, _)| q == p).map(|(_, r)| r.clone());
        assert!(
            reason("^netsurf").is_some_and(|r| r.starts_with("names a browser: NetSurf")),
            "{skipped:?}"
        );
        assert!(reason("wombat").is_some_and(|r| r.starts_with("no example")));
        assert_eq!(drafts.len(), 2);
    }

    #[test]
    fn isbot_examples_prefer_what_the_catalog_misses() {
        let (existing, _) = Catalog::parse(&[(
            "e.toml".into(),
            r#"
[[signature]]
id = "known"
pattern = 'KnownBot'
action = "block"
category = "seo"
description = "d"
added = "2026-11-27"
author = "t"
instances = ["KnownBot/1.0"]
"#
            .into(),
        )]);
        let fixtures = strings(&[
            "KnownBot agent/1.0",
            "Zyx Agent 2",
            "Other Agent 3",
            "Fourth Agent",
            "Fifth agent",
        ]);
        let patterns = strings(&["bot", "agent", "(?=x)y", "nomatch"]);
        let examples = IsbotExamples {
            primary: fixtures,
            development: Vec::new(),
        };
        let (drafts, skipped) = isbot(&patterns, &examples, &existing, "isbot@1", "2026-11-27");
        assert_eq!(drafts.len(), 2);
        assert_eq!(drafts[0].instances, strings(&["KnownBot agent/1.0"]));
        assert!(
            drafts
                .iter()
                .all(|d| d.generic && d.author == "import:isbot@1")
        );
        // The undecided examples first (the catalog decides "KnownBot agent"), three at most.
        assert_eq!(
            drafts[1].instances,
            strings(&["Zyx Agent 2", "Other Agent 3", "Fourth Agent"])
        );
        assert_eq!(skipped.len(), 2);
        assert!(
            skipped[0].1.starts_with("pattern-syntax"),
            "{:?}",
            skipped[0]
        );
        assert!(skipped[1].1.starts_with("no example"), "{:?}", skipped[1]);
    }

    #[test]
    fn lookaround_becomes_an_unless() {
        let rewrite = |p: &str| without_lookaround(p);
        assert_eq!(
            rewrite("(?<!cam)scan"),
            Some(("scan".into(), Some("(?:cam)(?:scan)".into())))
        );
        assert_eq!(
            rewrite("java(?!;)"),
            Some(("java".into(), Some("(?:java)(?:;)".into())))
        );
        // Both sides, alternations inside.
        assert_eq!(
            rewrite("(?<! channel/|google/)google(?!(?:wv|app))"),
            Some((
                "google".into(),
                Some("(?: channel/|google/)(?:google)|(?:google)(?:(?:wv|app))".into())
            ))
        );
        // The core keeps its own groups and classes.
        assert_eq!(
            rewrite("(?:^|[^g])news(?!sapphire)"),
            Some((
                "(?:^|[^g])news".into(),
                Some("(?:(?:^|[^g])news)(?:sapphire)".into())
            ))
        );
        // A dash beside a class escape is JavaScript's literal dash.
        assert_eq!(
            rewrite(r"^a/[\w\d-.]+$"),
            Some((r"^a/[\w\d\-.]+$".into(), None))
        );
        assert_eq!(rewrite(r"[a-z\d]x"), Some((r"[a-z\d]x".into(), None)));
        // What has no such rewrite: positive look-around, look-around in the
        // middle, an empty core, a pattern that stays unreadable.
        for p in [
            "(?=x)y",
            "(?<=x)y",
            "a(?!b)c",
            "(?<!a)",
            "(?<!a)b(?<!c)d",
            "(?<!a)b(",
            "(?<!ab",
            "(?<!(?!a)b)c",
            // A readable core whose excluded context is not (a back-reference).
            r"(?<!(a)\1)b",
        ] {
            assert_eq!(rewrite(p), None, "{p}");
        }
    }

    #[test]
    fn lookaround_groups_skip_escapes_and_brackets() {
        let rewrite = |p: &str| without_lookaround(p);
        assert_eq!(
            rewrite(r"(?<![)(]a)b"),
            Some(("b".into(), Some(r"(?:[)(]a)(?:b)".into())))
        );
        assert_eq!(
            rewrite(r"(?<!\)(x|y))b"),
            Some(("b".into(), Some(r"(?:\)(x|y))(?:b)".into())))
        );
        assert_eq!(
            rewrite(r"a(?:\(|[(])(?![)]b)"),
            Some((
                r"a(?:\(|[(])".into(),
                Some(r"(?:a(?:\(|[(]))(?:[)]b)".into())
            ))
        );
        // "(?!" inside brackets is three characters, not a look-ahead.
        assert_eq!(rewrite(r"a[(?!]b"), Some((r"a[(?!]b".into(), None)));
        // A look-ahead that does not end the pattern is not rewritten.
        assert_eq!(rewrite(r"a(?!b)(c)"), None);
    }

    /// The importer's tightening with an `unless`: a device the `unless`
    /// spares is no false positive, an example it spares is not kept.
    #[test]
    fn tightening_honours_the_unless() {
        let examples = strings(&[
            "SiteScan/2",
            "NetScan/1 (+http://net.example)",
            "CamScanner/3",
        ]);
        let phone = guard(&["Mozilla/5.0 (Linux; Android 14) CamScanner/6.1 Mobile"]);
        // The phone matches "scan" but the `unless` spares it, as it spares
        // the example CamScanner: the pattern stays, with the other two.
        let kept = strings(&["SiteScan/2", "NetScan/1 (+http://net.example)"]);
        assert_eq!(
            tighten_unless("scan", Some("camscan"), &examples, Some(&phone)),
            Some(("scan".into(), kept.clone()))
        );
        // Without it the phone is a false positive: not that pattern.
        assert_ne!(
            tighten("scan", &examples, Some(&phone)).map(|(p, _)| p),
            Some("scan".into())
        );
        // An `unless` that spares every example leaves nothing to check.
        assert_eq!(tighten_unless("scan", Some("scan"), &examples, None), None);
    }

    #[test]
    fn a_dash_beside_a_class_escape_is_literal() {
        for (js, ours) in [
            (r"[\w\d-.]", r"[\w\d\-.]"),
            (r"[a-\d]", r"[a\-\d]"),
            (r"[\s-x]é[\S-]", r"[\s\-x]é[\S\-]"),
            // Escaped: a bracket that opens nothing, one that closes nothing.
            (r"[\]\d-]", r"[\]\d\-]"),
            (r"\[\d-x", r"\[\d-x"),
            (r"[a\-z]", r"[a\-z]"),
            // Ranges, and dashes outside brackets, are left alone.
            (r"[a-z0-9]", r"[a-z0-9]"),
            (r"[a-d][s-w]", r"[a-d][s-w]"),
            (r"\é[\d-]", r"\é[\d\-]"),
            (r"[x]-\d", r"[x]-\d"),
            (r"a\d-x", r"a\d-x"),
        ] {
            assert_eq!(literal_class_dashes(js), ours, "{js}");
        }
    }

    /// Against a direct reading of the look-around, on every string of up to
    /// seven letters over the pattern's own letters: the rewrite flags only
    /// what the look-around flags, and exactly that where the excluded
    /// context does not occur.
    #[test]
    fn lookaround_rewrite_agrees_with_the_lookaround() {
        /// A pattern, its look-around read directly, a string where both contexts occur.
        type Case<'a> = (&'a str, &'a dyn Fn(&str) -> bool, &'a str);
        let cases: [Case; 2] = [
            (
                "(?<!cam)scan",
                &|s: &str| {
                    s.match_indices("scan")
                        .any(|(at, _)| !s[..at].ends_with("cam"))
                },
                "camscan scan",
            ),
            (
                "can(?!sc)",
                &|s: &str| {
                    s.match_indices("can")
                        .any(|(at, _)| !s[at + 3..].starts_with("sc"))
                },
                "cansc can",
            ),
        ];
        for (upstream, flags, both) in cases {
            let (core, unless) = without_lookaround(upstream).unwrap();
            let core = case_insensitive(&core).unwrap();
            let unless = case_insensitive(&unless.unwrap()).unwrap();
            let ours = |s: &str| core.is_match(s.as_bytes()) && !unless.is_match(s.as_bytes());
            let (mut strings, mut flagged, mut spared) = (vec![String::new()], 0, 0);
            for _ in 0..7 {
                strings = strings
                    .iter()
                    .flat_map(|s| ['s', 'c', 'a', 'm', 'n'].map(|c| format!("{s}{c}")))
                    .collect();
                for s in &strings {
                    assert!(!ours(s) || flags(s), "{upstream} on {s:?}");
                    if unless.is_match(s.as_bytes()) {
                        spared += 1;
                    } else {
                        assert_eq!(ours(s), flags(s), "{upstream} on {s:?}");
                    }
                    flagged += usize::from(flags(s));
                }
            }
            // Both outcomes are reached, and the excluded context is met.
            assert!(
                flagged > 100 && spared > 0,
                "{upstream}: {flagged} {spared}"
            );
            // Longer: the context spares the user-agent, a subset of upstream.
            assert!(flags(both) && !ours(both), "{upstream}");
        }
    }

    #[test]
    fn isbot_drafts_a_lookaround_pattern_with_its_unless() {
        let examples = IsbotExamples {
            primary: strings(&["CamScanner/1 (an app)", "SiteScan/2", "Mozilla/5.0 NetScan"]),
            development: Vec::new(),
        };
        let (drafts, skipped) = isbot(
            &strings(&["(?<!cam)scan"]),
            &examples,
            &Catalog::default(),
            "isbot@1",
            "2026-11-28",
        );
        assert!(skipped.is_empty(), "{skipped:?}");
        let d = &drafts[0];
        assert_eq!(
            (d.pattern.as_str(), d.unless.as_deref()),
            ("scan", Some("(?:cam)(?:scan)"))
        );
        // The app the look-behind spares is no example.
        assert_eq!(d.instances, strings(&["SiteScan/2", "Mozilla/5.0 NetScan"]));
        assert_eq!(d.upstream(), "(?<!cam)scan");
        assert_eq!(d.description, "isbot pattern /(?<!cam)scan/");
    }

    /// An imported generic rule that the catalog decides on every example
    /// stays, marked `backstop`; a specific one goes.
    #[test]
    fn shadowed_generic_imports_stay_as_backstops() {
        let (existing, _) = Catalog::parse(&[(
            "generic.toml".into(),
            r#"
[[signature]]
id = "generic-contact-url"
pattern = '\(\+https?://[a-z]+\.[a-z]+\)'
action = "block"
category = "generic"
generic = true
description = "d"
added = "2026-11-27"
author = "t"
instances = ["PageSpeed Checker (+https://example.com)"]

[[signature]]
id = "speedbot"
pattern = 'SpeedBot/\d'
action = "block"
category = "seo"
description = "d"
added = "2026-11-27"
author = "t"
instances = ["SpeedBot/2 pagespeed"]

[[signature]]
id = "quokkabot"
pattern = 'QuokkaBot/\d+\.\d'
action = "block"
category = "seo"
description = "d"
added = "2026-11-27"
author = "t"
instances = ["QuokkaBot/1.5"]

[[signature]]
id = "generic-numbat"
pattern = '\bnumbat/v?\d'
action = "block"
category = "generic"
generic = true
description = "d"
added = "2026-11-27"
author = "t"
instances = ["Numbat/1"]
"#
            .into(),
        )]);
        let draft = isbot_draft;
        let (out, generated) = import_isbot(
            vec![
                draft(
                    "pagespeed",
                    true,
                    "PageSpeed Checker (+https://example.com)",
                ),
                draft("speedbot", false, "SpeedBot/2 pagespeed"),
                draft("lonely", true, "Lonely/1"),
                // Decided by the specific quokkabot on its example: a
                // specific import shadowed goes, never a backstop.
                draft("quokkabot/", false, "QuokkaBot/1.5"),
                // Another error than shadowing: a generic import goes too.
                draft("numbat", true, "Numbat/1"),
            ],
            &existing,
        );
        let by_id = |id: &str| generated.signatures.iter().find(|s| s.id == id);
        assert!(
            by_id("isbot-pagespeed").is_some_and(|s| s.backstop),
            "{}",
            out.text
        );
        assert!(
            by_id("isbot-lonely").is_some_and(|s| !s.backstop),
            "{}",
            out.text
        );
        assert!(by_id("isbot-speedbot").is_none(), "{}", out.text);
        let reason = |pattern: &str| {
            out.skipped
                .iter()
                .find(|(p, _)| p == pattern)
                .map(|(_, why)| why.split(':').next().unwrap_or_default())
        };
        assert_eq!(
            reason(r"\bspeedbot/v?\d"),
            Some("shadowed"),
            "{:?}",
            out.skipped
        );
        assert_eq!(
            reason(r"\bquokkabot/"),
            Some("shadowed"),
            "{:?}",
            out.skipped
        );
        assert_eq!(
            reason(r"\bnumbat/v?\d"),
            Some("duplicate-pattern"),
            "{:?}",
            out.skipped
        );
        assert_eq!(out.written, 2);
        // The catalog with the import passes `check`.
        let mut all = existing.clone();
        all.signatures.extend(generated.signatures);
        let report = validate(&all, None);
        assert!(
            report
                .diagnostics
                .iter()
                .all(|d| d.severity != crate::Severity::Error),
            "{:?}",
            report.diagnostics
        );
    }

    /// The bookkeeping around the validation rounds: a fresh id past every
    /// suffix already taken, the tightened list naming only patterns that
    /// changed and were written, and a warning (not an error) that leaves an
    /// entry in.
    #[test]
    fn import_ids_tightened_list_and_warnings() {
        let (existing, _) = Catalog::parse(&[(
            "specific.toml".into(),
            r#"
[[signature]]
id = "isbot-wombat"
pattern = 'WombatOne/\d'
action = "block"
category = "seo"
description = "d"
added = "2026-11-27"
author = "t"
instances = ["WombatOne/1"]

[[signature]]
id = "isbot-wombat-2"
pattern = 'WombatTwo/\d'
action = "block"
category = "seo"
description = "d"
added = "2026-11-27"
author = "t"
instances = ["WombatTwo/1"]

[[signature]]
id = "quoll"
pattern = '\bquoll/v?\d'
action = "block"
category = "seo"
description = "d"
added = "2026-11-27"
author = "t"
instances = ["Quoll/1"]
"#
            .into(),
        )]);
        let draft = |pattern: &str, instance: &str| isbot_draft(pattern, false, instance);
        let (out, generated) = import_isbot(
            vec![
                // Tightened, and its id's plain form and "-2" are taken.
                draft("wombat", "Wombat/3.1"),
                // Already as strict as it gets: not "tightened".
                draft(r"\bnumbat/v?\d", "Numbat/2"),
                // Tightened into a pattern the catalog has: left out, so
                // not listed as tightened either.
                draft("quoll", "Quoll/1"),
                // No literal the edge can index: a warning, not an error.
                draft(r"\d[qx]\d[qx]", "1q2x"),
                // One import shadows another: the shadowed one goes, never
                // the one that decides its examples.
                draft(r"\bfoobot/v?\d", "FooBot/1 Quux/2"),
                draft(r"\bfoobot/1 quux", "FooBot/1 Quux/2"),
            ],
            &existing,
        );
        let ids: Vec<&str> = generated.signatures.iter().map(|s| s.id.as_str()).collect();
        assert!(ids.contains(&"isbot-wombat-3"), "{ids:?}\n{}", out.text);
        assert_eq!(ids.len(), 4, "{ids:?}\n{:?}", out.skipped);
        assert!(
            generated
                .signatures
                .iter()
                .any(|s| s.pattern == r"\bfoobot/1 quux"),
            "{ids:?}\n{:?}",
            out.skipped
        );
        assert_eq!(
            out.tightened,
            vec![("wombat".to_owned(), r"\bwombat/v?\d".to_owned())],
            "{}",
            out.text
        );
        let mut reasons: Vec<(&str, &str)> = out
            .skipped
            .iter()
            .map(|(p, why)| (p.as_str(), why.split(':').next().unwrap_or_default()))
            .collect();
        reasons.sort();
        assert_eq!(
            reasons,
            vec![
                (r"\bfoobot/v?\d", "shadowed"),
                (r"\bquoll/v?\d", "duplicate-pattern")
            ],
            "{:?}",
            out.skipped
        );
        let report = validate(&generated, None);
        assert!(
            report
                .diagnostics
                .iter()
                .any(|d| d.code == crate::Code::Unindexed),
            "the unindexed entry is written with its warning: {:?}",
            report.diagnostics
        );
    }
}
