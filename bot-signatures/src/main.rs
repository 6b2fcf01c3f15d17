//! `bot-signatures`, the analyst CLI: check the catalog, test and classify
//! user-agents, import third-party lists, print statistics and compile the
//! edge artifact. Exit codes: 0 ok, 1 findings (check errors), 2 usage,
//! 3 catalog unusable, 4 I/O.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use bot_signatures::catalog::Catalog;
use bot_signatures::corpus::BrowserCorpus;
use bot_signatures::validate::{Report, validate};
use bot_signatures::{Severity, import, waf};
use bot_signatures_matcher::Precedence;
use clap::{Args, Parser, Subcommand};

/// The bot-signature catalog: validate it, test user-agents against it,
/// import third-party lists, and compile it for the edge.
///
/// By default the catalog is `bot-signatures/catalog/` of the repository
/// you are in (searched upwards from the current directory); outside a
/// checkout, the catalog built into this binary.
#[derive(Debug, Parser)]
#[command(name = "bot-signatures", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the whole catalog: syntax, WAF compatibility, duplicates,
    /// examples, shadowing, and false positives against a browser corpus.
    Check {
        #[command(flatten)]
        catalog: CatalogArgs,
        #[command(flatten)]
        browsers: BrowserArgs,
    },
    /// Read user-agents from stdin, one per line; write one line per input:
    /// the deciding signature's id, or `-` when none matches. A summary on
    /// stderr names the catalog used (outside a checkout, the built-in one).
    Classify {
        #[command(flatten)]
        catalog: CatalogArgs,
    },
    /// Show which signatures match a user-agent, which one decides, and why.
    Test {
        /// The user-agent to test.
        user_agent: String,
        #[command(flatten)]
        catalog: CatalogArgs,
    },
    /// Add a signature to a hand-edited catalog file. Missing fields are asked
    /// for at the terminal; the whole catalog is checked with the new entry
    /// (browser guard included) before anything is written.
    Add(AddArgs),
    /// Print counts by action, category and index kind.
    Stats {
        #[command(flatten)]
        catalog: CatalogArgs,
    },
    /// Write the compiled matcher artifact: JSON for people and tools, or with `--binary` the compact form the edge bundle loads.
    Compile {
        #[command(flatten)]
        catalog: CatalogArgs,
        /// Where to write the artifact.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Write the compact binary artifact the edge loads (`bot-matcher.bin`
        /// in the Lambda@Edge bundle) instead of JSON.
        #[arg(long)]
        binary: bool,
    },
    /// Export the catalog in another form.
    Export {
        #[command(subcommand)]
        what: Export,
    },
    /// Refresh the verified-bot address lists (`verified/ranges/`) from new
    /// copies of the operators' files: shows each list's diff, refuses a list
    /// that shrank by more than 20% (prefixes or IPv4 addresses) unless
    /// --allow-shrink, then writes the files and the snapshot dates. This build
    /// has no HTTP client: download the URLs in verified/operators.toml
    /// (e.g. with curl) into a directory and pass it with --from.
    ImportRanges {
        /// Directory holding the new copies, named as the files under verified/ranges/.
        #[arg(
            long,
            value_name = "DIR",
            required_unless_present = "fetch",
            conflicts_with = "fetch"
        )]
        from: Option<PathBuf>,
        /// Download each list from its `url` in operators.toml (HTTPS, 8 MB at
        /// most, `--timeout` each); a list that cannot be fetched keeps its
        /// pinned copy. The downloads are checked exactly like --from copies.
        #[arg(long)]
        fetch: bool,
        /// Seconds per download with --fetch.
        #[arg(long, value_name = "SECONDS", default_value_t = 20)]
        timeout: u64,
        /// The snapshot date to record (YYYY-MM-DD) [default: today, UTC].
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
        /// Take a list that shrank by more than 20%.
        #[arg(long)]
        allow_shrink: bool,
        /// Show the diffs; write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        catalog: CatalogArgs,
    },
    /// Regenerate the imported catalog files from the npm packages
    /// `crawler-user-agents` and `isbot` installed by `npm ci`: each pattern
    /// anchored at a token boundary where its examples allow, tightened further
    /// where real devices of the guard corpus still match, and every entry
    /// that would fail `check` listed with its reason at the end of the file.
    Import {
        /// Which list to import (repeat for several) [default: all, in the order crawler-user-agents, isbot].
        #[arg(long = "source", value_name = "NAME", value_parser = ["crawler-user-agents", "isbot"])]
        sources: Vec<String>,
        /// The list to read, with exactly one --source [default: node_modules/<package>/ of the repository].
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// isbot's crawler fixtures, one user-agent per line: with
        /// crawler-user-agents' instances, where isbot entries take their
        /// examples [default: bot-signatures/data/isbot/crawlers.txt].
        #[arg(long, value_name = "FILE")]
        fixtures: Option<PathBuf>,
        /// The date written in the header, and `added` for entries upstream does not date (YYYY-MM-DD) [default: today, UTC].
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
        /// Where to write, with exactly one --source [default: <catalog>/imported/<package>.toml].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        catalog: CatalogArgs,
        #[command(flatten)]
        browsers: BrowserArgs,
    },
}

#[derive(Debug, Args)]
struct AddArgs {
    /// Stable id (a-z, 0-9, '-').
    #[arg(long)]
    id: Option<String>,
    /// Regex matched case-insensitively anywhere in the User-Agent.
    #[arg(long)]
    pattern: Option<String>,
    /// block, rate_limit, monitor or allow.
    #[arg(long)]
    action: Option<String>,
    /// Lowercase word, e.g. seo, ai-crawler, http-library.
    #[arg(long)]
    category: Option<String>,
    /// Who runs it and why this action.
    #[arg(long)]
    description: Option<String>,
    /// The crawler's documentation page.
    #[arg(long)]
    url: Option<String>,
    /// Your name or e-mail.
    #[arg(long)]
    author: Option<String>,
    /// An example user-agent (repeat for several; at least one).
    #[arg(long = "instance", value_name = "USER_AGENT")]
    instances: Vec<String>,
    /// The date added, YYYY-MM-DD [default: today, UTC].
    #[arg(long, value_name = "DATE")]
    date: Option<String>,
    /// Catalog file to append to [default: <catalog>/specific.toml].
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Print the entry and the check result; write nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    catalog: CatalogArgs,
    #[command(flatten)]
    browsers: BrowserArgs,
}

#[derive(Debug, Subcommand)]
enum Export {
    /// The AWS WAF form: specific block signatures packed into regex pattern
    /// sets and regex match statements within the quotas, proved against the
    /// examples and the browser corpus. JSON on stdout (or --out), summary on stderr.
    Waf {
        #[command(flatten)]
        catalog: CatalogArgs,
        #[command(flatten)]
        browsers: BrowserArgs,
        /// Regex pattern sets available (WAF allows 10 per account and scope).
        #[arg(long, default_value_t = 10, value_name = "N", help_heading = "Budget")]
        max_sets: usize,
        /// WCU this rule may use (a web ACL has 5,000; 1,500 are in the base price).
        #[arg(long, default_value_t = 500, value_name = "N", help_heading = "Budget")]
        max_wcu: u32,
        /// IP sets available for verified bots' addresses (WAF allows 100 per
        /// account and scope).
        #[arg(long, default_value_t = 20, value_name = "N", help_heading = "Budget")]
        max_ip_sets: usize,
        /// Write the JSON here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct CatalogArgs {
    /// Catalog directory or file [default: bot-signatures/catalog of this checkout, else built-in].
    #[arg(long, value_name = "PATH", help_heading = "Catalog")]
    catalog: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct BrowserArgs {
    /// Real browser and device user-agents no signature may match (JSON array
    /// or one per line; repeat for several) [default: node_modules/user-agents/dist/user-agents.json,
    /// node_modules/ua-parser-js/test/device-test.json and, under bot-signatures/data/,
    /// uap-core/devices-guard.txt, whichbrowser/devices-guard.txt, isbot/browsers.txt,
    /// browscap/devices-guard.txt, yauaa/devices-guard.txt, mobile-detect/devices-guard.txt,
    /// woothee/devices-guard.txt, fnando-browser/browsers-guard.txt,
    /// php-useragent/devices-guard.txt, uasurfer/devices-guard.txt,
    /// mileusna-useragent/devices-guard.txt, bowser/devices-guard.txt and
    /// browser-php/devices-guard.txt].
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "False-positive guard",
        conflicts_with = "no_browsers"
    )]
    browsers: Vec<PathBuf>,
    /// Skip the browser false-positive guard (not for CI).
    #[arg(long, help_heading = "False-positive guard")]
    no_browsers: bool,
}

/// Exit codes, in the sysexits spirit.
use bot_signatures::exit;

/// A failure with its exit code.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

fn fail(code: u8) -> impl FnOnce(anyhow::Error) -> Failure {
    move |error| Failure { code, error }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(Failure { code, error }) => {
            eprintln!("bot-signatures: error: {error:#}");
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Check { catalog, browsers } => {
            // The verified-bot lists beside a catalog directory (the repository's,
            // or one given with --catalog); the built-in ones for the built-in
            // catalog; none for a catalog file of its own.
            let location = catalog.catalog.clone().or_else(find_repo_catalog);
            let (catalog, parse, origin) = load_catalog(&catalog).map_err(fail(exit::CONFIG))?;
            let corpus = load_browsers(&browsers).map_err(fail(exit::IO))?;
            let report = validate(&catalog, corpus.as_ref());
            let mut all = parse;
            all.extend(report.diagnostics.iter().cloned());
            for d in &all {
                eprintln!("{d}");
            }
            // The verified-bot lists: which allow signatures are checked by address.
            let verified = bot_signatures::verified::for_catalog(location.as_deref(), &catalog);
            let verify_errors = match &verified {
                None => 0,
                Some(Ok((table, found))) => {
                    let lists: Vec<String> = found
                        .lists
                        .iter()
                        .map(|(n, v4, v6)| format!("{n} ({v4} IPv4 addresses, {v6} IPv6 ranges)"))
                        .collect();
                    println!(
                        "verified bots: {} allow signatures checked by address against {}",
                        table.claims(),
                        lists.join(", ")
                    );
                    if !found.on_their_word.is_empty() {
                        eprintln!(
                            "warning: {} allow signatures are taken on their word (no operator in verified/operators.toml lists them): they beat generic rules but never a specific signature, e.g. {}",
                            found.on_their_word.len(),
                            found
                                .on_their_word
                                .iter()
                                .take(5)
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                    }
                    0
                }
                Some(Err(list)) => {
                    for e in list {
                        eprintln!("error: {e}");
                    }
                    list.len()
                }
            };
            let catalog_errors = all.iter().filter(|d| d.severity == Severity::Error).count();
            let warnings = all.len() - catalog_errors;
            let errors = catalog_errors + verify_errors;
            let corpus_note = corpus.map_or("browser guard skipped".to_owned(), |c| {
                format!("{} browser user-agents", c.user_agents.len())
            });
            println!(
                "checked {} signatures from {origin} against {corpus_note}: {errors} error(s), {warnings} warning(s)",
                catalog.signatures.len()
            );
            Ok(if errors > 0 { exit::FINDINGS } else { 0 })
        }
        Command::Classify { catalog } => {
            let (report, origin) = usable_report_from(&catalog)?;
            let matcher = report
                .compiled
                .matcher()
                .map_err(|e| fail(exit::CONFIG)(e.into()))?;
            let stdin = std::io::stdin().lock();
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let (mut lines, mut flagged) = (0usize, 0usize);
            for line in stdin.split(b'\n') {
                let line = line.context("reading stdin").map_err(fail(exit::IO))?;
                let line = line.strip_suffix(b"\r").unwrap_or(&line);
                let ua = String::from_utf8_lossy(line);
                let id = matcher.classify(&ua).map_or("-", |v| v.signature.id);
                writeln!(out, "{id}")
                    .context("writing stdout")
                    .map_err(fail(exit::IO))?;
                lines += 1;
                flagged += usize::from(id != "-");
            }
            out.flush()
                .context("writing stdout")
                .map_err(fail(exit::IO))?;
            // Which catalog decided: outside a checkout it is the built-in
            // one, which may not be the one being edited.
            eprintln!(
                "bot-signatures: {lines} user-agent(s) classified with {} signatures from {origin}: {flagged} flagged",
                matcher.len()
            );
            Ok(0)
        }
        Command::Test {
            user_agent,
            catalog,
        } => {
            let report = usable_report(&catalog)?;
            let matcher = report
                .compiled
                .matcher()
                .map_err(|e| fail(exit::CONFIG)(e.into()))?;
            let matches: Vec<_> = matcher.matches(&user_agent).collect();
            if matches.is_empty() {
                println!("no signature matches: the edge treats this user-agent as a browser");
                return Ok(0);
            }
            for (n, v) in matches.iter().enumerate() {
                let s = v.signature;
                let kind = if s.generic { "generic" } else { "specific" };
                let mark = if n == 0 { "decides" } else { "       " };
                println!(
                    "{mark} {:<32} {:<10} {:<8} {:<16} /{}/",
                    s.id,
                    s.action.as_str(),
                    kind,
                    s.category,
                    s.pattern
                );
            }
            if matches.len() > 1 {
                let (a, b) = (matches[0].signature, matches[1].signature);
                // The matcher's own precedence rule, not a copy of it.
                let why = match bot_signatures_matcher::decided_by(a, 0, b, 1) {
                    Precedence::Specific => "specific signatures win over generic ones".to_owned(),
                    Precedence::Action => format!(
                        "{} wins over {} (allow > block > rate_limit > monitor)",
                        a.action, b.action
                    ),
                    Precedence::LongerPattern => {
                        "same kind and action: the longer (more specific) pattern wins".to_owned()
                    }
                    Precedence::CatalogOrder => {
                        "same kind, action and pattern length: the one earlier in the catalog wins"
                            .to_owned()
                    }
                };
                println!("why: {why}");
            }
            Ok(0)
        }
        Command::Add(args) => add(args),
        Command::Stats { catalog } => {
            let report = usable_report(&catalog)?;
            let a = &report.compiled.artifact;
            let mut by_action = std::collections::BTreeMap::new();
            let mut by_category = std::collections::BTreeMap::new();
            for s in &a.signatures {
                *by_action.entry(s.action.as_str()).or_insert(0usize) += 1;
                *by_category.entry(s.category.as_str()).or_insert(0usize) += 1;
            }
            let generic = a.signatures.iter().filter(|s| s.generic).count();
            let exact = a.signatures.iter().filter(|s| s.exact).count();
            let bytes = serde_json::to_vec(a).map_or(0, |v| v.len());
            println!(
                "signatures: {} ({generic} generic, {} specific)",
                a.signatures.len(),
                a.signatures.len() - generic
            );
            println!("by action:  {}", join(&by_action));
            println!("by category: {}", join(&by_category));
            println!(
                "index: {} literals; {exact} signatures decided by literals alone; {} unindexed",
                a.literals.len(),
                a.unindexed.len()
            );
            println!("artifact: {bytes} bytes of JSON");
            Ok(0)
        }
        Command::Compile {
            catalog,
            out,
            binary,
        } => {
            let report = usable_report(&catalog)?;
            let bytes = if binary {
                report.compiled.artifact.to_bytes()
            } else {
                serde_json::to_vec(&report.compiled.artifact)
                    .context("serializing")
                    .map_err(fail(exit::CONFIG))?
            };
            write_atomically(&out, &bytes).map_err(fail(exit::IO))?;
            eprintln!(
                "wrote {} ({} signatures, {} bytes{})",
                out.display(),
                report.compiled.artifact.signatures.len(),
                bytes.len(),
                if binary { ", binary" } else { "" }
            );
            Ok(0)
        }
        Command::Export {
            what:
                Export::Waf {
                    catalog,
                    browsers,
                    max_sets,
                    max_wcu,
                    max_ip_sets,
                    out,
                },
        } => {
            let location = catalog.catalog.clone().or_else(find_repo_catalog);
            let (cat, parse, origin) = load_catalog(&catalog).map_err(fail(exit::CONFIG))?;
            if let Some(d) = parse.first() {
                return Err(fail(exit::CONFIG)(anyhow::anyhow!(
                    "the catalog from {origin} does not parse:\n{d}"
                )));
            }
            let corpus = load_browsers(&browsers).map_err(fail(exit::IO))?;
            // Verified bots are exempt only from their operators' addresses.
            let verified = bot_signatures::verified::table_for(location.as_deref(), &cat)
                .map_err(|e| fail(exit::CONFIG)(anyhow::anyhow!(e)))?;
            let budget = waf::Budget {
                max_sets,
                max_wcu,
                max_ip_sets,
            };
            let rules = waf::compile(&cat, verified.as_ref(), budget);
            let problems = waf::prove(&rules, &cat, verified.as_ref(), corpus.as_ref());
            let json = serde_json::to_string_pretty(&rules)
                .context("serializing")
                .map_err(fail(exit::CONFIG))?;
            match &out {
                Some(path) => write_atomically(path, json.as_bytes()).map_err(fail(exit::IO))?,
                None => println!("{json}"),
            }
            let regexes = rules.block.regexes().count() + rules.exceptions.regexes().count();
            let chars: usize = rules
                .block
                .regexes()
                .chain(rules.exceptions.regexes())
                .map(|r| r.regex.len())
                .sum();
            eprintln!(
                "waf: {} signatures packed into {regexes} regexes ({chars} characters) in {} of {max_sets} pattern sets and {} regex match statements; {} exception signatures; {} of {max_wcu} WCU",
                rules.packed.len(),
                rules.sets_used,
                rules.block.regex_match.len() + rules.exceptions.regex_match.len(),
                rules
                    .exceptions
                    .regexes()
                    .map(|r| r.signatures.len())
                    .sum::<usize>(),
                rules.wcu
            );
            for v in &rules.verified {
                eprintln!(
                    "waf: {} verified: {} signatures exempt only from the addresses in {}",
                    v.operator,
                    v.user_agents
                        .regexes()
                        .map(|r| r.signatures.len())
                        .sum::<usize>(),
                    v.ip_sets
                        .iter()
                        .map(|n| {
                            let size = rules
                                .ip_sets
                                .iter()
                                .find(|x| &x.name == n)
                                .map_or(0, |x| x.addresses.len());
                            format!("{n} ({size} blocks)")
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let mut reasons: std::collections::BTreeMap<&str, usize> =
                std::collections::BTreeMap::new();
            for l in &rules.left_out {
                *reasons.entry(l.reason.as_str()).or_default() += 1;
            }
            for (reason, n) in reasons {
                eprintln!("waf: left out {n}: {reason}");
            }
            for p in &problems {
                eprintln!("waf: error: {p}");
            }
            if problems.is_empty() {
                eprintln!(
                    "waf: proved: every example of every packed signature is blocked, also with a verified bot's user-agent added; no exception example{} is{}",
                    if corpus.is_some() {
                        " and no browser"
                    } else {
                        ""
                    },
                    if rules.verified.is_empty() {
                        ""
                    } else {
                        " (a verified bot's from inside its lists)"
                    }
                );
                Ok(0)
            } else {
                Ok(exit::FINDINGS)
            }
        }
        Command::ImportRanges {
            from,
            fetch,
            timeout,
            date,
            allow_shrink,
            dry_run,
            catalog,
        } => {
            let dir = match &catalog.catalog {
                Some(p) => p.clone(),
                None => find_repo_catalog().ok_or_else(|| fail(exit::CONFIG)(anyhow::anyhow!("no bot-signatures/catalog found above the current directory; pass --catalog DIR")))?,
            };
            let verified = bot_signatures::verified::dir_beside(&dir).ok_or_else(|| {
                fail(exit::CONFIG)(anyhow::anyhow!(
                    "no verified/operators.toml beside {}",
                    dir.display()
                ))
            })?;
            let date = date.unwrap_or_else(today_utc);
            let operators_path = verified.join("operators.toml");
            let mut operators_text = std::fs::read_to_string(&operators_path)
                .with_context(|| format!("reading {}", operators_path.display()))
                .map_err(fail(exit::IO))?;
            let ops: bot_signatures::verified::Operators = toml::from_str(&operators_text)
                .with_context(|| format!("{} does not parse", operators_path.display()))
                .map_err(fail(exit::CONFIG))?;
            // With --fetch, the downloads land in a scratch directory and are
            // then read like a --from directory.
            let mut scratch = None;
            let from = match from {
                Some(dir) => dir,
                None => {
                    let dir = tempdir_for("import-ranges").map_err(fail(exit::IO))?;
                    scratch = Some(dir.clone());
                    fetch_into(&ops, &verified, &dir, timeout)?;
                    dir
                }
            };
            debug_assert!(fetch == scratch.is_some());
            let (mut refused, mut writes) = (0usize, Vec::new());
            // Files holding several lists are read once per list and written once.
            for spec in &ops.lists {
                let name = Path::new(&spec.file).file_name().unwrap_or_default();
                let new_path = from.join(name);
                let Ok(new_text) = std::fs::read_to_string(&new_path) else {
                    eprintln!(
                        "{}: no new copy at {} (kept)",
                        spec.name,
                        new_path.display()
                    );
                    continue;
                };
                let old_text = std::fs::read_to_string(verified.join(&spec.file))
                    .with_context(|| format!("reading {}", spec.file))
                    .map_err(fail(exit::IO))?;
                match bot_signatures::verified::diff_list(spec, &old_text, &new_text) {
                    Err(e) => {
                        refused += 1;
                        eprintln!("{}: refused: {e} ({})", spec.name, new_path.display());
                    }
                    Ok(d) => {
                        println!(
                            "{}: {} -> {} prefixes, {} -> {} IPv4 addresses (+{} -{})",
                            d.name,
                            d.prefixes.0,
                            d.prefixes.1,
                            d.v4_addresses.0,
                            d.v4_addresses.1,
                            d.added.len(),
                            d.removed.len()
                        );
                        for p in d.added.iter().take(10) {
                            println!("  + {p}");
                        }
                        for p in d.removed.iter().take(10) {
                            println!("  - {p}");
                        }
                        if d.suspicious(0.2) && !allow_shrink {
                            refused += 1;
                            eprintln!(
                                "{}: refused: it shrank by more than 20%; check the download, or pass --allow-shrink",
                                d.name
                            );
                            continue;
                        }
                        if let Some(updated) = bot_signatures::verified::with_snapshot(
                            &operators_text,
                            &spec.name,
                            &date,
                        ) {
                            operators_text = updated;
                        }
                        writes.push((verified.join(&spec.file), new_text));
                    }
                }
            }
            if refused > 0 {
                eprintln!("import-ranges: {refused} list(s) refused; nothing written");
                if let Some(dir) = &scratch {
                    eprintln!(
                        "import-ranges: the downloads are kept in {} for a look",
                        dir.display()
                    );
                }
                return Ok(exit::FINDINGS);
            }
            if let Some(dir) = &scratch {
                let _ = std::fs::remove_dir_all(dir);
            }
            if dry_run {
                println!("import-ranges: dry run; nothing written");
                return Ok(0);
            }
            writes.sort_by(|a, b| a.0.cmp(&b.0));
            writes.dedup_by(|a, b| a.0 == b.0);
            for (path, text) in &writes {
                write_atomically(path, text.as_bytes()).map_err(fail(exit::IO))?;
            }
            write_atomically(&operators_path, operators_text.as_bytes()).map_err(fail(exit::IO))?;
            println!(
                "import-ranges: {} file(s) written, snapshots dated {date}; run `bot-signatures check` and rebuild the bundle",
                writes.len()
            );
            Ok(0)
        }
        Command::Import {
            sources,
            from,
            fixtures,
            date,
            out,
            catalog,
            browsers,
        } => {
            let dir = match &catalog.catalog {
                Some(p) => p.clone(),
                None => find_repo_catalog().ok_or_else(|| fail(exit::CONFIG)(anyhow::anyhow!("no bot-signatures/catalog found above the current directory; pass --catalog DIR")))?,
            };
            let sources: Vec<import::Source> = if sources.is_empty() {
                import::Source::ALL.to_vec()
            } else {
                import::Source::ALL
                    .into_iter()
                    .filter(|s| sources.iter().any(|n| n == s.name()))
                    .collect()
            };
            if (from.is_some() || out.is_some()) && sources.len() != 1 {
                return Err(fail(exit::USAGE)(anyhow::anyhow!(
                    "--from and --out need exactly one --source"
                )));
            }
            let corpus = load_browsers(&browsers).map_err(fail(exit::IO))?;
            let date = date.unwrap_or_else(today_utc);
            for source in sources {
                import_one(
                    source,
                    from.clone(),
                    fixtures.clone(),
                    out.clone(),
                    &dir,
                    &date,
                    corpus.as_ref(),
                )?;
            }
            Ok(0)
        }
    }
}

/// `import` for one source: reads the installed package, regenerates its file
/// against the rest of the catalog, and copies its licence beside it.
fn import_one(
    source: import::Source,
    from: Option<PathBuf>,
    fixtures: Option<PathBuf>,
    out: Option<PathBuf>,
    dir: &Path,
    date: &str,
    corpus: Option<&BrowserCorpus>,
) -> Result<(), Failure> {
    let name = source.name();
    let from = match from {
        Some(p) => p,
        None => find_upwards(&format!("node_modules/{name}/{}", source.list_file())).ok_or_else(
            || {
                fail(exit::IO)(anyhow::anyhow!(
                    "node_modules/{name} not found; run `npm ci` at the repository root or pass --from FILE"
                ))
            },
        )?,
    };
    let package_dir = from.parent().unwrap_or(Path::new("."));
    let version = std::fs::read_to_string(package_dir.join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("version").and_then(|v| v.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "unknown".into());
    let package = format!("{name}@{version}");
    let out = out.unwrap_or_else(|| dir.join(format!("imported/{name}.toml")));
    let text = std::fs::read_to_string(&from)
        .with_context(|| format!("reading {}", from.display()))
        .map_err(fail(exit::IO))?;
    // The rest of the catalog, without the file being regenerated.
    let (mut existing, parse) = Catalog::load(dir).map_err(|e| fail(exit::CONFIG)(e.into()))?;
    if let Some(d) = parse.first() {
        return Err(fail(exit::CONFIG)(anyhow::anyhow!(
            "fix the catalog first:\n{d}"
        )));
    }
    let out_name = out.display().to_string();
    existing.signatures.retain(|s| s.location.file != out_name);
    let (drafts, skipped, total) = match source {
        import::Source::CrawlerUserAgents => {
            let upstream: Vec<import::UpstreamEntry> = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a crawler-user-agents list", from.display()))
                .map_err(fail(exit::IO))?;
            (
                import::crawler_user_agents(&upstream, &package, date),
                Vec::new(),
                upstream.len(),
            )
        }
        import::Source::Isbot => {
            let patterns = import::isbot_patterns(&text)
                .map_err(|e| fail(exit::IO)(anyhow::anyhow!("{}: {e}", from.display())))?;
            let fixtures = match fixtures {
                Some(p) => p,
                None => find_upwards(bot_signatures::corpus::ISBOT_FIXTURES).ok_or_else(|| {
                    fail(exit::IO)(anyhow::anyhow!(
                        "{} not found; run from the repository or pass --fixtures FILE",
                        bot_signatures::corpus::ISBOT_FIXTURES
                    ))
                })?,
            };
            let fixtures = BrowserCorpus::load(&fixtures)
                .map_err(|e| fail(exit::IO)(e.into()))?
                .user_agents;
            let upstream: Vec<import::UpstreamEntry> =
                match find_upwards("node_modules/crawler-user-agents/crawler-user-agents.json") {
                    Some(cua) => {
                        let text = std::fs::read_to_string(&cua)
                            .with_context(|| format!("reading {}", cua.display()))
                            .map_err(fail(exit::IO))?;
                        serde_json::from_str(&text)
                            .with_context(|| {
                                format!("{} is not a crawler-user-agents list", cua.display())
                            })
                            .map_err(fail(exit::IO))?
                    }
                    None => Vec::new(),
                };
            // The development sets of bots, when run from the repository
            // (the drift test reads the same files).
            let mut development = Vec::new();
            for rel in bot_signatures::corpus::DEVELOPMENT_BOTS {
                match find_upwards(rel) {
                    Some(path) => development.extend(
                        BrowserCorpus::load(&path)
                            .map_err(|e| fail(exit::IO)(e.into()))?
                            .user_agents,
                    ),
                    None => eprintln!(
                        "warning: {rel} not found (run from the repository): isbot entries with no example of isbot's own take none from it"
                    ),
                }
            }
            let examples = import::isbot_examples(fixtures, &upstream, development);
            let (drafts, skipped) = import::isbot(&patterns, &examples, &existing, &package, date);
            (drafts, skipped, patterns.len())
        }
    };
    let imported = import::import(source, drafts, skipped, &package, date, &existing, corpus);
    write_atomically(&out, imported.text.as_bytes()).map_err(fail(exit::IO))?;
    let license = package_dir.join("LICENSE");
    if license.is_file() {
        let target = out.with_file_name(format!("{name}.LICENSE"));
        std::fs::copy(&license, &target)
            .with_context(|| format!("copying {}", license.display()))
            .map_err(fail(exit::IO))?;
    }
    println!(
        "imported {} of {total} entries from {package} into {} ({} tightened); {} left out (listed at the end of the file)",
        imported.written,
        out.display(),
        imported.tightened.len(),
        imported.skipped.len()
    );
    Ok(())
}

/// Reads a missing field at the terminal, or fails when stdin is not one.
fn ask(value: Option<String>, field: &str, hint: &str) -> Result<String, Failure> {
    use std::io::IsTerminal;
    if let Some(v) = value {
        return Ok(v);
    }
    if !std::io::stdin().is_terminal() {
        return Err(fail(2)(anyhow::anyhow!(
            "--{field} is required (or run at a terminal to be asked)"
        )));
    }
    eprint!("{field} ({hint}): ");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the terminal")
        .map_err(fail(exit::IO))?;
    Ok(line.trim().to_owned())
}

fn add(args: AddArgs) -> Result<u8, Failure> {
    use std::io::IsTerminal;
    let dir = match &args.catalog.catalog {
        Some(p) => p.clone(),
        None => find_repo_catalog().ok_or_else(|| {
            fail(exit::CONFIG)(anyhow::anyhow!(
                "no bot-signatures/catalog found above the current directory; pass --catalog DIR"
            ))
        })?,
    };
    let target = args
        .file
        .clone()
        .unwrap_or_else(|| dir.join("specific.toml"));
    let id = ask(args.id, "id", "a-z, 0-9 and '-', e.g. foobot")?;
    let pattern = ask(
        args.pattern,
        "pattern",
        "regex, case-insensitive, e.g. FooBot/",
    )?;
    let action_text = ask(args.action, "action", "block, rate_limit, monitor or allow")?;
    let action = match action_text.as_str() {
        "block" => bot_signatures::Action::Block,
        "rate_limit" => bot_signatures::Action::RateLimit,
        "monitor" => bot_signatures::Action::Monitor,
        "allow" => bot_signatures::Action::Allow,
        other => {
            return Err(fail(2)(anyhow::anyhow!(
                "action {other:?} is not one of block, rate_limit, monitor, allow"
            )));
        }
    };
    let category = ask(
        args.category,
        "category",
        "e.g. seo, ai-crawler, http-library",
    )?;
    let description = ask(
        args.description,
        "description",
        "who runs it and why this action",
    )?;
    let author = ask(args.author, "author", "your name or e-mail")?;
    let mut instances = args.instances;
    if instances.is_empty() {
        if !std::io::stdin().is_terminal() {
            return Err(fail(2)(anyhow::anyhow!(
                "give at least one --instance USER_AGENT"
            )));
        }
        loop {
            let ua = ask(
                None,
                "instance",
                "an example user-agent; empty line to finish",
            )?;
            if ua.is_empty() {
                break;
            }
            instances.push(ua);
        }
    }
    let entry = bot_signatures::add::NewSignature {
        id,
        pattern,
        action,
        category,
        description,
        url: args.url,
        added: args.date.unwrap_or_else(today_utc),
        author,
        instances,
    };
    let files = Catalog::read_files(&dir).map_err(|e| fail(exit::IO)(e.into()))?;
    if let Some(d) = Catalog::parse(&files).1.first() {
        return Err(fail(exit::CONFIG)(anyhow::anyhow!(
            "fix the catalog first:\n{d}"
        )));
    }
    let corpus = load_browsers(&args.browsers).map_err(fail(exit::IO))?;
    let target_name = target.display().to_string();
    match bot_signatures::add::add(&files, &target_name, &entry, corpus.as_ref()) {
        Ok(text) => {
            if args.dry_run {
                print!("{}", bot_signatures::add::render(&entry));
                eprintln!(
                    "dry run: the catalog passes every check with this entry; nothing written"
                );
            } else {
                write_atomically(&target, text.as_bytes()).map_err(fail(exit::IO))?;
                println!(
                    "added '{}' to {}; the catalog passes every check",
                    entry.id,
                    target.display()
                );
            }
            Ok(0)
        }
        Err(errors) => {
            for d in &errors {
                eprintln!("{d}");
            }
            eprintln!(
                "not added: {} error(s) with the new entry; nothing was written",
                errors.len()
            );
            Ok(exit::FINDINGS)
        }
    }
}

fn join(map: &std::collections::BTreeMap<&str, usize>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Loads the catalog and refuses one with errors (the edge must not ship it).
fn usable_report(args: &CatalogArgs) -> Result<Report, Failure> {
    usable_report_from(args).map(|(report, _)| report)
}

/// [`usable_report`], with where the catalog came from (a path, or the
/// built-in catalog), for a command that says which one it used.
fn usable_report_from(args: &CatalogArgs) -> Result<(Report, String), Failure> {
    let (catalog, parse, origin) = load_catalog(args).map_err(fail(exit::CONFIG))?;
    let report = validate(&catalog, None);
    let errors: Vec<_> = parse
        .iter()
        .chain(&report.diagnostics)
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if let Some(first) = errors.first() {
        return Err(fail(exit::CONFIG)(anyhow::anyhow!(
            "the catalog from {origin} has {} error(s); run `bot-signatures check` for all of them. First:\n{first}",
            errors.len()
        )));
    }
    Ok((report, origin))
}

/// A fresh, empty directory under the system temporary directory.
fn tempdir_for(what: &str) -> anyhow::Result<PathBuf> {
    let base = std::env::temp_dir();
    for n in 0..1000u32 {
        let dir = base.join(format!("bot-signatures-{what}-{}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(anyhow::anyhow!("creating {}: {e}", dir.display())),
        }
    }
    Err(anyhow::anyhow!(
        "no free temporary directory under {}",
        base.display()
    ))
}

#[cfg(feature = "fetch")]
fn fetch_into(
    ops: &bot_signatures::verified::Operators,
    verified: &Path,
    into: &Path,
    timeout: u64,
) -> Result<(), Failure> {
    let results = bot_signatures::fetch::fetch_all(
        ops,
        verified,
        into,
        std::time::Duration::from_secs(timeout),
        |i, n, spec| eprintln!("fetching {} ({i}/{n}) from {}", spec.name, spec.url),
    );
    let failed: Vec<&(String, Result<(), String>)> =
        results.iter().filter(|(_, r)| r.is_err()).collect();
    for (name, r) in &failed {
        if let Err(e) = r {
            eprintln!("{name}: fetch failed: {e} (the pinned copy is kept)");
        }
    }
    if failed.len() == results.len() && !results.is_empty() {
        return Err(fail(exit::UNAVAILABLE)(anyhow::anyhow!(
            "no list could be fetched (no network, or every operator's URL failed); nothing written. Download them elsewhere and pass --from DIR"
        )));
    }
    Ok(())
}

#[cfg(not(feature = "fetch"))]
fn fetch_into(
    _: &bot_signatures::verified::Operators,
    _: &Path,
    _: &Path,
    _: u64,
) -> Result<(), Failure> {
    Err(fail(exit::USAGE)(anyhow::anyhow!(
        "this build has no HTTP client (feature `fetch`); download the lists and pass --from DIR"
    )))
}

fn load_catalog(
    args: &CatalogArgs,
) -> anyhow::Result<(Catalog, Vec<bot_signatures::Diagnostic>, String)> {
    let path = args.catalog.clone().or_else(find_repo_catalog);
    match path {
        Some(p) => {
            let (c, d) =
                Catalog::load(&p).with_context(|| format!("loading catalog {}", p.display()))?;
            Ok((c, d, p.display().to_string()))
        }
        None => {
            let (c, d) = Catalog::embedded();
            Ok((c, d, "the built-in catalog".into()))
        }
    }
}

fn load_browsers(args: &BrowserArgs) -> anyhow::Result<Option<BrowserCorpus>> {
    if args.no_browsers {
        return Ok(None);
    }
    let paths = if args.browsers.is_empty() {
        BrowserCorpus::find_default().context(
            "run `npm ci` at the repository root, pass --browsers FILE, or --no-browsers",
        )?
    } else {
        args.browsers.clone()
    };
    Ok(Some(BrowserCorpus::load_all(&paths)?))
}

fn find_upwards(relative: &str) -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .map(|d| d.join(relative))
        .find(|p| p.exists())
}

fn find_repo_catalog() -> Option<PathBuf> {
    find_upwards("bot-signatures/catalog").filter(|p| p.is_dir())
}

/// Writes via a temporary file and a rename, so a failure never leaves half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// Today's date in UTC as YYYY-MM-DD (civil-from-days, no time zone database).
fn today_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
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
