//! The WAF regex validator, the literal extractor and the WAF form: arbitrary
//! patterns never panic, and an accepted pattern's WAF form still compiles.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(pattern) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(hir) = bot_signatures::pattern::check(pattern) {
        let _ = bot_signatures::pattern::literals(&hir);
        let waf = bot_signatures::waf::to_waf_regex(pattern);
        assert!(
            regex::Regex::new(&waf).is_ok(),
            "{pattern:?} became {waf:?}"
        );
    }
});
