//! Catalog-wide validation: every rule `bot-signatures check` enforces, each
//! finding tied to a file and line (see [`crate::diagnostic::Code`]).

use std::collections::HashMap;

use bot_signatures_matcher::Verdict;

use crate::catalog::{Catalog, Signature};
use crate::compile::{Compiled, compile};
use crate::corpus::BrowserCorpus;
use crate::diagnostic::{Code, Diagnostic};
use crate::pattern;

/// The result of validating a catalog.
#[derive(Debug)]
pub struct Report {
    /// Every finding, in catalog order.
    pub diagnostics: Vec<Diagnostic>,
    /// The compiled form of the signatures whose patterns are valid.
    pub compiled: Compiled,
}

impl Report {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == crate::diagnostic::Severity::Error)
            .count()
    }
}

/// Validates `catalog`. With a browser corpus, also refuses any signature that
/// matches a browser.
pub fn validate(catalog: &Catalog, browsers: Option<&BrowserCorpus>) -> Report {
    let mut out = Vec::new();
    for s in &catalog.signatures {
        check_fields(s, &mut out);
        match pattern::check(&s.pattern) {
            Ok(hir) => {
                // Unindexed: nothing lets the edge skip the regex (no literal,
                // not even a rare byte, and no alphabet for an anchored one).
                if pattern::edge_literals(&hir).is_none() && pattern::alphabet(&hir).is_none() {
                    out.push(Diagnostic::warning(
                        Code::Unindexed,
                        &s.pattern_location.file,
                        s.pattern_location.line,
                        format!("signature '{}' has no required literal of {}+ characters, so its regex runs on every request", s.id, pattern::MIN_LITERAL_LEN),
                        "include the crawler's product token literally, e.g. 'FooBot/'",
                    ));
                }
            }
            Err(p) => out.push(Diagnostic::error(
                if p.waf_only {
                    Code::NotWafCompatible
                } else {
                    Code::PatternSyntax
                },
                &s.pattern_location.file,
                s.pattern_location.line,
                format!("signature '{}': {}", s.id, p.message),
                p.hint,
            )),
        }
    }
    for s in &catalog.signatures {
        check_generic_fields(s, &mut out);
    }
    check_duplicates(catalog, &mut out);

    let compiled = compile(catalog);
    match compiled.matcher() {
        Ok(matcher) => {
            let rank_of: HashMap<usize, usize> = compiled
                .source
                .iter()
                .enumerate()
                .map(|(rank, &i)| (i, rank))
                .collect();
            for (i, s) in catalog.signatures.iter().enumerate() {
                let Some(&rank) = rank_of.get(&i) else {
                    continue;
                };
                let mut decides_one = false;
                let mut deciders = Vec::new();
                for (ua, loc) in &s.instances {
                    let matches: Vec<_> = matcher.matches(ua).collect();
                    if !matches.iter().any(|v| v.index == rank) {
                        let spared = s.unless.as_ref().filter(|_| {
                            regex::RegexBuilder::new(&s.pattern)
                                .case_insensitive(true)
                                .build()
                                .is_ok_and(|re| re.is_match(ua))
                        });
                        out.push(match spared {
                            Some((unless, _)) => Diagnostic::error(
                                Code::InstanceNotMatched,
                                &loc.file,
                                loc.line,
                                format!("signature '{}': its `unless` '{}' spares its example {:?}", s.id, unless, ua),
                                "an example is what the rule must catch: narrow the `unless`, or drop the example",
                            ),
                            None => Diagnostic::error(
                                Code::InstanceNotMatched,
                                &loc.file,
                                loc.line,
                                format!("signature '{}': pattern '{}' does not match its example {:?}", s.id, s.pattern, ua),
                                "fix the pattern or the example; matching is case-insensitive and anywhere in the user-agent",
                            ),
                        });
                        continue;
                    }
                    match decider(s, &matches) {
                        Some(v) if v.index == rank => decides_one = true,
                        Some(v) => deciders.push(v.signature.id.to_owned()),
                        None => {}
                    }
                }
                if !decides_one && !deciders.is_empty() && !s.backstop {
                    deciders.sort();
                    deciders.dedup();
                    out.push(Diagnostic::error(
                        Code::Shadowed,
                        &s.location.file,
                        s.location.line,
                        format!("signature '{}' never decides: every example is decided by {}", s.id, deciders.join(", ")),
                        "remove it, or make it more specific than the signature that wins (specific beats generic; then allow > block > rate_limit > monitor; then the longer pattern; then catalog order)",
                    ));
                }
            }
            if let Some(corpus) = browsers {
                let mut hits: HashMap<usize, (usize, usize)> = HashMap::new();
                for (n, ua) in corpus.user_agents.iter().enumerate() {
                    for v in matcher.matches(ua) {
                        hits.entry(v.index).or_insert((0, n)).0 += 1;
                    }
                }
                let mut hits: Vec<_> = hits.into_iter().collect();
                hits.sort();
                for (rank, (count, first)) in hits {
                    let s = &catalog.signatures[compiled.source[rank]];
                    let example = &corpus.user_agents[first];
                    let (message, hint) = explain_browser_match(s, example, corpus);
                    out.push(Diagnostic::error(
                        Code::MatchesBrowser,
                        &s.pattern_location.file,
                        s.pattern_location.line,
                        format!(
                            "signature '{}' matches {count} real browser/device user-agent(s) of the guard corpus, e.g. {example:?} (from {}){message}",
                            s.id,
                            corpus.source_of(first)
                        ),
                        hint,
                    ));
                }
            }
        }
        Err(e) => out.push(Diagnostic::error(
            Code::PatternSyntax,
            "",
            0,
            format!("the compiled matcher cannot be loaded: {e}"),
            "this is a bug in bot-signatures; please report it",
        )),
    }
    out.sort_by(|a, b| (a.file.as_str(), a.line).cmp(&(b.file.as_str(), b.line)));
    Report {
        diagnostics: out,
        compiled,
    }
}

fn check_fields(s: &Signature, out: &mut Vec<Diagnostic>) {
    let (file, line) = (&s.location.file, s.location.line);
    let mut bad = |message: String, hint: &str| {
        out.push(Diagnostic::error(Code::BadField, file, line, message, hint))
    };
    let id_ok = !s.id.is_empty()
        && s.id.len() <= 64
        && s.id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.id.starts_with('-');
    if !id_ok {
        bad(
            format!("id {:?} is not a lowercase slug", s.id),
            "use 1-64 characters of a-z, 0-9 and '-', e.g. 'foobot'",
        );
    }
    if s.category.is_empty()
        || !s
            .category
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        bad(
            format!(
                "signature '{}': category {:?} is not a lowercase word",
                s.id, s.category
            ),
            "e.g. 'seo', 'ai-crawler', 'http-library'",
        );
    }
    if s.description.trim().is_empty() {
        bad(
            format!("signature '{}' has an empty description", s.id),
            "say who runs the crawler and why it is blocked or allowed",
        );
    }
    if s.author.trim().is_empty() {
        bad(
            format!("signature '{}' has an empty author", s.id),
            "put your name or e-mail",
        );
    }
    if !is_date(&s.added) {
        bad(
            format!(
                "signature '{}': added {:?} is not a YYYY-MM-DD date",
                s.id, s.added
            ),
            "e.g. added = \"2026-11-21\"",
        );
    }
    if let Some(url) = &s.url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        bad(
            format!("signature '{}': url {:?} is not an http(s) URL", s.id, url),
            "link the crawler's documentation page",
        );
    }
    if s.instances.is_empty() {
        bad(
            format!("signature '{}' has no instances", s.id),
            "add at least one real user-agent the crawler sends",
        );
    }
}

/// A real calendar date written `YYYY-MM-DD` between 1990 and 2100
/// (`2026-02-31` is not one), checked by the `time` crate.
pub fn is_date(s: &str) -> bool {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .is_ok_and(|d| (1990..=2100).contains(&d.year()))
}

fn check_duplicates(catalog: &Catalog, out: &mut Vec<Diagnostic>) {
    let mut ids: HashMap<&str, &Signature> = HashMap::new();
    let mut patterns: HashMap<String, &Signature> = HashMap::new();
    for s in &catalog.signatures {
        if let Some(first) = ids.insert(&s.id, s) {
            out.push(Diagnostic::error(
                Code::DuplicateId,
                &s.location.file,
                s.location.line,
                format!(
                    "id '{}' is already used at {}:{}",
                    s.id, first.location.file, first.location.line
                ),
                "ids are stable keys for logs and WAF rules; pick a new one",
            ));
            ids.insert(&first.id, first);
        }
        if let Some(first) = patterns.insert(s.pattern.to_ascii_lowercase(), s) {
            out.push(Diagnostic::error(
                Code::DuplicatePattern,
                &s.pattern_location.file,
                s.pattern_location.line,
                format!(
                    "signature '{}' has the same pattern as '{}' at {}:{}",
                    s.id, first.id, first.location.file, first.location.line
                ),
                "merge the two entries (keep the examples of both)",
            ));
            patterns.insert(s.pattern.to_ascii_lowercase(), first);
        }
    }
}

/// The match that decides, for signature `s`, a user-agent that `matches`
/// (in precedence order): the first; for a generic rule the first generic
/// one (a generic rule is a safety net under the specific signatures: only
/// another generic rule can shadow it).
pub(crate) fn decider<'a, 'm>(
    s: &Signature,
    matches: &'a [Verdict<'m>],
) -> Option<&'a Verdict<'m>> {
    if s.generic {
        matches.iter().find(|v| v.signature.generic)
    } else {
        matches.first()
    }
}

/// The fields only generic rules have. `backstop`: a specific signature that
/// never decides duplicates another. A signature's exception (`unless`): only
/// on generic rules (WAF, where the specific ones go, has no "unless"),
/// non-empty, and a pattern the edge and WAF can read. That it spares none of
/// the rule's own examples is checked with the examples
/// (`instance-not-matched`).
fn check_generic_fields(s: &Signature, out: &mut Vec<Diagnostic>) {
    if s.backstop && !s.generic {
        out.push(Diagnostic::error(
            Code::BadField,
            &s.location.file,
            s.location.line,
            format!("signature '{}': `backstop` is only for generic rules", s.id),
            "a specific signature that never decides names the same crawler as the one that does: remove one of them",
        ));
    }
    let Some((unless, at)) = &s.unless else {
        return;
    };
    if !s.generic {
        out.push(Diagnostic::error(
            Code::BadField,
            &at.file,
            at.line,
            format!("signature '{}': `unless` is only for generic rules", s.id),
            "a specific signature names one crawler: narrow its pattern instead, or set generic = true",
        ));
    } else if unless.trim().is_empty() {
        out.push(Diagnostic::error(
            Code::BadField,
            &at.file,
            at.line,
            format!("signature '{}': `unless` is empty", s.id),
            "remove it, or write the regex of the user-agents this rule must spare",
        ));
    } else if let Err(p) = pattern::check_unless(unless) {
        out.push(Diagnostic::error(
            if p.waf_only {
                Code::NotWafCompatible
            } else {
                Code::PatternSyntax
            },
            &at.file,
            at.line,
            format!("signature '{}': `unless`: {}", s.id, p.message),
            p.hint,
        ));
    }
}

/// Why a pattern matched a device, and what to write instead: the word the
/// match sits inside (`'sonic' inside the word 'Panasonic'`), and the
/// tightened form the importer would use ([`crate::import::tighten_unless`],
/// which honours the rule's `unless`: a device it spares is no false
/// positive, an example it spares is not kept) when one keeps an example and
/// matches no device of the corpus.
fn explain_browser_match(s: &Signature, example: &str, corpus: &BrowserCorpus) -> (String, String) {
    let mut message = String::new();
    let re = regex::RegexBuilder::new(&s.pattern)
        .case_insensitive(true)
        .unicode(false)
        .build();
    if let Some(m) = re.ok().and_then(|re| re.find(example)) {
        let bytes = example.as_bytes();
        let word = |b: u8| b.is_ascii_alphanumeric();
        let inside_left = m.start() > 0 && word(bytes[m.start() - 1]) && word(bytes[m.start()]);
        // Inside a word: letters or digits go on to the left, or letters to
        // the right (a version's digits after "Foo/1" are no word).
        let inside_right = m.end() < bytes.len()
            && m.end() > m.start()
            && bytes[m.end()].is_ascii_alphabetic()
            && word(bytes[m.end() - 1]);
        if inside_left || inside_right {
            let start = bytes[..m.start()]
                .iter()
                .rposition(|&b| !word(b))
                .map_or(0, |p| p + 1);
            let end = bytes[m.end()..]
                .iter()
                .position(|&b| !word(b))
                .map_or(bytes.len(), |p| m.end() + p);
            message = format!(
                "; the match {:?} is inside the word {:?}",
                m.as_str(),
                &example[start..end]
            );
        } else {
            message = format!("; the match is {:?}", m.as_str());
        }
    }
    let instances: Vec<String> = s.instances.iter().map(|(i, _)| i.clone()).collect();
    let unless = s.unless.as_ref().map(|(u, _)| u.as_str());
    let hint = match crate::import::tighten_unless(&s.pattern, unless, &instances, Some(corpus)) {
        Some((p, kept)) if p != s.pattern => format!(
            "match the product, not a word: pattern = '{p}' keeps {} of {} example(s) and matches no user-agent of the guard corpus",
            kept.len(),
            instances.len()
        ),
        _ => "make the pattern specific to the crawler (its product token at a token boundary, '\\bFooBot', with '/' and a version, or '+http'), so real browsers never match".to_owned(),
    };
    (message, hint)
}

#[cfg(test)]
mod tests {
    use super::is_date;

    #[test]
    fn dates_are_real_calendar_dates() {
        for ok in ["2026-11-26", "2024-02-29", "1990-01-01"] {
            assert!(is_date(ok), "{ok}");
        }
        for bad in [
            "2026-02-31",
            "2026-02-29",
            "2026-13-01",
            "2026-1-01",
            "26-01-01",
            "2026-01-01x",
            "1989-12-31",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }
}
