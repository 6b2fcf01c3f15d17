//! The catalog file format and its loader: `[[signature]]` tables in TOML files,
//! one signature per table, unknown fields refused. See `bot-signatures/README.md`.

use std::path::Path;

use bot_signatures_matcher::Action;
use serde::Deserialize;
use toml::Spanned;

use crate::diagnostic::{Code, Diagnostic, LineIndex, line_of};

/// One catalog file as written by analysts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    signature: Vec<Spanned<RawSignature>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignature {
    id: Spanned<String>,
    pattern: Spanned<String>,
    action: Action,
    category: String,
    #[serde(default)]
    generic: bool,
    #[serde(default)]
    unless: Option<Spanned<String>>,
    #[serde(default)]
    backstop: bool,
    description: String,
    #[serde(default)]
    url: Option<String>,
    added: Spanned<String>,
    author: String,
    instances: Vec<Spanned<String>>,
}

/// Where a value came from: file and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file name as given to the loader.
    pub file: String,
    /// 1-based line.
    pub line: usize,
}

/// One signature with the location of each of its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Stable id: lowercase letters, digits and `-`.
    pub id: String,
    /// A regex (WAF-compatible subset), matched case-insensitively anywhere in the user-agent.
    pub pattern: String,
    /// What happens to user-agents this signature decides.
    pub action: Action,
    /// Free-form category, e.g. `seo` or `ai-crawler`.
    pub category: String,
    /// A generic rule (a token like "bot") rather than one known crawler.
    pub generic: bool,
    /// A generic rule's exception: when this regex matches anywhere in the
    /// user-agent, the signature does not (a device-name family such as
    /// handset vendors). With the line it is on.
    pub unless: Option<(String, Location)>,
    /// A generic rule kept for user-agents its examples do not show: another
    /// signature decides every one of its examples, which `check` otherwise
    /// refuses as shadowed (`backstop = true`; the importer sets it on an
    /// isbot pattern the catalog already decides on all its examples).
    pub backstop: bool,
    /// What the signature catches and why.
    pub description: String,
    /// Where the crawler documents itself, when known.
    pub url: Option<String>,
    /// `YYYY-MM-DD` the signature was added.
    pub added: String,
    /// Who added it (a person, or `import:<package>@<version>`).
    pub author: String,
    /// Example user-agents that must match.
    pub instances: Vec<(String, Location)>,
    /// Where the `[[signature]]` table starts.
    pub location: Location,
    /// Where the pattern is.
    pub pattern_location: Location,
}

/// All signatures from every catalog file, in catalog order (files by name,
/// entries in file order).
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// The signatures.
    pub signatures: Vec<Signature>,
}

impl Catalog {
    /// Parses catalog files given as `(name, contents)`, in the given order.
    /// Returns the signatures of every file that parsed, plus one diagnostic per
    /// file that did not (nothing is silently skipped).
    pub fn parse(files: &[(String, String)]) -> (Catalog, Vec<Diagnostic>) {
        let mut catalog = Catalog::default();
        let mut diagnostics = Vec::new();
        for (name, text) in files {
            match toml::from_str::<CatalogFile>(text) {
                Ok(file) => {
                    let lines = LineIndex::new(text);
                    for raw in file.signature {
                        catalog.signatures.push(convert(name, &lines, raw));
                    }
                }
                Err(e) => {
                    let line = e.span().map_or(0, |s| line_of(text, s.start));
                    let message = e.message().trim().to_owned();
                    diagnostics.push(Diagnostic::error(
                        Code::Syntax,
                        name,
                        line,
                        message,
                        "each entry is a [[signature]] table with the fields id, pattern, action, category, description, added, author, instances and optionally generic, unless, backstop, url (see bot-signatures/README.md)",
                    ));
                }
            }
        }
        (catalog, diagnostics)
    }

    /// Reads every `*.toml` below `dir` (sorted by path) and parses it.
    pub fn load_dir(dir: &Path) -> std::io::Result<(Catalog, Vec<Diagnostic>)> {
        Ok(Catalog::parse(&Catalog::read_files(dir)?))
    }

    /// Every `*.toml` below `dir` as `(path, contents)`, sorted by path.
    pub fn read_files(dir: &Path) -> std::io::Result<Vec<(String, String)>> {
        let mut paths = Vec::new();
        collect_toml(dir, &mut paths)?;
        paths.sort();
        if paths.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no *.toml catalog files under {}", dir.display()),
            ));
        }
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            files.push((path.display().to_string(), text));
        }
        Ok(files)
    }

    /// Loads one file or a directory of files.
    pub fn load(path: &Path) -> std::io::Result<(Catalog, Vec<Diagnostic>)> {
        if path.is_dir() {
            Catalog::load_dir(path)
        } else {
            let text = std::fs::read_to_string(path)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            Ok(Catalog::parse(&[(path.display().to_string(), text)]))
        }
    }

    /// The catalog shipped in `bot-signatures/catalog/`, embedded at build time.
    pub fn embedded() -> (Catalog, Vec<Diagnostic>) {
        let files: Vec<(String, String)> = crate::embedded::FILES
            .iter()
            .map(|(name, text)| (format!("bot-signatures/{name}"), (*text).to_owned()))
            .collect();
        Catalog::parse(&files)
    }
}

/// Every `*.toml` file below `dir`.
fn collect_toml(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.map_err(|e| {
            std::io::Error::new(
                e.io_error()
                    .map_or(std::io::ErrorKind::Other, std::io::Error::kind),
                format!("{}: {e}", dir.display()),
            )
        })?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "toml") {
            out.push(entry.into_path());
        }
    }
    Ok(())
}

fn convert(file: &str, lines: &LineIndex, raw: Spanned<RawSignature>) -> Signature {
    let at = |offset: usize| Location {
        file: file.to_owned(),
        line: lines.line(offset),
    };
    let location = at(raw.span().start);
    let raw = raw.into_inner();
    Signature {
        id: raw.id.get_ref().clone(),
        pattern_location: at(raw.pattern.span().start),
        pattern: raw.pattern.into_inner(),
        action: raw.action,
        category: raw.category,
        generic: raw.generic,
        unless: raw
            .unless
            .map(|u| (at(u.span().start), u.into_inner()))
            .map(|(l, u)| (u, l)),
        backstop: raw.backstop,
        description: raw.description,
        url: raw.url,
        added: raw.added.into_inner(),
        author: raw.author,
        instances: raw
            .instances
            .into_iter()
            .map(|i| (at(i.span().start), i.into_inner()))
            .map(|(l, s)| (s, l))
            .collect(),
        location,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"
[[signature]]
id = "foobot"
pattern = 'FooBot/\d'
action = "block"
category = "seo"
description = "Foo's SEO crawler"
added = "2026-11-21"
author = "analyst@example.com"
instances = [
  "FooBot/2.1 (+https://foo.example/bot)",
]
"#;

    #[test]
    fn parses_with_lines() {
        let (c, d) = Catalog::parse(&[("a.toml".into(), ONE.into())]);
        assert!(d.is_empty(), "{d:?}");
        let s = &c.signatures[0];
        assert_eq!(s.id, "foobot");
        assert_eq!(s.action, Action::Block);
        assert_eq!(s.location.line, 2);
        assert_eq!(s.pattern_location.line, 4);
        assert_eq!(s.instances[0].1.line, 11);
    }

    #[test]
    fn unknown_field_is_an_error_with_its_line() {
        let text = ONE.replace("category = \"seo\"", "category = \"seo\"\ncategroy = \"x\"");
        let (c, d) = Catalog::parse(&[("a.toml".into(), text)]);
        assert!(c.signatures.is_empty());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, Code::Syntax);
        assert_eq!(d[0].line, 7, "{}", d[0]);
        assert!(d[0].message.contains("categroy"), "{}", d[0]);
    }

    #[test]
    fn bad_action_is_an_error() {
        let text = ONE.replace("\"block\"", "\"deny\"");
        let (_, d) = Catalog::parse(&[("a.toml".into(), text)]);
        assert_eq!(d[0].line, 5, "{}", d[0]);
    }

    #[test]
    fn embedded_catalog_parses() {
        let (c, d) = Catalog::embedded();
        assert!(d.is_empty(), "{d:?}");
        assert!(c.signatures.len() > 10);
    }
}
