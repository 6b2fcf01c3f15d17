//! What is parsed: the serde shapes of the edge config, every table with
//! unknown fields refused, and their defaults. Nothing here is checked
//! beyond types; `build` validates and compiles them into [`EdgeConfig`].
//!
//! [`EdgeConfig`]: super::EdgeConfig

use serde::Deserialize;

use super::{Access, EmptyUserAgent, Forwarded, Preflight, Step, TokenSource, UnverifiedClaim};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) pipeline: Option<Vec<Step>>,
    #[serde(default)]
    pub(super) jwt: Option<RawIssuer>,
    #[serde(default)]
    pub(super) issuers: Vec<RawIssuer>,
    #[serde(default)]
    pub(super) bots: RawBots,
    #[serde(default)]
    pub(super) rate_limit: RawRate,
    #[serde(default)]
    pub(super) tokens: RawTokens,
    #[serde(default)]
    pub(super) cors: RawCors,
    #[serde(default)]
    pub(super) responses: RawResponses,
    #[serde(default)]
    pub(super) paths: Vec<RawPath>,
    #[serde(default)]
    pub(super) uri: RawUri,
    #[serde(default)]
    pub(super) logging: RawLogging,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLogging {
    #[serde(default)]
    pub(super) forwarded: Forwarded,
    #[serde(default = "default_sample_every")]
    pub(super) sample_every: u32,
    #[serde(default = "default_flush_seconds")]
    pub(super) flush_seconds: u64,
}

impl Default for RawLogging {
    fn default() -> Self {
        RawLogging {
            forwarded: Forwarded::default(),
            sample_every: default_sample_every(),
            flush_seconds: default_flush_seconds(),
        }
    }
}

pub(super) fn default_sample_every() -> u32 {
    100
}
pub(super) fn default_flush_seconds() -> u64 {
    60
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUri {
    #[serde(default)]
    pub(super) allow_encoded_slash: Vec<String>,
    #[serde(default)]
    pub(super) allow_empty_segments: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIssuer {
    pub(super) issuer: String,
    pub(super) audience: OneOrMany,
    pub(super) algorithms: Vec<String>,
    #[serde(default = "default_leeway")]
    pub(super) leeway_seconds: u64,
    #[serde(default)]
    pub(super) jwks_file: Option<String>,
    #[serde(default)]
    pub(super) hmac_secret: Option<String>,
    #[serde(default)]
    pub(super) max_age_seconds: Option<u64>,
    #[serde(default)]
    pub(super) required_claims: Vec<String>,
    #[serde(default)]
    pub(super) jwks_url: Option<String>,
    #[serde(default = "default_jwks_cache")]
    pub(super) jwks_cache_seconds: u64,
    #[serde(default = "default_jwks_min_refresh")]
    pub(super) jwks_min_refresh_seconds: u64,
    #[serde(default = "default_jwks_timeout")]
    pub(super) jwks_timeout_ms: u64,
    #[serde(default = "default_jwks_max_bytes")]
    pub(super) jwks_max_bytes: u64,
    #[serde(default = "default_jwks_max_stale")]
    pub(super) jwks_max_stale_seconds: u64,
    #[serde(default)]
    pub(super) typ: Option<Vec<String>>,
}

pub(super) fn default_jwks_max_bytes() -> u64 {
    65_536
}
pub(super) fn default_jwks_max_stale() -> u64 {
    86_400
}

pub(super) fn default_jwks_cache() -> u64 {
    600
}
pub(super) fn default_jwks_min_refresh() -> u64 {
    60
}
pub(super) fn default_jwks_timeout() -> u64 {
    1500
}

pub(super) fn default_leeway() -> u64 {
    30
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBots {
    #[serde(default = "default_true")]
    pub(super) enabled: bool,
    #[serde(default)]
    pub(super) empty_user_agent: EmptyUserAgent,
    #[serde(default = "default_bot_rpm")]
    pub(super) rate_limit_per_minute: u32,
    #[serde(default = "default_bot_burst")]
    pub(super) rate_limit_burst: u32,
    #[serde(default)]
    pub(super) unverified_claim: UnverifiedClaim,
    #[serde(default = "default_signature_leeway")]
    pub(super) signature_leeway_seconds: i64,
    #[serde(default = "default_signature_validity")]
    pub(super) signature_max_validity_seconds: i64,
    #[serde(default)]
    pub(super) signed_agents: Vec<RawSignedAgent>,
}

/// One `[[bots.signed_agents]]`: a Web Bot Auth agent and its key directory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSignedAgent {
    pub(super) name: String,
    pub(super) agent: String,
    #[serde(default)]
    pub(super) directory: Option<String>,
    pub(super) keys: Vec<crate::webbotauth::DirectoryJwk>,
    #[serde(default)]
    pub(super) signatures: Vec<String>,
}

pub(super) fn default_signature_leeway() -> i64 {
    30
}
pub(super) fn default_signature_validity() -> i64 {
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

pub(super) fn default_true() -> bool {
    true
}
pub(super) fn default_bot_rpm() -> u32 {
    60
}
pub(super) fn default_bot_burst() -> u32 {
    10
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRate {
    #[serde(default = "default_true")]
    pub(super) enabled: bool,
    #[serde(default = "default_rps")]
    pub(super) requests_per_second: f64,
    #[serde(default = "default_burst")]
    pub(super) burst: u32,
    #[serde(default = "default_max_clients")]
    pub(super) max_clients: usize,
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

pub(super) fn default_rps() -> f64 {
    20.0
}
pub(super) fn default_burst() -> u32 {
    100
}
pub(super) fn default_max_clients() -> usize {
    10_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTokens {
    #[serde(default = "default_sources")]
    pub(super) sources: Vec<TokenSource>,
    #[serde(default = "default_cookie")]
    pub(super) cookie_name: String,
    #[serde(default = "default_query")]
    pub(super) query_param: String,
    #[serde(default = "default_cache")]
    pub(super) cache_entries: usize,
    #[serde(default = "default_true")]
    pub(super) strip_before_origin: bool,
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

pub(super) fn default_sources() -> Vec<TokenSource> {
    vec![
        TokenSource::Authorization,
        TokenSource::Cookie,
        TokenSource::Query,
    ]
}
pub(super) fn default_cookie() -> String {
    "access_token".into()
}
pub(super) fn default_query() -> String {
    "token".into()
}
pub(super) fn default_cache() -> usize {
    1024
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCors {
    #[serde(default)]
    pub(super) preflight: Preflight,
    #[serde(default)]
    pub(super) allow_origins: Vec<String>,
    #[serde(default)]
    pub(super) allow_headers: Vec<String>,
    #[serde(default)]
    pub(super) allow_methods: Vec<String>,
    #[serde(default)]
    pub(super) max_age_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawResponses {
    #[serde(default = "default_realm")]
    pub(super) realm: String,
    #[serde(default)]
    pub(super) login_url: Option<String>,
}

impl Default for RawResponses {
    fn default() -> Self {
        RawResponses {
            realm: default_realm(),
            login_url: None,
        }
    }
}

pub(super) fn default_realm() -> String {
    "edge".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPath {
    #[serde(default)]
    pub(super) prefix: Option<String>,
    #[serde(default)]
    pub(super) glob: Option<String>,
    pub(super) access: Access,
    #[serde(default)]
    pub(super) require_scope: Vec<String>,
    #[serde(default)]
    pub(super) path_claim: Option<String>,
    #[serde(default)]
    pub(super) sub_prefix: Option<String>,
}
