//! Our matcher against the anchors, in one run: throughput (criterion for the
//! native matcher, a Node harness for isbot and crawler-user-agents' patterns
//! on the same workload) and quality on public labeled data (bots: the
//! crawler-user-agents instances; humans: npm `user-agents`, which the catalog's
//! browser guard also uses, and PyPI `fake-useragent`, which it never sees).
//!
//! Run: `cargo bench -p bot-signatures --bench versus` (needs `npm ci`; fetches
//! fake-useragent with pip into the target directory). Prints a table and
//! writes `<target>/bench/bots.json`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bot_signatures::Catalog;
use bot_signatures::corpus::BrowserCorpus;
use bot_signatures_matcher::Matcher;
use criterion::Criterion;
use serde_json::{Value, json};

const FAKE_UA: &str = "fake-useragent==2.2.0";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// PyPI fake-useragent's browsers.jsonl, downloaded once into the target directory.
fn fake_useragent(dir: &Path) -> Vec<(String, String)> {
    let data = dir.join("fake_useragent/data/browsers.jsonl");
    if !data.is_file() {
        eprintln!("bench: fetching {FAKE_UA} from PyPI into {}", dir.display());
        let ok = Command::new("python3")
            .args(["-m", "pip", "download", "--no-deps", "-q", "-d"])
            .arg(dir)
            .arg(FAKE_UA)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "pip download {FAKE_UA} failed");
        let script = "import sys,zipfile,glob; z=zipfile.ZipFile(glob.glob(sys.argv[1]+'/fake_useragent-*.whl')[0]); z.extractall(sys.argv[1])";
        let ok = Command::new("python3")
            .args(["-c", script])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "unpacking fake-useragent failed");
    }
    std::fs::read_to_string(&data)
        .unwrap_or_else(|e| panic!("{}: {e}", data.display()))
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            Some((
                v["useragent"].as_str()?.to_owned(),
                v["browser"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

fn main() {
    let out_dir = target_dir().join("bench");
    std::fs::create_dir_all(&out_dir).unwrap_or_else(|e| panic!("{e}"));
    let root = root();

    let (catalog, diagnostics) =
        Catalog::load(&root.join("bot-signatures/catalog")).unwrap_or_else(|e| panic!("{e}"));
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let compiled = bot_signatures::compile::compile(&catalog);
    // The binary artifact, as the edge bundle carries it (bot-matcher.bin).
    let artifact = compiled.artifact.to_bytes();
    let load_start = Instant::now();
    let loads = 20;
    for _ in 0..loads {
        black_box(Matcher::from_bytes(&artifact).unwrap_or_else(|e| panic!("{e}")));
    }
    let load_ms = load_start.elapsed().as_secs_f64() * 1000.0 / f64::from(loads);
    let matcher = Matcher::from_bytes(&artifact).unwrap_or_else(|e| panic!("{e}"));

    // Labeled data.
    let cua: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(
            root.join("node_modules/crawler-user-agents/crawler-user-agents.json"),
        )
        .unwrap_or_else(|e| panic!("run `npm ci`: {e}")),
    )
    .unwrap_or_default();
    let bots: Vec<(String, String)> = cua
        .iter()
        .flat_map(|e| {
            let pattern = e["pattern"].as_str().unwrap_or_default().to_owned();
            e["instances"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(move |i| Some((i.as_str()?.to_owned(), pattern.clone())))
        })
        .collect();
    let guard = BrowserCorpus::load(&root.join(bot_signatures::corpus::DEFAULT_RELATIVE))
        .unwrap_or_else(|e| panic!("{e}"));
    let held_out = fake_useragent(&out_dir);
    let current: Vec<String> = held_out
        .iter()
        .filter(|(_, b)| {
            matches!(
                b.as_str(),
                "Chrome"
                    | "Chrome Mobile"
                    | "Chrome Mobile iOS"
                    | "Mobile Safari"
                    | "Safari"
                    | "Firefox"
                    | "Firefox Mobile"
                    | "Edge"
                    | "Edge Mobile"
                    | "Samsung Internet"
            )
        })
        .map(|(u, _)| u.clone())
        .collect();
    let mut humans: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    humans.insert(
        "user-agents (npm; the catalog's guard)",
        guard.user_agents.clone(),
    );
    humans.insert(
        "fake-useragent (PyPI; held out)",
        held_out.iter().map(|(u, _)| u.clone()).collect(),
    );
    humans.insert(
        "current Chrome/Safari/Firefox/Edge/Samsung (held out)",
        current,
    );

    // The workload: every labeled user-agent once, bots and humans interleaved.
    let mut workload: Vec<String> = bots.iter().map(|(u, _)| u.clone()).collect();
    workload.extend(guard.user_agents.iter().cloned());
    workload.extend(held_out.iter().map(|(u, _)| u.clone()));
    workload.sort_by_key(|u| u.len() % 7);

    // Ours, natively, under criterion.
    let criterion_dir = out_dir.join("criterion");
    let mut c = Criterion::default()
        .output_directory(&criterion_dir)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(30)
        .configure_from_args();
    c.bench_function("bot-signatures/classify-workload", |b| {
        b.iter(|| {
            for ua in &workload {
                black_box(matcher.classify(black_box(ua)));
            }
        })
    });
    c.final_summary();
    let estimates: Value = serde_json::from_str(
        &std::fs::read_to_string(
            criterion_dir.join("bot-signatures_classify-workload/new/estimates.json"),
        )
        .unwrap_or_else(|e| panic!("criterion estimates: {e}")),
    )
    .unwrap_or_default();
    let ours_ns = estimates["median"]["point_estimate"]
        .as_f64()
        .unwrap_or(f64::NAN)
        / workload.len() as f64;

    // Quality, ours.
    let detected = |ua: &str| matcher.classify(ua).is_some();
    let recall = bots.iter().filter(|(u, _)| detected(u)).count() as f64 / bots.len() as f64;
    // Leave-one-out: would we catch this bot if its own imported signature did not exist?
    let ids_by_pattern: BTreeMap<&str, &str> = catalog
        .signatures
        .iter()
        .filter(|s| s.id.starts_with("cua-"))
        .map(|s| (s.pattern.as_str(), s.id.as_str()))
        .collect();
    let loo = bots
        .iter()
        .filter(|(u, pattern)| {
            let own = ids_by_pattern.get(pattern.as_str()).copied();
            matcher
                .matches(u)
                .iter()
                .any(|v| Some(v.signature.id) != own)
        })
        .count() as f64
        / bots.len() as f64;
    let generic_only = bots
        .iter()
        .filter(|(u, _)| matcher.matches(u).iter().any(|v| v.signature.generic))
        .count() as f64
        / bots.len() as f64;
    let mut ours_humans = serde_json::Map::new();
    for (name, list) in &humans {
        let fp: Vec<&String> = list.iter().filter(|u| detected(u)).collect();
        ours_humans.insert((*name).to_owned(), json!({ "total": list.len(), "false_positives": fp.len(), "examples": fp.iter().take(3).collect::<Vec<_>>() }));
    }

    // The anchors, in Node, on the same data.
    let bundle = target_dir()
        .parent()
        .map(|_| root.join("target/dist/bundle"))
        .filter(|b| b.join("edge_auth_wasm.js").is_file());
    if bundle.is_none() {
        eprintln!(
            "bench: no wasm bundle at target/dist/bundle; run `cargo xtask dist --config examples/demo/edge.toml --out target/dist` for the wasm figures"
        );
    }
    // A one-signature artifact, to tell the catalog's share of a cold load
    // from what any first call into the loader costs.
    let one = bot_signatures_matcher::CompiledCatalog {
        signatures: compiled.artifact.signatures[..1].to_vec(),
        literals: compiled
            .artifact
            .literals
            .iter()
            .filter(|(_, owner)| *owner == 0)
            .cloned()
            .collect(),
        unindexed: vec![],
        ..compiled.artifact.clone()
    };
    let one_path = out_dir.join("one-signature.bin");
    std::fs::write(&one_path, one.to_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let input = json!({
        "bundle": bundle,
        "one_signature_artifact": one_path,
        "workload": workload,
        "bots": bots.iter().map(|(u, _)| u).collect::<Vec<_>>(),
        "humans": humans,
        "rounds": 30,
    });
    let input_path = out_dir.join("bots-input.json");
    std::fs::write(&input_path, input.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let node = Command::new("node")
        .arg(root.join("bench/bots.mjs"))
        .arg(&input_path)
        .output()
        .unwrap_or_else(|e| panic!("node: {e}"));
    assert!(
        node.status.success(),
        "bench/bots.mjs failed: {}",
        String::from_utf8_lossy(&node.stderr)
    );
    let anchors: Value = serde_json::from_slice(&node.stdout).unwrap_or_default();

    // Paired rounds: one native pass, then one pass of each Node matcher (each
    // after an untimed pass that warms the caches again), 30 times; the ratio is the median of the per-round ratios, so a slow minute
    // on this machine slows both sides of it.
    let paired = paired_rounds(&root, &input_path, 30, || {
        for ua in &workload {
            black_box(matcher.classify(black_box(ua))); // caches warm again
        }
        let t = Instant::now();
        for ua in &workload {
            black_box(matcher.classify(black_box(ua)));
        }
        t.elapsed().as_nanos() as f64 / workload.len() as f64
    });

    let report = json!({
        "workload_user_agents": workload.len(),
        "bots": bots.len(),
        "ours": {
            "median_ns": ours_ns,
            "recall": recall,
            "recall_leave_one_out": loo,
            "recall_generic_rules_only": generic_only,
            "humans": ours_humans,
            "matcher_load_ms_native": load_ms,
            "artifact_bytes": artifact.len(),
            "signatures": compiled.artifact.signatures.len(),
        },
        "anchors": anchors,
        "paired_rounds": {
            "ours_native_ns": paired.native,
            "isbot_ns": paired.isbot,
            "ours_wasm_ns": paired.wasm,
            "isbot_over_native": paired.isbot_over_native,
            "isbot_over_wasm": paired.isbot_over_wasm,
        },
    });
    std::fs::write(
        out_dir.join("bots.json"),
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    println!();
    println!(
        "bot matching, {} user-agents per pass ({} bots, {} humans)",
        workload.len(),
        bots.len(),
        workload.len() - bots.len()
    );
    println!(
        "{:<44} {:>12} {:>14} {:>10}",
        "", "ns / UA", "vs isbot", "recall"
    );
    let isbot_ns = anchors["isbot"]["median_ns"].as_f64().unwrap_or(f64::NAN);
    let row = |name: &str, ns: f64, recall: f64| {
        println!(
            "{:<44} {:>12.0} {:>13.1}x {:>9.1}%",
            name,
            ns,
            isbot_ns / ns,
            recall * 100.0
        );
    };
    row("ours, native (criterion median)", ours_ns, recall);
    row(
        "isbot (Node)",
        isbot_ns,
        anchors["isbot"]["recall"].as_f64().unwrap_or(f64::NAN),
    );
    row(
        "crawler-user-agents as one RegExp (Node)",
        anchors["crawler-user-agents"]["median_ns"]
            .as_f64()
            .unwrap_or(f64::NAN),
        anchors["crawler-user-agents"]["recall"]
            .as_f64()
            .unwrap_or(f64::NAN),
    );
    if let Some(w) = anchors.get("wasm") {
        row(
            "ours, wasm in Node (is_bot)",
            w["median_ns"].as_f64().unwrap_or(f64::NAN),
            w["recall"].as_f64().unwrap_or(f64::NAN),
        );
    }
    println!(
        "ours, recall without the bot's own signature (leave-one-out): {:.1}%",
        loo * 100.0
    );
    println!(
        "ours, recall of the generic rules alone: {:.1}%",
        generic_only * 100.0
    );
    println!("false positives on human user-agents:");
    for name in humans.keys() {
        let total = ours_humans[*name]["total"].as_u64().unwrap_or(0);
        let f = |v: &Value| v["false_positives"].as_u64().unwrap_or(0);
        println!(
            "  {:<56} {:>6} UAs: ours {:>4}  isbot {:>4}  crawler-user-agents {:>4}",
            name,
            total,
            f(&ours_humans[*name]),
            f(&anchors["isbot"]["humans"][*name]),
            f(&anchors["crawler-user-agents"]["humans"][*name])
        );
    }
    println!(
        "matcher load (native): {load_ms:.2} ms for {} signatures ({} bytes of artifact)",
        compiled.artifact.signatures.len(),
        artifact.len()
    );
    if let Some(w) = anchors.get("wasm") {
        println!(
            "matcher load (wasm in Node): cold (fresh process, 15 runs) median {:.1} ms, p90 {:.1} ms (a one-signature catalog: {:.1} ms); warm median {:.1} ms; memory added (wasm module and matcher) {:.1} MB",
            w["load_ms_cold_median"].as_f64().unwrap_or(f64::NAN),
            w["load_ms_cold_p90"].as_f64().unwrap_or(f64::NAN),
            w["load_ms_cold_one_signature_median"]
                .as_f64()
                .unwrap_or(f64::NAN),
            w["load_ms_median"].as_f64().unwrap_or(f64::NAN),
            w["memory_added_mb"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!(
        "paired rounds (30, alternating, warm; medians): ours native {:.0} ns, isbot {:.0} ns: {:.1}x{}",
        paired.native,
        paired.isbot,
        paired.isbot_over_native,
        paired
            .isbot_over_wasm
            .map(|r| format!("; ours wasm {:.0} ns: {r:.1}x", paired.wasm))
            .unwrap_or_default()
    );
    println!("report: {}", out_dir.join("bots.json").display());
}

/// Medians of paired rounds.
struct Paired {
    native: f64,
    isbot: f64,
    wasm: f64,
    isbot_over_native: f64,
    isbot_over_wasm: Option<f64>,
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Runs `bench/bots.mjs --paired` and alternates: `native()` times one pass
/// here, then Node times one pass of each of its matchers.
fn paired_rounds(
    root: &Path,
    input: &Path,
    rounds: usize,
    mut native: impl FnMut() -> f64,
) -> Paired {
    use std::io::{BufRead, Write};
    let mut child = Command::new("node")
        .arg(root.join("bench/bots.mjs"))
        .arg(input)
        .arg("--paired")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("node: {e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    let mut lines =
        std::io::BufReader::new(child.stdout.take().unwrap_or_else(|| panic!("stdout"))).lines();
    let mut next = || -> Value {
        let line = lines
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("bench/bots.mjs --paired stopped"));
        serde_json::from_str(&line).unwrap_or(Value::Null)
    };
    next(); // "ready" (not JSON)
    let (mut n, mut i, mut w, mut rn, mut rw) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let ours = native();
        writeln!(stdin, "time").unwrap_or_else(|e| panic!("{e}"));
        let round = next();
        let isbot = round["isbot"].as_f64().unwrap_or(f64::NAN);
        n.push(ours);
        i.push(isbot);
        rn.push(isbot / ours);
        if let Some(wasm) = round["wasm"].as_f64() {
            w.push(wasm);
            rw.push(isbot / wasm);
        }
    }
    drop(stdin);
    let _ = child.wait();
    Paired {
        native: median(n),
        isbot: median(i),
        wasm: median(w),
        isbot_over_native: median(rn),
        isbot_over_wasm: (!rw.is_empty()).then(|| median(rw)),
    }
}
