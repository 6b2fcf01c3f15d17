//! What one instance of the handler logs, by the `[logging]` policy: a full
//! record for every refusal; for forwarded requests a full record each
//! ([`Forwarded::All`]), or exact counts aggregated per instance and written
//! as CloudWatch Embedded Metric Format records at most every
//! `flush_seconds` ([`Forwarded::Count`]), plus one full record without
//! metrics per `sample_every` forwarded requests ([`Forwarded::Sample`]).
//!
//! The counts carry the same metrics (`requests`, `token_cache_hits`) and
//! dimensions (reason, decision, bot category, claim and operator) as the
//! full records, so CloudWatch's sums are the same under every policy. They
//! are written on the first decision at least `flush_ms` after the last write
//! (an instance does no work between requests), and by [`Ledger::flush`]
//! when the host ends (the CLI at the end of its input). Counts an instance
//! holds when Lambda reclaims it are lost: at most `flush_seconds` of its
//! forwarded requests, in the metrics only (refusals are never held).
//!
//! Invariant, as for every record: never a token, cookie, query string or
//! full client IP (the counts hold none of the request at all).

use edge_auth_core::config::{Forwarded, Logging};
use edge_auth_core::{CfRequest, Decision, Outcome};

use crate::{Aws, LogRecord, log_struct, write_record};

/// What forwarded requests are counted by: reason, bot category, claim
/// status and claimed operator (`none` when verified by no means).
type Key = (
    &'static str,
    Option<String>,
    Option<&'static str>,
    Option<String>,
);

/// One instance's logging state.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Forwarded requests and token-cache hits since the last write, by key,
    /// each key once, in key order (the order they are written in). A
    /// sorted vector rather than a map: an instance sees a handful of keys
    /// (a reason, a bot category, a claim), and a cold start's first
    /// forwarded request then compiles a binary search instead of a B-tree's
    /// insertion (about 4 KB less wasm for V8 to compile; docs/benchmarks.md).
    counts: Vec<(Key, (u64, u64))>,
    /// When the counts were last written (or the first decision).
    since_ms: Option<u64>,
    /// Forwarded requests seen, for the sample.
    forwarded: u64,
}

/// One aggregated EMF record's fields (its `_aws` directive is spliced in
/// by `write_record`).
#[derive(serde::Serialize)]
struct CountRecord<'a> {
    requests: u64,
    token_cache_hits: u64,
    reason: &'static str,
    decision: &'static str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    bot_category: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bot_claim: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bot_operator: Option<&'a str>,
    /// The span the counts cover, in seconds (since the last write).
    window_seconds: u64,
}

impl Ledger {
    /// An empty ledger (a new instance).
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Forwarded requests counted and not yet written.
    pub fn pending(&self) -> u64 {
        self.counts.iter().map(|(_, c)| c.0).sum()
    }

    /// Logs one decision: appends to `out` the lines to print (each ending
    /// in `\n`; none for a counted forward), then the counts when due.
    pub fn record(
        &mut self,
        policy: &Logging,
        outcome: &Outcome,
        request: &CfRequest,
        request_id: Option<&str>,
        now_ms: u64,
        out: &mut String,
    ) {
        let since = *self.since_ms.get_or_insert(now_ms);
        let forwarded = matches!(outcome.decision, Decision::Forward { .. });
        if !forwarded || policy.forwarded == Forwarded::All {
            write_outcome(out, outcome, request, request_id, now_ms, None);
        } else {
            let key: Key = (
                outcome.reason.as_str(),
                outcome.bot.as_ref().map(|b| b.category.clone()),
                outcome.claim.as_ref().map(|c| c.status.as_str()),
                outcome.claim.as_ref().map(|c| {
                    if c.operator.is_empty() {
                        "none".to_owned()
                    } else {
                        c.operator.clone()
                    }
                }),
            );
            // A key not yet counted is filed where key order puts it.
            let at = match self.counts.binary_search_by(|(k, _)| k.cmp(&key)) {
                Ok(at) => at,
                Err(at) => {
                    self.counts.insert(at, (key, (0, 0)));
                    at
                }
            };
            let c = &mut self.counts[at].1;
            c.0 += 1;
            c.1 += u64::from(outcome.token_cache_hit);
            if policy.forwarded == Forwarded::Sample {
                if self
                    .forwarded
                    .is_multiple_of(u64::from(policy.sample_every.max(1)))
                {
                    let every = Some(policy.sample_every);
                    write_outcome(out, outcome, request, request_id, now_ms, every);
                }
                self.forwarded += 1;
            }
        }
        if now_ms.saturating_sub(since) >= policy.flush_ms && !self.counts.is_empty() {
            self.flush(now_ms, out);
        }
    }

    /// Writes the counts held (one EMF record per key) and starts a new window.
    #[inline(never)]
    pub fn flush(&mut self, now_ms: u64, out: &mut String) {
        let since = self.since_ms.unwrap_or(now_ms);
        let window_seconds = now_ms.saturating_sub(since) / 1000;
        // In key order (as `record` files them), as a log reader (and a test) expects them.
        for ((reason, category, claim, operator), (requests, hits)) in
            std::mem::take(&mut self.counts)
        {
            write_record(
                out,
                Some(&Aws::new(now_ms, category.is_some(), claim.is_some())),
                &CountRecord {
                    requests,
                    token_cache_hits: hits,
                    reason,
                    decision: "forward",
                    status: "forward",
                    bot_category: category.as_deref(),
                    bot_claim: claim,
                    bot_operator: operator.as_deref(),
                    window_seconds,
                },
            );
        }
        self.since_ms = Some(now_ms);
    }
}

/// Appends `outcome`'s record as one line: in full (its metrics as EMF), or,
/// for a sampled forward (`sampled`: one in how many), without the metrics
/// (the counts carry them). Out of line: a forwarded request under the
/// `count` policy never calls it, so V8 does not compile it for one.
#[inline(never)]
fn write_outcome(
    out: &mut String,
    outcome: &Outcome,
    request: &CfRequest,
    request_id: Option<&str>,
    now_ms: u64,
    sampled: Option<u32>,
) {
    let mut record = log_struct(outcome, request, request_id, now_ms);
    if sampled.is_some() {
        record.aws = None;
        record.requests = None;
        record.token_cache_hits = None;
        record.sampled = sampled;
    }
    write_full(out, record);
}

/// Appends a full record as one line (the `_aws` directive spliced in).
fn write_full(out: &mut String, mut record: LogRecord<'_>) {
    let aws = record.aws.take();
    write_record(out, aws.as_ref(), &record);
}

#[cfg(test)]
mod tests {
    use edge_auth_core::reason::Reason;
    use edge_auth_core::{BotMatch, Response};
    use serde_json::Value;

    use super::*;

    fn forward(reason: Reason, bot: Option<&str>, hit: bool) -> Outcome {
        Outcome {
            decision: Decision::Forward {
                uri: None,
                querystring: None,
                drop_authorization: false,
                cookie: None,
            },
            reason,
            bot: bot.map(|c| BotMatch {
                id: "x".into(),
                category: c.into(),
                action: edge_auth_core::BotAction::Monitor,
            }),
            token_cache_hit: hit,
            claim: None,
            signature: None,
        }
    }

    fn deny() -> Outcome {
        Outcome {
            decision: Decision::Respond(Response {
                status: 403,
                status_description: "Forbidden",
                headers: vec![],
                body: String::new(),
            }),
            ..forward(Reason::BotBlocked, Some("scraper"), false)
        }
    }

    fn request() -> CfRequest {
        CfRequest {
            client_ip: "203.0.113.77".into(),
            method: "GET".into(),
            uri: "/public/a.css".into(),
            querystring: "token=secret".into(),
            headers: vec![],
        }
    }

    fn policy(forwarded: Forwarded) -> Logging {
        Logging {
            forwarded,
            sample_every: 3,
            flush_ms: 60_000,
        }
    }

    fn lines(out: &str) -> Vec<Value> {
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Metric sums over every line, by reason: what CloudWatch would add up.
    fn sums(out: &str) -> std::collections::BTreeMap<String, (u64, u64)> {
        let mut m = std::collections::BTreeMap::new();
        for l in lines(out) {
            if l.get("_aws").is_none() {
                continue;
            }
            let e: &mut (u64, u64) = m
                .entry(l["reason"].as_str().unwrap().to_owned())
                .or_default();
            e.0 += l["requests"].as_u64().unwrap();
            e.1 += l["token_cache_hits"].as_u64().unwrap();
        }
        m
    }

    /// The same decisions under every policy: the metrics add up the same.
    #[test]
    fn every_policy_counts_the_same() {
        let decisions: Vec<(Outcome, u64)> = (0..250u64)
            .map(|i| {
                let o = match i % 5 {
                    0 => deny(),
                    1 => forward(Reason::TokenValid, None, i % 2 == 0),
                    2 => forward(Reason::PublicPath, Some("search-engine"), false),
                    _ => forward(Reason::PublicPath, None, false),
                };
                (o, 1_000_000 + i * 1000)
            })
            .collect();
        let mut per_policy = Vec::new();
        for f in [Forwarded::All, Forwarded::Count, Forwarded::Sample] {
            let mut ledger = Ledger::new();
            let mut out = String::new();
            for (o, t) in &decisions {
                ledger.record(&policy(f), o, &request(), Some("r"), *t, &mut out);
            }
            ledger.flush(2_000_000, &mut out);
            assert_eq!(ledger.pending(), 0);
            per_policy.push((f, sums(&out), out));
        }
        let all = &per_policy[0].1;
        assert_eq!(all["public_path"], (150, 0));
        assert_eq!(all["token_valid"], (50, 25));
        assert_eq!(all["bot_blocked"], (50, 0));
        for (f, s, _) in &per_policy {
            assert_eq!(s, all, "{f:?}");
        }
        // All: one line each. Count: 50 refusals + the flushes (every 60 s
        // over 250 s, three keys each). Sample: those plus 1 in 3 forwards.
        let count = lines(&per_policy[1].2);
        assert_eq!(lines(&per_policy[0].2).len(), 250);
        assert_eq!(count.iter().filter(|l| l["decision"] == "deny").count(), 50);
        let flushed: Vec<&Value> = count
            .iter()
            .filter(|l| l.get("window_seconds").is_some())
            .collect();
        assert_eq!(flushed.len(), 5 * 3, "{count:?}");
        assert!(
            flushed
                .iter()
                .all(|l| l["window_seconds"].as_u64().unwrap() >= 60
                    || l["_aws"]["Timestamp"] == 2_000_000)
        );
        let sample = lines(&per_policy[2].2);
        let sampled: Vec<&Value> = sample
            .iter()
            .filter(|l| l.get("sampled").is_some())
            .collect();
        assert_eq!(sampled.len(), 200usize.div_ceil(3));
        assert!(
            sampled.iter().all(|l| l.get("_aws").is_none()
                && l.get("requests").is_none()
                && l["sampled"] == 3)
        );
    }

    /// Keys are filed in key order whatever order they first come in, and a
    /// flush writes them in that order.
    #[test]
    fn counts_are_written_in_key_order_whatever_order_they_came_in() {
        let mut ledger = Ledger::new();
        let mut out = String::new();
        let p = policy(Forwarded::Count);
        let arrivals = [
            (Reason::TokenValid, None),
            (Reason::PublicPath, Some("search-engine")),
            (Reason::PublicPath, None),
            (Reason::PublicPath, Some("ai-crawler")),
            (Reason::TokenValid, None),
            (Reason::PublicPath, Some("search-engine")),
        ];
        for (reason, bot) in arrivals {
            ledger.record(
                &p,
                &forward(reason, bot, false),
                &request(),
                None,
                1_000,
                &mut out,
            );
        }
        assert!(out.is_empty());
        ledger.flush(2_000, &mut out);
        let written: Vec<(String, Option<String>, u64)> = lines(&out)
            .iter()
            .map(|l| {
                (
                    l["reason"].as_str().unwrap().to_owned(),
                    l.get("bot_category")
                        .map(|c| c.as_str().unwrap().to_owned()),
                    l["requests"].as_u64().unwrap(),
                )
            })
            .collect();
        let row = |r: &str, c: Option<&str>, n: u64| (r.to_owned(), c.map(str::to_owned), n);
        assert_eq!(
            written,
            [
                row("public_path", None, 1),
                row("public_path", Some("ai-crawler"), 1),
                row("public_path", Some("search-engine"), 2),
                row("token_valid", None, 2),
            ]
        );
    }

    #[test]
    fn counts_keep_the_bot_dimension_and_hold_nothing_of_the_request() {
        let mut ledger = Ledger::new();
        let mut out = String::new();
        let p = policy(Forwarded::Count);
        ledger.record(
            &p,
            &forward(Reason::PublicPath, Some("search-engine"), false),
            &request(),
            Some("r"),
            1_000,
            &mut out,
        );
        assert!(out.is_empty(), "a counted forward prints nothing");
        assert_eq!(ledger.pending(), 1);
        ledger.record(
            &p,
            &forward(Reason::PublicPath, Some("search-engine"), false),
            &request(),
            Some("r"),
            60_999,
            &mut out,
        );
        assert!(out.is_empty(), "not yet a minute");
        ledger.record(
            &p,
            &forward(Reason::PublicPath, None, false),
            &request(),
            Some("r"),
            61_000,
            &mut out,
        );
        let l = lines(&out);
        assert_eq!(l.len(), 2);
        assert_eq!(l[0]["requests"], 1);
        assert_eq!(l[1]["requests"], 2);
        assert_eq!(l[1]["bot_category"], "search-engine");
        assert_eq!(
            l[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(l[1]["window_seconds"], 60);
        for needle in ["203.0.113", "secret", "/public", "\"r\""] {
            assert!(!out.contains(needle), "{needle} in {out}");
        }
        // Nothing held: flush writes nothing.
        let mut more = String::new();
        ledger.flush(70_000, &mut more);
        assert!(more.is_empty());
    }
}
