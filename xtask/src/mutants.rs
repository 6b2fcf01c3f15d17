//! `cargo xtask mutants [--part core|matcher|event|waf-sync|patterns] [--file F]... [--own-tests] [--iterate]`:
//! mutation testing with cargo-mutants (pinned, 27.1.0), to show which tests
//! bite. Each part names the package, the files #19 asks about and the tests
//! that judge a mutant: the core's own and the edge integration suite (no
//! services), the matcher's, waf-sync's unit tests. Not part of CI (a full
//! run takes hours on 2 cores); the README records the scores with this
//! command. Results land in `target/mutants/<part>/mutants.out/`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// What a part mutates and which tests judge it.
struct Plan {
    package: &'static str,
    files: &'static [&'static str],
    test_packages: &'static [&'static str],
    test_args: &'static [&'static str],
    /// Seconds before a mutant's tests count as hung (caught): the
    /// baseline cargo-mutants times runs only the mutated package's tests,
    /// so its automatic timeout would cut the cross-crate suites short.
    timeout_s: u32,
}

fn plan(part: &str) -> anyhow::Result<Plan> {
    Ok(match part {
        "core" => Plan {
            package: "edge-auth-core",
            files: &[
                "edge-auth/core/src/jwt.rs",
                "edge-auth/core/src/policy.rs",
                "edge-auth/core/src/decide.rs",
                "edge-auth/core/src/keys.rs",
                "edge-auth/core/src/cache.rs",
                "edge-auth/core/src/uri.rs",
                "edge-auth/core/src/config/build.rs",
                "edge-auth/core/src/config/baked.rs",
            ],
            test_packages: &["edge-auth-core", "workspace-tests"],
            // The catalog's tests judge bot-signatures, not the core, and
            // take most of the suite's time.
            test_args: &["--", "--skip", "catalog::"],
            timeout_s: 180,
        },
        "matcher" => Plan {
            package: "bot-signatures-matcher",
            files: &[],
            test_packages: &["bot-signatures-matcher"],
            test_args: &[],
            // Its tests take 2-5 s; a mutant that loops in the scan hangs.
            timeout_s: 40,
        },
        "waf-sync" => Plan {
            package: "waf-sync",
            files: &["waf-sync/src/plan.rs", "waf-sync/src/derive.rs"],
            test_packages: &["waf-sync"],
            // The unit tests; the emulator suite needs services per mutant.
            test_args: &["--lib"],
            timeout_s: 120,
        },
        "event" => Plan {
            package: "edge-auth-event",
            files: &[
                "edge-auth/event/src/packed.rs",
                "edge-auth/event/src/ledger.rs",
            ],
            // Its own tests (the packed format against `parse_request`, the
            // logging policies) and the CLI's, which prints the ledger.
            test_packages: &["edge-auth-event", "edge-auth-cli"],
            test_args: &[],
            timeout_s: 120,
        },
        "patterns" => Plan {
            package: "bot-signatures",
            // What the edge's speed-ups rest on: the literals, shapes, leads
            // and alphabets extracted from each pattern.
            files: &["bot-signatures/src/pattern.rs"],
            test_packages: &["bot-signatures"],
            // The unit and property tests; the CLI's suites run the binary.
            test_args: &["--lib"],
            timeout_s: 120,
        },
        other => bail!("unknown part {other:?}: core, matcher, event, waf-sync or patterns"),
    })
}

pub fn mutants(
    root: &Path,
    part: &str,
    files: &[String],
    jobs: u32,
    own_tests: bool,
    iterate: bool,
) -> anyhow::Result<()> {
    let plan = plan(part)?;
    let tool = crate::tool(
        "CARGO_MUTANTS",
        "cargo-mutants/bin/cargo-mutants",
        "cargo-mutants",
    );
    let out = crate::dist::target_dir(root).join("mutants").join(part);
    std::fs::create_dir_all(&out)?;
    let mut cmd = Command::new(&tool);
    // Each mutant builds in its own copy of the tree: a shared target
    // directory would let one job's binaries judge another job's mutant.
    cmd.env_remove("CARGO_TARGET_DIR");
    cmd.current_dir(root)
        .args(["mutants", "-p", plan.package, "-j", &jobs.to_string()])
        // Optimised dependencies (Cargo.toml's `mutants` profile): the
        // judging suites run several times faster than in debug.
        .args(["--profile", "mutants"])
        .args(["--timeout", &plan.timeout_s.to_string()])
        .arg("-o")
        .arg(&out);
    if iterate {
        cmd.arg("--iterate");
    }
    let chosen: Vec<&str> = if files.is_empty() {
        plan.files.to_vec()
    } else {
        files.iter().map(String::as_str).collect()
    };
    for f in chosen {
        cmd.args(["-f", f]);
    }
    let judges: &[&str] = if own_tests {
        &[plan.package]
    } else {
        plan.test_packages
    };
    for t in judges {
        cmd.args(["--test-package", t]);
    }
    if !plan.test_args.is_empty() {
        cmd.arg("--").args(plan.test_args);
    }
    eprintln!("xtask mutants: [{part}] {cmd:?}");
    let status = cmd.status().with_context(|| {
        format!(
            "running {tool:?}: install it with `cargo install cargo-mutants --version 27.1.0 --locked --root ~/.cache/edge-auth/tools/cargo-mutants` (or set CARGO_MUTANTS)"
        )
    })?;
    // cargo-mutants exits 2 when mutants were missed and 3 when some timed
    // out: results, not failures.
    match status.code() {
        Some(0 | 2 | 3) => {
            let dir = out.join("mutants.out");
            match per_file(&dir) {
                Ok(table) => eprint!("{table}"),
                Err(e) => eprintln!("xtask mutants: no per-file table: {e:#}"),
            }
            eprintln!(
                "xtask mutants: [{part}] see {}/ (caught.txt, missed.txt, unviable.txt)",
                dir.display()
            );
            Ok(())
        }
        _ => bail!("cargo-mutants failed ({status})"),
    }
}

/// This run's outcomes per file, as the README's table: caught (timeouts
/// counted as caught, as cargo-mutants does), missed, unviable, and the score
/// caught / (caught + missed). After `--iterate` it covers only the mutants
/// that run tested; `previously_caught.txt` holds the rest.
fn per_file(dir: &Path) -> anyhow::Result<String> {
    use std::collections::BTreeMap;
    let text = std::fs::read_to_string(dir.join("outcomes.json"))
        .with_context(|| format!("reading {}/outcomes.json", dir.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let mut rows: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for o in v["outcomes"].as_array().context("no outcomes")? {
        let Some(file) = o["scenario"]["Mutant"]["file"].as_str() else {
            continue; // the baseline
        };
        let slot = match o["summary"].as_str() {
            Some("CaughtMutant" | "Timeout") => 0,
            Some("MissedMutant") => 1,
            Some("Unviable") => 2,
            other => bail!("unknown outcome {other:?} for {file}"),
        };
        rows.entry(file.to_owned()).or_default()[slot] += 1;
    }
    let mut out = String::from(
        "| file | caught | missed | unviable | score |\n| --- | ---: | ---: | ---: | ---: |\n",
    );
    let mut total = [0usize; 3];
    let score = |c: usize, m: usize| {
        if c + m == 0 {
            "-".to_owned()
        } else {
            format!("{:.1}%", 100.0 * c as f64 / (c + m) as f64)
        }
    };
    for (file, [c, m, u]) in &rows {
        out.push_str(&format!(
            "| `{file}` | {c} | {m} | {u} | {} |\n",
            score(*c, *m)
        ));
        for (t, n) in total.iter_mut().zip([c, m, u]) {
            *t += n;
        }
    }
    let [c, m, u] = total;
    out.push_str(&format!("| all | {c} | {m} | {u} | {} |\n", score(c, m)));
    Ok(out)
}
