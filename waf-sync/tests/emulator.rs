//! waf-sync against real components: a moto server as the WAF endpoint through
//! the real AWS SDK, and a real PostgreSQL as the reporting source. Faults
//! (lock conflicts, outages) are made real where they can be (another writer
//! through boto3, a killed emulator) and injected behind the `WafApi` trait
//! where they cannot (persistent internal errors).
//!
//! In waf-sync's own test target, so the edge's tests (`tests/`) build and
//! run without the AWS SDK.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::cell::Cell;
use std::collections::BTreeMap;

use bot_signatures::Catalog;
use bot_signatures::corpus::BrowserCorpus;
use waf_sync::agent::FlaggedAgent;
use waf_sync::apply::{RunError, Settings, run};
use waf_sync::plan::{Aggregate, RateRule, Stmt};
use waf_sync::source::SourceConfig;
use waf_sync::waf::{AclSnapshot, SdkWaf, SetContent, SetInfo, WafApi, WafError};
mod services;

use services::{Moto, Postgres};
use workspace_tests::{assert_emf, repo_root};

const ACL: &str = "edge-acl";

fn settings() -> Settings {
    Settings {
        writes_per_second: 50.0,
        backoff: std::time::Duration::from_millis(20),
        rate: Some(RateRule {
            limit: 2000,
            window_s: 300,
            aggregate: Aggregate::IpAndUserAgent,
            scope_down_path_prefix: Some("/private/".into()),
        }),
        ..Settings::default()
    }
}

fn browsers() -> BrowserCorpus {
    BrowserCorpus::load(&repo_root().join(bot_signatures::corpus::DEFAULT_RELATIVE)).unwrap()
}

fn rows(list: &[(&str, i64, Option<&str>)]) -> Vec<FlaggedAgent> {
    list.iter()
        .map(|(ua, hits, status)| FlaggedAgent {
            user_agent: (*ua).into(),
            hits: *hits,
            status: status.map(str::to_owned),
        })
        .collect()
}

fn flagged() -> Vec<FlaggedAgent> {
    rows(&[
        (
            "QuokkaHarvester/2.1 (+https://quokka.example/bot)",
            1200,
            None,
        ),
        (
            "Mozilla/5.0 (compatible; WombatIndexer/1.0)",
            300,
            Some("confirmed"),
        ),
        ("NumbatFetch/0.9", 50, Some("rejected")),
        (
            "Mozilla/5.0 (Linux; Android 16; SM-S926U) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/153.0 Mobile Safari/537.36 Barcelona 448.0.0.54.85",
            9,
            None,
        ),
    ])
}

fn describe(moto: &Moto) -> serde_json::Value {
    serde_json::from_str(&moto.admin(&["describe", ACL])).unwrap()
}

struct World {
    catalog: Catalog,
    matcher: bot_signatures::Matcher,
    browsers: BrowserCorpus,
}

impl World {
    async fn run<W: WafApi>(
        &self,
        waf: &W,
        rows: &[FlaggedAgent],
        settings: &Settings,
    ) -> Result<
        (waf_sync::plan::Plan, waf_sync::apply::Summary),
        (RunError, waf_sync::apply::Summary),
    > {
        run(
            waf,
            rows,
            &self.catalog,
            &self.matcher,
            &self.browsers,
            settings,
        )
        .await
    }
}

fn world() -> World {
    let (catalog, _) = Catalog::embedded();
    let matcher = bot_signatures::compile::compile(&catalog)
        .matcher()
        .unwrap();
    World {
        catalog,
        matcher,
        browsers: browsers(),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn first_run_creates_from_postgres_and_second_run_writes_nothing() {
    let moto = Moto::start();
    moto.admin(&["create-acl", ACL]);
    let pg = Postgres::start();
    pg.psql(
        "CREATE SCHEMA reporting; CREATE TABLE reporting.flagged (ua text, first_seen timestamptz, last_seen timestamptz, n bigint, flagged_by text, review text);
         INSERT INTO reporting.flagged (ua, n, review, flagged_by) VALUES
           ('QuokkaHarvester/2.1 (+https://quokka.example/bot)', 1200, NULL, 'pipeline'),
           ('Mozilla/5.0 (compatible; WombatIndexer/1.0)', 300, 'confirmed', 'pipeline'),
           ('NumbatFetch/0.9', 50, 'rejected', 'analyst');",
    );
    let source = SourceConfig {
        url: pg.url(),
        table: "reporting.flagged".into(),
        user_agent_column: "ua".into(),
        hits_column: "n".into(),
        status_column: "review".into(),
        ca_file: None,
    };
    let w = world();
    rt().block_on(async {
        let read = waf_sync::source::read(&source).await.unwrap();
        assert_eq!(read.len(), 3);
        let waf = SdkWaf::with_endpoint(&moto.endpoint, true, ACL, "edge-bots").await;
        let (plan, first) = w
            .run(&waf, &read, &settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(
            first.applied && first.sets_created > 0 && first.rules_updated,
            "{first:?}"
        );
        assert_eq!(first.derived, 2, "{first:?}");
        assert!(
            plan.added.iter().any(|r| r.contains("quokkaharvester"))
                && plan.added.iter().any(|r| r.contains("wombatindexer"))
        );
        assert!(
            !plan.added.iter().any(|r| r.contains("numbatfetch")),
            "a rejected row must never become a block"
        );
        let state = describe(&moto);
        let rules: Vec<&str> = state["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r.as_str())
            .collect();
        assert!(
            rules.contains(&"aws-common")
                && rules.contains(&"edge-bots-ua-block")
                && rules.contains(&"edge-bots-rate"),
            "{rules:?}"
        );

        assert_emf(&first.emf(ACL, false, 1_800_000_000_000), "WafSync");
        let (again, second) = w
            .run(&waf, &read, &settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(
            second.write_calls, 0,
            "a run with no new input makes no write calls: {second:?}"
        );
    });
}

#[test]
fn postgres_over_tls_is_verified_against_the_configured_ca() {
    let (pg, ca) = Postgres::start_tls();
    pg.psql("CREATE TABLE flagged_user_agents (user_agent text, hits bigint, status text); INSERT INTO flagged_user_agents VALUES ('QuokkaHarvester/2.1', 5, NULL);");
    rt().block_on(async {
        let trusted = SourceConfig {
            url: pg.tls_url(),
            ca_file: Some(ca.clone()),
            ..SourceConfig::default()
        };
        let rows = waf_sync::source::read(&trusted).await.unwrap();
        assert_eq!(rows.len(), 1);
        // Without the CA the server's certificate is refused, and the message says why.
        let untrusted = SourceConfig {
            url: pg.tls_url(),
            ..SourceConfig::default()
        };
        let err = waf_sync::source::read(&untrusted)
            .await
            .expect_err("an unknown issuer must be refused")
            .to_string();
        assert!(err.to_ascii_lowercase().contains("certificate"), "{err}");
        assert!(!err.contains("password"), "{err}");
    });
}

/// The SDK client with hooks before each web ACL and pattern set update: a
/// hook may act (another writer changing the resource between our Get and our
/// Update, through boto3) or fail the call (an injected error).
struct Hooked<
    F: Fn() -> Option<WafError>,
    G: Fn(&SetInfo) -> Option<WafError> = fn(&SetInfo) -> Option<WafError>,
> {
    inner: SdkWaf,
    before_update_acl: F,
    before_update_set: G,
}

fn no_set_hook(_: &SetInfo) -> Option<WafError> {
    None
}

impl<F: Fn() -> Option<WafError>, G: Fn(&SetInfo) -> Option<WafError>> WafApi for Hooked<F, G> {
    type Acl = <SdkWaf as WafApi>::Acl;
    async fn list_sets(&self, prefix: &str) -> Result<Vec<SetInfo>, WafError> {
        self.inner.list_sets(prefix).await
    }
    async fn get_set(&self, set: &SetInfo) -> Result<SetContent, WafError> {
        self.inner.get_set(set).await
    }
    async fn create_set(
        &self,
        name: &str,
        regexes: &[String],
        description: &str,
    ) -> Result<SetInfo, WafError> {
        self.inner.create_set(name, regexes, description).await
    }
    async fn update_set(
        &self,
        set: &SetInfo,
        regexes: &[String],
        description: &str,
        lock_token: &str,
    ) -> Result<(), WafError> {
        if let Some(e) = (self.before_update_set)(set) {
            return Err(e);
        }
        self.inner
            .update_set(set, regexes, description, lock_token)
            .await
    }
    async fn delete_set(&self, set: &SetInfo, lock_token: &str) -> Result<(), WafError> {
        self.inner.delete_set(set, lock_token).await
    }
    async fn get_acl(
        &self,
        set_names: &BTreeMap<String, String>,
    ) -> Result<AclSnapshot<Self::Acl>, WafError> {
        self.inner.get_acl(set_names).await
    }
    async fn update_acl(
        &self,
        snapshot: &AclSnapshot<Self::Acl>,
        ua: Option<&Stmt>,
        rate: Option<&RateRule>,
        arns: &BTreeMap<String, String>,
    ) -> Result<(), WafError> {
        if let Some(e) = (self.before_update_acl)() {
            return Err(e);
        }
        self.inner.update_acl(snapshot, ua, rate, arns).await
    }
}

#[test]
fn concurrent_edits_between_get_and_update_are_not_lost() {
    let moto = Moto::start();
    moto.admin(&["create-acl", ACL]);
    let w = world();
    rt().block_on(async {
        // Another writer changes the ACL before each of our first three updates.
        let interfere = Cell::new(3u32);
        let waf = Hooked {
            before_update_set: no_set_hook,
            inner: SdkWaf::with_endpoint(&moto.endpoint, true, ACL, "edge-bots").await,
            before_update_acl: || {
                let n = interfere.get();
                if n > 0 {
                    interfere.set(n - 1);
                    moto.admin(&[
                        "add-rule",
                        ACL,
                        &format!("someone-elses-rule-{n}"),
                        &(50 + n).to_string(),
                    ]);
                }
                None
            },
        };
        let (_, summary) = w
            .run(&waf, &flagged(), &settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(
            summary.retries >= 3,
            "each conflict is retried after a re-read: {summary:?}"
        );
        let rules = describe(&moto)["rules"].to_string();
        for r in [
            "aws-common",
            "someone-elses-rule-1",
            "someone-elses-rule-2",
            "someone-elses-rule-3",
            "edge-bots-ua-block",
            "edge-bots-rate",
        ] {
            assert!(rules.contains(r), "{r} missing from {rules}");
        }
    });
}

#[test]
fn an_emptied_source_does_not_wipe_rules() {
    let moto = Moto::start();
    moto.admin(&["create-acl", ACL]);
    let w = world();
    rt().block_on(async {
        let waf = SdkWaf::with_endpoint(&moto.endpoint, true, ACL, "edge-bots").await;
        w.run(&waf, &flagged(), &settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        let before = describe(&moto);
        let err = w
            .run(&waf, &[], &settings())
            .await
            .err()
            .map(|(e, s)| (e.to_string(), s));
        let (message, summary) = err.expect("an empty source must be refused");
        assert!(
            message.contains("refusing to remove") && summary.write_calls == 0,
            "{message} {summary:?}"
        );
        assert_eq!(describe(&moto), before, "nothing changed");
    });
}

#[test]
fn a_candidate_matching_a_browser_is_rejected_with_its_reason() {
    let moto = Moto::start();
    moto.admin(&["create-acl", ACL]);
    let w = world();
    rt().block_on(async {
        let waf = SdkWaf::with_endpoint(&moto.endpoint, true, ACL, "edge-bots").await;
        let (plan, summary) = w
            .run(&waf, &flagged(), &settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(
            summary
                .rejected
                .keys()
                .any(|r| r.contains("\"barcelona\" appears in browser user-agents")),
            "{:?}",
            summary.rejected
        );
        assert!(!plan.added.iter().any(|r| r.contains("barcelona")));
    });
}

#[test]
fn over_quota_input_is_packed_or_reported_never_dropped_silently() {
    let moto = Moto::start();
    moto.admin(&["create-acl", ACL]);
    let w = world();
    let mut s = settings();
    s.budget = bot_signatures::waf::Budget {
        max_sets: 1,
        max_wcu: 35 + 13,
    };
    rt().block_on(async {
        let waf = SdkWaf::with_endpoint(&moto.endpoint, true, ACL, "edge-bots").await;
        let (_, summary) = w
            .run(&waf, &flagged(), &s)
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(summary.sets_used <= 1 && summary.wcu <= 48, "{summary:?}");
        assert!(
            summary.left_out.len() > 500,
            "what does not fit is listed: {}",
            summary.left_out.len()
        );
        assert!(
            summary
                .left_out
                .iter()
                .all(|l| l.contains("over the budget"))
        );
        assert_eq!(describe(&moto)["sets"].as_object().unwrap().len(), 1);
    });
}

#[test]
fn the_emulator_going_away_is_a_clear_error() {
    let moto = std::cell::RefCell::new(Moto::start());
    moto.borrow().admin(&["create-acl", ACL]);
    let endpoint = moto.borrow().endpoint.clone();
    let w = world();
    rt().block_on(async {
        // Before anything: the first read fails.
        let waf = SdkWaf::with_endpoint(&endpoint, true, ACL, "edge-bots").await;
        let gone = Moto::start();
        let dead_endpoint = gone.endpoint.clone();
        drop(gone);
        let early = SdkWaf::with_endpoint(&dead_endpoint, true, ACL, "edge-bots").await;
        let (err, summary) = w
            .run(&early, &flagged(), &settings())
            .await
            .expect_err("must fail");
        assert!(
            matches!(err, RunError::Waf(WafError::Unreachable(_))),
            "{err}"
        );
        assert!(err.to_string().contains("unreachable"), "{err}");
        assert_eq!(summary.write_calls, 0);

        // Mid-run: the pattern sets are written, then the emulator dies
        // before the web ACL update, which fails clearly (not retried forever).
        let mid = Hooked {
            before_update_set: no_set_hook,
            inner: waf,
            before_update_acl: || {
                moto.borrow_mut().kill();
                None
            },
        };
        let (err, summary) = w
            .run(&mid, &flagged(), &settings())
            .await
            .expect_err("must fail");
        assert!(
            matches!(err, RunError::Waf(WafError::Unreachable(_))),
            "{err}"
        );
        assert!(
            summary.sets_created > 0 && !summary.rules_updated && !summary.applied,
            "{summary:?}"
        );
    });
}

#[test]
fn persistent_internal_errors_fail_clearly_and_leave_the_acl_unchanged() {
    let moto = Moto::start();
    moto.admin(&["create-acl", ACL]);
    let before_rules = describe(&moto)["rules"].clone();
    let w = world();
    rt().block_on(async {
        // Persistent WAFInternalErrorExceptions on the web ACL update.
        let waf = Hooked {
            before_update_set: no_set_hook,
            inner: SdkWaf::with_endpoint(&moto.endpoint, true, ACL, "edge-bots").await,
            before_update_acl: || {
                Some(WafError::Transient(
                    "WAFInternalErrorException: injected".into(),
                ))
            },
        };
        let (err, summary) = w
            .run(&waf, &flagged(), &settings())
            .await
            .expect_err("must fail");
        assert!(
            err.to_string().contains("WAFInternalErrorException"),
            "{err}"
        );
        assert_eq!(
            summary.retries,
            (settings().max_attempts - 1) as usize,
            "bounded retries: {summary:?}"
        );
        assert!(!summary.applied);
    });
    assert_eq!(
        describe(&moto)["rules"],
        before_rules,
        "the web ACL is as it was"
    );
}

#[test]
fn the_connection_string_comes_from_secrets_manager() {
    let moto = Moto::start();
    let pg = Postgres::start();
    pg.psql("CREATE TABLE flagged_user_agents (user_agent text, hits bigint, status text); INSERT INTO flagged_user_agents VALUES ('QuokkaHarvester/2.1', 5, NULL), ('WombatIndexer/1', 2, NULL);");
    moto.admin(&["put-secret", "reporting/reader", &pg.url()]);
    rt().block_on(async {
        let url = waf_sync::secret::resolve("reporting/reader", Some(&moto.endpoint))
            .await
            .unwrap();
        let rows = waf_sync::source::read(&SourceConfig {
            url,
            ..SourceConfig::default()
        })
        .await
        .unwrap();
        assert_eq!(rows.len(), 2);
        let missing = waf_sync::secret::resolve("reporting/nope", Some(&moto.endpoint))
            .await
            .unwrap_err();
        assert!(missing.contains("ResourceNotFoundException"), "{missing}");
    });
}

/// The real `waf-sync` binary, run as Lambda runs it: a local Runtime API
/// serves a scheduled event, then a constant `{"apply": false}` input.
#[test]
fn the_lambda_entry_applies_on_schedule_then_plans_on_request() {
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_waf-sync"));
    assert!(
        bin.is_file(),
        "{} missing: `cargo build -p waf-sync` first (cargo xtask ci does)",
        bin.display()
    );
    let moto = Moto::start();
    moto.admin(&["create-acl", ACL]);
    let dir = std::env::temp_dir().join(format!("waf-sync-lambda-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        repo_root().join("examples/waf-sync/flagged.csv"),
        dir.join("flagged.csv"),
    )
    .unwrap();
    std::fs::copy(
        repo_root().join(bot_signatures::corpus::DEFAULT_RELATIVE),
        dir.join("browsers.json"),
    )
    .unwrap();
    std::fs::write(dir.join("waf-sync.toml"), format!("browsers = \"browsers.json\"\n[source]\nurl = \"flagged.csv\"\n[waf]\nweb_acl = \"{ACL}\"\nwrites_per_second = 10.0\n[rate_rule]\nlimit = 2000\nwindow_seconds = 300\n")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let python = std::path::PathBuf::from(std::env::var_os("MOTO_SERVER").unwrap_or_default())
        .with_file_name("python");
    let python = if python.is_file() {
        python
    } else {
        "python3".into()
    };
    let api = std::process::Command::new(python)
        .arg(repo_root().join("tests/waf/runtime_api.py"))
        .arg(port.to_string())
        .arg(r#"{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}"#)
        .arg(r#"{"apply": false}"#)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mut lambda = std::process::Command::new(&bin)
        .current_dir(&dir)
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "waf-sync")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let out = api.wait_with_output().unwrap();
    let _ = lambda.kill();
    let _ = lambda.wait();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["kind"], "response");
    assert_eq!(lines[0]["body"]["summary"]["applied"], true, "{}", lines[0]);
    assert_eq!(
        lines[1]["body"]["summary"]["applied"], false,
        "the second invocation only plans"
    );
    assert_eq!(lines[1]["body"]["summary"]["write_calls"], 0);
    assert!(
        describe(&moto)["rules"]
            .to_string()
            .contains("edge-bots-ua-block")
    );
}

#[test]
fn throttling_for_a_while_then_success() {
    let moto = Moto::start();
    moto.admin(&["create-acl", ACL]);
    let w = world();
    rt().block_on(async {
        let throttled = Cell::new(2u32);
        let waf = Hooked {
            before_update_set: no_set_hook,
            inner: SdkWaf::with_endpoint(&moto.endpoint, true, ACL, "edge-bots").await,
            before_update_acl: || {
                let n = throttled.get();
                (n > 0).then(|| {
                    throttled.set(n - 1);
                    WafError::Transient("ThrottlingException: Rate exceeded".into())
                })
            },
        };
        let (_, summary) = w
            .run(&waf, &flagged(), &settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(summary.applied && summary.rules_updated, "{summary:?}");
        assert_eq!(summary.retries, 2, "{summary:?}");
    });
}

#[test]
fn a_competing_writer_on_our_pattern_set_between_every_get_and_update() {
    let moto = Moto::start();
    moto.admin(&["create-acl", ACL]);
    let w = world();
    rt().block_on(async {
        let plain = SdkWaf::with_endpoint(&moto.endpoint, true, ACL, "edge-bots").await;
        // First run creates the sets; the second, with one more crawler, updates one.
        w.run(&plain, &flagged(), &settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        let mut more = flagged();
        more.push(FlaggedAgent {
            user_agent: "PlatypusSpider/4.0".into(),
            hits: 77,
            status: None,
        });
        let interfere = Cell::new(3u32);
        let waf = Hooked {
            inner: plain,
            before_update_acl: || None,
            before_update_set: |set: &SetInfo| {
                let n = interfere.get();
                if n > 0 {
                    interfere.set(n - 1);
                    moto.admin(&["touch-set", &set.name]);
                }
                None
            },
        };
        let (plan, summary) = w
            .run(&waf, &more, &settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(
            summary.retries >= 3 && summary.sets_updated >= 1,
            "{summary:?}"
        );
        assert!(plan.added.iter().any(|r| r.contains("platypusspider")));
        let sets = describe(&moto)["sets"].to_string();
        assert!(
            sets.contains("platypusspider"),
            "our content is in place after the conflicts"
        );
        assert!(
            !sets.contains("someone-else"),
            "the set is waf-sync's own; the competing write is replaced"
        );
    });
}

#[test]
fn the_database_stopping_mid_read_is_a_clear_error() {
    let pg = Postgres::start();
    // A view that takes two seconds, so the server can stop while it is read.
    pg.psql(
        "CREATE TABLE flagged_user_agents (user_agent text, hits bigint, status text);
         INSERT INTO flagged_user_agents VALUES ('QuokkaHarvester/2.1', 5, NULL);
         CREATE VIEW slow_flagged AS SELECT f.* FROM flagged_user_agents f, (SELECT pg_sleep(2)) s;",
    );
    let source = SourceConfig {
        url: pg.url(),
        table: "slow_flagged".into(),
        ..SourceConfig::default()
    };
    rt().block_on(async {
        let read = tokio::spawn({
            let source = source.clone();
            async move { waf_sync::source::read(&source).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        pg.stop();
        let err = read
            .await
            .unwrap()
            .expect_err("the read must fail")
            .to_string();
        assert!(err.contains("reading postgres://"), "{err}");
        let lower = err.to_ascii_lowercase();
        assert!(
            lower.contains("connection")
                || lower.contains("terminat")
                || lower.contains("shutdown")
                || lower.contains("closed"),
            "{err}"
        );
    });
}
