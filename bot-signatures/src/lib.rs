//! The bot-signature catalog: its file format ([`catalog`]), per-pattern rules
//! ([`pattern`]), catalog-wide validation ([`validate`]), the compiler to the
//! edge matcher's artifact ([`compile`]), the browser corpus used as a
//! false-positive guard ([`corpus`]) and the importer for third-party lists
//! ([`import`]) and the WAF compiler ([`waf`]); [`stats`] says how sure a
//! held-out figure is.
//!
//! API boundary: the edge only ever sees the compiled artifact
//! ([`bot_signatures_matcher::CompiledCatalog`]); analysts only ever edit the
//! TOML files under `bot-signatures/catalog/`.

pub mod add;
pub mod catalog;
pub mod compile;
pub mod corpus;
pub mod diagnostic;
pub mod exit;
#[cfg(feature = "fetch")]
pub mod fetch;
pub mod import;
pub mod pattern;
pub mod stats;
pub mod validate;
pub mod verified;
pub mod waf;

pub use bot_signatures_matcher::verify::VerifiedBots;
pub use bot_signatures_matcher::{Action, CompiledCatalog, Matcher};
pub use catalog::{Catalog, Signature};
pub use diagnostic::{Code, Diagnostic, Severity};

mod embedded {
    //! The shipped catalog files, embedded by `build.rs`.
    include!(concat!(env!("OUT_DIR"), "/embedded_catalog.rs"));
}
