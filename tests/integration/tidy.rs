//! Repository rules: every Rust file starts with a `//!` doc; no tests that
//! expect a panic (assert on a Result instead); no catch-all `utils.rs`/`common.rs` modules;
//! the invariants ARCHITECTURE.md states, checked.

use std::path::{Path, PathBuf};

use workspace_tests::repo_root;

/// Every `.rs` file below `dir`, build output, dependencies and generated
/// trees (`*.in`) left out.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let skip = |e: &walkdir::DirEntry| {
        let name = e.file_name().to_string_lossy();
        e.file_type().is_dir()
            && (matches!(
                name.as_ref(),
                "target" | "node_modules" | ".git" | "fuzz_target"
            ) || name.ends_with(".in"))
    };
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| !skip(e))
        .flatten()
    {
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|x| x == "rs") {
            out.push(entry.into_path());
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let mut files = Vec::new();
    rust_files(&repo_root(), &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            !std::fs::read_to_string(f)
                .unwrap_or_default()
                .trim_start()
                .starts_with("//!")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! doc:\n{}",
        missing.join("\n")
    );
}

#[test]
fn no_should_panic_and_no_catch_all_modules() {
    let mut files = Vec::new();
    rust_files(&repo_root(), &mut files);
    let attr = ["#[should", "_panic"].concat();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        assert!(
            !text.contains(&attr),
            "{} uses {attr}: assert on the Result instead",
            f.display()
        );
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            !matches!(name.as_str(), "utils.rs" | "common.rs" | "helpers.rs"),
            "{}: name the module after what it does",
            f.display()
        );
    }
}

/// Code lines of a file: its `//` comments (docs included) left out, so a
/// module may name what it must not use.
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn files_under(rel: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&repo_root().join(rel), &mut files);
    assert!(!files.is_empty(), "no Rust files under {rel}");
    files
}

/// ARCHITECTURE.md's invariants, checked: the decision core and the matcher
/// read no clock and no environment; only `waf.rs` and `secret.rs` name the
/// AWS SDK; only edge-auth-wasm names wasm-bindgen; no rule in the core reads
/// the raw URI (only `decide.rs` touches it, to canonicalize it and to tell
/// whether the forwarded spelling changed).
#[test]
fn architecture_invariants_hold() {
    for dir in ["edge-auth/core/src", "bot-signatures/matcher/src"] {
        for f in files_under(dir) {
            let text = code(&f);
            for banned in ["SystemTime", "Instant::now", "std::env", "rand::"] {
                assert!(
                    !text.contains(banned),
                    "{} uses {banned}: the core takes time and settings as inputs",
                    f.display()
                );
            }
        }
    }
    let mut files = Vec::new();
    rust_files(&repo_root(), &mut files);
    for f in &files {
        let rel = f
            .strip_prefix(repo_root())
            .unwrap_or(f)
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "tests/integration/tidy.rs" {
            continue; // names what it looks for
        }
        let text = code(f);
        if text.contains("aws_sdk_") {
            assert!(
                matches!(
                    rel.as_str(),
                    "waf-sync/src/waf.rs" | "waf-sync/src/secret.rs"
                ),
                "{rel} names aws_sdk_*: only waf-sync/src/waf.rs and secret.rs may"
            );
        }
        if text.contains("wasm_bindgen::") || text.contains("#[wasm_bindgen") {
            assert!(
                rel.starts_with("edge-auth/wasm/"),
                "{rel} uses wasm-bindgen: only edge-auth-wasm may"
            );
        }
        if rel.starts_with("edge-auth/core/src/") && rel != "edge-auth/core/src/decide.rs" {
            assert!(
                !text.contains("req.uri") && !text.contains("request.uri"),
                "{rel} reads the raw URI: rules see the canonical path only"
            );
        }
    }
    let decide = code(&repo_root().join("edge-auth/core/src/decide.rs"));
    assert_eq!(
        decide.matches("req.uri").count(),
        3,
        "decide.rs reads the raw URI only to canonicalize it, to compare the forwarded spelling, and to hand the Web Bot Auth signature base the path as signed"
    );
}

/// The edge's tests build without the AWS SDK: neither the core nor the
/// cross-crate test crate depends on waf-sync or an aws crate.
#[test]
fn edge_tests_do_not_pull_in_the_aws_sdk() {
    for manifest in [
        "tests/Cargo.toml",
        "edge-auth/core/Cargo.toml",
        "edge-auth/event/Cargo.toml",
    ] {
        let text = std::fs::read_to_string(repo_root().join(manifest)).unwrap();
        for banned in ["waf-sync", "aws-"] {
            assert!(
                !text.contains(banned),
                "{manifest} depends on {banned}: the edge's inner loop must not build the AWS SDK"
            );
        }
    }
}
