//! Embeds the shipped catalog (`catalog/**/*.toml`) and the verified-bot
//! lists (`verified/`) into the library, so the CLI and the edge build work
//! with the catalog of the commit they came from.

use std::path::{Path, PathBuf};

/// Every file below `dir` whose extension is one of `exts`, sorted.
fn files_below(dir: &Path, exts: &[&str]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(std::io::Error::other)?;
        let wanted = entry
            .path()
            .extension()
            .is_some_and(|e| exts.iter().any(|x| e == *x));
        if entry.file_type().is_file() && wanted {
            out.push(entry.into_path());
        }
    }
    out.sort();
    Ok(out)
}

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(std::io::Error::other)?);
    let catalog = root.join("catalog");
    println!("cargo:rerun-if-changed={}", catalog.display());
    let files = files_below(&catalog, &["toml"])?;
    let mut code = String::from(
        "/// The shipped catalog files: (path relative to the crate, contents).\npub static FILES: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let rel = file.strip_prefix(&root).map_err(std::io::Error::other)?;
        code.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            rel.to_string_lossy(),
            file.to_string_lossy()
        ));
    }
    code.push_str("];\n");
    // The verified-bot lists and their operators (`verified/`), for the edge table.
    let verified = root.join("verified");
    println!("cargo:rerun-if-changed={}", verified.display());
    let vfiles = files_below(&verified, &["toml", "json"])?;
    code.push_str(
        "/// The verified-bot files: (path relative to `verified/`, contents).\npub static VERIFIED: &[(&str, &str)] = &[\n",
    );
    for file in &vfiles {
        println!("cargo:rerun-if-changed={}", file.display());
        let rel = file
            .strip_prefix(&verified)
            .map_err(std::io::Error::other)?;
        code.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            rel.to_string_lossy().replace('\\', "/"),
            file.to_string_lossy()
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(std::io::Error::other)?);
    std::fs::write(out.join("embedded_catalog.rs"), code)
}
