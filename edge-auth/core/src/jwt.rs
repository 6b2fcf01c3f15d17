//! JWT verification: strict JWS compact parsing, issuer and key selection,
//! signature math (jsonwebtoken's crypto underneath) and claim checks. Every
//! failure is a [`Reason`], never a panic or an error.
//!
//! Stricter than jsonwebtoken alone, which this module wraps: `iss` must be a
//! single string naming a configured issuer whose keys alone are used; `crit`
//! is refused; `iat` is checked; `exp` is refused at exactly exp + leeway; `nbf`
//! is always checked; a JWK's `use`/`alg` are honoured; keys named by the token
//! (`jku`, `jwk`, `x5u`, `x5c`) are refused; base64url must be canonical with no
//! padding; duplicate JSON member names and byte-order marks are refused; ECDSA
//! signatures must be raw R‖S of the exact length with r, s ≠ 0.

use jsonwebtoken::Algorithm;

use crate::json::Json;
use crate::keys::{KeyKind, VerifyKey, b64url};
use crate::reason::Reason;
use crate::text::split_byte;

/// Tokens longer than this are refused before any parsing work.
pub const MAX_TOKEN_BYTES: usize = 8192;
/// Longest `kid` accepted.
pub const MAX_KID_BYTES: usize = 256;

/// One trusted issuer: its audience, algorithms and keys. Keys never cross issuers.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// Exact `iss` value.
    pub issuer: String,
    /// Accepted header `typ` values (e.g. `JWT`, `at+jwt` of RFC 9068), when
    /// checked: compared case-insensitively without `application/`; a token
    /// without `typ` is then refused.
    pub typ: Option<Vec<String>>,
    /// Accepted audiences: the token's `aud` must contain one.
    pub audiences: Vec<String>,
    /// Allowed algorithms.
    pub algorithms: Vec<Algorithm>,
    /// Clock-skew allowance for exp, nbf and iat.
    pub leeway_s: u64,
    /// Refuse tokens whose `iat` is older than this.
    pub max_age_s: Option<u64>,
    /// Claims that must be present.
    pub required_claims: Vec<String>,
    /// Asymmetric keys (from the JWK Set).
    pub keys: Vec<VerifyKey>,
    /// The HMAC key, when HS* is allowed.
    pub hmac: Option<VerifyKey>,
    /// How many of `keys` are baked in (the rest came from `remote`).
    pub baked_keys: usize,
    /// Where to fetch more keys at run time, if anywhere.
    pub remote: Option<RemoteJwks>,
}

/// A JWK Set the host fetches at run time (the Node side of the bundle), with
/// a timeout and a cache; fetched keys join the baked ones, never replace them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteJwks {
    /// https URL (or http on loopback, for development).
    pub url: String,
    /// Refetch after this long.
    pub cache_s: u64,
    /// Never refetch more often than this, even on an unknown `kid`.
    pub min_refresh_s: u64,
    /// Give up a fetch after this long.
    pub timeout_ms: u64,
    /// Refuse a fetched body larger than this (the keys held are kept).
    pub max_bytes: u64,
    /// Drop the fetched keys (never the baked ones) when no fetch has
    /// succeeded for this long: a revoked key must not live forever because
    /// the issuer became unreachable.
    pub max_stale_s: u64,
}

/// The time claims of a verified token, re-checked on every cache hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Times {
    /// `exp`.
    pub exp: f64,
    /// `nbf`, when present.
    pub nbf: Option<f64>,
    /// `iat`, when present.
    pub iat: Option<f64>,
}

/// A token that verified: which issuer, its claims and times.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// Index into the issuer list.
    pub issuer: usize,
    /// The claims object.
    pub claims: Json,
    /// exp / nbf / iat.
    pub times: Times,
}

/// Verifies `token` against `issuers` at `now_unix_s`.
pub fn verify(token: &str, issuers: &[Issuer], now_unix_s: u64) -> Result<Verified, Reason> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Reason::TokenTooLarge);
    }
    let mut parts = split_byte::<b'.'>(token);
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Reason::TokenMalformed);
    };
    if h64.is_empty() || p64.is_empty() || s64.is_empty() {
        return Err(Reason::TokenMalformed);
    }
    let header = decode_object(h64)?;
    if header.get("crit").is_some() {
        return Err(Reason::CritUnsupported);
    }
    if ["jku", "jwk", "x5u", "x5c"]
        .iter()
        .any(|k| header.get(k).is_some())
    {
        return Err(Reason::HeaderKeyRefused);
    }
    if header.get("b64").is_some() {
        // RFC 7797 unencoded payloads need `crit`, which is refused above.
        return Err(Reason::TokenMalformed);
    }
    let alg_name = header
        .get("alg")
        .and_then(Json::as_str)
        .ok_or(Reason::TokenMalformed)?;
    let kid = match header.get("kid") {
        None => None,
        Some(Json::String(k)) if !k.is_empty() && k.len() <= MAX_KID_BYTES => Some(k.as_str()),
        Some(_) => return Err(Reason::TokenMalformed),
    };
    let claims = decode_object(p64)?;

    let iss = claims
        .get("iss")
        .and_then(Json::as_str)
        .ok_or(Reason::UnknownIssuer)?;
    let (index, issuer) = issuers
        .iter()
        .enumerate()
        .find(|(_, i)| i.issuer == iss)
        .ok_or(Reason::UnknownIssuer)?;
    if let Some(accepted) = &issuer.typ {
        let typ = header
            .get("typ")
            .and_then(Json::as_str)
            .ok_or(Reason::TypNotAllowed)?;
        if !accepted.iter().any(|a| same_typ(a, typ)) {
            return Err(Reason::TypNotAllowed);
        }
    }
    let alg: Algorithm = alg_name.parse().map_err(|_| Reason::AlgNotAllowed)?;
    if !issuer.algorithms.contains(&alg) {
        return Err(Reason::AlgNotAllowed);
    }
    let key = select_key(issuer, alg, kid)?;

    // The cheap claim checks first: an expired, foreign or incomplete token is
    // refused without paying for signature math (the cheapest rejection for a
    // flood of stale tokens). Nothing is accepted before the signature verifies.
    check_audience(&claims, issuer)?;
    let times = read_times(&claims)?;
    check_times(times, issuer, now_unix_s)?;
    if issuer
        .required_claims
        .iter()
        .any(|c| claims.get(c).is_none_or(|v| *v == Json::Null))
    {
        return Err(Reason::MissingClaim);
    }

    let signature = b64url(s64).ok_or(Reason::TokenMalformed)?;
    if signature.len() != key.kind.signature_len(alg) {
        return Err(Reason::BadSignature);
    }
    if matches!(alg, Algorithm::ES256 | Algorithm::ES384) {
        let (r, s) = signature.split_at(signature.len() / 2);
        if r.iter().all(|&b| b == 0) || s.iter().all(|&b| b == 0) {
            return Err(Reason::BadSignature);
        }
    }
    let message_len = h64.len() + 1 + p64.len();
    let message = &token.as_bytes()[..message_len];
    match jsonwebtoken::crypto::verify(s64, message, &key.key, alg) {
        Ok(true) => {}
        _ => return Err(Reason::BadSignature),
    }

    Ok(Verified {
        issuer: index,
        claims,
        times,
    })
}

/// RFC 7515 §4.1.9: media types compare case-insensitively, and
/// `application/` may be left out.
fn same_typ(a: &str, b: &str) -> bool {
    fn bare(t: &str) -> &str {
        match t.get(..12) {
            Some(p) if p.eq_ignore_ascii_case("application/") => &t[12..],
            _ => t,
        }
    }
    bare(a).eq_ignore_ascii_case(bare(b))
}

fn decode_object(part: &str) -> Result<Json, Reason> {
    let bytes = b64url(part).ok_or(Reason::TokenMalformed)?;
    match Json::parse(&bytes) {
        Ok(v @ Json::Object(_)) => Ok(v),
        _ => Err(Reason::TokenMalformed),
    }
}

fn select_key<'i>(
    issuer: &'i Issuer,
    alg: Algorithm,
    kid: Option<&str>,
) -> Result<&'i VerifyKey, Reason> {
    if KeyKind::Hmac.verifies(alg) {
        // The configured secret only; never a key from the JWK Set (RS/HS confusion).
        return issuer.hmac.as_ref().ok_or(Reason::AlgNotAllowed);
    }
    let kid = kid.ok_or(Reason::KidRequired)?;
    let key = issuer
        .keys
        .iter()
        .find(|k| k.kid.as_deref() == Some(kid))
        .ok_or(Reason::UnknownKid)?;
    if !key.accepts(alg) {
        return Err(Reason::AlgKeyMismatch);
    }
    Ok(key)
}

fn check_audience(claims: &Json, issuer: &Issuer) -> Result<(), Reason> {
    let ok = |a: &str| issuer.audiences.iter().any(|c| c == a);
    match claims.get("aud") {
        Some(Json::String(a)) if ok(a) => Ok(()),
        Some(Json::Array(list))
            if list.iter().all(|v| v.as_str().is_some())
                && list.iter().filter_map(Json::as_str).any(ok) =>
        {
            Ok(())
        }
        _ => Err(Reason::BadAudience),
    }
}

fn read_times(claims: &Json) -> Result<Times, Reason> {
    let exp = claims
        .get("exp")
        .ok_or(Reason::ExpMissing)?
        .as_f64()
        .ok_or(Reason::ExpMissing)?;
    let nbf = match claims.get("nbf") {
        None => None,
        Some(v) => Some(v.as_f64().ok_or(Reason::TokenNotYetValid)?),
    };
    let iat = match claims.get("iat") {
        None => None,
        Some(v) => Some(v.as_f64().ok_or(Reason::BadIssuedAt)?),
    };
    Ok(Times { exp, nbf, iat })
}

/// The time checks, shared by a fresh verification and a cache hit.
pub fn check_times(t: Times, issuer: &Issuer, now_unix_s: u64) -> Result<(), Reason> {
    let now = now_unix_s as f64;
    let leeway = issuer.leeway_s as f64;
    if now >= t.exp + leeway {
        return Err(Reason::TokenExpired);
    }
    if let Some(nbf) = t.nbf
        && now < nbf - leeway
    {
        return Err(Reason::TokenNotYetValid);
    }
    if let Some(iat) = t.iat
        && iat > now + leeway
    {
        return Err(Reason::BadIssuedAt);
    }
    if let Some(max_age) = issuer.max_age_s {
        let iat = t.iat.ok_or(Reason::BadIssuedAt)?;
        if now > iat + max_age as f64 + leeway {
            return Err(Reason::TokenTooOld);
        }
    }
    Ok(())
}
