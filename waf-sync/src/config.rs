//! waf-sync's settings: a TOML file, then command-line flags over it, read
//! once in `main` into one [`Config`]. Unknown fields are errors. Relative
//! paths are relative to the working directory (in Lambda, the package root).

use std::path::PathBuf;

use serde::Deserialize;

use crate::apply::Settings;
use crate::derive::Guards;
use crate::plan::{Aggregate, RateRule};
use crate::source::SourceConfig;
use crate::waf::Target;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub source: FileSource,
    #[serde(default)]
    pub waf: FileWaf,
    #[serde(default)]
    pub guards: FileGuards,
    #[serde(default)]
    pub rate_rule: Option<FileRate>,
    /// Bot catalog directory [default: built in].
    #[serde(default)]
    pub catalog: Option<PathBuf>,
    /// Browser corpus for the guard [default: node_modules/user-agents/...].
    #[serde(default)]
    pub browsers: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    pub url: Option<String>,
    pub table: Option<String>,
    pub user_agent_column: Option<String>,
    pub hits_column: Option<String>,
    pub status_column: Option<String>,
    pub skip_statuses: Option<Vec<String>>,
    /// When set, only rows with one of these statuses block.
    pub block_statuses: Option<Vec<String>>,
    /// With `block_statuses`: whether rows with no status block [default: true].
    pub block_unreviewed: Option<bool>,
    /// PEM CA bundle for PostgreSQL TLS (e.g. the Amazon RDS bundle).
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWaf {
    pub web_acl: Option<String>,
    /// Write the rules into this rule group (which the web ACL references)
    /// instead of the web ACL itself: the deployment template's setting.
    pub rule_group: Option<String>,
    pub scope: Option<String>,
    pub prefix: Option<String>,
    pub max_sets: Option<usize>,
    pub max_wcu: Option<u32>,
    pub max_ip_sets: Option<usize>,
    pub writes_per_second: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileGuards {
    pub min_token_len: Option<usize>,
    pub min_hits: Option<i64>,
    pub max_new_per_run: Option<usize>,
    pub shrink_ratio: Option<f64>,
    pub allowlist: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRate {
    pub limit: i64,
    pub window_seconds: i64,
    #[serde(default = "ip")]
    pub aggregate: Aggregate,
    #[serde(default)]
    pub scope_down_path_prefix: Option<String>,
}

fn ip() -> Aggregate {
    Aggregate::Ip
}

/// Flags that override the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub source: Option<String>,
    pub web_acl: Option<String>,
    pub rule_group: Option<String>,
    pub scope: Option<String>,
    pub catalog: Option<PathBuf>,
    pub force: bool,
    /// The Lambda entry: each invocation may name the rule group (the
    /// stack's schedule and custom resource do), so the file need not.
    pub target_per_invocation: bool,
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: SourceConfig,
    /// Where the rules go: a web ACL, or a rule group the web ACL references
    /// (`None` only in the Lambda, where each invocation names it).
    pub target: Option<Target>,
    pub cloudfront: bool,
    pub settings: Settings,
    pub catalog: Option<PathBuf>,
    pub browsers: Option<PathBuf>,
}

/// WAF's `EntityName`: 1-128 of `A-Z a-z 0-9 - _`.
pub fn check_name(target: &Target) -> Result<(), String> {
    let name = target.name();
    if name.is_empty()
        || name.len() > 128
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "{} is not a WAF name (1-128 of A-Z a-z 0-9 - _)",
            target.describe()
        ));
    }
    Ok(())
}

impl Config {
    /// Merges defaults, the file (if any) and the flags, and validates.
    pub fn build(file: FileConfig, o: Overrides) -> Result<Config, String> {
        let url = o.source.or(file.source.url).ok_or("no source: give --source (postgres://..., sqlite://PATH or a .csv file) or [source] url")?;
        let defaults = SourceConfig::default();
        let source = SourceConfig {
            url,
            table: file.source.table.unwrap_or(defaults.table),
            user_agent_column: file
                .source
                .user_agent_column
                .unwrap_or(defaults.user_agent_column),
            hits_column: file.source.hits_column.unwrap_or(defaults.hits_column),
            status_column: file.source.status_column.unwrap_or(defaults.status_column),
            ca_file: file.source.ca_file,
        };
        // A flag beats the file; one of the two kinds, never both.
        let (acl, group) = match (o.web_acl, o.rule_group) {
            (None, None) => (file.waf.web_acl, file.waf.rule_group),
            flags => flags,
        };
        let target = match (acl, group) {
            (Some(a), None) => Some(Target::WebAcl(a)),
            (None, Some(g)) => Some(Target::RuleGroup(g)),
            (Some(_), Some(_)) => {
                return Err("both a web ACL and a rule group: give one ([waf] web_acl or [waf] rule_group, or --web-acl / --rule-group)".into());
            }
            (None, None) if o.target_per_invocation => None,
            (None, None) => {
                return Err("no target: give --rule-group NAME or --web-acl NAME, or [waf] rule_group / web_acl".into());
            }
        };
        if let Some(target) = &target {
            check_name(target)?;
        }
        let scope = o
            .scope
            .or(file.waf.scope)
            .unwrap_or_else(|| "CLOUDFRONT".into());
        let cloudfront = match scope.to_ascii_uppercase().as_str() {
            "CLOUDFRONT" => true,
            "REGIONAL" => false,
            other => return Err(format!("scope {other:?} is not CLOUDFRONT or REGIONAL")),
        };
        let mut settings = Settings {
            force: o.force,
            ..Settings::default()
        };
        if let Some(p) = file.waf.prefix {
            if p.is_empty()
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                || p.len() > 40
            {
                return Err(format!(
                    "waf.prefix {p:?} must be 1-40 letters, digits, '-' or '_'"
                ));
            }
            settings.prefix = p;
        }
        if let Some(n) = file.waf.max_sets {
            settings.budget.max_sets = n;
        }
        if let Some(n) = file.waf.max_wcu {
            settings.budget.max_wcu = n;
        }
        if let Some(n) = file.waf.max_ip_sets {
            if n > 100 {
                return Err(format!(
                    "waf.max_ip_sets {n} is over WAF's 100 IP sets per account and scope"
                ));
            }
            settings.budget.max_ip_sets = n;
        }
        if let Some(w) = file.waf.writes_per_second {
            if !(w > 0.0 && w <= 10.0) {
                return Err(format!("waf.writes_per_second {w} must be in (0, 10]"));
            }
            settings.writes_per_second = w;
        }
        let mut guards = Guards::default();
        if let Some(s) = file.source.skip_statuses {
            guards.skip_statuses = s;
        }
        guards.block_statuses = file.source.block_statuses;
        if let Some(b) = file.source.block_unreviewed {
            guards.block_unreviewed = b;
        }
        if let Some(n) = file.guards.min_hits {
            guards.min_hits = n;
        }
        if let Some(block) = &guards.block_statuses {
            let skipped: Vec<&String> = block
                .iter()
                .filter(|b| {
                    guards.skip_statuses.iter().any(|s| {
                        crate::derive::normalize_status(Some(s))
                            == crate::derive::normalize_status(Some(b))
                    })
                })
                .collect();
            if !skipped.is_empty() {
                return Err(format!(
                    "source.block_statuses and skip_statuses both list {skipped:?}: say which it is"
                ));
            }
        }
        if let Some(n) = file.guards.min_token_len {
            guards.min_token_len = n.max(3);
        }
        if let Some(a) = file.guards.allowlist {
            guards.allowlist = a.into_iter().map(|x| x.to_ascii_lowercase()).collect();
        }
        settings.guards = guards;
        if let Some(n) = file.guards.max_new_per_run {
            settings.max_new = n;
        }
        if let Some(r) = file.guards.shrink_ratio {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("guards.shrink_ratio {r} must be between 0 and 1"));
            }
            settings.shrink_ratio = r;
        }
        settings.rate = match file.rate_rule {
            Some(r) => {
                let rule = RateRule {
                    limit: r.limit,
                    window_s: r.window_seconds,
                    aggregate: r.aggregate,
                    scope_down_path_prefix: r.scope_down_path_prefix,
                };
                rule.validate().map_err(|e| format!("rate_rule: {e}"))?;
                Some(rule)
            }
            None => None,
        };
        Ok(Config {
            source,
            target,
            cloudfront,
            settings,
            catalog: o.catalog.or(file.catalog),
            browsers: file.browsers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        let file: FileConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        Config::build(file, Overrides::default())
    }

    #[test]
    fn minimal_and_refusals() {
        let ok = parse("[source]\nurl = \"x.csv\"\n[waf]\nweb_acl = \"acl\"\n").unwrap();
        assert!(ok.cloudfront);
        assert!(
            parse("[source]\nurl = \"x.csv\"\n[waf]\nweb_acl = \"acl\"\nscope = \"GLOBAL\"\n")
                .unwrap_err()
                .contains("GLOBAL")
        );
        assert!(parse("[source]\nurl = \"x.csv\"\n[waf]\nweb_acl = \"a\"\n[rate_rule]\nlimit = 5\nwindow_seconds = 300\n").unwrap_err().contains("10..="));
        assert!(parse("[source]\nurl = \"x.csv\"\n[waf]\nweb_acl = \"a\"\n[rate_rule]\nlimit = 100\nwindow_seconds = 30\n").unwrap_err().contains("60, 120"));
        assert!(
            parse("[sourse]\nurl = \"x\"\n")
                .unwrap_err()
                .contains("unknown field")
        );
        let group = parse("[source]\nurl = \"x.csv\"\n[waf]\nrule_group = \"g-1\"\n").unwrap();
        assert_eq!(group.target, Some(Target::RuleGroup("g-1".into())));
        assert!(
            parse("[source]\nurl = \"x.csv\"\n[waf]\nrule_group = \"g\"\nweb_acl = \"a\"\n")
                .unwrap_err()
                .contains("both")
        );
        assert!(
            parse("[source]\nurl = \"x.csv\"\n[waf]\nrule_group = \"g;x\"\n")
                .unwrap_err()
                .contains("not a WAF name")
        );
        let flag = Config::build(
            toml::from_str("[source]\nurl = \"x.csv\"\n[waf]\nweb_acl = \"a\"\n").unwrap(),
            Overrides {
                rule_group: Some("g".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(flag.target, Some(Target::RuleGroup("g".into())));
        let lambda = Config::build(
            toml::from_str("[source]\nurl = \"x.csv\"\n").unwrap(),
            Overrides {
                target_per_invocation: true,
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(lambda.target, None);
        assert!(
            parse("[source]\nurl = \"x.csv\"\n")
                .unwrap_err()
                .contains("no target")
        );
        assert!(
            parse("[waf]\nweb_acl = \"a\"\n")
                .unwrap_err()
                .contains("no source")
        );
    }
}
