//! Reason codes: every decision carries one, for logs and metrics. A deny is
//! an expected outcome, not an error.

/// Why a request was forwarded or answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    // --- forwarded ---
    /// The path is public.
    PublicPath,
    /// A valid token satisfied the path policy.
    TokenValid,
    /// A CORS preflight on a protected path, forwarded or answered by config.
    CorsPreflight,
    // --- denied: bots and rate ---
    /// A `block` bot signature decided the user-agent.
    BotBlocked,
    /// A good bot's claim from outside its operator's published addresses.
    BotSpoofed,
    /// No or empty User-Agent, and the config blocks that.
    EmptyUserAgent,
    /// The client went over its rate.
    RateLimited,
    // --- denied: token (401) ---
    /// No token in any configured source.
    TokenMissing,
    /// The token appears twice (two Authorization headers or query parameters).
    TokenAmbiguous,
    /// Longer than the limit; refused before any parsing.
    TokenTooLarge,
    /// Not three strict base64url parts of JSON objects.
    TokenMalformed,
    /// `alg` is `none`, unknown, or not allowed for the issuer.
    AlgNotAllowed,
    /// The header carries `jku`, `jwk`, `x5u` or `x5c`.
    HeaderKeyRefused,
    /// The header has a `crit` list (no extensions are understood).
    CritUnsupported,
    /// The header `typ` is missing or not one the issuer's config accepts.
    TypNotAllowed,
    /// `iss` is missing or names no configured issuer.
    UnknownIssuer,
    /// Asymmetric token without a `kid`.
    KidRequired,
    /// No key with that `kid`.
    UnknownKid,
    /// The key exists but cannot verify this `alg`.
    AlgKeyMismatch,
    /// The signature does not verify (or is DER, or has r = 0 / s = 0).
    BadSignature,
    /// `aud` does not contain the configured audience.
    BadAudience,
    /// `exp` is missing or not a number.
    ExpMissing,
    /// now ≥ exp + leeway.
    TokenExpired,
    /// now < nbf − leeway.
    TokenNotYetValid,
    /// iat is not a number, or lies beyond now + leeway.
    BadIssuedAt,
    /// Older than the configured maximum age.
    TokenTooOld,
    /// A required claim is missing.
    MissingClaim,
    // --- denied: policy (403) ---
    /// The token is valid but lacks the scope or path claim the rule needs.
    InsufficientClaims,
    // --- refused: request (400) ---
    /// The URI could be read as a different object by the origin (see `uri`).
    BadUri,
    // --- failure ---
    /// The host clock is not finite, zero or implausible: nothing can be judged.
    BadClock,
    /// The bundle itself is broken (config, matcher); fail closed.
    InternalError,
}

impl Reason {
    /// The code used in logs, metrics and the `x-edge-auth-reason` field of `decide`.
    pub fn as_str(self) -> &'static str {
        use Reason::*;
        match self {
            PublicPath => "public_path",
            TokenValid => "token_valid",
            CorsPreflight => "cors_preflight",
            BotBlocked => "bot_blocked",
            BotSpoofed => "bot_spoofed",
            EmptyUserAgent => "empty_user_agent",
            RateLimited => "rate_limited",
            TokenMissing => "token_missing",
            TokenAmbiguous => "token_ambiguous",
            TokenTooLarge => "token_too_large",
            TokenMalformed => "token_malformed",
            AlgNotAllowed => "alg_not_allowed",
            HeaderKeyRefused => "header_key_refused",
            CritUnsupported => "crit_unsupported",
            TypNotAllowed => "typ_not_allowed",
            UnknownIssuer => "unknown_issuer",
            KidRequired => "kid_required",
            UnknownKid => "unknown_kid",
            AlgKeyMismatch => "alg_key_mismatch",
            BadSignature => "bad_signature",
            BadAudience => "bad_audience",
            ExpMissing => "exp_missing",
            TokenExpired => "token_expired",
            TokenNotYetValid => "token_not_yet_valid",
            BadIssuedAt => "bad_issued_at",
            TokenTooOld => "token_too_old",
            MissingClaim => "missing_claim",
            InsufficientClaims => "insufficient_claims",
            BadUri => "bad_uri",
            BadClock => "bad_clock",
            InternalError => "internal_error",
        }
    }

    /// Whether the request was let through.
    pub fn forwards(self) -> bool {
        matches!(
            self,
            Reason::PublicPath | Reason::TokenValid | Reason::CorsPreflight
        )
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn only_public_paths_valid_tokens_and_preflights_forward() {
        for r in [
            Reason::PublicPath,
            Reason::TokenValid,
            Reason::CorsPreflight,
        ] {
            assert!(r.forwards(), "{r}");
        }
        for r in [
            Reason::TokenMissing,
            Reason::BadSignature,
            Reason::BadUri,
            Reason::InternalError,
            Reason::RateLimited,
        ] {
            assert!(!r.forwards(), "{r}");
        }
        assert_eq!(Reason::TokenValid.to_string(), "token_valid");
        assert_eq!(format!("{}", Reason::BadUri), Reason::BadUri.as_str());
    }
}
