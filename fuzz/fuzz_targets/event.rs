//! The viewer-request event decoder and the whole decision (cookies, query,
//! headers, paths): arbitrary JSON never panics, and a protected object is
//! never forwarded without a valid token (the fuzzer cannot sign one: only the
//! fixtures' own tokens may verify), nor with the token of someone whose
//! folder it is not. A path counts as public only when both S3's reading
//! (one decode) and a resolving origin's (dot segments and `//` resolved,
//! `\` as `/`) name a public object: `/public/../private/x` is private.
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
    let resolved = resolve(&key);
    let is_public = |k: &str| k.starts_with("public/") || k.starts_with("assets/");
    let public = is_public(&key) && is_public(&resolved);
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
        let subs: Vec<String> = shared::valid_tokens()
            .iter()
            .filter(|t| text.contains(t.as_str()))
            .filter_map(|t| sub_of(t))
            .collect();
        assert!(
            !subs.is_empty(),
            "forwarded {} without a fixture's token",
            event.request.uri
        );
        // Under /private/ only the owner's token opens a folder.
        if key.starts_with("private/") || resolved.starts_with("private/") {
            assert!(
                subs.iter().any(|s| {
                    let own = format!("private/{s}/");
                    key.starts_with(&own) && resolved.starts_with(&own)
                }),
                "forwarded {} with the token of {subs:?}",
                event.request.uri
            );
        }
    }
});

/// The key a resolving origin (nginx, Express) serves: `\` as `/`, empty
/// and `.` segments dropped, `..` going up.
fn resolve(key: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in key.split(['/', '\\']) {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut joined = out.join("/");
    if key.ends_with('/') {
        joined.push('/');
    }
    joined
}

/// A fixture token's `sub` (its payload decoded; the fuzzer cannot forge one).
fn sub_of(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("sub")?.as_str().map(str::to_owned)
}
