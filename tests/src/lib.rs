//! Shared helpers for the cross-crate tests: where the repository and its
//! fixtures are, and how to load the edge the way the CLI does.

use std::path::{Path, PathBuf};

use edge_auth_core::{EdgeConfig, Matcher};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The clock the viewer-request fixtures are decided at (Unix seconds): the
/// one definition. `cargo xtask ci` hands it to `edge-auth decide --now` and
/// to the Node scripts (`tests/node/*.mjs` take it as an argument); the
/// trycmd cases spell it in their command lines, which are examples of the
/// command a user types.
pub const FIXTURE_NOW_S: u64 = 1_800_000_100;

/// Where `.ci/run` installs the tools (moto, cfn-lint, checkov, cargo-fuzz,
/// wasm-bindgen): `EDGE_CI_CACHE`, else `~/.cache/edge-auth`, then `tools/`.
/// The one definition for Rust (`cargo xtask`, the service harnesses);
/// `.ci/run` spells the same default.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("EDGE_CI_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/edge-auth")
        })
        .join("tools")
}

/// `tests/fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(rel)
}

/// A signing key for test tokens: the PEM private key at `path`, read the way
/// `alg` needs (EC for ES*, RSA for RS* and PS*, Ed25519 for EdDSA). HMAC
/// keys are secrets, not PEM files: `EncodingKey::from_secret`.
///
/// # Panics
/// When the file cannot be read or parsed, or `alg` takes no PEM key (HMAC).
pub fn signing_key(path: &Path, alg: jsonwebtoken::Algorithm) -> jsonwebtoken::EncodingKey {
    use jsonwebtoken::{Algorithm::*, EncodingKey};
    let pem = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let key = match alg {
        ES256 | ES384 => EncodingKey::from_ec_pem(&pem),
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => EncodingKey::from_rsa_pem(&pem),
        EdDSA => EncodingKey::from_ed_pem(&pem),
        other => panic!("{other:?}: not a PEM key (an HMAC secret is EncodingKey::from_secret)"),
    };
    key.unwrap_or_else(|e| panic!("{} as a {alg:?} key: {e}", path.display()))
}

/// Parses a config whose files are relative to `dir` (tests only).
pub fn config_in(dir: &Path, toml: &str) -> Result<EdgeConfig, edge_auth_core::ConfigError> {
    EdgeConfig::parse(toml, |rel| {
        std::fs::read_to_string(dir.join(rel)).map_err(|e| e.to_string())
    })
}

/// The matcher compiled from the shipped catalog, as the CLI builds it
/// The demo config (`examples/demo/edge.toml`), the one the golden fixtures
/// and the bundle replay are decided with.
pub fn demo_config() -> EdgeConfig {
    let dir = repo_root().join("examples/demo");
    config_in(
        &dir,
        &std::fs::read_to_string(dir.join("edge.toml")).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("examples/demo/edge.toml: {e}"))
}

/// The viewer-request fixture events (`tests/fixtures/viewer-request/*.json`,
/// not their `.decision.json`), sorted.
pub fn viewer_request_events() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixture("viewer-request"))
        .unwrap_or_else(|e| panic!("tests/fixtures/viewer-request: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p.to_string_lossy().ends_with(".decision.json")
        })
        .collect();
    cases.sort();
    cases
}

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

/// The verified-bot table built from the shipped lists, as the CLI builds it.
pub fn shipped_verified() -> &'static edge_auth_core::VerifiedBots {
    static TABLE: std::sync::OnceLock<edge_auth_core::VerifiedBots> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let (catalog, _) = bot_signatures::Catalog::embedded();
        bot_signatures::verified::embedded(&catalog)
            .map(|(t, _)| t)
            .unwrap_or_else(|e| panic!("{e:?}"))
    })
}

/// Checks one Embedded Metric Format record the way CloudWatch reads it:
/// every metric is a number at the top level, every dimension a string there.
pub fn assert_emf(rec: &serde_json::Value, namespace: &str) {
    let aws = &rec["_aws"];
    assert!(
        aws["Timestamp"]
            .as_u64()
            .is_some_and(|t| t > 1_000_000_000_000),
        "Timestamp in ms: {rec}"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .unwrap_or_else(|| panic!("CloudWatchMetrics"));
    assert!(!directives.is_empty());
    for d in directives {
        assert_eq!(d["Namespace"], namespace);
        for m in d["Metrics"].as_array().unwrap_or_else(|| panic!("Metrics")) {
            let name = m["Name"].as_str().unwrap_or_else(|| panic!("metric name"));
            assert!(
                rec[name].is_number(),
                "metric {name} must be a number at the top level: {rec}"
            );
        }
        for set in d["Dimensions"]
            .as_array()
            .unwrap_or_else(|| panic!("Dimensions"))
        {
            for dim in set.as_array().unwrap_or_else(|| panic!("a dimension set")) {
                let dim = dim.as_str().unwrap_or_else(|| panic!("dimension name"));
                assert!(
                    rec[dim].is_string(),
                    "dimension {dim} must be a string at the top level: {rec}"
                );
            }
        }
    }
}
