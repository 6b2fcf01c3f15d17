//! Golden viewer-request fixtures: `tests/fixtures/viewer-request/<case>.json`
//! (the CloudFront event) goes through the native edge with the demo config at
//! a fixed time; `<case>.decision.json` holds the reason code and exactly what
//! the handler returns. A missing expectation is written; `UPDATE_EXPECT=1`
//! rewrites them all (review the diff).

use edge_auth_core::{Ctx, EdgeState, decide};
use serde_json::{Value, json};
use workspace_tests::{config_in, fixture, repo_root, shipped_matcher};

/// The time every fixture is decided at (the demo tokens are valid then).
pub const NOW_UNIX_S: u64 = 1_800_000_100;

fn run_case(text: &str) -> Value {
    let dir = repo_root().join("examples/demo");
    let cfg = config_in(
        &dir,
        &std::fs::read_to_string(dir.join("edge.toml")).unwrap(),
    )
    .unwrap();
    let matcher = shipped_matcher();
    let mut state = EdgeState::new(&cfg);
    let ctx = Ctx {
        now_ms: NOW_UNIX_S * 1000,
        config: &cfg,
        matcher: Some(matcher),
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
    let dir = fixture("viewer-request");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p.to_string_lossy().ends_with(".decision.json")
        })
        .collect();
    cases.sort();
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
        match std::fs::read_to_string(&expect_path) {
            Ok(expected) if !update => {
                let expected: Value = serde_json::from_str(&expected).unwrap();
                if expected != got {
                    failures.push(format!(
                        "{}:\n  expected {expected}\n  got      {got}",
                        case.display()
                    ));
                }
            }
            _ => std::fs::write(&expect_path, pretty).unwrap(),
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) differ (UPDATE_EXPECT=1 to accept):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
