//! `import-ranges --fetch` against a real HTTP server on loopback (the
//! operators' URLs pointed at it): a download that grew is taken and dated; one
//! that shrank is refused with nothing written; a list that cannot be fetched
//! keeps its pinned copy, and when none can, the run fails with "unavailable".

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Serves `body` with `status` to every request, counting them.
fn serve(status: u16, body: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut s = &stream;
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, hits)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// The dry-run case's catalog and lists in a fresh directory, the list's URL
/// pointed at `url`.
fn workdir(case: &str, url: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd/import-ranges-dry-run.in");
    let dir = std::env::temp_dir().join(format!(
        "bot-signatures-fetch-{case}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&src, &dir);
    let ops = dir.join("verified/operators.toml");
    let text = std::fs::read_to_string(&ops).unwrap().replace(
        "https://search.developer.apple.com/applebot.json",
        &format!("{url}/applebot.json"),
    );
    std::fs::write(&ops, text).unwrap();
    dir
}

fn run(dir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bot-signatures"))
        .args([
            "import-ranges",
            "--fetch",
            "--timeout",
            "5",
            "--date",
            "2026-11-26",
            "--catalog",
        ])
        .arg(dir.join("catalog"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_grown_list_is_fetched_diffed_and_dated() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd/import-ranges-dry-run.in");
    let grown = std::fs::read_to_string(src.join("new/applebot.json")).unwrap();
    let (url, hits) = serve(200, grown.clone());
    let dir = workdir("grown", &url);
    let (code, stdout, stderr) = run(&dir);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("fetching applebot (1/1)"), "{stderr}");
    assert!(stdout.contains("applebot: 5 -> 6 prefixes"), "{stdout}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(
        std::fs::read_to_string(dir.join("verified/ranges/applebot.json")).unwrap(),
        grown
    );
    assert!(
        std::fs::read_to_string(dir.join("verified/operators.toml"))
            .unwrap()
            .contains("snapshot = \"2026-11-26\"")
    );
}

#[test]
fn a_shrunken_download_is_refused_and_nothing_written() {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd/import-ranges-shrink-refused.in");
    let shrunk = std::fs::read_to_string(src.join("new/applebot.json")).unwrap();
    let (url, _) = serve(200, shrunk);
    let dir = workdir("shrunk", &url);
    let before = std::fs::read_to_string(dir.join("verified/ranges/applebot.json")).unwrap();
    let ops_before = std::fs::read_to_string(dir.join("verified/operators.toml")).unwrap();
    let (code, stdout, stderr) = run(&dir);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("shrank by more than 20%"), "{stderr}");
    assert!(stderr.contains("the downloads are kept in"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.join("verified/ranges/applebot.json")).unwrap(),
        before
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("verified/operators.toml")).unwrap(),
        ops_before
    );
}

#[test]
fn an_unreachable_or_failing_source_keeps_the_pinned_copy() {
    for (case, url) in [
        ("error", serve(500, "{}".into()).0),
        ("html", serve(200, "<html>moved</html>".into()).0),
        ("closed", {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let u = format!("http://{}", l.local_addr().unwrap());
            drop(l);
            u
        }),
    ] {
        let dir = workdir(case, &url);
        let before = std::fs::read_to_string(dir.join("verified/ranges/applebot.json")).unwrap();
        let (code, stdout, stderr) = run(&dir);
        assert_eq!(code, 69, "{case}: {stdout}\n{stderr}");
        assert!(
            stderr.contains("applebot: fetch failed"),
            "{case}: {stderr}"
        );
        assert!(stderr.contains("nothing written"), "{case}: {stderr}");
        assert_eq!(
            std::fs::read_to_string(dir.join("verified/ranges/applebot.json")).unwrap(),
            before,
            "{case}"
        );
    }
}

#[test]
fn lists_kept_under_keys_of_one_file_are_fetched_into_their_keys() {
    let doc =
        r#"{"prefixes": [{"ipv4Prefix": "66.249.64.0/27"}, {"ipv4Prefix": "66.249.65.0/27"}]}"#;
    let (url, hits) = serve(200, doc.into());
    let dir = workdir("keys", &url);
    std::fs::write(
        dir.join("verified/ranges/both.json"),
        r#"{"first": {"prefixes": [{"ipv4Prefix": "66.249.64.0/27"}]}, "second": {"prefixes": [{"ipv4Prefix": "66.249.65.0/27"}]}, "other": 1}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("verified/operators.toml"),
        format!(
            "[[list]]\nname = \"first\"\nfile = \"ranges/both.json\"\nkey = \"first\"\nurl = \"{url}/first.json\"\nsnapshot = \"2026-01-01\"\n\n\
             [[list]]\nname = \"second\"\nfile = \"ranges/both.json\"\nkey = \"second\"\nurl = \"{url}/second.json\"\nsnapshot = \"2026-01-01\"\n\n\
             [[operator]]\nname = \"apple\"\nlists = [\"first\", \"second\"]\nsignatures = [\"applebot\"]\n"
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&dir);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    let both: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("verified/ranges/both.json")).unwrap(),
    )
    .unwrap();
    let fetched: serde_json::Value = serde_json::from_str(doc).unwrap();
    assert_eq!(both["first"], fetched);
    assert_eq!(both["second"], fetched);
    assert_eq!(both["other"], 1, "the rest of the file is kept");
}
