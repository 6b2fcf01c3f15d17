//! What is validated: the parsed config ([`raw`](super::raw)) checked table by
//! table and compiled into the [`EdgeConfig`] the core reads. Every refusal
//! is a [`ConfigError`] with its kind and the key path it is about.

use jsonwebtoken::Algorithm;

use super::error::{ConfigError, ConfigErrorKind as Kind};
use super::raw::{OneOrMany, RawBots, RawConfig, RawIssuer, RawLogging, RawPath, RawUri};
use super::{
    Access, EdgeConfig, Fingerprint, Logging, PathMatch, PathRule, Rate, Step, TokenSource,
};
use crate::jwt::{Issuer, RemoteJwks};
use crate::keys::{KeyKind, KeySet, hmac_key};
use crate::policy::Glob;
use crate::uri::{UriPolicy, is_clean_path};

fn fail<T>(
    kind: Kind,
    key: impl Into<String>,
    message: impl Into<String>,
) -> Result<T, ConfigError> {
    Err(ConfigError::new(kind, key, message))
}

/// Checks `raw` and compiles it; `read_file` reads the files it names.
pub(super) fn from_raw(
    raw: RawConfig,
    mut read_file: impl FnMut(&str) -> Result<String, String>,
) -> Result<EdgeConfig, ConfigError> {
    let pipeline = pipeline(raw.pipeline)?;
    let mut warnings = Vec::new();
    let mut fingerprint = Fingerprint::default();
    let issuers = issuers(
        raw.jwt,
        raw.issuers,
        &mut read_file,
        &mut warnings,
        &mut fingerprint,
    )?;

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
        return fail(
            Kind::Invalid,
            "rate_limit.max_clients",
            "must be at least 1",
        );
    }

    let token_sources = token_sources(raw.tokens.sources)?;
    for (name, value) in [
        ("tokens.cookie_name", &raw.tokens.cookie_name),
        ("tokens.query_param", &raw.tokens.query_param),
    ] {
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        {
            return fail(
                Kind::Invalid,
                name,
                format!("{value:?} must be a plain name (letters, digits, _ - .)"),
            );
        }
    }

    if let Some(url) = &raw.responses.login_url
        && !url.starts_with("https://")
    {
        return fail(
            Kind::Unsafe,
            "responses.login_url",
            format!("{url:?} must be an https:// URL"),
        );
    }

    let paths = paths(raw.paths)?;
    let uri = uri_policy(raw.uri)?;
    let logging = logging(&raw.logging)?;

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
        logging,
        warnings,
        keys_fingerprint: fingerprint.0,
        baked_fingerprint: fingerprint.0,
    })
}

/// `[logging]`: a sample of at least one in one, counts flushed at least
/// every hour (an instance rarely lives longer; the counts die with it).
fn logging(raw: &RawLogging) -> Result<Logging, ConfigError> {
    if raw.sample_every == 0 {
        return fail(
            Kind::Invalid,
            "logging.sample_every",
            "must be at least 1 (1 logs every forwarded request in full)",
        );
    }
    if !(1..=3600).contains(&raw.flush_seconds) {
        return fail(
            Kind::Invalid,
            "logging.flush_seconds",
            format!(
                "{} is out of range: 1 to 3600 (counts held longer die with the instance)",
                raw.flush_seconds
            ),
        );
    }
    Ok(Logging {
        forwarded: raw.forwarded,
        sample_every: raw.sample_every,
        flush_ms: raw.flush_seconds * 1000,
    })
}

/// The steps in order; `auth` is always there.
fn pipeline(names: Option<Vec<Step>>) -> Result<Vec<Step>, ConfigError> {
    let Some(names) = names else {
        return Ok(vec![Step::Bots, Step::RateLimit, Step::Auth]);
    };
    let mut steps = Vec::new();
    for step in names {
        if steps.contains(&step) {
            return fail(
                Kind::Conflict,
                "pipeline",
                format!("step {step:?} is listed twice"),
            );
        }
        steps.push(step);
    }
    if !steps.contains(&Step::Auth) {
        return fail(
            Kind::Unsafe,
            "pipeline",
            "\"auth\" must be present (without it every protected path would be open)",
        );
    }
    Ok(steps)
}

/// Token sources in order, each once, at least one.
fn token_sources(sources: Vec<TokenSource>) -> Result<Vec<TokenSource>, ConfigError> {
    let mut out = Vec::new();
    for src in sources {
        if out.contains(&src) {
            return fail(
                Kind::Conflict,
                "tokens.sources",
                format!("{src:?} is listed twice"),
            );
        }
        out.push(src);
    }
    if out.is_empty() {
        return fail(
            Kind::Missing,
            "tokens.sources",
            "must list at least one source",
        );
    }
    Ok(out)
}

/// `[jwt]` (one issuer) or `[[issuers]]` (several), checked and with keys.
fn issuers(
    jwt: Option<RawIssuer>,
    list: Vec<RawIssuer>,
    read_file: &mut impl FnMut(&str) -> Result<String, String>,
    warnings: &mut Vec<String>,
    fingerprint: &mut Fingerprint,
) -> Result<Vec<Issuer>, ConfigError> {
    let raw: Vec<(String, RawIssuer)> = match (jwt, list.is_empty()) {
        (Some(_), false) => {
            return fail(
                Kind::Conflict,
                "issuers",
                "use either [jwt] (one issuer) or [[issuers]] (several), not both",
            );
        }
        (Some(one), true) => vec![("jwt".to_owned(), one)],
        (None, false) => list
            .into_iter()
            .enumerate()
            .map(|(i, r)| (format!("issuers[{i}]"), r))
            .collect(),
        (None, true) => {
            return fail(
                Kind::Missing,
                "jwt",
                "no issuer configured: add a [jwt] table with issuer, audience, algorithms and jwks_file",
            );
        }
    };
    let mut issuers: Vec<Issuer> = Vec::new();
    for (at, r) in raw {
        let key = |field: &str| format!("{at}.{field}");
        if r.issuer.is_empty() {
            return fail(Kind::Missing, key("issuer"), "must not be empty");
        }
        let name = format!("issuer {:?}", r.issuer);
        if issuers.iter().any(|x| x.issuer == r.issuer) {
            return fail(
                Kind::Conflict,
                key("issuer"),
                format!("{name} is configured twice"),
            );
        }
        let audiences = match &r.audience {
            OneOrMany::One(a) => vec![a.clone()],
            OneOrMany::Many(list) => list.clone(),
        };
        if audiences.is_empty() || audiences.iter().any(String::is_empty) {
            return fail(
                Kind::Missing,
                key("audience"),
                "must be a non-empty string or list of non-empty strings",
            );
        }
        if r.algorithms.is_empty() {
            return fail(
                Kind::Missing,
                key("algorithms"),
                "must list at least one JWS algorithm, e.g. [\"RS256\"]",
            );
        }
        let mut algorithms = Vec::new();
        for a in &r.algorithms {
            let Ok(alg) = a.parse::<Algorithm>() else {
                return fail(
                    Kind::Invalid,
                    key("algorithms"),
                    format!(
                        "unknown algorithm {a:?}; use RS256/384/512, PS256/384/512, ES256/384, EdDSA or HS256/384/512 (never \"none\")"
                    ),
                );
            };
            algorithms.push(alg);
        }
        let wants_hmac = algorithms.iter().any(|a| KeyKind::Hmac.verifies(*a));
        let wants_asym = algorithms.iter().any(|a| !KeyKind::Hmac.verifies(*a));
        let hmac = match (&r.hmac_secret, wants_hmac) {
            (Some(s), true) => {
                warnings.push(format!(
                    "{name}: hmac_secret is baked into the bundle, where anyone allowed lambda:GetFunction can read it and mint tokens; prefer an asymmetric algorithm (ES256 or EdDSA) with a public JWK Set"
                ));
                fingerprint.add(s.as_bytes());
                match hmac_key(s) {
                    Ok(k) => Some(k),
                    Err(e) => return fail(Kind::Invalid, key("hmac_secret"), e.to_string()),
                }
            }
            (None, true) => {
                return fail(
                    Kind::Missing,
                    key("hmac_secret"),
                    "HS* algorithms need hmac_secret (base64url, at least 32 bytes)",
                );
            }
            (Some(_), false) => {
                return fail(
                    Kind::Unsafe,
                    key("hmac_secret"),
                    "is set but no HS* algorithm is allowed; remove it",
                );
            }
            (None, false) => None,
        };
        let mut keys = Vec::new();
        match (&r.jwks_file, wants_asym) {
            (Some(file), _) => {
                let text = read_file(file).map_err(|e| {
                    ConfigError::new(Kind::File, key("jwks_file"), format!("{file:?}: {e}"))
                })?;
                fingerprint.add(text.as_bytes());
                let set = KeySet::parse(&text).map_err(|e| {
                    ConfigError::new(Kind::File, key("jwks_file"), format!("{file:?}: {e}"))
                })?;
                warnings.extend(set.warnings.into_iter().map(|w| format!("{name}: {w}")));
                keys = set.keys;
                if wants_asym
                    && !keys
                        .iter()
                        .any(|k| k.kid.is_some() && algorithms.iter().any(|a| k.accepts(*a)))
                {
                    return fail(
                        Kind::File,
                        key("jwks_file"),
                        format!(
                            "{file:?} has no usable key with a kid for {:?}",
                            r.algorithms
                        ),
                    );
                }
            }
            // Keys only from the network: every token fails until a fetch succeeds (fail closed).
            (None, true) if r.jwks_url.is_some() => {}
            (None, true) => {
                return fail(
                    Kind::Missing,
                    key("jwks_file"),
                    "asymmetric algorithms need jwks_file (an RFC 7517 JWK Set) or jwks_url",
                );
            }
            (None, false) => {}
        }
        let remote = match &r.jwks_url {
            None => None,
            Some(url) => Some(remote_jwks(&r, url.clone(), &key)?),
        };
        if r.leeway_seconds > 300 {
            return fail(
                Kind::Invalid,
                key("leeway_seconds"),
                format!(
                    "{} is above 300; clock skew is seconds, not minutes",
                    r.leeway_seconds
                ),
            );
        }
        let typ = match r.typ {
            None => None,
            Some(list) if list.is_empty() || list.iter().any(String::is_empty) => {
                return fail(
                    Kind::Invalid,
                    key("typ"),
                    "must list the accepted header types, e.g. [\"JWT\", \"at+jwt\"]",
                );
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
    Ok(issuers)
}

/// An issuer's `jwks_url` and its fetch limits.
fn remote_jwks(
    r: &RawIssuer,
    url: String,
    key: &impl Fn(&str) -> String,
) -> Result<RemoteJwks, ConfigError> {
    let loopback = [
        "http://127.0.0.1:",
        "http://127.0.0.1/",
        "http://localhost:",
        "http://localhost/",
    ]
    .iter()
    .any(|p| url.starts_with(p));
    if !url.starts_with("https://") && !loopback {
        return fail(
            Kind::Unsafe,
            key("jwks_url"),
            format!("{url:?} must be https:// (http only on loopback, for development)"),
        );
    }
    if r.jwks_timeout_ms == 0 || r.jwks_timeout_ms > 3000 {
        return fail(
            Kind::Invalid,
            key("jwks_timeout_ms"),
            format!(
                "{} must be 1..=3000 (the viewer-request limit is 5 s)",
                r.jwks_timeout_ms
            ),
        );
    }
    if r.jwks_min_refresh_seconds == 0 {
        return fail(
            Kind::Invalid,
            key("jwks_min_refresh_seconds"),
            "must be at least 1",
        );
    }
    if r.jwks_max_bytes < 1024 || r.jwks_max_bytes > 1_048_576 {
        return fail(
            Kind::Invalid,
            key("jwks_max_bytes"),
            format!("{} must be 1024..=1048576", r.jwks_max_bytes),
        );
    }
    if r.jwks_max_stale_seconds < r.jwks_cache_seconds {
        return fail(
            Kind::Conflict,
            key("jwks_max_stale_seconds"),
            format!(
                "{} must be at least jwks_cache_seconds {}",
                r.jwks_max_stale_seconds, r.jwks_cache_seconds
            ),
        );
    }
    Ok(RemoteJwks {
        url,
        cache_s: r.jwks_cache_seconds,
        min_refresh_s: r.jwks_min_refresh_seconds,
        timeout_ms: r.jwks_timeout_ms,
        max_bytes: r.jwks_max_bytes,
        max_stale_s: r.jwks_max_stale_seconds,
    })
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
        return fail(
            Kind::Invalid,
            "bots.signature_leeway_seconds",
            format!("{} must be 0 to 300", bots.signature_leeway_seconds),
        );
    }
    if !(1..=7 * 86_400).contains(&bots.signature_max_validity_seconds) {
        return fail(
            Kind::Invalid,
            "bots.signature_max_validity_seconds",
            format!(
                "{} must be 1 to 604800 (a week)",
                bots.signature_max_validity_seconds
            ),
        );
    }
    let mut out: Vec<SignedAgent> = Vec::new();
    for (i, a) in bots.signed_agents.iter().enumerate() {
        let at = format!("bots.signed_agents[{i}]");
        let key = |field: &str| format!("{at}.{field}");
        let name_ok = !a.name.is_empty()
            && a.name.len() <= 64
            && a.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            return fail(
                Kind::Invalid,
                key("name"),
                format!("{:?} must be 1 to 64 of A-Z a-z 0-9 - _ .", a.name),
            );
        }
        if out.iter().any(|o| o.name == a.name) {
            return fail(
                Kind::Conflict,
                key("name"),
                format!("{:?} is used twice", a.name),
            );
        }
        let url_ok = |u: &str| {
            u.starts_with("https://")
                && u.len() > "https://".len()
                && u.len() <= 2048
                && u.bytes().all(|b| b.is_ascii_graphic())
        };
        if !url_ok(&a.agent) {
            return fail(
                Kind::Unsafe,
                key("agent"),
                format!(
                    "{:?} must be the https:// URL its requests send in Signature-Agent",
                    a.agent
                ),
            );
        }
        if let Some(d) = &a.directory
            && !url_ok(d)
        {
            return fail(
                Kind::Unsafe,
                key("directory"),
                format!("{d:?} must be an https:// URL (where the keys were published)"),
            );
        }
        if a.keys.is_empty() {
            return fail(
                Kind::Missing,
                key("keys"),
                "is empty; copy the public keys from the agent's key directory",
            );
        }
        let mut keys = Vec::new();
        for (k, jwk) in a.keys.iter().enumerate() {
            let agent_key = AgentKey::from_jwk(jwk).map_err(|e| {
                ConfigError::new(Kind::Invalid, format!("{at}.keys[{k}]"), e.to_string())
            })?;
            if let Some(o) = out.iter().find(|o| o.key(&agent_key.thumbprint).is_some()) {
                return fail(
                    Kind::Conflict,
                    format!("{at}.keys[{k}]"),
                    format!("is also a key of {:?}: one key, one agent", o.name),
                );
            }
            keys.push(agent_key);
        }
        for sig in &a.signatures {
            if sig.is_empty() {
                return fail(Kind::Invalid, key("signatures"), "an empty signature id");
            }
            if let Some(o) = out.iter().find(|o| o.signatures.contains(sig)) {
                return fail(
                    Kind::Conflict,
                    key("signatures"),
                    format!("{sig:?} is also claimed by {:?}", o.name),
                );
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

/// The path rules, written as decoded paths.
fn paths(raw: Vec<RawPath>) -> Result<Vec<PathRule>, ConfigError> {
    let mut paths = Vec::new();
    for (i, p) in raw.into_iter().enumerate() {
        let at = format!("paths[{i}]");
        for text in p.prefix.iter().chain(p.glob.iter()) {
            if text.contains('%') || text.contains('\\') || text.chars().any(char::is_control) {
                return fail(
                    Kind::Invalid,
                    at,
                    format!(
                        "{text:?}: write the decoded path (a space, not %20): rules match the object path as the origin decodes it"
                    ),
                );
            }
        }
        let matcher = match (p.prefix, p.glob) {
            (Some(prefix), None) if prefix.starts_with('/') => PathMatch::Prefix(prefix),
            (None, Some(glob)) if glob.starts_with('/') => match Glob::new(&glob) {
                Ok(g) => PathMatch::Glob(g),
                Err(e) => {
                    return fail(
                        Kind::Invalid,
                        format!("{at}.glob"),
                        format!("{glob:?}: {e}"),
                    );
                }
            },
            (Some(_), Some(_)) => {
                return fail(Kind::Conflict, at, "give either prefix or glob, not both");
            }
            (None, None) => return fail(Kind::Missing, at, "needs a prefix or a glob"),
            _ => return fail(Kind::Invalid, at, "prefix and glob start with '/'"),
        };
        let has_conditions =
            !p.require_scope.is_empty() || p.path_claim.is_some() || p.sub_prefix.is_some();
        if p.access == Access::Public && has_conditions {
            return fail(
                Kind::Conflict,
                at,
                "a public path cannot have claim conditions",
            );
        }
        if let Some(sp) = &p.sub_prefix
            && (!sp.contains("{sub}") || !is_clean_path(&sp.replace("{sub}", "x")))
        {
            return fail(
                Kind::Invalid,
                format!("{at}.sub_prefix"),
                format!(
                    "{sp:?} must be a decoded path starting with '/' (no '//', dot segments, '%' or '\\') and contain {{sub}}"
                ),
            );
        }
        paths.push(PathRule {
            matcher,
            access: p.access,
            require_scope: p.require_scope,
            path_claim: p.path_claim,
            sub_prefix: p.sub_prefix,
        });
    }
    Ok(paths)
}

/// The path families that accept escaped slashes or empty segments.
fn uri_policy(raw: RawUri) -> Result<UriPolicy, ConfigError> {
    let mut uri = UriPolicy::default();
    for (name, list, out) in [
        (
            "uri.allow_encoded_slash",
            raw.allow_encoded_slash,
            &mut uri.allow_encoded_slash,
        ),
        (
            "uri.allow_empty_segments",
            raw.allow_empty_segments,
            &mut uri.allow_empty_segments,
        ),
    ] {
        for prefix in list {
            if prefix == "/" || !prefix.ends_with('/') || !is_clean_path(&prefix) {
                return fail(
                    Kind::Invalid,
                    name,
                    format!(
                        "{prefix:?} must be a decoded path family below the root, ending in '/' (e.g. \"/wiki/\"), with no '//', dot segments, '%' or '\\'"
                    ),
                );
            }
            out.push(prefix);
        }
    }
    Ok(uri)
}

fn check_rate(name: &str, r: Rate) -> Result<(), ConfigError> {
    if !(r.per_second.is_finite() && r.per_second > 0.0) {
        return fail(Kind::Invalid, name, "the rate must be a positive number");
    }
    if r.burst == 0 {
        return fail(Kind::Invalid, name, "burst must be at least 1");
    }
    Ok(())
}

#[cfg(test)]
#[cfg(feature = "toml")]
mod tests {
    use super::super::EdgeConfig;
    use super::*;

    /// One HS256 issuer (no key file to read); `extra` goes after its table.
    fn parse(top: &str, extra: &str) -> Result<EdgeConfig, ConfigError> {
        let text = format!(
            "{top}\n[jwt]\nissuer = \"https://i.test\"\naudience = \"a\"\nalgorithms = [\"HS256\"]\nhmac_secret = \"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMjM0NQ\"\n{extra}"
        );
        EdgeConfig::parse(&text, |f| Err(format!("no file {f}")))
    }

    fn refused(top: &str, extra: &str) -> (Kind, String, Option<usize>) {
        let e = parse(top, extra).unwrap_err();
        (e.kind, e.key, e.line)
    }

    /// The defaults, each read back (README names the JWKS ones).
    #[test]
    fn defaults_are_the_documented_ones() {
        let c = parse("", "").unwrap();
        let i = &c.issuers()[0];
        assert_eq!(i.leeway_s, 30);
        let rate = c.rate.unwrap();
        assert_eq!((rate.per_second, rate.burst), (20.0, 100));
        assert_eq!(c.max_clients, 10_000);
        assert_eq!(c.bot_rate.per_second * 60.0, 60.0);
        assert_eq!(c.bot_rate.burst, 10);
        assert_eq!(c.cache_entries, 1024);
        assert_eq!(c.realm, "edge");
        assert_eq!(c.signature_window.leeway_s, 30);
        let remote = EdgeConfig::parse(
            "[jwt]\nissuer = \"https://i.test\"\naudience = \"a\"\nalgorithms = [\"ES256\"]\njwks_url = \"https://keys.example/jwks.json\"\n",
            |f| Err(format!("no file {f}")),
        )
        .unwrap();
        let (_, r) = &remote.remote_jwks()[0];
        assert_eq!(
            (r.cache_s, r.min_refresh_s, r.timeout_ms, r.max_stale_s),
            (600, 60, 1500, 86_400)
        );
    }

    #[test]
    fn each_table_refuses_with_its_kind_and_key() {
        let ok = parse("", "").unwrap();
        assert_eq!(ok.pipeline, [Step::Bots, Step::RateLimit, Step::Auth]);
        assert_eq!(
            refused("pipeline = [\"bots\"]", ""),
            (Kind::Unsafe, "pipeline".into(), Some(1))
        );
        assert_eq!(
            refused("pipeline = [\"auth\", \"auth\"]", "").0,
            Kind::Conflict
        );
        assert_eq!(refused("pipeline = [\"robots\"]", "").0, Kind::Syntax);
        assert_eq!(
            refused("", "jwks_url = \"http://keys.example/\"\n").1,
            "jwt.jwks_url"
        );
        assert_eq!(
            refused("", "leeway_seconds = 301\n"),
            (Kind::Invalid, "jwt.leeway_seconds".into(), Some(7))
        );
        assert_eq!(
            refused("", "[tokens]\nsources = [\"query\", \"query\"]\n"),
            (Kind::Conflict, "tokens.sources".into(), Some(8))
        );
        assert_eq!(
            refused("", "[rate_limit]\nmax_clients = 0\n").0,
            Kind::Invalid
        );
        assert_eq!(
            refused("", "[rate_limit]\nburst = 0\n"),
            (Kind::Invalid, "rate_limit".into(), Some(7))
        );
        assert_eq!(
            refused(
                "",
                "[[paths]]\nprefix = \"/a/\"\nglob = \"/a/*\"\naccess = \"public\"\n"
            ),
            (Kind::Conflict, "paths[0]".into(), Some(7))
        );
        assert_eq!(
            refused("", "[[paths]]\naccess = \"token\"\n").0,
            Kind::Missing
        );
        assert_eq!(
            refused("", "[bots]\nsignature_leeway_seconds = 301\n").1,
            "bots.signature_leeway_seconds"
        );
        // Values carried through: the bot rate per second from per minute;
        // names with every allowed character, and one that is not.
        let cfg = parse(
            "",
            "[bots]\nrate_limit_per_minute = 120\n[tokens]\ncookie_name = \"my-token_v2.x\"\nquery_param = \"sig-1\"\n",
        )
        .unwrap();
        assert_eq!(cfg.bot_rate.per_second, 2.0);
        assert_eq!(cfg.cookie_name, "my-token_v2.x");
        assert_eq!(cfg.query_param, "sig-1");
        assert_eq!(
            refused("", "[tokens]\ncookie_name = \"a/b\"\n").1,
            "tokens.cookie_name"
        );
        assert_eq!(
            refused("", "[tokens]\nquery_param = \"\"\n").1,
            "tokens.query_param"
        );
        // A secret with no HS algorithm to use it is a hole, not a typo.
        let e = EdgeConfig::parse(
            "[jwt]\nissuer = \"https://i.test\"\naudience = \"a\"\nalgorithms = [\"ES256\"]\nhmac_secret = \"c2VjcmV0\"\njwks_url = \"https://k.test/\"\n",
            |f| Err(format!("no file {f}")),
        )
        .unwrap_err();
        assert_eq!((e.kind, e.key.as_str()), (Kind::Unsafe, "jwt.hmac_secret"));
        // A file that cannot be read: File, about the key that names it.
        let e = EdgeConfig::parse(
            "[jwt]\nissuer = \"https://i.test\"\naudience = \"a\"\nalgorithms = [\"ES256\"]\njwks_file = \"k.json\"\n",
            |f| Err(format!("no file {f}")),
        )
        .unwrap_err();
        assert_eq!(
            (e.kind, e.key.as_str(), e.line),
            (Kind::File, "jwt.jwks_file", Some(5))
        );
    }

    fn ok(extra: &str) -> bool {
        parse("", extra).is_ok()
    }

    fn key_of(extra: &str) -> String {
        parse("", extra).map_or_else(|e| e.key, |_| "accepted".into())
    }

    /// The bounds of every checked number and form, on both sides.
    #[test]
    fn every_bound_holds_on_both_sides() {
        // Issuer fields ([jwt] here; the HS256 issuer of `parse`).
        assert!(ok("leeway_seconds = 300\n"));
        assert_eq!(key_of("leeway_seconds = 301\n"), "jwt.leeway_seconds");
        assert!(ok("typ = [\"JWT\", \"at+jwt\"]\n"));
        assert_eq!(
            parse("", "typ = [\"JWT\"]\n").unwrap().issuers()[0].typ,
            Some(vec!["JWT".to_owned()])
        );
        assert_eq!(key_of("typ = []\n"), "jwt.typ");
        assert_eq!(key_of("typ = [\"JWT\", \"\"]\n"), "jwt.typ");
        let aud = |a: &str| {
            EdgeConfig::parse(
                &format!("[jwt]\nissuer = \"https://i.test\"\naudience = {a}\nalgorithms = [\"HS256\"]\nhmac_secret = \"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMjM0NQ\"\n"),
                |f| Err(f.to_owned()),
            )
            .map(|c| c.issuers()[0].audiences.clone())
            .map_err(|e| e.key)
        };
        assert_eq!(
            aud("[\"a\", \"b\"]"),
            Ok(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(aud("[]"), Err("jwt.audience".into()));
        assert_eq!(aud("[\"a\", \"\"]"), Err("jwt.audience".into()));
        assert_eq!(aud("\"\""), Err("jwt.audience".into()));

        // Remote key sets: loopback http only; every limit at and past its bound.
        let es = |extra: &str| {
            EdgeConfig::parse(
                &format!("[jwt]\nissuer = \"https://i.test\"\naudience = \"a\"\nalgorithms = [\"ES256\"]\njwks_url = \"https://k.test/\"\n{extra}"),
                |f| Err(f.to_owned()),
            )
            .map_or_else(|e| e.key, |c| format!("ok {}", c.remote_jwks().len()))
        };
        assert_eq!(es(""), "ok 1", "keys from the network alone are allowed");
        for (extra, want) in [
            ("jwks_timeout_ms = 1\n", "ok 1"),
            ("jwks_timeout_ms = 3000\n", "ok 1"),
            ("jwks_timeout_ms = 0\n", "jwt.jwks_timeout_ms"),
            ("jwks_timeout_ms = 3001\n", "jwt.jwks_timeout_ms"),
            ("jwks_min_refresh_seconds = 1\n", "ok 1"),
            (
                "jwks_min_refresh_seconds = 0\n",
                "jwt.jwks_min_refresh_seconds",
            ),
            ("jwks_max_bytes = 1024\n", "ok 1"),
            ("jwks_max_bytes = 1048576\n", "ok 1"),
            ("jwks_max_bytes = 1023\n", "jwt.jwks_max_bytes"),
            ("jwks_max_bytes = 1048577\n", "jwt.jwks_max_bytes"),
            (
                "jwks_cache_seconds = 600\njwks_max_stale_seconds = 600\n",
                "ok 1",
            ),
            (
                "jwks_cache_seconds = 600\njwks_max_stale_seconds = 599\n",
                "jwt.jwks_max_stale_seconds",
            ),
        ] {
            assert_eq!(es(extra), want, "{extra}");
        }
        let url = |u: &str| {
            EdgeConfig::parse(
                &format!("[jwt]\nissuer = \"https://i.test\"\naudience = \"a\"\nalgorithms = [\"ES256\"]\njwks_url = \"{u}\"\n"),
                |f| Err(f.to_owned()),
            )
            .is_ok()
        };
        assert!(url("http://localhost:8080/jwks.json") && url("http://127.0.0.1/jwks.json"));
        assert!(!url("http://localhost.evil.example/") && !url("http://keys.example/"));

        // A JWK Set whose key has no kid cannot verify anything: refused.
        let demo = include_str!("../../../../examples/demo/jwks.json");
        let with = |jwks: String| {
            EdgeConfig::parse(
                "[jwt]\nissuer = \"https://i.test\"\naudience = \"a\"\nalgorithms = [\"ES256\"]\njwks_file = \"k.json\"\n",
                move |_| Ok(jwks.clone()),
            )
            .map_or_else(|e| (e.kind, e.key), |_| (Kind::Syntax, "accepted".into()))
        };
        assert_eq!(with(demo.to_owned()).1, "accepted");
        let no_kid = demo.replace("\"kid\"", "\"x-kid\"");
        assert_eq!(with(no_kid), (Kind::File, "jwt.jwks_file".into()));

        // Signed agents.
        let agent = |fields: &str| {
            format!(
                "[[bots.signed_agents]]\nname = \"a\"\nagent = \"https://a.example\"\nkeys = [{{ kty = \"OKP\", crv = \"Ed25519\", x = \"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs\" }}]\n{fields}"
            )
        };
        assert!(ok(&agent("signatures = [\"s\"]\n")));
        for (extra, want) in [
            ("[bots]\nsignature_leeway_seconds = 0\n", "accepted"),
            ("[bots]\nsignature_leeway_seconds = 300\n", "accepted"),
            (
                "[bots]\nsignature_leeway_seconds = -1\n",
                "bots.signature_leeway_seconds",
            ),
            ("[bots]\nsignature_max_validity_seconds = 1\n", "accepted"),
            (
                "[bots]\nsignature_max_validity_seconds = 604800\n",
                "accepted",
            ),
            (
                "[bots]\nsignature_max_validity_seconds = 0\n",
                "bots.signature_max_validity_seconds",
            ),
            (
                "[bots]\nsignature_max_validity_seconds = 604801\n",
                "bots.signature_max_validity_seconds",
            ),
        ] {
            assert_eq!(key_of(extra), want, "{extra}");
        }
        let named =
            |name: &str| key_of(&agent("").replace("name = \"a\"", &format!("name = \"{name}\"")));
        assert_eq!(named(&"a".repeat(64)), "accepted");
        assert_eq!(named("a-b_c.d"), "accepted");
        assert_eq!(named(&"a".repeat(65)), "bots.signed_agents[0].name");
        assert_eq!(named(""), "bots.signed_agents[0].name");
        assert_eq!(named("a b"), "bots.signed_agents[0].name");
        let at = |u: &str| key_of(&agent("").replace("https://a.example", u));
        assert_eq!(at("https://a.example/x"), "accepted");
        assert_eq!(at("https://"), "bots.signed_agents[0].agent");
        assert_eq!(at("http://a.example"), "bots.signed_agents[0].agent");
        assert_eq!(at("https://a example"), "bots.signed_agents[0].agent");
        assert_eq!(at(&format!("https://{}", "a".repeat(2040))), "accepted");
        assert_eq!(
            at(&format!("https://{}", "a".repeat(2041))),
            "bots.signed_agents[0].agent"
        );
        assert_eq!(
            key_of(&agent("directory = \"http://a.example/d\"\n")),
            "bots.signed_agents[0].directory"
        );
        assert_eq!(
            key_of(&agent("").replace("keys = [{ kty = \"OKP\", crv = \"Ed25519\", x = \"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs\" }]", "keys = []")),
            "bots.signed_agents[0].keys"
        );
        let two = format!(
            "{}{}",
            agent("signatures = [\"s\"]\n"),
            agent("").replace("name = \"a\"", "name = \"b\"")
        );
        assert_eq!(
            key_of(&two),
            "bots.signed_agents[1].keys[0]",
            "one key, one agent"
        );
        assert_eq!(
            key_of(&format!("{}{}", agent(""), agent(""))),
            "bots.signed_agents[1].name"
        );
        assert_eq!(
            key_of(&agent("signatures = [\"\"]\n")),
            "bots.signed_agents[0].signatures"
        );

        // An asymmetric issuer needs keys from somewhere; a login page over https only.
        let no_keys = EdgeConfig::parse(
            "[jwt]\nissuer = \"https://i.test\"\naudience = \"a\"\nalgorithms = [\"ES256\"]\n",
            |f| Err(f.to_owned()),
        )
        .unwrap_err();
        assert_eq!(
            (no_keys.kind, no_keys.key.as_str()),
            (Kind::Missing, "jwt.jwks_file")
        );
        assert!(ok(
            "[responses]\nlogin_url = \"https://login.example/?r={return_to}\"\n"
        ));
        assert_eq!(
            key_of("[responses]\nlogin_url = \"http://login.example/\"\n"),
            "responses.login_url"
        );
        // The same issuer twice: the second is refused, the first is fine.
        let issuer = "[[issuers]]\nissuer = \"https://i.test\"\naudience = \"a\"\nalgorithms = [\"HS256\"]\nhmac_secret = \"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMjM0NQ\"\n";
        let other = issuer.replace("https://i.test", "https://j.test");
        let twice = |text: String| {
            EdgeConfig::parse(&text, |f| Err(f.to_owned()))
                .map_or_else(|e| e.key, |c| format!("ok {}", c.issuers().len()))
        };
        assert_eq!(twice(format!("{issuer}{other}")), "ok 2");
        assert_eq!(twice(format!("{issuer}{issuer}")), "issuers[1].issuer");

        // Rates: positive and finite.
        assert!(ok("[rate_limit]\nrequests_per_second = 0.5\n"));
        for bad in ["0.0", "-1.0", "nan", "inf"] {
            assert_eq!(
                key_of(&format!("[rate_limit]\nrequests_per_second = {bad}\n")),
                "rate_limit",
                "{bad}"
            );
        }
        // Path families: below the root, ending in '/', clean; carried as written.
        for field in ["allow_encoded_slash", "allow_empty_segments"] {
            let cfg = parse("", &format!("[uri]\n{field} = [\"/wiki/\"]\n")).unwrap();
            let got = if field == "allow_encoded_slash" {
                cfg.uri.allow_encoded_slash
            } else {
                cfg.uri.allow_empty_segments
            };
            assert_eq!(got, ["/wiki/"]);
            for bad in ["/", "/wiki", "/a/../", "wiki/"] {
                assert_eq!(
                    key_of(&format!("[uri]\n{field} = [\"{bad}\"]\n")),
                    format!("uri.{field}"),
                    "{bad}"
                );
            }
        }
        // Path rules: rooted; a public path takes no claim condition of any kind;
        // sub_prefix names {sub} and is clean.
        for bad in [
            "prefix = \"p/\"\naccess = \"token\"\n",
            "glob = \"a/*\"\naccess = \"token\"\n",
            "prefix = \"/p/\"\naccess = \"public\"\npath_claim = \"paths\"\n",
            "prefix = \"/p/\"\naccess = \"public\"\nsub_prefix = \"/p/{sub}/\"\n",
            "prefix = \"/p/\"\naccess = \"public\"\nrequire_scope = [\"read\"]\n",
        ] {
            assert_eq!(key_of(&format!("[[paths]]\n{bad}")), "paths[0]", "{bad}");
        }
        assert!(ok(
            "[[paths]]\nprefix = \"/p/\"\naccess = \"token\"\nsub_prefix = \"/p/{sub}/\"\n"
        ));
        for bad in ["/p/", "/p/../{sub}/"] {
            assert_eq!(
                key_of(&format!(
                    "[[paths]]\nprefix = \"/p/\"\naccess = \"token\"\nsub_prefix = \"{bad}\"\n"
                )),
                "paths[0].sub_prefix",
                "{bad}"
            );
        }

        // Paths: carried as written; every spelling that is not a decoded path refused.
        let cfg = parse("", "[[paths]]\nprefix = \"/p/\"\naccess = \"public\"\n").unwrap();
        assert_eq!(cfg.paths.len(), 1);
        assert_eq!(cfg.paths[0].matcher, PathMatch::Prefix("/p/".into()));
        assert_eq!(cfg.paths[0].access, Access::Public);
        for bad in ["/a%20b/", "/a\\\\b/", "/a\\u0001b/"] {
            assert_eq!(
                key_of(&format!(
                    "[[paths]]\nprefix = \"{bad}\"\naccess = \"public\"\n"
                )),
                "paths[0]",
                "{bad}"
            );
        }
    }

    #[test]
    fn logging_policy_and_its_bounds() {
        let cfg = parse("", "").unwrap();
        assert_eq!(cfg.logging, Logging::default());
        assert_eq!(cfg.logging.forwarded, super::super::Forwarded::Count);
        let cfg = parse(
            "",
            "[logging]\nforwarded = \"sample\"\nsample_every = 1\nflush_seconds = 3600\n",
        )
        .unwrap();
        assert_eq!(
            cfg.logging,
            Logging {
                forwarded: super::super::Forwarded::Sample,
                sample_every: 1,
                flush_ms: 3_600_000
            }
        );
        assert!(ok("[logging]\nforwarded = \"all\"\nflush_seconds = 1\n"));
        assert_eq!(
            key_of("[logging]\nsample_every = 0\n"),
            "logging.sample_every"
        );
        assert_eq!(
            key_of("[logging]\nflush_seconds = 0\n"),
            "logging.flush_seconds"
        );
        assert_eq!(
            key_of("[logging]\nflush_seconds = 3601\n"),
            "logging.flush_seconds"
        );
        assert!(parse("", "[logging]\nforwarded = \"none\"\n").is_err());
        assert!(parse("", "[logging]\nsampled = 3\n").is_err());
    }
}
