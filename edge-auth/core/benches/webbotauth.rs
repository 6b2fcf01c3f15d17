//! Web Bot Auth per request, natively: the demo agent's signed fixture
//! (`tests/fixtures/viewer-request/signed-agent-verified.json`) read
//! (structured fields and signature base) and fully checked (with the RustCrypto
//! Ed25519 verify), beside the anchor of the Ed25519 verify alone on the
//! same base. The bundle's figure (Node's crypto) is in `bench/edge.mjs`.
//!
//! `cargo bench -p edge-auth-core --bench webbotauth`

use criterion::{Criterion, criterion_group, criterion_main};
use edge_auth_core::webbotauth::{
    AgentKey, DirectoryJwk, SignedAgent, Window, base_for_input, check, ed25519_verifies,
};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../");
    let text = std::fs::read_to_string(format!(
        "{root}tests/fixtures/viewer-request/signed-agent-verified.json"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let event: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let r = &event["Records"][0]["cf"]["request"];
    let req = edge_auth_core::CfRequest {
        client_ip: "198.51.100.77".into(),
        method: "GET".into(),
        uri: r["uri"].as_str().unwrap_or("/").into(),
        querystring: String::new(),
        headers: r["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, list)| edge_auth_core::Header {
                name: name.clone(),
                key: None,
                value: list[0]["value"].as_str().unwrap_or_default().into(),
            })
            .collect(),
    };
    let x = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";
    let key = AgentKey::from_jwk(&DirectoryJwk {
        kty: "OKP".into(),
        crv: Some("Ed25519".into()),
        x: Some(x.into()),
        d: None,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let agents = [SignedAgent {
        name: "demo-agent".into(),
        agent: "https://signer.demo.example".into(),
        keys: vec![key.clone()],
        signatures: vec![],
    }];
    let window = Window {
        leeway_s: 30,
        max_validity_s: 3600,
    };
    let now = 1_800_000_100;
    let input = req.header("signature-input").unwrap_or_default();
    let inner = input.strip_prefix("sig1=").unwrap_or_default();
    let base = base_for_input(&req, &req.uri, inner).unwrap_or_else(|e| panic!("{e:?}"));
    let sig_b64 = req
        .header("signature")
        .unwrap_or_default()
        .trim_start_matches("sig1=:")
        .trim_end_matches(':');
    use base64::Engine;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig_b64)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(ed25519_verifies(&key, &base, &sig));
    assert!(matches!(
        check(&req, &req.uri, &agents, now, window, None),
        edge_auth_core::webbotauth::Check::Verified(_)
    ));
    let mut g = c.benchmark_group("web bot auth, one request");
    g.bench_function("anchor: Ed25519 verify alone", |b| {
        b.iter(|| ed25519_verifies(&key, black_box(&base), black_box(&sig)))
    });
    g.bench_function("structured fields + signature base", |b| {
        b.iter(|| base_for_input(black_box(&req), &req.uri, black_box(inner)))
    });
    g.bench_function("full check (parse, base, verify)", |b| {
        b.iter(|| check(black_box(&req), &req.uri, &agents, now, window, None))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
