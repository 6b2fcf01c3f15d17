//! A property that reaches the deep JWT checks: tokens built field by field
//! (algorithm, `kid`, signing key, issuer, audience, `exp`/`nbf`/`iat`
//! around now, `sub` against the path's owner), each field right three times
//! in four, so that about one case in thirteen is fully valid and every
//! single fault is common. An oracle written from the policy (not from the
//! code) says which must be forwarded; every other one must be a 401/403.
//! The reasons the cases reached are counted, and each class must be
//! reached a set number of times, so a generator that stops reaching a check
//! fails instead of passing vacuously.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use edge_auth_core::{CfRequest, Ctx, Decision, EdgeState, Header, Reason, decide};
use jsonwebtoken::{Algorithm, EncodingKey};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};
use workspace_tests::{FIXTURE_NOW_S, repo_root, shipped_matcher, shipped_verified};

const ISSUER: &str = "https://demo-issuer.example";
const AUDIENCE: &str = "demo-site";
const KID: &str = "demo-es256-1";

/// Who signs: the demo key the JWK Set holds, or a key it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signer {
    Demo,
    OtherEs256,
    Rs256,
    Ed25519,
}

#[derive(Debug, Clone)]
struct Case {
    alg: &'static str,
    kid: Option<&'static str>,
    signer: Signer,
    iss_right: bool,
    aud: u8, // 0 right, 1 wrong, 2 a list holding the right one
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    sub_is_owner: bool,
}

/// Mostly right (weight 3), sometimes one of the wrong values.
fn mostly<T: Clone + std::fmt::Debug + 'static>(
    right: T,
    wrong: Vec<T>,
) -> impl Strategy<Value = T> {
    let wrong = proptest::sample::select(wrong);
    prop_oneof![3 => Just(right), 1 => wrong]
}

fn cases() -> impl Strategy<Value = Case> {
    // Times are far from the 30 s leeway, so the oracle needs no boundary
    // arithmetic (the conformance suite pins the boundaries one by one).
    (
        mostly("ES256", vec!["RS256", "HS256", "none", "ES384", "EdDSA"]),
        mostly(Some(KID), vec![Some("someone-elses"), None]),
        mostly(
            Signer::Demo,
            vec![Signer::OtherEs256, Signer::Rs256, Signer::Ed25519],
        ),
        mostly(true, vec![false]),
        mostly(0u8, vec![1, 2]),
        mostly(Some(3600i64), vec![None, Some(-3600), Some(-120)]),
        mostly(None, vec![Some(-600i64), Some(600), Some(120)]),
        mostly(Some(-60i64), vec![None, Some(600), Some(3600)]),
        mostly(true, vec![false]),
    )
        .prop_map(
            |(alg, kid, signer, iss_right, aud, exp, nbf, iat, sub_is_owner)| Case {
                alg,
                kid,
                signer,
                iss_right,
                aud,
                exp,
                nbf,
                iat,
                sub_is_owner,
            },
        )
}

fn key(signer: Signer) -> (EncodingKey, Algorithm) {
    let (rel, alg) = match signer {
        Signer::Demo => ("examples/demo/demo-es256.key.pem", Algorithm::ES256),
        Signer::OtherEs256 => ("tests/fixtures/keys/es256-b.key.pem", Algorithm::ES256),
        Signer::Rs256 => ("tests/fixtures/keys/rs256.key.pem", Algorithm::RS256),
        Signer::Ed25519 => ("tests/fixtures/keys/ed25519.key.pem", Algorithm::EdDSA),
    };
    (
        workspace_tests::signing_key(&repo_root().join(rel), alg),
        alg,
    )
}

/// The token as the case describes it: canonical base64url JSON, the
/// header's `alg` whatever the signer's key really is.
fn token(c: &Case, now: i64) -> String {
    let mut header = json!({"alg": c.alg, "typ": "JWT"});
    if let Some(kid) = c.kid {
        header["kid"] = kid.into();
    }
    let mut claims = json!({
        "iss": if c.iss_right { ISSUER } else { "https://other-issuer.example" },
        "aud": match c.aud { 0 => json!(AUDIENCE), 1 => json!("another-site"), _ => json!(["another-site", AUDIENCE]) },
        "sub": if c.sub_is_owner { "alice" } else { "bob" },
    });
    for (name, offset) in [("exp", c.exp), ("nbf", c.nbf), ("iat", c.iat)] {
        if let Some(d) = offset {
            claims[name] = (now + d).into();
        }
    }
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let input = format!("{}.{}", b64(&header), b64(&claims));
    let signature = if c.alg == "none" {
        String::new()
    } else {
        let (k, alg) = key(c.signer);
        jsonwebtoken::crypto::sign(input.as_bytes(), &k, alg).unwrap()
    };
    format!("{input}.{signature}")
}

/// The policy, read from the demo config and the README (not from the
/// code): ES256 only; the key the JWK Set names, and a `kid` is required
/// for an asymmetric token even when the set holds one key (README: a key
/// added at rotation must never change which key verifies); issuer and
/// audience as configured; `exp` required and in the future; `nbf` and
/// `iat` not in the future; the path `/private/{sub}/`.
fn must_forward(c: &Case) -> bool {
    c.alg == "ES256"
        && c.signer == Signer::Demo
        && c.kid == Some(KID)
        && c.iss_right
        && c.aud != 1
        && c.exp.is_some_and(|d| d > 0)
        && c.nbf.is_none_or(|d| d < 0)
        && c.iat.is_none_or(|d| d <= 0)
        && c.sub_is_owner
}

#[test]
fn structured_tokens_reach_every_check_and_only_valid_ones_pass() {
    let cfg = workspace_tests::demo_config();
    // The oracle's reading of the config, checked.
    assert_eq!(cfg.issuers().len(), 1);
    let now = FIXTURE_NOW_S as i64;
    let mut runner = TestRunner::deterministic();
    let strategy = cases();
    let mut reached: BTreeMap<&'static str, usize> = BTreeMap::new();
    for _ in 0..1000 {
        let c = strategy.new_tree(&mut runner).unwrap().current();
        let t = token(&c, now);
        // A fresh state per case: no cache hit and no rate limit between cases.
        let mut state = EdgeState::new(&cfg, edge_auth_core::HashKeys::new(1, 2));
        let ctx = Ctx {
            now_ms: FIXTURE_NOW_S * 1000,
            config: &cfg,
            matcher: Some(shipped_matcher()),
            verified: Some(shipped_verified()),
        };
        let r = CfRequest {
            client_ip: "203.0.113.1".into(),
            method: "GET".into(),
            uri: "/private/alice/report.pdf".into(),
            querystring: String::new(),
            headers: vec![
                Header {
                    name: "user-agent".into(),
                    key: None,
                    value: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
                        .into(),
                },
                Header {
                    name: "authorization".into(),
                    key: None,
                    value: format!("Bearer {t}"),
                },
            ],
        };
        let o = decide(&r, &ctx, &mut state);
        *reached.entry(o.reason.as_str()).or_default() += 1;
        match &o.decision {
            Decision::Forward { .. } => {
                assert!(
                    must_forward(&c),
                    "forwarded, the policy says no: {c:?} ({:?})",
                    o.reason
                );
                assert_eq!(o.reason, Reason::TokenValid);
            }
            Decision::Respond(resp) => {
                assert!(
                    !must_forward(&c),
                    "refused a valid token: {c:?}: {:?}",
                    o.reason
                );
                assert!(
                    resp.status == 401 || resp.status == 403,
                    "{c:?}: {} {:?}",
                    resp.status,
                    o.reason
                );
            }
        }
    }
    eprintln!("reasons reached: {reached:?}");
    let floor = [
        ("token_valid", 50),
        ("alg_not_allowed", 50),
        ("unknown_kid", 20),
        ("kid_required", 20),
        ("bad_signature", 20),
        ("unknown_issuer", 20),
        ("bad_audience", 20),
        ("exp_missing", 10),
        ("token_expired", 20),
        ("token_not_yet_valid", 10),
        ("bad_issued_at", 10),
        ("insufficient_claims", 15),
    ];
    for (reason, at_least) in floor {
        let n = reached.get(reason).copied().unwrap_or(0);
        assert!(
            n >= at_least,
            "the generator reached {reason} {n} times, fewer than {at_least}: {reached:?}"
        );
    }
}
