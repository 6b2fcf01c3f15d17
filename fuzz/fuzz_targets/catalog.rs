//! The signature catalog parser and validator: arbitrary text never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let (catalog, _) = bot_signatures::Catalog::parse(&[("fuzz.toml".to_owned(), text)]);
    let _ = bot_signatures::validate::validate(&catalog, None);
});
