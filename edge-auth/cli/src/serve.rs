//! `edge-auth serve`: a local CloudFront for developers. Listens on loopback,
//! turns each HTTP request into a viewer-request event, decides it with the
//! native core (or the built bundle in Node.js, `--bundle`), and answers with
//! the generated response or, when forwarded, the file from `--root` (the S3
//! origin stand-in).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{Context, bail};
use edge_auth_core::{Ctx, EdgeConfig, EdgeState, Matcher, VerifiedBots, decide};
use serde_json::{Value, json};

/// The Node side of `--bundle`: loads the bundle, answers one JSON line per
/// event. Passed with `node -e` (never written to a file someone else could
/// replace), so the bundle directory is `process.argv[1]`.
const BRIDGE: &str = r#"
const { createInterface } = require('node:readline');
const path = require('node:path');
console.log = (...a) => process.stderr.write(a.join(' ') + '\n');
const { handler } = require(path.resolve(process.argv[1], 'index.js'));
const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  const result = await handler(JSON.parse(line));
  process.stdout.write(JSON.stringify(result) + '\n');
});
"#;

/// How events are decided.
pub enum Engine {
    /// The native core, as `edge-auth decide`.
    Native {
        config: Box<EdgeConfig>,
        matcher: Box<Matcher>,
        verified: Box<VerifiedBots>,
        state: Box<EdgeState>,
        /// A frozen clock (Unix seconds), as `decide --now`; `None` reads the wall clock.
        now_s: Option<u64>,
    },
    /// The built bundle in a Node.js process.
    Node {
        child: Child,
        stdin: ChildStdin,
        stdout: BufReader<ChildStdout>,
    },
}

impl Engine {
    /// Starts `node` on the bundle in `dir`.
    pub fn node(dir: &Path) -> anyhow::Result<Engine> {
        if !dir.join("index.js").is_file() {
            bail!(
                "{} has no index.js: build it with `cargo xtask dist --config CONFIG --out DIR` and pass DIR/bundle",
                dir.display()
            );
        }
        let mut child = Command::new("node")
            .arg("-e")
            .arg(BRIDGE)
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting node")?;
        let stdin = child.stdin.take().context("node stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("node stdout")?);
        Ok(Engine::Node {
            child,
            stdin,
            stdout,
        })
    }

    /// What the handler returns for `event`, and the reason when known.
    fn handle(&mut self, event: &Value) -> anyhow::Result<(Value, Option<String>)> {
        match self {
            Engine::Native {
                config,
                matcher,
                verified,
                state,
                now_s,
            } => {
                let now_ms = now_s.map_or_else(
                    || {
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_millis() as u64)
                    },
                    |s| s.saturating_mul(1000),
                );
                let parsed = edge_auth_event::parse_event_value(event.clone())?;
                let ctx = Ctx {
                    now_ms,
                    config,
                    matcher: Some(matcher),
                    verified: Some(verified),
                };
                let outcome = decide(&parsed.request, &ctx, state);
                Ok((
                    edge_auth_event::render(&outcome, &parsed),
                    Some(outcome.reason.as_str().to_owned()),
                ))
            }
            Engine::Node { stdin, stdout, .. } => {
                writeln!(stdin, "{event}").context("writing to node")?;
                let mut line = String::new();
                stdout.read_line(&mut line).context("reading from node")?;
                if line.is_empty() {
                    bail!("the Node bundle exited");
                }
                Ok((
                    serde_json::from_str(&line).context("the bundle's answer is not JSON")?,
                    None,
                ))
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Engine::Node { child, .. } = self {
            let _ = child.kill();
        }
    }
}

/// Serves until the process is stopped.
pub fn serve(listen: SocketAddr, root: &Path, mut engine: Engine) -> anyhow::Result<()> {
    if !listen.ip().is_loopback() {
        bail!("serve listens on loopback only (got {listen}); it is a development tool");
    }
    let server = tiny_http::Server::http(listen)
        .map_err(|e| anyhow::anyhow!("listening on {listen}: {e}"))?;
    // The bound address, not the asked one: with port 0 the system picks a
    // free port, and this line is how a caller (a test) learns it, race-free.
    let bound = server
        .server_addr()
        .to_ip()
        .map_or_else(|| listen.to_string(), |a| a.to_string());
    eprintln!(
        "edge-auth serve: http://{bound}/ (origin: {})",
        root.display()
    );
    let mut n = 0u64;
    for mut request in server.incoming_requests() {
        n += 1;
        let event = to_event(&request, n);
        let (status, reason, response) = match engine.handle(&event) {
            Ok((result, reason)) => {
                if let Some(status) = result.get("status").and_then(Value::as_str) {
                    let code: u16 = status.parse().unwrap_or(503);
                    (code, reason, generated(code, &result))
                } else {
                    let uri = result
                        .get("uri")
                        .and_then(Value::as_str)
                        .unwrap_or("/")
                        .to_owned();
                    let (code, resp) = origin(root, request.method(), &uri);
                    (code, reason, resp)
                }
            }
            Err(e) => {
                eprintln!("edge-auth serve: error: {e:#} (answered 503, as the handler would)");
                (
                    503,
                    None,
                    tiny_http::Response::from_string("Service Unavailable\n").with_status_code(503),
                )
            }
        };
        eprintln!(
            "{} {} -> {status}{}",
            request.method(),
            path_only(request.url()),
            reason.map(|r| format!(" ({r})")).unwrap_or_default()
        );
        let mut body = Vec::new();
        let _ = request.as_reader().read_to_end(&mut body);
        let _ = request.respond(response);
    }
    Ok(())
}

fn path_only(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// The viewer-request event CloudFront would send for `request`.
fn to_event(request: &tiny_http::Request, n: u64) -> Value {
    let (uri, qs) = request.url().split_once('?').unwrap_or((request.url(), ""));
    let mut headers = serde_json::Map::new();
    for h in request.headers() {
        let name = h.field.as_str().as_str().to_ascii_lowercase();
        let entry = headers
            .entry(name)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(json!({ "key": h.field.as_str().as_str(), "value": h.value.as_str() }));
        }
    }
    let client_ip = request
        .remote_addr()
        .map_or_else(|| "127.0.0.1".to_owned(), |a| a.ip().to_string());
    json!({ "Records": [{ "cf": {
        "config": { "distributionDomainName": "localhost", "distributionId": "LOCAL", "eventType": "viewer-request", "requestId": format!("local-{n}") },
        "request": { "clientIp": client_ip, "method": request.method().as_str(), "uri": uri, "querystring": qs, "headers": headers }
    }}]})
}

fn generated(code: u16, result: &Value) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let body = result
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut resp = tiny_http::Response::from_string(body).with_status_code(code);
    for list in result
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
    {
        for h in list.as_array().into_iter().flatten() {
            if let (Some(k), Some(v)) = (
                h.get("key").and_then(Value::as_str),
                h.get("value").and_then(Value::as_str),
            ) && let Ok(header) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes())
            {
                resp.add_header(header);
            }
        }
    }
    resp
}

/// The S3 object key a REST endpoint reads from a forwarded URI: the path
/// after the first `/`, percent-decoded once (`+` stays `+`), case kept.
/// `None` when the decoded bytes are not UTF-8 (S3 answers 400).
pub fn s3_key(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix('/')?;
    percent_encoding::percent_decode_str(rest)
        .decode_utf8()
        .ok()
        .map(|k| k.into_owned())
}

/// The S3 stand-in: the object under `root` for the forwarded URI, never a
/// file outside it. `OPTIONS` and `HEAD` get no body.
fn origin(
    root: &Path,
    method: &tiny_http::Method,
    uri: &str,
) -> (u16, tiny_http::Response<std::io::Cursor<Vec<u8>>>) {
    let text = |code: u16, body: &str| {
        (
            code,
            tiny_http::Response::from_string(body).with_status_code(code),
        )
    };
    if *method == tiny_http::Method::Options {
        return text(204, "");
    }
    let Some(key) = s3_key(uri) else {
        return text(400, "Bad Request\n");
    };
    let mut path = PathBuf::from(root);
    // A key with empty or dot segments names no file here (S3 would look up
    // `/private/x` or `a/../b` as keys of their own, which this site lacks).
    let parts: Vec<&str> = key.split('/').collect();
    for (i, part) in parts.iter().copied().enumerate() {
        match Path::new(part).components().next() {
            _ if part.is_empty() && i + 1 == parts.len() => {}
            _ if part.is_empty() => return text(404, "Not Found\n"),
            Some(Component::Normal(p)) if p == part => path.push(part),
            _ => return text(403, "Forbidden\n"),
        }
    }
    if path.is_dir() {
        path.push("index.html");
    }
    match std::fs::read(&path) {
        Ok(bytes) => {
            let body = if *method == tiny_http::Method::Head {
                Vec::new()
            } else {
                bytes
            };
            let mut resp = tiny_http::Response::from_data(body).with_status_code(200);
            if let Ok(h) =
                tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type(&path).as_bytes())
            {
                resp.add_header(h);
            }
            (200, resp)
        }
        Err(_) => text(404, "Not Found\n"),
    }
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css",
        "js" => "text/javascript",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "svg" => "image/svg+xml",
        "txt" => "text/plain; charset=utf-8",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn origin_never_leaves_the_root() {
        let root = std::env::temp_dir().join(format!("edge-serve-{}", std::process::id()));
        std::fs::create_dir_all(root.join("public")).unwrap();
        std::fs::write(root.join("public/a.txt"), "hello").unwrap();
        let get = tiny_http::Method::Get;
        assert_eq!(origin(&root, &get, "/public/a.txt").0, 200);
        assert_eq!(origin(&root, &get, "/public/%61.txt").0, 200);
        assert_eq!(origin(&root, &get, "/public/missing").0, 404);
        assert_eq!(origin(&root, &get, "/public/../../etc/passwd").0, 403);
        assert_eq!(
            origin(&root, &get, "/public/%2e%2e/%2e%2e/etc/passwd").0,
            403
        );
        assert_eq!(origin(&root, &get, "/%FF").0, 400);
    }

    #[test]
    fn options_and_head_never_carry_an_object() {
        let root = std::env::temp_dir().join(format!("edge-serve-o-{}", std::process::id()));
        std::fs::create_dir_all(root.join("private")).unwrap();
        std::fs::write(root.join("private/a.txt"), "secret").unwrap();
        for method in [tiny_http::Method::Options, tiny_http::Method::Head] {
            let (_, resp) = origin(&root, &method, "/private/a.txt");
            let mut body = Vec::new();
            resp.into_reader().read_to_end(&mut body).unwrap();
            assert!(body.is_empty(), "{method}");
        }
    }

    /// The Node bridge runs from `node -e`: `--bundle` leaves no script
    /// behind in the temporary directory (where another local user could have
    /// planted one under the predictable name the bridge once had).
    #[test]
    fn bundle_bridge_writes_no_file() {
        let dir = std::env::temp_dir().join(format!("edge-serve-b-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("index.js"),
            "exports.handler = async (e) => ({ status: '418', statusDescription: 'x', headers: {}, body: e.Records[0].cf.request.uri });\n",
        )
        .unwrap();
        let before: Vec<_> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        let mut engine = Engine::node(&dir).unwrap();
        let event = json!({ "Records": [{ "cf": { "request": { "uri": "/x", "method": "GET", "clientIp": "127.0.0.1" } } }] });
        let (result, _) = engine.handle(&event).unwrap();
        assert_eq!(result["status"], "418");
        assert_eq!(result["body"], "/x");
        let new: Vec<_> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| !before.contains(n) && !n.to_string_lossy().starts_with("edge-serve-"))
            .filter(|n| n.to_string_lossy().contains(".cjs") || n.to_string_lossy().contains(".js"))
            .collect();
        assert!(new.is_empty(), "serve --bundle wrote {new:?}");
    }

    #[test]
    fn s3_keys() {
        assert_eq!(s3_key("/%70rivate/x").as_deref(), Some("private/x"));
        assert_eq!(s3_key("/private%2Fx").as_deref(), Some("private/x"));
        assert_eq!(s3_key("//private/x").as_deref(), Some("/private/x"));
        assert_eq!(s3_key("/a+b").as_deref(), Some("a+b"));
        assert_eq!(s3_key("/a/../b").as_deref(), Some("a/../b"));
        assert_eq!(s3_key("/%FF"), None);
    }
}
