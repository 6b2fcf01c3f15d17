//! edge-auth-wasm: the adapter that runs the edge decision inside the
//! Lambda@Edge Node.js handler. The only crate that knows wasm-bindgen.
//!
//! [`prepare`] reads the baked configuration (the validated edge config in
//! binary, keys included) and the compiled bot matcher and verified-bot table
//! (binary artifacts) at build time, and `cargo xtask dist` saves the memory
//! that leaves as the module's initial memory; at the edge [`Edge::prepared`]
//! takes them, so no reader runs on a cold start ([`Edge::new`] reads the
//! files instead, for tools and tests).
//! [`Edge::decide`] takes the few fields of a request, packed by the shim into
//! one string (`edge_auth_event::packed`), plus `Date.now()`, and returns a
//! small number: forward unchanged, forward with changes, or answer, and
//! whether log lines wait. Only when needed does the shim ask for more
//! ([`Edge::result`], [`Edge::take_log`]): a browser on a public page crosses
//! the boundary with one string in and one number out. The event itself never
//! crosses: an event the shim cannot pack is not a viewer-request as
//! CloudFront writes one, and the shim answers it 503 without the core (the
//! native CLI reads events as JSON, `edge_auth_event::parse_request`).
//! Per-instance state (token cache, rate table, log counts) lives in the
//! `Edge` object across invocations of a warm instance.
//!
//! Signature math (HMAC, RSA, ECDSA, EdDSA) goes to Node's native crypto
//! ([`node_crypto`]) behind jsonwebtoken's `CryptoProvider`; RustCrypto is
//! compiled in only with the `rust-crypto` feature (`cargo xtask dist --rust-crypto`).
//! Errors cross the boundary in one place ([`into_js_error`]); a panic traps
//! and the shim answers 503.

pub mod node_crypto;
pub mod panic_note;

use std::cell::RefCell;

use bot_signatures_matcher::{Matcher, Unindexed};
use edge_auth_core::{
    CfRequest, Ctx, Decision, EdgeConfig, EdgeState, HashKeys, Outcome, Reason, Response,
    VerifiedBots, decide, decide_again,
};
use edge_auth_event::Ledger;
use wasm_bindgen::prelude::*;

fn into_js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

#[wasm_bindgen(start)]
fn start() {
    panic_note::install();
}

/// Result kind: forward the event's request unchanged.
pub const FORWARD: u32 = 0;
/// Result kind: forward with the changes in [`Edge::result`].
pub const CHANGED: u32 = 1;
/// Result kind: answer with the response in [`Edge::result`].
pub const RESPOND: u32 = 2;
/// Result kind: the packed form was refused (a NUL inside a value adds
/// fields): nothing decided; the shim answers 503.
pub const FALLBACK: u32 = 3;
/// Bit: log lines wait in [`Edge::take_log`].
pub const LOG: u32 = 4;
/// Bit: an `unknown_kid` held back unlogged ([`MAY_RETRY`]): refresh the
/// keys, then decide [`AGAIN`] or [`Edge::record_last`].
pub const DEFERRED: u32 = 8;
/// Bits from here: the response's slot (1 to [`SLOTS`]; 0 for none). The
/// same slot is always the same response, so the shim parses each once
/// ([`Edge::result`]) and returns its copy after that.
pub const SLOT_SHIFT: u32 = 4;
/// Bit, with [`CHANGED`] only (where no slot is given): the one change is to
/// remove the `Authorization` header, the usual forward of a request that
/// carried a bearer token. The shim makes it without asking for
/// [`Edge::result`], so neither side writes or parses JSON for it.
pub const DROP_AUTHORIZATION_ONLY: u32 = 1 << SLOT_SHIFT;
/// How many distinct responses get a slot (403, 401s, 400, 503, ...; a 429's
/// `Retry-After` varies, so most of those get none).
pub const SLOTS: usize = 16;

/// The slot of `response` (1-based), given one if there is room; 0 if not.
/// Out of line: only a refusal asks for one, so a cold instance whose first
/// request is let through does not compile it.
#[inline(never)]
fn slot(responses: &mut Vec<Response>, response: &Response) -> u32 {
    let at = match responses.iter().position(|r| r == response) {
        Some(i) => i,
        None if responses.len() < SLOTS => {
            responses.push(response.clone());
            responses.len() - 1
        }
        None => return 0,
    };
    u32::try_from(at + 1).unwrap_or(0)
}

/// The input buffer's size: a request's fields as CloudFront allows them
/// (URI and query string under 8,192 characters) and the headers the core
/// reads fit; a larger one crosses as a string.
pub const INPUT_BYTES: usize = 16 * 1024;

/// A buffer in wasm memory that the host writes text into with
/// `TextEncoder.encodeInto` (no allocation, no copy in JavaScript), then
/// passes only its length: the shim's way in for a request
/// ([`Edge::decide_input`]), and a user-agent's for [`BotMatcher::is_bot_input`].
#[derive(Default)]
struct InputBuffer(Vec<u8>);

impl InputBuffer {
    fn new(bytes: usize) -> InputBuffer {
        InputBuffer(vec![0; bytes])
    }

    /// The first `len` bytes as text, or `None` when they are not UTF-8 or
    /// `len` is past the buffer.
    fn text(&self, len: u32) -> Option<&str> {
        std::str::from_utf8(self.0.get(..len as usize)?).ok()
    }

    /// Where the buffer starts in the wasm memory (the glue's `__wasm_memory`, which `cargo xtask dist` adds).
    fn ptr(&self) -> u32 {
        self.0.as_ptr() as usize as u32
    }

    fn len(&self) -> u32 {
        u32::try_from(self.0.len()).unwrap_or(0)
    }
}

/// Mode: a first decision.
pub const FIRST: u32 = 0;
/// Mode: a first decision that the shim may retry after fetching keys.
pub const MAY_RETRY: u32 = 1;
/// Mode: the retry (rate limits before `auth` are not charged twice).
pub const AGAIN: u32 = 2;

/// A clock that is not a finite positive number reads as 0, which the core
/// refuses (503 `bad_clock`): never "no token is expired".
fn clock(now_ms: f64) -> u64 {
    if now_ms.is_finite() && now_ms > 0.0 {
        now_ms as u64
    } else {
        0
    }
}

/// The last decision, for [`Edge::result`] and [`Edge::record_last`].
/// (Held is boxed and rare; Decided is the every-request case, kept inline.)
#[allow(clippy::large_enum_variant)]
enum Last {
    None,
    Decided(Outcome),
    /// An `unknown_kid` not yet logged: outcome, request, request id, time.
    Held(Box<(Outcome, CfRequest, Option<String>, u64)>),
}

/// The config, matcher and verified-bot table read and checked: what
/// [`prepare`] keeps in the module's memory at build time.
struct Prepared {
    config: EdgeConfig,
    matcher: Unindexed,
    verified: VerifiedBots,
}

impl Prepared {
    fn read(config: &[u8], matcher: Vec<u8>, verified: &[u8]) -> Result<Prepared, JsError> {
        // Signature math: Node's crypto, unless RustCrypto is compiled in
        // (`cargo xtask dist --rust-crypto`), which jsonwebtoken then uses.
        // The provider is a static: installed here at build time, it is in
        // the prepared image, so `Edge::prepared` needs no call of its own.
        #[cfg(not(feature = "rust-crypto"))]
        node_crypto::install();
        let config = EdgeConfig::from_baked(config).map_err(into_js_error)?;
        // A config that fetches keys, in a bundle built without the reader
        // for them (a config file swapped after the build): refused, never
        // run with the baked keys alone.
        #[cfg(not(feature = "remote-jwks"))]
        if config.has_remote_jwks() {
            return Err(JsError::new(NO_REMOTE_JWKS));
        }
        let matcher = Unindexed::read(matcher).map_err(into_js_error)?;
        let verified = VerifiedBots::from_bytes(verified).map_err(into_js_error)?;
        Ok(Prepared {
            config,
            matcher,
            verified,
        })
    }
}

thread_local! {
    /// What [`prepare`] read, until [`Edge::prepared`] takes it. (A wasm
    /// module without threads has one thread: this is a static.)
    static PREPARED: RefCell<Option<Prepared>> = const { RefCell::new(None) };
}

/// Build time only (`cargo xtask dist`, `xtask/prepare.cjs`): reads and
/// checks the baked config, bot matcher and verified-bot table, and keeps
/// them in this module's memory, which the build then saves as the module's
/// initial memory. The inputs are zeroed before they are freed, so that the
/// saved memory holds what was read, not the files again.
#[wasm_bindgen]
pub fn prepare(
    mut config: Vec<u8>,
    matcher: Vec<u8>,
    mut verified: Vec<u8>,
) -> Result<(), JsError> {
    let prepared = Prepared::read(&config, matcher, &verified)?;
    config.fill(0);
    verified.fill(0);
    PREPARED.with(|slot| *slot.borrow_mut() = Some(prepared));
    Ok(())
}

/// One warm instance of the edge: config, matcher and per-instance state.
#[wasm_bindgen]
pub struct Edge {
    config: EdgeConfig,
    matcher: Matcher,
    verified: VerifiedBots,
    state: EdgeState,
    ledger: Ledger,
    log: String,
    last: Last,
    responses: Vec<Response>,
    /// Where the shim writes a packed request ([`Edge::decide_input`]); its
    /// length never changes, so neither does its address.
    input: InputBuffer,
    /// The last packed request, kept for its memory.
    request: CfRequest,
    request_id: Option<String>,
}

impl Edge {
    /// An instance from what [`Prepared::read`] read: the matcher's index
    /// built, the per-instance state new, its tables hashed with `keys`.
    fn assemble(prepared: Prepared, keys: HashKeys) -> Result<Edge, JsError> {
        let Prepared {
            config,
            matcher,
            verified,
        } = prepared;
        let matcher = matcher.index().map_err(into_js_error)?;
        let state = EdgeState::new(&config, keys);
        Ok(Edge {
            config,
            matcher,
            verified,
            state,
            ledger: Ledger::new(),
            log: String::new(),
            last: Last::None,
            responses: Vec::new(),
            input: InputBuffer::new(INPUT_BYTES),
            request: CfRequest::default(),
            request_id: None,
        })
    }
}

#[wasm_bindgen]
impl Edge {
    /// Loads the baked configuration (`edge-config.bin`, written by
    /// `EdgeConfig::to_baked`), bot matcher (`bot-matcher.bin`) and
    /// verified-bot table (`bot-verify.bin`); a config, matcher or table the
    /// core refuses is an error. The shim takes [`Edge::prepared`] instead;
    /// this is for tools and tests that load the files themselves.
    /// `keys` as for [`Edge::prepared`].
    #[wasm_bindgen(constructor)]
    pub fn new(
        config: &[u8],
        matcher: Vec<u8>,
        verified: &[u8],
        k0: u32,
        k1: u32,
        k2: u32,
        k3: u32,
    ) -> Result<Edge, JsError> {
        let keys = hash_keys([k0, k1, k2, k3])?;
        Edge::assemble(Prepared::read(config, matcher, verified)?, keys)
    }

    /// The instance `cargo xtask dist` prepared in this module's memory
    /// image ([`prepare`]): what a cold start does is build the matcher's
    /// literal index and the per-instance state. An error when there is
    /// none (a module not prepared, or taken already: one per instance of
    /// the module); the shim then answers 503 to every request (fail
    /// closed).
    ///
    /// `k0`..`k3` are the 128 bits of the instance's hash keys, which the
    /// shim draws when it starts (this target has no randomness of its own:
    /// `edge_auth_core::hashkeys`). All four zero, as when the shim passes
    /// none, is refused ([`NO_HASH_KEYS`]) before the prepared instance is
    /// taken.
    pub fn prepared(k0: u32, k1: u32, k2: u32, k3: u32) -> Result<Edge, JsError> {
        let keys = hash_keys([k0, k1, k2, k3])?;
        let prepared = PREPARED
            .with(|slot| slot.borrow_mut().take())
            .ok_or_else(|| JsError::new(NOT_PREPARED))?;
        Edge::assemble(prepared, keys)
    }

    /// Config warnings (skipped keys), for the shim to log once at start:
    /// one a line, none an empty string (a string crosses for less than a
    /// list of them, which a cold start would pay for nothing).
    pub fn warnings(&self) -> String {
        let lines: Vec<String> = self
            .config
            .warnings
            .iter()
            .map(|w| w.replace('\n', " "))
            .collect();
        lines.join("\n")
    }

    /// Decides one request packed by the shim (see `edge_auth_event::packed`:
    /// `fields` NUL-separated fields). `mode` is [`FIRST`], [`MAY_RETRY`] or
    /// [`AGAIN`]. Returns the [`FORWARD`]/[`CHANGED`]/[`RESPOND`] kind with the
    /// [`LOG`] and [`DEFERRED`] bits, or [`FALLBACK`] when the packed form is
    /// not exactly `fields` fields (a NUL inside a value: the shim answers 503).
    pub fn decide(&mut self, packed: &str, fields: u32, now_ms: f64, mode: u32) -> u32 {
        // The last request's memory, reused: nothing allocated once warm.
        let mut request = std::mem::take(&mut self.request);
        let mut id = self.request_id.take();
        let code = if edge_auth_event::packed::parse_packed_into(
            packed,
            fields as usize,
            &mut request,
            &mut id,
        ) {
            self.finish(&request, id.as_deref(), now_ms, mode)
        } else {
            FALLBACK
        };
        self.request = request;
        self.request_id = id;
        code
    }

    /// [`Edge::decide`] on the first `len` bytes of the input buffer
    /// ([`Edge::input_ptr`]), where the shim wrote the packed request with
    /// `TextEncoder.encodeInto`: no allocation and no byte-by-byte copy
    /// across the boundary. Bytes that are not UTF-8 (the shim writes only
    /// well-formed strings) or a `len` past the buffer answer [`FALLBACK`].
    pub fn decide_input(&mut self, len: u32, fields: u32, now_ms: f64, mode: u32) -> u32 {
        let input = std::mem::take(&mut self.input);
        let code = match input.text(len) {
            Some(packed) => self.decide(packed, fields, now_ms, mode),
            None => FALLBACK,
        };
        self.input = input;
        code
    }

    /// Where the input buffer starts in the wasm memory (the glue's `__wasm_memory`, which `cargo xtask dist` adds).
    pub fn input_ptr(&self) -> u32 {
        self.input.ptr()
    }

    /// How many bytes the input buffer holds; a longer packed request is
    /// passed as a string to [`Edge::decide`].
    pub fn input_len(&self) -> u32 {
        self.input.len()
    }

    /// Logs the decision [`Edge::decide`] held back with [`DEFERRED`] (the
    /// keys did not change, so it stands). Returns its result code.
    pub fn record_last(&mut self) -> u32 {
        if let Last::Held(held) = std::mem::replace(&mut self.last, Last::None) {
            let (outcome, request, request_id, now_ms) = *held;
            self.ledger.record(
                &self.config.logging,
                &outcome,
                &request,
                request_id.as_deref(),
                now_ms,
                &mut self.log,
            );
            self.last = Last::Decided(outcome);
        }
        self.code()
    }

    /// The log lines waiting to be printed (each ends in `\n`), and clears them.
    pub fn take_log(&mut self) -> String {
        std::mem::take(&mut self.log)
    }

    /// The last decision's `edge_auth_event::decision_json` (asked for only when
    /// it is not "forward unchanged").
    pub fn result(&self) -> String {
        match &self.last {
            Last::Decided(o) => edge_auth_event::decision_json(o),
            Last::Held(h) => edge_auth_event::decision_json(&h.0),
            // Nothing decided: the shim never asks then, and an empty answer
            // would not parse (it would answer 503).
            Last::None => String::new(),
        }
    }

    fn finish(
        &mut self,
        request: &CfRequest,
        request_id: Option<&str>,
        now_ms: f64,
        mode: u32,
    ) -> u32 {
        let now_ms = clock(now_ms);
        let ctx = Ctx {
            now_ms,
            config: &self.config,
            matcher: Some(&self.matcher),
            verified: Some(&self.verified),
        };
        let outcome = if mode == AGAIN {
            decide_again(request, &ctx, &mut self.state)
        } else {
            decide(request, &ctx, &mut self.state)
        };
        if mode == MAY_RETRY && outcome.reason == Reason::UnknownKid {
            self.last = Last::Held(Box::new((
                outcome,
                request.clone(),
                request_id.map(str::to_owned),
                now_ms,
            )));
            return self.code() | DEFERRED;
        }
        self.ledger.record(
            &self.config.logging,
            &outcome,
            request,
            request_id,
            now_ms,
            &mut self.log,
        );
        self.last = Last::Decided(outcome);
        self.code()
    }

    fn code(&mut self) -> u32 {
        let kind = match &self.last {
            Last::Decided(o) if edge_auth_event::forwards_unchanged(o) => FORWARD,
            Last::Decided(Outcome {
                decision:
                    Decision::Forward {
                        uri: None,
                        querystring: None,
                        drop_authorization: true,
                        cookie: None,
                    },
                ..
            }) => CHANGED | DROP_AUTHORIZATION_ONLY,
            Last::Decided(Outcome {
                decision: Decision::Forward { .. },
                ..
            }) => CHANGED,
            Last::Decided(Outcome {
                decision: Decision::Respond(r),
                ..
            }) => RESPOND | (slot(&mut self.responses, r) << SLOT_SHIFT),
            // A held decision is an `unknown_kid` (a 401): answered, without
            // a slot.
            _ => RESPOND,
        };
        kind | if self.log.is_empty() { 0 } else { LOG }
    }

    /// The JWK Sets to fetch at run time, as JSON:
    /// `[{"issuer": 0, "url": ..., "cache_seconds": ..., "min_refresh_seconds": ...,
    /// "timeout_ms": ..., "max_bytes": ..., "max_stale_seconds": ...}]`.
    pub fn remote_jwks(&self) -> String {
        // Without the feature, `Edge::new` refused a config with a jwks_url;
        // testing the feature too keeps the writer out of such a build.
        if !cfg!(feature = "remote-jwks") || !self.config.has_remote_jwks() {
            // Most bundles: no list, no JSON writer to compile on a cold start.
            return "[]".to_owned();
        }
        remote_jwks_json(&self.config.remote_jwks())
    }

    /// Installs a fetched JWK Set for issuer `issuer` (the verified-token cache
    /// is cleared when the keys change). Returns warnings about skipped keys.
    pub fn set_remote_keys(&mut self, issuer: usize, jwks: &str) -> Result<Vec<String>, JsError> {
        #[cfg(feature = "remote-jwks")]
        return self
            .config
            .set_remote_keys(issuer, jwks)
            .map_err(into_js_error);
        #[cfg(not(feature = "remote-jwks"))]
        {
            let _ = (issuer, jwks);
            Err(JsError::new(NO_REMOTE_JWKS))
        }
    }

    /// Drops the fetched keys of issuer `issuer` (the baked ones stay): the
    /// shim calls this when no fetch has succeeded for `max_stale_seconds`.
    pub fn drop_remote_keys(&mut self, issuer: usize) -> Result<(), JsError> {
        self.set_remote_keys(issuer, r#"{"keys":[]}"#).map(|_| ())
    }

    /// Verified tokens held in the cache (for tests and metrics).
    pub fn cached_tokens(&self) -> usize {
        self.state.tokens.len()
    }

    /// Clients tracked by the rate limiter (for tests and metrics).
    pub fn tracked_clients(&self) -> usize {
        self.state.limiter.as_ref().map_or(0, |l| l.len())
    }
}

/// Why [`Edge::prepared`] has nothing to give.
const NOT_PREPARED: &str = "this bundle's wasm holds no prepared config (a module not built by `cargo xtask dist`, or its instance taken already): rebuild it with `cargo xtask dist`";
/// Why [`Edge::prepared`] refuses keys that are all zero.
const NO_HASH_KEYS: &str = "no hash keys: the shim passes Edge.prepared four random 32-bit words per instance (a shim that passes none would leave the rate and token tables' hashing predictable)";

/// The instance's hash keys from four 32-bit words, or [`NO_HASH_KEYS`].
fn hash_keys(words: [u32; 4]) -> Result<HashKeys, JsError> {
    keys_of(words).ok_or_else(|| JsError::new(NO_HASH_KEYS))
}

/// The keys the four words spell (high word first), none when all are zero.
fn keys_of(words: [u32; 4]) -> Option<HashKeys> {
    let [a, b, c, d] = words.map(u64::from);
    (a | b | c | d != 0).then(|| HashKeys::new(a << 32 | b, c << 32 | d))
}

/// Why a bundle built without the `remote-jwks` feature refuses fetched keys.
#[cfg(not(feature = "remote-jwks"))]
const NO_REMOTE_JWKS: &str = "this bundle was built without remote JWK Sets (no issuer of its config has a jwks_url): rebuild it with `cargo xtask dist`";

/// [`Edge::remote_jwks`]'s list as JSON, out of line: a bundle without remote
/// JWK Sets never calls it, so V8 never compiles it.
#[inline(never)]
fn remote_jwks_json(remote: &[(usize, edge_auth_core::jwt::RemoteJwks)]) -> String {
    #[derive(serde::Serialize)]
    struct Out<'a> {
        issuer: usize,
        url: &'a str,
        cache_seconds: u64,
        min_refresh_seconds: u64,
        timeout_ms: u64,
        max_bytes: u64,
        max_stale_seconds: u64,
    }
    let list: Vec<Out<'_>> = remote
        .iter()
        .map(|(i, r)| Out {
            issuer: *i,
            url: &r.url,
            cache_seconds: r.cache_s,
            min_refresh_seconds: r.min_refresh_s,
            timeout_ms: r.timeout_ms,
            max_bytes: r.max_bytes,
            max_stale_seconds: r.max_stale_s,
        })
        .collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned())
}

/// The headers the decision reads by name (`edge_auth_core::request::READ_HEADERS`),
/// comma-separated: the shim packs only these, unless a request carries a
/// `signature-input` (then every header: a signature may cover any).
#[wasm_bindgen]
pub fn read_headers() -> String {
    edge_auth_core::request::READ_HEADERS.join(",")
}

/// The bot matcher alone, for benchmarks and for hosts that only classify.
#[wasm_bindgen]
pub struct BotMatcher {
    matcher: Matcher,
    /// Where a host writes a user-agent with `TextEncoder.encodeInto`
    /// ([`BotMatcher::is_bot_input`]), as the shim writes a request for
    /// [`Edge::decide_input`].
    input: InputBuffer,
}

#[wasm_bindgen]
impl BotMatcher {
    /// Loads a binary artifact (`bot-matcher.bin`, as `cargo xtask dist` or
    /// `bot-signatures compile --binary` writes it).
    #[wasm_bindgen(constructor)]
    pub fn new(artifact: Vec<u8>) -> Result<BotMatcher, JsError> {
        Ok(BotMatcher {
            matcher: Matcher::from_vec(artifact).map_err(into_js_error)?,
            input: InputBuffer::new(BOT_INPUT_BYTES),
        })
    }

    /// The deciding signature's id, or `undefined` when none matches.
    pub fn classify(&self, user_agent: &str) -> Option<String> {
        self.matcher
            .classify(user_agent)
            .map(|v| v.signature.id.to_owned())
    }

    /// Whether any signature matches (no string crosses back).
    pub fn is_bot(&self, user_agent: &str) -> bool {
        self.matcher.classify(user_agent).is_some()
    }

    /// [`BotMatcher::is_bot`] on the first `len` bytes of the input buffer
    /// ([`BotMatcher::input_ptr`]), where the host wrote the user-agent
    /// with `TextEncoder.encodeInto`: no allocation and no copy in
    /// JavaScript, the way the shim passes a request. 1 for a bot, 0 for
    /// none, 2 when the bytes are not UTF-8 or `len` is past the buffer
    /// (pass the string to `is_bot` then).
    pub fn is_bot_input(&self, len: u32) -> u32 {
        match self.input.text(len) {
            Some(user_agent) => u32::from(self.is_bot(user_agent)),
            None => 2,
        }
    }

    /// Where the input buffer starts in the wasm memory (the glue's `__wasm_memory`, which `cargo xtask dist` adds).
    pub fn input_ptr(&self) -> u32 {
        self.input.ptr()
    }

    /// How many bytes the input buffer holds.
    pub fn input_len(&self) -> u32 {
        self.input.len()
    }
}

/// The bot matcher's input buffer: user-agents longer than this cross as a
/// string (CloudFront passes headers up to 8 KB in all).
const BOT_INPUT_BYTES: usize = 8 * 1024;

#[cfg(test)]
mod tests {
    use super::{HashKeys, keys_of};

    #[test]
    fn four_words_spell_the_two_keys_and_all_zero_is_none() {
        assert_eq!(keys_of([0; 4]), None);
        assert_eq!(
            keys_of([0x0102_0304, 0x0506_0708, 0x090a_0b0c, 0x0d0e_0f10]),
            Some(HashKeys::new(0x0102_0304_0506_0708, 0x090a_0b0c_0d0e_0f10))
        );
        // Each word alone counts, in its own place.
        let one = |i: usize| {
            let mut w = [0; 4];
            w[i] = 1;
            keys_of(w).unwrap()
        };
        assert_eq!(one(0), HashKeys::new(1 << 32, 0));
        assert_eq!(one(1), HashKeys::new(1, 0));
        assert_eq!(one(2), HashKeys::new(0, 1 << 32));
        assert_eq!(one(3), HashKeys::new(0, 1));
        // Words that cancel out under another operator still count.
        for words in [
            [5, 5, 0, 0],
            [5, 0, 5, 0],
            [5, 0, 0, 5],
            [0, 5, 5, 0],
            [0, 0, 5, 5],
        ] {
            assert!(keys_of(words).is_some(), "{words:?}");
        }
    }
}
