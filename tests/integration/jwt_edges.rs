//! The JWT checks at their exact boundaries, where cargo-mutants showed the
//! property and conformance suites did not look: the size limit, empty
//! parts, the `kid` length, `typ` comparison, and the bot verdict's public
//! entry point; each assertion names the reason the policy gives.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use edge_auth_core::jwt::{MAX_KID_BYTES, MAX_TOKEN_BYTES, verify};
use edge_auth_core::{EdgeConfig, Reason};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use workspace_tests::{config_in, fixture};

const NOW: u64 = 1_800_000_000;

fn config(extra: &str) -> EdgeConfig {
    let toml = format!(
        "[jwt]\nissuer = \"https://issuer.test\"\naudience = \"edge-tests\"\nalgorithms = [\"ES256\"]\njwks_file = \"jwks.json\"\n{extra}"
    );
    config_in(&fixture("keys"), &toml).unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// The claims every token here carries, plus `extra`.
fn claims(extra: &Value) -> Value {
    let mut c = json!({"iss": "https://issuer.test", "aud": "edge-tests", "sub": "alice", "exp": NOW + 600});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

/// A token signed by the fixture's `es256-1` key with this header.
fn signed(header: Value) -> String {
    signed_with(header, &json!({}))
}

/// The same, with extra claims.
fn signed_with(header: Value, extra: &Value) -> String {
    let input = format!("{}.{}", b64(&header), b64(&claims(extra)));
    let key =
        EncodingKey::from_ec_pem(&std::fs::read(fixture("keys/es256.key.pem")).unwrap()).unwrap();
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::ES256).unwrap();
    format!("{input}.{sig}")
}

fn reason(cfg: &EdgeConfig, token: &str) -> Result<(), Reason> {
    verify(token, cfg.issuers(), NOW).map(|_| ())
}

#[test]
fn the_size_limit_is_inclusive() {
    let cfg = config("");
    let good = signed(json!({"alg": "ES256", "kid": "es256-1"}));
    assert_eq!(reason(&cfg, &good), Ok(()));
    // Padded to exactly the limit with a header and a claim member (an
    // ES256 signature's length is fixed, so the length is known before
    // signing): still read, and it verifies, the signature covering the
    // padding. One byte more is too large.
    let header = |n: usize| json!({"alg": "ES256", "kid": "es256-1", "x": "p".repeat(n)});
    let extra = |n: usize| json!({"y": "q".repeat(n)});
    let sig_len = good.rsplit_once('.').unwrap().1.len();
    let len = |h: usize, c: usize| {
        b64(&header(h)).len() + 1 + b64(&claims(&extra(c))).len() + 1 + sig_len
    };
    let (h, c) = (5000..6500)
        .flat_map(|h| (0..4).map(move |c| (h, c)))
        .find(|&(h, c)| len(h, c) == MAX_TOKEN_BYTES)
        .expect("some padding gives exactly the limit");
    let at_limit = signed_with(header(h), &extra(c));
    assert_eq!(at_limit.len(), MAX_TOKEN_BYTES);
    assert_eq!(reason(&cfg, &at_limit), Ok(()));
    assert_eq!(
        reason(&cfg, &format!("{at_limit}A")),
        Err(Reason::TokenTooLarge)
    );
}

#[test]
fn an_empty_part_is_malformed_before_any_key_work() {
    let cfg = config("");
    let good = signed(json!({"alg": "ES256", "kid": "es256-1"}));
    let (input, _) = good.rsplit_once('.').unwrap();
    let (h, p) = input.split_once('.').unwrap();
    for t in [format!("{input}."), format!("{h}..x"), format!(".{p}.x")] {
        assert_eq!(reason(&cfg, &t), Err(Reason::TokenMalformed), "{t}");
    }
}

#[test]
fn a_kid_must_be_a_non_empty_bounded_string() {
    let cfg = config("");
    let kid = |k: Value| reason(&cfg, &signed(json!({"alg": "ES256", "kid": k})));
    assert_eq!(kid(json!("")), Err(Reason::TokenMalformed));
    assert_eq!(kid(json!(7)), Err(Reason::TokenMalformed));
    assert_eq!(
        kid(json!("k".repeat(MAX_KID_BYTES + 1))),
        Err(Reason::TokenMalformed)
    );
    assert_eq!(
        kid(json!("k".repeat(MAX_KID_BYTES))),
        Err(Reason::UnknownKid),
        "at the limit the kid is read, and no key has it"
    );
    assert_eq!(kid(json!("es256-1")), Ok(()));
}

#[test]
fn typ_compares_media_types_not_string_tails() {
    let cfg = config("typ = [\"at+jwt\"]\n");
    let typ = |t: &str| {
        reason(
            &cfg,
            &signed(json!({"alg": "ES256", "kid": "es256-1", "typ": t})),
        )
    };
    assert_eq!(typ("at+jwt"), Ok(()));
    assert_eq!(typ("AT+JWT"), Ok(()));
    assert_eq!(typ("application/at+jwt"), Ok(()));
    assert_eq!(typ("Application/AT+jwt"), Ok(()));
    // Twelve characters before the type are not "application/".
    assert_eq!(typ("xxxxxxxxxxx/at+jwt"), Err(Reason::TypNotAllowed));
    assert_eq!(typ("applicationsat+jwt"), Err(Reason::TypNotAllowed));
    assert_eq!(typ("JWT"), Err(Reason::TypNotAllowed));
}

#[test]
fn the_public_bot_verdict_reads_the_catalog() {
    use edge_auth_core::config::UnverifiedClaim;
    use edge_auth_core::decide::bot_verdict;
    let matcher = workspace_tests::shipped_matcher();
    let verified = workspace_tests::shipped_verified();
    let v = bot_verdict(
        matcher,
        Some(verified),
        "python-requests/2.32.3",
        Some("203.0.113.10".parse().unwrap()),
        UnverifiedClaim::Block,
    );
    assert!(v.verdict.is_some(), "a catalog tool is matched: {v:?}");
    let browser = bot_verdict(
        matcher,
        Some(verified),
        "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
        None,
        UnverifiedClaim::Block,
    );
    assert!(browser.verdict.is_none(), "{browser:?}");
}

#[test]
fn numbers_are_read_only_when_finite() {
    use edge_auth_core::json::Json;
    assert_eq!(Json::Number(1.5).as_f64(), Some(1.5));
    assert_eq!(Json::Number(f64::INFINITY).as_f64(), None);
    assert_eq!(Json::Number(f64::NAN).as_f64(), None);
}

#[test]
fn max_age_counts_from_iat_with_the_leeway_inclusive() {
    // max_age_seconds 3600 and the default leeway of 30 s: a token issued
    // 3,630 s ago is at the limit, one second older is too old.
    let cfg = config("max_age_seconds = 3600\n");
    let header = json!({"alg": "ES256", "kid": "es256-1"});
    let issued = |ago: u64| {
        reason(
            &cfg,
            &signed_with(header.clone(), &json!({"iat": NOW - ago})),
        )
    };
    assert_eq!(issued(0), Ok(()));
    assert_eq!(issued(3600), Ok(()));
    assert_eq!(issued(3630), Ok(()));
    assert_eq!(issued(3631), Err(Reason::TokenTooOld));
    assert_eq!(
        reason(&cfg, &signed(header.clone())),
        Err(Reason::BadIssuedAt),
        "max_age needs an iat"
    );
}
