//! `cargo xtask dist-waf-sync --config WAF_SYNC_TOML --out DIR [--ca-file PEM]`:
//! the waf-sync Lambda package for provided.al2023: `bootstrap` (release
//! build), the settings, the browser corpus the guard needs (npm
//! `user-agents`, with its license) and, when given, the CA bundle the
//! reporting database's certificate chains to (e.g. Amazon RDS's
//! `global-bundle.pem`) as `ca.pem`, zipped reproducibly. Refuses a binary that
//! needs a newer glibc than Amazon Linux 2023 has (2.34).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// glibc of Amazon Linux 2023.
const AL2023_GLIBC_MINOR: u32 = 34;

/// The CA bundle's name in the package (what `[source] ca_file` must say).
const CA_NAME: &str = "ca.pem";

/// Checks that the settings point at the files the package ships under the
/// names it ships them, and that a CA bundle holds certificates.
fn check(config: &Path, text: &str, ca: Option<(&Path, &str)>) -> anyhow::Result<()> {
    let table: toml::Table =
        toml::from_str(text).with_context(|| format!("{} is not TOML", config.display()))?;
    if table.get("browsers").and_then(|b| b.as_str()) != Some("browsers.json") {
        bail!(
            "{}: set `browsers = \"browsers.json\"` (the package ships the corpus under that name)",
            config.display()
        );
    }
    let ca_file = table
        .get("source")
        .and_then(|s| s.get("ca_file"))
        .and_then(|c| c.as_str());
    match (ca, ca_file) {
        (Some(_), Some(CA_NAME)) => {}
        (Some(_), _) => bail!(
            "{}: with --ca-file, set `ca_file = \"{CA_NAME}\"` under [source] (the package ships the bundle under that name)",
            config.display()
        ),
        (None, Some(named)) => bail!(
            "{}: [source] ca_file = {named:?}, but no --ca-file to ship: give --ca-file PEM (e.g. the RDS global-bundle.pem)",
            config.display()
        ),
        (None, None) => {}
    }
    if let Some((path, pem)) = ca {
        let certs = pem.matches("-----BEGIN CERTIFICATE-----").count();
        if certs == 0 || certs != pem.matches("-----END CERTIFICATE-----").count() {
            bail!(
                "{}: not a PEM bundle of certificates (BEGIN/END CERTIFICATE blocks)",
                path.display()
            );
        }
        eprintln!(
            "dist-waf-sync: CA bundle {} ({certs} certificates) as {CA_NAME}",
            path.display()
        );
    }
    Ok(())
}

pub fn dist(
    root: &Path,
    config: &Path,
    out: &Path,
    ca_file: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    let text =
        std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    let ca_text = match ca_file {
        Some(p) => {
            Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
        }
        None => None,
    };
    check(config, &text, ca_file.zip(ca_text.as_deref()))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("dist-waf-sync: building waf-sync (release; about 15 minutes cold on 2 cores)");
    let status = Command::new(&cargo)
        .args(["build", "--release", "-p", "waf-sync", "--bin", "waf-sync"])
        .status()
        .context("cargo build")?;
    if !status.success() {
        bail!("cargo build of waf-sync failed");
    }
    let binary = crate::dist::target_dir(root).join("release/waf-sync");
    check_glibc(&binary)?;
    let corpus = root.join("node_modules/user-agents/dist/user-agents.json");
    if !corpus.is_file() {
        bail!("{} missing: run `npm ci`", corpus.display());
    }
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    std::fs::create_dir_all(out)?;
    let zip_path = out.join("waf-sync.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path)?);
    let file = |mode: u32| {
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(mode)
    };
    let mut entries: Vec<(&str, PathBuf, u32)> = vec![
        ("bootstrap", binary, 0o755),
        (
            "browsers.LICENSE",
            root.join("node_modules/user-agents/LICENSE"),
            0o644,
        ),
        ("browsers.json", corpus, 0o644),
        ("waf-sync.toml", config.to_path_buf(), 0o644),
    ];
    if let Some(ca) = ca_file {
        entries.push((CA_NAME, ca.to_path_buf(), 0o644));
    }
    for (name, path, mode) in entries {
        zip.start_file(name, file(mode))?;
        zip.write_all(
            &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
        )?;
    }
    zip.finish()?;
    eprintln!(
        "dist-waf-sync: {} ({} bytes)",
        zip_path.display(),
        std::fs::metadata(&zip_path)?.len()
    );
    Ok(zip_path)
}

/// Fails when the binary asks for a glibc symbol version newer than AL2023's.
fn check_glibc(binary: &Path) -> anyhow::Result<()> {
    let out = Command::new("objdump")
        .arg("-T")
        .arg(binary)
        .output()
        .context("running objdump (binutils)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut newest = 0;
    for word in text.split_whitespace() {
        if let Some(v) = word.trim_start_matches('(').strip_prefix("GLIBC_2.") {
            let minor: u32 = v
                .trim_end_matches(')')
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            newest = newest.max(minor);
        }
    }
    if newest > AL2023_GLIBC_MINOR {
        bail!(
            "{} needs GLIBC_2.{newest}; Amazon Linux 2023 has 2.{AL2023_GLIBC_MINOR}: build on an older distribution or for musl",
            binary.display()
        );
    }
    eprintln!(
        "dist-waf-sync: bootstrap needs at most GLIBC_2.{newest} (AL2023 has 2.{AL2023_GLIBC_MINOR})"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn the_settings_must_name_what_the_package_ships() {
        let cfg = Path::new("w.toml");
        let ca = Path::new("global-bundle.pem");
        let base = "browsers = \"browsers.json\"\n[source]\nurl = \"secretsmanager:r\"\n";
        check(cfg, base, None).unwrap();
        let with_ca = format!("{base}ca_file = \"ca.pem\"\n");
        check(cfg, &with_ca, Some((ca, PEM))).unwrap();
        let e = check(cfg, base, Some((ca, PEM))).unwrap_err().to_string();
        assert!(e.contains("ca_file = \"ca.pem\""), "{e}");
        let e = check(cfg, &with_ca, None).unwrap_err().to_string();
        assert!(e.contains("--ca-file"), "{e}");
        let e = check(cfg, &with_ca, Some((ca, "not a certificate")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("global-bundle.pem"), "{e}");
        let e = check(cfg, "[source]\nurl = \"x\"\n", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("browsers.json"), "{e}");
    }
}
