//! Shared set-up for the fuzz targets: the demo config and the shipped matcher, built once.

use std::sync::OnceLock;

use edge_auth_core::{EdgeConfig, Matcher};

#[allow(dead_code)]
pub fn config() -> &'static EdgeConfig {
    static CONFIG: OnceLock<EdgeConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo");
        let text = std::fs::read_to_string(dir.join("edge.toml")).expect("demo config");
        EdgeConfig::parse(&text, |f| {
            std::fs::read_to_string(dir.join(f)).map_err(|e| e.to_string())
        })
        .expect("demo config parses")
    })
}

#[allow(dead_code)]
pub fn matcher() -> &'static Matcher {
    static MATCHER: OnceLock<Matcher> = OnceLock::new();
    MATCHER.get_or_init(|| {
        bot_signatures::compile::compile(&bot_signatures::Catalog::embedded().0)
            .matcher()
            .expect("matcher")
    })
}

/// The tokens in the viewer-request fixtures (every `eyJ...` JWT, in headers,
/// cookies or query strings); only these may ever verify.
#[allow(dead_code)]
pub fn valid_tokens() -> &'static [String] {
    static TOKENS: OnceLock<Vec<String>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/viewer-request");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let mut rest = text.as_str();
            while let Some(at) = rest.find("eyJ") {
                rest = &rest[at..];
                let token: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                    .collect();
                rest = &rest[token.len()..];
                if token.matches('.').count() == 2 {
                    out.push(token);
                }
            }
        }
        out
    })
}

#[allow(dead_code)]
pub fn verified() -> &'static edge_auth_core::VerifiedBots {
    static TABLE: OnceLock<edge_auth_core::VerifiedBots> = OnceLock::new();
    TABLE.get_or_init(|| {
        let (catalog, _) = bot_signatures::Catalog::embedded();
        bot_signatures::verified::embedded(&catalog)
            .map(|(t, _)| t)
            .expect("verified-bot table")
    })
}

/// Decides `request` on a fresh instance of the demo edge at the fixtures' time.
#[allow(dead_code)]
pub fn decide(request: &edge_auth_core::CfRequest) -> edge_auth_core::Outcome {
    let cfg = config();
    let mut state = edge_auth_core::EdgeState::new(cfg, edge_auth_core::HashKeys::new(1, 2));
    let ctx = edge_auth_core::Ctx {
        now_ms: NOW_MS,
        config: cfg,
        matcher: Some(matcher()),
        verified: Some(verified()),
    };
    edge_auth_core::decide(request, &ctx, &mut state)
}

/// The fixtures' time, milliseconds.
#[allow(dead_code)]
pub const NOW_MS: u64 = 1_800_000_100_000;
