//! The viewer-request event decoder and the whole decision (cookies, query,
//! headers, paths): arbitrary JSON never panics, and a protected object (as
//! S3 reads the URI) is never forwarded without a valid token (the fuzzer
//! cannot sign one: only the fixtures' own tokens may verify).
#![no_main]

#[path = "shared.rs"]
mod shared;

use edge_auth_core::Decision;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(event) = edge_auth_event::parse_event(text) else {
        return;
    };
    let outcome = shared::decide(&event.request);
    let _ = edge_auth_event::render(&outcome, &event);
    // Judged on the object S3 serves for the URI (decoded once, by another
    // decoder than the edge's), not on the raw spelling.
    let key = percent_encoding::percent_decode_str(event.request.uri.trim_start_matches('/'))
        .decode_utf8_lossy()
        .into_owned();
    let public = key.starts_with("public/") || key.starts_with("assets/");
    if let Decision::Forward { .. } = outcome.decision
        && !public
        && outcome.reason != edge_auth_core::Reason::CorsPreflight
    {
        assert_eq!(
            outcome.reason,
            edge_auth_core::Reason::TokenValid,
            "forwarded {} for {}",
            outcome.reason,
            event.request.uri
        );
        assert!(
            shared::valid_tokens()
                .iter()
                .any(|t| text.contains(t.as_str())),
            "forwarded {} without a fixture's token",
            event.request.uri
        );
    }
});
