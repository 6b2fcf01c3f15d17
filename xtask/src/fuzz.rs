//! `cargo xtask fuzz --seconds N`: every cargo-fuzz (libFuzzer) target for N
//! seconds, seeded from the repository's fixtures and from the inputs that
//! once made a target fail (`fuzz/seeds/<target>/`). The targets are in
//! `fuzz/fuzz_targets/`; crashes land in `fuzz/artifacts/` and fail the task.
//! cargo-fuzz needs nightly features; `RUSTC_BOOTSTRAP=1` enables them on the
//! stable toolchain this project uses.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

pub const TARGETS: &[&str] = &[
    "token",
    "event",
    "request",
    "catalog",
    "waf_regex",
    "config",
];

/// Writes the seed corpus of each target from the fixtures.
fn seed(root: &Path) -> anyhow::Result<()> {
    let corpus = root.join("fuzz/corpus");
    let dir = |t: &str| -> anyhow::Result<PathBuf> {
        let d = corpus.join(t);
        std::fs::create_dir_all(&d)?;
        Ok(d)
    };
    let (events, requests, tokens) = (dir("event")?, dir("request")?, dir("token")?);
    for path in workspace_tests::viewer_request_events() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&path)?;
        std::fs::write(events.join(&name), &text)?;
        std::fs::write(requests.join(&name), &text)?;
        if let Some(at) = text.find("Bearer ") {
            let token: String = text[at + 7..].chars().take_while(|c| *c != '"').collect();
            std::fs::write(tokens.join(&name), token)?;
        }
    }
    // The baked configs of the demo and of the conformance suite.
    let configs = dir("config")?;
    for (name, toml) in [
        ("demo", root.join("examples/demo/edge.toml")),
        (
            "conformance",
            root.join("tests/fixtures/conformance/edge.toml"),
        ),
    ] {
        let cfg = workspace_tests::config_in(
            toml.parent().unwrap_or(root),
            &std::fs::read_to_string(&toml)?,
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", toml.display()))?;
        std::fs::write(configs.join(name), cfg.to_baked())?;
    }
    let (catalogs, patterns) = (dir("catalog")?, dir("waf_regex")?);
    let generic = root.join("bot-signatures/catalog/generic.toml");
    std::fs::copy(&generic, catalogs.join("generic.toml"))?;
    // The edge's binary matcher artifact of the generic rules (a few KB: a
    // whole catalog's would raise libFuzzer's input length for every run),
    // so that mutations start from a real artifact, not only from TOML.
    let (rules, _) = bot_signatures::Catalog::parse(&[(
        "generic.toml".to_owned(),
        std::fs::read_to_string(&generic)?,
    )]);
    std::fs::write(
        catalogs.join("artifact-generic.bin"),
        bot_signatures::compile::compile(&rules)
            .artifact
            .to_edge_bytes(),
    )?;
    let (catalog, _) = bot_signatures::Catalog::embedded();
    for (i, s) in catalog.signatures.iter().enumerate().step_by(7) {
        std::fs::write(patterns.join(format!("p{i}")), &s.pattern)?;
    }
    // Inputs that once made a target fail, committed under
    // `fuzz/seeds/<target>/`: libFuzzer runs its corpus first, so every
    // run, CI's 30-second smoke included, tries each of them again.
    for target in TARGETS {
        let Ok(kept) = std::fs::read_dir(root.join("fuzz/seeds").join(target)) else {
            continue;
        };
        let into = dir(target)?;
        for input in kept {
            let input = input?;
            std::fs::copy(input.path(), into.join(input.file_name()))?;
        }
    }
    Ok(())
}

pub fn fuzz(root: &Path, seconds: u64) -> anyhow::Result<()> {
    seed(root)?;
    let tool = crate::tool("CARGO_FUZZ", "cargo-fuzz/bin/cargo-fuzz", "cargo-fuzz");
    // Sanitizer builds beside the main target directory, never mixed into it.
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => PathBuf::from(t).with_file_name("fuzz-target"),
        None => root.join("fuzz/target"),
    };
    for target in TARGETS {
        eprintln!("xtask fuzz: [{target}] {seconds} s");
        let out = Command::new(&tool)
            .current_dir(root.join("fuzz"))
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_DIR", &target_dir)
            .args([
                "run",
                target,
                "--",
                &format!("-max_total_time={seconds}"),
                "-print_final_stats=1",
            ])
            .output()
            .with_context(|| {
                format!(
                    "running {} (install it: cargo install cargo-fuzz; .ci/run does)",
                    tool.to_string_lossy()
                )
            })?;
        // libFuzzer reports every new input; keep the log to its verdict.
        let log = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = log.lines().collect();
        let keep = if out.status.success() { 4 } else { 80 };
        for line in &lines[lines.len().saturating_sub(keep)..] {
            eprintln!("xtask fuzz: [{target}] {line}");
        }
        if !out.status.success() {
            bail!("fuzz target {target} failed: see fuzz/artifacts/{target}/ for the input");
        }
    }
    Ok(())
}
