//! The edge configuration: TOML, every table with unknown fields refused,
//! validated at load with precise errors. Files the config names (the JWK Set)
//! are read through a callback, so this module does no I/O itself: the CLI
//! reads the disk, the wasm build reads what `cargo xtask dist` baked in.
//!
//! The `[jwt]` table of DESIGN.md is the one-issuer form; `[[issuers]]` lists
//! several (one of the two, not both).

use jsonwebtoken::Algorithm;
use serde::Deserialize;

use crate::jwt::{Issuer, RemoteJwks};
use crate::keys::{KeyKind, KeySet, hmac_key};
use crate::policy::Glob;
use crate::uri::{UriPolicy, is_clean_path};

/// A configuration that cannot be used. The message says what and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    /// What is wrong, with the TOML line when known.
    pub message: String,
}

fn err(message: impl Into<String>) -> ConfigError {
    ConfigError {
        message: message.into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    pipeline: Option<Vec<String>>,
    #[serde(default)]
    jwt: Option<RawIssuer>,
    #[serde(default)]
    issuers: Vec<RawIssuer>,
    #[serde(default)]
    bots: RawBots,
    #[serde(default)]
    rate_limit: RawRate,
    #[serde(default)]
    tokens: RawTokens,
    #[serde(default)]
    cors: RawCors,
    #[serde(default)]
    responses: RawResponses,
    #[serde(default)]
    paths: Vec<RawPath>,
    #[serde(default)]
    uri: RawUri,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUri {
    #[serde(default)]
    allow_encoded_slash: Vec<String>,
    #[serde(default)]
    allow_empty_segments: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    issuer: String,
    audience: OneOrMany,
    algorithms: Vec<String>,
    #[serde(default = "default_leeway")]
    leeway_seconds: u64,
    #[serde(default)]
    jwks_file: Option<String>,
    #[serde(default)]
    hmac_secret: Option<String>,
    #[serde(default)]
    max_age_seconds: Option<u64>,
    #[serde(default)]
    required_claims: Vec<String>,
    #[serde(default)]
    jwks_url: Option<String>,
    #[serde(default = "default_jwks_cache")]
    jwks_cache_seconds: u64,
    #[serde(default = "default_jwks_min_refresh")]
    jwks_min_refresh_seconds: u64,
    #[serde(default = "default_jwks_timeout")]
    jwks_timeout_ms: u64,
    #[serde(default = "default_jwks_max_bytes")]
    jwks_max_bytes: u64,
    #[serde(default = "default_jwks_max_stale")]
    jwks_max_stale_seconds: u64,
    #[serde(default)]
    typ: Option<Vec<String>>,
}

fn default_jwks_max_bytes() -> u64 {
    65_536
}
fn default_jwks_max_stale() -> u64 {
    86_400
}

fn default_jwks_cache() -> u64 {
    600
}
fn default_jwks_min_refresh() -> u64 {
    60
}
fn default_jwks_timeout() -> u64 {
    1500
}

fn default_leeway() -> u64 {
    30
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBots {
    #[serde(default = "default_true")]
    enabled: bool,
    #[serde(default)]
    empty_user_agent: EmptyUserAgent,
    #[serde(default = "default_bot_rpm")]
    rate_limit_per_minute: u32,
    #[serde(default = "default_bot_burst")]
    rate_limit_burst: u32,
    #[serde(default)]
    unverified_claim: UnverifiedClaim,
    #[serde(default = "default_signature_leeway")]
    signature_leeway_seconds: i64,
    #[serde(default = "default_signature_validity")]
    signature_max_validity_seconds: i64,
    #[serde(default)]
    signed_agents: Vec<RawSignedAgent>,
}

/// One `[[bots.signed_agents]]`: a Web Bot Auth agent and its key directory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignedAgent {
    name: String,
    agent: String,
    #[serde(default)]
    directory: Option<String>,
    keys: Vec<crate::webbotauth::DirectoryJwk>,
    #[serde(default)]
    signatures: Vec<String>,
}

fn default_signature_leeway() -> i64 {
    30
}
fn default_signature_validity() -> i64 {
    3600
}

impl Default for RawBots {
    fn default() -> Self {
        RawBots {
            enabled: true,
            empty_user_agent: EmptyUserAgent::default(),
            rate_limit_per_minute: default_bot_rpm(),
            rate_limit_burst: default_bot_burst(),
            unverified_claim: UnverifiedClaim::default(),
            signature_leeway_seconds: default_signature_leeway(),
            signature_max_validity_seconds: default_signature_validity(),
            signed_agents: Vec::new(),
        }
    }
}

/// The Web Bot Auth agents of `[bots]`, checked: names unique, `agent` an
/// https URL, every key a usable Ed25519 public key, no key or claimed
/// signature shared by two agents.
fn signed_agents(
    bots: &RawBots,
) -> Result<
    (
        Vec<crate::webbotauth::SignedAgent>,
        crate::webbotauth::Window,
    ),
    ConfigError,
> {
    use crate::webbotauth::{AgentKey, SignedAgent, Window};
    if !(0..=300).contains(&bots.signature_leeway_seconds) {
        return Err(err(format!(
            "bots.signature_leeway_seconds {} must be 0 to 300",
            bots.signature_leeway_seconds
        )));
    }
    if !(1..=7 * 86_400).contains(&bots.signature_max_validity_seconds) {
        return Err(err(format!(
            "bots.signature_max_validity_seconds {} must be 1 to 604800 (a week)",
            bots.signature_max_validity_seconds
        )));
    }
    let mut out: Vec<SignedAgent> = Vec::new();
    for (i, a) in bots.signed_agents.iter().enumerate() {
        let at = format!("bots.signed_agents[{i}] ({:?})", a.name);
        let name_ok = !a.name.is_empty()
            && a.name.len() <= 64
            && a.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            return Err(err(format!(
                "{at}: name must be 1 to 64 of A-Z a-z 0-9 - _ ."
            )));
        }
        if out.iter().any(|o| o.name == a.name) {
            return Err(err(format!("{at}: the name is used twice")));
        }
        let url_ok = |u: &str| {
            u.starts_with("https://")
                && u.len() > "https://".len()
                && u.len() <= 2048
                && u.bytes().all(|b| b.is_ascii_graphic())
        };
        if !url_ok(&a.agent) {
            return Err(err(format!(
                "{at}: agent {:?} must be the https:// URL its requests send in Signature-Agent",
                a.agent
            )));
        }
        if let Some(d) = &a.directory
            && !url_ok(d)
        {
            return Err(err(format!(
                "{at}: directory {d:?} must be an https:// URL (where the keys were published)"
            )));
        }
        if a.keys.is_empty() {
            return Err(err(format!(
                "{at}: keys is empty; copy the public keys from the agent's key directory"
            )));
        }
        let mut keys = Vec::new();
        for (k, jwk) in a.keys.iter().enumerate() {
            let key = AgentKey::from_jwk(jwk).map_err(|e| err(format!("{at}: keys[{k}]: {e}")))?;
            if let Some(o) = out.iter().find(|o| o.key(&key.thumbprint).is_some()) {
                return Err(err(format!(
                    "{at}: keys[{k}] is also a key of {:?}: one key, one agent",
                    o.name
                )));
            }
            keys.push(key);
        }
        for sig in &a.signatures {
            if sig.is_empty() {
                return Err(err(format!("{at}: an empty signature id")));
            }
            if let Some(o) = out.iter().find(|o| o.signatures.contains(sig)) {
                return Err(err(format!(
                    "{at}: signature {sig:?} is also claimed by {:?}",
                    o.name
                )));
            }
        }
        out.push(SignedAgent {
            name: a.name.clone(),
            agent: a.agent.clone(),
            keys,
            signatures: a.signatures.clone(),
        });
    }
    Ok((
        out,
        Window {
            leeway_s: bots.signature_leeway_seconds,
            max_validity_s: bots.signature_max_validity_seconds,
        },
    ))
}

fn default_true() -> bool {
    true
}
fn default_bot_rpm() -> u32 {
    60
}
fn default_bot_burst() -> u32 {
    10
}

/// What to do with a good bot's claim that its operator's published
/// addresses contradict (a spoofed `Googlebot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnverifiedClaim {
    /// 403 `bot_spoofed`: whoever forges a good bot's name is no good bot.
    #[default]
    Block,
    /// Disregard the claim: the other signatures decide (generic ones too).
    Ignore,
}

/// What to do with a request that has no or an empty User-Agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmptyUserAgent {
    /// 403, like a blocked bot (browsers always send one).
    #[default]
    Block,
    /// Treat it like any other request.
    Allow,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRate {
    #[serde(default = "default_true")]
    enabled: bool,
    #[serde(default = "default_rps")]
    requests_per_second: f64,
    #[serde(default = "default_burst")]
    burst: u32,
    #[serde(default = "default_max_clients")]
    max_clients: usize,
}

impl Default for RawRate {
    fn default() -> Self {
        RawRate {
            enabled: true,
            requests_per_second: default_rps(),
            burst: default_burst(),
            max_clients: default_max_clients(),
        }
    }
}

fn default_rps() -> f64 {
    20.0
}
fn default_burst() -> u32 {
    100
}
fn default_max_clients() -> usize {
    10_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokens {
    #[serde(default = "default_sources")]
    sources: Vec<String>,
    #[serde(default = "default_cookie")]
    cookie_name: String,
    #[serde(default = "default_query")]
    query_param: String,
    #[serde(default = "default_cache")]
    cache_entries: usize,
    #[serde(default = "default_true")]
    strip_before_origin: bool,
}

impl Default for RawTokens {
    fn default() -> Self {
        RawTokens {
            sources: default_sources(),
            cookie_name: default_cookie(),
            query_param: default_query(),
            cache_entries: default_cache(),
            strip_before_origin: true,
        }
    }
}

fn default_sources() -> Vec<String> {
    vec!["authorization".into(), "cookie".into(), "query".into()]
}
fn default_cookie() -> String {
    "access_token".into()
}
fn default_query() -> String {
    "token".into()
}
fn default_cache() -> usize {
    1024
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCors {
    #[serde(default)]
    preflight: Preflight,
    #[serde(default)]
    allow_origins: Vec<String>,
    #[serde(default)]
    allow_headers: Vec<String>,
    #[serde(default)]
    allow_methods: Vec<String>,
    #[serde(default)]
    max_age_seconds: Option<u64>,
}

/// What to do with a CORS preflight on a protected path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preflight {
    /// Send it to the origin (which answers CORS itself).
    #[default]
    Forward,
    /// Answer 204 at the edge from `[cors]`.
    Respond,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResponses {
    #[serde(default = "default_realm")]
    realm: String,
    #[serde(default)]
    login_url: Option<String>,
}

impl Default for RawResponses {
    fn default() -> Self {
        RawResponses {
            realm: default_realm(),
            login_url: None,
        }
    }
}

fn default_realm() -> String {
    "edge".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPath {
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    glob: Option<String>,
    access: Access,
    #[serde(default)]
    require_scope: Vec<String>,
    #[serde(default)]
    path_claim: Option<String>,
    #[serde(default)]
    sub_prefix: Option<String>,
}

/// Whether a path needs a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// No token needed.
    Public,
    /// A valid token (and the rule's claim conditions).
    Token,
}

/// How a path rule matches the URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// The URI starts with this.
    Prefix(String),
    /// `*` matches within one segment, `**` across segments.
    Glob(Glob),
}

/// One path rule; the first matching rule applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRule {
    /// Which URIs.
    pub matcher: PathMatch,
    /// Public or token.
    pub access: Access,
    /// Scopes the token must all have (`scope` string or `scp` list).
    pub require_scope: Vec<String>,
    /// A claim listing the path prefixes this token may read.
    pub path_claim: Option<String>,
    /// A prefix with `{sub}`, e.g. `/private/{sub}/`: the URI must be under the token's own.
    pub sub_prefix: Option<String>,
}

/// One step of the decision pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The bot-signature filter.
    Bots,
    /// The per-client rate limit.
    RateLimit,
    /// Path policy and token verification.
    Auth,
}

/// Where to look for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`.
    Authorization,
    /// The cookie `tokens.cookie_name`.
    Cookie,
    /// The query parameter `tokens.query_param` (removed before forwarding).
    Query,
}

/// A rate: requests per second with a burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests allowed at once.
    pub burst: u32,
}

/// The validated configuration the decision uses.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// Steps in order; `Auth` is always present.
    pub pipeline: Vec<Step>,
    /// Trusted issuers.
    pub issuers: Vec<Issuer>,
    /// Whether the bot filter runs (also needs `Step::Bots` in the pipeline).
    pub bots_enabled: bool,
    /// No/empty User-Agent handling.
    pub empty_user_agent: EmptyUserAgent,
    /// Spoofed good-bot claims.
    pub unverified_claim: UnverifiedClaim,
    /// Web Bot Auth agents whose signatures the edge verifies.
    pub signed_agents: Vec<crate::webbotauth::SignedAgent>,
    /// Their signatures' time rules.
    pub signature_window: crate::webbotauth::Window,
    /// The stricter rate for `rate_limit` bot signatures.
    pub bot_rate: Rate,
    /// The per-client rate, when enabled.
    pub rate: Option<Rate>,
    /// Bound on tracked clients per instance.
    pub max_clients: usize,
    /// Token sources in order.
    pub token_sources: Vec<TokenSource>,
    /// Cookie carrying the token.
    pub cookie_name: String,
    /// Query parameter carrying the token (always removed before the origin).
    pub query_param: String,
    /// Remove `Authorization` and the token cookie before the origin.
    pub strip_before_origin: bool,
    /// Path families that accept escaped slashes or empty segments.
    pub uri: UriPolicy,
    /// Verified-token cache size per instance (0 disables it).
    pub cache_entries: usize,
    /// CORS preflight handling.
    pub preflight: Preflight,
    /// Origins allowed in answered preflights.
    pub allow_origins: Vec<String>,
    /// Headers allowed in answered preflights.
    pub allow_headers: Vec<String>,
    /// Methods allowed in answered preflights.
    pub allow_methods: Vec<String>,
    /// Access-Control-Max-Age of answered preflights.
    pub preflight_max_age_s: Option<u64>,
    /// The `realm` of WWW-Authenticate.
    pub realm: String,
    /// Redirect browser navigations without a valid token here (`{return_to}` is replaced).
    pub login_url: Option<String>,
    /// Path rules, first match wins; no match means a token is required.
    pub paths: Vec<PathRule>,
    /// Warnings about the key sets (skipped keys); never key material.
    pub warnings: Vec<String>,
    /// Changes whenever the keys change; the token cache is cleared on a change.
    pub keys_fingerprint: u64,
    /// The fingerprint of the baked keys alone.
    baked_fingerprint: u64,
}

#[cfg(feature = "toml")]
fn contains_datetime(v: &toml::Value) -> bool {
    match v {
        toml::Value::Datetime(_) => true,
        toml::Value::Array(a) => a.iter().any(contains_datetime),
        toml::Value::Table(t) => t.values().any(contains_datetime),
        _ => false,
    }
}

impl EdgeConfig {
    /// Parses and validates `toml_text`. `read_file` returns the contents of a
    /// file the config names (e.g. `jwks_file`), relative to the config file.
    #[cfg(feature = "toml")]
    pub fn parse(
        toml_text: &str,
        read_file: impl FnMut(&str) -> Result<String, String>,
    ) -> Result<EdgeConfig, ConfigError> {
        let raw: RawConfig =
            toml::from_str(toml_text).map_err(|e| err(e.to_string().trim_end().to_owned()))?;
        EdgeConfig::from_raw(raw, read_file)
    }

    /// The same config as JSON (the TOML document's data model, as
    /// [`EdgeConfig::toml_to_json`] writes it): what `cargo xtask dist` bakes,
    /// so that the bundle needs no TOML parser.
    pub fn parse_json(
        json_text: &str,
        read_file: impl FnMut(&str) -> Result<String, String>,
    ) -> Result<EdgeConfig, ConfigError> {
        let raw: RawConfig = serde_json::from_str(json_text).map_err(|e| err(e.to_string()))?;
        EdgeConfig::from_raw(raw, read_file)
    }

    /// Converts a TOML config to the JSON that [`EdgeConfig::parse_json`]
    /// reads. Refuses what [`EdgeConfig::parse`] refuses.
    #[cfg(feature = "toml")]
    pub fn toml_to_json(toml_text: &str) -> Result<String, ConfigError> {
        let value: toml::Value =
            toml::from_str(toml_text).map_err(|e| err(e.to_string().trim_end().to_owned()))?;
        if contains_datetime(&value) {
            return Err(err("a date or time is not a config value".to_owned()));
        }
        serde_json::to_string(&value).map_err(|e| err(e.to_string()))
    }

    fn from_raw(
        raw: RawConfig,
        mut read_file: impl FnMut(&str) -> Result<String, String>,
    ) -> Result<EdgeConfig, ConfigError> {
        let pipeline = match raw.pipeline {
            None => vec![Step::Bots, Step::RateLimit, Step::Auth],
            Some(names) => {
                let mut steps = Vec::new();
                for n in &names {
                    let step = match n.as_str() {
                        "bots" => Step::Bots,
                        "rate_limit" => Step::RateLimit,
                        "auth" => Step::Auth,
                        other => {
                            return Err(err(format!(
                                "pipeline: unknown step {other:?}; use \"bots\", \"rate_limit\" and \"auth\""
                            )));
                        }
                    };
                    if steps.contains(&step) {
                        return Err(err(format!("pipeline: step {n:?} is listed twice")));
                    }
                    steps.push(step);
                }
                if !steps.contains(&Step::Auth) {
                    return Err(err(
                        "pipeline: \"auth\" must be present (without it every protected path would be open)",
                    ));
                }
                steps
            }
        };

        let raw_issuers: Vec<RawIssuer> = match (raw.jwt, raw.issuers.is_empty()) {
            (Some(_), false) => {
                return Err(err(
                    "use either [jwt] (one issuer) or [[issuers]] (several), not both",
                ));
            }
            (Some(one), true) => vec![one],
            (None, false) => raw.issuers,
            (None, true) => {
                return Err(err(
                    "no issuer configured: add a [jwt] table with issuer, audience, algorithms and jwks_file",
                ));
            }
        };
        let mut issuers = Vec::new();
        let mut warnings = Vec::new();
        let mut fingerprint = Fingerprint::default();
        for (i, r) in raw_issuers.into_iter().enumerate() {
            let at = if r.issuer.is_empty() {
                format!("issuer #{}", i + 1)
            } else {
                format!("issuer {:?}", r.issuer)
            };
            if r.issuer.is_empty() {
                return Err(err(format!("{at}: issuer must not be empty")));
            }
            if issuers.iter().any(|x: &Issuer| x.issuer == r.issuer) {
                return Err(err(format!("{at} is configured twice")));
            }
            let audiences = match r.audience {
                OneOrMany::One(a) => vec![a],
                OneOrMany::Many(list) => list,
            };
            if audiences.is_empty() || audiences.iter().any(String::is_empty) {
                return Err(err(format!(
                    "{at}: audience must be a non-empty string or list of non-empty strings"
                )));
            }
            if r.algorithms.is_empty() {
                return Err(err(format!(
                    "{at}: algorithms must list at least one JWS algorithm, e.g. [\"RS256\"]"
                )));
            }
            let mut algorithms = Vec::new();
            for name in &r.algorithms {
                let alg: Algorithm = name
                    .parse()
                    .map_err(|_| err(format!("{at}: unknown algorithm {name:?}; use RS256/384/512, PS256/384/512, ES256/384, EdDSA or HS256/384/512 (never \"none\")")))?;
                algorithms.push(alg);
            }
            let wants_hmac = algorithms.iter().any(|a| KeyKind::Hmac.verifies(*a));
            let wants_asym = algorithms.iter().any(|a| !KeyKind::Hmac.verifies(*a));
            let hmac = match (&r.hmac_secret, wants_hmac) {
                (Some(s), true) => {
                    warnings.push(format!(
                        "{at}: hmac_secret is baked into the bundle, where anyone allowed lambda:GetFunction can read it and mint tokens; prefer an asymmetric algorithm (ES256 or EdDSA) with a public JWK Set"
                    ));
                    fingerprint.add(s.as_bytes());
                    Some(hmac_key(s).map_err(|e| err(format!("{at}: {e}")))?)
                }
                (None, true) => {
                    return Err(err(format!(
                        "{at}: HS* algorithms need hmac_secret (base64url, at least 32 bytes)"
                    )));
                }
                (Some(_), false) => {
                    return Err(err(format!(
                        "{at}: hmac_secret is set but no HS* algorithm is allowed; remove it"
                    )));
                }
                (None, false) => None,
            };
            let mut keys = Vec::new();
            match (&r.jwks_file, wants_asym) {
                (Some(file), _) => {
                    let text = read_file(file)
                        .map_err(|e| err(format!("{at}: jwks_file {file:?}: {e}")))?;
                    fingerprint.add(text.as_bytes());
                    let set = KeySet::parse(&text)
                        .map_err(|e| err(format!("{at}: jwks_file {file:?}: {e}")))?;
                    warnings.extend(set.warnings.into_iter().map(|w| format!("{at}: {w}")));
                    keys = set.keys;
                    if wants_asym
                        && !keys
                            .iter()
                            .any(|k| k.kid.is_some() && algorithms.iter().any(|a| k.accepts(*a)))
                    {
                        return Err(err(format!(
                            "{at}: jwks_file {file:?} has no usable key with a kid for {:?}",
                            r.algorithms
                        )));
                    }
                }
                // Keys only from the network: every token fails until a fetch succeeds (fail closed).
                (None, true) if r.jwks_url.is_some() => {}
                (None, true) => {
                    return Err(err(format!(
                        "{at}: asymmetric algorithms need jwks_file (an RFC 7517 JWK Set) or jwks_url"
                    )));
                }
                (None, false) => {}
            }
            let remote = match r.jwks_url {
                None => None,
                Some(url) => {
                    let loopback = [
                        "http://127.0.0.1:",
                        "http://127.0.0.1/",
                        "http://localhost:",
                        "http://localhost/",
                    ]
                    .iter()
                    .any(|p| url.starts_with(p));
                    if !url.starts_with("https://") && !loopback {
                        return Err(err(format!(
                            "{at}: jwks_url {url:?} must be https:// (http only on loopback, for development)"
                        )));
                    }
                    if r.jwks_timeout_ms == 0 || r.jwks_timeout_ms > 3000 {
                        return Err(err(format!(
                            "{at}: jwks_timeout_ms {} must be 1..=3000 (the viewer-request limit is 5 s)",
                            r.jwks_timeout_ms
                        )));
                    }
                    if r.jwks_min_refresh_seconds == 0 {
                        return Err(err(format!(
                            "{at}: jwks_min_refresh_seconds must be at least 1"
                        )));
                    }
                    if r.jwks_max_bytes < 1024 || r.jwks_max_bytes > 1_048_576 {
                        return Err(err(format!(
                            "{at}: jwks_max_bytes {} must be 1024..=1048576",
                            r.jwks_max_bytes
                        )));
                    }
                    if r.jwks_max_stale_seconds < r.jwks_cache_seconds {
                        return Err(err(format!(
                            "{at}: jwks_max_stale_seconds {} must be at least jwks_cache_seconds {}",
                            r.jwks_max_stale_seconds, r.jwks_cache_seconds
                        )));
                    }
                    Some(RemoteJwks {
                        url,
                        cache_s: r.jwks_cache_seconds,
                        min_refresh_s: r.jwks_min_refresh_seconds,
                        timeout_ms: r.jwks_timeout_ms,
                        max_bytes: r.jwks_max_bytes,
                        max_stale_s: r.jwks_max_stale_seconds,
                    })
                }
            };
            if r.leeway_seconds > 300 {
                return Err(err(format!(
                    "{at}: leeway_seconds {} is above 300; clock skew is seconds, not minutes",
                    r.leeway_seconds
                )));
            }
            let typ = match r.typ {
                None => None,
                Some(list) if list.is_empty() || list.iter().any(String::is_empty) => {
                    return Err(err(format!(
                        "{at}: typ must list the accepted header types, e.g. [\"JWT\", \"at+jwt\"]"
                    )));
                }
                Some(list) => Some(list),
            };
            let baked_keys = keys.len();
            issuers.push(Issuer {
                typ,
                issuer: r.issuer,
                audiences,
                algorithms,
                leeway_s: r.leeway_seconds,
                max_age_s: r.max_age_seconds,
                required_claims: r.required_claims,
                keys,
                hmac,
                baked_keys,
                remote,
            });
        }

        let bot_rate = Rate {
            per_second: f64::from(raw.bots.rate_limit_per_minute) / 60.0,
            burst: raw.bots.rate_limit_burst,
        };
        check_rate("bots.rate_limit_per_minute", bot_rate)?;
        let (signed_agents, signature_window) = signed_agents(&raw.bots)?;
        let rate = if raw.rate_limit.enabled {
            let r = Rate {
                per_second: raw.rate_limit.requests_per_second,
                burst: raw.rate_limit.burst,
            };
            check_rate("rate_limit", r)?;
            Some(r)
        } else {
            None
        };
        if raw.rate_limit.max_clients == 0 {
            return Err(err("rate_limit.max_clients must be at least 1"));
        }

        let mut token_sources = Vec::new();
        for s in &raw.tokens.sources {
            let src = match s.as_str() {
                "authorization" => TokenSource::Authorization,
                "cookie" => TokenSource::Cookie,
                "query" => TokenSource::Query,
                other => {
                    return Err(err(format!(
                        "tokens.sources: unknown source {other:?}; use \"authorization\", \"cookie\" or \"query\""
                    )));
                }
            };
            if token_sources.contains(&src) {
                return Err(err(format!("tokens.sources: {s:?} is listed twice")));
            }
            token_sources.push(src);
        }
        if token_sources.is_empty() {
            return Err(err("tokens.sources must list at least one source"));
        }
        for (name, value) in [
            ("tokens.cookie_name", &raw.tokens.cookie_name),
            ("tokens.query_param", &raw.tokens.query_param),
        ] {
            if value.is_empty()
                || !value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
            {
                return Err(err(format!(
                    "{name} {value:?} must be a plain name (letters, digits, _ - .)"
                )));
            }
        }

        if let Some(url) = &raw.responses.login_url
            && !url.starts_with("https://")
        {
            return Err(err(format!(
                "responses.login_url {url:?} must be an https:// URL"
            )));
        }

        let mut paths = Vec::new();
        for (i, p) in raw.paths.into_iter().enumerate() {
            let at = format!("paths[{i}]");
            for text in p.prefix.iter().chain(p.glob.iter()) {
                if text.contains('%') || text.contains('\\') || text.chars().any(char::is_control) {
                    return Err(err(format!(
                        "{at}: {text:?}: write the decoded path (a space, not %20): rules match the object path as the origin decodes it"
                    )));
                }
            }
            let matcher = match (p.prefix, p.glob) {
                (Some(prefix), None) if prefix.starts_with('/') => PathMatch::Prefix(prefix),
                (None, Some(glob)) if glob.starts_with('/') => PathMatch::Glob(
                    Glob::new(&glob).map_err(|e| err(format!("{at}: {glob:?}: {e}")))?,
                ),
                (Some(_), Some(_)) => {
                    return Err(err(format!("{at}: give either prefix or glob, not both")));
                }
                (None, None) => return Err(err(format!("{at}: needs a prefix or a glob"))),
                _ => return Err(err(format!("{at}: prefix and glob start with '/'"))),
            };
            let has_conditions =
                !p.require_scope.is_empty() || p.path_claim.is_some() || p.sub_prefix.is_some();
            if p.access == Access::Public && has_conditions {
                return Err(err(format!(
                    "{at}: a public path cannot have claim conditions"
                )));
            }
            if let Some(sp) = &p.sub_prefix
                && (!sp.contains("{sub}") || !is_clean_path(&sp.replace("{sub}", "x")))
            {
                return Err(err(format!(
                    "{at}: sub_prefix {sp:?} must be a decoded path starting with '/' (no '//', dot segments, '%' or '\\') and contain {{sub}}"
                )));
            }
            paths.push(PathRule {
                matcher,
                access: p.access,
                require_scope: p.require_scope,
                path_claim: p.path_claim,
                sub_prefix: p.sub_prefix,
            });
        }

        let mut uri = UriPolicy::default();
        for (name, list, out) in [
            (
                "uri.allow_encoded_slash",
                raw.uri.allow_encoded_slash,
                &mut uri.allow_encoded_slash,
            ),
            (
                "uri.allow_empty_segments",
                raw.uri.allow_empty_segments,
                &mut uri.allow_empty_segments,
            ),
        ] {
            for prefix in list {
                if prefix == "/" || !prefix.ends_with('/') || !is_clean_path(&prefix) {
                    return Err(err(format!(
                        "{name}: {prefix:?} must be a decoded path family below the root, ending in '/' (e.g. \"/wiki/\"), with no '//', dot segments, '%' or '\\'"
                    )));
                }
                out.push(prefix);
            }
        }

        Ok(EdgeConfig {
            pipeline,
            issuers,
            bots_enabled: raw.bots.enabled,
            empty_user_agent: raw.bots.empty_user_agent,
            unverified_claim: raw.bots.unverified_claim,
            signed_agents,
            signature_window,
            bot_rate,
            rate,
            max_clients: raw.rate_limit.max_clients,
            token_sources,
            cookie_name: raw.tokens.cookie_name,
            query_param: raw.tokens.query_param,
            strip_before_origin: raw.tokens.strip_before_origin,
            uri,
            cache_entries: raw.tokens.cache_entries,
            preflight: raw.cors.preflight,
            allow_origins: raw.cors.allow_origins,
            allow_headers: raw.cors.allow_headers,
            allow_methods: raw.cors.allow_methods,
            preflight_max_age_s: raw.cors.max_age_seconds,
            realm: raw.responses.realm,
            login_url: raw.responses.login_url,
            paths,
            warnings,
            keys_fingerprint: fingerprint.0,
            baked_fingerprint: fingerprint.0,
        })
    }
}

impl EdgeConfig {
    /// The issuers whose keys the host should fetch: `(issuer index, where)`.
    pub fn remote_jwks(&self) -> Vec<(usize, RemoteJwks)> {
        self.issuers
            .iter()
            .enumerate()
            .filter_map(|(i, x)| x.remote.clone().map(|r| (i, r)))
            .collect()
    }

    /// Replaces the fetched keys of issuer `index` with the JWK Set `jwks`
    /// (baked keys stay; a fetched key whose `kid` a baked key has is skipped).
    /// Returns warnings; on an error nothing changes.
    pub fn set_remote_keys(
        &mut self,
        index: usize,
        jwks: &str,
    ) -> Result<Vec<String>, ConfigError> {
        let issuer = self
            .issuers
            .get_mut(index)
            .ok_or_else(|| err(format!("no issuer #{index}")))?;
        if issuer.remote.is_none() {
            return Err(err(format!("issuer {:?} has no jwks_url", issuer.issuer)));
        }
        let set = KeySet::parse(jwks)
            .map_err(|e| err(format!("issuer {:?}: fetched JWK Set: {e}", issuer.issuer)))?;
        let mut warnings: Vec<String> = set
            .warnings
            .iter()
            .map(|w| format!("issuer {:?}: fetched {w}", issuer.issuer))
            .collect();
        issuer.keys.truncate(issuer.baked_keys);
        for key in set.keys {
            if key.kid.is_some()
                && issuer.keys[..issuer.baked_keys]
                    .iter()
                    .any(|b| b.kid == key.kid)
            {
                warnings.push(format!(
                    "issuer {:?}: fetched key {:?} skipped: a baked key has that kid",
                    issuer.issuer, key.kid
                ));
                continue;
            }
            issuer.keys.push(key);
        }
        let mut f = Fingerprint(self.baked_fingerprint);
        f.add(&index.to_le_bytes());
        f.add(jwks.as_bytes());
        self.keys_fingerprint = f.0;
        Ok(warnings)
    }
}

fn check_rate(name: &str, r: Rate) -> Result<(), ConfigError> {
    if !(r.per_second.is_finite() && r.per_second > 0.0) {
        return Err(err(format!("{name}: the rate must be a positive number")));
    }
    if r.burst == 0 {
        return Err(err(format!("{name}: burst must be at least 1")));
    }
    Ok(())
}

/// FNV-1a over the key material: enough to notice a change, not a secret.
#[derive(Default)]
struct Fingerprint(u64);

impl Fingerprint {
    fn add(&mut self, bytes: &[u8]) {
        if self.0 == 0 {
            self.0 = 0xcbf2_9ce4_8422_2325;
        }
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
