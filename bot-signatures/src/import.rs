//! The importer for third-party crawler lists: turns the npm package
//! `crawler-user-agents` (MIT, pinned in the root `package-lock.json`) into
//! generated catalog entries. Entries that would fail `check` are not written
//! as signatures; they are listed, with the reason, in the generated file's
//! trailing comment, so nothing is dropped silently.

use std::collections::{BTreeMap, HashSet};

use bot_signatures_matcher::Action;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::corpus::BrowserCorpus;
use crate::validate::validate;

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

/// The action an imported signature gets from its first tag. Search engines
/// and link-preview fetchers are allowed (blocking them breaks search and
/// sharing); monitoring, feed readers and ad-quality bots are counted; every
/// other tag, and no tag, is blocked. Analysts override per signature by moving
/// it into a hand-edited file.
pub fn action_for_tags(tags: &[String]) -> Action {
    match tags.first().map(String::as_str) {
        Some("search-engine" | "social-preview") => Action::Allow,
        Some("monitoring" | "feed-reader" | "advertising") => Action::Monitor,
        _ => Action::Block,
    }
}

#[derive(Serialize)]
struct OutFile {
    signature: Vec<OutSignature>,
}

#[derive(Serialize)]
struct OutSignature {
    id: String,
    pattern: String,
    action: Action,
    category: String,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    added: String,
    author: String,
    instances: Vec<String>,
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
}

/// Builds the generated catalog file from upstream entries.
///
/// `package` is `name@version`; `import_date` fills `added` where upstream has
/// no date; `existing` is the rest of the catalog (hand-written files), used
/// so that imported entries never duplicate or shadow it.
pub fn import(
    upstream: &[UpstreamEntry],
    package: &str,
    import_date: &str,
    existing: &Catalog,
    browsers: Option<&BrowserCorpus>,
) -> Imported {
    let mut used_ids: HashSet<String> = existing.signatures.iter().map(|s| s.id.clone()).collect();
    let mut entries = Vec::new();
    for e in upstream {
        let mut id = format!("cua-{}", slug(&e.pattern));
        if used_ids.contains(&id) {
            id = (2..)
                .map(|n| format!("{id}-{n}"))
                .find(|c| !used_ids.contains(c))
                .unwrap_or(id);
        }
        used_ids.insert(id.clone());
        entries.push(OutSignature {
            id,
            pattern: e.pattern.clone(),
            action: action_for_tags(&e.tags),
            category: e.tags.first().cloned().unwrap_or_else(|| "crawler".into()),
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
        });
    }

    // Validate together with the hand-written catalog; drop every entry with an
    // error and try again (dropping one can un-shadow another), at most ten rounds.
    let mut skipped: Vec<(String, String)> = Vec::new();
    for _ in 0..10 {
        let text = render(&entries, package, import_date, &[]);
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
        for d in errors
            .into_iter()
            .filter(|d| only_shadowed || d.code != crate::Code::Shadowed)
        {
            if let Some(s) = all
                .signatures
                .iter()
                .find(|s| s.location.file == "<import>" && covers(s, d.line))
            {
                bad.entry(s.id.clone())
                    .or_insert_with(|| format!("{}: {}", d.code.as_str(), d.message));
            }
        }
        if bad.is_empty() {
            break;
        }
        entries.retain(|e| match bad.get(&e.id) {
            Some(reason) => {
                skipped.push((e.pattern.clone(), reason.clone()));
                false
            }
            None => true,
        });
    }
    let written = entries.len();
    Imported {
        text: render(&entries, package, import_date, &skipped),
        written,
        skipped,
    }
}

/// Whether `line` falls inside signature `s` (its table starts at or before
/// the line, and the line is one of its parts).
fn covers(s: &crate::Signature, line: usize) -> bool {
    s.location.line == line
        || s.pattern_location.line == line
        || s.instances.iter().any(|(_, l)| l.line == line)
}

fn render(
    entries: &[OutSignature],
    package: &str,
    import_date: &str,
    skipped: &[(String, String)],
) -> String {
    let mut out = format!(
        "# GENERATED by `bot-signatures import` from the npm package {package} (MIT License,\n\
         # see crawler-user-agents.LICENSE beside this file). Do not edit by hand: to change an\n\
         # entry, copy it into a hand-edited catalog file with a new id and re-run the import.\n"
    );
    out.push_str(&format!("# Imported on {import_date}.\n\n"));
    let body = toml::to_string(&OutFile {
        signature: entries.iter().map(clone_sig).collect(),
    })
    .unwrap_or_default();
    out.push_str(&body);
    if !skipped.is_empty() {
        out.push_str("\n# Left out by the importer (they fail `bot-signatures check`):\n");
        for (pattern, reason) in skipped {
            out.push_str(&format!("# - {pattern:?}: {}\n", reason.replace('\n', " ")));
        }
    }
    out
}

fn clone_sig(s: &OutSignature) -> OutSignature {
    OutSignature {
        id: s.id.clone(),
        pattern: s.pattern.clone(),
        action: s.action,
        category: s.category.clone(),
        description: s.description.clone(),
        url: s.url.clone(),
        added: s.added.clone(),
        author: s.author.clone(),
        instances: s.instances.clone(),
    }
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
        assert_eq!(action_for_tags(&["seo".into()]), Action::Block);
        assert_eq!(action_for_tags(&[]), Action::Block);
    }
}
