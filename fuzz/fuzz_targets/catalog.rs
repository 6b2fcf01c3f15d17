//! The signature catalog parser and validator, and the edge's two binary
//! artifact loaders (the matcher's and the verified bots' table): arbitrary
//! input never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let (catalog, _) = bot_signatures::Catalog::parse(&[("fuzz.toml".to_owned(), text)]);
    let report = bot_signatures::validate::validate(&catalog, None);
    // The artifact this catalog compiles to loads back; arbitrary bytes are
    // refused or load, and whatever loads classifies without panicking.
    let compiled = report.compiled.artifact.to_bytes();
    assert!(bot_signatures::Matcher::from_bytes(&compiled).is_ok());
    let mut raw = bot_signatures_matcher::BINARY_MAGIC.to_vec();
    raw.extend_from_slice(data);
    for bytes in [data, &raw[..]] {
        if let Ok(m) = bot_signatures::Matcher::from_bytes(bytes) {
            let _ = m.classify("Mozilla/5.0 (compatible; FuzzBot/1.0)");
        }
    }
    // The verified bots' table: refused, or a table whose every claim
    // answers for any address.
    use bot_signatures_matcher::verify::{VERIFY_MAGIC, VerifiedBots};
    let mut table = VERIFY_MAGIC.to_vec();
    table.extend_from_slice(data);
    for bytes in [data, &table[..]] {
        if let Ok(t) = VerifiedBots::from_bytes(bytes) {
            for id in ["cua-googlebot", "", "\u{0}"] {
                let _ = t.check(id, "66.249.66.1".parse().ok());
                let _ = t.check(id, "2001:db8::1".parse().ok());
            }
        }
    }
});
