//! `cargo xtask dist --config CONFIG --out DIR`: the deployable Lambda@Edge
//! bundle. Validates the config and the bot catalog natively, builds the wasm
//! (profile `edge`), runs wasm-bindgen (checking its version against
//! Cargo.lock), writes the handler module and the shim, prepares the wasm's
//! instance (config, matcher and verified-bot tables in its initial memory),
//! makes the V8 code cache for the Node flags the bundle will run under, and
//! writes a reproducible zip (sorted entries, fixed timestamps; every file but
//! the code cache is the same byte for byte from build to build). Fails when
//! the zip is over Lambda@Edge's 1 MB viewer-request limit.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Lambda@Edge's limit for a viewer-request function package.
pub const MAX_ZIP_BYTES: u64 = 1024 * 1024;

/// Options of `dist`.
pub struct DistArgs {
    pub config: PathBuf,
    pub out: PathBuf,
    pub catalog: Option<PathBuf>,
    /// Use RustCrypto inside wasm instead of Node's crypto (for comparisons).
    pub rust_crypto: bool,
    /// The V8 flags to make the bundle's code cache (code.cache) for, or
    /// `None` for a bundle without one.
    pub code_cache: Option<Vec<String>>,
}

/// The V8 flags the Lambda runtime starts Node with for a 128 MB function,
/// which a viewer-request function is (Lambda's least memory is 128 MB and
/// Lambda@Edge's most for viewer events). The runtime's bootstrap
/// (`/var/runtime/bootstrap` in the nodejs base images, as published copies of
/// the nodejs14.x and 18.x ones show it) runs `node --expose-gc
/// --max-http-header-size 81920 --max-semi-space-size=M/10/2
/// --max-old-space-size=M-M/10` with M the function's memory in MB; the
/// header size is Node's own option, not V8's, and does not touch the cache.
/// Not checked against nodejs20.x's image here: if its flags differ, V8
/// refuses the cache and compiles from source (no faster, no slower).
pub fn lambda_edge_node_flags() -> Vec<String> {
    [
        "--expose-gc",
        "--max-semi-space-size=6",
        "--max-old-space-size=116",
    ]
    .map(str::to_owned)
    .to_vec()
}

pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// The version of `name` in Cargo.lock (read with the `toml` crate).
pub fn locked_version(root: &Path, name: &str) -> anyhow::Result<String> {
    #[derive(serde::Deserialize)]
    struct Lock {
        package: Vec<Package>,
    }
    #[derive(serde::Deserialize)]
    struct Package {
        name: String,
        version: String,
    }
    let text = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let lock: Lock = toml::from_str(&text).context("Cargo.lock is not TOML")?;
    let mut versions = lock
        .package
        .into_iter()
        .filter(|p| p.name == name)
        .map(|p| p.version);
    match (versions.next(), versions.next()) {
        (Some(v), None) => Ok(v),
        (Some(_), Some(_)) => bail!("Cargo.lock has several versions of {name}"),
        (None, _) => bail!("{name} is not in Cargo.lock"),
    }
}

pub fn dist(root: &Path, args: &DistArgs) -> anyhow::Result<PathBuf> {
    // 1. The config, parsed and validated here; the bundle gets it built,
    // keys included (`EdgeConfig::to_baked`): no parser runs at the edge.
    let config_text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("reading {}", args.config.display()))?;
    let base = args.config.parent().unwrap_or(Path::new(".")).to_path_buf();
    let cfg = edge_auth_core::EdgeConfig::parse(&config_text, |name| {
        std::fs::read_to_string(base.join(name))
            .map_err(|e| format!("{e} ({})", base.join(name).display()))
    })
    .map_err(|e| {
        anyhow::anyhow!(
            "config refused: {}",
            e.in_file(&args.config.display().to_string())
        )
    })?;
    for w in &cfg.warnings {
        eprintln!("dist: warning: {w}");
    }

    // 2. The bot catalog, checked and compiled.
    let (catalog, parse) = match &args.catalog {
        Some(p) => {
            bot_signatures::Catalog::load(p).with_context(|| format!("loading {}", p.display()))?
        }
        None => bot_signatures::Catalog::load(&root.join("bot-signatures/catalog"))
            .context("loading bot-signatures/catalog")?,
    };
    let report = bot_signatures::validate::validate(&catalog, None);
    if let Some(d) = parse
        .iter()
        .chain(&report.diagnostics)
        .find(|d| d.severity == bot_signatures::Severity::Error)
    {
        bail!(
            "the bot catalog has errors (run `cargo run -p bot-signatures -- check`); first:\n{d}"
        );
    }
    let baked = cfg.to_baked();
    // Read back as the edge will read it: a writer and reader out of step fail
    // the build here, not every request at the edge.
    let back = edge_auth_core::EdgeConfig::from_baked(&baked)
        .map_err(|e| anyhow::anyhow!("the baked config does not read back: {e}"))?;
    if back.to_baked() != baked {
        bail!("the baked config reads back as another config");
    }
    // Without the patterns of exact signatures, which the edge never reads.
    let matcher_bin = report.compiled.artifact.to_edge_bytes();
    // The verified-bot table: `verified/` beside the catalog directory.
    let catalog_dir = args
        .catalog
        .clone()
        .unwrap_or_else(|| root.join("bot-signatures/catalog"));
    // A catalog of one's own without verified/ beside it: claims on their word.
    let (verified, verified_report) = bot_signatures::verified::for_catalog(
        Some(&catalog_dir),
        &catalog,
    )
    .unwrap_or_else(|| Ok((Default::default(), Default::default())))
    .map_err(|errors| {
        anyhow::anyhow!(
            "the verified-bot lists have errors (run `cargo run -p bot-signatures -- check`):\n{}",
            errors.join("\n")
        )
    })?;
    eprintln!(
        "dist: verified bots: {} signatures checked against {} address lists; {} allow signatures taken on their word",
        verified.claims(),
        verified.lists().len(),
        verified_report.on_their_word.len()
    );
    let verify_bin = verified.to_bytes();

    // 3. The wasm.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("dist: building edge-auth-wasm (wasm32-unknown-unknown, profile edge)");
    let mut build = Command::new(&cargo);
    build.args([
        "build",
        "-p",
        "edge-auth-wasm",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "edge",
    ]);
    // Only what the config uses: the JWK Set reader for keys fetched at run
    // time (about 27 KB of wasm) only when an issuer has a jwks_url.
    let mut features = Vec::new();
    if args.rust_crypto {
        features.push("rust-crypto");
    }
    if cfg.has_remote_jwks() {
        features.push("remote-jwks");
    }
    if !features.is_empty() {
        build.args(["--features", &features.join(",")]);
    }
    eprintln!("dist: wasm features: {}", listed(&features, ", ", "none"));
    let status = build.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build of edge-auth-wasm failed");
    }
    let built = target_dir(root).join("wasm32-unknown-unknown/edge/edge_auth_wasm.wasm");
    // What wasm-bindgen is given: the module without `multivalue` among its
    // features, so that every export returns one value (`abi.rs`: V8 compiles
    // a wrapper of its own for each other signature on every cold start).
    // Same file name in a directory of its own: wasm-bindgen names its output
    // after it.
    let single_value_dir = target_dir(root).join("wasm32-unknown-unknown/edge/single-value");
    std::fs::create_dir_all(&single_value_dir)?;
    let wasm = single_value_dir.join("edge_auth_wasm.wasm");
    std::fs::write(
        &wasm,
        crate::abi::without_multivalue(
            &std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?,
        )?,
    )?;

    // 4. wasm-bindgen, at exactly the locked version.
    let locked = locked_version(root, "wasm-bindgen")?;
    // On PATH, else where .ci/run installs it.
    let cached = crate::tools_dir().join(format!("wasm-bindgen-{locked}/bin/wasm-bindgen"));
    let on_path = Command::new("wasm-bindgen")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let wasm_bindgen: PathBuf = if !on_path && cached.is_file() {
        cached
    } else {
        PathBuf::from("wasm-bindgen")
    };
    let found = Command::new(&wasm_bindgen).arg("--version").output();
    let found = match found {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned(),
        _ => bail!(
            "wasm-bindgen not found: `cargo install wasm-bindgen-cli --version {locked}` (.ci/run does this)"
        ),
    };
    if found != locked {
        bail!(
            "wasm-bindgen {found} found, but Cargo.lock has wasm-bindgen {locked}: `cargo install wasm-bindgen-cli --version {locked}`"
        );
    }
    if args.out.exists() {
        std::fs::remove_dir_all(&args.out)
            .with_context(|| format!("cleaning {}", args.out.display()))?;
    }
    let bundle = args.out.join("bundle");
    std::fs::create_dir_all(&bundle)?;
    let status = Command::new(&wasm_bindgen)
        .args([
            "--target",
            "nodejs",
            "--no-typescript",
            "--remove-name-section",
            "--remove-producers-section",
            "--out-dir",
        ])
        .arg(&bundle)
        .arg(&wasm)
        .status()
        .context("running wasm-bindgen")?;
    if !status.success() {
        bail!("wasm-bindgen failed");
    }

    // 5. The shim and the baked config. Comments in the JavaScript (the
    // shim's, wasm-bindgen's copies of the Rust docs) become blank lines:
    // 3.4 KB less zipped, and every line keeps its number, so a stack trace
    // in the logs points at the line of the source in the repository.
    // index.js is the handler module, which compiles shim.js and the glue.
    for file in ["index.js", "shim.js"] {
        let js = std::fs::read_to_string(root.join("edge-auth/shim").join(file))
            .with_context(|| format!("reading edge-auth/shim/{file}"))?;
        std::fs::write(bundle.join(file), blank_comments(&js))?;
    }
    for js in js_files(&bundle)? {
        let text = std::fs::read_to_string(&js)?;
        std::fs::write(&js, blank_comments(&text))?;
    }
    inline_snippets(&bundle)?;
    expose_memory(&bundle)?;
    let fail_closed = serde_json::to_string(&edge_auth_event::internal_error())?;
    inline_fail_closed(&bundle, &fail_closed)?;

    // 6. The instance prepared: the wasm reads the baked config, matcher and
    // verified-bot table here, in Node, and the memory it leaves becomes the
    // module's initial memory; then what only that reading, or the tools,
    // called is left out of the module (`prepare.rs`). Beside the bundle, not
    // in it, for the tools and tests: the files it was prepared from
    // (`DIST/baked/`) and the module as built, with its glue (`DIST/full/`:
    // `new Edge` from the files, `BotMatcher`, `prepare`).
    let baked_dir = args.out.join("baked");
    std::fs::create_dir_all(&baked_dir)?;
    std::fs::write(baked_dir.join("edge-config.bin"), &baked)?;
    std::fs::write(baked_dir.join("bot-matcher.bin"), &matcher_bin)?;
    std::fs::write(baked_dir.join("bot-verify.bin"), &verify_bin)?;
    std::fs::write(baked_dir.join("fail-closed.json"), &fail_closed)?;
    let full_dir = args.out.join("full");
    std::fs::create_dir_all(&full_dir)?;
    for file in ["edge_auth_wasm.js", "edge_auth_wasm_bg.wasm"] {
        std::fs::copy(bundle.join(file), full_dir.join(file))?;
    }
    prepare_wasm(root, &bundle, &baked_dir)?;
    if let Some(flags) = &args.code_cache {
        code_cache(root, &bundle, &args.out, flags, &warm_up_issuers(&cfg))?;
    }

    // 7. A reproducible zip, deflated by zopfli: plain deflate that any unzip
    // reads, 4-9% smaller than zlib's level 9 (wasm 219.5 -> 209.7 KB, catalog
    // 54.1 -> 49.2 KB; one iteration, level 10, gets nearly all of it: 15
    // iterations saved 0.5 KB more for 17 s more). Decompression is no slower.
    let zip_path = args.out.join("edge-auth.zip");
    let mut entries = Vec::new();
    collect(&bundle, &bundle, &mut entries)?;
    entries.sort();
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path)?);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(10))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for rel in &entries {
        zip.start_file(rel.as_str(), options)?;
        zip.write_all(&std::fs::read(bundle.join(rel))?)?;
    }
    zip.finish()?;

    // 8. Sizes.
    let size = std::fs::metadata(&zip_path)?.len();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path)?)?;
    eprintln!(
        "dist: {} ({} bytes, {:.0}% of the 1 MB limit)",
        zip_path.display(),
        size,
        size as f64 * 100.0 / MAX_ZIP_BYTES as f64
    );
    for i in 0..archive.len() {
        let f = archive.by_index(i)?;
        eprintln!(
            "dist:   {:<28} {:>9} bytes, {:>8} zipped",
            f.name(),
            f.size(),
            f.compressed_size()
        );
    }
    if size > MAX_ZIP_BYTES {
        bail!(
            "edge-auth.zip is {size} bytes: over Lambda@Edge's {MAX_ZIP_BYTES}-byte limit for viewer-request functions"
        );
    }
    Ok(zip_path)
}

/// Where wasm-bindgen 0.2.130's nodejs glue keeps the instance's exports.
const GLUE_EXPORTS: &str = "\nlet wasm = wasmInstance.exports;\n";

/// The glue with the instance's memory exported as `__wasm_memory`, for the
/// shim's views of the input buffer: taken from the instance's exports rather
/// than through a wasm export of its own, whose import (`__wbindgen_memory`)
/// cost every cold start a compiled wasm-to-JS wrapper (`abi.rs`). The glue
/// must keep its exports exactly where this expects (checked).
fn expose_memory(bundle: &Path) -> anyhow::Result<()> {
    let path = bundle.join("edge_auth_wasm.js");
    let glue = std::fs::read_to_string(&path)?;
    if glue.matches(GLUE_EXPORTS).count() != 1 {
        bail!(
            "{}: not the glue this build knows (no single `let wasm = wasmInstance.exports;`): update expose_memory in xtask/src/dist.rs for this wasm-bindgen",
            path.display()
        );
    }
    std::fs::write(
        &path,
        format!("{glue}\nexports.__wasm_memory = wasm.memory;\n"),
    )?;
    Ok(())
}

/// How the shim reads the fail-closed 503 unbuilt (edge-auth/shim/shim.js).
const FAIL_CLOSED_READ: &str = "const FAIL_CLOSED = JSON.parse(fs.readFileSync(path.join(__dirname, 'fail-closed.json'), 'utf8'));";

/// The shim with the fail-closed 503 written in, `json` in place of the line
/// that reads it from a file: JSON is a JavaScript expression, and a cold
/// start then reads one file fewer. The line must be there exactly once.
fn inline_fail_closed(bundle: &Path, json: &str) -> anyhow::Result<()> {
    replace_once(
        &bundle.join("shim.js"),
        FAIL_CLOSED_READ,
        &format!("const FAIL_CLOSED = {json};"),
        "the shim does not read fail-closed.json as",
    )
}

/// `file` with `line` replaced by `with`. The line must be there exactly
/// once; otherwise the build fails (`what`, then the line, says what was
/// looked for) and the file is left as it was.
fn replace_once(file: &Path, line: &str, with: &str, what: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)?;
    if text.matches(line).count() != 1 {
        bail!(
            "{}: {what} `{line}` exactly once: update xtask/src/dist.rs with it",
            file.display()
        );
    }
    std::fs::write(file, text.replacen(line, with, 1))?;
    Ok(())
}

/// What the code cache's warm-up needs to shape tokens the core takes as far
/// as the signature check (`xtask/code-cache.cjs`): each issuer's `iss`, an
/// audience, `typ`, algorithms and key ids. Nothing secret: no key material.
fn warm_up_issuers(cfg: &edge_auth_core::EdgeConfig) -> serde_json::Value {
    cfg.issuers()
        .iter()
        .map(|i| {
            serde_json::json!({
                "iss": i.issuer,
                "aud": i.audiences.first(),
                "typ": i.typ.as_ref().and_then(|t| t.first()),
                "algs": i.algorithms.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>(),
                "kids": i.keys.iter().filter_map(|k| k.kid.clone()).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// `items` joined by `sep` for a message, or `none` when there are none.
fn listed(items: &[impl AsRef<str>], sep: &str, none: &str) -> String {
    if items.is_empty() {
        return none.to_owned();
    }
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(sep)
}

/// The handler module's line for the flags its code cache was made for,
/// unbuilt (edge-auth/shim/index.js): no cache used.
const CACHE_FLAGS_UNSET: &str = "const CACHE_FLAGS = null;";

/// The handler module (`index.js`) with the V8 flags it uses the code cache
/// under written in, in place of its unbuilt line (no cache); the line must
/// be there exactly once.
fn set_cache_flags(bundle: &Path, flags: &[String]) -> anyhow::Result<()> {
    replace_once(
        &bundle.join("index.js"),
        CACHE_FLAGS_UNSET,
        &format!("const CACHE_FLAGS = {};", serde_json::to_string(flags)?),
        "the handler module does not say",
    )
}

/// Runs Node.js (20, on `PATH`) started with V8 `flags` on `args`: its
/// standard output, trimmed; or, when it fails, an error saying `what`
/// failed, with what it printed on standard error.
fn run_node(flags: &[String], args: &[&OsStr], what: &str) -> anyhow::Result<String> {
    let out = Command::new("node")
        .args(flags)
        .args(args)
        .output()
        .with_context(|| format!("{what}: running node (Node.js 20 must be on PATH)"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Writes into the handler module the V8 flags to use the code cache under,
/// then the bundle's V8 code cache (`code.cache`) with `xtask/code-cache.cjs`
/// run under `flags`, then checks that a fresh Node started with them takes
/// it, and records what it was made with in `out/code-cache.json` (for the
/// tests and benches). The bundle is final by then: a cache is taken only
/// for sources of the length it was made from.
fn code_cache(
    root: &Path,
    bundle: &Path,
    out: &Path,
    flags: &[String],
    issuers: &serde_json::Value,
) -> anyhow::Result<()> {
    set_cache_flags(bundle, flags)?;
    let issuers = issuers.to_string();
    let script = root.join("xtask/code-cache.cjs");
    run_node(
        flags,
        &[script.as_os_str(), bundle.as_os_str(), OsStr::new(&issuers)],
        &format!(
            "making the code cache (node {})",
            listed(flags, " ", "with no flags")
        ),
    )?;
    let probe = "console.log = () => {}; const m = require(process.argv[1] + '/index.js'); \
                 process.stdout.write(JSON.stringify([m.codeCache, process.version, process.versions.v8]))";
    let (taken, version, v8): (String, String, String) = serde_json::from_str(&run_node(
        flags,
        &[OsStr::new("-e"), OsStr::new(probe), bundle.as_os_str()],
        "checking the code cache is taken",
    )?)?;
    if taken != "taken" {
        bail!(
            "the code cache made for `node {}` is {taken} by that same Node: leave it out with --no-code-cache, or report it",
            flags.join(" ")
        );
    }
    let size = std::fs::metadata(bundle.join("code.cache"))?.len();
    eprintln!(
        "dist: code cache for Node {version} (V8 {v8}) started with {}: {size} bytes; another V8 version or other V8 flags compile from source instead. It is the one file of the zip that differs from build to build (--no-code-cache leaves it out)",
        listed(flags, " ", "no flags")
    );
    std::fs::write(
        out.join("code-cache.json"),
        serde_json::to_string_pretty(&serde_json::json!({
            "node": version, "v8": v8, "flags": flags,
        }))?,
    )?;
    Ok(())
}

/// Runs `xtask/prepare.cjs` on the bundle's wasm and glue, then writes the
/// wasm again with the prepared memory as its initial memory.
fn prepare_wasm(root: &Path, bundle: &Path, baked_dir: &Path) -> anyhow::Result<()> {
    let dump = baked_dir.join("memory.tmp");
    let script = root.join("xtask/prepare.cjs");
    run_node(
        &[],
        &[
            script.as_os_str(),
            bundle.as_os_str(),
            baked_dir.as_os_str(),
            dump.as_os_str(),
        ],
        "preparing the wasm instance",
    )?;
    let memory = std::fs::read(&dump).context("reading the prepared memory")?;
    std::fs::remove_file(&dump)?;
    let wasm_path = bundle.join("edge_auth_wasm_bg.wasm");
    let wasm = std::fs::read(&wasm_path)?;
    let image = crate::prepare::image(&memory, crate::prepare::stack_top(&wasm)?)?;
    let prepared = crate::prepare::with_image(&wasm, &image)?;
    let (shipped, stripped) = crate::prepare::strip(&prepared, BUILD_TIME_EXPORTS)?;
    let multi = crate::abi::multi_value_exports(&shipped)?;
    if !multi.is_empty() {
        bail!(
            "the bundle's wasm exports {} returning several values, which costs every cold start a compiled wrapper per signature (xtask/src/abi.rs): wasm-bindgen was given the module without `multivalue` among its features, its cue for single values until now",
            multi.join(", ")
        );
    }
    eprintln!(
        "dist: instance prepared: {} pages of memory, {} bytes in {} data segments; {} functions only the build and the tools call left out ({} bytes of code); wasm {} -> {} bytes",
        image.pages,
        image.bytes(),
        image.runs.len(),
        stripped.functions,
        stripped.bytes,
        wasm.len(),
        shipped.len()
    );
    std::fs::write(&wasm_path, shipped)?;
    Ok(())
}

/// The exports of edge-auth-wasm the handler never calls: `prepare` (the
/// build), `new Edge` from the files and the bot matcher on its own (tools,
/// tests and benches, which load `DIST/full/`). Left out of the bundle's
/// module with every function only they reach: V8 validates every function
/// of a module on a cold start, and they were 41 KB of its 347 KB of code.
const BUILD_TIME_EXPORTS: &[&str] = &[
    "prepare",
    "edge_new",
    "botmatcher_new",
    "botmatcher_classify",
    "botmatcher_is_bot",
    "botmatcher_is_bot_input",
    "botmatcher_input_len",
    "botmatcher_input_ptr",
    "__wbg_botmatcher_free",
];

/// `js` with its whole-line comments blanked: a line that starts (after
/// spaces) with `//`, and a `/* ... */` block that starts a line, become
/// empty lines, so the line count and every code line stay as they were.
/// Comments after code on the same line are kept (telling them from a `//`
/// inside a string would need a JavaScript parser).
fn blank_comments(js: &str) -> String {
    let mut out = String::with_capacity(js.len());
    let mut in_block = false;
    for line in js.split_inclusive('\n') {
        let code = line.trim_start();
        let newline = if line.ends_with('\n') { "\n" } else { "" };
        if in_block {
            in_block = !line.contains("*/");
            out.push_str(newline);
        } else if code.starts_with("/*") {
            // A block ending on this line is blanked only when nothing follows it.
            match code.find("*/") {
                Some(end) if !code[end + 2..].trim().is_empty() => out.push_str(line),
                Some(_) => out.push_str(newline),
                None => {
                    in_block = true;
                    out.push_str(newline);
                }
            }
        } else if code.starts_with("//") {
            out.push_str(newline);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// How wasm-bindgen's glue loads a JavaScript snippet the wasm imports
/// (`#[wasm_bindgen(module = ...)]`), as 0.2.130 writes it.
const SNIPPET_REQUIRE: &str = "= require(String.raw`./snippets/";

/// The snippets wasm-bindgen wrote beside the glue, put inside the glue
/// instead: each `const { f } = require(String.raw`./snippets/...`);` becomes
/// the snippet's text in a function scope with its own `module`, and the
/// `snippets` folder is removed. One file fewer for Node to resolve, read and
/// compile at every cold start (0.3-0.9 ms here; docs/benchmarks.md). The
/// form is checked exactly: a glue this does not recognise fails the build
/// rather than shipping a bundle that requires a file it does not carry.
/// `tests/node/node_crypto.mjs` takes the snippet from the glue the same way.
fn inline_snippets(bundle: &Path) -> anyhow::Result<()> {
    let glue_path = bundle.join("edge_auth_wasm.js");
    let glue = std::fs::read_to_string(&glue_path).context("reading the glue")?;
    let mut out = String::with_capacity(glue.len() + 4096);
    for line in glue.split_inclusive('\n') {
        let Some(at) = line.find(SNIPPET_REQUIRE) else {
            out.push_str(line);
            continue;
        };
        let (binding, rest) = line.split_at(at);
        let rel = rest[SNIPPET_REQUIRE.len()..]
            .trim_end()
            .strip_suffix("`);")
            .filter(|rel| binding.starts_with("const {") && !rel.contains(['`', '\\']))
            .with_context(|| {
                format!(
                    "the glue requires a snippet in a form this build does not know: {}",
                    line.trim_end()
                )
            })?;
        let snippet_path = bundle.join("snippets").join(rel);
        let snippet = std::fs::read_to_string(&snippet_path)
            .with_context(|| format!("reading {}", snippet_path.display()))?;
        out.push_str(binding);
        out.push_str("= (function (module) {\n");
        out.push_str(snippet.trim_end());
        out.push_str("\nreturn module.exports; })({ exports: {} }); // snippets/");
        out.push_str(rel);
        out.push_str(", inlined by cargo xtask dist\n");
    }
    if out.contains("./snippets/") {
        bail!("the glue still refers to ./snippets/ after inlining");
    }
    std::fs::write(&glue_path, out)?;
    let snippets = bundle.join("snippets");
    if snippets.exists() {
        std::fs::remove_dir_all(&snippets)
            .with_context(|| format!("removing {}", snippets.display()))?;
    }
    Ok(())
}

/// The `.js` files wasm-bindgen wrote under `bundle` (the glue, its snippets).
fn js_files(bundle: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut rel = Vec::new();
    collect(bundle, bundle, &mut rel)?;
    Ok(rel
        .into_iter()
        .filter(|r| r.ends_with(".js") && r != "index.js" && r != "shim.js")
        .map(|r| bundle.join(r))
        .collect())
}

/// Every file below `dir`, as a `/`-separated path relative to `base`.
fn collect(base: &Path, dir: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry?;
        if entry.file_type().is_file() {
            out.push(
                entry
                    .path()
                    .strip_prefix(base)?
                    .to_string_lossy()
                    .replace('\\', "/"),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{
        CACHE_FLAGS_UNSET, FAIL_CLOSED_READ, GLUE_EXPORTS, blank_comments, expose_memory,
        inline_fail_closed, inline_snippets, set_cache_flags,
    };
    use std::path::Path;

    /// A fresh folder under the system's temp dir, for one test.
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("snippets/crate-1/js")).unwrap();
        dir
    }

    /// Writes each of `texts` to `file` and runs `step` on it: the step must
    /// fail the build and leave the file as it was written (nothing lost).
    fn refused_unchanged(file: &Path, texts: &[String], step: impl Fn() -> anyhow::Result<()>) {
        for text in texts {
            std::fs::write(file, text).unwrap();
            assert!(step().is_err(), "{text}");
            assert_eq!(&std::fs::read_to_string(file).unwrap(), text);
        }
    }

    #[test]
    fn snippets_go_inside_the_glue_and_their_folder_goes() {
        let dir = scratch("inline");
        let snippet = "let n = 1;\nfunction f() { return n; }\nmodule.exports = { f };\n";
        std::fs::write(dir.join("snippets/crate-1/js/s.js"), snippet).unwrap();
        std::fs::write(
            dir.join("edge_auth_wasm.js"),
            "'use strict';\nconst { f } = require(String.raw`./snippets/crate-1/js/s.js`);\nexports.g = () => f();\n",
        )
        .unwrap();
        inline_snippets(&dir).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("edge_auth_wasm.js")).unwrap(),
            "'use strict';\nconst { f } = (function (module) {\nlet n = 1;\nfunction f() { return n; }\nmodule.exports = { f };\nreturn module.exports; })({ exports: {} }); // snippets/crate-1/js/s.js, inlined by cargo xtask dist\nexports.g = () => f();\n"
        );
        assert!(!dir.join("snippets").exists());
        // Nothing to inline: the glue is left as it is.
        inline_snippets(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_glue_exports_the_instances_memory_and_a_glue_of_another_form_fails() {
        let dir = scratch("memory");
        let glue = format!("'use strict';{GLUE_EXPORTS}wasm.__wbindgen_start();\n");
        std::fs::write(dir.join("edge_auth_wasm.js"), &glue).unwrap();
        expose_memory(&dir).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("edge_auth_wasm.js")).unwrap(),
            format!("{glue}\nexports.__wasm_memory = wasm.memory;\n")
        );
        // No such line, or two: the build fails, the glue unchanged.
        refused_unchanged(
            &dir.join("edge_auth_wasm.js"),
            &[
                "'use strict';\nconst wasm = instance.exports;\n".to_owned(),
                format!("{GLUE_EXPORTS}{GLUE_EXPORTS}"),
            ],
            || expose_memory(&dir),
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `edge-auth/shim/{name}` as in the repository, copied into a scratch
    /// directory, `step` run on that directory; then the copy must hold
    /// `written` once in place of `line`, with as many lines as before, and
    /// `step` must refuse the file once written, or with `line` twice,
    /// leaving it unchanged.
    fn writes_line_once(
        name: &str,
        line: &str,
        written: &str,
        step: impl Fn(&Path) -> anyhow::Result<()>,
    ) {
        let original = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../edge-auth/shim")
                .join(name),
        )
        .unwrap();
        let dir = scratch(name);
        let file = dir.join(name);
        std::fs::write(&file, &original).unwrap();
        step(&dir).unwrap();
        let out = std::fs::read_to_string(&file).unwrap();
        assert!(!out.contains(line), "{name} still has `{line}`");
        assert_eq!(out.matches(written).count(), 1);
        assert_eq!(out.lines().count(), original.lines().count());
        refused_unchanged(
            &file,
            &[out.clone(), format!("{original}\n{line}\n")],
            || step(&dir),
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_fail_closed_503_is_written_into_the_shim_once() {
        writes_line_once(
            "shim.js",
            FAIL_CLOSED_READ,
            r#"const FAIL_CLOSED = {"status":"503"};"#,
            |dir| inline_fail_closed(dir, r#"{"status":"503"}"#),
        );
    }

    #[test]
    fn the_code_caches_flags_are_written_into_the_handler_module_once() {
        let flags = [
            "--expose-gc".to_owned(),
            "--max-old-space-size=116".to_owned(),
        ];
        writes_line_once(
            "index.js",
            CACHE_FLAGS_UNSET,
            r#"const CACHE_FLAGS = ["--expose-gc","--max-old-space-size=116"];"#,
            |dir| set_cache_flags(dir, &flags),
        );
    }

    #[test]
    fn a_glue_of_another_form_fails_the_build() {
        for glue in [
            // Not a destructuring binding.
            "const f = require(String.raw`./snippets/crate-1/js/s.js`).f;\n",
            // A snippet the bundle does not carry.
            "const { f } = require(String.raw`./snippets/crate-1/js/missing.js`);\n",
            // Another way of naming a snippet, left in the glue.
            "const { f } = require('./snippets/crate-1/js/s.js');\n",
        ] {
            let dir = scratch("inline-refused");
            std::fs::write(
                dir.join("snippets/crate-1/js/s.js"),
                "module.exports = {};\n",
            )
            .unwrap();
            // Nothing lost: the glue and its snippet are where they were.
            refused_unchanged(&dir.join("edge_auth_wasm.js"), &[glue.to_owned()], || {
                inline_snippets(&dir)
            });
            assert!(dir.join("snippets/crate-1/js/s.js").exists());
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn comments_become_blank_lines_and_code_stays() {
        let js = "'use strict';\n// a comment\n  // indented\nconst u = 'https://x.example/a'; // kept: after code\n/**\n * docs\n */\nfunction f() {\n  /* one line */\n  return 1; /* after code */\n}\n/* a */ const g = 2;\nconst s = `\n`;\n";
        let out = blank_comments(js);
        assert_eq!(out.lines().count(), js.lines().count());
        let kept: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(
            kept,
            [
                "'use strict';",
                "const u = 'https://x.example/a'; // kept: after code",
                "function f() {",
                "  return 1; /* after code */",
                "}",
                "/* a */ const g = 2;",
                "const s = `",
                "`;",
            ]
        );
        assert_eq!(blank_comments("x\n// last"), "x\n");
    }
}
