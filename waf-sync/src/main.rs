//! `waf-sync plan | apply`: the CLI, and the Lambda entry (provided.al2023,
//! EventBridge schedule) when run by the Lambda runtime. Reads the settings
//! once here; exits non-zero on any failure so alarms fire; always prints a
//! summary.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bot_signatures::Catalog;
use bot_signatures::corpus::BrowserCorpus;
use clap::{Args, Parser, Subcommand};
use waf_sync::apply::{RunError, Summary, run};
use waf_sync::config::{Config, FileConfig, Overrides};
use waf_sync::plan::Plan;
use waf_sync::waf::SdkWaf;

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
    /// Name of the web ACL.
    #[arg(long, value_name = "NAME")]
    web_acl: Option<String>,
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
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("waf-sync: error: cannot start the async runtime: {e}");
            return ExitCode::from(70);
        }
    };
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
        Err((e, summary)) => {
            if let Some(s) = summary {
                report(&Plan::default(), &s, json);
            }
            eprintln!("waf-sync: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

type Failure = (anyhow::Error, Option<Summary>);

async fn cli_run(c: Common, apply: bool, force: bool) -> Result<(Plan, Summary), Failure> {
    let file: FileConfig = match &c.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading {}", p.display()))
                .map_err(|e| (e, None))?;
            toml::from_str(&text)
                .with_context(|| format!("{} is not a valid waf-sync config", p.display()))
                .map_err(|e| (e, None))?
        }
        None => FileConfig::default(),
    };
    let overrides = Overrides {
        source: c.source,
        web_acl: c.web_acl,
        scope: c.scope,
        catalog: c.catalog,
        force,
    };
    let mut config = Config::build(file, overrides).map_err(|e| (anyhow::anyhow!(e), None))?;
    config.settings.dry_run = !apply;
    execute(&config).await
}

/// One run with validated settings (shared by the CLI and the Lambda).
async fn execute(config: &Config) -> Result<(Plan, Summary), Failure> {
    let (catalog, diagnostics) = match &config.catalog {
        Some(p) => Catalog::load(p)
            .with_context(|| format!("loading catalog {}", p.display()))
            .map_err(|e| (e, None))?,
        None => Catalog::embedded(),
    };
    if let Some(d) = diagnostics.first() {
        return Err((
            anyhow::anyhow!("the bot catalog does not parse:\n{d}"),
            None,
        ));
    }
    let matcher = bot_signatures::compile::compile(&catalog)
        .matcher()
        .map_err(|e| (e.into(), None))?;
    let browsers_path = match &config.browsers {
        Some(p) => p.clone(),
        None => BrowserCorpus::find_default().context("the browser corpus guard needs `browsers = PATH` in the config, or `npm ci` at the repository root").map_err(|e| (e, None))?,
    };
    let browsers = BrowserCorpus::load(&browsers_path).map_err(|e| (e.into(), None))?;
    eprintln!(
        "waf-sync: reading {}",
        waf_sync::source::redact(&config.source.url)
    );
    let rows = waf_sync::source::read(&config.source)
        .await
        .map_err(|e| (e.into(), None))?;
    let waf = SdkWaf::from_env(config.cloudfront, &config.web_acl, &config.settings.prefix).await;
    match run(&waf, &rows, &catalog, &matcher, &browsers, &config.settings).await {
        Ok(r) => Ok(r),
        Err((RunError::Refused(why), s)) => {
            Err((anyhow::anyhow!("refused, nothing written: {why}"), Some(s)))
        }
        Err((e, s)) => Err((anyhow::anyhow!(e), Some(s))),
    }
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
            "~ web ACL rules: user-agent rule {}, rate rule {}",
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_app() {
        Cli::command().debug_assert();
    }
}
