//! The browser corpus: real browser user-agents that no signature may match
//! (the false-positive guard). It comes from the npm package `user-agents`
//! (BSD-2-Clause), installed at a pinned version by `npm ci` at the repository
//! root; any JSON array of strings or of `{"userAgent": ...}` objects, or a text
//! file with one user-agent per line, works too.

use std::path::{Path, PathBuf};

/// Where `npm ci` puts the default corpus, relative to the repository root.
pub const DEFAULT_RELATIVE: &str = "node_modules/user-agents/dist/user-agents.json";

/// Browser user-agents, deduplicated, in first-seen order.
#[derive(Debug, Clone)]
pub struct BrowserCorpus {
    /// Where they came from (a path), for messages.
    pub source: String,
    /// The user-agents.
    pub user_agents: Vec<String>,
}

/// Why a corpus could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CorpusError {
    /// The file could not be read.
    #[error("cannot read browser corpus {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The JSON is not an array of strings or `{userAgent}` objects.
    #[error("browser corpus {path} is not a JSON array of user-agents: {message}")]
    Format { path: String, message: String },
    /// No default corpus was found.
    #[error("no browser corpus found (looked for {DEFAULT_RELATIVE} above {searched})")]
    NotFound { searched: String },
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Entry {
    Plain(String),
    Object {
        #[serde(rename = "userAgent")]
        user_agent: String,
    },
}

impl BrowserCorpus {
    /// Reads a corpus file (JSON or one user-agent per line).
    pub fn load(path: &Path) -> Result<BrowserCorpus, CorpusError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CorpusError::Io {
            path: source.clone(),
            source: e,
        })?;
        let raw: Vec<String> = if text.trim_start().starts_with('[') {
            let entries: Vec<Entry> =
                serde_json::from_str(&text).map_err(|e| CorpusError::Format {
                    path: source.clone(),
                    message: e.to_string(),
                })?;
            entries
                .into_iter()
                .map(|e| match e {
                    Entry::Plain(s) | Entry::Object { user_agent: s } => s,
                })
                .collect()
        } else {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        };
        let mut seen = std::collections::HashSet::new();
        let user_agents = raw
            .into_iter()
            .filter(|ua| seen.insert(ua.clone()))
            .collect();
        Ok(BrowserCorpus {
            source,
            user_agents,
        })
    }

    /// Finds the default corpus: `node_modules/user-agents/...` in the current
    /// directory or any parent, then in the repository this crate was built from.
    pub fn find_default() -> Result<PathBuf, CorpusError> {
        let mut starts: Vec<PathBuf> = std::env::current_dir().into_iter().collect();
        starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        for start in &starts {
            for dir in start.ancestors() {
                let candidate = dir.join(DEFAULT_RELATIVE);
                if candidate.is_file() {
                    return Ok(candidate);
                }
            }
        }
        Err(CorpusError::NotFound {
            searched: starts
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" and "),
        })
    }
}
