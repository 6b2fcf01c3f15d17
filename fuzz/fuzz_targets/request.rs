//! The parsers the bundle runs on every request against the full parser
//! (`parse_event`) the CLI and the golden tests use:
//! - `parse_request` (the JSON path: a typed, borrowing parse with a
//!   fall-back) agrees with it on what it accepts and on the request it reads;
//! - the packed form of the same event (`pack_event`, the twin of the shim's
//!   `pack`) reads, name by name, the same header values, and is never read
//!   where the JSON path refuses the event;
//! - the packed reader on the raw bytes never panics and never reads a
//!   request that does not have the fields it was told;
//! - the decision, every logging policy and the decision JSON never panic,
//!   and every log line is one JSON object.
#![no_main]

#[path = "shared.rs"]
mod shared;

use edge_auth_core::CfRequest;
use edge_auth_core::config::{Forwarded, Logging};

/// Header values by name, in order within each name: what the core can read.
fn by_name(r: &CfRequest) -> Vec<(String, Vec<String>)> {
    let mut names: Vec<String> = r.headers.iter().map(|h| h.name.clone()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|n| {
            let values = r.covered_header_values(&n).map(str::to_owned).collect();
            (n, values)
        })
        .collect()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fast = edge_auth_event::parse_request(text);
    let full = edge_auth_event::parse_event(text).map(|e| (e.request, e.request_id));
    match (&fast, &full) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the two parsers read different requests"),
        (Err(_), Err(_)) => {}
        _ => panic!("one parser accepted what the other refused: fast {fast:?}, full {full:?}"),
    }

    // The packed path on the same event.
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text)
        && let Some((packed, fields)) = edge_auth_event::pack_event(&value)
        && let Some((p, p_id)) = edge_auth_event::parse_packed(&packed, fields)
    {
        let Ok((r, id)) = &fast else {
            panic!("the packed form was read where the JSON path refused the event");
        };
        assert_eq!(&p_id, id, "request ids differ");
        assert_eq!(
            (&p.uri, &p.method, &p.client_ip, &p.querystring),
            (&r.uri, &r.method, &r.client_ip, &r.querystring)
        );
        assert_eq!(by_name(&p), by_name(r), "headers read differently");
    }

    // The packed reader on raw bytes, told the count of fields they hold.
    let count = text.matches('\0').count() + 1;
    if let Some((p, _)) = edge_auth_event::parse_packed(text, count) {
        assert_eq!(5 + 2 * p.headers.len(), count);
        assert!(p.uri.starts_with('/'));
    }
    assert!(edge_auth_event::parse_packed(text, count + 2).is_none());

    if let Ok((request, request_id)) = fast {
        let outcome = shared::decide(&request);
        let _ = edge_auth_event::decision_json(&outcome);
        let mut ledger = edge_auth_event::Ledger::new();
        let mut out = String::new();
        for (i, forwarded) in [Forwarded::All, Forwarded::Count, Forwarded::Sample]
            .into_iter()
            .enumerate()
        {
            let policy = Logging {
                forwarded,
                sample_every: 1,
                flush_ms: 1,
            };
            ledger.record(
                &policy,
                &outcome,
                &request,
                request_id.as_deref(),
                shared::NOW_MS + i as u64,
                &mut out,
            );
        }
        ledger.flush(shared::NOW_MS + 60_000, &mut out);
        for line in out.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("a log line is JSON");
            assert!(v.is_object());
        }
    }
});
