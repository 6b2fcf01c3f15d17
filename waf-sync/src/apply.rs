//! One run: read the WAF state, plan against the source and the catalog, check
//! the blast-radius guards, then apply with correct optimistic locking (Get →
//! merge → Update with the LockToken; on a lock conflict re-read, re-merge and
//! retry with jittered backoff, bounded), writes paced. Sets are created
//! before the rule uses them and deleted only after it stopped, so a failure
//! at any point leaves a consistent web ACL.

use std::collections::BTreeMap;
use std::time::Duration;

use bot_signatures::Catalog;
use bot_signatures::Matcher;
use bot_signatures::VerifiedBots;
use bot_signatures::corpus::BrowserCorpus;
use bot_signatures::waf::Budget;
use serde::Serialize;

use crate::agent::FlaggedAgent;
use crate::derive::{Guards, derive};
use crate::plan::{Managed, Plan, RateRule, SetKind, assign_names, desired, kind_of, plan};
use crate::waf::{SetInfo, WafApi, WafError};

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Name prefix of everything waf-sync manages.
    pub prefix: String,
    /// Pattern sets and WCU available.
    pub budget: Budget,
    /// The rate-based rule (validated).
    pub rate: Option<RateRule>,
    /// Candidate guards.
    pub guards: Guards,
    /// Most new signatures one run may add without `force`.
    pub max_new: usize,
    /// Refuse to remove rules when the source returns fewer than this share of last run's rows.
    pub shrink_ratio: f64,
    /// Override the blast-radius guards.
    pub force: bool,
    /// Plan only.
    pub dry_run: bool,
    /// Write calls per second at most.
    pub writes_per_second: f64,
    /// Attempts per write before giving up.
    pub max_attempts: u32,
    /// First backoff; doubled per attempt, plus jitter.
    pub backoff: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            prefix: "edge-bots".into(),
            budget: Budget::default(),
            rate: None,
            guards: Guards::default(),
            max_new: 50,
            shrink_ratio: 0.5,
            force: false,
            dry_run: false,
            writes_per_second: 1.0,
            max_attempts: 6,
            backoff: Duration::from_millis(200),
        }
    }
}

/// What a run did, logged every time (also on failure, as far as it got).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Rows read from the source.
    pub read: usize,
    /// Candidate signatures derived.
    pub derived: usize,
    /// Rows rejected, by reason.
    pub rejected: BTreeMap<String, usize>,
    /// Rows read, by normalized status (`(none)`: NULL or blank).
    pub statuses: BTreeMap<String, usize>,
    /// Regexes added to / removed from the managed sets.
    pub added: usize,
    /// Regexes removed.
    pub removed: usize,
    /// Managed sets left as they were.
    pub unchanged_sets: usize,
    /// Sets created / updated / deleted.
    pub sets_created: usize,
    /// Sets updated.
    pub sets_updated: usize,
    /// Sets deleted.
    pub sets_deleted: usize,
    /// Whether waf-sync's rules (in the web ACL or the rule group) were written.
    pub rules_updated: bool,
    /// Changed pattern sets updated in place rather than switched blue/green
    /// (only when `max_sets` has no room for old and new side by side; see
    /// `plan::assign_names`).
    pub in_place_updates: usize,
    /// Managed sets left because a rule waf-sync does not own still
    /// references them (deleted by a later run once it stops).
    pub sets_in_use: Vec<String>,
    /// API calls made.
    pub read_calls: usize,
    /// Write calls made (including refused ones).
    pub write_calls: usize,
    /// Retries after lock conflicts or transient errors.
    pub retries: usize,
    /// WCU of the user-agent rule.
    pub wcu: u32,
    /// Pattern sets used.
    pub sets_used: usize,
    /// IP sets used (verified bots' addresses).
    pub ip_sets_used: usize,
    /// Signatures that did not fit, with the reason.
    pub left_out: Vec<String>,
    /// Whether the plan was applied (false for `plan` and for refused runs).
    pub applied: bool,
}

/// The CloudWatch namespace of waf-sync's metrics.
pub const METRICS_NAMESPACE: &str = "WafSync";

impl Summary {
    /// The summary as one CloudWatch Embedded Metric Format record (the
    /// Lambda's log turns it into metrics), by web ACL.
    pub fn emf(&self, web_acl: &str, failed: bool, now_ms: u64) -> serde_json::Value {
        let metrics = [
            "read",
            "derived",
            "rejected",
            "added",
            "removed",
            "write_calls",
            "retries",
            "failed",
        ];
        let mut rec = serde_json::json!({
            "_aws": {
                "Timestamp": now_ms,
                "CloudWatchMetrics": [{
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [["web_acl"]],
                    "Metrics": metrics.iter().map(|m| serde_json::json!({ "Name": m, "Unit": "Count" })).collect::<Vec<_>>(),
                }],
            },
            "web_acl": web_acl,
            "read": self.read,
            "derived": self.derived,
            "rejected": self.rejected.values().sum::<usize>(),
            "added": self.added,
            "removed": self.removed,
            "write_calls": self.write_calls,
            "retries": self.retries,
            "failed": u8::from(failed),
            "applied": self.applied,
        });
        if let Some(obj) = rec.as_object_mut() {
            obj.insert(
                "rejected_by_reason".into(),
                serde_json::json!(self.rejected),
            );
        }
        rec
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A guard refused the plan; nothing was written.
    #[error("refused: {0}")]
    Refused(String),
    /// WAF failed; what was written so far is consistent.
    #[error("{0}")]
    Waf(#[from] WafError),
}

/// How many candidates the deployed rules do not block yet: a candidate is
/// new when no deployed regex (in a managed pattern set or inline, on the
/// lowercased user-agent, as WAF reads it) matches its example. The text of
/// the deployed regexes is no guide: the compiler merges tokens by common
/// prefix and escapes them.
pub fn new_to_waf(current: &Managed, candidates: &[crate::derive::Candidate]) -> usize {
    let deployed: Vec<regex::Regex> = current
        .regexes()
        .iter()
        .filter_map(|r| regex::Regex::new(r).ok())
        .collect();
    candidates
        .iter()
        .filter(|c| {
            let ua = c.example.to_ascii_lowercase();
            !deployed.iter().any(|r| r.is_match(&ua))
        })
        .count()
}

type Pacer = governor::DefaultDirectRateLimiter;

/// Paces writes (GCRA, governor) and counts calls.
struct Calls {
    pacer: Pacer,
    summary: Summary,
    jitter_state: u64,
}

impl Calls {
    /// Writes paced at `settings.writes_per_second`; `seed` varies the jitter.
    fn new(settings: &Settings, summary: Summary, seed: u64) -> Calls {
        let period = Duration::from_secs_f64(1.0 / settings.writes_per_second.max(0.01));
        let quota = governor::Quota::with_period(period)
            .unwrap_or_else(|| governor::Quota::per_second(std::num::NonZeroU32::MIN));
        Calls {
            pacer: governor::RateLimiter::direct(quota),
            summary,
            jitter_state: 0x9E37_79B9_7F4A_7C15 ^ seed,
        }
    }

    async fn before_write(&mut self) {
        self.pacer.until_ready().await;
        self.summary.write_calls += 1;
    }

    /// After a failed call: `Ok(())` to try again after a jittered backoff,
    /// or the error when it is final (not a lock conflict or transient error,
    /// or out of attempts). A create has no lock token, so a lock conflict
    /// cannot reach here from one.
    async fn retry_or_fail(
        &mut self,
        settings: &Settings,
        attempt: &mut u32,
        e: WafError,
    ) -> Result<(), WafError> {
        let retryable = matches!(e, WafError::OptimisticLock | WafError::Transient(_));
        if !retryable || *attempt + 1 >= settings.max_attempts {
            return Err(e);
        }
        *attempt += 1;
        self.summary.retries += 1;
        backoff(settings, self, *attempt, &e).await;
        Ok(())
    }

    fn jitter_ms(&mut self) -> u64 {
        // xorshift: jitter needs spread, not secrecy.
        let mut x = self.jitter_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter_state = x;
        x % 100
    }
}

/// What a set's description says about the run that wrote it: the source
/// rows it saw and its number (`managed by waf-sync, rows=N, run=K`; a set
/// from before run numbers is run 0).
fn written_by(description: &str) -> (Option<usize>, u64) {
    let field = |key: &str| {
        description
            .split([' ', ','])
            .find_map(|w| w.strip_prefix(key))
            .and_then(|n| n.parse::<u64>().ok())
    };
    (
        field("rows=").and_then(|n| usize::try_from(n).ok()),
        field("run=").unwrap_or(0),
    )
}

/// The state waf-sync manages, read from WAF.
async fn read_state<W: WafApi>(
    waf: &W,
    prefix: &str,
    calls: &mut Calls,
) -> Result<(Managed, Vec<SetInfo>, crate::waf::AclSnapshot<W::Acl>), WafError> {
    calls.summary.read_calls += 2;
    let mut sets = waf.list_sets(&format!("{prefix}-ua-")).await?;
    sets.extend(waf.list_sets(&format!("{prefix}-ip-")).await?);
    let mut managed = Managed::default();
    for set in &sets {
        calls.summary.read_calls += 1;
        let content = waf.get_set(set).await?;
        if set.kind == SetKind::Regex {
            let (rows, run) = written_by(&content.description);
            if managed.rows_last_time.is_none() || run > managed.last_run {
                managed.rows_last_time = rows;
                managed.last_run = run;
            }
        }
        managed.sets.insert(set.name.clone(), content.items);
    }
    let names: BTreeMap<String, String> = sets
        .iter()
        .map(|s| (s.arn.clone(), s.name.clone()))
        .collect();
    calls.summary.read_calls += 1;
    let acl = waf.get_acl(&names).await?;
    managed.ua_rule = acl.ua_rule.clone();
    managed.rate_rule = acl.rate_rule.clone();
    Ok((managed, sets, acl))
}

/// Runs once: returns the plan and the summary. `verified` is the catalog's
/// verified-bot table: the bots a block would hit are exempt only from their
/// operators' addresses.
pub async fn run<W: WafApi>(
    waf: &W,
    rows: &[FlaggedAgent],
    catalog: &Catalog,
    verified: Option<&VerifiedBots>,
    matcher: &Matcher,
    browsers: &BrowserCorpus,
    settings: &Settings,
) -> Result<(Plan, Summary), (RunError, Summary)> {
    let mut calls = Calls::new(
        settings,
        Summary {
            read: rows.len(),
            ..Summary::default()
        },
        rows.len() as u64,
    );
    let derived = derive(rows, matcher, browsers, &settings.guards);
    calls.summary.derived = derived.candidates.len();
    calls.summary.statuses = derived.statuses.clone();
    calls.summary.rejected = derived
        .rejected
        .iter()
        .map(|(r, n)| (r.to_string(), *n))
        .collect();

    let (current, mut sets, mut acl) = match read_state(waf, &settings.prefix, &mut calls).await {
        Ok(s) => s,
        Err(e) => return Err((e.into(), calls.summary)),
    };
    // In a rule group the rules must fit the capacity it was created with.
    let mut budget = settings.budget;
    if let Some(capacity) = acl.capacity {
        let rate = settings.rate.as_ref().map_or(0, RateRule::wcu);
        budget.max_wcu = budget.max_wcu.min(capacity.saturating_sub(rate));
    }
    let mut want = desired(
        catalog,
        verified,
        &derived.candidates,
        budget,
        &settings.prefix,
        settings.rate.clone(),
    );
    calls.summary.in_place_updates = assign_names(
        &current,
        &mut want.managed,
        &settings.prefix,
        settings.budget.max_sets,
    );
    if calls.summary.in_place_updates > 0 {
        eprintln!(
            "waf-sync: warning: max_sets ({}) leaves no room to switch {} changed pattern sets blue/green; they are updated in place, and for a moment the rule sees their new contents",
            settings.budget.max_sets, calls.summary.in_place_updates
        );
    }
    let p = plan(&current, &want.managed);
    calls.summary.added = p.added.len();
    calls.summary.removed = p.removed.len();
    calls.summary.unchanged_sets =
        want.managed.sets.len() - p.create_sets.len() - p.update_sets.len();
    calls.summary.wcu = want.rules.wcu;
    calls.summary.sets_used = want.rules.sets_used;
    calls.summary.ip_sets_used = want.rules.ip_sets.len();
    calls.summary.left_out = want
        .rules
        .left_out
        .iter()
        .filter(|l| !l.reason.starts_with("generic rule"))
        .map(|l| format!("{}: {}", l.id, l.reason))
        .collect();

    // The planned rules must prove before anything is written: every
    // example of every packed signature blocked, no browser of the corpus
    // and no exception example, the quotas kept.
    let problems = bot_signatures::waf::prove(&want.rules, &want.catalog, verified, Some(browsers));
    if !problems.is_empty() {
        return Err((
            RunError::Refused(format!(
                "the planned WAF rules fail their proof ({} problems; nothing written), first: {}",
                problems.len(),
                problems[0]
            )),
            calls.summary,
        ));
    }

    // Blast-radius guards.
    if !settings.force {
        let new_candidates = new_to_waf(&current, &derived.candidates);
        if new_candidates > settings.max_new {
            return Err((
                RunError::Refused(format!(
                    "{new_candidates} new signatures, more than the {} a run may add; check the source, then use --force",
                    settings.max_new
                )),
                calls.summary,
            ));
        }
        if let Some(last) = current.rows_last_time
            && (rows.len() as f64) < last as f64 * settings.shrink_ratio
            && (!p.removed.is_empty() || !p.delete_sets.is_empty())
        {
            return Err((
                RunError::Refused(format!(
                    "the source returned {} rows against {last} last time; refusing to remove rules (an outage or an emptied table?); use --force if this is intended",
                    rows.len()
                )),
                calls.summary,
            ));
        }
    }
    if settings.dry_run || p.is_empty() {
        return Ok((p, calls.summary));
    }

    // WAF's EntityDescription pattern allows no `;`.
    let description = format!(
        "managed by waf-sync, rows={}, run={}",
        rows.len(),
        current.last_run + 1
    );
    let result = apply(
        waf,
        &p,
        &want.managed,
        &mut sets,
        &mut acl,
        &description,
        settings,
        &mut calls,
    )
    .await;
    calls.summary.applied = result.is_ok();
    match result {
        Ok(()) => Ok((p, calls.summary)),
        Err(e) => Err((e.into(), calls.summary)),
    }
}

/// Get → Update of one set with its lock token, re-read and retried on a
/// conflict or a transient error: to `regexes`, or (`None`) to the contents
/// it holds, which rewrites only its description.
async fn update_set<W: WafApi>(
    waf: &W,
    set: &SetInfo,
    regexes: Option<&[String]>,
    description: &str,
    settings: &Settings,
    calls: &mut Calls,
) -> Result<(), WafError> {
    let mut attempt = 0;
    loop {
        calls.summary.read_calls += 1;
        let content = waf.get_set(set).await?;
        calls.before_write().await;
        let items = regexes.unwrap_or(&content.items);
        match waf
            .update_set(set, items, description, &content.lock_token)
            .await
        {
            Ok(()) => return Ok(()),
            Err(e) => calls.retry_or_fail(settings, &mut attempt, e).await?,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn apply<W: WafApi>(
    waf: &W,
    p: &Plan,
    want: &Managed,
    sets: &mut Vec<SetInfo>,
    acl: &mut crate::waf::AclSnapshot<W::Acl>,
    description: &str,
    settings: &Settings,
    calls: &mut Calls,
) -> Result<(), WafError> {
    // 1. New sets first: nothing refers to them yet.
    for (name, regexes) in &p.create_sets {
        let mut attempt = 0;
        let info = loop {
            calls.before_write().await;
            match waf
                .create_set(kind_of(name), name, regexes, description)
                .await
            {
                Ok(info) => break info,
                Err(e) => calls.retry_or_fail(settings, &mut attempt, e).await?,
            }
        };
        calls.summary.sets_created += 1;
        sets.push(info);
    }
    // 2. Changed sets, each Get → Update with its token, re-read on conflict.
    for (name, (_, regexes)) in &p.update_sets {
        let set = sets
            .iter()
            .find(|s| &s.name == name)
            .cloned()
            .ok_or_else(|| WafError::Other(format!("set {name} disappeared")))?;
        update_set(waf, &set, Some(regexes), description, settings, calls).await?;
        calls.summary.sets_updated += 1;
    }
    // 2b. The shrink guard reads "last time" from the sets' descriptions: a
    // run that changes no set (only the rule, or only deletions) records its
    // row count on one kept pattern set, contents unchanged.
    if p.create_sets.is_empty() && p.update_sets.is_empty() {
        let kept = sets
            .iter()
            .find(|s| {
                s.kind == SetKind::Regex
                    && want.sets.contains_key(&s.name)
                    && !p.delete_sets.contains(&s.name)
            })
            .cloned();
        if let Some(set) = kept {
            update_set(waf, &set, None, description, settings, calls).await?;
        }
    }
    // 3. The web ACL: merge our two rules into whatever it holds now.
    if let Some((ua, rate)) = &p.update_rules {
        let arns: BTreeMap<String, String> = sets
            .iter()
            .map(|s| (s.name.clone(), s.arn.clone()))
            .collect();
        let names: BTreeMap<String, String> = sets
            .iter()
            .map(|s| (s.arn.clone(), s.name.clone()))
            .collect();
        let mut attempt = 0;
        loop {
            if attempt > 0 {
                calls.summary.read_calls += 1;
                *acl = waf.get_acl(&names).await?;
                if acl.ua_rule == *ua && acl.rate_rule == *rate {
                    break; // already as wanted
                }
            }
            calls.before_write().await;
            match waf.update_acl(acl, ua.as_ref(), rate.as_ref(), &arns).await {
                Ok(()) => break,
                Err(e) => calls.retry_or_fail(settings, &mut attempt, e).await?,
            }
        }
        calls.summary.rules_updated = true;
    }
    // 4. Sets the rule no longer uses.
    for name in &p.delete_sets {
        if want.sets.contains_key(name) {
            continue;
        }
        let Some(set) = sets.iter().find(|s| &s.name == name).cloned() else {
            continue;
        };
        let mut attempt = 0;
        loop {
            calls.summary.read_calls += 1;
            let content = waf.get_set(&set).await?;
            calls.before_write().await;
            match waf.delete_set(&set, &content.lock_token).await {
                Ok(()) => {
                    calls.summary.sets_deleted += 1;
                    break;
                }
                // Another rule (someone's copy, the old rule group during a
                // stack replacement) still uses it: not ours to break.
                Err(WafError::InUse(why)) => {
                    eprintln!("waf-sync: leaving {name}: {why}");
                    calls.summary.sets_in_use.push(name.clone());
                    break;
                }
                Err(e) => calls.retry_or_fail(settings, &mut attempt, e).await?,
            }
        }
    }
    Ok(())
}

/// Removes waf-sync's rules from its container and deletes its sets (those
/// no other rule uses): what the stack's custom resource does when the stack
/// is deleted, so no set is left to fill the account's quota. Reads no
/// source; guards do not apply.
pub async fn teardown<W: WafApi>(waf: &W, settings: &Settings) -> Result<Summary, WafError> {
    let mut calls = Calls::new(settings, Summary::default(), 0);
    let (current, mut sets, mut acl) = read_state(waf, &settings.prefix, &mut calls).await?;
    let p = plan(&current, &Managed::default());
    calls.summary.removed = p.removed.len();
    apply(
        waf,
        &p,
        &Managed::default(),
        &mut sets,
        &mut acl,
        "managed by waf-sync",
        settings,
        &mut calls,
    )
    .await?;
    calls.summary.applied = true;
    Ok(calls.summary)
}

async fn backoff(settings: &Settings, calls: &mut Calls, attempt: u32, why: &WafError) {
    let base = settings.backoff.as_millis() as u64 * (1u64 << attempt.min(6));
    let wait = Duration::from_millis(base + calls.jitter_ms());
    eprintln!("waf-sync: {why}; retry {attempt} in {wait:?}");
    tokio::time::sleep(wait).await;
}

#[cfg(test)]
mod tests {
    use super::written_by;

    #[test]
    fn a_description_names_the_rows_and_the_run_that_wrote_it() {
        assert_eq!(
            written_by("managed by waf-sync, rows=24, run=7"),
            (Some(24), 7)
        );
        // Written before run numbers: run 0, so any numbered set is newer.
        assert_eq!(written_by("managed by waf-sync, rows=40"), (Some(40), 0));
        assert_eq!(written_by("managed by waf-sync"), (None, 0));
        assert_eq!(written_by("rows=x, run=-1"), (None, 0));
    }
}
