//! CLI cases for `edge-auth` (the `decide` contract of DESIGN.md): one
//! `cmd/*.toml` per behaviour. `TRYCMD=overwrite cargo test -p edge-auth-cli
//! --test cli` rewrites expectations after a deliberate change.

#[test]
fn cli_cases() {
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}
