//! The edge configuration: TOML, every table with unknown fields refused,
//! validated at load with precise errors. Files the config names (the JWK Set)
//! are read through a callback, so this module does no I/O itself: the CLI
//! and `cargo xtask dist` read the disk.
//!
//! Four parts: `raw` is what is parsed (serde shapes and defaults),
//! `build` what is validated (one function per table, each refusal a typed
//! [`ConfigError`] with its key path and line), both native only (feature
//! `toml`); this module the compiled policy the core reads ([`EdgeConfig`]);
//! and `baked` that policy in the binary form the bundle carries, which is
//! all the wasm reads ([`EdgeConfig::from_baked`]).
//!
//! The `[jwt]` table of DESIGN.md is the one-issuer form; `[[issuers]]` lists
//! several (one of the two, not both).

use serde::Deserialize;

use crate::jwt::{Issuer, RemoteJwks};
use crate::keys::KeySet;
use crate::policy::Glob;
use crate::uri::UriPolicy;

mod baked;
#[cfg(feature = "toml")]
mod build;
mod error;
#[cfg(feature = "toml")]
pub mod raw;

pub use baked::{BakedError, MAGIC as BAKED_MAGIC};
pub use error::{ConfigError, ConfigErrorKind};

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

/// One step of the decision pipeline (`pipeline = ["bots", "rate_limit", "auth"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The bot-signature filter.
    Bots,
    /// The per-client rate limit.
    RateLimit,
    /// Path policy and token verification.
    Auth,
}

/// Where to look for a token (`tokens.sources = ["authorization", "cookie", "query"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`.
    Authorization,
    /// The cookie `tokens.cookie_name`.
    Cookie,
    /// The query parameter `tokens.query_param` (removed before forwarding).
    Query,
}

/// What the handler logs for a request it forwards (`[logging] forwarded`).
/// A refusal (any generated response) always gets its full record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Forwarded {
    /// A full record for every forwarded request (about 400 bytes each).
    All,
    /// No record per forwarded request: exact counts per reason, bot category
    /// and claim, aggregated per instance and written as CloudWatch EMF
    /// records at most every `flush_seconds`.
    #[default]
    Count,
    /// The counts of `count`, plus a full record (without metrics, marked
    /// `sampled`) for one forwarded request in `sample_every`.
    Sample,
}

/// The logging policy (`[logging]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logging {
    /// What forwarded requests log.
    pub forwarded: Forwarded,
    /// With [`Forwarded::Sample`]: one full record per this many forwarded requests.
    pub sample_every: u32,
    /// Counts are written when this many milliseconds have passed since the
    /// last write (checked on each request: a frozen instance writes nothing).
    pub flush_ms: u64,
}

impl Default for Logging {
    fn default() -> Self {
        Logging {
            forwarded: Forwarded::default(),
            sample_every: 100,
            flush_ms: 60_000,
        }
    }
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
    /// Trusted issuers (read through [`EdgeConfig::issuers`]: their keys
    /// change only through [`EdgeConfig::set_remote_keys`], which keeps the
    /// fingerprint in step).
    issuers: Vec<Issuer>,
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
    /// What is logged for forwarded requests.
    pub logging: Logging,
    /// Warnings about the key sets (skipped keys); never key material.
    pub warnings: Vec<String>,
    /// Changes whenever the keys change ([`EdgeConfig::keys_fingerprint`]).
    keys_fingerprint: u64,
    /// The fingerprint of the baked keys alone.
    baked_fingerprint: u64,
}

impl EdgeConfig {
    /// Parses and validates `toml_text`. `read_file` returns the contents of a
    /// file the config names (e.g. `jwks_file`), relative to the config file.
    #[cfg(feature = "toml")]
    pub fn parse(
        toml_text: &str,
        read_file: impl FnMut(&str) -> Result<String, String>,
    ) -> Result<EdgeConfig, ConfigError> {
        let raw: raw::RawConfig =
            toml::from_str(toml_text).map_err(|e| ConfigError::syntax(e.to_string().trim_end()))?;
        build::from_raw(raw, read_file).map_err(|e| e.located(toml_text))
    }
}

impl EdgeConfig {
    /// The trusted issuers, in config order.
    pub fn issuers(&self) -> &[Issuer] {
        &self.issuers
    }

    /// Changes whenever the keys change (baked or fetched); the token cache
    /// is cleared on a change.
    pub fn keys_fingerprint(&self) -> u64 {
        self.keys_fingerprint
    }

    /// Whether any issuer's keys are fetched at run time ([`Self::remote_jwks`]).
    pub fn has_remote_jwks(&self) -> bool {
        self.issuers.iter().any(|x| x.remote.is_some())
    }

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
        let key = format!("issuers[{index}].jwks_url");
        let issuer = self.issuers.get_mut(index).ok_or_else(|| {
            ConfigError::new(
                ConfigErrorKind::Missing,
                &key,
                format!("no issuer #{index}"),
            )
        })?;
        if issuer.remote.is_none() {
            return Err(ConfigError::new(
                ConfigErrorKind::Missing,
                &key,
                format!("issuer {:?} has no jwks_url", issuer.issuer),
            ));
        }
        let set = KeySet::parse(jwks).map_err(|e| {
            ConfigError::new(
                ConfigErrorKind::File,
                &key,
                format!("issuer {:?}: fetched JWK Set: {e}", issuer.issuer),
            )
        })?;
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

#[cfg(test)]
#[cfg(feature = "toml")]
mod tests {
    use super::{EdgeConfig, Fingerprint};

    /// The demo's ES256 key, baked as `jwks_file`.
    const BAKED: &str = include_str!("../../../../examples/demo/jwks.json");

    /// An ES256 issuer with the demo key baked and a `jwks_url`.
    fn config(baked: &str) -> EdgeConfig {
        let text = "[jwt]\nissuer = \"https://i.test\"\naudience = \"a\"\nalgorithms = [\"ES256\"]\njwks_file = \"jwks.json\"\njwks_url = \"https://keys.example/jwks.json\"\n";
        EdgeConfig::parse(text, |_| Ok(baked.to_owned())).unwrap()
    }

    /// The first issuer's key ids, in order.
    fn kids(cfg: &EdgeConfig) -> Vec<Option<&str>> {
        cfg.issuers()[0]
            .keys
            .iter()
            .map(|k| k.kid.as_deref())
            .collect()
    }

    /// The demo key under another `kid`.
    fn renamed(kid: &str) -> String {
        BAKED.replace("demo-es256-1", kid)
    }

    #[test]
    fn fingerprints_are_fnv1a() {
        // FNV-1a 64 of "a" and of "foobar", from the FNV reference vectors.
        let mut f = Fingerprint::default();
        f.add(b"a");
        assert_eq!(f.0, 0xaf63_dc4c_8601_ec8c);
        let mut f = Fingerprint::default();
        f.add(b"foo");
        f.add(b"bar");
        assert_eq!(f.0, 0x8594_4171_f739_67e8, "added in parts, as one input");
    }

    #[test]
    fn fetched_keys_join_the_baked_ones_except_a_baked_kid() {
        let mut cfg = config(BAKED);
        let baked_only = cfg.keys_fingerprint();
        let fetched = format!(
            "{{\"keys\": [{}, {}]}}",
            serde_json::from_str::<serde_json::Value>(&renamed("fetched-1")).unwrap()["keys"][0],
            serde_json::from_str::<serde_json::Value>(BAKED).unwrap()["keys"][0],
        );
        let warnings = cfg.set_remote_keys(0, &fetched).unwrap();
        assert_eq!(kids(&cfg), [Some("demo-es256-1"), Some("fetched-1")]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("a baked key has that kid"));
        assert_ne!(cfg.keys_fingerprint(), baked_only);
        // A refetch replaces the fetched keys, never adds to them.
        cfg.set_remote_keys(0, &renamed("fetched-2")).unwrap();
        assert_eq!(kids(&cfg), [Some("demo-es256-1"), Some("fetched-2")]);
    }

    #[test]
    fn the_fingerprint_covers_baked_keys_issuer_and_fetched_set() {
        let fetched = renamed("fetched-1");
        let mut a = config(BAKED);
        let mut b = config(&renamed("other-baked"));
        assert_ne!(a.keys_fingerprint(), b.keys_fingerprint());
        a.set_remote_keys(0, &fetched).unwrap();
        b.set_remote_keys(0, &fetched).unwrap();
        assert_ne!(
            a.keys_fingerprint(),
            b.keys_fingerprint(),
            "the same fetch on other baked keys"
        );
        let first = a.keys_fingerprint();
        a.set_remote_keys(0, &renamed("fetched-2")).unwrap();
        assert_ne!(a.keys_fingerprint(), first);
        a.set_remote_keys(0, &fetched).unwrap();
        assert_eq!(a.keys_fingerprint(), first, "the same keys, the same print");
    }
}
