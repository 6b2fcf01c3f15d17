//! `edge-auth`, the native adapter of the edge decision: `decide` runs
//! viewer-request events through exactly the logic the Lambda@Edge bundle
//! runs, `check-config` validates a config, `mint` signs demo tokens.
//!
//! Exit codes (sysexits): 0 ok, 2 usage, 65 a malformed event (its line still
//! gets the handler's 503), 66 input missing, 74 I/O, 78 config refused.

mod mint;
mod serve;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use bot_signatures::Catalog;
use clap::{Parser, Subcommand};
use std::collections::hash_map::RandomState;

use edge_auth_core::{Ctx, EdgeConfig, EdgeState, HashKeys, Matcher, VerifiedBots, decide};
use serde_json::Value;

/// The edge bot-filter and JWT authorizer, natively.
#[derive(Debug, Parser)]
#[command(name = "edge-auth", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decide viewer-request events: one event (JSON) or JSON Lines from FILE or
    /// stdin; writes one JSON line per event, exactly what the Lambda@Edge
    /// handler returns (the request to forward, or the generated response).
    Decide {
        /// The edge config (TOML).
        #[arg(long, value_name = "CONFIG")]
        config: PathBuf,
        /// The time of the decision, Unix seconds [default: now].
        #[arg(long, value_name = "UNIX_SECONDS")]
        now: Option<u64>,
        /// Bot-signature catalog directory or file [default: the built-in catalog].
        #[arg(long, value_name = "PATH")]
        catalog: Option<PathBuf>,
        /// Also write to stderr what the handler would log, by the config's
        /// `[logging]` policy: every refusal's record; forwarded requests'
        /// records, sample or counts (the counts held are written at the end).
        #[arg(long)]
        log: bool,
        /// Events to decide [default: stdin].
        file: Option<PathBuf>,
    },
    /// Validate a config and print what it sets up (issuers, keys, paths).
    CheckConfig {
        /// The edge config (TOML).
        #[arg(long, value_name = "CONFIG")]
        config: PathBuf,
    },
    /// Sign a token with a PEM private key (demos and tests; not an identity provider).
    Mint(mint::MintArgs),
    /// A local CloudFront for development: listens on loopback, decides each
    /// request like the viewer-request hook, and serves allowed requests from
    /// a folder standing in for the S3 origin.
    Serve {
        /// The edge config (TOML); not used with --bundle, which has its config baked in.
        #[arg(long, value_name = "CONFIG", required_unless_present = "bundle")]
        config: Option<PathBuf>,
        /// Folder served as the origin.
        #[arg(long, value_name = "DIR", default_value = "examples/demo/site")]
        root: PathBuf,
        /// Address to listen on (loopback only); port 0 picks a free port, and
        /// the first line on stderr names the address taken.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Freeze the clock at these Unix seconds (native core only), as
        /// `decide --now`: token times and the rate limit see no time pass.
        #[arg(long, value_name = "SECONDS", conflicts_with = "bundle")]
        now: Option<u64>,
        /// Decide with this built bundle in Node.js (DIR/bundle of `cargo xtask dist`) instead of the native core.
        #[arg(long, value_name = "DIR")]
        bundle: Option<PathBuf>,
        /// Bot-signature catalog directory or file [default: the built-in catalog].
        #[arg(long, value_name = "PATH")]
        catalog: Option<PathBuf>,
    },
}

use bot_signatures::exit;

struct Failure(u8, anyhow::Error);

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => ExitCode::from(code),
        Err(Failure(code, e)) => {
            eprintln!("edge-auth: error: {e:#}");
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Decide {
            config,
            now,
            catalog,
            log,
            file,
        } => {
            let cfg = load_config(&config).map_err(|e| Failure(exit::CONFIG, e))?;
            let (matcher, verified) =
                load_matcher(catalog.as_deref()).map_err(|e| Failure(exit::CONFIG, e))?;
            let input = read_input(file.as_deref())?;
            let now_ms = match now {
                Some(s) => s.saturating_mul(1000),
                None => std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64),
            };
            let mut state = EdgeState::new(&cfg, HashKeys::from_random_state(&RandomState::new()));
            let ctx = Ctx {
                now_ms,
                config: &cfg,
                matcher: Some(&matcher),
                verified: Some(&verified),
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut malformed = 0usize;
            let mut ledger = edge_auth_event::Ledger::new();
            for (line_no, event) in split_events(&input) {
                let result = match edge_auth_event::parse_event(event) {
                    Ok(parsed) => {
                        let outcome = decide(&parsed.request, &ctx, &mut state);
                        if log {
                            let mut lines = String::new();
                            ledger.record(
                                &cfg.logging,
                                &outcome,
                                &parsed.request,
                                parsed.request_id.as_deref(),
                                now_ms,
                                &mut lines,
                            );
                            eprint!("{lines}");
                        }
                        edge_auth_event::render(&outcome, &parsed)
                    }
                    Err(e) => {
                        malformed += 1;
                        eprintln!(
                            "edge-auth: event at line {line_no}: {e} (answered 503, as the handler would)"
                        );
                        edge_auth_event::internal_error()
                    }
                };
                writeln!(out, "{result}")
                    .context("writing stdout")
                    .map_err(|e| Failure(exit::IO, e))?;
            }
            out.flush()
                .context("writing stdout")
                .map_err(|e| Failure(exit::IO, e))?;
            if log {
                // The end of the input ends this instance: its counts are written.
                let mut lines = String::new();
                ledger.flush(now_ms, &mut lines);
                eprint!("{lines}");
            }
            Ok(if malformed > 0 { exit::DATA } else { 0 })
        }
        Command::CheckConfig { config } => {
            let cfg = load_config(&config).map_err(|e| Failure(exit::CONFIG, e))?;
            for w in &cfg.warnings {
                eprintln!("edge-auth: warning: {w}");
            }
            println!("{}: ok", config.display());
            let steps: Vec<String> = cfg.pipeline.iter().map(|s| format!("{s:?}")).collect();
            println!("  pipeline: {}", steps.join(" -> "));
            for i in cfg.issuers() {
                let kids: Vec<&str> = i.keys.iter().filter_map(|k| k.kid.as_deref()).collect();
                println!(
                    "  issuer {:?}: audience {:?}, algorithms {:?}, leeway {}s, keys [{}]{}",
                    i.issuer,
                    i.audiences,
                    i.algorithms,
                    i.leeway_s,
                    kids.join(", "),
                    if i.hmac.is_some() {
                        " + hmac secret"
                    } else {
                        ""
                    }
                );
            }
            if cfg.paths.is_empty() {
                println!("  paths: none configured, so every path requires a valid token");
            }
            for p in &cfg.paths {
                let rule = match &p.matcher {
                    edge_auth_core::config::PathMatch::Prefix(x) => format!("prefix {x:?}"),
                    edge_auth_core::config::PathMatch::Glob(g) => format!("glob {:?}", g.as_str()),
                };
                println!("  path {rule}: {:?}", p.access);
            }
            match cfg.rate {
                Some(r) => println!(
                    "  rate limit: {}/s, burst {}, at most {} clients per instance",
                    r.per_second, r.burst, cfg.max_clients
                ),
                None => println!("  rate limit: off"),
            }
            let l = cfg.logging;
            let flush = l.flush_ms / 1000;
            match l.forwarded {
                edge_auth_core::config::Forwarded::All => {
                    println!("  logging: every request in full")
                }
                edge_auth_core::config::Forwarded::Count => println!(
                    "  logging: refusals in full; forwarded requests counted (EMF, every {flush} s)"
                ),
                edge_auth_core::config::Forwarded::Sample => println!(
                    "  logging: refusals in full; forwarded requests counted (EMF, every {flush} s) and 1 in {} in full",
                    l.sample_every
                ),
            }
            Ok(0)
        }
        Command::Serve {
            config,
            root,
            listen,
            bundle,
            catalog,
            now,
        } => {
            let engine = match bundle {
                Some(dir) => serve::Engine::node(&dir).map_err(|e| Failure(exit::NO_INPUT, e))?,
                None => {
                    let config = config.ok_or_else(|| {
                        Failure(
                            exit::USAGE,
                            anyhow!("--config is required without --bundle"),
                        )
                    })?;
                    let cfg = load_config(&config).map_err(|e| Failure(exit::CONFIG, e))?;
                    let (matcher, verified) =
                        load_matcher(catalog.as_deref()).map_err(|e| Failure(exit::CONFIG, e))?;
                    let state =
                        EdgeState::new(&cfg, HashKeys::from_random_state(&RandomState::new()));
                    serve::Engine::Native {
                        config: Box::new(cfg),
                        matcher: Box::new(matcher),
                        verified: Box::new(verified),
                        state: Box::new(state),
                        now_s: now,
                    }
                }
            };
            serve::serve(listen, &root, engine).map_err(|e| Failure(exit::IO, e))?;
            Ok(0)
        }
        Command::Mint(args) => {
            let token = mint::mint(&args).map_err(|e| Failure(exit::CONFIG, e))?;
            println!("{token}");
            Ok(0)
        }
    }
}

/// Loads and validates the config; `jwks_file` is relative to the config file.
fn load_config(path: &Path) -> anyhow::Result<EdgeConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    EdgeConfig::parse(&text, |rel| {
        std::fs::read_to_string(base.join(rel))
            .map_err(|e| format!("{} ({})", e, base.join(rel).display()))
    })
    .map_err(|e| anyhow!("config refused: {}", e.in_file(&path.display().to_string())))
}

/// Compiles the bot catalog into the matcher the edge uses, with the
/// verified-bot table (`verified/` beside a catalog directory, else the
/// built-in one).
fn load_matcher(location: Option<&Path>) -> anyhow::Result<(Matcher, VerifiedBots)> {
    let (catalog, diagnostics, origin) = match location {
        Some(p) => {
            let (c, d) =
                Catalog::load(p).with_context(|| format!("loading catalog {}", p.display()))?;
            (c, d, p.display().to_string())
        }
        None => {
            let (c, d) = Catalog::embedded();
            (c, d, "the built-in catalog".to_owned())
        }
    };
    let report = bot_signatures::validate::validate(&catalog, None);
    if let Some(first) = diagnostics
        .iter()
        .chain(&report.diagnostics)
        .find(|d| d.severity == bot_signatures::Severity::Error)
    {
        return Err(anyhow!(
            "bot catalog from {origin} has errors (run `bot-signatures check`); first:\n{first}"
        ));
    }
    // A catalog of one's own without verified/ beside it: every good bot's
    // claim is taken on its word.
    let verified = bot_signatures::verified::for_catalog(location, &catalog)
        .unwrap_or_else(|| Ok((VerifiedBots::default(), Default::default())))
        .map(|(table, _)| table)
    .map_err(|errors| {
        anyhow!(
            "verified-bot lists for the catalog from {origin} have errors (run `bot-signatures check`):\n{}",
            errors.join("\n")
        )
    })?;
    Ok((report.compiled.matcher()?, verified))
}

fn read_input(file: Option<&Path>) -> Result<String, Failure> {
    let mut input = String::new();
    match file {
        Some(p) => {
            input = std::fs::read_to_string(p)
                .with_context(|| format!("reading {}", p.display()))
                .map_err(|e| Failure(exit::NO_INPUT, e))?;
        }
        None => {
            std::io::stdin()
                .read_to_string(&mut input)
                .context("reading stdin")
                .map_err(|e| Failure(exit::IO, e))?;
        }
    }
    Ok(input)
}

/// One JSON document (possibly pretty-printed), or JSON Lines: `(line, text)`.
fn split_events(input: &str) -> Vec<(usize, &str)> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Vec::new();
    }
    if serde_json::from_str::<Value>(trimmed).is_ok() {
        return vec![(1, trimmed)];
    }
    input
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l))
        .collect()
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
    fn events_single_or_lines() {
        assert_eq!(split_events("{\n \"a\": 1\n}\n").len(), 1);
        assert_eq!(
            split_events("{\"a\":1}\n\n{\"a\":2}\n")
                .iter()
                .map(|e| e.0)
                .collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert!(split_events("  \n").is_empty());
    }
}
