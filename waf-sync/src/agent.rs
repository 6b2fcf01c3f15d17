//! The rows waf-sync reads: a user-agent the reporting pipeline flagged, with
//! its hit count and the analysts' review status.

/// One flagged user-agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlaggedAgent {
    /// The raw User-Agent header.
    pub user_agent: String,
    /// Requests seen.
    pub hits: i64,
    /// The analysts' review (e.g. `confirmed`, `rejected`, `allowed`), if any.
    pub status: Option<String>,
}
