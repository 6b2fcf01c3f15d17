//! `edge-auth serve` end to end: the binary on a free loopback port, real HTTP
//! requests, the demo config and site. 200 for a public page and for a valid
//! token on its own folder, 401 without a token, 403 for a crawler and for
//! another user's folder, 429 past the rate. On a frozen clock (`--now`)
//! and a port the server picks itself: nothing here waits or races.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The clock every `serve` here runs on (`--now`): tokens are minted for it
/// and the rate limit sees no time pass, so no result depends on how fast
/// this machine answers.
const NOW: &str = "1800000100";

/// `serve` on the demo config, on a port the system picks (`--listen
/// 127.0.0.1:0`, read back from its first line: no race for a free port).
fn start() -> (Server, u16) {
    let root = repo();
    let mut child = Command::new(env!("CARGO_BIN_EXE_edge-auth"))
        .args(["serve", "--now", NOW, "--config"])
        .arg(root.join("examples/demo/edge.toml"))
        .arg("--root")
        .arg(root.join("examples/demo/site"))
        .args(["--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    // Keep reading the log, so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let port = first
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in serve's first line: {first:?}"));
    (Server(child), port)
}

#[test]
fn serve_answers_like_the_edge() {
    let root = repo();
    let (_server, port) = start();
    let token = Command::new(env!("CARGO_BIN_EXE_edge-auth"))
        .args([
            "mint",
            "--kid",
            "demo-es256-1",
            "--iss",
            "https://demo-issuer.example",
            "--aud",
            "demo-site",
            "--sub",
            "alice",
            "--now",
            NOW,
            "--key",
        ])
        .arg(root.join("examples/demo/demo-es256.key.pem"))
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let auth = format!("Bearer {token}");
    let ua = ("User-Agent", BROWSER);

    assert_eq!(get(port, "/public/index.html", &[ua]).0, 200);
    assert_eq!(get(port, "/private/alice/report.txt", &[ua]).0, 401);
    let (status, body) = get(
        port,
        "/private/alice/report.txt",
        &[ua, ("Authorization", &auth)],
    );
    assert_eq!((status, body.trim()), (200, "alice's report"));
    assert_eq!(
        get(
            port,
            "/private/bob/secret.txt",
            &[ua, ("Authorization", &auth)]
        )
        .0,
        403
    );
    assert_eq!(
        get(
            port,
            "/public/index.html",
            &[("User-Agent", "python-requests/2.32.3")]
        )
        .0,
        403
    );
    assert_eq!(
        get(port, "/public/../private/alice/report.txt", &[ua]).0,
        400,
        "dot segments are refused before any rule"
    );
    // Issue #13's table: other spellings of Bob's file never reach it with
    // Alice's token; another spelling of her own file is served (canonical URI).
    for (uri, want) in [
        ("/%70rivate/bob/secret.txt", 403),
        ("/private%2Fbob/secret.txt", 400),
        ("//private/bob/secret.txt", 400),
        ("/private/b%6Fb/secret.txt", 403),
    ] {
        assert_eq!(
            get(port, uri, &[ua, ("Authorization", &auth)]).0,
            want,
            "{uri}"
        );
    }
    let (status, body) = get(
        port,
        "/%70rivate/alice/report%2etxt",
        &[ua, ("Authorization", &auth)],
    );
    assert_eq!((status, body.trim()), (200, "alice's report"));
}

#[test]
fn serve_limits_the_rate_on_its_clock() {
    // The demo allows a burst of 10 per client; on a frozen clock nothing
    // refills, so exactly the first 10 pass and every later one is over.
    let (_server, port) = start();
    let ua = ("User-Agent", BROWSER);
    let statuses: Vec<u16> = (0..13)
        .map(|_| get(port, "/public/index.html", &[ua]).0)
        .collect();
    let mut want = vec![200; 10];
    want.extend([429; 3]);
    assert_eq!(statuses, want);
}
