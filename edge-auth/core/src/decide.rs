//! The decision pipeline: bot filter, rate limit and path policy with token
//! verification, in the configured order. Input: the request, the context
//! (time, config, matcher) and the per-instance state; output: forward (maybe
//! with a cleaned query string) or a generated response, with a reason code.

use std::net::IpAddr;

use bot_signatures_matcher::verify::{ClaimCheck, VerifiedBots};
use bot_signatures_matcher::{Action as BotAction, Matcher, Verdict};

use crate::cache::TokenCache;
use crate::config::{
    Access, EdgeConfig, EmptyUserAgent, PathRule, Preflight, Step, TokenSource, UnverifiedClaim,
};
use crate::hashkeys::HashKeys;
use crate::json::Json;
use crate::jwt;
use crate::policy;
use crate::rate::RateLimiter;
use crate::reason::Reason;
use crate::request::{CfRequest, client_key, query_params, remove_query_param};
use crate::text::{split_byte, split_once_byte};
use crate::uri::{self, CanonicalUri};
use crate::webbotauth::{self, Check, NonceCache, SignedAgent};

/// Clocks before this (2020-01-01) are not believed: a host whose clock reads
/// zero or near it would otherwise find no token expired.
pub const MIN_PLAUSIBLE_NOW_MS: u64 = 1_577_836_800_000;
/// Clocks after this (2100-01-01) are not believed either.
pub const MAX_PLAUSIBLE_NOW_MS: u64 = 4_102_444_800_000;

/// Everything the decision reads besides the request. Time is an input.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// Host clock, milliseconds since the Unix epoch.
    pub now_ms: u64,
    /// The validated configuration.
    pub config: &'a EdgeConfig,
    /// The compiled bot matcher (required when the bot filter runs).
    pub matcher: Option<&'a Matcher>,
    /// The verified-bot table: good bots' published address ranges. Without
    /// it every good bot's claim is taken on its word.
    pub verified: Option<&'a VerifiedBots>,
}

/// Per-instance state, owned by the adapter and kept across requests.
#[derive(Debug, Clone)]
pub struct EdgeState {
    /// The per-client limiter, when rate limiting is on.
    pub limiter: Option<RateLimiter>,
    /// The stricter limiter for `rate_limit` bot signatures.
    pub bot_limiter: RateLimiter,
    /// Verified tokens.
    pub tokens: TokenCache,
    /// Web Bot Auth nonces seen inside their window.
    pub nonces: NonceCache,
}

/// Web Bot Auth nonces remembered per instance.
pub const NONCE_CACHE_ENTRIES: usize = 10_000;

impl EdgeState {
    /// Fresh state for `config`, its tables hashed with `keys` (which the
    /// adapter draws per instance: [`crate::hashkeys`]).
    pub fn new(config: &EdgeConfig, keys: HashKeys) -> Self {
        EdgeState {
            limiter: config
                .rate
                .map(|r| RateLimiter::new(r, config.max_clients, keys)),
            bot_limiter: RateLimiter::new(config.bot_rate, config.max_clients, keys),
            tokens: TokenCache::new(config.cache_entries, keys),
            nonces: NonceCache::new(NONCE_CACHE_ENTRIES, keys),
        }
    }
}

/// A response generated at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Reason phrase.
    pub status_description: &'static str,
    /// `(lowercase name, value)`; never a read-only or forbidden CloudFront header.
    pub headers: Vec<(&'static str, String)>,
    /// Body text.
    pub body: String,
}

/// Forward or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send the request to the origin, with these changes (each `None` or
    /// `false` leaves that part of the viewer's request as it was).
    Forward {
        /// The canonical URI, when the viewer spelled it differently: the
        /// origin reads exactly the path that was authorized.
        uri: Option<String>,
        /// The query string without the signed-link parameter, when it had one
        /// (whether or not the token came from it).
        querystring: Option<String>,
        /// Remove the `Authorization` header, which carried a bearer token
        /// (`[tokens] strip_before_origin`; a Basic one is left alone).
        drop_authorization: bool,
        /// New `Cookie` header values without the token cookie, when it was
        /// there (`[tokens] strip_before_origin`); empty: remove the header.
        cookie: Option<Vec<String>>,
    },
    /// Answer with this response.
    Respond(Response),
}

/// The bot signature that decided the user-agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotMatch {
    /// Signature id.
    pub id: String,
    /// Signature category.
    pub category: String,
    /// Signature action.
    pub action: BotAction,
}

/// The result of one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What to do.
    pub decision: Decision,
    /// Why (for logs and metrics).
    pub reason: Reason,
    /// The bot signature that matched, if any (also for `monitor` and `allow`).
    pub bot: Option<BotMatch>,
    /// Whether the token was found in the verified-token cache.
    pub token_cache_hit: bool,
    /// What became of a good bot's claim, when the user-agent made one.
    pub claim: Option<Claim>,
    /// What the request's Web Bot Auth signature came to, when it had one.
    pub signature: Option<SignatureSeen>,
}

/// A Web Bot Auth signature as the bot filter saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureSeen {
    /// `verified`, or why not (`expired`, `bad_signature`, ... : [`webbotauth::Failure`]).
    pub status: &'static str,
    /// The configured agent that signed it, when verified.
    pub agent: Option<String>,
}

/// What became of a good bot's claim (an `allow` signature's match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The claimed signature.
    pub id: String,
    /// The operator it claims (`""` when the catalog verifies it by no means).
    pub operator: String,
    /// Verified, spoofed, or taken on its word.
    pub status: ClaimStatus,
    /// How a verified claim was proved: `ranges` (the operator's published
    /// addresses) or `signature` (Web Bot Auth); `""` otherwise.
    pub via: &'static str,
}

/// The result of checking a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimStatus {
    /// The client address is in the operator's published ranges.
    Verified,
    /// It is not: someone else wrote that user-agent.
    Spoofed,
    /// The catalog verifies this signature by no means (taken on its word).
    Unverified,
}

impl ClaimStatus {
    /// The name used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Verified => "verified",
            ClaimStatus::Spoofed => "spoofed",
            ClaimStatus::Unverified => "unverified",
        }
    }
}

/// Decides one viewer request.
pub fn decide(req: &CfRequest, ctx: &Ctx<'_>, state: &mut EdgeState) -> Outcome {
    decide_inner(req, ctx, state, true)
}

/// Decides a request again after the host refreshed the keys on an
/// `unknown_kid`: the rate-limit steps the first decision already charged
/// (those before `auth`) are not charged twice.
pub fn decide_again(req: &CfRequest, ctx: &Ctx<'_>, state: &mut EdgeState) -> Outcome {
    decide_inner(req, ctx, state, false)
}

fn decide_inner(req: &CfRequest, ctx: &Ctx<'_>, state: &mut EdgeState, first: bool) -> Outcome {
    let mut seen = Seen::default();
    let mut outcome = decide_steps(req, ctx, state, first, &mut seen);
    outcome.claim = seen.claim;
    outcome.signature = seen.signature;
    outcome
}

/// What the bot filter learned, for the outcome whatever the decision.
#[derive(Default)]
struct Seen {
    claim: Option<Claim>,
    signature: Option<SignatureSeen>,
}

fn decide_steps(
    req: &CfRequest,
    ctx: &Ctx<'_>,
    state: &mut EdgeState,
    first: bool,
    seen: &mut Seen,
) -> Outcome {
    let cfg = ctx.config;
    if !(MIN_PLAUSIBLE_NOW_MS..=MAX_PLAUSIBLE_NOW_MS).contains(&ctx.now_ms) {
        return refuse(Refusal::Unavailable, Reason::BadClock, None);
    }
    let canonical = match uri::canonicalize(&req.uri, &cfg.uri) {
        Ok(c) => c,
        Err(_) => return refuse(Refusal::BadRequest, Reason::BadUri, None),
    };
    state.tokens.sync_keys(cfg.keys_fingerprint());
    // On a second decision, the rate-limit steps before `auth` were charged already.
    let mut before_auth = true;
    let mut bot = None;
    let mut passed: Option<(Reason, bool)> = None;
    // The client's address, parsed once for the bot filter and the limits.
    let client = req.client_ip.parse::<IpAddr>().ok();
    for step in &cfg.pipeline {
        if *step == Step::Auth {
            before_auth = false;
        }
        let charge_now = first || !before_auth;
        match step {
            Step::Bots if cfg.bots_enabled => {
                let ua = req.header("user-agent").map(str::trim).unwrap_or("");
                if ua.is_empty() {
                    if cfg.empty_user_agent == EmptyUserAgent::Block {
                        return refuse(Refusal::Forbidden, Reason::EmptyUserAgent, None);
                    }
                    continue;
                }
                let Some(matcher) = ctx.matcher else {
                    return refuse(Refusal::Unavailable, Reason::InternalError, None);
                };
                // A Web Bot Auth signature, checked only when agents are
                // configured; a second decision of the same request does
                // not count its nonce again.
                let signed = if cfg.signed_agents.is_empty() {
                    Check::Unsigned
                } else {
                    let now_s = i64::try_from(ctx.now_ms / 1000).unwrap_or(i64::MAX);
                    let replay = first.then_some(&mut state.nonces);
                    // The signature covers the path as the agent sent it.
                    webbotauth::check(
                        req,
                        &req.uri,
                        &cfg.signed_agents,
                        now_s,
                        cfg.signature_window,
                        replay,
                    )
                };
                seen.signature = match signed {
                    Check::Unsigned => None,
                    Check::Verified(a) => Some(SignatureSeen {
                        status: "verified",
                        agent: Some(a.name.clone()),
                    }),
                    Check::Failed(f) => Some(SignatureSeen {
                        status: f.as_str(),
                        agent: None,
                    }),
                };
                let signed = Signed {
                    agents: &cfg.signed_agents,
                    verified: match signed {
                        Check::Verified(a) => Some(a),
                        _ => None,
                    },
                };
                let found = bot_verdict_signed(
                    matcher,
                    ctx.verified,
                    signed,
                    ua,
                    client,
                    cfg.unverified_claim,
                );
                seen.claim = found.claim;
                if let Some(v) = found.verdict {
                    let m = BotMatch {
                        id: v.signature.id.to_owned(),
                        category: v.signature.category.to_owned(),
                        action: v.signature.action,
                    };
                    if found.spoofed {
                        return refuse(Refusal::Forbidden, Reason::BotSpoofed, Some(m));
                    }
                    match m.action {
                        BotAction::Block => {
                            return refuse(Refusal::Forbidden, Reason::BotBlocked, Some(m));
                        }
                        BotAction::RateLimit => {
                            if charge_now
                                && let Err(retry) =
                                    state.bot_limiter.check(client_key(client), ctx.now_ms)
                            {
                                return refuse(
                                    Refusal::TooMany(retry),
                                    Reason::RateLimited,
                                    Some(m),
                                );
                            }
                        }
                        BotAction::Allow | BotAction::Monitor => {}
                    }
                    bot = Some(m);
                }
            }
            Step::Bots => {}
            Step::RateLimit => {
                if charge_now
                    && let Some(limiter) = state.limiter.as_mut()
                    && let Err(retry) = limiter.check(client_key(client), ctx.now_ms)
                {
                    return refuse(Refusal::TooMany(retry), Reason::RateLimited, bot);
                }
            }
            Step::Auth => match auth(req, &canonical, ctx, &mut state.tokens) {
                Ok(pass) => passed = Some(pass),
                Err((response, reason, hit)) => {
                    return Outcome {
                        decision: Decision::Respond(response),
                        reason,
                        bot,
                        token_cache_hit: hit,
                        claim: None,
                        signature: None,
                    };
                }
            },
        }
    }
    match passed {
        Some((reason, hit))
            if reason == Reason::CorsPreflight && cfg.preflight == Preflight::Respond =>
        {
            Outcome {
                decision: Decision::Respond(preflight_response(req, cfg)),
                reason,
                bot,
                token_cache_hit: hit,
                claim: None,
                signature: None,
            }
        }
        Some((reason, hit)) => Outcome {
            decision: forward(req, &canonical, cfg),
            reason,
            bot,
            token_cache_hit: hit,
            claim: None,
            signature: None,
        },
        // The config guarantees an auth step; fail closed if it did not run.
        None => refuse(Refusal::Unavailable, Reason::InternalError, bot),
    }
}

/// What the bot filter found: the deciding signature, what became of a good
/// bot's claim, and whether that claim is spoofed under a config that blocks
/// spoofed claims (then the verdict is the claimed signature, answered 403
/// `bot_spoofed`).
#[derive(Debug, Clone, Default)]
pub struct BotVerdict<'m> {
    /// The deciding signature, if any.
    pub verdict: Option<Verdict<'m>>,
    /// The claim the user-agent made, if it matched an `allow`.
    pub claim: Option<Claim>,
    /// The claim is spoofed and `[bots] unverified_claim = "block"`.
    pub spoofed: bool,
}

fn claim_of(v: &Verdict<'_>, operator: &str, status: ClaimStatus, via: &'static str) -> Claim {
    Claim {
        id: v.signature.id.to_owned(),
        operator: operator.to_owned(),
        status,
        via,
    }
}

/// What a request's Web Bot Auth signature proved: the configured agents,
/// and the one that signed it, when the signature verified.
#[derive(Debug, Clone, Copy, Default)]
pub struct Signed<'a> {
    /// The configured signing agents (`[[bots.signed_agents]]`).
    pub agents: &'a [SignedAgent],
    /// The agent whose signature verified on this request.
    pub verified: Option<&'a SignedAgent>,
}

/// How one `allow` claim stands.
enum Proof<'x> {
    Verified(&'x str, &'static str),
    Spoofed(&'x str),
    Unverifiable,
}

fn prove_claim<'x>(
    id: &str,
    verified: Option<&'x VerifiedBots>,
    signed: Signed<'x>,
    client: Option<IpAddr>,
) -> Proof<'x> {
    let agent = signed
        .agents
        .iter()
        .find(|a| a.signatures.iter().any(|s| s == id));
    if let Some(a) = agent
        && signed.verified.is_some_and(|v| v.name == a.name)
    {
        return Proof::Verified(&a.name, "signature");
    }
    match verified.map_or(ClaimCheck::Unverifiable, |t| t.check(id, client)) {
        ClaimCheck::Verified { operator } => Proof::Verified(operator, "ranges"),
        ClaimCheck::Spoofed { operator } => Proof::Spoofed(operator),
        ClaimCheck::Unverifiable => match agent {
            Some(a) => Proof::Spoofed(&a.name),
            None => Proof::Unverifiable,
        },
    }
}

/// The signature that decides `ua` from `client` at the edge. An `allow` is
/// a good bot's claim, and a user-agent proves nothing (scrapers append
/// `Googlebot/2.1` to their own names), so in precedence order:
/// - an `allow` the catalog verifies by address decides only from an address
///   in its operator's lists; from elsewhere the claim is spoofed: 403
///   (`UnverifiedClaim::Block`) or disregarded (`Ignore`: the other
///   signatures decide, generic ones included);
/// - an `allow` the catalog verifies by no means is taken on its word: it
///   beats the generic rules (the `bot` token a real good bot would trip) but
///   never a specific signature of another action that also matches, so
///   `python-requests/2.31 Googlebot/2.1` is blocked as python-requests;
/// - any other signature decides as the catalog says.
///
/// With no table (`verified` is `None`) every claim is taken on its word.
/// No Web Bot Auth: [`bot_verdict_signed`] with no signing agents.
pub fn bot_verdict<'m>(
    matcher: &'m Matcher,
    verified: Option<&VerifiedBots>,
    ua: &str,
    client: Option<IpAddr>,
    policy: UnverifiedClaim,
) -> BotVerdict<'m> {
    bot_verdict_signed(matcher, verified, Signed::default(), ua, client, policy)
}

/// [`bot_verdict`] with Web Bot Auth: an `allow` that a configured signing
/// agent claims (`signatures` of its `[[bots.signed_agents]]`) is also
/// verified by that agent's valid signature on the request, and without one
/// (and outside any address list that verifies it) it is spoofed.
pub fn bot_verdict_signed<'m>(
    matcher: &'m Matcher,
    verified: Option<&VerifiedBots>,
    signed: Signed<'_>,
    ua: &str,
    client: Option<IpAddr>,
    policy: UnverifiedClaim,
) -> BotVerdict<'m> {
    let Some(top) = matcher.classify(ua) else {
        return BotVerdict::default();
    };
    if top.signature.action != BotAction::Allow {
        return BotVerdict {
            verdict: Some(top),
            ..BotVerdict::default()
        };
    }
    claimed_bot(matcher, verified, signed, ua, client, policy)
}

/// [`bot_verdict_signed`] for a user-agent whose deciding signature is an
/// `allow`: a good bot's claim, proved or not. Out of line: a browser's
/// request (most) never gets here, and a cold instance then does not
/// compile it.
#[inline(never)]
fn claimed_bot<'m>(
    matcher: &'m Matcher,
    verified: Option<&VerifiedBots>,
    signed: Signed<'_>,
    ua: &str,
    client: Option<IpAddr>,
    policy: UnverifiedClaim,
) -> BotVerdict<'m> {
    let mut word: Option<Verdict<'m>> = None;
    let mut spoofed: Option<Claim> = None;
    for v in matcher.matches(ua) {
        if v.signature.action != BotAction::Allow {
            if v.signature.generic
                && let Some(w) = word
            {
                return BotVerdict {
                    verdict: Some(w),
                    claim: Some(claim_of(&w, "", ClaimStatus::Unverified, "")),
                    spoofed: false,
                };
            }
            let claim =
                spoofed.or_else(|| word.map(|w| claim_of(&w, "", ClaimStatus::Unverified, "")));
            return BotVerdict {
                verdict: Some(v),
                claim,
                spoofed: false,
            };
        }
        match prove_claim(v.signature.id, verified, signed, client) {
            Proof::Verified(operator, via) => {
                return BotVerdict {
                    verdict: Some(v),
                    claim: Some(claim_of(&v, operator, ClaimStatus::Verified, via)),
                    spoofed: false,
                };
            }
            Proof::Spoofed(operator) => {
                let c = claim_of(&v, operator, ClaimStatus::Spoofed, "");
                if policy == UnverifiedClaim::Block {
                    return BotVerdict {
                        verdict: Some(v),
                        claim: Some(c),
                        spoofed: true,
                    };
                }
                spoofed.get_or_insert(c);
            }
            Proof::Unverifiable => {
                word.get_or_insert(v);
            }
        }
    }
    match word {
        Some(w) => BotVerdict {
            verdict: Some(w),
            claim: Some(claim_of(&w, "", ClaimStatus::Unverified, "")),
            spoofed: false,
        },
        None => BotVerdict {
            verdict: None,
            claim: spoofed,
            spoofed: false,
        },
    }
}

/// The changes made to a forwarded request: the canonical URI, the
/// signed-link parameter always out of the query string, and (when
/// configured) the bearer token and token cookie out of the headers.
fn forward(req: &CfRequest, canonical: &CanonicalUri, cfg: &EdgeConfig) -> Decision {
    let uri = (canonical.encoded != req.uri).then(|| canonical.encoded.clone());
    let querystring = query_params(&req.querystring)
        .any(|(k, _)| k == cfg.query_param)
        .then(|| remove_query_param(&req.querystring, &cfg.query_param));
    let strip = cfg.strip_before_origin;
    let drop_authorization = strip
        && cfg.token_sources.contains(&TokenSource::Authorization)
        && req
            .header_values("authorization")
            .any(|v| bearer(v).is_some());
    let cookie = if strip && cfg.token_sources.contains(&TokenSource::Cookie) {
        without_cookie(req, &cfg.cookie_name)
    } else {
        None
    };
    Decision::Forward {
        uri,
        querystring,
        drop_authorization,
        cookie,
    }
}

/// The Cookie header values without every cookie named `name`, or `None`
/// when none was there. Out of line: only a config that strips a token
/// cookie calls it, and the rest of `forward` is on every request's path.
#[inline(never)]
fn without_cookie(req: &CfRequest, name: &str) -> Option<Vec<String>> {
    // Most requests carry cookies but not this one: look before building.
    req.header_values("cookie")
        .any(|v| split_byte::<b';'>(v).any(|pair| cookie_named(pair, name)))
        .then(|| cookies_without(req, name))
}

/// Whether the cookie `pair` (`name=value`, spaces around allowed) is named `name`.
fn cookie_named(pair: &str, name: &str) -> bool {
    split_once_byte::<b'='>(pair)
        .map_or(pair, |(k, _)| k)
        .trim()
        == name
}

/// The Cookie header values rebuilt without the cookies named `name` (and
/// without empty pairs); a value left empty is dropped. Out of line: only a
/// request that carries the token cookie gets here.
#[inline(never)]
fn cookies_without(req: &CfRequest, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for value in req.header_values("cookie") {
        let kept: Vec<&str> = split_byte::<b';'>(value)
            .filter(|pair| !cookie_named(pair, name) && !pair.trim().is_empty())
            .map(str::trim)
            .collect();
        if !kept.is_empty() {
            out.push(kept.join("; "));
        }
    }
    out
}

/// The fixed refusals of the pipeline's steps.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    BadRequest,
    Forbidden,
    Unavailable,
    /// With the seconds to wait.
    TooMany(u64),
}

/// A fixed refusal's outcome. Out of line and cold: the pipeline only
/// calls it, so a cold instance whose first request is let through does
/// not compile the responses it never sends.
#[cold]
#[inline(never)]
fn refuse(refusal: Refusal, reason: Reason, bot: Option<BotMatch>) -> Outcome {
    let response = match refusal {
        Refusal::BadRequest => bad_request(),
        Refusal::Forbidden => forbidden(),
        Refusal::Unavailable => unavailable(),
        Refusal::TooMany(retry_after_s) => too_many(retry_after_s),
    };
    respond(response, reason, bot)
}

fn respond(response: Response, reason: Reason, bot: Option<BotMatch>) -> Outcome {
    Outcome {
        decision: Decision::Respond(response),
        reason,
        bot,
        token_cache_hit: false,
        claim: None,
        signature: None,
    }
}

type Pass = (Reason, bool);
type Deny = (Response, Reason, bool);

fn auth(
    req: &CfRequest,
    canonical: &CanonicalUri,
    ctx: &Ctx<'_>,
    cache: &mut TokenCache,
) -> Result<Pass, Deny> {
    let cfg = ctx.config;
    let rule = policy::rule_for(&cfg.paths, &canonical.path);
    if rule.is_some_and(|r| r.access == Access::Public) {
        return Ok((Reason::PublicPath, false));
    }
    if req.method.eq_ignore_ascii_case("OPTIONS")
        && req.header("access-control-request-method").is_some()
    {
        return Ok((Reason::CorsPreflight, false));
    }
    auth_token(req, canonical, ctx, cache, rule)
}

/// The token part of [`auth`]: found, verified (or taken from the cache),
/// and held to the path rule. Out of line: a public page never runs it, and
/// a cold instance compiles only the functions it calls.
#[inline(never)]
fn auth_token(
    req: &CfRequest,
    canonical: &CanonicalUri,
    ctx: &Ctx<'_>,
    cache: &mut TokenCache,
    rule: Option<&PathRule>,
) -> Result<Pass, Deny> {
    let cfg = ctx.config;
    let token = match find_token(req, cfg) {
        Found::One(token) => token,
        Found::None => {
            return Err((
                unauthorized(req, canonical, cfg, Reason::TokenMissing),
                Reason::TokenMissing,
                false,
            ));
        }
        Found::Ambiguous => {
            return Err((
                unauthorized(req, canonical, cfg, Reason::TokenAmbiguous),
                Reason::TokenAmbiguous,
                false,
            ));
        }
    };
    let now_s = ctx.now_ms / 1000;
    // The path rule on a verified token's claims, wherever they are held.
    let held_to_rule = |claims: &Json, hit: bool| -> Result<Pass, Deny> {
        if rule.is_some_and(|rule| !policy::claims_allow(rule, claims, &canonical.path)) {
            return Err((insufficient(cfg), Reason::InsufficientClaims, hit));
        }
        Ok((Reason::TokenValid, hit))
    };
    // A token verified before: its time claims again (an entry never
    // outlives its token), then the path rule on the claims where the cache
    // holds them (nothing is copied on a hit).
    if let Some(v) = cache.get(token) {
        match cfg
            .issuers()
            .get(v.issuer)
            .map(|i| jwt::check_times(v.times, i, now_s))
        {
            Some(Ok(())) => return held_to_rule(&v.claims, true),
            Some(Err(reason)) => {
                cache.remove(token);
                return Err((unauthorized(req, canonical, cfg, reason), reason, true));
            }
            None => {
                cache.remove(token);
                return Err((unavailable(), Reason::InternalError, true));
            }
        }
    }
    let verified = match jwt::verify(token, cfg.issuers(), now_s) {
        Ok(v) => v,
        Err(reason) => {
            return Err((unauthorized(req, canonical, cfg, reason), reason, false));
        }
    };
    let outcome = held_to_rule(&verified.claims, false);
    cache.insert(token, verified);
    outcome
}

enum Found<'a> {
    None,
    One(&'a str),
    Ambiguous,
}

fn find_token<'r>(req: &'r CfRequest, cfg: &EdgeConfig) -> Found<'r> {
    for source in &cfg.token_sources {
        let found: Vec<&str> = match source {
            TokenSource::Authorization => req
                .header_values("authorization")
                .filter_map(bearer)
                .collect(),
            TokenSource::Cookie => {
                let mut c = req.cookies(&cfg.cookie_name);
                c.dedup();
                c
            }
            TokenSource::Query => query_params(&req.querystring)
                .filter(|(k, _)| *k == cfg.query_param)
                .map(|(_, v)| v)
                .collect(),
        };
        match found.as_slice() {
            [] => continue,
            [one] => return Found::One(one),
            _ => return Found::Ambiguous,
        }
    }
    Found::None
}

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let value = value.trim();
    let (scheme, rest) = split_once_byte::<b' '>(value)?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim_start())
}

const TEXT: &str = "text/plain; charset=utf-8";

fn base_headers() -> Vec<(&'static str, String)> {
    vec![
        ("cache-control", "no-store".into()),
        ("content-type", TEXT.into()),
    ]
}

fn bad_request() -> Response {
    Response {
        status: 400,
        status_description: "Bad Request",
        headers: base_headers(),
        body: "Bad Request\n".into(),
    }
}

fn forbidden() -> Response {
    Response {
        status: 403,
        status_description: "Forbidden",
        headers: base_headers(),
        body: "Forbidden\n".into(),
    }
}

/// The fail-closed 503: the one definition (the CloudFront shape is
/// `edge_auth_event::internal_error`, and the bundle's shim reads that,
/// written by `cargo xtask dist`, as `fail-closed.json`).
pub fn unavailable() -> Response {
    Response {
        status: 503,
        status_description: "Service Unavailable",
        headers: base_headers(),
        body: "Service Unavailable\n".into(),
    }
}

fn too_many(retry_after_s: u64) -> Response {
    let mut headers = base_headers();
    headers.push(("retry-after", retry_after_s.to_string()));
    Response {
        status: 429,
        status_description: "Too Many Requests",
        headers,
        body: "Too Many Requests\n".into(),
    }
}

fn insufficient(cfg: &EdgeConfig) -> Response {
    let mut headers = base_headers();
    headers.push((
        "www-authenticate",
        format!(
            "Bearer realm=\"{}\", error=\"insufficient_scope\"",
            cfg.realm
        ),
    ));
    Response {
        status: 403,
        status_description: "Forbidden",
        headers,
        body: "Forbidden\n".into(),
    }
}

/// 401 (RFC 6750), or a 302 to the login page for a browser navigation.
fn unauthorized(
    req: &CfRequest,
    canonical: &CanonicalUri,
    cfg: &EdgeConfig,
    reason: Reason,
) -> Response {
    let navigation = matches!(req.method.as_str(), "GET" | "HEAD")
        && req
            .header("accept")
            .is_some_and(|a| a.contains("text/html"));
    if let (Some(login), true) = (&cfg.login_url, navigation) {
        let qs = remove_query_param(&req.querystring, &cfg.query_param);
        let back = return_to(&canonical.encoded, &qs);
        let mut headers = base_headers();
        headers.push((
            "location",
            login.replace("{return_to}", &percent_encode(&back)),
        ));
        return Response {
            status: 302,
            status_description: "Found",
            headers,
            body: String::new(),
        };
    }
    let challenge = match reason {
        Reason::TokenMissing => format!("Bearer realm=\"{}\"", cfg.realm),
        Reason::TokenExpired | Reason::TokenTooOld => {
            format!(
                "Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"the access token expired\"",
                cfg.realm
            )
        }
        Reason::TokenAmbiguous => format!(
            "Bearer realm=\"{}\", error=\"invalid_request\", error_description=\"more than one access token\"",
            cfg.realm
        ),
        _ => format!(
            "Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"the access token is invalid\"",
            cfg.realm
        ),
    };
    let mut headers = base_headers();
    headers.push(("www-authenticate", challenge));
    Response {
        status: 401,
        status_description: "Unauthorized",
        headers,
        body: "Unauthorized\n".into(),
    }
}

/// Out of line and cold: only a CORS preflight (under `preflight =
/// "respond"`) gets one.
#[cold]
#[inline(never)]
fn preflight_response(req: &CfRequest, cfg: &EdgeConfig) -> Response {
    let mut headers = vec![
        ("cache-control", "no-store".to_owned()),
        ("vary", "Origin".to_owned()),
    ];
    if let Some(origin) = req.header("origin")
        && cfg.allow_origins.iter().any(|o| o == origin)
    {
        headers.push(("access-control-allow-origin", origin.to_owned()));
        let methods = if cfg.allow_methods.is_empty() {
            "GET, HEAD".to_owned()
        } else {
            cfg.allow_methods.join(", ")
        };
        headers.push(("access-control-allow-methods", methods));
        if !cfg.allow_headers.is_empty() {
            headers.push(("access-control-allow-headers", cfg.allow_headers.join(", ")));
        }
        if let Some(age) = cfg.preflight_max_age_s {
            headers.push(("access-control-max-age", age.to_string()));
        }
    }
    Response {
        status: 204,
        status_description: "No Content",
        headers,
        body: String::new(),
    }
}

/// Where the login page sends the user back: a path on this site, never
/// `//host` or `/\\host` (which browsers read as another host).
fn return_to(path: &str, qs: &str) -> String {
    let path = if path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\") {
        path
    } else {
        "/"
    };
    if qs.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{qs}")
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    uri::percent_encode_into(s, uri::UNRESERVED, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_this_site() {
        assert_eq!(return_to("/a/b", ""), "/a/b");
        assert_eq!(return_to("/a/b", "x=1"), "/a/b?x=1");
        assert_eq!(return_to("//evil.example/x", ""), "/");
        assert_eq!(return_to("/\\evil.example/x", "a=1"), "/?a=1");
        assert_eq!(return_to("https://evil.example/", ""), "/");
    }

    #[test]
    fn token_cookie_is_cut_from_every_cookie_header() {
        let req = CfRequest {
            headers: vec![
                crate::Header {
                    name: "cookie".into(),
                    key: None,
                    value: "a=1; access_token=T1;b=2".into(),
                },
                crate::Header {
                    name: "cookie".into(),
                    key: None,
                    value: "access_token=T2".into(),
                },
            ],
            ..CfRequest::default()
        };
        assert_eq!(
            without_cookie(&req, "access_token"),
            Some(vec!["a=1; b=2".to_owned()])
        );
        assert_eq!(without_cookie(&req, "other"), None);
    }
}
