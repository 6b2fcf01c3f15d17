//! The token parser and verifier: arbitrary bytes as a token never panic, and
//! nothing verifies but the demo fixtures' own valid tokens, byte for byte (a
//! mutation that still verified would be a malleable encoding).
#![no_main]

#[path = "shared.rs"]
mod shared;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    if edge_auth_core::jwt::verify(&token, shared::config().issuers(), 1_800_000_100).is_ok() {
        assert!(
            shared::valid_tokens().iter().any(|t| *t == token),
            "a token that is not a fixture's verified: {token:?}"
        );
    }
});
