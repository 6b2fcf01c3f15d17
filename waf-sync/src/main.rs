//! `waf-sync plan | apply`: the CLI, and the Lambda entry (provided.al2023,
//! EventBridge schedule) when run by the Lambda runtime. Reads the settings
//! and the environment once here; exits non-zero (or returns a Lambda error)
//! on any failure so alarms fire; always prints a summary.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bot_signatures::Catalog;
use bot_signatures::corpus::BrowserCorpus;
use bot_signatures::exit;
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use waf_sync::apply::{RunError, Summary, run, teardown};
use waf_sync::config::{Config, FileConfig, Overrides};
use waf_sync::plan::Plan;
use waf_sync::stack;
use waf_sync::waf::{SdkWaf, Target, WafError};

/// Refresh the AWS WAF user-agent block rule and rate-based rule from the
/// crawler user-agents flagged by reporting. Honours the standard AWS SDK
/// environment (AWS_REGION, credentials, AWS_ENDPOINT_URL).
#[derive(Debug, Parser)]
#[command(name = "waf-sync", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what would change (nothing is written).
    Plan(Common),
    /// Plan, then apply the changes.
    Apply {
        #[command(flatten)]
        common: Common,
        /// Apply even when a blast-radius guard refuses (many new signatures, a shrunken source).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
struct Common {
    /// Settings file (TOML).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// postgres://..., sqlite://PATH, or a .csv file.
    #[arg(long, value_name = "URL")]
    source: Option<String>,
    /// Write the rules into this web ACL (beside its other rules).
    #[arg(long, value_name = "NAME", conflicts_with = "rule_group")]
    web_acl: Option<String>,
    /// Write the rules into this rule group, which the web ACL references
    /// (what deploy/edge-stack.json sets up: stack updates never drop them).
    #[arg(long, value_name = "NAME")]
    rule_group: Option<String>,
    /// CLOUDFRONT (forces us-east-1) or REGIONAL.
    #[arg(long, value_name = "SCOPE")]
    scope: Option<String>,
    /// Bot catalog directory [default: the built-in catalog].
    #[arg(long, value_name = "PATH")]
    catalog: Option<PathBuf>,
    /// Print the summary (and plan) as JSON on stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("waf-sync: error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::SOFTWARE);
        }
    };
    // Run by the Lambda runtime (provided.al2023, EventBridge schedule): the
    // settings file ships beside the binary, or WAF_SYNC_CONFIG names it.
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        let path = std::env::var_os("WAF_SYNC_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("waf-sync.toml"));
        return match runtime.block_on(lambda(path)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("waf-sync: error: {e:#}");
                ExitCode::from(exit::CONFIG)
            }
        };
    }
    let cli = Cli::parse();
    let (common, apply, force) = match cli.command {
        Command::Plan(c) => (c, false, false),
        Command::Apply { common, force } => (common, true, force),
    };
    let json = common.json;
    match runtime.block_on(cli_run(common, apply, force)) {
        Ok((plan, summary)) => {
            report(&plan, &summary, json);
            ExitCode::SUCCESS
        }
        Err((code, e, summary)) => {
            if let Some(s) = summary {
                report(&Plan::default(), &s, json);
            }
            eprintln!("waf-sync: error: {e:#}");
            ExitCode::from(code)
        }
    }
}

/// A failed run: its exit code (`bot_signatures::exit`), the error, and the
/// summary when the run got far enough to have one.
type Failure = (u8, anyhow::Error, Option<Summary>);

fn config_err(e: impl Into<anyhow::Error>) -> Failure {
    (exit::CONFIG, e.into(), None)
}

async fn cli_run(c: Common, apply: bool, force: bool) -> Result<(Plan, Summary), Failure> {
    let file: FileConfig = match &c.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading {}", p.display()))
                .map_err(|e| (exit::NO_INPUT, e, None))?;
            toml::from_str(&text)
                .with_context(|| format!("{} is not a valid waf-sync config", p.display()))
                .map_err(config_err)?
        }
        None => FileConfig::default(),
    };
    let overrides = Overrides {
        source: c.source,
        web_acl: c.web_acl,
        rule_group: c.rule_group,
        scope: c.scope,
        catalog: c.catalog,
        force,
        target_per_invocation: false,
    };
    let mut config = Config::build(file, overrides).map_err(|e| config_err(anyhow::anyhow!(e)))?;
    config.settings.dry_run = !apply;
    let world = World::build(&config).await?;
    execute(&config, &world).await
}

/// What a run needs that does not change between invocations: the catalog
/// and its matcher, the browser corpus, and the WAF client. The Lambda entry
/// builds it once, before the first invocation, not once per invocation.
struct World {
    catalog: Catalog,
    verified: Option<bot_signatures::VerifiedBots>,
    matcher: bot_signatures::Matcher,
    browsers: BrowserCorpus,
    waf: SdkWaf,
}

impl World {
    async fn build(config: &Config) -> Result<World, Failure> {
        let (catalog, diagnostics) = match &config.catalog {
            Some(p) => Catalog::load(p)
                .with_context(|| format!("loading catalog {}", p.display()))
                .map_err(config_err)?,
            None => Catalog::embedded(),
        };
        if let Some(d) = diagnostics.first() {
            return Err(config_err(anyhow::anyhow!(
                "the bot catalog does not parse:\n{d}"
            )));
        }
        let matcher = bot_signatures::compile::compile(&catalog)
            .matcher()
            .map_err(config_err)?;
        // The verified-bot lists beside the catalog (built in for the built-in
        // one): bots a block would hit are exempt only from their addresses.
        let verified = bot_signatures::verified::table_for(config.catalog.as_deref(), &catalog)
            .map_err(|e| config_err(anyhow::anyhow!(e)))?;
        let browsers = match &config.browsers {
            Some(p) => BrowserCorpus::load(p).map_err(|e| (exit::IO, e.into(), None))?,
            None => {
                let paths = BrowserCorpus::find_default().context("the browser corpus guard needs `browsers = PATH` in the config, or `npm ci` at the repository root").map_err(|e| (exit::NO_INPUT, e, None))?;
                BrowserCorpus::load_all(&paths).map_err(|e| (exit::IO, e.into(), None))?
            }
        };
        // The client; each run points it at its target (`execute`).
        let waf = SdkWaf::from_env(
            config.cloudfront,
            config
                .target
                .clone()
                .unwrap_or(Target::RuleGroup(String::new())),
            &config.settings.prefix,
        )
        .await;
        Ok(World {
            catalog,
            verified,
            matcher,
            browsers,
            waf,
        })
    }
}

/// The Lambda entry: reads the settings once, then handles each invocation.
/// Accepts EventBridge's scheduled-event envelope or a constant input such as
/// `{"apply": false}` (plan only) or `{"force": true}`; returns the summary, or
/// an error so the function's error alarm fires.
async fn lambda(config_path: PathBuf) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let file: FileConfig = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid waf-sync config", config_path.display()))?;
    let base = Config::build(
        file,
        Overrides {
            target_per_invocation: true,
            ..Overrides::default()
        },
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    // Built once, before the first invocation: a broken catalog or corpus
    // fails the function's init, where the error alarm and logs show it.
    let world = std::sync::Arc::new(World::build(&base).await.map_err(|(_, e, _)| e)?);
    let handler = lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let world = world.clone();
            let base = base.clone();
            async move {
                if let Some(request) = stack::parse(&event.payload) {
                    return custom_resource(&base, &world, request).await;
                }
                let config = match for_invocation(&base, &event.payload) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("waf-sync: error: {e}");
                        return Err(e.into());
                    }
                };
                match execute(&config, &world).await {
                    Ok((plan, summary)) => {
                        report(&plan, &summary, false);
                        Ok::<_, lambda_runtime::Error>(serde_json::json!({ "summary": summary }))
                    }
                    Err((_, e, summary)) => {
                        if let Some(s) = summary {
                            report(&Plan::default(), &s, false);
                        }
                        Err(format!("{e:#}").into())
                    }
                }
            }
        },
    );
    lambda_runtime::run(handler)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The stack's custom resource (`Custom::WafSync`, see `waf_sync::stack`):
/// Create and Update run waf-sync into the rule group the event names,
/// Delete removes waf-sync's rules and sets from the group it was created
/// for. CloudFormation always gets an answer, SUCCESS or FAILED with the
/// reason; an answer that cannot be delivered fails the invocation.
async fn custom_resource(
    base: &Config,
    world: &World,
    request: Result<stack::Request, String>,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            eprintln!("waf-sync: error: {e}");
            return Err(e.into());
        }
    };
    let target = request
        .group()
        .map(Target::RuleGroup)
        .or(base.target.clone());
    eprintln!(
        "waf-sync: custom resource {:?} {} for {}",
        request.request_type,
        request.logical_resource_id,
        target
            .as_ref()
            .map_or("no rule group".to_owned(), Target::describe)
    );
    let outcome = match request.request_type {
        stack::RequestType::Delete => match request.group() {
            // A Create that failed before it had a group: nothing to remove.
            None => Ok(serde_json::json!({})),
            Some(group) => {
                let waf = world.waf.retarget(Target::RuleGroup(group));
                match teardown(&waf, &base.settings).await {
                    Ok(s) => {
                        report(&Plan::default(), &s, false);
                        Ok(serde_json::json!({ "SetsDeleted": s.sets_deleted }))
                    }
                    // The group is gone already (a rolled-back create): done.
                    Err(WafError::NotFound(e)) => {
                        eprintln!("waf-sync: {e}; nothing to remove");
                        Ok(serde_json::json!({}))
                    }
                    Err(e) => Err(format!("removing waf-sync's rules: {e}")),
                }
            }
        },
        stack::RequestType::Create | stack::RequestType::Update => {
            let mut config = base.clone();
            config.target = target.clone();
            config.settings.dry_run = false;
            config.settings.force = request.force;
            match execute(&config, world).await {
                Ok((plan, s)) => {
                    report(&plan, &s, false);
                    Ok(serde_json::json!({
                        "Added": s.added,
                        "Removed": s.removed,
                        "SetsUsed": s.sets_used,
                        "Wcu": s.wcu,
                    }))
                }
                Err((_, e, summary)) => {
                    if let Some(s) = summary {
                        report(&Plan::default(), &s, false);
                    }
                    Err(format!("{e:#}"))
                }
            }
        }
    };
    if let Err(why) = &outcome {
        eprintln!("waf-sync: error: {why}");
    }
    let failed = outcome.is_err();
    let answer = request.answer(outcome);
    let url = request.response_url.clone();
    tokio::task::spawn_blocking(move || stack::send(&url, &answer))
        .await
        .map_err(|e| format!("answering CloudFormation: {e}"))??;
    eprintln!(
        "waf-sync: answered CloudFormation: {}",
        if failed { "FAILED" } else { "SUCCESS" }
    );
    Ok(serde_json::json!({ "custom_resource": if failed { "FAILED" } else { "SUCCESS" } }))
}

/// What a (non-CloudFormation) invocation may say: EventBridge's
/// scheduled-event envelope has none of these keys and applies; a constant
/// input may say `"apply": false` (plan only), `"force": true`, or
/// `"rule_group": NAME` (the stack's schedule names its group). Other keys
/// (the envelope's) are ignored.
#[derive(Debug, Default, serde::Deserialize)]
struct Invocation {
    #[serde(default)]
    apply: Option<bool>,
    #[serde(default)]
    force: Option<bool>,
    #[serde(default)]
    rule_group: Option<String>,
}

/// The settings for one invocation ([`Invocation`]); an input that is not
/// an object, or has a key of the wrong type, is refused.
fn for_invocation(base: &Config, input: &serde_json::Value) -> Result<Config, String> {
    let inv = Invocation::deserialize(input)
        .map_err(|e| format!("invocation input refused: {e}; expected {{\"apply\": bool, \"force\": bool, \"rule_group\": NAME}} or a scheduled event"))?;
    let mut config = base.clone();
    if let Some(g) = inv.rule_group {
        let target = Target::RuleGroup(g);
        waf_sync::config::check_name(&target)?;
        config.target = Some(target);
    }
    config.settings.dry_run = inv.apply == Some(false);
    config.settings.force = inv.force == Some(true);
    Ok(config)
}

/// One run with validated settings (shared by the CLI and the Lambda).
async fn execute(config: &Config, world: &World) -> Result<(Plan, Summary), Failure> {
    let Some(target) = config.target.clone() else {
        return Err(config_err(anyhow::anyhow!(
            "no target: the invocation names no rule_group and waf-sync.toml has no [waf] rule_group or web_acl"
        )));
    };
    let waf = &world.waf.retarget(target);
    let mut source = config.source.clone();
    if let Some(name) = source.url.strip_prefix(waf_sync::secret::PREFIX) {
        eprintln!("waf-sync: reading the source's connection string from secret {name:?}");
        source.url = waf_sync::secret::resolve(name, None)
            .await
            .map_err(|e| (exit::UNAVAILABLE, anyhow::anyhow!(e), None))?;
    }
    eprintln!(
        "waf-sync: reading {}",
        waf_sync::source::redact(&source.url)
    );
    let rows = waf_sync::source::read(&source)
        .await
        .map_err(|e| (exit::UNAVAILABLE, e.into(), None))?;
    match run(
        waf,
        &rows,
        &world.catalog,
        world.verified.as_ref(),
        &world.matcher,
        &world.browsers,
        &config.settings,
    )
    .await
    {
        Ok((plan, s)) => {
            metrics(&s, waf.target().name(), false);
            Ok((plan, s))
        }
        Err((RunError::Refused(why), s)) => {
            metrics(&s, waf.target().name(), true);
            Err((
                exit::FINDINGS,
                anyhow::anyhow!("refused, nothing written: {why}"),
                Some(s),
            ))
        }
        Err((e, s)) => {
            metrics(&s, waf.target().name(), true);
            Err((exit::UNAVAILABLE, anyhow::anyhow!(e), Some(s)))
        }
    }
}

/// Writes the summary's metrics line (Embedded Metric Format) to stderr.
fn metrics(s: &Summary, web_acl: &str, failed: bool) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    eprintln!("{}", s.emf(web_acl, failed, now_ms));
}

fn report(plan: &Plan, s: &Summary, json: bool) {
    if json {
        let out = serde_json::json!({
            "summary": s,
            "plan": {
                "create_sets": plan.create_sets,
                "update_sets": plan.update_sets.iter().map(|(k, (old, new))| (k.clone(), serde_json::json!({"old": old, "new": new}))).collect::<serde_json::Map<_, _>>(),
                "delete_sets": plan.delete_sets,
                "rules_change": plan.update_rules.is_some(),
                "added": plan.added,
                "removed": plan.removed,
            }
        });
        println!("{out}");
        return;
    }
    for r in &plan.added {
        println!("+ {r}");
    }
    for r in &plan.removed {
        println!("- {r}");
    }
    if let Some((ua, rate)) = &plan.update_rules {
        println!(
            "~ rules: user-agent rule {}, rate rule {}",
            if ua.is_some() { "set" } else { "removed" },
            rate.as_ref().map_or("removed".to_owned(), |r| format!(
                "{} per {} s by {:?}",
                r.limit, r.window_s, r.aggregate
            ))
        );
    }
    if plan.is_empty() {
        println!("no changes");
    }
    eprintln!(
        "waf-sync: read {} rows; derived {}; rejected {}; added {}, removed {}, unchanged sets {}; sets created {}, updated {}, deleted {}; rules {}; {} WCU in {} sets; calls: {} reads, {} writes, {} retries; {}",
        s.read,
        s.derived,
        s.rejected.values().sum::<usize>(),
        s.added,
        s.removed,
        s.unchanged_sets,
        s.sets_created,
        s.sets_updated,
        s.sets_deleted,
        if s.rules_updated {
            "updated"
        } else {
            "unchanged"
        },
        s.wcu,
        s.sets_used,
        s.read_calls,
        s.write_calls,
        s.retries,
        if s.applied { "applied" } else { "not applied" }
    );
    for (reason, n) in &s.rejected {
        eprintln!("waf-sync:   rejected {n}: {reason}");
    }
    for l in &s.left_out {
        eprintln!("waf-sync:   left out: {l}");
    }
    if s.in_place_updates > 0 {
        eprintln!(
            "waf-sync:   {} changed pattern sets updated in place (no room for a blue/green switch under max_sets)",
            s.in_place_updates
        );
    }
    for name in &s.sets_in_use {
        eprintln!("waf-sync:   kept {name}: another rule still references it");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_app() {
        Cli::command().debug_assert();
    }

    #[test]
    fn lambda_inputs() {
        let file: FileConfig =
            toml::from_str("[source]\nurl = \"x.csv\"\n[waf]\nweb_acl = \"a\"\n").unwrap();
        let base = Config::build(file, Overrides::default()).unwrap();
        let scheduled = serde_json::json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        let c = for_invocation(&base, &scheduled).unwrap();
        assert!(!c.settings.dry_run && !c.settings.force);
        let c = for_invocation(&base, &serde_json::json!({"apply": false})).unwrap();
        assert!(c.settings.dry_run);
        let c = for_invocation(&base, &serde_json::json!({"force": true})).unwrap();
        assert!(c.settings.force && !c.settings.dry_run);
        let c = for_invocation(
            &base,
            &serde_json::json!({"apply": true, "rule_group": "s-bots-500"}),
        )
        .unwrap();
        assert_eq!(c.target, Some(Target::RuleGroup("s-bots-500".into())));
        // A typo'd type or a name WAF would refuse: refused before any work.
        assert!(for_invocation(&base, &serde_json::json!({"apply": "no"})).is_err());
        assert!(for_invocation(&base, &serde_json::json!({"rule_group": "a b"})).is_err());
        assert!(for_invocation(&base, &serde_json::json!([1])).is_err());
    }
}
