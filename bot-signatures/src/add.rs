//! `bot-signatures add`: appends one signature to a hand-edited catalog file,
//! after checking the whole catalog with it. Nothing is written when the new
//! entry (or the catalog with it) fails a check.

use bot_signatures_matcher::Action;
use serde::Serialize;

use crate::catalog::Catalog;
use crate::corpus::BrowserCorpus;
use crate::diagnostic::{Diagnostic, Severity};
use crate::validate::validate;

/// A new signature as given on the command line or at the prompts.
#[derive(Debug, Clone, Serialize)]
pub struct NewSignature {
    pub id: String,
    pub pattern: String,
    pub action: Action,
    pub category: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub added: String,
    pub author: String,
    pub instances: Vec<String>,
}

#[derive(Serialize)]
struct One<'a> {
    signature: [&'a NewSignature; 1],
}

/// The TOML text of the entry, as appended to the file.
pub fn render(entry: &NewSignature) -> String {
    toml::to_string(&One { signature: [entry] }).unwrap_or_default()
}

/// Appends `entry` to `file_text` and validates the catalog that results.
/// `Ok(new file text)`, or the errors that refuse it.
pub fn add(
    catalog_files: &[(String, String)],
    target: &str,
    entry: &NewSignature,
    browsers: Option<&BrowserCorpus>,
) -> Result<String, Vec<Diagnostic>> {
    let mut files = catalog_files.to_vec();
    let new_text = match files.iter_mut().find(|(name, _)| name == target) {
        Some((_, text)) => {
            let mut t = text.clone();
            if !t.ends_with('\n') && !t.is_empty() {
                t.push('\n');
            }
            t.push('\n');
            t.push_str(&render(entry));
            *text = t.clone();
            t
        }
        None => {
            let t = render(entry);
            files.push((target.to_owned(), t.clone()));
            t
        }
    };
    let (catalog, parse) = Catalog::parse(&files);
    let report = validate(&catalog, browsers);
    let errors: Vec<Diagnostic> = parse
        .into_iter()
        .chain(report.diagnostics)
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if errors.is_empty() {
        Ok(new_text)
    } else {
        Err(errors)
    }
}
