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

/// The decision context the properties use: the demo config and the shipped
/// catalog and verified-bot table, at the fixtures' clock.
fn at_fixture_time<'a>(
    cfg: &'a edge_auth_core::EdgeConfig,
    matcher: &'a edge_auth_core::Matcher,
) -> Ctx<'a> {
    Ctx {
        now_ms: workspace_tests::FIXTURE_NOW_S * 1000,
        config: cfg,
        matcher: Some(matcher),
        verified: Some(workspace_tests::shipped_verified()),
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
        let mut state = EdgeState::new(&cfg, edge_auth_core::HashKeys::new(1, 2));
        let ctx = at_fixture_time(&cfg, matcher);
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
        let mut state = EdgeState::new(&cfg, edge_auth_core::HashKeys::new(1, 2));
        let ctx = at_fixture_time(&cfg, matcher);
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
        let mut state = EdgeState::new(&cfg, edge_auth_core::HashKeys::new(1, 2));
        let ctx = at_fixture_time(&cfg, matcher);
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
            let mut state = EdgeState::new(&cfg, edge_auth_core::HashKeys::new(1, 2));
            let ctx = at_fixture_time(&cfg, matcher);
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
    let mut state = EdgeState::new(&cfg, edge_auth_core::HashKeys::new(1, 2));
    let ctx = at_fixture_time(&cfg, matcher);
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

/// Well-formed events with hostile parts, decided end to end: URIs built
/// from segments and the spellings attackers use (dot segments, encoded
/// letters and slashes, doubled slashes) under each path family, headers
/// that sometimes carry a user-agent, a bearer token or a cookie. Nothing
/// panics, nothing under `/private/` is forwarded without a valid token (none
/// here is valid), and the test counts the reasons its cases reached, so a
/// generator that drifts to parse errors fails.
#[test]
fn hostile_events_reach_every_stage_and_never_open_private() {
    use proptest::strategy::ValueTree;
    let family = prop_oneof![
        3 => Just("/public/"),
        3 => Just("/private/"),
        1 => Just("/assets/"),
        1 => Just("/"),
        1 => Just("/%70rivate/"),
        1 => Just("/public/../private/"),
        1 => Just("/PRIVATE/"),
    ];
    let segment = prop_oneof![
        12 => "[a-z]{1,8}",
        3 => Just("alice".to_owned()),
        3 => Just("bob".to_owned()),
        2 => Just("report%2etxt".to_owned()),
        1 => Just("..".to_owned()),
        1 => Just(".".to_owned()),
        1 => Just("%2e%2e".to_owned()),
        1 => Just("%2F".to_owned()),
        1 => Just("".to_owned()),
        1 => Just("%zz".to_owned()),
    ];
    let header = prop_oneof![
        Just((
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0".to_owned()
        )),
        Just(("user-agent", "python-requests/2.32.3".to_owned())),
        "[ -~]{0,40}".prop_map(|v| ("user-agent", v)),
        "Bearer [A-Za-z0-9._-]{0,80}".prop_map(|v| ("authorization", v)),
        "access_token=[A-Za-z0-9._-]{0,80}".prop_map(|v| ("cookie", v)),
        "[ -~]{0,40}".prop_map(|v| ("accept", v)),
    ];
    let case = (
        family,
        proptest::collection::vec(segment, 0..5),
        proptest::collection::vec(header, 0..4),
        "[a-z=&%0-9]{0,20}",
    );
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (cfg, matcher) = demo();
    let mut reached: std::collections::BTreeMap<&'static str, usize> =
        std::collections::BTreeMap::new();
    let mut parsed_ok = 0;
    for _ in 0..3000 {
        let (family, segments, headers, qs) = case.new_tree(&mut runner).unwrap().current();
        let uri = format!("{family}{}", segments.join("/"));
        let mut hs = serde_json::Map::new();
        for (name, value) in &headers {
            hs.insert(
                (*name).to_owned(),
                serde_json::json!([{ "key": name, "value": value }]),
            );
        }
        let event = serde_json::json!({"Records":[{"cf":{"config":{"eventType":"viewer-request"},"request":{"clientIp":"2001:db8::7","method":"GET","uri":uri,"querystring":qs,"headers":hs}}}]});
        let Ok(parsed) = edge_auth_event::parse_event(&event.to_string()) else {
            continue;
        };
        parsed_ok += 1;
        let mut state = EdgeState::new(&cfg, edge_auth_core::HashKeys::new(1, 2));
        let ctx = at_fixture_time(&cfg, matcher);
        let o = decide(&parsed.request, &ctx, &mut state);
        let _ = edge_auth_event::render(&o, &parsed);
        *reached.entry(o.reason.as_str()).or_default() += 1;
        if let Decision::Forward { uri: canonical, .. } = &o.decision {
            // What the origin reads: the canonical URI, else the one sent,
            // percent-decoded as S3 decodes it.
            let read = percent_encoding::percent_decode_str(canonical.as_deref().unwrap_or(&uri))
                .decode_utf8_lossy();
            assert!(
                !read.starts_with("/private/"),
                "forwarded {uri:?} (read as {read:?}) without a valid token: {o:?}"
            );
        }
    }
    eprintln!("reached: {parsed_ok} events parsed, reasons {reached:?}");
    assert!(parsed_ok >= 2900, "only {parsed_ok} of 3000 events parsed");
    for (reason, floor) in [
        ("bad_uri", 100),
        ("token_missing", 100),
        ("token_malformed", 50),
        ("empty_user_agent", 100),
        ("bot_blocked", 100),
        ("public_path", 100),
    ] {
        let n = reached.get(reason).copied().unwrap_or(0);
        assert!(
            n >= floor,
            "{reason} reached {n} times (floor {floor}): {reached:?}"
        );
    }
}
