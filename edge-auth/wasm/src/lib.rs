//! edge-auth-wasm: the adapter that runs the edge decision inside the
//! Lambda@Edge Node.js handler. The only crate that knows wasm-bindgen.
//!
//! [`Edge::new`] takes the baked bundle configuration (the edge TOML, the files
//! it names, the compiled bot matcher) and [`Edge::handle`] takes a CloudFront
//! event as JSON plus `Date.now()`, returning what to do (forward, with the
//! query string to set, or the response) and the log record, as JSON. Per-instance state (token cache, rate table) lives in the `Edge`
//! object across invocations of a warm instance.
//!
//! Signature math for RSA, ECDSA and EdDSA goes to Node's native crypto
//! ([`node_crypto`]) behind jsonwebtoken's `CryptoProvider`; HMAC stays in Rust.
//! Errors cross the boundary in one place ([`into_js_error`]); a panic traps
//! and the shim answers 503.

pub mod node_crypto;

use std::collections::BTreeMap;

use bot_signatures_matcher::{CompiledCatalog, Matcher};
use edge_auth_core::{Ctx, EdgeConfig, EdgeState, decide};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

/// What `cargo xtask dist` bakes into `edge-config.json`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Baked {
    /// The edge config (TOML text).
    config_toml: String,
    /// Files the config names, by the name used in the config.
    files: BTreeMap<String, String>,
    /// The compiled bot catalog.
    matcher: CompiledCatalog,
    /// `"node"` (default) or `"rust"`: who does RSA/ECDSA/EdDSA math.
    #[serde(default)]
    crypto: Option<String>,
}

fn into_js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// One warm instance of the edge: config, matcher and per-instance state.
#[wasm_bindgen]
pub struct Edge {
    config: EdgeConfig,
    matcher: Matcher,
    state: EdgeState,
}

#[wasm_bindgen]
impl Edge {
    /// Loads the baked configuration; a config the core refuses is an error
    /// (the shim then answers 503 to every request: fail closed).
    #[wasm_bindgen(constructor)]
    pub fn new(baked_json: &str) -> Result<Edge, JsError> {
        let baked: Baked = serde_json::from_str(baked_json).map_err(into_js_error)?;
        if baked.crypto.as_deref() != Some("rust") {
            node_crypto::install();
        }
        let config = EdgeConfig::parse(&baked.config_toml, |name| {
            baked
                .files
                .get(name)
                .cloned()
                .ok_or_else(|| format!("{name} is not in the bundle"))
        })
        .map_err(into_js_error)?;
        let matcher = Matcher::new(baked.matcher).map_err(into_js_error)?;
        let state = EdgeState::new(&config);
        Ok(Edge {
            config,
            matcher,
            state,
        })
    }

    /// Config warnings (skipped keys), for the shim to log once at start.
    pub fn warnings(&self) -> Vec<String> {
        self.config.warnings.clone()
    }

    /// Decides one event. Returns `edge_auth_event::compact_result`'s JSON:
    /// `{"forward": true, "querystring": ..., "log": ...}` or `{"response": ..., "log": ...}`.
    pub fn handle(&mut self, event_json: &str, now_ms: f64) -> String {
        let now_ms = if now_ms.is_finite() && now_ms > 0.0 {
            now_ms as u64
        } else {
            0
        };
        let ctx = Ctx {
            now_ms,
            config: &self.config,
            matcher: Some(&self.matcher),
        };
        match edge_auth_event::parse_request(event_json) {
            Ok((request, request_id)) => {
                let outcome = decide(&request, &ctx, &mut self.state);
                edge_auth_event::compact_result(&outcome, &request, request_id.as_deref(), now_ms)
            }
            Err(e) => serde_json::json!({
                "response": edge_auth_event::internal_error(),
                "log": { "reason": "malformed_event", "status": 503, "error": e.to_string() },
            })
            .to_string(),
        }
    }

    /// The JWK Sets to fetch at run time, as JSON:
    /// `[{"issuer": 0, "url": ..., "cache_seconds": ..., "min_refresh_seconds": ..., "timeout_ms": ...}]`.
    pub fn remote_jwks(&self) -> String {
        let list: Vec<serde_json::Value> = self
            .config
            .remote_jwks()
            .into_iter()
            .map(|(i, r)| serde_json::json!({ "issuer": i, "url": r.url, "cache_seconds": r.cache_s, "min_refresh_seconds": r.min_refresh_s, "timeout_ms": r.timeout_ms }))
            .collect();
        serde_json::Value::Array(list).to_string()
    }

    /// Installs a fetched JWK Set for issuer `issuer` (the verified-token cache
    /// is cleared when the keys change). Returns warnings about skipped keys.
    pub fn set_remote_keys(&mut self, issuer: usize, jwks: &str) -> Result<Vec<String>, JsError> {
        self.config
            .set_remote_keys(issuer, jwks)
            .map_err(into_js_error)
    }

    /// Verified tokens held in the cache (for tests and metrics).
    pub fn cached_tokens(&self) -> usize {
        self.state.tokens.len()
    }

    /// Clients tracked by the rate limiter (for tests and metrics).
    pub fn tracked_clients(&self) -> usize {
        self.state.limiter.as_ref().map_or(0, |l| l.len())
    }
}

/// The bot matcher alone, for benchmarks and for hosts that only classify.
#[wasm_bindgen]
pub struct BotMatcher {
    matcher: Matcher,
}

#[wasm_bindgen]
impl BotMatcher {
    /// Loads a compiled catalog (the artifact `bot-signatures compile` writes).
    #[wasm_bindgen(constructor)]
    pub fn new(artifact_json: &str) -> Result<BotMatcher, JsError> {
        Ok(BotMatcher {
            matcher: Matcher::from_json(artifact_json.as_bytes()).map_err(into_js_error)?,
        })
    }

    /// The deciding signature's id, or `undefined` when none matches.
    pub fn classify(&self, user_agent: &str) -> Option<String> {
        self.matcher
            .classify(user_agent)
            .map(|v| v.signature.id.clone())
    }

    /// Whether any signature matches (no string crosses back).
    pub fn is_bot(&self, user_agent: &str) -> bool {
        self.matcher.classify(user_agent).is_some()
    }
}
