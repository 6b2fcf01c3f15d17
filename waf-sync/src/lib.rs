//! waf-sync: the nightly job that turns crawler user-agents flagged by the
//! reporting database into AWS WAF rules next to the curated bot catalog.
//!
//! `source` reads rows; `derive` turns them into candidate signatures behind
//! guards; `plan` (pure) computes the desired managed state and the diff;
//! `apply` runs it against WAF through the narrow `waf::WafApi` trait with
//! optimistic locking; `config` holds the settings; `stack` answers the
//! deployment stack's custom resource.
//!
//! Architecture invariant: only `waf.rs` and `secret.rs` name `aws_sdk_*`; `plan` and
//! `derive` do no I/O; nothing below `main` reads the environment.

pub mod agent;
pub mod apply;
pub mod config;
pub mod derive;
pub mod plan;
pub mod secret;
pub mod source;
pub mod stack;
pub mod waf;
