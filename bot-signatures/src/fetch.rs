//! Downloading the operators' published address lists for `import-ranges
//! --fetch`: each `[[list]]`'s `url` over HTTPS (plain HTTP only to the
//! loopback address, for tests), with a timeout and a size cap, into a
//! directory laid out like `verified/ranges/`. A list kept under a `key` of a
//! file that holds several is put under that key of a copy of the pinned
//! file. What is downloaded is only written to that directory: the caller
//! diffs and guards it like any other new copy.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::verified::{ListSpec, Operators};

/// Largest body accepted, bytes (the largest list published today is well
/// under 1 MB).
pub const MAX_BYTES: u64 = 8 * 1024 * 1024;

/// Whether `url` may be fetched: https anywhere, http only on loopback.
pub fn allowed(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    url.strip_prefix("http://")
        .and_then(|rest| rest.split(['/', ':']).next())
        .is_some_and(|host| matches!(host, "127.0.0.1" | "localhost" | "[::1]"))
}

/// Fetches one URL: the body, or why not.
pub fn get(url: &str, timeout: Duration) -> Result<String, String> {
    if !allowed(url) {
        return Err(format!("{url} is not an https:// URL"));
    }
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .https_only(url.starts_with("https://"))
        .user_agent("bot-signatures import-ranges (https://github.com/)")
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    let mut body = String::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_BYTES + 1)
        .read_to_string(&mut body)
        .map_err(|e| format!("reading the body: {e}"))?;
    if body.len() as u64 > MAX_BYTES {
        return Err(format!("the body is larger than {MAX_BYTES} bytes"));
    }
    Ok(body)
}

/// Downloads every list of `ops` into `into` (named as under `verified/`),
/// reading pinned copies from `verified` for files that hold several lists.
/// Returns, per list, whether it was fetched or why not; a list that fails
/// is simply absent from `into`, so the caller keeps its pinned copy.
pub fn fetch_all(
    ops: &Operators,
    verified: &Path,
    into: &Path,
    timeout: Duration,
    mut progress: impl FnMut(usize, usize, &ListSpec),
) -> Vec<(String, Result<(), String>)> {
    let mut out = Vec::new();
    for (i, spec) in ops.lists.iter().enumerate() {
        progress(i + 1, ops.lists.len(), spec);
        out.push((spec.name.clone(), fetch_one(spec, verified, into, timeout)));
    }
    out
}

fn fetch_one(
    spec: &ListSpec,
    verified: &Path,
    into: &Path,
    timeout: Duration,
) -> Result<(), String> {
    let body = get(&spec.url, timeout)?;
    let doc: Value = serde_json::from_str(&body)
        .map_err(|e| format!("{} did not answer JSON: {e}", spec.url))?;
    let name = Path::new(&spec.file)
        .file_name()
        .ok_or_else(|| format!("{} names no file", spec.file))?;
    let target = into.join(name);
    let text = match &spec.key {
        None => body,
        Some(key) => {
            // Start from what this run already fetched into the file, else the pinned copy.
            let base = std::fs::read_to_string(&target)
                .or_else(|_| std::fs::read_to_string(verified.join(&spec.file)))
                .map_err(|e| format!("reading the pinned {}: {e}", spec.file))?;
            let mut all: Value = serde_json::from_str(&base)
                .map_err(|e| format!("the pinned {} is not JSON: {e}", spec.file))?;
            let obj = all
                .as_object_mut()
                .ok_or_else(|| format!("the pinned {} is not a JSON object", spec.file))?;
            obj.insert(key.clone(), doc);
            serde_json::to_string_pretty(&all).map_err(|e| e.to_string())? + "\n"
        }
    };
    std::fs::write(&target, text).map_err(|e| format!("writing {}: {e}", target.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback() {
        assert!(allowed("https://developers.google.com/x.json"));
        assert!(allowed("http://127.0.0.1:8080/x.json"));
        assert!(allowed("http://localhost/x.json"));
        assert!(!allowed("http://developers.google.com/x.json"));
        assert!(!allowed("http://127.0.0.1.evil.example/x.json"));
        assert!(!allowed("file:///etc/passwd"));
        assert!(!allowed("ftp://x"));
    }
}
