//! edge-auth-wasm: the adapter that runs the edge decision inside the
//! Lambda@Edge Node.js handler. The only crate that knows wasm-bindgen.
//!
//! [`Edge::new`] takes the baked bundle configuration (the edge config as JSON,
//! the files it names) and the compiled bot matcher (the binary artifact), and [`Edge::handle`] takes a CloudFront
//! event as JSON plus `Date.now()`, returning what to do (forward, with the
//! query string to set, or the response) and the log record, as JSON. Per-instance state (token cache, rate table) lives in the `Edge`
//! object across invocations of a warm instance.
//!
//! Signature math (HMAC, RSA, ECDSA, EdDSA) goes to Node's native crypto
//! ([`node_crypto`]) behind jsonwebtoken's `CryptoProvider`; RustCrypto is
//! compiled in only with the `rust-crypto` feature (`cargo xtask dist --rust-crypto`).
//! Errors cross the boundary in one place ([`into_js_error`]); a panic traps
//! and the shim answers 503.

pub mod node_crypto;

use std::collections::BTreeMap;

use bot_signatures_matcher::Matcher;
use edge_auth_core::{Ctx, EdgeConfig, EdgeState, VerifiedBots, decide, decide_again};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

/// What `cargo xtask dist` bakes into `edge-config.json`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Baked {
    /// The edge config, as the JSON `EdgeConfig::toml_to_json` writes.
    config_json: String,
    /// Files the config names, by the name used in the config.
    files: BTreeMap<String, String>,
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
    verified: VerifiedBots,
    state: EdgeState,
}

#[wasm_bindgen]
impl Edge {
    /// Loads the baked configuration (`edge-config.json`), bot matcher
    /// (`bot-matcher.bin`) and verified-bot table (`bot-verify.bin`); a
    /// config, matcher or table the core refuses is an error
    /// (the shim then answers 503 to every request: fail closed).
    #[wasm_bindgen(constructor)]
    pub fn new(baked_json: &str, matcher: Vec<u8>, verified: &[u8]) -> Result<Edge, JsError> {
        let baked: Baked = serde_json::from_str(baked_json).map_err(into_js_error)?;
        match baked.crypto.as_deref() {
            None | Some("node") => node_crypto::install(),
            Some("rust") if cfg!(feature = "rust-crypto") => {}
            Some("rust") => {
                return Err(JsError::new(
                    "this bundle asks for RustCrypto but was built without it: rebuild with `cargo xtask dist --rust-crypto`",
                ));
            }
            Some(other) => {
                return Err(JsError::new(&format!(
                    "unknown crypto backend {other:?} in the bundle (expected \"node\" or \"rust\")"
                )));
            }
        }
        let config = EdgeConfig::parse_json(&baked.config_json, |name| {
            baked
                .files
                .get(name)
                .cloned()
                .ok_or_else(|| format!("{name} is not in the bundle"))
        })
        .map_err(into_js_error)?;
        let matcher = Matcher::from_vec(matcher).map_err(into_js_error)?;
        let verified = VerifiedBots::from_bytes(verified).map_err(into_js_error)?;
        let state = EdgeState::new(&config);
        Ok(Edge {
            config,
            matcher,
            verified,
            state,
        })
    }

    /// Config warnings (skipped keys), for the shim to log once at start.
    pub fn warnings(&self) -> Vec<String> {
        self.config.warnings.clone()
    }

    /// Decides one event. Returns `edge_auth_event::compact_result`'s two
    /// lines: the log record, then the decision (`{"reason": ..., "forward":
    /// true, "querystring": ...}` or `{"reason": ..., "response": ...}`).
    pub fn handle(&mut self, event_json: &str, now_ms: f64) -> String {
        self.run(event_json, now_ms, true)
    }

    /// Decides an event again after the shim refreshed the keys on an
    /// `unknown_kid`: the same as [`Edge::handle`], except that the rate
    /// limits the first decision charged are not charged twice.
    pub fn handle_again(&mut self, event_json: &str, now_ms: f64) -> String {
        self.run(event_json, now_ms, false)
    }

    fn run(&mut self, event_json: &str, now_ms: f64, first: bool) -> String {
        // A clock that is not a finite positive number reads as 0, which the
        // core refuses (503 `bad_clock`): never "no token is expired".
        let now_ms = if now_ms.is_finite() && now_ms > 0.0 {
            now_ms as u64
        } else {
            0
        };
        let ctx = Ctx {
            now_ms,
            config: &self.config,
            matcher: Some(&self.matcher),
            verified: Some(&self.verified),
        };
        match edge_auth_event::parse_request(event_json) {
            Ok((request, request_id)) => {
                let outcome = if first {
                    decide(&request, &ctx, &mut self.state)
                } else {
                    decide_again(&request, &ctx, &mut self.state)
                };
                edge_auth_event::compact_result(&outcome, &request, request_id.as_deref(), now_ms)
            }
            Err(e) => format!(
                "{}\n{}",
                serde_json::json!({ "reason": "malformed_event", "status": 503, "error": e.to_string() }),
                serde_json::json!({ "reason": "malformed_event", "response": edge_auth_event::internal_error() }),
            ),
        }
    }

    /// The JWK Sets to fetch at run time, as JSON:
    /// `[{"issuer": 0, "url": ..., "cache_seconds": ..., "min_refresh_seconds": ...,
    /// "timeout_ms": ..., "max_bytes": ..., "max_stale_seconds": ...}]`.
    pub fn remote_jwks(&self) -> String {
        let list: Vec<serde_json::Value> = self
            .config
            .remote_jwks()
            .into_iter()
            .map(|(i, r)| serde_json::json!({ "issuer": i, "url": r.url, "cache_seconds": r.cache_s, "min_refresh_seconds": r.min_refresh_s, "timeout_ms": r.timeout_ms, "max_bytes": r.max_bytes, "max_stale_seconds": r.max_stale_s }))
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

    /// Drops the fetched keys of issuer `issuer` (the baked ones stay): the
    /// shim calls this when no fetch has succeeded for `max_stale_seconds`.
    pub fn drop_remote_keys(&mut self, issuer: usize) -> Result<(), JsError> {
        self.config
            .set_remote_keys(issuer, r#"{"keys":[]}"#)
            .map(|_| ())
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
    /// Loads a binary artifact (`bot-matcher.bin`, as `cargo xtask dist` or
    /// `bot-signatures compile --binary` writes it).
    #[wasm_bindgen(constructor)]
    pub fn new(artifact: Vec<u8>) -> Result<BotMatcher, JsError> {
        Ok(BotMatcher {
            matcher: Matcher::from_vec(artifact).map_err(into_js_error)?,
        })
    }

    /// The deciding signature's id, or `undefined` when none matches.
    pub fn classify(&self, user_agent: &str) -> Option<String> {
        self.matcher
            .classify(user_agent)
            .map(|v| v.signature.id.to_owned())
    }

    /// Whether any signature matches (no string crosses back).
    pub fn is_bot(&self, user_agent: &str) -> bool {
        self.matcher.classify(user_agent).is_some()
    }
}
