//! The one integration-test binary (ripgrep's `tests/tests.rs` pattern): each
//! module says what belongs in it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod catalog;
mod decide_rules;
mod deploy;
mod golden;
mod jwt_conformance;
mod jwt_edges;
mod properties;
mod tidy;
mod token_properties;
