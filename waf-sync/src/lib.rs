//! waf-sync: the nightly job that turns crawler user-agents flagged by the
//! reporting database into AWS WAF rules. Not implemented yet: this crate only
//! reserves its place in the workspace (see the README's status table).
