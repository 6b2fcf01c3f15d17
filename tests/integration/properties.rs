//! Property tests: hostile input never panics and never lets a protected
//! request through. Arbitrary tokens, header values, event JSON and
//! user-agents; mutations of a valid token.

use edge_auth_core::{CfRequest, Ctx, Decision, EdgeState, Header, decide};
use proptest::prelude::*;
use workspace_tests::{fixture, shipped_matcher};

fn demo() -> (edge_auth_core::EdgeConfig, &'static edge_auth_core::Matcher) {
    (workspace_tests::demo_config(), shipped_matcher())
}

fn protected(headers: Vec<(String, String)>, querystring: String) -> CfRequest {
    CfRequest {
        client_ip: "203.0.113.1".into(),
        method: "GET".into(),
        uri: "/private/alice/x".into(),
        querystring,
        headers: headers
            .into_iter()
            .map(|(name, value)| Header {
                name,
                key: None,
                value,
            })
            .collect(),
    }
}

const VALID: &str = include_str!("../fixtures/viewer-request/bearer-token-valid.json");

fn valid_token() -> String {
    let v: serde_json::Value = serde_json::from_str(VALID).unwrap();
    let auth = v["Records"][0]["cf"]["request"]["headers"]["authorization"][0]["value"]
        .as_str()
        .unwrap();
    auth.trim_start_matches("Bearer ").to_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_tokens_never_allow(token in ".{0,9000}", source in 0..3usize) {
        let (cfg, matcher) = demo();
        let mut state = EdgeState::new(&cfg);
        let ctx = Ctx { now_ms: workspace_tests::FIXTURE_NOW_S * 1000, config: &cfg, matcher: Some(matcher), verified: Some(workspace_tests::shipped_verified()) };
        let ua = ("user-agent".to_owned(), "Mozilla/5.0 Chrome/131.0 Safari/537.36".to_owned());
        let r = match source {
            0 => protected(vec![ua, ("authorization".into(), format!("Bearer {token}"))], String::new()),
            1 => protected(vec![ua, ("cookie".into(), format!("access_token={token}"))], String::new()),
            _ => protected(vec![ua], format!("token={token}")),
        };
        let o = decide(&r, &ctx, &mut state);
        prop_assert!(matches!(o.decision, Decision::Respond(_)), "forwarded with token {token:?}: {o:?}");
    }

    #[test]
    fn mutated_valid_tokens_never_allow(pos in 0usize..2000, byte in any::<u8>()) {
        let (cfg, matcher) = demo();
        let mut state = EdgeState::new(&cfg);
        let ctx = Ctx { now_ms: workspace_tests::FIXTURE_NOW_S * 1000, config: &cfg, matcher: Some(matcher), verified: Some(workspace_tests::shipped_verified()) };
        let good = valid_token();
        let mut bytes = good.clone().into_bytes();
        let pos = pos % bytes.len();
        prop_assume!(bytes[pos] != byte);
        bytes[pos] = byte;
        let token = String::from_utf8_lossy(&bytes).into_owned();
        prop_assume!(token != good);
        let r = protected(vec![("user-agent".into(), "Mozilla/5.0 Chrome/131.0".into()), ("authorization".into(), format!("Bearer {token}"))], String::new());
        let o = decide(&r, &ctx, &mut state);
        prop_assert!(matches!(o.decision, Decision::Respond(_)), "mutated token at {pos} accepted: {o:?}");
    }

    #[test]
    fn arbitrary_headers_never_panic_or_allow(headers in proptest::collection::vec(("[a-z-]{1,20}|user-agent|cookie|authorization", prop_oneof![".{0,300}", "Bearer [A-Za-z0-9._-]{0,300}", "(bearer|BEARER|Basic) .{0,80}", "access_token=[A-Za-z0-9._-]{0,200}(; [a-z]+=[a-z]*)?"]), 0..12), uri in "/[ -~]{0,100}") {
        let (cfg, matcher) = demo();
        let mut state = EdgeState::new(&cfg);
        let ctx = Ctx { now_ms: workspace_tests::FIXTURE_NOW_S * 1000, config: &cfg, matcher: Some(matcher), verified: Some(workspace_tests::shipped_verified()) };
        let mut r = protected(headers, String::new());
        r.uri = format!("/private{uri}");
        let o = decide(&r, &ctx, &mut state);
        prop_assert!(matches!(o.decision, Decision::Respond(_)));
    }

    #[test]
    fn arbitrary_event_json_never_panics(text in ".{0,400}") {
        let _ = edge_auth_event::parse_event(&text);
    }

    #[test]
    fn arbitrary_event_shapes_never_panic(headers in proptest::collection::btree_map("[a-zA-Z-]{1,12}", proptest::collection::vec(".{0,40}", 0..3), 0..6), uri in ".{0,40}", qs in ".{0,40}") {
        let hs: serde_json::Map<String, serde_json::Value> = headers.into_iter().map(|(k, vs)| (k, serde_json::Value::from(vs.into_iter().map(|v| serde_json::json!({"value": v})).collect::<Vec<_>>()))).collect();
        let event = serde_json::json!({"Records":[{"cf":{"request":{"clientIp":"::1","method":"GET","uri":uri,"querystring":qs,"headers":hs}}}]});
        if let Ok(parsed) = edge_auth_event::parse_event(&event.to_string()) {
            let (cfg, matcher) = demo();
            let mut state = EdgeState::new(&cfg);
            let ctx = Ctx { now_ms: workspace_tests::FIXTURE_NOW_S * 1000, config: &cfg, matcher: Some(matcher), verified: Some(workspace_tests::shipped_verified()) };
            let o = decide(&parsed.request, &ctx, &mut state);
            let _ = edge_auth_event::render(&o, &parsed);
        }
    }

    #[test]
    fn arbitrary_user_agents_never_panic(ua in proptest::collection::vec(any::<u8>(), 0..600)) {
        let matcher = shipped_matcher();
        let ua = String::from_utf8_lossy(&ua);
        let _ = matcher.classify(&ua);
    }
}

#[test]
fn the_valid_fixture_token_is_accepted() {
    // Guards the mutation property: the token it mutates really is valid.
    let _ = fixture("keys");
    let (cfg, matcher) = demo();
    let mut state = EdgeState::new(&cfg);
    let ctx = Ctx {
        now_ms: workspace_tests::FIXTURE_NOW_S * 1000,
        config: &cfg,
        matcher: Some(matcher),
        verified: Some(workspace_tests::shipped_verified()),
    };
    let r = protected(
        vec![
            ("user-agent".into(), "Mozilla/5.0 Chrome/131.0".into()),
            ("authorization".into(), format!("Bearer {}", valid_token())),
        ],
        String::new(),
    );
    assert!(matches!(
        decide(&r, &ctx, &mut state).decision,
        Decision::Forward { .. }
    ));
}
