//! Path policy: which rule applies to a URI, and whether a verified token
//! meets the rule's claim conditions (scopes, a path-list claim, a per-subject
//! prefix). URIs with dot segments or encoded separators never match a public
//! rule, so `/public/../private/x` cannot skip the token check.

use crate::config::{Access, PathMatch, PathRule};
use crate::json::Json;

/// The rule for `uri` (first match), or `None`: a token is required.
pub fn rule_for<'r>(rules: &'r [PathRule], uri: &str) -> Option<&'r PathRule> {
    let clean = is_clean(uri);
    rules
        .iter()
        .find(|r| (clean || r.access == Access::Token) && matches(&r.matcher, uri))
}

/// Whether `uri` is free of dot segments, encoded dots/slashes/backslashes and backslashes.
pub fn is_clean(uri: &str) -> bool {
    if !uri.starts_with('/') || uri.contains('\\') {
        return false;
    }
    let lower = uri.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c", "%00"]
        .iter()
        .any(|e| lower.contains(e))
    {
        return false;
    }
    !uri.split('/').any(|seg| seg == "." || seg == "..")
}

fn matches(m: &PathMatch, uri: &str) -> bool {
    match m {
        PathMatch::Prefix(p) => uri.starts_with(p.as_str()),
        PathMatch::Glob(g) => glob(g.as_bytes(), uri.as_bytes()),
    }
}

/// `*` matches any run without `/`; `**` matches any run.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => {
            if let Some(rest2) = rest.strip_prefix(b"*") {
                (0..=text.len()).any(|i| glob(rest2, &text[i..]))
            } else {
                let limit = text.iter().position(|&c| c == b'/').unwrap_or(text.len());
                (0..=limit).any(|i| glob(rest, &text[i..]))
            }
        }
        Some((&c, rest)) => text.first() == Some(&c) && glob(rest, &text[1..]),
    }
}

/// Whether `claims` meet the conditions of `rule` for `uri`.
pub fn claims_allow(rule: &PathRule, claims: &Json, uri: &str) -> bool {
    if !rule.require_scope.is_empty() {
        let mut have: Vec<&str> = Vec::new();
        if let Some(s) = claims.get("scope").and_then(Json::as_str) {
            have.extend(s.split(' ').filter(|x| !x.is_empty()));
        }
        match claims.get("scp") {
            Some(Json::String(s)) => have.extend(s.split(' ').filter(|x| !x.is_empty())),
            Some(Json::Array(list)) => have.extend(list.iter().filter_map(Json::as_str)),
            _ => {}
        }
        if !rule
            .require_scope
            .iter()
            .all(|need| have.contains(&need.as_str()))
        {
            return false;
        }
    }
    if let Some(name) = &rule.path_claim {
        let allowed: Vec<&str> = match claims.get(name) {
            Some(Json::String(s)) => vec![s.as_str()],
            Some(Json::Array(list)) => list.iter().filter_map(Json::as_str).collect(),
            _ => Vec::new(),
        };
        if !is_clean(uri) || !allowed.iter().any(|prefix| under(uri, prefix)) {
            return false;
        }
    }
    if let Some(template) = &rule.sub_prefix {
        let Some(sub) = claims.get("sub").and_then(Json::as_str) else {
            return false;
        };
        if sub.is_empty() || sub == "." || sub == ".." || sub.contains(['/', '\\', '%', '?', '#']) {
            return false;
        }
        let prefix = template.replace("{sub}", sub);
        if !is_clean(uri) || !under(uri, &prefix) {
            return false;
        }
    }
    true
}

/// `uri` equals `prefix` or lies below it (segment boundary respected).
fn under(uri: &str, prefix: &str) -> bool {
    if !prefix.starts_with('/') {
        return false;
    }
    if prefix.ends_with('/') {
        return uri.starts_with(prefix);
    }
    uri == prefix
        || uri
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(m: PathMatch, access: Access) -> PathRule {
        PathRule {
            matcher: m,
            access,
            require_scope: vec![],
            path_claim: None,
            sub_prefix: None,
        }
    }

    #[test]
    fn globs() {
        assert!(glob(b"/assets/*.css", b"/assets/a.css"));
        assert!(!glob(b"/assets/*.css", b"/assets/x/a.css"));
        assert!(glob(b"/assets/**.css", b"/assets/x/a.css"));
        assert!(glob(b"/private/*", b"/private/"));
    }

    #[test]
    fn dot_segments_never_match_public_rules() {
        let rules = vec![rule(PathMatch::Prefix("/public/".into()), Access::Public)];
        assert!(rule_for(&rules, "/public/a.png").is_some());
        for bad in [
            "/public/../private/x",
            "/public/%2e%2e/private/x",
            "/public/..%2fprivate",
            "/public/.\\x",
            "/public/./a",
        ] {
            assert!(rule_for(&rules, bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn claim_conditions() {
        let claims = Json::parse(
            br#"{"sub":"alice","scope":"read:private write","paths":["/shared/team-a/"]}"#,
        )
        .unwrap();
        let mut r = rule(PathMatch::Prefix("/".into()), Access::Token);
        r.require_scope = vec!["read:private".into()];
        assert!(claims_allow(&r, &claims, "/x"));
        r.require_scope = vec!["admin".into()];
        assert!(!claims_allow(&r, &claims, "/x"));
        r.require_scope = vec![];
        r.sub_prefix = Some("/private/{sub}/".into());
        assert!(claims_allow(&r, &claims, "/private/alice/a.pdf"));
        assert!(!claims_allow(&r, &claims, "/private/alicex/a.pdf"));
        assert!(!claims_allow(&r, &claims, "/private/alice/../bob/a.pdf"));
        r.sub_prefix = None;
        r.path_claim = Some("paths".into());
        assert!(claims_allow(&r, &claims, "/shared/team-a/doc"));
        assert!(!claims_allow(&r, &claims, "/shared/team-b/doc"));
    }
}
