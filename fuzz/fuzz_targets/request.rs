//! The parser the bundle runs on every request (`parse_request`: a typed,
//! borrowing parse with a fall-back) against the full parser (`parse_event`)
//! the CLI and the golden tests use: on every input they agree, both on what
//! they accept and on the request they read; and the decision never panics.
#![no_main]

#[path = "shared.rs"]
mod shared;

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
    if let Ok((request, request_id)) = fast {
        let outcome = shared::decide(&request);
        let _ = edge_auth_event::compact_result(
            &outcome,
            &request,
            request_id.as_deref(),
            shared::NOW_MS,
        );
    }
});
