//! The bundle's baked config reader (`EdgeConfig::from_baked`): arbitrary
//! bytes are refused or read exactly (a config that loads writes back the same
//! bytes), never a panic; a config that loads decides a request.
#![no_main]

mod shared;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut raw = edge_auth_core::config::BAKED_MAGIC.to_vec();
    raw.extend_from_slice(data);
    for bytes in [data, &raw[..]] {
        if let Ok(cfg) = edge_auth_core::EdgeConfig::from_baked(bytes) {
            assert_eq!(cfg.to_baked(), bytes, "read back as other bytes");
            let mut state = edge_auth_core::EdgeState::new(&cfg, edge_auth_core::HashKeys::new(1, 2));
            let ctx = edge_auth_core::Ctx {
                now_ms: 1_800_000_000_000,
                config: &cfg,
                matcher: Some(shared::matcher()),
                verified: None,
            };
            let mut req = edge_auth_core::CfRequest::default();
            req.uri = "/private/a".into();
            req.method = "GET".into();
            req.client_ip = "203.0.113.9".into();
            let _ = edge_auth_core::decide(&req, &ctx, &mut state);
        }
    }
});
