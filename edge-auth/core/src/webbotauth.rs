//! Web Bot Auth: agents that sign their requests with HTTP Message
//! Signatures (RFC 9421) under the IETF webbotauth profile, verified against
//! key directories baked into the config.
//!
//! A request is *signed* when it carries `Signature-Input` and `Signature`.
//! Of its signatures, the first whose parameters carry `tag="web-bot-auth"`
//! counts, and it must:
//! - cover `@authority` (or `@target-uri`), and `signature-agent` when the
//!   request has a `Signature-Agent` header;
//! - carry `keyid` (the RFC 7638 JWK SHA-256 thumbprint of the agent's key),
//!   `created` and `expires` (integers, seconds), `alg` only as `ed25519`, and
//!   optionally `nonce`;
//! - be inside its window: `created` no later than now + leeway, `expires` no
//!   earlier than now − leeway, and `expires − created` at most the configured
//!   validity;
//! - name, in `Signature-Agent`, a configured agent (or, without that header,
//!   use a key of one), whose directory holds `keyid`;
//! - verify as Ed25519 over the RFC 9421 signature base; the math goes to
//!   jsonwebtoken's installed crypto provider (Node's crypto in the bundle);
//! - not repeat a `(keyid, nonce)` this instance saw inside its window.
//!
//! Structured fields are parsed by the `sfv` crate; anything it refuses, a
//! component this module does not derive, or a parameter it does not know on
//! a component, fails the check. No I/O, no clock (the caller passes now).

use std::collections::HashMap;

use crate::hashkeys::HashKeys;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use sfv::{BareItem, Dictionary, FieldType, InnerList, Item, List, ListEntry, Parser};

use crate::request::CfRequest;

/// The `tag` of a Web Bot Auth signature.
pub const TAG: &str = "web-bot-auth";

/// One public key of an agent's directory.
#[derive(Clone)]
pub struct AgentKey {
    /// RFC 7638 JWK SHA-256 thumbprint, base64url: the `keyid` it signs with.
    pub thumbprint: String,
    key: DecodingKey,
}

impl std::fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentKey")
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

/// A JWK as an agent's key directory lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct DirectoryJwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: Option<String>,
    /// The public key, base64url.
    pub x: Option<String>,
    /// Private material: refused.
    pub d: Option<String>,
}

impl AgentKey {
    /// A key whose material and thumbprint were checked when the config was
    /// built (the baked config, see `config::baked`).
    pub(crate) fn from_parts(thumbprint: String, key: DecodingKey) -> AgentKey {
        AgentKey { thumbprint, key }
    }

    /// The key material, for baking.
    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }

    /// An Ed25519 public key from its JWK; anything else is refused.
    pub fn from_jwk(jwk: &DirectoryJwk) -> Result<AgentKey, String> {
        if jwk.d.is_some() {
            return Err("the JWK holds a private key (`d`); give the public key only".into());
        }
        if jwk.kty != "OKP" || jwk.crv.as_deref() != Some("Ed25519") {
            return Err(format!(
                "only Ed25519 keys (kty OKP, crv Ed25519) sign Web Bot Auth requests, not kty {:?} crv {:?}",
                jwk.kty, jwk.crv
            ));
        }
        let x = jwk.x.as_deref().unwrap_or_default();
        let raw = crate::keys::b64url(x).ok_or("x is not base64url")?;
        if raw.len() != 32 {
            return Err("x is not a 32-byte Ed25519 public key".into());
        }
        let key = DecodingKey::from_ed_components(x).map_err(|e| e.to_string())?;
        Ok(AgentKey {
            thumbprint: thumbprint(x),
            key,
        })
    }
}

/// The RFC 7638 thumbprint of an Ed25519 JWK with public key `x`.
pub fn thumbprint(x: &str) -> String {
    use sha2::Digest;
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes()))
}

/// A signing agent the config trusts.
#[derive(Debug, Clone)]
pub struct SignedAgent {
    /// Name, for logs and metrics (`examplebot`).
    pub name: String,
    /// The `Signature-Agent` its requests carry (`https://bot.example`).
    pub agent: String,
    /// Its key directory's keys (baked from a pinned copy).
    pub keys: Vec<AgentKey>,
    /// The catalog's `allow` signatures whose claim its signature verifies.
    pub signatures: Vec<String>,
}

impl SignedAgent {
    /// The key of this agent whose thumbprint is `keyid`.
    pub fn key(&self, keyid: &str) -> Option<&AgentKey> {
        self.keys.iter().find(|k| k.thumbprint == keyid)
    }
}

/// Why a signed request did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A header is not the structured field it must be, or a required
    /// parameter is missing or mistyped.
    Malformed,
    /// The signature covers a component this verifier does not derive.
    Unsupported,
    /// `@authority` / `signature-agent` not covered, or a covered header absent.
    MissingComponent,
    /// `Signature-Agent` names no configured agent.
    UnknownAgent,
    /// No key of the agent has this `keyid`.
    UnknownKey,
    /// `expires` has passed.
    Expired,
    /// `created` is in the future.
    NotYetValid,
    /// `expires − created` is longer than allowed.
    TooLong,
    /// The signature does not verify.
    BadSignature,
    /// This `(keyid, nonce)` was seen before inside its window.
    Replayed,
}

impl Failure {
    /// The name used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Malformed => "malformed",
            Failure::Unsupported => "unsupported_component",
            Failure::MissingComponent => "missing_component",
            Failure::UnknownAgent => "unknown_agent",
            Failure::UnknownKey => "unknown_key",
            Failure::Expired => "expired",
            Failure::NotYetValid => "not_yet_valid",
            Failure::TooLong => "too_long",
            Failure::BadSignature => "bad_signature",
            Failure::Replayed => "replayed",
        }
    }
}

/// What the signature check came to.
#[derive(Debug, Clone, Copy)]
pub enum Check<'a> {
    /// No Web Bot Auth signature on the request.
    Unsigned,
    /// Signed by this configured agent.
    Verified(&'a SignedAgent),
    /// Signed, and the signature does not hold.
    Failed(Failure),
}

/// The time rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Clock skew tolerated on `created` and `expires`, seconds.
    pub leeway_s: i64,
    /// Longest `expires − created` accepted, seconds.
    pub max_validity_s: i64,
}

/// `(keyid, nonce)` pairs seen inside their window, per instance, bounded.
/// When full, the entry that expires first makes room (a replay then goes
/// unseen only after `capacity` newer nonces).
#[derive(Debug, Clone)]
pub struct NonceCache {
    seen: HashMap<(String, String), i64, HashKeys>,
    capacity: usize,
}

impl NonceCache {
    /// An empty cache holding at most `capacity` nonces, hashed with `keys`.
    pub fn new(capacity: usize, keys: HashKeys) -> NonceCache {
        NonceCache {
            seen: HashMap::with_hasher(keys),
            capacity,
        }
    }

    /// Records the nonce; false when it was already there and not expired.
    fn fresh(&mut self, keyid: &str, nonce: &str, expires: i64, now: i64) -> bool {
        let k = (keyid.to_owned(), nonce.to_owned());
        if self.seen.get(&k).is_some_and(|&e| e >= now) {
            return false;
        }
        if self.seen.len() >= self.capacity {
            self.seen.retain(|_, e| *e >= now);
        }
        if self.seen.len() >= self.capacity
            && let Some(first) = self
                .seen
                .iter()
                .min_by_key(|(_, e)| **e)
                .map(|(k, _)| k.clone())
        {
            self.seen.remove(&first);
        }
        if self.capacity > 0 {
            self.seen.insert(k, expires);
        }
        true
    }

    /// Nonces held.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// The first Web Bot Auth signature of `req`: label, covered components with
/// the serialized parameters, and the signature bytes. `None` when the
/// request carries none (no headers, or no signature tagged `web-bot-auth`).
struct Parsed {
    components: InnerList,
    params: String,
    signature: Vec<u8>,
    keyid: String,
    created: i64,
    expires: i64,
    nonce: Option<String>,
}

fn joined(req: &CfRequest, name: &str) -> Option<String> {
    let values: Vec<&str> = req.covered_header_values(name).map(str::trim).collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// An inner list serialized as RFC 9421 writes it into `@signature-params`
/// (a list of that one member serializes exactly so).
fn inner_list_text(list: &InnerList) -> Result<String, Failure> {
    List::from(vec![ListEntry::InnerList(list.clone())])
        .serialize()
        .ok_or(Failure::Malformed)
}

/// A dictionary field's member `key` (the `;key=` component parameter):
/// `None` when the field has no such member.
fn dictionary_member(field: &str, key: &str) -> Result<Option<ListEntry>, Failure> {
    let dict: Dictionary = Parser::new(field)
        .parse_dictionary()
        .map_err(|_| Failure::Malformed)?;
    Ok(dict.get(key).cloned())
}

/// The covered component named `name` (a string item), if the signature covers it.
fn covered<'l>(components: &'l InnerList, name: &str) -> Option<&'l Item> {
    components
        .items
        .iter()
        .find(|i| i.bare_item.as_string().is_some_and(|s| s.as_str() == name))
}

fn parse(req: &CfRequest) -> Result<Option<Parsed>, Failure> {
    let (Some(input), Some(sig)) = (joined(req, "signature-input"), joined(req, "signature"))
    else {
        return Ok(None);
    };
    parse_fields(&input, &sig)
}

/// The signature fields parsed. Out of line: most requests are unsigned and
/// stop above, and a cold instance compiles only what it calls.
#[inline(never)]
fn parse_fields(input: &str, sig: &str) -> Result<Option<Parsed>, Failure> {
    let inputs: Dictionary = Parser::new(input)
        .parse_dictionary()
        .map_err(|_| Failure::Malformed)?;
    let sigs: Dictionary = Parser::new(sig)
        .parse_dictionary()
        .map_err(|_| Failure::Malformed)?;
    let tagged = inputs.iter().find_map(|(label, entry)| match entry {
        ListEntry::InnerList(list)
            if list
                .params
                .get("tag")
                .and_then(BareItem::as_string)
                .is_some_and(|t| t.as_str() == TAG) =>
        {
            Some((label, list))
        }
        _ => None,
    });
    let Some((label, list)) = tagged else {
        return Ok(None);
    };
    let signature = match sigs.get(label.as_str()) {
        Some(ListEntry::Item(Item {
            bare_item: BareItem::ByteSequence(b),
            ..
        })) => b.clone(),
        _ => return Err(Failure::Malformed),
    };
    let int = |name: &str| {
        list.params
            .get(name)
            .and_then(BareItem::as_integer)
            .map(i64::from)
            .ok_or(Failure::Malformed)
    };
    let string = |name: &str| -> Result<Option<String>, Failure> {
        match list.params.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_string()
                .map(|s| Some(s.as_str().to_owned()))
                .ok_or(Failure::Malformed),
        }
    };
    if let Some(alg) = string("alg")?
        && alg != "ed25519"
    {
        return Err(Failure::Unsupported);
    }
    let params = inner_list_text(list)?;
    Ok(Some(Parsed {
        components: list.clone(),
        params,
        signature,
        keyid: string("keyid")?.ok_or(Failure::Malformed)?,
        created: int("created")?,
        expires: int("expires")?,
        nonce: string("nonce")?,
    }))
}

/// The RFC 9421 signature base for `req` over `components`, ending with the
/// `@signature-params` line (`params`: the serialized inner list).
/// `signed_path` is the path exactly as the viewer sent it (still
/// percent-encoded: what the agent signed, never the canonical path the
/// rules see). The scheme is `https` (CloudFront's viewer protocol policy
/// redirects HTTP).
pub fn signature_base(
    req: &CfRequest,
    signed_path: &str,
    components: &InnerList,
    params: &str,
) -> Result<String, Failure> {
    let authority = || {
        // Read only for a request with a `signature-input` (every header
        // then crosses), so not one of `READ_HEADERS`.
        req.covered_header_values("host")
            .next()
            .map(|h| h.trim().to_ascii_lowercase())
            .map(|h| h.strip_suffix(":443").map(str::to_owned).unwrap_or(h))
            .ok_or(Failure::MissingComponent)
    };
    let path = || {
        if signed_path.is_empty() {
            "/".to_owned()
        } else {
            signed_path.to_owned()
        }
    };
    let query = || format!("?{}", req.querystring);
    let mut base = String::new();
    let mut seen: Vec<String> = Vec::new();
    for item in &components.items {
        let name = item
            .bare_item
            .as_string()
            .ok_or(Failure::Malformed)?
            .as_str();
        let rendered = Item::with_params(item.bare_item.clone(), item.params.clone()).serialize();
        if seen.contains(&rendered) {
            return Err(Failure::Malformed);
        }
        seen.push(rendered.clone());
        let value = if let Some(derived) = name.strip_prefix('@') {
            if !item.params.is_empty() {
                return Err(Failure::Unsupported);
            }
            match derived {
                "method" => req.method.clone(),
                "authority" => authority()?,
                "scheme" => "https".to_owned(),
                "path" => path(),
                "query" => query(),
                "request-target" => {
                    if req.querystring.is_empty() {
                        path()
                    } else {
                        format!("{}{}", path(), query())
                    }
                }
                "target-uri" => {
                    let q = if req.querystring.is_empty() {
                        String::new()
                    } else {
                        query()
                    };
                    format!("https://{}{}{q}", authority()?, path())
                }
                _ => return Err(Failure::Unsupported),
            }
        } else {
            if name.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(Failure::Malformed);
            }
            let field = joined(req, name).ok_or(Failure::MissingComponent)?;
            match item.params.iter().next() {
                None => field,
                Some((k, v)) if k.as_str() == "key" && item.params.len() == 1 => {
                    let key = v.as_string().ok_or(Failure::Malformed)?;
                    match dictionary_member(&field, key.as_str())?
                        .ok_or(Failure::MissingComponent)?
                    {
                        ListEntry::Item(i) => i.serialize(),
                        ListEntry::InnerList(l) => inner_list_text(&l)?,
                    }
                }
                Some(_) => return Err(Failure::Unsupported),
            }
        };
        if value.contains('\n') {
            return Err(Failure::Malformed);
        }
        base.push_str(&rendered);
        base.push_str(": ");
        base.push_str(&value);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(params);
    Ok(base)
}

/// The signature base an agent signs for `req`, given the inner list it will
/// send as its `Signature-Input` member (`("@authority" ...);created=...`):
/// for signing tools and tests.
pub fn base_for_input(req: &CfRequest, signed_path: &str, input: &str) -> Result<String, Failure> {
    let list: List = Parser::new(input)
        .parse_list()
        .map_err(|_| Failure::Malformed)?;
    let Some(ListEntry::InnerList(inner)) = list.first() else {
        return Err(Failure::Malformed);
    };
    signature_base(req, signed_path, inner, &inner_list_text(inner)?)
}

/// Verifies `signature` over `base` with the Ed25519 key `key`.
pub fn ed25519_verifies(key: &AgentKey, base: &str, signature: &[u8]) -> bool {
    if signature.len() != 64 {
        return false;
    }
    let sig = URL_SAFE_NO_PAD.encode(signature);
    jsonwebtoken::crypto::verify(&sig, base.as_bytes(), &key.key, Algorithm::EdDSA).unwrap_or(false)
}

/// The URL a `Signature-Agent` field names, for the component that covers
/// it: a string item, or the member `key` of a dictionary.
fn agent_url(req: &CfRequest, components: &InnerList) -> Result<Option<String>, Failure> {
    let Some(field) = joined(req, "signature-agent") else {
        return Ok(None);
    };
    let Some(item) = covered(components, "signature-agent") else {
        return Err(Failure::MissingComponent);
    };
    let url = match item.params.get("key").and_then(BareItem::as_string) {
        Some(key) => match dictionary_member(&field, key.as_str())? {
            Some(ListEntry::Item(i)) => i.bare_item.as_string().map(|s| s.as_str().to_owned()),
            _ => None,
        },
        None => Parser::new(&field)
            .parse_item::<Item>()
            .ok()
            .and_then(|i| i.bare_item.as_string().map(|s| s.as_str().to_owned())),
    };
    url.map(Some).ok_or(Failure::Malformed)
}

fn same_agent(configured: &str, claimed: &str) -> bool {
    let norm = |s: &str| s.trim_end_matches('/').to_ascii_lowercase();
    norm(configured) == norm(claimed)
}

/// Checks the request's Web Bot Auth signature at `now_s` (seconds);
/// `signed_path` as for [`signature_base`]. With `replay`, a nonce is
/// recorded and a repeated one refused; the host passes `None` when it
/// decides the same request a second time.
pub fn check<'a>(
    req: &CfRequest,
    signed_path: &str,
    agents: &'a [SignedAgent],
    now_s: i64,
    window: Window,
    replay: Option<&mut NonceCache>,
) -> Check<'a> {
    let parsed = match parse(req) {
        Ok(Some(p)) => p,
        Ok(None) => return Check::Unsigned,
        Err(f) => return Check::Failed(f),
    };
    match verify_parsed(req, signed_path, agents, now_s, window, replay, &parsed) {
        Ok(agent) => Check::Verified(agent),
        Err(f) => Check::Failed(f),
    }
}

#[inline(never)]
fn verify_parsed<'a>(
    req: &CfRequest,
    signed_path: &str,
    agents: &'a [SignedAgent],
    now_s: i64,
    window: Window,
    replay: Option<&mut NonceCache>,
    p: &Parsed,
) -> Result<&'a SignedAgent, Failure> {
    if covered(&p.components, "@authority").is_none()
        && covered(&p.components, "@target-uri").is_none()
    {
        return Err(Failure::MissingComponent);
    }
    let claimed = agent_url(req, &p.components)?;
    if p.created > now_s.saturating_add(window.leeway_s) {
        return Err(Failure::NotYetValid);
    }
    if p.expires < now_s.saturating_sub(window.leeway_s) {
        return Err(Failure::Expired);
    }
    if p.expires < p.created || p.expires - p.created > window.max_validity_s {
        return Err(Failure::TooLong);
    }
    let (agent, key) = match &claimed {
        Some(url) => {
            let agent = agents
                .iter()
                .find(|a| same_agent(&a.agent, url))
                .ok_or(Failure::UnknownAgent)?;
            (agent, agent.key(&p.keyid).ok_or(Failure::UnknownKey)?)
        }
        None => agents
            .iter()
            .find_map(|a| a.key(&p.keyid).map(|k| (a, k)))
            .ok_or(Failure::UnknownKey)?,
    };
    let base = signature_base(req, signed_path, &p.components, &p.params)?;
    if !ed25519_verifies(key, &base, &p.signature) {
        return Err(Failure::BadSignature);
    }
    if let (Some(cache), Some(nonce)) = (replay, &p.nonce)
        && !cache.fresh(
            &p.keyid,
            nonce,
            p.expires.saturating_add(window.leeway_s),
            now_s,
        )
    {
        return Err(Failure::Replayed);
    }
    Ok(agent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Header;

    fn req(headers: &[(&str, &str)]) -> CfRequest {
        CfRequest {
            client_ip: "203.0.113.9".into(),
            method: "GET".into(),
            uri: "/a/b".into(),
            querystring: "x=1".into(),
            headers: headers
                .iter()
                .map(|(n, v)| Header {
                    name: (*n).into(),
                    key: None,
                    value: (*v).into(),
                })
                .collect(),
        }
    }

    fn inner(input: &str) -> (InnerList, String) {
        let d: Dictionary = Parser::new(input).parse_dictionary().unwrap();
        let ListEntry::InnerList(l) = d.values().next().unwrap().clone() else {
            panic!("not an inner list")
        };
        let params = inner_list_text(&l).unwrap();
        (l, params)
    }

    #[test]
    fn derived_components_and_dictionary_members() {
        let r = req(&[
            ("host", "Example.COM:443"),
            ("signature-agent", "sig1=\"https://bot.example\", x=1"),
        ]);
        let (l, params) = inner(
            r#"s=("@method" "@authority" "@scheme" "@path" "@query" "@request-target" "@target-uri" "signature-agent";key="sig1");created=1;keyid="k""#,
        );
        let base = signature_base(&r, "/a/b", &l, &params).unwrap();
        assert_eq!(
            base,
            "\"@method\": GET\n\"@authority\": example.com\n\"@scheme\": https\n\"@path\": /a/b\n\"@query\": ?x=1\n\"@request-target\": /a/b?x=1\n\"@target-uri\": https://example.com/a/b?x=1\n\"signature-agent\";key=\"sig1\": \"https://bot.example\"\n\"@signature-params\": (\"@method\" \"@authority\" \"@scheme\" \"@path\" \"@query\" \"@request-target\" \"@target-uri\" \"signature-agent\";key=\"sig1\");created=1;keyid=\"k\""
        );
        for bad in [
            r#"s=("@status");created=1"#,
            r#"s=("@method" "@method");created=1"#,
            r#"s=("Host");created=1"#,
            r#"s=("host";sf);created=1"#,
            r#"s=("@path";req);created=1"#,
        ] {
            let (l, params) = inner(bad);
            assert!(signature_base(&r, "/a/b", &l, &params).is_err(), "{bad}");
        }
        let (l, params) = inner(r#"s=("accept");created=1"#);
        assert_eq!(
            signature_base(&r, "/a/b", &l, &params),
            Err(Failure::MissingComponent)
        );
    }

    #[test]
    fn thumbprint_is_rfc7638() {
        // RFC 8037 Appendix A.3: the thumbprint of its Ed25519 example key.
        assert_eq!(
            thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn nonces_are_remembered_within_their_window_and_bounded() {
        let mut c = NonceCache::new(2, HashKeys::new(1, 2));
        assert!(c.is_empty());
        assert_eq!(c.len(), 0);
        // Inside the window up to its last second, forgotten after.
        assert!(c.fresh("edge", "e", 100, 90));
        assert!(
            !c.fresh("edge", "e", 100, 100),
            "expires at 100: still a replay at 100"
        );
        assert!(c.fresh("edge", "e", 200, 101), "after it");
        assert!(!c.is_empty() && c.len() == 1);
        // When full, expired entries go first, then the one expiring first.
        let mut c = NonceCache::new(2, HashKeys::new(1, 2));
        assert!(c.fresh("a", "1", 100, 0));
        assert!(c.fresh("b", "1", 300, 0));
        assert!(
            c.fresh("c", "1", 400, 150),
            "full: a (expired at 100) makes room"
        );
        assert_eq!(c.len(), 2);
        assert!(!c.fresh("b", "1", 300, 150), "b was kept");
        assert!(
            c.fresh("d", "1", 500, 150),
            "full, none expired: b (300) makes room, not c (400)"
        );
        assert!(!c.fresh("c", "1", 400, 150), "c was kept");
        // A full cache drops every expired entry at once, and only then.
        let mut c = NonceCache::new(3, HashKeys::new(1, 2));
        assert!(c.fresh("a", "1", 100, 0));
        assert!(c.fresh("b", "1", 110, 0));
        assert!(c.fresh("c", "1", 500, 0));
        assert!(
            c.fresh("x", "1", 600, 200),
            "full at 200: a and b have expired"
        );
        assert_eq!(c.len(), 2, "both expired entries went, not just one");
        let mut c = NonceCache::new(3, HashKeys::new(1, 2));
        assert!(c.fresh("a", "1", 100, 0));
        assert!(c.fresh("b", "1", 600, 200));
        assert_eq!(c.len(), 2, "not full: the expired entry may wait");
        let mut c = NonceCache::new(2, HashKeys::new(1, 2));
        assert!(c.fresh("k", "n1", 100, 50));
        assert!(!c.fresh("k", "n1", 100, 60), "a replay inside the window");
        assert!(c.fresh("k2", "n1", 100, 60), "another key's nonce");
        assert!(c.fresh("k", "n1", 200, 101), "the old entry has expired");
        assert!(c.len() <= 2);
        assert!(c.fresh("k", "n3", 300, 101));
        assert!(c.len() <= 2);
        let mut off = NonceCache::new(0, HashKeys::new(1, 2));
        assert!(off.fresh("k", "n", 100, 0) && off.fresh("k", "n", 100, 0));
    }
}
