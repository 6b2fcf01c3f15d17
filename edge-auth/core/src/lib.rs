//! edge-auth-core: the viewer-request decision, host-independent.
//!
//! Given a [`CfRequest`], a [`Ctx`] (time in milliseconds, the validated
//! [`EdgeConfig`], the compiled bot matcher) and the per-instance
//! [`EdgeState`], [`decide`] returns an [`Outcome`]: forward (possibly with the
//! token removed from the query string) or a generated response, always with
//! a [`Reason`] code.
//!
//! API boundary. Architecture invariant: this crate does no I/O, reads no
//! clock, uses no randomness, knows no wire format (no CloudFront JSON, no
//! `JsValue`), and builds natively, for `wasm32-unknown-unknown` and for
//! `wasm32-wasip1`.

pub mod cache;
pub mod config;
pub mod decide;
pub mod hashkeys;
pub mod json;
pub mod jwt;
pub mod keys;
pub mod policy;
pub mod rate;
pub mod reason;
pub mod request;
pub mod text;
pub mod uri;
pub mod webbotauth;

/// What a matched bot signature asks for (block, rate_limit, monitor, allow).
pub use bot_signatures_matcher::Action as BotAction;
pub use bot_signatures_matcher::Matcher;
pub use bot_signatures_matcher::verify::VerifiedBots;
pub use config::{ConfigError, ConfigErrorKind, EdgeConfig};
pub use decide::{
    BotMatch, Claim, ClaimStatus, Ctx, Decision, EdgeState, Outcome, Response, decide, decide_again,
};
pub use hashkeys::HashKeys;
pub use reason::Reason;
pub use request::{CfRequest, Header};
