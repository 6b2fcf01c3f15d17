//! CLI cases for `bot-signatures`: one `cmd/*.toml` per behaviour (args, stdin,
//! expected stdout/stderr and exit code), with a `.in/` folder as the working
//! directory. `TRYCMD=overwrite cargo test -p bot-signatures --test cli` rewrites
//! the expectations after a deliberate change; review the diff.

#[test]
fn cli_cases() {
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}
