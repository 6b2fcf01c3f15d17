//! Real services for the integration tests, on loopback: the WAF emulator
//! (moto server) behind the strict WAF proxy (`tests/waf/strict_waf.py`:
//! AWS's published wafv2 model, quotas and referential rules that moto does
//! not enforce), and a throwaway PostgreSQL cluster. All stop when dropped; a
//! test whose requests broke the model fails then, even if waf-sync carried on.
//! `.ci/run` installs them; a test that cannot find them fails with a hint,
//! it never skips.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Reads `from` until a line containing `marker` followed by a port, which it
/// returns; the rest of the stream is drained in the background (a full pipe
/// would stop the server).
fn announced_port(from: Option<std::process::ChildStderr>, marker: &str) -> Option<u16> {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(from?).lines();
    let port = lines.by_ref().map_while(Result::ok).find_map(|l| {
        let rest = l.split(marker).nth(1)?;
        rest.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    });
    std::thread::spawn(move || lines.for_each(drop));
    port
}

fn wait_for(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A moto server (the WAF emulator) on a free loopback port, and the strict
/// proxy in front of it.
pub struct Moto {
    child: Option<Child>,
    proxy: Option<Child>,
    /// The strict proxy, `http://127.0.0.1:PORT`: what waf-sync talks to.
    pub endpoint: String,
    /// moto itself, for `admin` (other people's changes, through boto3).
    pub moto_endpoint: String,
    bin_dir: PathBuf,
    /// Model violations this test provokes on purpose.
    pub expect_violations: bool,
}

impl Moto {
    /// Starts one behind the strict proxy.
    pub fn start() -> Moto {
        Moto::start_with(false)
    }

    /// The same, and the proxy answers WAFUnavailableEntityException to the
    /// first web ACL update that references each newly created set.
    pub fn start_unavailable_at_first() -> Moto {
        Moto::start_with(true)
    }

    /// `MOTO_SERVER` names the binary, else the one `.ci/run` installs.
    fn start_with(unavailable: bool) -> Moto {
        let bin = std::env::var_os("MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_tests::tools_dir().join("moto-venv/bin/moto_server"));
        assert!(
            bin.is_file(),
            "moto server not found at {}: run .ci/run (it installs moto[server]) or set MOTO_SERVER",
            bin.display()
        );
        // Port 0: the server binds a port the system picks and names it in
        // its "Running on" line, so no other test can take it in between.
        let mut child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let port = announced_port(child.stderr.take(), "Running on http://127.0.0.1:")
            .unwrap_or_else(|| {
                panic!(
                    "moto_server ({}) did not say where it listens",
                    bin.display()
                )
            });
        let bin_dir = bin.parent().map(Path::to_path_buf).unwrap_or_default();
        let moto_endpoint = format!("http://127.0.0.1:{port}");
        let port_file =
            std::env::temp_dir().join(format!("strict-waf-{}-{port}.port", std::process::id()));
        let _ = std::fs::remove_file(&port_file);
        let mut proxy = Command::new(bin_dir.join("python"));
        proxy
            .arg(workspace_tests::repo_root().join("tests/waf/strict_waf.py"))
            .arg(&moto_endpoint)
            .arg(&port_file)
            .stdout(Stdio::null());
        if unavailable {
            proxy.arg("--unavailable");
        }
        let proxy = proxy
            .spawn()
            .unwrap_or_else(|e| panic!("starting the strict WAF proxy: {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        let proxy_port: u16 = loop {
            if let Some(p) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                break p;
            }
            assert!(
                Instant::now() < deadline,
                "the strict WAF proxy did not start within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = std::fs::remove_file(&port_file);
        wait_for(proxy_port, "strict WAF proxy");
        Moto {
            child: Some(child),
            proxy: Some(proxy),
            endpoint: format!("http://127.0.0.1:{proxy_port}"),
            moto_endpoint,
            bin_dir,
            expect_violations: false,
        }
    }

    /// The proxy's counts: model violations by member, refusals by kind, the
    /// largest web ACL capacity seen.
    pub fn stats(&self) -> serde_json::Value {
        use std::io::{Read, Write};
        let addr = self.endpoint.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("strict proxy: {e}"));
        let _ = write!(
            s,
            "GET /_strict/stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        );
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("{}");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("strict proxy stats {body:?}: {e}"))
    }

    /// Runs `tests/waf/moto_admin.py` (boto3) against this server.
    pub fn admin(&self, args: &[&str]) -> String {
        self.admin_at(&self.moto_endpoint, args)
    }

    /// The same through the strict proxy: what CloudFormation would send for
    /// the template is judged by AWS's model and quotas too.
    pub fn admin_strict(&self, args: &[&str]) -> String {
        self.admin_at(&self.endpoint, args)
    }

    fn admin_at(&self, endpoint: &str, args: &[&str]) -> String {
        let script = workspace_tests::repo_root().join("tests/waf/moto_admin.py");
        let out = Command::new(self.bin_dir.join("python"))
            .arg(script)
            .arg(endpoint)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("moto_admin: {e}"));
        assert!(
            out.status.success(),
            "moto_admin {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops the server and its proxy now (the emulator "going away").
    pub fn kill(&mut self) {
        for c in [self.child.take(), self.proxy.take()].into_iter().flatten() {
            let mut c = c;
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if self.proxy.is_some() && !self.expect_violations && !std::thread::panicking() {
            let stats = self.stats();
            self.kill();
            assert_eq!(
                stats["model_violations"],
                serde_json::json!({}),
                "requests broke AWS's published wafv2 model: {stats}"
            );
        }
        self.kill();
    }
}

/// A PostgreSQL cluster in a temporary directory, on a free loopback port.
pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

fn pg_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PG_BIN") {
        return PathBuf::from(p);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.sort();
    versions.pop().filter(|p| p.join("initdb").is_file()).unwrap_or_else(|| panic!("PostgreSQL not found under /usr/lib/postgresql: run .ci/run (it installs it) or set PG_BIN"))
}

impl Postgres {
    /// initdb + start; as the `postgres` user when running as root.
    pub fn start() -> Postgres {
        Postgres::start_with(false)
    }

    /// The same with TLS on: a fresh test CA signs a certificate for
    /// localhost / 127.0.0.1. Returns the server and the CA's PEM file.
    pub fn start_tls() -> (Postgres, PathBuf) {
        let pg = Postgres::start_with(true);
        let ca = pg.dir.join("ca.pem");
        (pg, ca)
    }

    fn start_with(tls: bool) -> Postgres {
        let bin = pg_bin();
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "edge-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let mut pg = Postgres {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&pg.dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown to postgres failed");
        }
        pg.run(
            "initdb",
            &["-A", "trust", "-U", "postgres", "-D", &pg.data()],
        );
        let mut opts = format!("-c listen_addresses=127.0.0.1 -p 0 -k {}", pg.dir.display());
        if tls {
            pg.make_certificates();
            opts.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={0}/server.crt -c ssl_key_file={0}/server.key",
                pg.dir.display()
            ));
        }
        // PostgreSQL cannot pick its own port (the port also names its
        // socket), so a port another test took after `free_port` released it
        // makes the start fail: take another, a few times, then report.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let opts = opts.replacen("-p 0", &format!("-p {}", pg.port), 1);
            let log = pg.dir.join("log").display().to_string();
            match pg.try_run(
                "pg_ctl",
                &["-D", &pg.data(), "-o", &opts, "-l", &log, "-w", "start"],
            ) {
                Ok(_) => break,
                Err(e) if attempts < 5 => {
                    eprintln!(
                        "postgres did not start on port {} ({e}); another port",
                        pg.port
                    );
                    pg.port = free_port();
                }
                Err(e) => panic!("pg_ctl start failed {attempts} times: {e}"),
            }
        }
        wait_for(pg.port, "postgres");
        pg
    }

    fn make_certificates(&self) {
        let d = &self.dir;
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .unwrap_or_else(|e| panic!("openssl: {e}"));
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=edge-test-ca",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            d.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        let _ = Command::new("chmod")
            .args(["600"])
            .arg(d.join("server.key"))
            .status();
        if self.as_postgres {
            let _ = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(d)
                .status();
        }
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        self.output(tool, args);
    }

    fn output(&self, tool: &str, args: &[&str]) -> String {
        self.try_run(tool, args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs a PostgreSQL tool (as `postgres` when root); its stdout.
    fn try_run(&self, tool: &str, args: &[&str]) -> Result<String, String> {
        let exe = self.bin.join(tool);
        let out = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .output()
        } else {
            Command::new(&exe).args(args).output()
        }
        .map_err(|e| format!("{tool}: {e}"))?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        Err(format!(
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }

    /// Runs SQL as the superuser.
    pub fn psql(&self, sql: &str) {
        self.psql_value(sql);
    }

    /// Runs SQL as the superuser and returns its output, unaligned and
    /// without headers (one value per line).
    pub fn psql_value(&self, sql: &str) -> String {
        let port = self.port.to_string();
        self.output(
            "psql",
            &[
                "-tA",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                sql,
            ],
        )
    }

    /// A connection URL.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A URL that requires TLS, by the name the certificate carries.
    pub fn tls_url(&self) -> String {
        format!(
            "postgres://postgres@localhost:{}/postgres?sslmode=require",
            self.port
        )
    }

    /// Stops the server (a database outage).
    pub fn stop(&self) {
        if self.as_postgres {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", &self.data(), "-m", "immediate", "stop"])
                .output();
        } else {
            let _ = Command::new(self.bin.join("pg_ctl"))
                .args(["-D", &self.data(), "-m", "immediate", "stop"])
                .output();
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
