//! The bundle's config: a validated [`EdgeConfig`] in a compact binary form.
//!
//! `cargo xtask dist` parses and validates the TOML natively
//! ([`EdgeConfig::parse`]) and writes [`EdgeConfig::to_baked`]; the wasm reads
//! it back with [`EdgeConfig::from_baked`]. A cold Lambda@Edge instance then
//! runs no TOML or JSON parser, no JWK Set parsing, no base64 and no SHA-256
//! for the config: V8 compiles each wasm function on its first call, and the
//! serde code of the config was the largest part of what a cold start
//! compiled (`bench/cold-steps.cjs`).
//!
//! Layout: [`MAGIC`], then every field in declaration order. Integers are
//! little-endian (`u32` for counts and lengths, `u64`/`i64`/`f64` for values),
//! strings and byte strings a `u32` length and their bytes, an `Option` a
//! `0`/`1` byte and the value, a list a `u32` count and its items, an enum a
//! one-byte code. Key material is stored as `jsonwebtoken` holds it (an EC
//! point, an Ed25519 key, an RSA modulus and exponent, an HMAC secret).
//!
//! The reader trusts nothing: every read is bounds-checked, every count is
//! checked against the bytes left, every string is UTF-8 checked, every code is
//! known, and the invariants the native validation guarantees and the decision
//! relies on (`auth` in the pipeline, each step and token source once, key
//! material the shape its kind says, compilable globs, sane rates) are checked
//! again. A corrupt or truncated config is an error, never a partial config.
//!
//! Writer and reader destructure every struct without `..`: a field added to
//! the config and not baked does not compile.

use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};

use super::{
    Access, EdgeConfig, EmptyUserAgent, Forwarded, Logging, PathMatch, PathRule, Preflight, Rate,
    Step, TokenSource, UnverifiedClaim,
};
use crate::jwt::{Issuer, RemoteJwks};
use crate::keys::{KeyKind, MIN_HMAC_BYTES, MIN_RSA_BITS, VerifyKey, modulus_bits};
use crate::policy::Glob;
use crate::uri::UriPolicy;
use crate::webbotauth::{AgentKey, SignedAgent, Window};

/// The first bytes of a baked config: a name and the layout version.
pub const MAGIC: &[u8; 8] = b"EDGECFG\x01";

/// Why baked bytes are not a config: where, and what was wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("baked config: {what} at byte {offset}; rebuild the bundle with `cargo xtask dist`")]
pub struct BakedError {
    /// Byte offset in the baked config.
    pub offset: usize,
    /// What was expected there.
    pub what: &'static str,
}

/// Algorithms by their one-byte code (the index).
const ALGORITHMS: [Algorithm; 12] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::EdDSA,
];
const STEPS: [Step; 3] = [Step::Bots, Step::RateLimit, Step::Auth];
const SOURCES: [TokenSource; 3] = [
    TokenSource::Authorization,
    TokenSource::Cookie,
    TokenSource::Query,
];
const EMPTY_UA: [EmptyUserAgent; 2] = [EmptyUserAgent::Block, EmptyUserAgent::Allow];
const UNVERIFIED: [UnverifiedClaim; 2] = [UnverifiedClaim::Block, UnverifiedClaim::Ignore];
const PREFLIGHT: [Preflight; 2] = [Preflight::Forward, Preflight::Respond];
const ACCESS: [Access; 2] = [Access::Public, Access::Token];
const FORWARDED: [Forwarded; 3] = [Forwarded::All, Forwarded::Count, Forwarded::Sample];

/// The code of `value` in `table`; a value missing from its table would be
/// written as 255, which the reader refuses (the round-trip tests cover
/// every value).
fn code<T: PartialEq>(table: &[T], value: &T) -> u8 {
    table
        .iter()
        .position(|t| t == value)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(u8::MAX)
}

/// Key kinds' codes; RSA carries its modulus size after the code.
const KIND_RSA: u8 = 0;
const KIND_P256: u8 = 1;
const KIND_P384: u8 = 2;
const KIND_ED25519: u8 = 3;
const KIND_HMAC: u8 = 4;

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }
    /// A count or length (a config never holds 4 GiB: one that did would be
    /// written as a count the reader refuses).
    fn u32(&mut self, v: usize) {
        let v = u32::try_from(v).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len());
        self.0.extend_from_slice(v);
    }
    fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
    fn opt<T>(&mut self, v: Option<&T>, each: impl FnOnce(&mut Self, &T)) {
        self.bool(v.is_some());
        if let Some(v) = v {
            each(self, v);
        }
    }
    fn list<T>(&mut self, v: &[T], mut each: impl FnMut(&mut Self, &T)) {
        self.u32(v.len());
        for item in v {
            each(self, item);
        }
    }
    fn strs(&mut self, v: &[String]) {
        self.list(v, |w, s| w.str(s));
    }
    fn opt_str(&mut self, v: Option<&String>) {
        self.opt(v, |w, s| w.str(s));
    }
    fn opt_u64(&mut self, v: Option<u64>) {
        self.opt(v.as_ref(), |w, n| w.u64(*n));
    }
    fn rate(&mut self, r: &Rate) {
        let Rate { per_second, burst } = *r;
        self.f64(per_second);
        self.u32(burst as usize);
    }
    fn key_material(&mut self, key: &DecodingKey) {
        match key.kind() {
            DecodingKeyKind::SecretOrDer(b) => self.bytes(b),
            DecodingKeyKind::RsaModulusExponent { n, e } => {
                self.bytes(n);
                self.bytes(e);
            }
        }
    }
    fn verify_key(&mut self, k: &VerifyKey) {
        let VerifyKey {
            kid,
            kind,
            alg,
            key,
        } = k;
        self.opt_str(kid.as_ref());
        match kind {
            KeyKind::Rsa { bits } => {
                self.u8(KIND_RSA);
                self.u32(*bits);
            }
            KeyKind::P256 => self.u8(KIND_P256),
            KeyKind::P384 => self.u8(KIND_P384),
            KeyKind::Ed25519 => self.u8(KIND_ED25519),
            KeyKind::Hmac => self.u8(KIND_HMAC),
        }
        self.opt(alg.as_ref(), |w, a| w.u8(code(&ALGORITHMS, a)));
        self.key_material(key);
    }
    fn issuer(&mut self, i: &Issuer) {
        let Issuer {
            issuer,
            typ,
            audiences,
            algorithms,
            leeway_s,
            max_age_s,
            required_claims,
            keys,
            hmac,
            baked_keys,
            remote,
        } = i;
        self.str(issuer);
        self.opt(typ.as_ref(), |w, t| w.strs(t));
        self.strs(audiences);
        self.list(algorithms, |w, a| w.u8(code(&ALGORITHMS, a)));
        self.u64(*leeway_s);
        self.opt_u64(*max_age_s);
        self.strs(required_claims);
        self.list(keys, Self::verify_key);
        self.opt(hmac.as_ref(), Self::verify_key);
        self.u32(*baked_keys);
        self.opt(remote.as_ref(), |w, r| {
            let RemoteJwks {
                url,
                cache_s,
                min_refresh_s,
                timeout_ms,
                max_bytes,
                max_stale_s,
            } = r;
            w.str(url);
            for v in [cache_s, min_refresh_s, timeout_ms, max_bytes, max_stale_s] {
                w.u64(*v);
            }
        });
    }
    fn signed_agent(&mut self, a: &SignedAgent) {
        let SignedAgent {
            name,
            agent,
            keys,
            signatures,
        } = a;
        self.str(name);
        self.str(agent);
        self.list(keys, |w, k| {
            w.str(&k.thumbprint);
            w.key_material(k.decoding_key());
        });
        self.strs(signatures);
    }
    fn path_rule(&mut self, p: &PathRule) {
        let PathRule {
            matcher,
            access,
            require_scope,
            path_claim,
            sub_prefix,
        } = p;
        match matcher {
            PathMatch::Prefix(s) => {
                self.u8(0);
                self.str(s);
            }
            PathMatch::Glob(g) => {
                self.u8(1);
                self.str(g.as_str());
            }
        }
        self.u8(code(&ACCESS, access));
        self.strs(require_scope);
        self.opt_str(path_claim.as_ref());
        self.opt_str(sub_prefix.as_ref());
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

type Read<T> = Result<T, BakedError>;

impl<'a> Reader<'a> {
    fn fail<T>(&self, what: &'static str) -> Read<T> {
        Err(BakedError {
            offset: self.at,
            what,
        })
    }
    fn take(&mut self, n: usize, what: &'static str) -> Read<&'a [u8]> {
        let Some(b) = self
            .at
            .checked_add(n)
            .and_then(|end| self.bytes.get(self.at..end))
        else {
            return self.fail(what);
        };
        self.at += n;
        Ok(b)
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Read<[u8; N]> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    fn u8(&mut self, what: &'static str) -> Read<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    fn bool(&mut self, what: &'static str) -> Read<bool> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => {
                self.at -= 1;
                self.fail(what)
            }
        }
    }
    fn u32(&mut self, what: &'static str) -> Read<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn len(&mut self, what: &'static str) -> Read<usize> {
        Ok(self.u32(what)? as usize)
    }
    fn u64(&mut self, what: &'static str) -> Read<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn i64(&mut self, what: &'static str) -> Read<i64> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }
    fn f64(&mut self, what: &'static str) -> Read<f64> {
        Ok(f64::from_le_bytes(self.array(what)?))
    }
    fn usize(&mut self, what: &'static str) -> Read<usize> {
        let at = self.at;
        let v = self.u64(what)?;
        usize::try_from(v).or(Err(BakedError { offset: at, what }))
    }
    /// A count of items at least `min_size` bytes each: refused when the rest
    /// could not hold them (no huge allocation on a corrupt count).
    fn count(&mut self, min_size: usize, what: &'static str) -> Read<usize> {
        let n = self.len(what)?;
        if n.saturating_mul(min_size) > self.bytes.len() - self.at {
            self.at -= 4;
            return self.fail(what);
        }
        Ok(n)
    }
    fn bytes(&mut self, what: &'static str) -> Read<&'a [u8]> {
        let n = self.count(1, what)?;
        self.take(n, what)
    }
    fn str(&mut self, what: &'static str) -> Read<String> {
        let at = self.at;
        let b = self.bytes(what)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(BakedError { offset: at, what }),
        }
    }
    fn opt<T>(
        &mut self,
        what: &'static str,
        each: impl FnOnce(&mut Self) -> Read<T>,
    ) -> Read<Option<T>> {
        if self.bool(what)? {
            each(self).map(Some)
        } else {
            Ok(None)
        }
    }
    fn list<T>(
        &mut self,
        min_size: usize,
        what: &'static str,
        mut each: impl FnMut(&mut Self) -> Read<T>,
    ) -> Read<Vec<T>> {
        let n = self.count(min_size, what)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(each(self)?);
        }
        Ok(out)
    }
    fn strs(&mut self, what: &'static str) -> Read<Vec<String>> {
        self.list(4, what, |r| r.str(what))
    }
    fn opt_str(&mut self, what: &'static str) -> Read<Option<String>> {
        self.opt(what, |r| r.str(what))
    }
    fn opt_u64(&mut self, what: &'static str) -> Read<Option<u64>> {
        self.opt(what, |r| r.u64(what))
    }
    fn code<T: Copy>(&mut self, table: &[T], what: &'static str) -> Read<T> {
        let c = self.u8(what)?;
        match table.get(c as usize) {
            Some(v) => Ok(*v),
            None => {
                self.at -= 1;
                self.fail(what)
            }
        }
    }
    /// A list of enum codes, each value at most once.
    fn codes<T: Copy + PartialEq>(&mut self, table: &[T], what: &'static str) -> Read<Vec<T>> {
        let start = self.at;
        let out = self.list(1, what, |r| r.code(table, what))?;
        if out.iter().enumerate().any(|(i, v)| out[..i].contains(v)) {
            return Err(BakedError {
                offset: start,
                what,
            });
        }
        Ok(out)
    }
    fn rate(&mut self, what: &'static str) -> Read<Rate> {
        let at = self.at;
        let per_second = self.f64(what)?;
        let burst = self.u32(what)?;
        if !(per_second.is_finite() && per_second > 0.0 && burst >= 1) {
            return Err(BakedError { offset: at, what });
        }
        Ok(Rate { per_second, burst })
    }
    fn verify_key(&mut self) -> Read<VerifyKey> {
        const WHAT: &str = "a verification key";
        let kid = self.opt_str("a key's kid")?;
        let kind = match self.u8(WHAT)? {
            KIND_RSA => KeyKind::Rsa {
                bits: self.len(WHAT)?,
            },
            KIND_P256 => KeyKind::P256,
            KIND_P384 => KeyKind::P384,
            KIND_ED25519 => KeyKind::Ed25519,
            KIND_HMAC => KeyKind::Hmac,
            _ => {
                self.at -= 1;
                return self.fail("an unknown key kind");
            }
        };
        let alg = self.opt("a key's alg", |r| r.code(&ALGORITHMS, "a key's alg"))?;
        if alg.is_some_and(|a| !kind.verifies(a)) {
            return self.fail("a key's alg its kind does not verify");
        }
        let at = self.at;
        let bad = BakedError {
            offset: at,
            what: "key material of the wrong shape for its kind",
        };
        let key = match kind {
            KeyKind::Rsa { bits } => {
                let n = self.bytes(WHAT)?;
                let e = self.bytes(WHAT)?;
                if bits < MIN_RSA_BITS || modulus_bits(n) != bits || e.is_empty() {
                    return Err(bad);
                }
                DecodingKey::from_rsa_raw_components(n, e)
            }
            KeyKind::P256 | KeyKind::P384 => {
                let point = self.bytes(WHAT)?;
                let len = if kind == KeyKind::P256 { 32 } else { 48 };
                if point.len() != 1 + 2 * len || point[0] != 4 {
                    return Err(bad);
                }
                DecodingKey::from_ec_der(point)
            }
            KeyKind::Ed25519 => {
                let x = self.bytes(WHAT)?;
                if x.len() != 32 {
                    return Err(bad);
                }
                DecodingKey::from_ed_der(x)
            }
            KeyKind::Hmac => {
                let secret = self.bytes(WHAT)?;
                if secret.len() < MIN_HMAC_BYTES {
                    return Err(bad);
                }
                DecodingKey::from_secret(secret)
            }
        };
        Ok(VerifyKey {
            kid,
            kind,
            alg,
            key,
        })
    }
    fn issuer(&mut self) -> Read<Issuer> {
        let issuer = self.str("an issuer")?;
        let typ = self.opt("an issuer's typ", |r| r.strs("an issuer's typ"))?;
        let audiences = self.strs("an issuer's audiences")?;
        let algorithms = self.codes(&ALGORITHMS, "an issuer's algorithms")?;
        let leeway_s = self.u64("an issuer's leeway")?;
        let max_age_s = self.opt_u64("an issuer's max age")?;
        let required_claims = self.strs("an issuer's required claims")?;
        let keys = self.list(7, "an issuer's keys", Self::verify_key)?;
        let hmac = self.opt("an issuer's HMAC key", Self::verify_key)?;
        if hmac.as_ref().is_some_and(|k| k.kind != KeyKind::Hmac)
            || keys.iter().any(|k| k.kind == KeyKind::Hmac)
        {
            return self.fail("an HMAC key out of its place");
        }
        let baked_keys = self.len("an issuer's baked key count")?;
        if baked_keys > keys.len() {
            return self.fail("an issuer's baked key count");
        }
        let remote = self.opt("an issuer's remote JWK Set", |r| {
            const WHAT: &str = "an issuer's remote JWK Set";
            Ok(RemoteJwks {
                url: r.str(WHAT)?,
                cache_s: r.u64(WHAT)?,
                min_refresh_s: r.u64(WHAT)?,
                timeout_ms: r.u64(WHAT)?,
                max_bytes: r.u64(WHAT)?,
                max_stale_s: r.u64(WHAT)?,
            })
        })?;
        Ok(Issuer {
            issuer,
            typ,
            audiences,
            algorithms,
            leeway_s,
            max_age_s,
            required_claims,
            keys,
            hmac,
            baked_keys,
            remote,
        })
    }
    fn signed_agent(&mut self) -> Read<SignedAgent> {
        const WHAT: &str = "a signed agent";
        let name = self.str(WHAT)?;
        let agent = self.str(WHAT)?;
        let keys = self.list(8, "a signed agent's keys", |r| {
            let thumbprint = r.str("a signed agent's key")?;
            let at = r.at;
            let x = r.bytes("a signed agent's key")?;
            if x.len() != 32 {
                return Err(BakedError {
                    offset: at,
                    what: "a signed agent's key is not 32 bytes",
                });
            }
            Ok(AgentKey::from_parts(
                thumbprint,
                DecodingKey::from_ed_der(x),
            ))
        })?;
        let signatures = self.strs("a signed agent's signatures")?;
        Ok(SignedAgent {
            name,
            agent,
            keys,
            signatures,
        })
    }
    fn path_rule(&mut self) -> Read<PathRule> {
        const WHAT: &str = "a path rule";
        let matcher = match self.u8(WHAT)? {
            0 => PathMatch::Prefix(self.str(WHAT)?),
            1 => {
                let at = self.at;
                let pattern = self.str(WHAT)?;
                PathMatch::Glob(Glob::new(&pattern).or(Err(BakedError {
                    offset: at,
                    what: "a path rule's glob",
                }))?)
            }
            _ => {
                self.at -= 1;
                return self.fail("an unknown path match");
            }
        };
        Ok(PathRule {
            matcher,
            access: self.code(&ACCESS, WHAT)?,
            require_scope: self.strs(WHAT)?,
            path_claim: self.opt_str(WHAT)?,
            sub_prefix: self.opt_str(WHAT)?,
        })
    }
}

impl EdgeConfig {
    /// This config as the bundle bakes it (see the module docs).
    pub fn to_baked(&self) -> Vec<u8> {
        let EdgeConfig {
            pipeline,
            issuers,
            bots_enabled,
            empty_user_agent,
            unverified_claim,
            signed_agents,
            signature_window,
            bot_rate,
            rate,
            max_clients,
            token_sources,
            cookie_name,
            query_param,
            strip_before_origin,
            uri,
            cache_entries,
            preflight,
            allow_origins,
            allow_headers,
            allow_methods,
            preflight_max_age_s,
            realm,
            login_url,
            paths,
            logging,
            warnings,
            keys_fingerprint,
            baked_fingerprint,
        } = self;
        let mut w = Writer(MAGIC.to_vec());
        w.list(pipeline, |w, s| w.u8(code(&STEPS, s)));
        w.list(issuers, Writer::issuer);
        w.bool(*bots_enabled);
        w.u8(code(&EMPTY_UA, empty_user_agent));
        w.u8(code(&UNVERIFIED, unverified_claim));
        w.list(signed_agents, Writer::signed_agent);
        let Window {
            leeway_s,
            max_validity_s,
        } = *signature_window;
        w.i64(leeway_s);
        w.i64(max_validity_s);
        w.rate(bot_rate);
        w.opt(rate.as_ref(), Writer::rate);
        w.u64(*max_clients as u64);
        w.list(token_sources, |w, s| w.u8(code(&SOURCES, s)));
        w.str(cookie_name);
        w.str(query_param);
        w.bool(*strip_before_origin);
        let UriPolicy {
            allow_encoded_slash,
            allow_empty_segments,
        } = uri;
        w.strs(allow_encoded_slash);
        w.strs(allow_empty_segments);
        w.u64(*cache_entries as u64);
        w.u8(code(&PREFLIGHT, preflight));
        w.strs(allow_origins);
        w.strs(allow_headers);
        w.strs(allow_methods);
        w.opt_u64(*preflight_max_age_s);
        w.str(realm);
        w.opt_str(login_url.as_ref());
        w.list(paths, Writer::path_rule);
        let Logging {
            forwarded,
            sample_every,
            flush_ms,
        } = *logging;
        w.u8(code(&FORWARDED, &forwarded));
        w.u32(sample_every as usize);
        w.u64(flush_ms);
        w.strs(warnings);
        w.u64(*keys_fingerprint);
        w.u64(*baked_fingerprint);
        w.0
    }

    /// Reads a config written by [`EdgeConfig::to_baked`]; corrupt or
    /// truncated bytes are an error naming the byte.
    pub fn from_baked(bytes: &[u8]) -> Result<EdgeConfig, BakedError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(MAGIC.len(), "not a baked config (bad magic)")? != MAGIC {
            return Err(BakedError {
                offset: 0,
                what: "not a baked config of this version (bad magic)",
            });
        }
        let pipeline = r.codes(&STEPS, "the pipeline")?;
        if !pipeline.contains(&Step::Auth) {
            return r.fail("a pipeline without auth");
        }
        let issuers = r.list(4, "the issuers", Reader::issuer)?;
        let bots_enabled = r.bool("bots.enabled")?;
        let empty_user_agent = r.code(&EMPTY_UA, "bots.empty_user_agent")?;
        let unverified_claim = r.code(&UNVERIFIED, "bots.unverified_claim")?;
        let signed_agents = r.list(4, "the signed agents", Reader::signed_agent)?;
        let signature_window = Window {
            leeway_s: r.i64("the signature window")?,
            max_validity_s: r.i64("the signature window")?,
        };
        let bot_rate = r.rate("the bot rate")?;
        let rate = r.opt("the rate limit", |r| r.rate("the rate limit"))?;
        let max_clients = r.usize("rate_limit.max_clients")?;
        if max_clients == 0 {
            return r.fail("rate_limit.max_clients");
        }
        let token_sources = r.codes(&SOURCES, "tokens.sources")?;
        if token_sources.is_empty() {
            return r.fail("tokens.sources");
        }
        let cookie_name = r.str("tokens.cookie_name")?;
        let query_param = r.str("tokens.query_param")?;
        let strip_before_origin = r.bool("tokens.strip_before_origin")?;
        let uri = UriPolicy {
            allow_encoded_slash: r.strs("uri.allow_encoded_slash")?,
            allow_empty_segments: r.strs("uri.allow_empty_segments")?,
        };
        let cache_entries = r.usize("tokens.cache_entries")?;
        let preflight = r.code(&PREFLIGHT, "cors.preflight")?;
        let allow_origins = r.strs("cors.allow_origins")?;
        let allow_headers = r.strs("cors.allow_headers")?;
        let allow_methods = r.strs("cors.allow_methods")?;
        let preflight_max_age_s = r.opt_u64("cors.max_age_seconds")?;
        let realm = r.str("responses.realm")?;
        let login_url = r.opt_str("responses.login_url")?;
        let paths = r.list(5, "the paths", Reader::path_rule)?;
        let logging = Logging {
            forwarded: r.code(&FORWARDED, "logging.forwarded")?,
            sample_every: r.u32("logging.sample_every")?,
            flush_ms: r.u64("logging.flush_seconds")?,
        };
        if logging.sample_every == 0 || logging.flush_ms == 0 {
            return r.fail("logging");
        }
        let warnings = r.strs("the warnings")?;
        let keys_fingerprint = r.u64("the key fingerprint")?;
        let baked_fingerprint = r.u64("the key fingerprint")?;
        if r.at != bytes.len() {
            return r.fail("trailing bytes");
        }
        Ok(EdgeConfig {
            pipeline,
            issuers,
            bots_enabled,
            empty_user_agent,
            unverified_claim,
            signed_agents,
            signature_window,
            bot_rate,
            rate,
            max_clients,
            token_sources,
            cookie_name,
            query_param,
            strip_before_origin,
            uri,
            cache_entries,
            preflight,
            allow_origins,
            allow_headers,
            allow_methods,
            preflight_max_age_s,
            realm,
            login_url,
            paths,
            logging,
            warnings,
            keys_fingerprint,
            baked_fingerprint,
        })
    }
}

#[cfg(test)]
#[cfg(feature = "toml")]
mod tests {
    use super::{
        BakedError, EdgeConfig, KIND_ED25519, KIND_HMAC, KIND_P256, KIND_RSA, MAGIC, Reader, STEPS,
        Writer,
    };
    use crate::keys::KeyKind;

    /// The demo's ES256 key set.
    const JWKS: &str = include_str!("../../../../examples/demo/jwks.json");
    /// The test keys: P-256 (two), P-384, RSA 2048, Ed25519, and two skipped
    /// with a warning (RSA 1024, `use: enc`).
    const TEST_JWKS: &str = include_str!("../../../../tests/fixtures/keys/jwks.json");
    /// A 32-byte secret, base64url.
    const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMjM0NQ";

    /// Two issuers (keys from a file and a URL; an HMAC secret), a signed
    /// agent, every table set away from its default.
    fn config() -> EdgeConfig {
        let text = format!(
            "pipeline = [\"rate_limit\", \"bots\", \"auth\"]\n\
             [[issuers]]\nissuer = \"https://a.test\"\naudience = [\"x\", \"y\"]\nalgorithms = [\"ES256\"]\n\
             jwks_file = \"jwks.json\"\njwks_url = \"https://keys.test/jwks.json\"\ntyp = [\"at+jwt\"]\n\
             max_age_seconds = 600\nrequired_claims = [\"sub\"]\n\
             [[issuers]]\nissuer = \"https://b.test\"\naudience = \"z\"\nalgorithms = [\"HS256\", \"HS512\"]\nhmac_secret = \"{SECRET}\"\n\
             [[issuers]]\nissuer = \"https://c.test\"\naudience = \"c\"\nalgorithms = [\"ES256\", \"ES384\", \"RS256\", \"PS256\", \"EdDSA\"]\njwks_file = \"test-jwks.json\"\n\
             [bots]\nempty_user_agent = \"allow\"\nunverified_claim = \"ignore\"\nrate_limit_per_minute = 30\n\
             [[bots.signed_agents]]\nname = \"a\"\nagent = \"https://agent.test\"\nsignatures = [\"s\"]\n\
             keys = [{{ kty = \"OKP\", crv = \"Ed25519\", x = \"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs\" }}]\n\
             [rate_limit]\nrequests_per_second = 2.5\nburst = 4\nmax_clients = 100\n\
             [tokens]\nsources = [\"query\", \"cookie\"]\ncookie_name = \"t\"\nquery_param = \"sig\"\ncache_entries = 0\n\
             [cors]\npreflight = \"respond\"\nallow_origins = [\"https://o.test\"]\nallow_methods = [\"GET\"]\nmax_age_seconds = 60\n\
             [responses]\nrealm = \"r\"\nlogin_url = \"https://login.test/?r={{return_to}}\"\n\
             [uri]\nallow_encoded_slash = [\"/e/\"]\nallow_empty_segments = [\"/s/\"]\n\
             [logging]\nforwarded = \"sample\"\nsample_every = 7\nflush_seconds = 9\n\
             [[paths]]\nglob = \"/a/*/b/**\"\naccess = \"public\"\n\
             [[paths]]\nprefix = \"/p/\"\naccess = \"token\"\nrequire_scope = [\"read\"]\npath_claim = \"paths\"\n\
             [[paths]]\nprefix = \"/u/\"\naccess = \"token\"\nsub_prefix = \"/u/{{sub}}/\"\n"
        );
        EdgeConfig::parse(&text, |f| {
            Ok(if f == "test-jwks.json" {
                TEST_JWKS
            } else {
                JWKS
            }
            .to_owned())
        })
        .unwrap()
    }

    #[test]
    fn a_config_reads_back_as_itself() {
        let cfg = config();
        let baked = cfg.to_baked();
        let back = EdgeConfig::from_baked(&baked).unwrap();
        assert_eq!(format!("{cfg:?}"), format!("{back:?}"));
        // The Debug form hides key material; the bytes hold it.
        assert_eq!(back.to_baked(), baked);
        assert_eq!(back.issuers()[0].keys.len(), 1);
        assert!(back.issuers()[1].hmac.is_some());
        let kinds: Vec<KeyKind> = back.issuers()[2].keys.iter().map(|k| k.kind).collect();
        assert_eq!(
            kinds,
            [
                KeyKind::P256,
                KeyKind::P256,
                KeyKind::P384,
                KeyKind::Rsa { bits: 2048 },
                KeyKind::Ed25519
            ]
        );
        assert_eq!(back.warnings.len(), cfg.warnings.len());
        assert!(back.warnings.len() >= 2, "{:?}", back.warnings);
        assert_eq!(back.signed_agents[0].keys.len(), 1);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let baked = config().to_baked();
        for len in 0..baked.len() {
            assert!(
                EdgeConfig::from_baked(&baked[..len]).is_err(),
                "truncated to {len} bytes"
            );
        }
        let mut longer = baked.clone();
        longer.push(0);
        assert_eq!(
            EdgeConfig::from_baked(&longer).unwrap_err(),
            BakedError {
                offset: baked.len(),
                what: "trailing bytes"
            }
        );
    }

    /// Any byte changed gives an error or a config that is exactly those
    /// bytes (a changed string, number or flag): never a panic, never a
    /// config other than what the bytes say.
    #[test]
    fn a_changed_byte_is_read_exactly_or_refused() {
        let baked = config().to_baked();
        let (mut refused, mut read) = (0, 0);
        for at in 0..baked.len() {
            for x in [0x01, 0x80, 0xFF] {
                let mut b = baked.clone();
                b[at] ^= x;
                match EdgeConfig::from_baked(&b) {
                    Ok(cfg) => {
                        assert_eq!(cfg.to_baked(), b, "byte {at} ^ {x:#x}");
                        read += 1;
                    }
                    Err(e) => {
                        assert!(e.offset <= b.len(), "{e}");
                        refused += 1;
                    }
                }
            }
        }
        // Both branches are reached: strings and numbers change, counts and
        // codes refuse.
        assert!(
            refused > 100 && read > 100,
            "refused {refused}, read {read}"
        );
    }

    /// Well-formed bytes that break what the decision relies on are refused:
    /// a pipeline with a step twice or without `auth`, an EC key that is not
    /// an uncompressed point. (The pipeline is the first field after the
    /// magic: a count, then a byte per step.)
    #[test]
    fn the_invariants_the_decision_relies_on_are_checked_again() {
        let baked = config().to_baked();
        let pipeline = MAGIC.len() + 4;
        assert_eq!(&baked[pipeline - 4..pipeline + 3], &[3, 0, 0, 0, 1, 0, 2]);
        // `auth` (2) replaced: no auth, and a step twice.
        let mut b = baked.clone();
        b[pipeline + 2] = 0;
        let e = EdgeConfig::from_baked(&b).unwrap_err();
        assert_eq!(e.what, "the pipeline", "{e}");
        b[pipeline + 2] = 3;
        assert_eq!(EdgeConfig::from_baked(&b).unwrap_err().what, "the pipeline");
        // Without auth at all: a one-step pipeline of `bots`.
        let mut b = baked.clone();
        b.splice(pipeline - 4..pipeline + 3, [1, 0, 0, 0, 0]);
        assert_eq!(
            EdgeConfig::from_baked(&b).unwrap_err().what,
            "a pipeline without auth"
        );
        // The EC point of the first issuer's key no longer starts with 4.
        let cfg = config();
        let jsonwebtoken::DecodingKeyKind::SecretOrDer(point) = cfg.issuers()[0].keys[0].key.kind()
        else {
            panic!("an EC key is a point");
        };
        let at = baked
            .windows(point.len())
            .position(|w| w == point.as_slice())
            .unwrap();
        let mut b = baked.clone();
        b[at] = 2;
        assert_eq!(
            EdgeConfig::from_baked(&b).unwrap_err().what,
            "key material of the wrong shape for its kind"
        );
        // Another file altogether.
        assert!(EdgeConfig::from_baked(br#"{"config_json": "{}"}"#).is_err());
    }

    fn reader(bytes: &[u8]) -> Reader<'_> {
        Reader { bytes, at: 0 }
    }

    /// Where and why each primitive refuses: the offset is the refused byte.
    #[test]
    fn refusals_name_the_refused_byte() {
        let e = reader(&[2]).bool("a flag").unwrap_err();
        assert_eq!((e.offset, e.what), (0, "a flag"));
        let e = reader(&[3]).code(&STEPS, "a step").unwrap_err();
        assert_eq!((e.offset, e.what), (0, "a step"));
        let e = reader(&[0, 9]).verify_key().unwrap_err();
        assert_eq!((e.offset, e.what), (1, "an unknown key kind"));
        let e = reader(&[7]).path_rule().unwrap_err();
        assert_eq!((e.offset, e.what), (0, "an unknown path match"));
        // A count the rest cannot hold, at the count; one that fills the rest
        // exactly is read.
        let e = reader(&[3, 0, 0, 0, 7, 8])
            .list(1, "a list", |r| r.u8("x"))
            .unwrap_err();
        assert_eq!((e.offset, e.what), (0, "a list"));
        let mut r = reader(&[2, 0, 0, 0, 7, 8]);
        assert_eq!(r.list(1, "a list", |r| r.u8("x")).unwrap(), [7, 8]);
        let e = reader(&[0xFF, 0xFF, 0xFF, 0xFF])
            .bytes("a string")
            .unwrap_err();
        assert_eq!((e.offset, e.what), (0, "a string"));
        let mut r = reader(&[1, 0, 0, 0, 2, 0, 0, 0, 0xC3, 0x28]);
        r.at = 4;
        let e = r.str("a string").unwrap_err();
        assert_eq!((e.offset, e.what), (4, "a string"), "not UTF-8");
    }

    #[test]
    fn a_rate_is_positive_finite_with_a_burst() {
        let rate = |per_second: f64, burst: u32| {
            let mut b = per_second.to_le_bytes().to_vec();
            b.extend_from_slice(&burst.to_le_bytes());
            reader(&b).rate("a rate").map(|r| (r.per_second, r.burst))
        };
        assert_eq!(rate(0.5, 1), Ok((0.5, 1)));
        for (p, b) in [
            (0.0, 1),
            (-1.0, 1),
            (f64::NAN, 1),
            (f64::INFINITY, 1),
            (1.0, 0),
        ] {
            assert!(rate(p, b).is_err(), "{p} {b}");
        }
    }

    /// A key as the writer bakes it, read back.
    fn key_bytes(kind: KeyKind, material: &[&[u8]]) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.opt_str(Some(&"k".to_owned()));
        match kind {
            KeyKind::Rsa { bits } => {
                w.u8(KIND_RSA);
                w.u32(bits);
            }
            KeyKind::P256 => w.u8(KIND_P256),
            KeyKind::Ed25519 => w.u8(KIND_ED25519),
            _ => w.u8(KIND_HMAC),
        }
        w.opt(None::<&u8>, |w, a| w.u8(*a));
        for m in material {
            w.bytes(m);
        }
        w.0
    }

    #[test]
    fn key_material_must_have_its_kinds_shape() {
        let read = |b: Vec<u8>| reader(&b).verify_key().map(|k| k.kind);
        let mut n = vec![0xFF; 256];
        assert!(read(key_bytes(KeyKind::Rsa { bits: 2048 }, &[&n, &[1, 0, 1]])).is_ok());
        // The size must be the modulus's, at least 2048 bits, with an exponent.
        assert!(read(key_bytes(KeyKind::Rsa { bits: 2047 }, &[&n, &[1, 0, 1]])).is_err());
        assert!(read(key_bytes(KeyKind::Rsa { bits: 2048 }, &[&n, &[]])).is_err());
        n[0] = 0x7F;
        assert!(read(key_bytes(KeyKind::Rsa { bits: 2047 }, &[&n, &[1, 0, 1]])).is_err());
        let small = vec![0xFF; 128];
        assert!(
            read(key_bytes(
                KeyKind::Rsa { bits: 1024 },
                &[&small, &[1, 0, 1]]
            ))
            .is_err()
        );
        let mut point = vec![4; 65];
        assert!(read(key_bytes(KeyKind::P256, &[&point])).is_ok());
        point.push(4);
        assert!(read(key_bytes(KeyKind::P256, &[&point])).is_err());
        assert!(read(key_bytes(KeyKind::Ed25519, &[&[9; 32]])).is_ok());
        assert!(read(key_bytes(KeyKind::Ed25519, &[&[9; 31]])).is_err());
        assert!(read(key_bytes(KeyKind::Hmac, &[&[9; 32]])).is_ok());
        assert!(read(key_bytes(KeyKind::Hmac, &[&[9; 31]])).is_err());
    }

    #[test]
    fn keys_stay_in_their_places() {
        let cfg = config();
        let read = |i: &crate::jwt::Issuer| {
            let mut w = Writer(Vec::new());
            w.issuer(i);
            reader(&w.0).issuer().map(|_| ())
        };
        let hmac_issuer = &cfg.issuers()[1];
        let es_issuer = &cfg.issuers()[0];
        assert!(read(hmac_issuer).is_ok() && read(es_issuer).is_ok());
        // An EC key in the HMAC slot; an HMAC key among the JWK Set's.
        let mut bad = hmac_issuer.clone();
        bad.hmac = Some(es_issuer.keys[0].clone());
        assert!(read(&bad).is_err());
        let mut bad = es_issuer.clone();
        bad.keys.push(hmac_issuer.hmac.clone().unwrap());
        assert!(read(&bad).is_err());
        // More baked keys than keys.
        let mut bad = es_issuer.clone();
        bad.baked_keys = bad.keys.len() + 1;
        assert_eq!(read(&bad).unwrap_err().what, "an issuer's baked key count");
        bad.baked_keys = bad.keys.len();
        assert!(read(&bad).is_ok());
    }

    #[test]
    fn logging_needs_a_sample_and_a_flush_period() {
        for (sample_every, flush_ms) in [(0, 1000), (1, 0)] {
            let mut cfg = config();
            cfg.logging.sample_every = sample_every;
            cfg.logging.flush_ms = flush_ms;
            let e = EdgeConfig::from_baked(&cfg.to_baked()).unwrap_err();
            assert_eq!(e.what, "logging");
        }
    }
}
