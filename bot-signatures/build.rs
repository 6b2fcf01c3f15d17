//! Embeds the shipped catalog (`catalog/**/*.toml`) and the verified-bot
//! lists (`verified/`) into the library, so the CLI and the edge build work
//! with the catalog of the commit they came from.

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}

fn collect_ext(dir: &Path, out: &mut Vec<PathBuf>, exts: &[&str]) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_ext(&path, out, exts)?;
        } else if path
            .extension()
            .is_some_and(|e| exts.iter().any(|x| e == *x))
        {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(std::io::Error::other)?);
    let catalog = root.join("catalog");
    println!("cargo:rerun-if-changed={}", catalog.display());
    let mut files = Vec::new();
    collect(&catalog, &mut files)?;
    files.sort();
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
    let mut vfiles = Vec::new();
    collect_ext(&verified, &mut vfiles, &["toml", "json"])?;
    vfiles.sort();
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
