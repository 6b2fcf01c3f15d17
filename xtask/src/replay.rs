//! The bundle replay in `cargo xtask ci`: every viewer-request fixture goes
//! through the built bundle in real Node.js and through the native core, and
//! the results must be identical. Twice: each fixture on a fresh instance
//! against its `.decision.json` (written by the native core), and all
//! fixtures in order on one warm instance against `edge-auth decide` (so
//! the token cache and the rate limiter carry over the same way).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// The time the fixtures are decided at (the demo tokens are valid then).
/// The fixtures' clock ([`workspace_tests::FIXTURE_NOW_S`]), as an argument.
fn now_arg() -> String {
    workspace_tests::FIXTURE_NOW_S.to_string()
}

fn run(mut cmd: Command, input: &[u8]) -> anyhow::Result<String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    child.stdin.take().context("stdin")?.write_all(input)?;
    let out = child.wait_with_output()?;
    // `decide` exits 65 when an event is malformed; its lines are still the results.
    if !out.status.success() && out.status.code() != Some(65) {
        bail!("{cmd:?} failed: {}", out.status);
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// `edge-auth decide` with the demo config at the fixtures' time: events from
/// `file`, or from `input` on stdin. One result line per event.
fn native_decide(file: Option<&Path>, input: &[u8]) -> anyhow::Result<String> {
    let mut native = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    native.args([
        "run",
        "--quiet",
        "-p",
        "edge-auth-cli",
        "--",
        "decide",
        "--config",
        "examples/demo/edge.toml",
        "--now",
    ]);
    native.arg(now_arg());
    if let Some(f) = file {
        native.arg(f);
    }
    native.stderr(Stdio::null());
    run(native, input)
}

///
/// `node_flags`: Node started with them (those of the bundle's code cache, so
/// that the replay runs the cached code), or none.
pub fn compare(root: &Path, bundle: &Path, node_flags: &[String]) -> anyhow::Result<()> {
    let cases = workspace_tests::viewer_request_events();
    let mut jsonl = String::new();
    for case in &cases {
        let event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(case)?)
            .with_context(|| format!("{}", case.display()))?;
        jsonl.push_str(&event.to_string());
        jsonl.push('\n');
    }
    // Fresh instance per fixture vs the native golden expectations.
    let mut fresh = Command::new("node");
    fresh
        .args(node_flags)
        .arg(root.join("tests/node/replay.mjs"))
        .arg(bundle)
        .arg(now_arg())
        .arg("--fresh");
    let from_fresh = run(fresh, jsonl.as_bytes())?;
    let mut diffs = Vec::new();
    for (case, line) in cases.iter().zip(from_fresh.lines()) {
        let got: serde_json::Value = serde_json::from_str(line)?;
        let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
            case.with_extension("decision.json"),
        )?)?;
        if got != expected["result"] {
            diffs.push(format!(
                "{}:
  node   {got}
  native {}",
                case.display(),
                expected["result"]
            ));
        }
    }
    if !diffs.is_empty() || from_fresh.lines().count() != cases.len() {
        bail!(
            "fresh bundle and native golden results disagree on {} fixture(s):\n{}",
            diffs.len(),
            diffs.join("\n")
        );
    }

    // One warm instance, all fixtures in order, vs `edge-auth decide`.
    let mut node = Command::new("node");
    node.args(node_flags)
        .arg(root.join("tests/node/replay.mjs"))
        .arg(bundle)
        .arg(now_arg());
    let from_node = run(node, jsonl.as_bytes())?;
    let from_native = native_decide(None, jsonl.as_bytes())?;
    let (a, b): (Vec<&str>, Vec<&str>) =
        (from_node.lines().collect(), from_native.lines().collect());
    if a.len() != cases.len() || b.len() != cases.len() {
        bail!(
            "expected {} results, Node gave {} and native {}",
            cases.len(),
            a.len(),
            b.len()
        );
    }
    for ((case, n), r) in cases.iter().zip(&a).zip(&b) {
        let n: serde_json::Value = serde_json::from_str(n)?;
        let r: serde_json::Value = serde_json::from_str(r)?;
        if n != r {
            diffs.push(format!("{}:\n  node   {n}\n  native {r}", case.display()));
        }
    }
    if !diffs.is_empty() {
        bail!(
            "the bundle and the native core disagree on {} fixture(s):\n{}",
            diffs.len(),
            diffs.join("\n")
        );
    }
    eprintln!(
        "xtask ci: [bundle replay] {} fixtures, fresh and warm: Node bundle and native core agree{}",
        cases.len(),
        if node_flags.is_empty() {
            String::new()
        } else {
            format!(" (node {})", node_flags.join(" "))
        }
    );
    Ok(())
}

/// 100,000 mixed requests through one warm bundle instance: memory stays
/// bounded (the token cache and the rate table evict) and every decision is
/// the native core's for the same event.
pub fn load(root: &Path, bundle: &Path, out_dir: &Path, requests: usize) -> anyhow::Result<()> {
    let events = out_dir.join("load-events.jsonl");
    let node_results = out_dir.join("load-results.jsonl");
    let out = Command::new("node")
        .arg("--expose-gc")
        .arg(root.join("tests/node/load.mjs"))
        .arg(bundle)
        .arg(now_arg())
        .arg(requests.to_string())
        .arg(&events)
        .arg(&node_results)
        .output()
        .context("running tests/node/load.mjs")?;
    if !out.status.success() {
        bail!("load.mjs failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let stats: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("load.mjs output")?;
    let figures = |key: &str| -> anyhow::Result<Vec<(usize, f64)>> {
        let mut v: Vec<(usize, f64)> = stats[key]
            .as_object()
            .with_context(|| format!("load.mjs output has no {key}"))?
            .iter()
            .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_f64()?)))
            .collect();
        v.sort_by_key(|f| f.0);
        Ok(v)
    };
    let (rss, kept) = (figures("rss_mb")?, figures("kept_mb")?);
    eprintln!(
        "xtask ci: [load] {requests} requests through the bundle: RSS {rss:?} MB; kept (live JS heap + external, incl. wasm memory) {kept:?} MB"
    );
    let (Some(&(_, rss_full)), Some(&(first, kept_first)), Some(&(full, kept_full))) =
        (rss.last(), kept.first(), kept.last())
    else {
        bail!("load.mjs printed no memory figures");
    };
    if rss_full > 128.0 {
        bail!("RSS {rss_full} MB after {requests} requests: over Lambda@Edge's 128 MB");
    }
    // Once the token cache and the rate table are full (10,000 clients, reached
    // by the first checkpoint), what the instance keeps must not grow. RSS is
    // not the measure here: V8 grows its young generation's capacity under
    // sustained load in steps of 8-16 MB, the reference handler's too.
    if kept_full - kept_first > 2.0 {
        bail!(
            "memory kept grew {:.1} MB between {first} and {full} requests: per-instance state is not bounded",
            kept_full - kept_first
        );
    }
    let from_native = native_decide(Some(&events), b"")?;
    let from_node = std::fs::read_to_string(&node_results)?;
    let mut checked = 0;
    for (i, (a, b)) in from_node.lines().zip(from_native.lines()).enumerate() {
        let (a, b): (serde_json::Value, serde_json::Value) =
            (serde_json::from_str(a)?, serde_json::from_str(b)?);
        if a != b {
            bail!(
                "request {} of the load run: bundle {a} but native {b}",
                i + 1
            );
        }
        checked += 1;
    }
    if checked != requests {
        bail!("compared {checked} of {requests} decisions");
    }
    eprintln!("xtask ci: [load] all {requests} decisions identical to the native core");
    Ok(())
}

/// Remote JWKS: a bundle whose config fetches keys from a loopback server,
/// driven by `tests/node/remote_jwks.mjs` (down, penalty box, rotation charged
/// once against the rate limit, failing, oversized, too stale and slow refetches).
pub fn remote_jwks(root: &Path, out_dir: &Path) -> anyhow::Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let demo = std::fs::read_to_string(root.join("examples/demo/edge.toml"))?;
    let jwks = root.join("examples/demo/jwks.json");
    let config = demo.replacen(
        "jwks_file = \"jwks.json\"",
        &format!(
            "jwks_file = {:?}\njwks_url = \"http://127.0.0.1:{port}/jwks.json\"\njwks_cache_seconds = 10\njwks_min_refresh_seconds = 2\njwks_timeout_ms = 300\njwks_max_bytes = 4096\njwks_max_stale_seconds = 40",
            jwks.display().to_string()
        ),
        1,
    );
    std::fs::create_dir_all(out_dir)?;
    let config_path = out_dir.join("remote-jwks.toml");
    std::fs::write(&config_path, config)?;
    let dist_out = out_dir.join("remote-jwks");
    crate::dist::dist(
        root,
        &crate::dist::DistArgs {
            config: config_path,
            out: dist_out.clone(),
            catalog: None,
            rust_crypto: false,
            code_cache: Some(crate::dist::lambda_edge_node_flags()),
        },
    )?;
    let out = Command::new("node")
        .arg(root.join("tests/node/remote_jwks.mjs"))
        .arg(dist_out.join("bundle"))
        .arg(port.to_string())
        .output()?;
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("remote JWKS check failed");
    }
    Ok(())
}

/// The shim's fail-closed paths, for real: `tests/node/fail_closed.mjs` breaks
/// copies of the built bundle (corrupt config, refused config, truncated
/// matcher, a throwing `decide_input` or `decide`, a NaN clock, a config
/// that fetches keys (`remote_config`) in a bundle built without the reader
/// for them) and expects 503s.
pub fn fail_closed(root: &Path, bundle: &Path, remote_config: &Path) -> anyhow::Result<()> {
    node_check(
        root,
        bundle,
        "tests/node/fail_closed.mjs",
        "fail-closed",
        &[remote_config],
    )
}

/// The shim's packed path against the native core, and its logging policy,
/// for real: `tests/node/fast_path.mjs` (fixtures and hostile events through
/// the bundle; the packed ones answered as `edge-auth decide` answers, the
/// others 503).
pub fn fast_path(root: &Path, bundle: &Path) -> anyhow::Result<()> {
    node_check(root, bundle, "tests/node/fast_path.mjs", "fast-path", &[])
}

/// The bot matcher's input-buffer path against its string argument, for
/// real: `tests/node/bot_matcher.mjs` (isbot's fixtures and hostile
/// user-agents, lengths past the buffer, bytes that are not UTF-8).
pub fn bot_matcher(root: &Path, bundle: &Path) -> anyhow::Result<()> {
    node_check(
        root,
        bundle,
        "tests/node/bot_matcher.mjs",
        "bot-matcher",
        &[],
    )
}

/// The versus benchmark's Node side, `bench/bots.mjs`, on a few lines:
/// `tests/node/bots_harness.mjs` (its wasm figures there, both ways in
/// flagging the same lines, the bots and not the browsers). The benchmark
/// itself is not run in CI; this keeps a glue change from breaking it unseen.
pub fn bots_harness(root: &Path, bundle: &Path) -> anyhow::Result<()> {
    node_check(
        root,
        bundle,
        "tests/node/bots_harness.mjs",
        "bots-harness",
        &[],
    )
}

/// The bundle's V8 code cache: `tests/node/code_cache.mjs` (taken under the
/// flags it was made for, refused or not read otherwise, the same decisions
/// every way), and `tests/node/code_cache_mutants.mjs` (that test fails on
/// each mutant of the handler module's cache logic). `dist_out` is the `dist` output directory (its
/// `code-cache.json` names the flags).
pub fn code_cache(root: &Path, dist_out: &Path) -> anyhow::Result<()> {
    let made = dist_out.join("code-cache.json");
    node_check(
        root,
        &dist_out.join("bundle"),
        "tests/node/code_cache.mjs",
        "code-cache",
        &[&made],
    )?;
    // And that test bites: each mutant of the handler module's cache logic
    // makes it fail (cargo-mutants does not reach JavaScript).
    node_check(
        root,
        &dist_out.join("bundle"),
        "tests/node/code_cache_mutants.mjs",
        "code-cache mutants",
        &[&made],
    )
}

/// The signature check in JavaScript, for real: `tests/node/node_crypto.mjs`
/// (every key kind and algorithm, through the snippet the wasm calls; the
/// demo bundle's tokens exercise only ES256).
pub fn node_crypto(root: &Path, bundle: &Path) -> anyhow::Result<()> {
    node_check(
        root,
        bundle,
        "tests/node/node_crypto.mjs",
        "node-crypto",
        &[],
    )
}

/// What a cold start compiles, against `budget` (`STEP=BYTES,...`):
/// `bench/cold-compile.cjs`, which mints its own token at the real clock.
pub fn cold_compile(root: &Path, bundle: &Path, budget: &str) -> anyhow::Result<()> {
    let out = Command::new("node")
        .arg(root.join("bench/cold-compile.cjs"))
        .arg(bundle)
        .args(["--budget", budget])
        .current_dir(root)
        .output()
        .context("running bench/cold-compile.cjs")?;
    eprint!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("cold-start compile budget exceeded (or the count failed)");
    }
    Ok(())
}

/// Runs a Node check script on the bundle at the fixtures' clock (then
/// `extra`), passing its report (stderr) through; a non-zero exit fails the
/// step.
fn node_check(
    root: &Path,
    bundle: &Path,
    script: &str,
    what: &str,
    extra: &[&Path],
) -> anyhow::Result<()> {
    let out = Command::new("node")
        .arg(root.join(script))
        .arg(bundle)
        .arg(now_arg())
        .args(extra)
        .output()
        .with_context(|| format!("running {script}"))?;
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("{what} check failed");
    }
    Ok(())
}
