//! Exit codes: one scheme for every command-line tool of the project
//! (`edge-auth`, `bot-signatures`, `waf-sync`), after BSD's sysexits, so a
//! script or an on-call engineer reads any of them the same way. The README's
//! table is this list.

/// The run worked and found nothing to report.
pub const OK: u8 = 0;
/// The run worked and its answer is "no": `check` found errors, `add` or
/// `import-ranges` refused, a guard refused a waf-sync plan.
pub const FINDINGS: u8 = 1;
/// The command line is wrong (clap answers 2 for its own errors too).
pub const USAGE: u8 = 2;
/// An input was read but is malformed (a viewer-request event).
pub const DATA: u8 = 65;
/// An input file or directory is missing.
pub const NO_INPUT: u8 = 66;
/// A service the run depends on failed (AWS WAF, the reporting database).
pub const UNAVAILABLE: u8 = 69;
/// An internal error (the async runtime could not start).
pub const SOFTWARE: u8 = 70;
/// Reading or writing a file or stream failed.
pub const IO: u8 = 74;
/// A configuration or catalog was refused.
pub const CONFIG: u8 = 78;
