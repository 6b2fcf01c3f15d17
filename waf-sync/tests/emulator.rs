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
use waf_sync::plan::{Aggregate, RateRule, SetKind, Stmt};
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

/// `n` distinct crawler user-agents no catalog signature or browser knows.
fn crawlers(n: u32) -> Vec<FlaggedAgent> {
    (0..n)
        .map(|i| {
            let word: String = [i % 26, (i * 7 + 3) % 26, (i / 26 + 5) % 26]
                .iter()
                .map(|&c| char::from(b'a' + c as u8))
                .collect();
            FlaggedAgent {
                user_agent: format!("Quoll{word}Harvester/1.{i} (+https://quoll.example/{i})"),
                hits: 40 + i64::from(i),
                status: None,
            }
        })
        .collect()
}

fn describe(moto: &Moto) -> serde_json::Value {
    serde_json::from_str(&moto.admin(&["describe", ACL])).unwrap()
}

struct World {
    catalog: Catalog,
    verified: Option<bot_signatures::VerifiedBots>,
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
            self.verified.as_ref(),
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
    let verified = bot_signatures::verified::embedded(&catalog).unwrap().0;
    World {
        catalog,
        verified: Some(verified),
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
        kind: SetKind,
        name: &str,
        items: &[String],
        description: &str,
    ) -> Result<SetInfo, WafError> {
        self.inner.create_set(kind, name, items, description).await
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
        ..bot_signatures::waf::Budget::default()
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

/// A directory with what the waf-sync Lambda package holds: the settings
/// (`toml`), the example flagged rows as the source and the browser corpus.
fn lambda_package(tag: &str, toml: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("waf-sync-lambda-{tag}-{}", std::process::id()));
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
    std::fs::write(dir.join("waf-sync.toml"), toml).unwrap();
    dir
}

/// Runs the real `waf-sync` binary as Lambda runs it from `dir`, against the
/// emulator, on a local Runtime API serving `events` (its port, which the
/// system picks, replaces `{RUNTIME_PORT}` in them); returns what the Runtime
/// API saw: responses, errors and custom-resource answers.
fn run_lambda(moto: &Moto, dir: &std::path::Path, events: &[String]) -> Vec<serde_json::Value> {
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_waf-sync"));
    assert!(
        bin.is_file(),
        "{} missing: `cargo build -p waf-sync` first (cargo xtask ci does)",
        bin.display()
    );
    let python = std::path::PathBuf::from(std::env::var_os("MOTO_SERVER").unwrap_or_default())
        .with_file_name("python");
    let python = if python.is_file() {
        python
    } else {
        "python3".into()
    };
    let mut api = std::process::Command::new(python)
        .arg(repo_root().join("tests/waf/runtime_api.py"))
        .args(events)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Its first line says it listens, and where.
    let mut out = std::io::BufReader::new(api.stdout.take().unwrap());
    let mut ready = String::new();
    std::io::BufRead::read_line(&mut out, &mut ready).unwrap();
    let ready: serde_json::Value = serde_json::from_str(&ready)
        .unwrap_or_else(|e| panic!("the Runtime API did not start: {ready:?}: {e}"));
    let port = ready["port"].as_u64().expect("the Runtime API's port");
    let mut lambda = std::process::Command::new(&bin)
        .current_dir(dir)
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "waf-sync")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .stdout(std::process::Stdio::null())
        // The function's log, for a failing test's reader.
        .stderr(std::fs::File::create(dir.join("lambda.log")).unwrap())
        .spawn()
        .unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut out, &mut text).unwrap();
    let _ = api.wait();
    let _ = lambda.kill();
    let _ = lambda.wait();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The real `waf-sync` binary, run as Lambda runs it: a local Runtime API
/// serves a scheduled event, then a constant `{"apply": false}` input.
#[test]
fn the_lambda_entry_applies_on_schedule_then_plans_on_request() {
    let moto = Moto::start();
    moto.admin(&["create-acl", ACL]);
    let dir = lambda_package(
        "schedule",
        &format!(
            "browsers = \"browsers.json\"\n[source]\nurl = \"flagged.csv\"\n[waf]\nweb_acl = \"{ACL}\"\nwrites_per_second = 10.0\n[rate_rule]\nlimit = 2000\nwindow_seconds = 300\n"
        ),
    );
    let lines = run_lambda(
        &moto,
        &dir,
        &[
            r#"{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}"#
                .into(),
            r#"{"apply": false}"#.into(),
        ],
    );
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
        // First run creates the sets, the flagged ones in a set of their own;
        // the second, with one more crawler and no room for a blue/green
        // switch (the catalog's sets and that one are all max_sets allows),
        // updates the flagged set in place.
        // The catalog's own sets, as the shipped catalog packs today.
        let (catalog, _) = Catalog::embedded();
        let catalog_sets =
            bot_signatures::waf::compile(&catalog, None, bot_signatures::waf::Budget::default())
                .block
                .regex_pattern_sets
                .len();
        let mut tight = settings();
        tight.budget.max_sets = catalog_sets + 1;
        let mut many = flagged();
        many.extend(crawlers(30));
        let (_, first) = w
            .run(&plain, &many, &tight)
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert_eq!(first.sets_used, catalog_sets + 1, "{first:?}");
        let mut more = many.clone();
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
            .run(&waf, &more, &tight)
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(
            summary.retries >= 3 && summary.sets_updated == 1 && summary.in_place_updates == 1,
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
    // A view that never finishes on its own, so the server stops while it is
    // read: the test waits until the query is running, never for a time.
    pg.psql(
        "CREATE TABLE flagged_user_agents (user_agent text, hits bigint, status text);
         INSERT INTO flagged_user_agents VALUES ('QuokkaHarvester/2.1', 5, NULL);
         CREATE VIEW slow_flagged AS SELECT f.* FROM flagged_user_agents f, (SELECT pg_sleep(600)) s;",
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
        let running = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%slow_flagged%' AND pid <> pg_backend_pid()";
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while pg.psql_value(running).trim() == "0" {
            assert!(
                std::time::Instant::now() < deadline && !read.is_finished(),
                "the read never reached the database"
            );
            // A poll interval, not a wait for time to pass.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
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

/// Evaluates a managed rule statement as WAF does: regexes on the lowercased
/// User-Agent, IP sets on the source address; `sets` is what WAF holds.
fn waf_blocks(
    stmt: &Stmt,
    sets: &BTreeMap<String, Vec<String>>,
    ua: &str,
    ip: std::net::IpAddr,
) -> bool {
    use bot_signatures_matcher::verify::{Prefix, RangeList};
    let ua_l = ua.to_ascii_lowercase();
    let re = |r: &str| regex::Regex::new(r).unwrap().is_match(&ua_l);
    match stmt {
        Stmt::Or(v) => v.iter().any(|s| waf_blocks(s, sets, ua, ip)),
        Stmt::And(v) => v.iter().all(|s| waf_blocks(s, sets, ua, ip)),
        Stmt::Not(s) => !waf_blocks(s, sets, ua, ip),
        Stmt::Regex(r) => re(r),
        Stmt::SetRef(name) => sets[name].iter().any(|r| re(r)),
        Stmt::IpSetRef(name) => {
            let prefixes: Vec<Prefix> = sets[name]
                .iter()
                .map(|c| Prefix::parse(c).unwrap())
                .collect();
            RangeList::new(name, &prefixes).contains(ip)
        }
    }
}

/// What waf-sync manages, read back through the SDK: every set's contents and
/// the user-agent rule.
async fn read_back(waf: &SdkWaf) -> (BTreeMap<String, Vec<String>>, Option<Stmt>) {
    let mut sets = waf.list_sets("edge-bots-ua-").await.unwrap();
    sets.extend(waf.list_sets("edge-bots-ip-").await.unwrap());
    let mut contents = BTreeMap::new();
    for s in &sets {
        contents.insert(s.name.clone(), waf.get_set(s).await.unwrap().items);
    }
    let names = sets
        .iter()
        .map(|s| (s.arn.clone(), s.name.clone()))
        .collect();
    (contents, waf.get_acl(&names).await.unwrap().ua_rule)
}

#[test]
fn verified_bots_are_exempt_only_from_their_operators_ip_sets() {
    let moto = Moto::start();
    moto.admin(&["create-acl", ACL]);
    let w = world();
    let verified = w.verified.as_ref().unwrap();
    // A flagged tool whose token, `developers`, also appears in Google's
    // APIs-Google user-agent (a verified allow): the block would hit Google.
    let flagged = rows(&[("Developers/1.0 (+https://dev.example/about)", 800, None)]);
    let google = "APIs-Google (+https://developers.google.com/webmasters/APIs-Google.html)";
    let (_, google_lists) = verified.claim_lists("cua-apis-google").unwrap();
    rt().block_on(async {
        let waf = SdkWaf::with_endpoint(&moto.endpoint, true, ACL, "edge-bots").await;
        let (_, summary) = w
            .run(&waf, &flagged, &settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert_eq!(summary.ip_sets_used, 4, "{summary:?}");
        let (sets, rule) = read_back(&waf).await;
        let rule = rule.expect("the user-agent rule");
        // The IP sets hold exactly Google's two lists, per address family.
        for l in &google_lists {
            let (v4, v6) = l.cidrs();
            let mut v4s = v4.clone();
            v4s.sort();
            let mut v6s = v6.clone();
            v6s.sort();
            assert_eq!(sets[&format!("edge-bots-ip-{}-v4", l.name)], v4s);
            assert_eq!(sets[&format!("edge-bots-ip-{}-v6", l.name)], v6s);
            let v6_inside = v6[0].split('/').next().unwrap().parse().unwrap();
            for inside in [l.first_address().unwrap(), v6_inside] {
                assert!(
                    !waf_blocks(&rule, &sets, google, inside),
                    "Google from {inside} ({}) is blocked",
                    l.name
                );
            }
        }
        let outside: std::net::IpAddr = "203.0.113.7".parse().unwrap();
        let google_ip = google_lists[0].first_address().unwrap();
        assert!(
            waf_blocks(&rule, &sets, google, outside),
            "APIs-Google from outside Google's lists passes"
        );
        assert!(waf_blocks(
            &rule,
            &sets,
            "Developers/1.0 (+https://dev.example/about)",
            outside
        ));
        // The flagged tool appending Google's user-agent is still blocked
        // from its own address, and a browser is not.
        assert!(waf_blocks(
            &rule,
            &sets,
            &format!("Developers/1.0 {google}"),
            outside
        ));
        assert!(!waf_blocks(
            &rule,
            &sets,
            "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
            outside
        ));
        assert!(!waf_blocks(
            &rule,
            &sets,
            "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
            google_ip
        ));

        // Nothing new: nothing written.
        let (p, again) = w
            .run(&waf, &flagged, &settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(p.is_empty() && again.write_calls == 0, "{p:?} {again:?}");

        // The flagged row reviewed away: the block and the exception go, and
        // the IP sets are deleted only after the rule stopped using them.
        let reviewed = rows(&[(
            "Developers/1.0 (+https://dev.example/about)",
            800,
            Some("rejected"),
        )]);
        let mut force = settings();
        force.force = true;
        let (p, s) = w
            .run(&waf, &reviewed, &force)
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert_eq!(p.delete_sets.len(), 4, "{p:?}");
        assert_eq!(s.sets_deleted, 4);
        let (sets, rule) = read_back(&waf).await;
        assert!(sets.keys().all(|n| !n.contains("-ip-")), "{sets:?}");
        assert!(rule.is_none_or(|r| !format!("{r:?}").contains("IpSetRef")));
    });
}

/// The strict layer itself: each constraint kind of the published model is
/// refused (its self-test), and through the real SDK: the description the
/// first version wrote, the regex-set quota counting sets waf-sync does not
/// own, a regex over 200 characters, deleting a set a rule references.
#[test]
fn the_strict_layer_refuses_what_aws_refuses() {
    let mut moto = Moto::start();
    moto.expect_violations = true;
    let python = std::path::Path::new(&std::env::var("MOTO_SERVER").unwrap_or_default())
        .parent()
        .map(|d| d.join("python"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| "python3".into());
    let out = std::process::Command::new(python)
        .arg(workspace_tests::repo_root().join("tests/waf/strict_waf.py"))
        .arg("--self-test")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("self-test ok"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.matches("refused: ").count() >= 8, "{text}");
    moto.admin(&["create-acl", ACL]);
    rt().block_on(async {
        let waf = SdkWaf::with_endpoint(&moto.endpoint, true, ACL, "edge-bots").await;
        let e = waf
            .create_set(
                SetKind::Regex,
                "edge-bots-ua-0",
                &["foobot".into()],
                "managed by waf-sync; rows=3",
            )
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("ValidationException") && e.to_string().contains("Description"),
            "{e}"
        );
        let long = "x".repeat(201);
        let e = waf
            .create_set(
                SetKind::Regex,
                "edge-bots-ua-0",
                &[long],
                "managed by waf-sync, rows=3",
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("WAFLimitsExceededException"), "{e}");
        let mut made = Vec::new();
        for n in 0..10 {
            made.push(
                waf.create_set(
                    SetKind::Regex,
                    &format!("someone-else-{n}"),
                    &["a".into()],
                    "not ours",
                )
                .await
                .unwrap(),
            );
        }
        let e = waf
            .create_set(
                SetKind::Regex,
                "edge-bots-ua-0",
                &["foobot".into()],
                "managed by waf-sync, rows=3",
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("WAFLimitsExceededException"), "{e}");
        // A set a rule references cannot be deleted.
        let names = BTreeMap::new();
        let acl = waf.get_acl(&names).await.unwrap();
        let arns: BTreeMap<String, String> = [("s".to_owned(), made[0].arn.clone())].into();
        waf.update_acl(&acl, Some(&Stmt::SetRef("s".into())), None, &arns)
            .await
            .unwrap();
        let token = waf.get_set(&made[0]).await.unwrap().lock_token;
        let e = waf.delete_set(&made[0], &token).await.unwrap_err();
        assert!(matches!(e, WafError::InUse(_)), "{e}");
        let token = waf.get_set(&made[1]).await.unwrap().lock_token;
        waf.delete_set(&made[1], &token).await.unwrap();
    });
    let stats = moto.stats();
    assert_eq!(stats["model_violations"]["Description"], 1, "{stats}");
    assert_eq!(stats["refused"]["WAFLimitsExceededException"], 2, "{stats}");
    assert_eq!(stats["refused"]["WAFAssociatedItemException"], 1, "{stats}");
}

/// UpdateWebACL replaces the whole web ACL: a run keeps every field the ACL
/// had (custom response bodies, CAPTCHA and challenge settings, token
/// domains, association config, description, default action, other rules).
/// The strict layer refuses an update that would clear one; this compares
/// the whole ACL before and after.
#[test]
fn every_field_of_the_web_acl_survives_a_run() {
    let moto = Moto::start();
    moto.admin(&["create-acl-full", ACL]);
    let before: serde_json::Value = serde_json::from_str(&moto.admin(&["dump-acl", ACL])).unwrap();
    let w = world();
    rt().block_on(async {
        let waf = SdkWaf::with_endpoint(&moto.endpoint, true, ACL, "edge-bots").await;
        let (_, s) = w
            .run(&waf, &flagged(), &settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(s.applied && s.rules_updated, "{s:?}");
    });
    let after: serde_json::Value = serde_json::from_str(&moto.admin(&["dump-acl", ACL])).unwrap();
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        let o = v.as_object_mut().unwrap();
        o.remove("LockToken");
        let rules = o.remove("Rules").unwrap();
        (v, rules)
    };
    let ((b, b_rules), (a, a_rules)) = (strip(&before), strip(&after));
    assert_eq!(a, b, "a field of the web ACL changed");
    for field in [
        "CustomResponseBodies",
        "CaptchaConfig",
        "ChallengeConfig",
        "TokenDomains",
        "AssociationConfig",
        "Description",
    ] {
        assert!(!b[field].is_null(), "{field} was not set up: {b}");
    }
    // The other rule is kept exactly, all of it; ours were added.
    let theirs = |rules: &serde_json::Value| {
        rules
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| !r["Name"].as_str().unwrap().starts_with("edge-bots-"))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(theirs(&a_rules), theirs(&b_rules));
    assert_eq!(
        a_rules.as_array().unwrap().len(),
        b_rules.as_array().unwrap().len() + 2
    );
    let wcu = moto.stats()["max_wcu"].as_u64().unwrap();
    assert!(
        wcu > 700 && wcu <= 1500,
        "capacity {wcu} WCU: within the base price with the Core rule set"
    );
}

/// AWS needs a moment before a new set can be referenced: the first web ACL
/// update that uses one answers WAFUnavailableEntityException, and waf-sync
/// retries it like any transient error.
#[test]
fn a_set_not_yet_available_is_retried() {
    let moto = Moto::start_unavailable_at_first();
    moto.admin(&["create-acl", ACL]);
    let w = world();
    rt().block_on(async {
        let waf = SdkWaf::with_endpoint(&moto.endpoint, true, ACL, "edge-bots").await;
        let (_, s) = w
            .run(&waf, &flagged(), &settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(s.applied && s.retries >= 1, "{s:?}");
    });
    assert!(moto.stats()["refused"]["WAFUnavailableEntityException"].as_u64() >= Some(1));
}

/// The shrink guard: a source that lost some rows is applied (rules removed);
/// one that lost more than `shrink_ratio` (half) of last run's rows is
/// refused with nothing written, exactly at the boundary too, until `--force`.
#[test]
fn a_partial_shrink_applies_and_a_steep_one_needs_force() {
    let moto = Moto::start();
    moto.admin(&["create-acl", ACL]);
    let w = world();
    rt().block_on(async {
        let waf = SdkWaf::with_endpoint(&moto.endpoint, true, ACL, "edge-bots").await;
        let run = |rows: Vec<FlaggedAgent>, s: Settings| {
            let (w, waf) = (&w, &waf);
            async move { w.run(waf, &rows, &s).await }
        };
        run(crawlers(40), settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        // 24 of 40: 60% is above the ratio, so the removal is applied.
        let (p, s) = run(crawlers(24), settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(!p.removed.is_empty() && s.applied, "{p:?} {s:?}");
        // 11 of 24 is under half: refused, nothing written.
        let before = describe(&moto);
        let (e, s) = run(crawlers(11), settings())
            .await
            .expect_err("a steep shrink");
        assert!(e.to_string().contains("11 rows against 24"), "{e}");
        assert_eq!(s.write_calls, 0);
        assert_eq!(describe(&moto), before, "nothing changed");
        // 12 of 24 is exactly half: not under the ratio, applied.
        let (p, s) = run(crawlers(12), settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(!p.removed.is_empty() && s.applied, "{p:?} {s:?}");
        // 3 of 12 with --force: applied, and only the 3 remain.
        assert!(run(crawlers(3), settings()).await.is_err());
        let mut force = settings();
        force.force = true;
        let (p, s) = run(crawlers(3), force).await.map_err(|(e, _)| e).unwrap();
        assert!(!p.removed.is_empty() && s.applied, "{p:?} {s:?}");
        // WAF now holds exactly what 3 rows ask for: the next run is a no-op.
        let (p, s) = run(crawlers(3), settings())
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(p.is_empty() && s.write_calls == 0, "{p:?} {s:?}");
    });
}

/// The new-signatures guard compares meaning, not text: 60 flagged tools
/// whose tokens the compiler merges by common prefix (`zetacrawler(?:001|...)`).
/// The first run needs --force (60 > 50); the second, with nothing new, is a
/// no-op and is not refused, although no deployed regex contains a token as text.
#[test]
fn sixty_candidates_over_two_runs_the_second_is_a_quiet_no_op() {
    let moto = Moto::start();
    moto.admin(&["create-acl", ACL]);
    let w = world();
    let many: Vec<FlaggedAgent> = (0..60)
        .map(|n| FlaggedAgent {
            user_agent: format!("ZetaCrawler{n:03}/1.0 (+https://zeta.example/bot)"),
            hits: 100 + n,
            status: None,
        })
        .collect();
    rt().block_on(async {
        let waf = SdkWaf::with_endpoint(&moto.endpoint, true, ACL, "edge-bots").await;
        let (e, s) = w
            .run(&waf, &many, &settings())
            .await
            .expect_err("60 new > 50");
        assert!(
            e.to_string()
                .contains(&format!("{} new signatures", s.derived)),
            "{e} {s:?}"
        );
        assert!(s.derived >= 55, "{s:?}");
        assert_eq!(s.write_calls, 0);
        let mut force = settings();
        force.force = true;
        let (_, s) = w
            .run(&waf, &many, &force)
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(s.applied, "{s:?}");
        let described = describe(&moto);
        let text = described["sets"].to_string();
        assert!(
            !text.contains("zetacrawler059"),
            "merged by prefix, so no token appears whole: the old guard would count them new"
        );
        let (p, s) = w
            .run(&waf, &many, &settings())
            .await
            .map_err(|(e, _)| e)
            .expect("the second run is not refused");
        assert!(p.is_empty() && s.write_calls == 0, "{p:?} {s:?}");
    });
}

/// The planned rules are proved before anything is written: with a corpus
/// that says a user-agent the catalog blocks is a browser, the run is
/// refused and WAF is left as it was.
#[test]
fn rules_that_fail_their_proof_are_refused_before_any_write() {
    let moto = Moto::start();
    moto.admin(&["create-acl", ACL]);
    let mut w = world();
    w.browsers
        .user_agents
        .push("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)".into());
    let before = describe(&moto);
    rt().block_on(async {
        let waf = SdkWaf::with_endpoint(&moto.endpoint, true, ACL, "edge-bots").await;
        let (e, s) = w
            .run(&waf, &flagged(), &settings())
            .await
            .expect_err("refused");
        assert!(
            e.to_string().contains("fail their proof") && e.to_string().contains("AhrefsBot"),
            "{e}"
        );
        assert_eq!(s.write_calls, 0);
    });
    assert_eq!(describe(&moto), before);
}

/// A custom-resource event as CloudFormation sends it to the function, the
/// answer URL on the local Runtime API.
fn cfn_event(kind: &str, group: &str, physical: Option<&str>) -> String {
    let mut e = serde_json::json!({
        "RequestType": kind,
        "ResponseURL": "http://127.0.0.1:{RUNTIME_PORT}/cfn-response?X-Amz-Signature=0",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/teststack/1",
        "RequestId": format!("{kind}-1"),
        "LogicalResourceId": "InitialSync",
        "ResourceType": "Custom::WafSync",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:waf-sync",
                               "RuleGroup": group, "CodeKey": "k1", "Force": "false"},
    });
    if let Some(p) = physical {
        e["PhysicalResourceId"] = p.into();
    }
    e.to_string()
}

fn waf_sync_rules(group: &serde_json::Value) -> Vec<String> {
    group["Rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Name"].as_str().unwrap().to_owned())
        .filter(|n| n.starts_with("edge-bots-"))
        .collect()
}

/// The deployment as CloudFormation runs it, against the strict WAF: the
/// template's rule group, the custom resource running the real waf-sync
/// Lambda into it, then the template's web ACL (rate rule and group
/// reference, within the 1,500 WCU of the base price); a stack update of the
/// web ACL leaves waf-sync's rule as it was; the scheduled run is then a
/// no-op; deleting the stack removes waf-sync's rules and sets.
#[test]
fn the_stack_has_both_rules_before_traffic_and_an_update_keeps_them() {
    let moto = Moto::start();
    let template = repo_root().join("deploy/edge-stack.json");
    let template = template.to_str().unwrap();
    let group = moto.admin_strict(&["stack-group", template, "teststack"]);
    let group = group.trim();
    assert_eq!(group, "teststack-bots-360");
    // The package the stack deploys names no target: each invocation does.
    let dir = lambda_package(
        "stack",
        "browsers = \"browsers.json\"\n[source]\nurl = \"flagged.csv\"\n[waf]\nwrites_per_second = 10.0\n",
    );

    // Create: the custom resource fills the group before the web ACL exists.
    let lines = run_lambda(&moto, &dir, &[cfn_event("Create", group, None)]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["kind"], "cfn", "{lines:?}");
    assert_eq!(
        lines[0]["content_type"], "",
        "S3's pre-signed URL wants no content type"
    );
    let answer = &lines[0]["body"];
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["PhysicalResourceId"], format!("waf-sync:{group}"));
    assert_eq!(answer["RequestId"], "Create-1");
    assert!(answer["Data"]["Wcu"].as_u64().unwrap() <= 360, "{answer}");
    let filled: serde_json::Value =
        serde_json::from_str(&moto.admin(&["dump-group", group])).unwrap();
    assert_eq!(waf_sync_rules(&filled), ["edge-bots-ua-block"], "{filled}");

    let acl_name = moto.admin_strict(&["stack-acl", template, "teststack"]);
    let acl: serde_json::Value =
        serde_json::from_str(&moto.admin(&["dump-acl", acl_name.trim()])).unwrap();
    let names: Vec<&str> = acl["Rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"edge-bots-rate") && names.contains(&"edge-bots-bots"),
        "{names:?}"
    );
    let rate = acl["Rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Name"] == "edge-bots-rate")
        .unwrap();
    assert_eq!(rate["Statement"]["RateBasedStatement"]["Limit"], 2000);
    let stats = moto.stats();
    assert!(
        stats["max_wcu"].as_u64().unwrap() <= 1500,
        "over the base price: {stats}"
    );

    // A stack update (another rate limit) rewrites the web ACL's rules only.
    moto.admin_strict(&["stack-update-acl", template, "teststack", "RateLimit=5000"]);
    let acl: serde_json::Value =
        serde_json::from_str(&moto.admin(&["dump-acl", acl_name.trim()])).unwrap();
    let rate = acl["Rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Name"] == "edge-bots-rate")
        .unwrap();
    assert_eq!(rate["Statement"]["RateBasedStatement"]["Limit"], 5000);
    let after: serde_json::Value =
        serde_json::from_str(&moto.admin(&["dump-group", group])).unwrap();
    assert_eq!(
        after, filled,
        "the stack update touched waf-sync's rule group"
    );

    // The nightly schedule's input names the group; nothing new: no write.
    let nightly = serde_json::json!({"apply": true, "rule_group": group}).to_string();
    let lines = run_lambda(&moto, &dir, &[nightly]);
    assert_eq!(lines[0]["kind"], "response", "{lines:?}");
    assert_eq!(lines[0]["body"]["summary"]["write_calls"], 0, "{lines:?}");

    // Stack deletion: the web ACL goes first, then the custom resource.
    let sets: serde_json::Value = serde_json::from_str(&moto.admin(&["count-sets"])).unwrap();
    assert!(!sets["regex"].as_array().unwrap().is_empty());
    moto.admin(&["delete-acl", acl_name.trim()]);
    let physical = format!("waf-sync:{group}");
    let lines = run_lambda(&moto, &dir, &[cfn_event("Delete", group, Some(&physical))]);
    assert_eq!(lines[0]["body"]["Status"], "SUCCESS", "{lines:?}");
    let sets: serde_json::Value = serde_json::from_str(&moto.admin(&["count-sets"])).unwrap();
    assert_eq!(
        sets,
        serde_json::json!({"regex": [], "ip": []}),
        "left behind"
    );
    // Read through the strict layer: moto itself keeps a list emptied by an
    // update (AWS does not).
    let emptied: serde_json::Value =
        serde_json::from_str(&moto.admin_strict(&["dump-group", group])).unwrap();
    assert!(waf_sync_rules(&emptied).is_empty(), "{emptied}");
}

/// A custom resource that fails answers FAILED with the reason (the stack
/// rolls back and shows it), and never leaves CloudFormation waiting.
#[test]
fn a_failed_first_sync_answers_failed_with_the_reason() {
    let moto = Moto::start();
    let dir = lambda_package(
        "stack-fail",
        "browsers = \"browsers.json\"\n[source]\nurl = \"missing.csv\"\n[waf]\nwrites_per_second = 10.0\n",
    );
    // No rule group either: the run cannot even read the source.
    let lines = run_lambda(
        &moto,
        &dir,
        &[cfn_event("Create", "nogroup-bots-360", None)],
    );
    assert_eq!(lines[0]["kind"], "cfn", "{lines:?}");
    let answer = &lines[0]["body"];
    assert_eq!(answer["Status"], "FAILED", "{answer}");
    assert!(
        answer["Reason"].as_str().unwrap().contains("missing.csv"),
        "{answer}"
    );
    // Rollback sends Delete for that resource: nothing to remove, SUCCESS.
    let physical = answer["PhysicalResourceId"].as_str().unwrap().to_owned();
    let lines = run_lambda(
        &moto,
        &dir,
        &[cfn_event("Delete", "nogroup-bots-360", Some(&physical))],
    );
    assert_eq!(lines[0]["body"]["Status"], "SUCCESS", "{lines:?}");
}

/// What was written last, every managed set's contents, and the user-agent rule.
type State = (String, BTreeMap<String, Vec<String>>, Option<Stmt>);

/// The SDK client, recording the whole managed state (every set's contents
/// and the user-agent rule) after each write, as a viewer would meet it.
struct Observed {
    inner: SdkWaf,
    states: std::cell::RefCell<Vec<State>>,
}

impl Observed {
    async fn record(&self, what: String) {
        let (sets, rule) = read_back(&self.inner).await;
        self.states.borrow_mut().push((what, sets, rule));
    }
}

impl WafApi for Observed {
    type Acl = <SdkWaf as WafApi>::Acl;
    async fn list_sets(&self, prefix: &str) -> Result<Vec<SetInfo>, WafError> {
        self.inner.list_sets(prefix).await
    }
    async fn get_set(&self, set: &SetInfo) -> Result<SetContent, WafError> {
        self.inner.get_set(set).await
    }
    async fn create_set(
        &self,
        kind: SetKind,
        name: &str,
        items: &[String],
        description: &str,
    ) -> Result<SetInfo, WafError> {
        let r = self.inner.create_set(kind, name, items, description).await;
        self.record(format!("created {name}")).await;
        r
    }
    async fn update_set(
        &self,
        set: &SetInfo,
        items: &[String],
        description: &str,
        lock_token: &str,
    ) -> Result<(), WafError> {
        let r = self
            .inner
            .update_set(set, items, description, lock_token)
            .await;
        self.record(format!("updated {}", set.name)).await;
        r
    }
    async fn delete_set(&self, set: &SetInfo, lock_token: &str) -> Result<(), WafError> {
        let r = self.inner.delete_set(set, lock_token).await;
        self.record(format!("deleted {}", set.name)).await;
        r
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
        let r = self.inner.update_acl(snapshot, ua, rate, arns).await;
        self.record("switched the rule".into()).await;
        r
    }
}

/// Whether a recorded state blocks `ua` (from an address in no operator's
/// list), with compiled regexes cached across states.
fn state_blocks(
    cache: &mut std::collections::HashMap<String, regex::Regex>,
    stmt: &Stmt,
    sets: &BTreeMap<String, Vec<String>>,
    ua: &str,
) -> bool {
    let mut re = |r: &str| {
        cache
            .entry(r.to_owned())
            .or_insert_with(|| regex::Regex::new(r).unwrap())
            .is_match(ua)
    };
    match stmt {
        Stmt::Or(v) => v.iter().any(|s| state_blocks(cache, s, sets, ua)),
        Stmt::And(v) => v.iter().all(|s| state_blocks(cache, s, sets, ua)),
        Stmt::Not(s) => !state_blocks(cache, s, sets, ua),
        Stmt::Regex(r) => re(r),
        Stmt::SetRef(name) => sets[name].iter().any(|r| re(r)),
        Stmt::IpSetRef(_) => false,
    }
}

/// Blue/green: a night that adds and drops flagged crawlers creates the new
/// pattern set, switches the rule in one write and deletes the old set after;
/// at every state in between, everything blocked before and after is blocked
/// and nothing allowed before and after (browsers, the catalog's exempt
/// bots) is blocked. The catalog's sets are not touched.
#[test]
fn a_nightly_change_switches_blue_green_with_no_gap() {
    let moto = Moto::start();
    let template = repo_root().join("deploy/edge-stack.json");
    let group = moto.admin_strict(&["stack-group", template.to_str().unwrap(), "teststack"]);
    let group = group.trim().to_owned();
    let w = world();
    let all = crawlers(40);
    let night1: Vec<FlaggedAgent> = flagged()
        .into_iter()
        .chain(all[..32].iter().cloned())
        .collect();
    let night2: Vec<FlaggedAgent> = flagged()
        .into_iter()
        .chain(all[6..].iter().cloned())
        .collect();
    let mut s = settings();
    s.rate = None;
    // Viewers: every example of the catalog, the flagged crawlers, browsers.
    let mut viewers: Vec<String> = w
        .catalog
        .signatures
        .iter()
        .flat_map(|sig| sig.instances.iter().map(|(ua, _)| ua.clone()))
        .collect();
    viewers.extend(all.iter().map(|a| a.user_agent.clone()));
    viewers.extend(w.browsers.user_agents.iter().step_by(25).cloned());
    let viewers: Vec<String> = viewers.iter().map(|v| v.to_ascii_lowercase()).collect();
    rt().block_on(async {
        let target = waf_sync::waf::Target::RuleGroup(group.clone());
        let plain = SdkWaf::with_endpoint(&moto.endpoint, true, target.clone(), "edge-bots").await;
        w.run(&plain, &night1, &s)
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        let observed = Observed {
            inner: SdkWaf::with_endpoint(&moto.endpoint, true, target, "edge-bots").await,
            states: std::cell::RefCell::new(Vec::new()),
        };
        observed.record("before".into()).await;
        let (_, summary) = w
            .run(&observed, &night2, &s)
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert!(
            summary.sets_created >= 1
                && summary.sets_deleted >= 1
                && summary.sets_updated == 0
                && summary.in_place_updates == 0
                && summary.rules_updated,
            "{summary:?}"
        );
        let states = observed.states.into_inner();
        assert!(
            states.len() >= 4,
            "{:?}",
            states.iter().map(|s| &s.0).collect::<Vec<_>>()
        );
        let mut cache = std::collections::HashMap::new();
        let mut verdicts =
            |state: &(String, BTreeMap<String, Vec<String>>, Option<Stmt>)| -> Vec<bool> {
                viewers
                    .iter()
                    .map(|ua| {
                        state
                            .2
                            .as_ref()
                            .is_some_and(|r| state_blocks(&mut cache, r, &state.1, ua))
                    })
                    .collect()
            };
        let first = verdicts(&states[0]);
        let last = verdicts(states.last().unwrap());
        let changed = first.iter().zip(&last).filter(|(a, b)| a != b).count();
        assert!(
            changed >= 12,
            "the night changed {changed} verdicts: not a real switch"
        );
        assert!(first.iter().zip(&last).filter(|(a, b)| **a && **b).count() > 700);
        for state in &states[1..] {
            let now = verdicts(state);
            for (i, ua) in viewers.iter().enumerate() {
                if first[i] && last[i] {
                    assert!(
                        now[i],
                        "after {:?}, {ua:?} (blocked before and after) slipped through",
                        state.0
                    );
                }
                if !first[i] && !last[i] {
                    assert!(
                        !now[i],
                        "after {:?}, {ua:?} (allowed before and after) was blocked",
                        state.0
                    );
                }
            }
        }
        // The catalog's seven sets kept their names and contents.
        let (before, after) = (&states[0].1, &states.last().unwrap().1);
        let kept = before
            .iter()
            .filter(|(n, v)| after.get(*n) == Some(v))
            .count();
        assert!(kept >= 7, "{kept} sets kept");
    });
}
