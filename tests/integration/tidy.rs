//! Repository rules: every Rust file starts with a `//!` doc; no tests that
//! expect a panic (assert on a Result instead); no catch-all `utils.rs`/`common.rs` modules.

use std::path::{Path, PathBuf};

use workspace_tests::repo_root;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !matches!(
                name.as_ref(),
                "target" | "node_modules" | ".git" | "fuzz_target"
            ) && !name.ends_with(".in")
            {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
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
