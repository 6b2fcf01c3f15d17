//! Path policy: which rule applies to a path, and whether a verified token
//! meets the rule's claim conditions (scopes, a path-list claim, a per-subject
//! prefix). Everything here reads the *decoded* path of a
//! [`CanonicalUri`](crate::uri::CanonicalUri), the object the origin serves;
//! the raw spelling never reaches a rule. Globs match in time linear in the
//! path length (an NFA simulation, no backtracking).

use crate::config::{PathMatch, PathRule};
use crate::json::Json;
use crate::text::split_byte;
use crate::uri::is_clean_path;

/// The rule for the decoded `path` (first match), or `None`: a token is required.
pub fn rule_for<'r>(rules: &'r [PathRule], path: &str) -> Option<&'r PathRule> {
    rules.iter().find(|r| matches(&r.matcher, path))
}

fn matches(m: &PathMatch, path: &str) -> bool {
    match m {
        PathMatch::Prefix(p) => path.starts_with(p.as_str()),
        PathMatch::Glob(g) => g.matches(path),
    }
}

/// Most wildcards one glob may hold (checked at config load).
pub const MAX_GLOB_WILDCARDS: usize = 16;
/// Longest glob pattern, in bytes (checked at config load).
pub const MAX_GLOB_BYTES: usize = 256;

/// Pattern positions as a bit set: at most [`MAX_GLOB_BYTES`] + 1 of them.
const WORDS: usize = MAX_GLOB_BYTES / 64 + 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Bits([u64; WORDS]);

impl Bits {
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn and(self, o: Bits) -> Bits {
        Bits(std::array::from_fn(|w| self.0[w] & o.0[w]))
    }
    fn or(self, o: Bits) -> Bits {
        Bits(std::array::from_fn(|w| self.0[w] | o.0[w]))
    }
    fn and_not(self, o: Bits) -> Bits {
        Bits(std::array::from_fn(|w| self.0[w] & !o.0[w]))
    }
    /// Every position moved one on (position i becomes i + 1).
    fn next(self) -> Bits {
        let mut out = [0u64; WORDS];
        let mut carry = 0;
        for (w, word) in self.0.iter().enumerate() {
            out[w] = (word << 1) | carry;
            carry = word >> 63;
        }
        Bits(out)
    }
    fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }
}

/// A compiled path glob: `*` matches any run without `/`, `**` any run,
/// every other byte itself. Matching simulates the pattern's NFA with bit
/// sets: a fixed number of word operations per byte of the path, so the time
/// is linear in the path whatever the pattern (no backtracking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    text: String,
    /// Positions holding the literal byte `b`, for every byte of the pattern.
    literals: Vec<(u8, Bits)>,
    /// Positions holding `*`.
    star: Bits,
    /// Positions holding `**`.
    any_run: Bits,
    /// The accepting position (the pattern's length in tokens).
    end: usize,
}

impl Glob {
    /// Compiles `pattern`; refuses one over [`MAX_GLOB_BYTES`] or with more
    /// than [`MAX_GLOB_WILDCARDS`] wildcards.
    pub fn new(pattern: &str) -> Result<Glob, String> {
        if pattern.len() > MAX_GLOB_BYTES {
            return Err(format!(
                "glob is {} bytes; at most {MAX_GLOB_BYTES}",
                pattern.len()
            ));
        }
        let b = pattern.as_bytes();
        let mut literals: Vec<(u8, Bits)> = Vec::new();
        let (mut star, mut any_run) = (Bits::default(), Bits::default());
        let (mut i, mut pos, mut wildcards) = (0, 0, 0);
        while i < b.len() {
            if b[i] == b'*' {
                wildcards += 1;
                if b.get(i + 1) == Some(&b'*') {
                    any_run.set(pos);
                    i += 2;
                } else {
                    star.set(pos);
                    i += 1;
                }
            } else {
                match literals.iter_mut().find(|(c, _)| *c == b[i]) {
                    Some((_, bits)) => bits.set(pos),
                    None => {
                        let mut bits = Bits::default();
                        bits.set(pos);
                        literals.push((b[i], bits));
                    }
                }
                i += 1;
            }
            pos += 1;
        }
        if wildcards > MAX_GLOB_WILDCARDS {
            return Err(format!(
                "glob has {wildcards} wildcards; at most {MAX_GLOB_WILDCARDS}"
            ));
        }
        Ok(Glob {
            text: pattern.to_owned(),
            literals,
            star,
            any_run,
            end: pos,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Adds the positions reachable through wildcards that match nothing.
    fn closure(&self, mut set: Bits) -> Bits {
        let wild = self.star.or(self.any_run);
        loop {
            let add = set.and(wild).next().and_not(set);
            if add.is_empty() {
                return set;
            }
            set = set.or(add);
        }
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let mut start = Bits::default();
        start.set(0);
        let mut cur = self.closure(start);
        for &c in text.as_bytes() {
            let mut next = cur.and(self.any_run);
            if c != b'/' {
                next = next.or(cur.and(self.star));
            }
            if let Some((_, at)) = self.literals.iter().find(|(b, _)| *b == c) {
                next = next.or(cur.and(*at).next());
            }
            cur = self.closure(next);
            if cur.is_empty() {
                return false;
            }
        }
        cur.get(self.end)
    }
}

/// Characters a `sub` claim may hold to be put into a `{sub}` prefix. Anything
/// else (`/`, `%`, `+`, spaces, `\`, `?`, `#`, controls, non-ASCII) could name
/// another object once the origin decodes it, so such a token opens nothing there.
fn sub_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '@' | '|' | ':')
}

/// Whether `claims` meet the conditions of `rule` for the decoded `path`.
/// Each condition is its own function, out of line: a cold instance
/// compiles only those its rule sets (most set one).
pub fn claims_allow(rule: &PathRule, claims: &Json, path: &str) -> bool {
    (rule.require_scope.is_empty() || scopes_allow(&rule.require_scope, claims))
        && rule
            .path_claim
            .as_ref()
            .is_none_or(|name| path_claim_allows(name, claims, path))
        && rule
            .sub_prefix
            .as_ref()
            .is_none_or(|template| sub_prefix_allows(template, claims, path))
}

/// Whether the token's scopes (`scope`, space-separated, and `scp`, a string
/// or a list) hold every scope in `required`.
#[inline(never)]
fn scopes_allow(required: &[String], claims: &Json) -> bool {
    let mut have: Vec<&str> = Vec::new();
    if let Some(s) = claims.get("scope").and_then(Json::as_str) {
        have.extend(split_byte::<b' '>(s).filter(|x| !x.is_empty()));
    }
    match claims.get("scp") {
        Some(Json::String(s)) => have.extend(split_byte::<b' '>(s).filter(|x| !x.is_empty())),
        Some(Json::Array(list)) => have.extend(list.iter().filter_map(Json::as_str)),
        _ => {}
    }
    required.iter().all(|need| have.contains(&need.as_str()))
}

/// Whether claim `name` (a path or a list of paths) holds a clean path
/// `path` lies under.
#[inline(never)]
fn path_claim_allows(name: &str, claims: &Json, path: &str) -> bool {
    let allowed: Vec<&str> = match claims.get(name) {
        Some(Json::String(s)) => vec![s.as_str()],
        Some(Json::Array(list)) => list.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    };
    // An entry that is not a clean decoded path (`..`, `//`, `%`, `\`) opens nothing.
    allowed
        .iter()
        .any(|prefix| is_clean_path(prefix) && under(path, prefix))
}

/// Whether `path` lies under `template` with the token's `sub` put in.
#[inline(never)]
fn sub_prefix_allows(template: &str, claims: &Json, path: &str) -> bool {
    let Some(sub) = claims.get("sub").and_then(Json::as_str) else {
        return false;
    };
    if sub.is_empty() || !sub.chars().all(sub_char) {
        return false;
    }
    let prefix = fill_sub(template, sub);
    is_clean_path(&prefix) && under(path, &prefix)
}

/// `template` with every `{sub}` replaced by `sub`, left to right, as
/// `str::replace` does, but without its substring searcher, which would be
/// compiled on an instance's first token only for this.
fn fill_sub(template: &str, sub: &str) -> String {
    const MARK: &[u8] = b"{sub}";
    let t = template.as_bytes();
    let mut out = String::with_capacity(template.len() + sub.len());
    let (mut from, mut i) = (0, 0);
    while i + MARK.len() <= t.len() {
        if t[i] == b'{' && &t[i..i + MARK.len()] == MARK {
            // `{` is ASCII, so `i` and the byte after the mark are char boundaries.
            out.push_str(&template[from..i]);
            out.push_str(sub);
            i += MARK.len();
            from = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&template[from..]);
    out
}

/// `path` equals `prefix` or lies below it (segment boundary respected).
fn under(path: &str, prefix: &str) -> bool {
    if !prefix.starts_with('/') {
        return false;
    }
    if prefix.ends_with('/') {
        return path.starts_with(prefix);
    }
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Access;
    use proptest::prelude::*;

    /// Templates' pieces: `{sub}`, its halves, a lone brace and other text
    /// (multi-byte too), so that marks, near-marks and overlaps all occur.
    fn template_parts() -> impl Strategy<Value = Vec<&'static str>> {
        proptest::collection::vec(
            prop_oneof![
                Just("{sub}"),
                Just("{su"),
                Just("b}"),
                Just("{"),
                Just("/é"),
                Just("x")
            ],
            0..12,
        )
    }

    proptest! {
        #[test]
        fn fill_sub_is_str_replace(
            parts in template_parts(),
            sub in "[a-zé{}]{0,6}",
        ) {
            let template: String = parts.concat();
            prop_assert_eq!(fill_sub(&template, &sub), template.replace("{sub}", &sub));
        }
    }

    #[test]
    fn fill_sub_generator_reaches_templates_with_marks() {
        // The property's generator, counted: how many templates hold a
        // `{sub}`, two of them, or only a piece of one.
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let strategy = template_parts();
        let mut runner = TestRunner::deterministic();
        let (mut one, mut two, mut made) = (0, 0, 0);
        for _ in 0..256 {
            let t: String = strategy.new_tree(&mut runner).unwrap().current().concat();
            match t.matches("{sub}").count() {
                0 if t.contains("{su") || t.contains("b}") => {}
                0 => continue,
                1 => one += 1,
                _ => two += 1,
            }
            made += usize::from(t.contains("{su") && !t.contains("{sub}"));
        }
        assert!(
            one > 30 && two > 30 && made > 10,
            "one {one}, two {two}, only pieces {made}"
        );
    }

    fn rule(m: PathMatch, access: Access) -> PathRule {
        PathRule {
            matcher: m,
            access,
            require_scope: vec![],
            path_claim: None,
            sub_prefix: None,
        }
    }

    fn glob(p: &str, t: &str) -> bool {
        Glob::new(p).unwrap().matches(t)
    }

    #[test]
    fn globs() {
        assert!(glob("/assets/*.css", "/assets/a.css"));
        assert!(!glob("/assets/*.css", "/assets/x/a.css"));
        assert!(glob("/assets/**.css", "/assets/x/a.css"));
        assert!(glob("/private/*", "/private/"));
        assert!(!glob("/private/*", "/private"));
        assert!(glob("/a/**", "/a/"));
        assert!(glob("**", ""));
        assert!(!glob("/a", "/ab"));
        assert!(!glob("/a*b", "/a/b"));
        assert!(glob("/a**b", "/a/b"));
        assert!(glob("/*/*/c", "/x/y/c"));
        assert!(!glob("/*/*/c", "/x/c"));
    }

    /// The linear matcher agrees with the obvious backtracking one on every
    /// short pattern and text over a small alphabet.
    #[test]
    fn glob_agrees_with_backtracking_reference() {
        fn reference(p: &[u8], t: &[u8]) -> bool {
            match p.split_first() {
                None => t.is_empty(),
                Some((b'*', rest)) => {
                    if let Some(rest2) = rest.strip_prefix(b"*") {
                        (0..=t.len()).any(|i| reference(rest2, &t[i..]))
                    } else {
                        let limit = t.iter().position(|&c| c == b'/').unwrap_or(t.len());
                        (0..=limit).any(|i| reference(rest, &t[i..]))
                    }
                }
                Some((&c, rest)) => t.first() == Some(&c) && reference(rest, &t[1..]),
            }
        }
        fn words(alphabet: &[u8], max: usize) -> Vec<Vec<u8>> {
            let mut all = vec![vec![]];
            let mut layer = vec![vec![]];
            for _ in 0..max {
                let mut next = Vec::new();
                for w in &layer {
                    for &a in alphabet {
                        let mut x: Vec<u8> = w.clone();
                        x.push(a);
                        next.push(x);
                    }
                }
                all.extend(next.iter().cloned());
                layer = next;
            }
            all
        }
        let patterns = words(b"a/*", 5);
        let texts = words(b"a/b", 5);
        let mut both = [0usize; 2];
        for p in &patterns {
            let g = Glob::new(std::str::from_utf8(p).unwrap()).unwrap();
            for t in &texts {
                let want = reference(p, t);
                assert_eq!(
                    g.matches(std::str::from_utf8(t).unwrap()),
                    want,
                    "{:?} on {:?}",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(t)
                );
                both[usize::from(want)] += 1;
            }
        }
        assert!(both[0] > 1000 && both[1] > 1000, "{both:?}");
    }

    #[test]
    fn glob_limits() {
        assert!(Glob::new(&"*".repeat(2 * MAX_GLOB_WILDCARDS)).is_ok());
        assert!(Glob::new(&"/*".repeat(MAX_GLOB_WILDCARDS + 1)).is_err());
        assert!(Glob::new(&"a".repeat(MAX_GLOB_BYTES + 1)).is_err());
        // The longest glob the config accepts uses every position of the bit sets.
        let longest = "/".to_owned() + &"a".repeat(MAX_GLOB_BYTES - 2) + "*";
        assert_eq!(longest.len(), MAX_GLOB_BYTES);
        let g = Glob::new(&longest).unwrap();
        assert!(g.matches(&("/".to_owned() + &"a".repeat(MAX_GLOB_BYTES - 2) + "xyz")));
        assert!(g.matches(&longest[..MAX_GLOB_BYTES - 1]));
        assert!(!g.matches(&longest[..MAX_GLOB_BYTES - 2]));
        let all_literal = "/".to_owned() + &"b".repeat(MAX_GLOB_BYTES - 1);
        assert!(Glob::new(&all_literal).unwrap().matches(&all_literal));
        // The worst allowed glob on an 8 KB path answers (linear, not exponential).
        let worst = "/".to_owned() + &"**a".repeat(MAX_GLOB_WILDCARDS) + "b";
        let g = Glob::new(&worst).unwrap();
        assert!(!g.matches(&("/".to_owned() + &"a".repeat(8191))));
    }

    #[test]
    fn claim_conditions() {
        let claims = Json::parse(
            br#"{"sub":"alice","scope":"read:private write","paths":["/shared/team-a/","/x/../","//y/"]}"#,
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
        assert!(!claims_allow(&r, &claims, "/private/bob/a.pdf"));
        r.sub_prefix = None;
        r.path_claim = Some("paths".into());
        assert!(claims_allow(&r, &claims, "/shared/team-a/doc"));
        assert!(!claims_allow(&r, &claims, "/shared/team-b/doc"));
        // Unclean entries open nothing, not even what they spell literally.
        assert!(!claims_allow(&r, &claims, "/x/../secret"));
        assert!(!claims_allow(&r, &claims, "//y/secret"));
    }

    /// Scopes come as the `scope` string (RFC 8693) or as `scp`, a string or a
    /// list (Okta, Azure AD); a path claim as one string or a list.
    #[test]
    fn scope_and_path_claim_shapes() {
        let mut r = rule(PathMatch::Prefix("/".into()), Access::Token);
        r.require_scope = vec!["admin".into()];
        for (claims, want) in [
            (r#"{"scp":"read  admin"}"#, true),
            (r#"{"scp":["read","admin"]}"#, true),
            (r#"{"scp":"read"}"#, false),
            (r#"{"scp":["read"]}"#, false),
            (r#"{"scope":"  admin "}"#, true),
            (r#"{"scp":7}"#, false),
            (r#"{}"#, false),
        ] {
            let c = Json::parse(claims.as_bytes()).unwrap();
            assert_eq!(claims_allow(&r, &c, "/x"), want, "{claims}");
        }
        let mut p = rule(PathMatch::Prefix("/".into()), Access::Token);
        p.path_claim = Some("paths".into());
        for (claims, path, want) in [
            (r#"{"paths":"/team-a/"}"#, "/team-a/doc", true),
            (r#"{"paths":"/team-a/"}"#, "/team-b/doc", false),
            (r#"{"paths":["/team-b/","/team-a"]}"#, "/team-a/doc", true),
            (r#"{"paths":["/team-a"]}"#, "/team-ab/doc", false),
            (r#"{"paths":["/team-a"]}"#, "/team-a", true),
            (r#"{"paths":["/team-a/"]}"#, "/team-a", false),
            (r#"{"paths":7}"#, "/team-a/doc", false),
        ] {
            let c = Json::parse(claims.as_bytes()).unwrap();
            assert_eq!(claims_allow(&p, &c, path), want, "{claims} {path}");
        }
        assert_eq!(Glob::new("/assets/**").unwrap().as_str(), "/assets/**");
    }

    #[test]
    fn subs_that_could_name_other_objects_open_nothing() {
        let mut r = rule(PathMatch::Prefix("/private/".into()), Access::Token);
        r.sub_prefix = Some("/private/{sub}/".into());
        for (sub, path) in [
            ("..", "/private/../x"),
            (".", "/private/./x"),
            ("alice/../bob", "/private/alice/../bob/x"),
            ("bob/x", "/private/bob/x/y"),
            ("al%69ce", "/private/al%69ce/x"),
            ("a+b", "/private/a+b/x"),
            ("a b", "/private/a b/x"),
            ("a\\b", "/private/a\\b/x"),
            ("", "/private//x"),
        ] {
            let claims =
                Json::parse(serde_json::json!({ "sub": sub }).to_string().as_bytes()).unwrap();
            assert!(!claims_allow(&r, &claims, path), "sub {sub:?}");
        }
        let claims = Json::parse(br#"{"sub":"auth0|a.b_c-d@e"}"#).unwrap();
        assert!(claims_allow(&r, &claims, "/private/auth0|a.b_c-d@e/x"));
    }
}
