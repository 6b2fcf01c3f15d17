//! The canonical URI judged against a model of the origin, not against itself.
//!
//! The model is written from the S3 documentation (see the README, "How the
//! origin reads a URI"), with a different decoder (the `percent-encoding`
//! crate): an S3 REST endpoint takes the path after the first `/` and
//! percent-decodes it once; `+` stays `+`, case is kept, `//` and dot segments
//! are names of their own. A second model stands for a proxy or custom origin
//! that also resolves dot segments and merges `//` before looking up.
//!
//! Generated requests spell protected objects every way the issue lists
//! (any byte escaped, either hex case, extra slashes, dot-segment detours,
//! escaped slashes, mixes) with a valid token for `alice`, under a config
//! whose last rule makes everything else public. Whatever is forwarded must
//! be an object Alice's token opens under both models, and the forwarded
//! URI must name the same S3 object as the viewer's.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::PathBuf;

use edge_auth_core::CfRequest;
use edge_auth_core::{Ctx, Decision, EdgeConfig, EdgeState, Header, Reason, decide};
use jsonwebtoken::{Algorithm, EncodingKey};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const NOW_S: u64 = 1_800_000_000;

fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/keys")
}

fn config() -> EdgeConfig {
    let toml = r#"
[jwt]
issuer = "https://issuer.test"
audience = "edge-tests"
algorithms = ["ES256"]
jwks_file = "jwks.json"

[bots]
enabled = false

[rate_limit]
enabled = false

[[paths]]
prefix = "/private/"
access = "token"
sub_prefix = "/private/{sub}/"

[[paths]]
prefix = "/admin/"
access = "token"
require_scope = ["admin"]

[[paths]]
glob = "/shared/**"
access = "token"
path_claim = "paths"

[[paths]]
prefix = "/"
access = "public"
"#;
    EdgeConfig::parse(toml, |rel| {
        std::fs::read_to_string(keys_dir().join(rel)).map_err(|e| e.to_string())
    })
    .unwrap()
}

fn alice_token() -> String {
    let claims = serde_json::json!({
        "iss": "https://issuer.test", "aud": "edge-tests", "sub": "alice",
        "iat": NOW_S, "exp": NOW_S + 600, "scope": "read", "paths": ["/shared/team-a/"],
    });
    let key = EncodingKey::from_ec_pem(&std::fs::read(keys_dir().join("es256.key.pem")).unwrap())
        .unwrap();
    let mut h = jsonwebtoken::Header::new(Algorithm::ES256);
    h.kid = Some("es256-1".into());
    jsonwebtoken::encode(&h, &claims, &key).unwrap()
}

/// S3 REST: the key is the path after the first `/`, decoded once.
fn s3_key(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix('/')?;
    percent_encoding::percent_decode_str(rest)
        .decode_utf8()
        .ok()
        .map(|k| k.into_owned())
}

/// A resolving proxy in front of S3: dot segments resolved and `//` merged
/// on the decoded path (the most generous reading), then looked up.
fn proxy_key(uri: &str) -> Option<String> {
    let decoded = s3_key(uri)?;
    let mut out: Vec<&str> = Vec::new();
    let parts: Vec<&str> = decoded.split('/').collect();
    for (i, seg) in parts.iter().enumerate() {
        match *seg {
            "." => {}
            ".." => {
                out.pop();
            }
            "" if i + 1 < parts.len() => {}
            s => out.push(s),
        }
    }
    Some(out.join("/"))
}

/// Whether Alice's token opens the object `key` under the config above.
fn alice_opens(key: &str) -> bool {
    if key.starts_with("private/") {
        return key.starts_with("private/alice/");
    }
    if key.starts_with("admin/") {
        return false;
    }
    if key.starts_with("shared/") {
        return key.starts_with("shared/team-a/");
    }
    true
}

/// Objects worth reaching: protected ones of others, and Alice's own.
const TARGETS: &[&str] = &[
    "private/bob/secret.txt",
    "private/alice/report.txt",
    "admin/keys.txt",
    "shared/team-b/plan.pdf",
    "shared/team-a/plan.pdf",
    "public/index.html",
];

/// One way to spell `key` as a request path, driven by `choices`.
fn spell(key: &str, choices: &[u8], families: &mut BTreeMap<&'static str, usize>) -> String {
    let mut c = choices.iter().copied().cycle();
    let mut next = move || c.next().unwrap_or(0);
    let mut out = String::from("/");
    let mut used = |name: &'static str| *families.entry(name).or_default() += 1;
    if next() % 8 == 0 {
        out.push('/');
        used("leading //");
    }
    let segments: Vec<&str> = key.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        match next() % 16 {
            0 => {
                out.push_str("x/../");
                used("dot-segment detour");
            }
            1 => {
                out.push_str("%2e%2E/x/..;/");
                used("encoded dot segment");
            }
            2 => {
                out.push_str("./");
                used("dot segment");
            }
            _ => {}
        }
        for b in seg.bytes() {
            match next() % 6 {
                0 => {
                    out.push_str(&format!("%{b:02X}"));
                    used("escaped byte (upper hex)");
                }
                1 => {
                    out.push_str(&format!("%{b:02x}"));
                    used("escaped byte (lower hex)");
                }
                _ => out.push(b as char),
            }
        }
        if i + 1 < segments.len() {
            match next() % 10 {
                0 => {
                    out.push_str("%2F");
                    used("escaped slash");
                }
                1 => {
                    out.push_str("//");
                    used("empty segment");
                }
                2 => {
                    out.push_str("%252F");
                    used("double-escaped slash");
                }
                _ => out.push('/'),
            }
        }
    }
    out
}

#[test]
fn no_spelling_reaches_an_object_the_token_does_not_open() {
    let cfg = config();
    let token = alice_token();
    let state = RefCell::new(EdgeState::new(&cfg, edge_auth_core::HashKeys::new(1, 2)));
    let ctx = Ctx {
        now_ms: NOW_S * 1000,
        config: &cfg,
        matcher: None,
        verified: None,
    };
    let mut runner = TestRunner::new(Config {
        cases: 6000,
        failure_persistence: None,
        ..Config::default()
    });
    let reasons: RefCell<BTreeMap<&'static str, usize>> = RefCell::default();
    let families: RefCell<BTreeMap<&'static str, usize>> = RefCell::default();
    let forwarded_protected = Cell::new(0usize);
    runner
        .run(
            &(0..TARGETS.len(), prop::collection::vec(any::<u8>(), 1..64)),
            |(target, choices)| {
                let uri = spell(TARGETS[target], &choices, &mut families.borrow_mut());
                let req = CfRequest {
                    client_ip: "203.0.113.5".into(),
                    method: "GET".into(),
                    uri: uri.clone(),
                    querystring: String::new(),
                    headers: vec![Header {
                        name: "authorization".into(),
                        key: None,
                        value: format!("Bearer {token}"),
                    }],
                };
                let outcome = decide(&req, &ctx, &mut state.borrow_mut());
                *reasons
                    .borrow_mut()
                    .entry(outcome.reason.as_str())
                    .or_default() += 1;
                if let Decision::Forward { uri: new_uri, .. } = &outcome.decision {
                    let sent = new_uri.clone().unwrap_or_else(|| uri.clone());
                    let key = s3_key(&sent);
                    prop_assert_eq!(
                        &key,
                        &s3_key(&uri),
                        "{} was forwarded as {}, another object",
                        uri,
                        sent
                    );
                    let key = key.unwrap();
                    prop_assert!(alice_opens(&key), "{uri} forwarded: S3 serves {key:?}");
                    let proxied = proxy_key(&sent).unwrap();
                    prop_assert!(
                        alice_opens(&proxied),
                        "{uri} forwarded: a resolving proxy serves {proxied:?}"
                    );
                    if key != "public/index.html" {
                        forwarded_protected.set(forwarded_protected.get() + 1);
                    }
                }
                Ok(())
            },
        )
        .unwrap();
    // The generator must reach every family and every kind of outcome, or
    // the property says nothing.
    let (families, reasons, forwarded_protected) = (
        families.into_inner(),
        reasons.into_inner(),
        forwarded_protected.get(),
    );
    for family in [
        "leading //",
        "dot-segment detour",
        "encoded dot segment",
        "dot segment",
        "escaped byte (upper hex)",
        "escaped byte (lower hex)",
        "escaped slash",
        "empty segment",
        "double-escaped slash",
    ] {
        let n = families.get(family).copied().unwrap_or(0);
        assert!(
            n >= 100,
            "family {family:?} generated only {n} times: {families:?}"
        );
    }
    for (reason, at_least) in [
        (Reason::BadUri, 1000),
        (Reason::InsufficientClaims, 200),
        (Reason::TokenValid, 200),
        (Reason::PublicPath, 200),
    ] {
        let n = reasons.get(reason.as_str()).copied().unwrap_or(0);
        assert!(n >= at_least, "{reason} reached {n} times: {reasons:?}");
    }
    assert!(forwarded_protected >= 100, "{forwarded_protected}");
}

/// Issue #13's table, decided as the demo decides it.
#[test]
fn the_reported_spellings_are_refused() {
    let cfg = config();
    let token = alice_token();
    let mut state = EdgeState::new(&cfg, edge_auth_core::HashKeys::new(1, 2));
    let ctx = Ctx {
        now_ms: NOW_S * 1000,
        config: &cfg,
        matcher: None,
        verified: None,
    };
    for (uri, want) in [
        ("/private/bob/secret.txt", Reason::InsufficientClaims),
        ("/%70rivate/bob/secret.txt", Reason::InsufficientClaims),
        ("/private%2Fbob/secret.txt", Reason::BadUri),
        ("//private/bob/secret.txt", Reason::BadUri),
        ("/%70rivate/alice/report.txt", Reason::TokenValid),
    ] {
        let req = CfRequest {
            client_ip: "203.0.113.5".into(),
            method: "GET".into(),
            uri: uri.into(),
            querystring: String::new(),
            headers: vec![Header {
                name: "authorization".into(),
                key: None,
                value: format!("Bearer {token}"),
            }],
        };
        assert_eq!(decide(&req, &ctx, &mut state).reason, want, "{uri}");
    }
}
