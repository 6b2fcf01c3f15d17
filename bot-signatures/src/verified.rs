//! Verified good bots: `verified/operators.toml` names the address lists each
//! operator publishes (pinned snapshots under `verified/ranges/`) and the
//! `allow` signatures that claim to be that operator. [`build`] reads them,
//! checks them against the catalog, and makes the
//! [`VerifiedBots`] table the edge loads (`bot-verify.bin` in the bundle).
//!
//! Every problem is a diagnostic naming the file (and the list or signature),
//! never a silently shorter list: a range entry that does not parse fails the
//! build rather than dropping a crawler's addresses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bot_signatures_matcher::Action;
use bot_signatures_matcher::verify::{MAX_LISTS, Prefix, RangeList, VerifiedBots};
use serde::Deserialize;
use serde_json::Value;

use crate::Catalog;

/// `operators.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operators {
    /// The address lists.
    #[serde(default, rename = "list")]
    pub lists: Vec<ListSpec>,
    /// The operators and the signatures that claim them.
    #[serde(default, rename = "operator")]
    pub operators: Vec<OperatorSpec>,
}

/// One `[[list]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSpec {
    /// Name used by operators.
    pub name: String,
    /// File under `verified/`.
    pub file: String,
    /// The document inside a file that holds several.
    #[serde(default)]
    pub key: Option<String>,
    /// Where the operator publishes it.
    pub url: String,
    /// `YYYY-MM-DD` of the pinned snapshot.
    pub snapshot: String,
}

/// One `[[operator]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    /// Operator name, for logs and metrics.
    pub name: String,
    /// Lists whose addresses prove the claim.
    pub lists: Vec<String>,
    /// `allow` signatures that claim to be this operator.
    pub signatures: Vec<String>,
}

/// What [`build`] found besides the table.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// `allow` signatures listed under no operator: taken on their word.
    pub on_their_word: Vec<String>,
    /// Per list: name, IPv4 addresses covered, IPv6 intervals.
    pub lists: Vec<(String, u64, usize)>,
}

/// The prefixes of one published document (any of the shapes SOURCES.md
/// lists): every string under `ipv4Prefix`, `ipv6Prefix` or `ip_prefix`.
pub fn prefixes(doc: &Value) -> Result<Vec<Prefix>, String> {
    let mut out = Vec::new();
    collect(doc, &mut out)?;
    Ok(out)
}

fn collect(v: &Value, out: &mut Vec<Prefix>) -> Result<(), String> {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if matches!(k.as_str(), "ipv4Prefix" | "ipv6Prefix" | "ip_prefix") {
                    let text = x
                        .as_str()
                        .ok_or_else(|| format!("{k} is not a string: {x}"))?;
                    out.push(
                        Prefix::parse(text)
                            .ok_or_else(|| format!("{k} {text:?} is not an address or prefix"))?,
                    );
                } else {
                    collect(x, out)?;
                }
            }
        }
        Value::Array(list) => {
            for x in list {
                collect(x, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Reads one list from its file's text.
pub fn read_list(spec: &ListSpec, text: &str) -> Result<Vec<Prefix>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let doc = match &spec.key {
        Some(k) => doc
            .get(k)
            .ok_or_else(|| format!("no document under the key {k:?}"))?,
        None => &doc,
    };
    let list = prefixes(doc)?;
    if list.is_empty() {
        return Err("no prefixes: a list that proves nothing".into());
    }
    for p in &list {
        check_prefix(p)?;
    }
    Ok(list)
}

/// Shortest prefix a list may hold: IPv4 /12 (a million addresses), IPv6 /24.
/// No crawler operator publishes a wider one; a `0.0.0.0/0` in a corrupted
/// or tampered download would make every address a verified crawler.
pub const MIN_PREFIX: (u8, u8) = (12, 24);

/// Refuses a prefix that would widen trust: wider than [`MIN_PREFIX`], or in
/// a private, loopback, link-local, documentation or unspecified range (no
/// crawler reaches CloudFront from there).
pub fn check_prefix(p: &Prefix) -> Result<(), String> {
    let text = format!("{}/{}", p.addr, p.len);
    let (min, special) = match p.addr {
        std::net::IpAddr::V4(a) => (
            MIN_PREFIX.0,
            a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_documentation()
                || a.is_broadcast(),
        ),
        std::net::IpAddr::V6(a) => {
            let seg = a.segments();
            (
                MIN_PREFIX.1,
                a.is_loopback()
                    || a.is_unspecified()
                    || (seg[0] & 0xfe00) == 0xfc00
                    || (seg[0] & 0xffc0) == 0xfe80
                    || (seg[0] == 0x2001 && seg[1] == 0x0db8)
                    || a.to_ipv4_mapped().is_some(),
            )
        }
    };
    if p.len < min {
        return Err(format!(
            "{text} is wider than /{min}: no crawler operator publishes such a range, and it would verify everyone in it"
        ));
    }
    if special {
        return Err(format!(
            "{text} is a private, loopback, link-local or documentation range: no crawler comes from there"
        ));
    }
    Ok(())
}

/// Builds the table from `operators.toml` and the files it names (read
/// through `read`, relative to `verified/`), checked against `catalog`.
pub fn build(
    operators_toml: &str,
    mut read: impl FnMut(&str) -> Result<String, String>,
    catalog: &Catalog,
) -> Result<(VerifiedBots, Report), Vec<String>> {
    let ops: Operators = toml::from_str(operators_toml)
        .map_err(|e| vec![format!("operators.toml: {}", e.to_string().trim())])?;
    let mut errors = Vec::new();
    let mut by_name: BTreeMap<&str, &ListSpec> = BTreeMap::new();
    for l in &ops.lists {
        let name_ok = !l.name.is_empty()
            && l.name.len() <= 64
            && l.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            errors.push(format!(
                "operators.toml: list name {:?} must be 1 to 64 of A-Z a-z 0-9 - _ (it names WAF IP sets)",
                l.name
            ));
        }
        if by_name.insert(&l.name, l).is_some() {
            errors.push(format!(
                "operators.toml: list {:?} is defined twice",
                l.name
            ));
        }
        if !crate::validate::is_date(&l.snapshot) {
            errors.push(format!(
                "operators.toml: list {:?}: snapshot {:?} is not a YYYY-MM-DD date",
                l.name, l.snapshot
            ));
        }
    }
    let allows: BTreeMap<&str, Action> = catalog
        .signatures
        .iter()
        .map(|s| (s.id.as_str(), s.action))
        .collect();
    // Only the lists some operator uses go to the edge.
    let mut used: Vec<&str> = Vec::new();
    let mut claims = Vec::new();
    let mut claimed: BTreeMap<&str, &str> = BTreeMap::new();
    for op in &ops.operators {
        let mut idx = Vec::new();
        for name in &op.lists {
            if !by_name.contains_key(name.as_str()) {
                errors.push(format!(
                    "operators.toml: operator {:?} names the list {name:?}, which no [[list]] defines",
                    op.name
                ));
                continue;
            }
            let i = used.iter().position(|u| u == name).unwrap_or_else(|| {
                used.push(name);
                used.len() - 1
            });
            idx.push(i);
        }
        for id in &op.signatures {
            match allows.get(id.as_str()) {
                None => errors.push(format!(
                    "operators.toml: operator {:?} claims the signature {id:?}, which the catalog does not have",
                    op.name
                )),
                Some(a) if *a != Action::Allow => errors.push(format!(
                    "operators.toml: operator {:?} claims {id:?}, whose action is {a}, not allow: only an allow is a good bot's claim",
                    op.name
                )),
                Some(_) => {
                    if let Some(other) = claimed.insert(id, &op.name) {
                        errors.push(format!(
                            "operators.toml: {id:?} is claimed by both {other:?} and {:?}",
                            op.name
                        ));
                    }
                    claims.push((id.clone(), op.name.clone(), idx.clone()));
                }
            }
        }
    }
    if used.len() > MAX_LISTS {
        errors.push(format!(
            "operators.toml: {} lists in use; the edge table holds at most {MAX_LISTS}",
            used.len()
        ));
    }
    let mut lists = Vec::new();
    let mut report = Report::default();
    for name in &used {
        let Some(spec) = by_name.get(name) else {
            continue;
        };
        match read(&spec.file).and_then(|text| read_list(spec, &text)) {
            Ok(prefixes) => {
                let list = RangeList::new(name, &prefixes);
                report
                    .lists
                    .push(((*name).to_owned(), list.v4_addresses(), list.intervals().1));
                lists.push(list);
            }
            Err(e) => errors.push(format!("{} (list {name:?}): {e}", spec.file)),
        }
    }
    report.on_their_word = catalog
        .signatures
        .iter()
        .filter(|s| s.action == Action::Allow && !claimed.contains_key(s.id.as_str()))
        .map(|s| s.id.clone())
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    VerifiedBots::new(lists, claims)
        .map(|t| (t, report))
        .map_err(|e| vec![e])
}

/// How one list changed between the pinned snapshot and a new copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListDiff {
    /// The list.
    pub name: String,
    /// Prefixes before and after.
    pub prefixes: (usize, usize),
    /// IPv4 addresses covered before and after.
    pub v4_addresses: (u64, u64),
    /// Prefixes only in the new copy, and only in the old (as written).
    pub added: Vec<String>,
    /// See `added`.
    pub removed: Vec<String>,
}

impl ListDiff {
    /// A shrink beyond `max_loss` (0.2 = 20%) of the prefixes or of the IPv4
    /// addresses covered: more often a broken or truncated download than a
    /// real change, and taking it would turn a real crawler away.
    pub fn suspicious(&self, max_loss: f64) -> bool {
        let lost = |before: f64, after: f64| before > 0.0 && (before - after) / before > max_loss;
        lost(self.prefixes.0 as f64, self.prefixes.1 as f64)
            || lost(self.v4_addresses.0 as f64, self.v4_addresses.1 as f64)
    }
}

fn prefix_text(p: &Prefix) -> String {
    format!("{}/{}", p.addr, p.len)
}

/// Compares the pinned copy of list `spec` with a new copy of the file.
pub fn diff_list(spec: &ListSpec, old_text: &str, new_text: &str) -> Result<ListDiff, String> {
    let old = read_list(spec, old_text).map_err(|e| format!("the pinned copy: {e}"))?;
    let new = read_list(spec, new_text).map_err(|e| format!("the new copy: {e}"))?;
    let set = |v: &[Prefix]| -> std::collections::BTreeSet<String> {
        v.iter().map(prefix_text).collect()
    };
    let (a, b) = (set(&old), set(&new));
    Ok(ListDiff {
        name: spec.name.clone(),
        prefixes: (old.len(), new.len()),
        v4_addresses: (
            RangeList::new(&spec.name, &old).v4_addresses(),
            RangeList::new(&spec.name, &new).v4_addresses(),
        ),
        added: b.difference(&a).cloned().collect(),
        removed: a.difference(&b).cloned().collect(),
    })
}

/// `operators.toml` with the `snapshot` of list `name` set to `date`,
/// everything else (comments, order) kept.
pub fn with_snapshot(operators_toml: &str, name: &str, date: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut in_list = false;
    let mut done = false;
    for line in operators_toml.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_list = false;
        }
        if t == format!("name = {name:?}") {
            in_list = true;
        }
        if in_list && !done && t.starts_with("snapshot = ") {
            out.push(format!("snapshot = {date:?}"));
            done = true;
            continue;
        }
        out.push(line.to_owned());
    }
    done.then(|| out.join("\n") + "\n")
}

/// `verified/` beside a catalog directory, when it holds an `operators.toml`.
pub fn dir_beside(catalog_dir: &Path) -> Option<PathBuf> {
    if !catalog_dir.is_dir() {
        return None;
    }
    catalog_dir
        .parent()
        .map(|p| p.join("verified"))
        .filter(|d| d.join("operators.toml").is_file())
}

/// The verified-bot lists that go with a catalog: those beside its directory
/// (`location`); the built-in ones for the built-in catalog (`location` is
/// `None`); `None` for a catalog of one's own with no `verified/` beside it.
pub fn for_catalog(
    location: Option<&Path>,
    catalog: &Catalog,
) -> Option<Result<(VerifiedBots, Report), Vec<String>>> {
    match location {
        None => Some(embedded(catalog)),
        Some(p) => dir_beside(p).map(|dir| load(&dir, catalog)),
    }
}

/// [`for_catalog`]'s table alone, for the compilers (WAF export, waf-sync):
/// `Ok(None)` when the catalog has no lists, an error naming every problem
/// (and pointing at `check`) when they do not build.
pub fn table_for(
    location: Option<&Path>,
    catalog: &Catalog,
) -> Result<Option<VerifiedBots>, String> {
    match for_catalog(location, catalog) {
        None => Ok(None),
        Some(Ok((table, _))) => Ok(Some(table)),
        Some(Err(errors)) => Err(format!(
            "the verified-bot lists do not build (run `bot-signatures check`):\n{}",
            errors.join("\n")
        )),
    }
}

/// The table from the `verified/` directory beside a catalog directory.
pub fn load(dir: &Path, catalog: &Catalog) -> Result<(VerifiedBots, Report), Vec<String>> {
    let text = std::fs::read_to_string(dir.join("operators.toml"))
        .map_err(|e| vec![format!("{}: {e}", dir.join("operators.toml").display())])?;
    build(
        &text,
        |rel| std::fs::read_to_string(dir.join(rel)).map_err(|e| e.to_string()),
        catalog,
    )
}

/// The table built from the `verified/` files embedded at build time, for
/// the embedded catalog.
pub fn embedded(catalog: &Catalog) -> Result<(VerifiedBots, Report), Vec<String>> {
    let file = |rel: &str| {
        crate::embedded::VERIFIED
            .iter()
            .find(|(name, _)| *name == rel)
            .map(|(_, text)| (*text).to_owned())
    };
    let operators =
        file("operators.toml").ok_or_else(|| vec!["operators.toml is not embedded".to_owned()])?;
    build(
        &operators,
        |rel| file(rel).ok_or_else(|| format!("{rel} is not embedded")),
        catalog,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_published_shape_is_read() {
        let google = serde_json::json!({"creationTime": "x", "prefixes": [{"ipv6Prefix": "2001:db8::/64"}, {"ipv4Prefix": "66.249.64.0/27"}]});
        assert_eq!(prefixes(&google).unwrap().len(), 2);
        let amazon = serde_json::json!({"amazonbot": {"prefixes": [{"ipv4Prefix": "3.81.245.78"}]}, "searchbot": {"prefixes": [{"ip_prefix": "3.1.2.3/32"}]}});
        let spec = ListSpec {
            name: "a".into(),
            file: "f".into(),
            key: Some("searchbot".into()),
            url: "u".into(),
            snapshot: "2026-01-01".into(),
        };
        let list = read_list(&spec, &amazon.to_string()).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].len, 32);
        let openai = serde_json::json!({"gptbot": {"ipv4Prefixes": [{"ipv4Prefix": "132.196.86.0/24"}], "ipv6Prefixes": null}});
        assert_eq!(prefixes(&openai).unwrap().len(), 1);
        assert!(prefixes(&serde_json::json!({"prefixes": [{"ipv4Prefix": "300.1.1.1"}]})).is_err());
        assert!(read_list(&spec, "{\"searchbot\": {\"prefixes\": []}}").is_err());
    }

    #[test]
    fn a_list_that_would_verify_everyone_is_refused() {
        let spec = ListSpec {
            name: "g".into(),
            file: "g.json".into(),
            key: None,
            url: "u".into(),
            snapshot: "2026-01-01".into(),
        };
        let doc = |p: &str| {
            format!(
                "{{\"prefixes\": [{{\"ipv4Prefix\": \"66.249.64.0/27\"}}, {{\"ipv4Prefix\": \"{p}\"}}]}}"
            )
        };
        for bad in [
            "0.0.0.0/0",
            "64.0.0.0/11",
            "10.1.2.0/24",
            "127.0.0.1",
            "169.254.1.0/24",
            "192.0.2.0/24",
            "::/0",
            "2600::/16",
            "fd00::/64",
            "fe80::/64",
            "2001:db8::/48",
            "::ffff:66.249.64.1",
        ] {
            let e = read_list(&spec, &doc(bad)).unwrap_err();
            assert!(
                e.contains(bad.split('/').next().unwrap_or(bad)),
                "{bad}: {e}"
            );
        }
        for good in [
            "64.0.0.0/12",
            "66.249.64.0/27",
            "20.191.45.212",
            "2600:1f00::/24",
        ] {
            assert!(read_list(&spec, &doc(good)).is_ok(), "{good}");
        }
    }

    #[test]
    fn refresh_diffs_and_refuses_a_suspicious_shrink() {
        let spec = ListSpec {
            name: "g".into(),
            file: "g.json".into(),
            key: None,
            url: "u".into(),
            snapshot: "2026-01-01".into(),
        };
        let doc = |ps: &[&str]| {
            serde_json::json!({"prefixes": ps.iter().map(|p| serde_json::json!({"ipv4Prefix": p})).collect::<Vec<_>>()}).to_string()
        };
        let old = doc(&[
            "66.249.64.0/27",
            "66.249.65.0/27",
            "66.249.66.0/27",
            "66.249.67.0/27",
            "66.249.68.0/27",
        ]);
        let grown = doc(&[
            "66.249.64.0/27",
            "66.249.65.0/27",
            "66.249.66.0/27",
            "66.249.67.0/27",
            "66.249.68.0/27",
            "66.249.69.0/27",
        ]);
        let d = diff_list(&spec, &old, &grown).unwrap();
        assert_eq!(d.added, vec!["66.249.69.0/27".to_owned()]);
        assert!(d.removed.is_empty());
        assert!(!d.suspicious(0.2));
        let one_less = doc(&[
            "66.249.64.0/27",
            "66.249.65.0/27",
            "66.249.66.0/27",
            "66.249.67.0/27",
        ]);
        assert!(
            !diff_list(&spec, &old, &one_less).unwrap().suspicious(0.2),
            "20% is the line"
        );
        let halved = doc(&["66.249.64.0/27", "66.249.65.0/27"]);
        assert!(diff_list(&spec, &old, &halved).unwrap().suspicious(0.2));
        // Same count, far fewer addresses: also suspicious.
        let narrowed = doc(&[
            "66.249.64.0/32",
            "66.249.65.0/32",
            "66.249.66.0/32",
            "66.249.67.0/32",
            "66.249.68.0/32",
        ]);
        assert!(diff_list(&spec, &old, &narrowed).unwrap().suspicious(0.2));
        assert!(diff_list(&spec, &old, "<html>blocked</html>").is_err());
        let toml = "[[list]]\nname = \"a\"\nsnapshot = \"2026-01-01\"\n\n[[list]]\nname = \"g\"\n# kept\nsnapshot = \"2026-01-01\"\n";
        let updated = with_snapshot(toml, "g", "2026-11-26").unwrap();
        assert!(
            updated.contains("name = \"a\"\nsnapshot = \"2026-01-01\""),
            "{updated}"
        );
        assert!(
            updated.contains("name = \"g\"\n# kept\nsnapshot = \"2026-11-26\""),
            "{updated}"
        );
        assert!(with_snapshot(toml, "nope", "2026-11-26").is_none());
    }

    #[test]
    fn the_shipped_table_builds_and_refuses_mistakes() {
        let (catalog, _) = Catalog::embedded();
        let (table, report) = embedded(&catalog).unwrap();
        assert!(table.claims() >= 10, "{}", table.claims());
        assert!(
            report
                .lists
                .iter()
                .any(|(n, v4, _)| n == "googlebot" && *v4 > 1000)
        );
        assert!(report.on_their_word.contains(&"cua-bingbot".to_owned()));
        let operators = crate::embedded::VERIFIED
            .iter()
            .find(|(n, _)| *n == "operators.toml")
            .map(|(_, t)| *t)
            .unwrap();
        let read = |rel: &str| {
            crate::embedded::VERIFIED
                .iter()
                .find(|(n, _)| *n == rel)
                .map(|(_, t)| (*t).to_owned())
                .ok_or_else(|| "missing".to_owned())
        };
        for (from, to, why) in [
            ("\"cua-applebot\"", "\"cua-no-such-bot\"", "does not have"),
            ("\"cua-applebot\"", "\"cua-python-requests\"", "not allow"),
            (
                "lists = [\"applebot\"]",
                "lists = [\"nope\"]",
                "no [[list]] defines",
            ),
            (
                "snapshot = \"2026-09-15\"",
                "snapshot = \"2026-02-31\"",
                "not a YYYY-MM-DD",
            ),
        ] {
            let broken = operators.replacen(from, to, 1);
            let errors = build(&broken, read, &catalog).unwrap_err();
            assert!(errors.iter().any(|e| e.contains(why)), "{why}: {errors:?}");
        }
    }
}
