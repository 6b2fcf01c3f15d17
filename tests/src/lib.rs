//! Shared helpers for the cross-crate tests: where the repository and its
//! fixtures are, and how to load the edge the way the CLI does.

pub mod services;

use std::path::{Path, PathBuf};

use edge_auth_core::{EdgeConfig, Matcher};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// `tests/fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(rel)
}

/// Parses a config whose files are relative to `dir`; panics with the error (tests only).
pub fn config_in(dir: &Path, toml: &str) -> Result<EdgeConfig, String> {
    EdgeConfig::parse(toml, |rel| {
        std::fs::read_to_string(dir.join(rel)).map_err(|e| e.to_string())
    })
    .map_err(|e| e.message)
}

/// The matcher compiled from the shipped catalog, as the CLI builds it
/// (compiled once per test binary).
pub fn shipped_matcher() -> &'static Matcher {
    static MATCHER: std::sync::OnceLock<Matcher> = std::sync::OnceLock::new();
    MATCHER.get_or_init(|| {
        let (catalog, diagnostics) = bot_signatures::Catalog::embedded();
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        bot_signatures::compile::compile(&catalog)
            .matcher()
            .unwrap_or_else(|e| panic!("{e}"))
    })
}
