//! The JWT conformance suite: one case per rule of the JWT policy and per known
//! attack class, each with its expected reason and why. Tokens are built here
//! from raw header/payload JSON and signed with the test keys in
//! `tests/fixtures/keys/`, so malformed and hostile tokens are exact.
//! `jose_cross_check` runs every case through jose (npm) as well: they must
//! agree except on the cases marked `stricter`, which say why we refuse what
//! jose accepts.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use edge_auth_core::ConfigErrorKind;
use edge_auth_core::jwt::verify;
use edge_auth_core::{EdgeConfig, Reason};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use workspace_tests::{config_in, fixture, repo_root, signing_key};

pub const NOW: u64 = 1_800_000_000;
const LEEWAY: u64 = 30;
const ISS: &str = "https://issuer.test";
const HMAC_SECRET_B64: &str = "vzvRv-zay-LaV2Pc3P4HkCvRvQhCrrdZd5_gL1rIqUU";

pub fn config() -> EdgeConfig {
    let dir = fixture("conformance");
    config_in(
        &dir,
        &std::fs::read_to_string(dir.join("edge.toml")).unwrap(),
    )
    .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs `header.payload` (raw JSON text) with `key`.
fn signed(header: &str, payload: &str, alg: Algorithm, key: &EncodingKey) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{sig}")
}

fn es256() -> EncodingKey {
    signing_key(&fixture("keys/es256.key.pem"), Algorithm::ES256)
}

fn claims(extra: Value) -> String {
    let mut c = json!({ "iss": ISS, "aud": "edge-tests", "sub": "alice", "iat": NOW - 10, "exp": NOW + 3600 });
    if let (Some(obj), Value::Object(extra)) = (c.as_object_mut(), extra) {
        for (k, v) in extra {
            if v.is_null() {
                obj.remove(&k);
            } else {
                obj.insert(k, v);
            }
        }
    }
    c.to_string()
}

fn es(header_extra: Value, payload: &str) -> String {
    let mut h = json!({ "alg": "ES256", "kid": "es256-1", "typ": "JWT" });
    if let (Some(obj), Value::Object(extra)) = (h.as_object_mut(), header_extra) {
        for (k, v) in extra {
            if v.is_null() {
                obj.remove(&k);
            } else {
                obj.insert(k, v);
            }
        }
    }
    signed(&h.to_string(), payload, Algorithm::ES256, &es256())
}

/// One conformance case.
pub struct Case {
    pub name: &'static str,
    pub token: String,
    pub now: u64,
    pub expect: Result<(), Reason>,
    /// `Some(why)` when jose accepts a token we refuse on purpose.
    pub stricter: Option<&'static str>,
    pub why: &'static str,
}

fn case(name: &'static str, token: String, expect: Result<(), Reason>, why: &'static str) -> Case {
    Case {
        name,
        token,
        now: NOW,
        expect,
        stricter: None,
        why,
    }
}

fn stricter(mut c: Case, reason: &'static str) -> Case {
    c.stricter = Some(reason);
    c
}

fn at(mut c: Case, now: u64) -> Case {
    c.now = now;
    c
}

pub fn cases() -> Vec<Case> {
    use Reason::*;
    let good = claims(json!({}));
    let valid_es256 = es(json!({}), &good);
    let (vh, vp, vs) = {
        let p: Vec<&str> = valid_es256.split('.').collect();
        (p[0].to_owned(), p[1].to_owned(), p[2].to_owned())
    };
    let rs = signing_key(&fixture("keys/rs256.key.pem"), Algorithm::RS256);
    let rs_public_pem = {
        // The attacker's HMAC secret in an RS->HS confusion: the issuer's public key bytes.
        let jwks: Value =
            serde_json::from_str(&std::fs::read_to_string(fixture("keys/jwks.json")).unwrap())
                .unwrap();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == "rs256-1")
            .unwrap()
            .to_string()
            .into_bytes()
    };
    let hmac = EncodingKey::from_secret(&URL_SAFE_NO_PAD.decode(HMAC_SECRET_B64).unwrap());
    let hmac_claims = |extra: Value| {
        let mut c: Value = serde_json::from_str(&claims(extra)).unwrap();
        c["iss"] = json!("https://hmac.test");
        c["aud"] = json!("hmac-aud");
        c.to_string()
    };
    let exp_at = |exp: u64| claims(json!({ "exp": exp, "iat": exp - 100 }));

    vec![
        // --- valid tokens, one per algorithm family ---
        case(
            "valid-es256",
            valid_es256.clone(),
            Ok(()),
            "a well-formed ES256 token from the issuer's key",
        ),
        case(
            "valid-es384",
            signed(
                r#"{"alg":"ES384","kid":"es384-1"}"#,
                &good,
                Algorithm::ES384,
                &signing_key(&fixture("keys/es384.key.pem"), Algorithm::ES384),
            ),
            Ok(()),
            "P-384 key, ES384",
        ),
        case(
            "valid-rs256",
            signed(
                r#"{"alg":"RS256","kid":"rs256-1"}"#,
                &good,
                Algorithm::RS256,
                &rs,
            ),
            Ok(()),
            "2048-bit RSA key",
        ),
        case(
            "valid-eddsa",
            signed(
                r#"{"alg":"EdDSA","kid":"ed25519-1"}"#,
                &good,
                Algorithm::EdDSA,
                &signing_key(&fixture("keys/ed25519.key.pem"), Algorithm::EdDSA),
            ),
            Ok(()),
            "Ed25519 key",
        ),
        case(
            "valid-es256-rotated-key-without-alg",
            signed(
                r#"{"alg":"ES256","kid":"es256-2"}"#,
                &good,
                Algorithm::ES256,
                &signing_key(&fixture("keys/es256-b.key.pem"), Algorithm::ES256),
            ),
            Ok(()),
            "two keys at once (rotation); the JWK has no alg, its curve fixes ES256",
        ),
        case(
            "valid-hs256",
            signed(
                r#"{"alg":"HS256"}"#,
                &hmac_claims(json!({})),
                Algorithm::HS256,
                &hmac,
            ),
            Ok(()),
            "the HMAC issuer's configured secret",
        ),
        case(
            "valid-partner-issuer",
            signed(
                r#"{"alg":"ES256","kid":"partner-1"}"#,
                &json!({"iss":"https://partner.test","aud":"partner-aud","exp":NOW+60}).to_string(),
                Algorithm::ES256,
                &signing_key(
                    &fixture("keys/other-issuer-es256.key.pem"),
                    Algorithm::ES256,
                ),
            ),
            Ok(()),
            "a second issuer with its own audience and keys",
        ),
        case(
            "aud-array-containing-ours",
            es(
                json!({}),
                &claims(json!({"aud": ["other", "edge-tests-2"]})),
            ),
            Ok(()),
            "aud may be an array; one entry must be ours",
        ),
        // --- alg none and friends ---
        case(
            "alg-none-empty-signature",
            format!("{}.{vp}.", b64(br#"{"alg":"none"}"#)),
            Err(TokenMalformed),
            "unsecured JWS: no signature part at all",
        ),
        case(
            "alg-none-with-signature",
            format!("{}.{vp}.{vs}", b64(br#"{"alg":"none","kid":"es256-1"}"#)),
            Err(AlgNotAllowed),
            "none is never allowed",
        ),
        case(
            "alg-None-case-variant",
            format!("{}.{vp}.{vs}", b64(br#"{"alg":"None","kid":"es256-1"}"#)),
            Err(AlgNotAllowed),
            "alg names are case-sensitive",
        ),
        case(
            "alg-NONE-case-variant",
            format!("{}.{vp}.{vs}", b64(br#"{"alg":"NONE","kid":"es256-1"}"#)),
            Err(AlgNotAllowed),
            "alg names are case-sensitive",
        ),
        case(
            "alg-lowercase-es256",
            format!("{}.{vp}.{vs}", b64(br#"{"alg":"es256","kid":"es256-1"}"#)),
            Err(AlgNotAllowed),
            "es256 is not ES256",
        ),
        case(
            "alg-missing",
            format!("{}.{vp}.{vs}", b64(br#"{"kid":"es256-1"}"#)),
            Err(TokenMalformed),
            "alg is required",
        ),
        // --- algorithm confusion ---
        case(
            "rs-to-hs-confusion-public-key-as-secret",
            signed(
                r#"{"alg":"HS256","kid":"rs256-1"}"#,
                &good,
                Algorithm::HS256,
                &EncodingKey::from_secret(&rs_public_pem),
            ),
            Err(AlgNotAllowed),
            "HS256 is not in this issuer's allowlist; HMAC keys never come from the JWK Set",
        ),
        case(
            "hs256-wrong-secret",
            signed(
                r#"{"alg":"HS256"}"#,
                &hmac_claims(json!({})),
                Algorithm::HS256,
                &EncodingKey::from_secret(b"another secret that is 32 bytes!"),
            ),
            Err(BadSignature),
            "the HMAC issuer verifies with its own secret only",
        ),
        case(
            "ps256-with-rs256-pinned-key",
            signed(
                r#"{"alg":"PS256","kid":"rs256-1"}"#,
                &good,
                Algorithm::PS256,
                &rs,
            ),
            Err(AlgKeyMismatch),
            "the JWK's alg pins the key to RS256",
        ),
        case(
            "es384-on-p256-key",
            signed(
                r#"{"alg":"ES384","kid":"es256-2"}"#,
                &good,
                Algorithm::ES384,
                &signing_key(&fixture("keys/es384.key.pem"), Algorithm::ES384),
            ),
            Err(AlgKeyMismatch),
            "the key's curve fixes the algorithm",
        ),
        // --- kid ---
        case(
            "kid-missing",
            signed(r#"{"alg":"ES256"}"#, &good, Algorithm::ES256, &es256()),
            Err(KidRequired),
            "several keys exist: the token must say which",
        ),
        stricter(
            case(
                "kid-missing-single-key-issuer",
                signed(
                    r#"{"alg":"ES256"}"#,
                    &json!({"iss":"https://partner.test","aud":"partner-aud","exp":NOW+60})
                        .to_string(),
                    Algorithm::ES256,
                    &signing_key(
                        &fixture("keys/other-issuer-es256.key.pem"),
                        Algorithm::ES256,
                    ),
                ),
                Err(KidRequired),
                "asymmetric tokens must name their key, even where the issuer has one",
            ),
            "jose uses the only matching key when kid is absent; we require kid so a second key added at rotation never changes which key verifies",
        ),
        case(
            "kid-unknown",
            es(json!({"kid": "es256-9"}), &good),
            Err(UnknownKid),
            "no key with that kid",
        ),
        case(
            "kid-path-traversal",
            es(json!({"kid": "../../../../../../dev/null"}), &good),
            Err(UnknownKid),
            "kid is compared as an opaque string, never a path",
        ),
        case(
            "kid-sql-injection",
            es(json!({"kid": "x' UNION SELECT 'secret"}), &good),
            Err(UnknownKid),
            "kid is never interpreted",
        ),
        case(
            "kid-prefix-of-real",
            es(json!({"kid": "es256-1/../es256-1"}), &good),
            Err(UnknownKid),
            "exact match only",
        ),
        case(
            "kid-not-a-string",
            es(json!({"kid": 1}), &good),
            Err(TokenMalformed),
            "kid must be a string",
        ),
        case(
            "kid-weak-rsa-1024",
            signed(
                r#"{"alg":"RS256","kid":"rsa1024-weak"}"#,
                &good,
                Algorithm::RS256,
                &signing_key(&fixture("keys/rsa1024.key.pem"), Algorithm::RS256),
            ),
            Err(UnknownKid),
            "RSA keys under 2048 bits are skipped at load",
        ),
        case(
            "kid-enc-key",
            es(json!({"kid": "es256-enc"}), &good),
            Err(UnknownKid),
            "a JWK with use=enc is skipped at load",
        ),
        case(
            "kid-of-other-issuer",
            es(json!({"kid": "partner-1"}), &good),
            Err(UnknownKid),
            "keys never cross issuers",
        ),
        case(
            "partner-claims-signed-by-primary-key",
            es(
                json!({}),
                &json!({"iss":"https://partner.test","aud":"partner-aud","exp":NOW+60}).to_string(),
            ),
            Err(UnknownKid),
            "the partner issuer does not know the primary issuer's keys",
        ),
        // --- header-supplied keys and extensions ---
        stricter(
            case(
                "embedded-jwk",
                es(
                    json!({"jwk": {"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}),
                    &good,
                ),
                Err(HeaderKeyRefused),
                "keys never come from the token",
            ),
            "jose ignores jwk when given a key set; we refuse a token that tries",
        ),
        stricter(
            case(
                "embedded-jku",
                es(json!({"jku": "https://attacker.example/jwks.json"}), &good),
                Err(HeaderKeyRefused),
                "never fetch keys a token names",
            ),
            "jose ignores jku; we refuse it",
        ),
        stricter(
            case(
                "embedded-x5u",
                es(json!({"x5u": "https://attacker.example/cert.pem"}), &good),
                Err(HeaderKeyRefused),
                "never fetch certificates a token names",
            ),
            "jose ignores x5u; we refuse it",
        ),
        stricter(
            case(
                "embedded-x5c",
                es(json!({"x5c": ["MIIB"]}), &good),
                Err(HeaderKeyRefused),
                "never trust a certificate chain from the token",
            ),
            "jose ignores x5c; we refuse it",
        ),
        case(
            "crit-unknown-extension",
            es(json!({"crit": ["exp"], "exp": 1}), &good),
            Err(CritUnsupported),
            "RFC 7515 4.1.11: unknown critical extensions must be refused",
        ),
        case(
            "crit-empty",
            es(json!({"crit": []}), &good),
            Err(CritUnsupported),
            "an empty crit is invalid",
        ),
        // --- time claims at the leeway boundaries ---
        case(
            "exp-just-inside-leeway",
            exp_at(NOW - LEEWAY + 1),
            Ok(()),
            "now = exp + leeway - 1",
        )
        .map_token(|p| es(json!({}), &p)),
        case(
            "exp-at-leeway",
            exp_at(NOW - LEEWAY),
            Err(TokenExpired),
            "now = exp + leeway: expired (jsonwebtoken alone accepts this one)",
        )
        .map_token(|p| es(json!({}), &p)),
        case(
            "exp-missing",
            es(json!({}), &claims(json!({"exp": null}))),
            Err(ExpMissing),
            "every token must expire",
        )
        .with_stricter(
            "jose does not require exp unless asked; tokens without expiry are refused here",
        ),
        case(
            "exp-string",
            es(json!({}), &claims(json!({"exp": "1800003600"}))),
            Err(ExpMissing),
            "NumericDate is a JSON number",
        ),
        case(
            "nbf-at-leeway",
            es(json!({}), &claims(json!({"nbf": NOW + LEEWAY}))),
            Ok(()),
            "now = nbf - leeway: valid",
        ),
        case(
            "nbf-beyond-leeway",
            es(json!({}), &claims(json!({"nbf": NOW + LEEWAY + 1}))),
            Err(TokenNotYetValid),
            "now < nbf - leeway",
        ),
        case(
            "iat-at-leeway",
            es(json!({}), &claims(json!({"iat": NOW + LEEWAY}))),
            Ok(()),
            "iat = now + leeway: accepted",
        ),
        stricter(
            case(
                "iat-in-future",
                es(json!({}), &claims(json!({"iat": NOW + LEEWAY + 1}))),
                Err(BadIssuedAt),
                "issued after now + leeway",
            ),
            "jose only checks iat with maxTokenAge; a token from the future is refused here",
        ),
        case(
            "iat-string",
            es(json!({}), &claims(json!({"iat": "yesterday"}))),
            Err(BadIssuedAt),
            "iat must be a number",
        ),
        at(
            case(
                "max-age-exceeded",
                signed(
                    r#"{"alg":"HS256"}"#,
                    &hmac_claims(json!({"iat": NOW - 601})),
                    Algorithm::HS256,
                    &hmac,
                ),
                Err(TokenTooOld),
                "the HMAC issuer allows tokens up to 600 s old",
            ),
            NOW,
        ),
        // --- audience and issuer ---
        case(
            "aud-other",
            es(json!({}), &claims(json!({"aud": "someone-else"}))),
            Err(BadAudience),
            "not our audience",
        ),
        case(
            "aud-array-without-ours",
            es(json!({}), &claims(json!({"aud": ["a", "b"]}))),
            Err(BadAudience),
            "no entry is ours",
        ),
        case(
            "aud-empty-array",
            es(json!({}), &claims(json!({"aud": []}))),
            Err(BadAudience),
            "an empty audience list names nobody",
        ),
        case(
            "aud-missing",
            es(json!({}), &claims(json!({"aud": null}))),
            Err(BadAudience),
            "aud is required",
        ),
        case(
            "aud-number",
            es(json!({}), &claims(json!({"aud": [1]}))),
            Err(BadAudience),
            "aud entries are strings",
        ),
        case(
            "iss-missing",
            es(json!({}), &claims(json!({"iss": null}))),
            Err(UnknownIssuer),
            "iss selects the issuer",
        ),
        case(
            "iss-trailing-slash",
            es(json!({}), &claims(json!({"iss": "https://issuer.test/"}))),
            Err(UnknownIssuer),
            "exact string comparison",
        ),
        case(
            "iss-case-variant",
            es(json!({}), &claims(json!({"iss": "https://ISSUER.test"}))),
            Err(UnknownIssuer),
            "exact string comparison",
        ),
        case(
            "iss-array",
            es(json!({}), &claims(json!({"iss": ["https://issuer.test"]}))),
            Err(UnknownIssuer),
            "iss is a single string (jsonwebtoken alone accepts an array)",
        ),
        case(
            "required-claim-missing",
            es(json!({}), &claims(json!({"sub": null}))),
            Err(MissingClaim),
            "the issuer requires sub",
        ),
        // --- signature tampering ---
        case(
            "tampered-payload",
            format!(
                "{vh}.{}.{vs}",
                b64(claims(json!({"sub": "admin"})).as_bytes())
            ),
            Err(BadSignature),
            "payload changed after signing",
        ),
        case(
            "tampered-header",
            format!(
                "{}.{vp}.{vs}",
                b64(br#"{"alg":"ES256","kid":"es256-1","typ":"at+jwt"}"#)
            ),
            Err(BadSignature),
            "the header is signed too",
        ),
        case(
            "swapped-signature",
            {
                let other = es(json!({}), &claims(json!({"sub": "bob"})));
                format!("{vh}.{vp}.{}", other.rsplit('.').next().unwrap())
            },
            Err(BadSignature),
            "a valid signature from another token",
        ),
        case(
            "psychic-ecdsa-zero-signature",
            format!("{vh}.{vp}.{}", b64(&[0u8; 64])),
            Err(BadSignature),
            "r = s = 0 (CVE-2022-21449)",
        ),
        case(
            "psychic-ecdsa-r-zero",
            format!("{vh}.{vp}.{}", b64(&[[0u8; 32], [1u8; 32]].concat())),
            Err(BadSignature),
            "r = 0",
        ),
        case(
            "ecdsa-der-signature",
            format!(
                "{vh}.{vp}.{}",
                b64(&der(&URL_SAFE_NO_PAD.decode(&vs).unwrap()))
            ),
            Err(BadSignature),
            "JWS uses raw R||S, never DER",
        ),
        case(
            "signature-truncated",
            format!(
                "{vh}.{vp}.{}",
                b64(&URL_SAFE_NO_PAD.decode(&vs).unwrap()[..60])
            ),
            Err(BadSignature),
            "60 bytes instead of 64",
        ),
        // --- encoding ---
        case(
            "base64-padding",
            format!("{vh}=.{vp}.{vs}"),
            Err(TokenMalformed),
            "base64url in JWS has no padding",
        ),
        case(
            "base64-standard-alphabet",
            format!("{vh}.{vp}.{}", vs.replace('-', "+").replace('_', "/")),
            Err(TokenMalformed),
            "'+' and '/' are not base64url",
        ),
        stricter(
            case(
                "base64-whitespace",
                format!("{vh}.{vp}.{} ", vs),
                Err(TokenMalformed),
                "no whitespace inside a token",
            ),
            "Node's base64 decoder skips whitespace",
        ),
        stricter(
            case(
                "base64-non-canonical",
                format!("{vh}.{vp}.{}", non_canonical(&vs)),
                Err(TokenMalformed),
                "the unused low bits of the last character must be zero",
            ),
            "Node's base64 decoder ignores the unused bits, so the same signature has several spellings",
        ),
        stricter(
            case(
                "json-duplicate-header-member",
                signed(
                    r#"{"alg":"ES256","kid":"es256-1","kid":"es256-1"}"#,
                    &good,
                    Algorithm::ES256,
                    &es256(),
                ),
                Err(TokenMalformed),
                "duplicate member names (RFC 7515 4)",
            ),
            "JSON.parse keeps the last duplicate",
        ),
        stricter(
            case(
                "json-duplicate-claim",
                es(
                    json!({}),
                    &good.replacen(
                        "\"sub\":\"alice\"",
                        "\"sub\":\"alice\",\"sub\":\"admin\"",
                        1,
                    ),
                ),
                Err(TokenMalformed),
                "which sub would the origin see?",
            ),
            "JSON.parse keeps the last duplicate",
        ),
        stricter(
            case(
                "json-bom",
                signed(
                    "\u{feff}{\"alg\":\"ES256\",\"kid\":\"es256-1\"}",
                    &good,
                    Algorithm::ES256,
                    &es256(),
                ),
                Err(TokenMalformed),
                "a byte-order mark is not JSON",
            ),
            "TextDecoder strips the BOM before JSON.parse",
        ),
        case(
            "header-not-object",
            format!("{}.{vp}.{vs}", b64(b"[\"ES256\"]")),
            Err(TokenMalformed),
            "the header is a JSON object",
        ),
        case(
            "two-parts",
            format!("{vh}.{vp}"),
            Err(TokenMalformed),
            "JWS compact has three parts",
        ),
        case(
            "five-parts-jwe",
            format!("{vh}.{vp}.{vs}.a.b"),
            Err(TokenMalformed),
            "JWE is not accepted",
        ),
        stricter(
            case(
                "b64-false-header",
                es(json!({"b64": false}), &good),
                Err(TokenMalformed),
                "RFC 7797 unencoded payloads need crit, which is refused",
            ),
            "jose ignores b64 unless crit lists it; we refuse a header whose meaning depends on the reader",
        ),
        stricter(
            case(
                "oversize-token",
                es(json!({}), &claims(json!({"pad": "x".repeat(9000)}))),
                Err(TokenTooLarge),
                "over 8 KB: refused before any parsing",
            ),
            "jose has no size limit",
        ),
    ]
}

impl Case {
    fn map_token(mut self, f: impl FnOnce(String) -> String) -> Case {
        self.token = f(self.token);
        self
    }
    fn with_stricter(self, why: &'static str) -> Case {
        stricter(self, why)
    }
}

/// Wraps raw R||S as an ASN.1 DER ECDSA-Sig-Value.
fn der(raw: &[u8]) -> Vec<u8> {
    let int = |x: &[u8]| {
        let x: Vec<u8> = x.iter().copied().skip_while(|&b| b == 0).collect();
        let mut v = if x.first().is_some_and(|&b| b >= 0x80) {
            vec![0]
        } else {
            vec![]
        };
        v.extend(x);
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [int(r), int(s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// The same bytes with non-zero unused bits in the last base64url character.
fn non_canonical(s: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = s.as_bytes()[s.len() - 1];
    let idx = ALPHABET.iter().position(|&c| c == last).unwrap();
    // A 64-byte signature is 86 characters; the last carries 2 data bits and
    // 4 unused bits. Flipping the lowest bit changes only an unused bit.
    let bumped = ALPHABET[idx ^ 1];
    format!("{}{}", &s[..s.len() - 1], bumped as char)
}

#[test]
fn conformance_suite() {
    let cfg = config();
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() >= 60, "{}", all.len());
    for c in &all {
        let got = verify(&c.token, cfg.issuers(), c.now).map(|_| ());
        if got != c.expect {
            failures.push(format!(
                "{}: expected {:?}, got {:?} ({})",
                c.name, c.expect, got, c.why
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn config_refuses_weak_or_inconsistent_settings() {
    let dir = fixture("conformance");
    let base = std::fs::read_to_string(dir.join("edge.toml")).unwrap();
    // Each refusal: its kind, the key it is about, the line of that key.
    let refused = |text: String, kind: ConfigErrorKind, key: &str| {
        let e = config_in(&dir, &text).unwrap_err();
        assert_eq!((e.kind, e.key.as_str()), (kind, key), "{e}");
        e
    };
    let e = refused(
        base.replace(HMAC_SECRET_B64, "1tU5NaVLVZa7-ORknTwaB1irXEU"),
        ConfigErrorKind::Invalid,
        "issuers[2].hmac_secret",
    );
    let line = base
        .lines()
        .position(|l| l.starts_with("hmac_secret"))
        .unwrap()
        + 1;
    assert_eq!(e.line, Some(line), "{e}");
    refused(
        base.replace("algorithms = [\"HS256\"]", "algorithms = [\"none\"]"),
        ConfigErrorKind::Invalid,
        "issuers[2].algorithms",
    );
    // Unknown keys are the parser's (with its own line and column).
    let e = refused(
        base.replacen("leeway_seconds = 30", "leeway_seconds = 30\nleway = 1", 1),
        ConfigErrorKind::Syntax,
        "",
    );
    assert!(e.message.contains("leway"), "{e}");
    refused(
        base.replace(
            "jwks_file = \"../keys/partner-jwks.json\"",
            "jwks_file = \"../keys/missing.json\"",
        ),
        ConfigErrorKind::File,
        "issuers[1].jwks_file",
    );
    refused(
        base.replacen(
            "[[issuers]]\nissuer = \"https://partner.test\"",
            "[[issuers]]\nissuer = \"https://issuer.test\"",
            1,
        ),
        ConfigErrorKind::Conflict,
        "issuers[1].issuer",
    );
    refused(
        format!(
            "[jwt]\nissuer = \"x\"\naudience = \"a\"\nalgorithms = [\"RS256\"]\njwks_file = \"../keys/jwks.json\"\n{base}"
        ),
        ConfigErrorKind::Conflict,
        "issuers",
    );
    refused(
        "[rate_limit]\nburst = 1\n".into(),
        ConfigErrorKind::Missing,
        "jwt",
    );
    // The weak RSA key and the enc key are skipped with a warning, never used.
    let cfg = config();
    let warnings = cfg.warnings.join("\n");
    assert!(
        warnings.contains("rsa1024-weak") && warnings.contains("1024 bits"),
        "{warnings}"
    );
    assert!(
        warnings.contains("es256-enc") && warnings.contains("\"enc\""),
        "{warnings}"
    );
}

/// Runs every case through jose (Node.js, the pinned npm package) and compares.
#[test]
fn jose_cross_check() {
    let root = repo_root();
    assert!(
        root.join("node_modules/jose").is_dir(),
        "node_modules/jose missing: run `npm ci` at the repository root"
    );
    let dir = fixture("conformance");
    let toml: toml_issuers::Issuers = toml_issuers::read(&dir.join("edge.toml"));
    let all = cases();
    let input = json!({
        "issuers": toml.issuers.iter().map(|i| json!({
            "issuer": i.issuer,
            "audience": i.audience,
            "algorithms": i.algorithms,
            "leeway": i.leeway_seconds,
            "jwks": i.jwks_file.as_ref().map(|f| serde_json::from_str::<Value>(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap()),
            "hmacSecret": i.hmac_secret,
            "maxAge": i.max_age_seconds,
            "requiredClaims": i.required_claims,
        })).collect::<Vec<_>>(),
        "cases": all.iter().map(|c| json!({ "name": c.name, "token": c.token, "now": c.now })).collect::<Vec<_>>(),
    });
    let mut child = std::process::Command::new("node")
        .arg(root.join("tests/jose/crosscheck.mjs"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node must be installed");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "crosscheck.mjs failed");
    let jose: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut problems = Vec::new();
    for c in &all {
        let jose_ok = jose[c.name]["ok"].as_bool().unwrap();
        let ours_ok = c.expect.is_ok();
        match c.stricter {
            None if jose_ok != ours_ok => problems.push(format!(
                "{}: jose {} ({}), we {}",
                c.name,
                verdict(jose_ok),
                jose[c.name]["error"],
                verdict(ours_ok)
            )),
            Some(why) if !jose_ok || ours_ok => problems.push(format!(
                "{}: marked stricter ({why}) but jose {} and we {}",
                c.name,
                verdict(jose_ok),
                verdict(ours_ok)
            )),
            _ => {}
        }
    }
    assert!(
        problems.is_empty(),
        "disagreements with jose:\n{}",
        problems.join("\n")
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "accept" } else { "refuse" }
}

mod toml_issuers {
    //! Reads the conformance config's issuers for the jose side.
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Issuers {
        pub issuers: Vec<Issuer>,
    }

    #[derive(Deserialize)]
    pub struct Issuer {
        pub issuer: String,
        pub audience: serde_json::Value,
        pub algorithms: Vec<String>,
        pub leeway_seconds: u64,
        pub jwks_file: Option<String>,
        pub hmac_secret: Option<String>,
        pub max_age_seconds: Option<u64>,
        #[serde(default)]
        pub required_claims: Vec<String>,
    }

    pub fn read(path: &std::path::Path) -> Issuers {
        toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}
