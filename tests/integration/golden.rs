//! Golden viewer-request fixtures: `tests/fixtures/viewer-request/<case>.json`
//! (the CloudFront event) goes through the native edge with the demo config at
//! a fixed time; `<case>.decision.json` holds the reason code and exactly what
//! the handler returns. A missing or different expectation fails; only
//! `UPDATE_EXPECT=1` writes them (review the diff: CI fails when
//! `tests/fixtures` differs from the commit). A case named `-400`, `-401`,
//! `-403`, `-429` or `-503` must get that status; any other name a forward.

use edge_auth_core::{Ctx, EdgeState, decide};
use serde_json::{Value, json};
use workspace_tests::{demo_config, shipped_matcher, viewer_request_events};

/// The time every fixture is decided at (the demo tokens are valid then).
pub const NOW_UNIX_S: u64 = workspace_tests::FIXTURE_NOW_S;

fn run_case(text: &str) -> Value {
    let cfg = demo_config();
    let matcher = shipped_matcher();
    let mut state = EdgeState::new(&cfg, edge_auth_core::HashKeys::new(1, 2));
    let ctx = Ctx {
        now_ms: NOW_UNIX_S * 1000,
        config: &cfg,
        matcher: Some(matcher),
        verified: Some(workspace_tests::shipped_verified()),
    };
    match edge_auth_event::parse_event(text) {
        Ok(event) => {
            let outcome = decide(&event.request, &ctx, &mut state);
            json!({ "reason": outcome.reason.as_str(), "result": edge_auth_event::render(&outcome, &event) })
        }
        Err(e) => {
            json!({ "reason": "malformed_event", "error": e.to_string(), "result": edge_auth_event::internal_error() })
        }
    }
}

#[test]
fn viewer_request_fixtures() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1");
    let cases = viewer_request_events();
    assert!(
        cases.len() >= 20,
        "expected the fixture set, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let got = run_case(&std::fs::read_to_string(case).unwrap());
        let expect_path = case.with_extension("decision.json");
        let pretty = serde_json::to_string_pretty(&got).unwrap() + "\n";
        let stem = case
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let named = ["400", "401", "403", "429", "503"]
            .into_iter()
            .find(|code| stem.ends_with(&format!("-{code}")));
        let status = got["result"]["status"].as_str();
        if named != status {
            failures.push(format!(
                "{}: the name says {}, the result is {}",
                case.display(),
                named.unwrap_or("a forward"),
                status.unwrap_or("a forward")
            ));
        }
        if update {
            std::fs::write(&expect_path, pretty).unwrap();
            continue;
        }
        match std::fs::read_to_string(&expect_path) {
            Ok(expected) => match serde_json::from_str::<Value>(&expected) {
                Ok(expected) if expected == got => {}
                Ok(expected) => failures.push(format!(
                    "{}:\n  expected {expected}\n  got      {got}",
                    case.display()
                )),
                Err(e) => failures.push(format!("{}: not JSON: {e}", expect_path.display())),
            },
            Err(e) => failures.push(format!(
                "{}: {e} (UPDATE_EXPECT=1 writes it; review it before committing)",
                expect_path.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) differ (UPDATE_EXPECT=1 to accept):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
