//! Compiles a catalog into the edge matcher's artifact
//! ([`bot_signatures_matcher::CompiledCatalog`]): signatures in precedence
//! order, with the literal index extracted from each pattern.

use bot_signatures_matcher::{
    ARTIFACT_VERSION, CompiledCatalog, Matcher, MatcherError, SignatureMeta, precedence_key,
};

use crate::catalog::{Catalog, Signature};
use crate::pattern;

/// A compiled catalog plus, for each compiled signature, its index in the
/// source catalog.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The artifact the edge loads.
    pub artifact: CompiledCatalog,
    /// `source[i]` is the catalog index of `artifact.signatures[i]`.
    pub source: Vec<usize>,
}

impl Compiled {
    /// Loads the artifact into a matcher.
    pub fn matcher(&self) -> Result<Matcher, MatcherError> {
        Matcher::new(self.artifact.clone())
    }
}

/// Compiles every signature whose pattern passes [`pattern::check`]; the others
/// are left out (the validator reports them).
pub fn compile(catalog: &Catalog) -> Compiled {
    let mut order: Vec<(usize, &Signature, regex_syntax::hir::Hir)> = catalog
        .signatures
        .iter()
        .enumerate()
        .filter_map(|(i, s)| pattern::check(&s.pattern).ok().map(|hir| (i, s, hir)))
        .collect();
    order.sort_by_key(|(i, s, _)| precedence_key(s.generic, s.action, &s.pattern, *i));

    let mut artifact = CompiledCatalog {
        version: ARTIFACT_VERSION,
        signatures: Vec::new(),
        literals: Vec::new(),
        literal_shapes: Vec::new(),
        unindexed: Vec::new(),
        alphabets: Vec::new(),
        lead_sets: Vec::new(),
    };
    let mut source = Vec::with_capacity(order.len());
    for (rank, (i, s, hir)) in order.into_iter().enumerate() {
        let rank = u32::try_from(rank).unwrap_or(u32::MAX);
        // A literal every browser has (`^mozilla/...`) would make the
        // signature a candidate on every request and spoil the index's skip
        // over the browser opening: such a signature is unindexed instead
        // (its alphabet, if any, still turns browsers away cheaply).
        let lits = pattern::edge_literals(&hir).filter(|(l, _)| {
            !l.set
                .iter()
                .any(|lit| pattern::EVERY_BROWSER.contains(lit.as_str()))
        });
        match &lits {
            Some((l, shape)) => {
                artifact
                    .literals
                    .extend(l.set.iter().map(|lit| (lit.clone(), rank)));
                artifact
                    .literal_shapes
                    .extend(std::iter::repeat_n(*shape, l.set.len()));
            }
            None => artifact.unindexed.push(rank),
        }
        // Only a regex that runs needs to know where to start: its lead
        // before the first hit, or, with no lead (or one too long to store),
        // where the run of the bytes that can come before its literal starts;
        // that set is not worth storing when it holds every printable byte
        // (`.*foo`).
        let inexact = lits.as_ref().map(|(l, _)| l).filter(|l| !l.exact);
        let lead = inexact.and_then(|l| u16::try_from(l.lead?).ok());
        if let Some(l) = inexact
            && lead.is_none()
            && !(0x20u8..0x7F).all(|b| l.before[usize::from(b >> 6)] >> (b & 63) & 1 != 0)
        {
            artifact.lead_sets.push((rank, l.before));
        }
        if let Some(a) = pattern::anchored(&hir) {
            artifact
                .alphabets
                .push((rank, a.alphabet, a.limits, a.needs));
        }
        artifact.signatures.push(SignatureMeta {
            id: s.id.clone(),
            action: s.action,
            category: s.category.clone(),
            generic: s.generic,
            pattern: s.pattern.clone(),
            exact: lits.as_ref().is_some_and(|(l, _)| l.exact),
            lead,
            unless: s.unless.as_ref().map(|(u, _)| u.clone()),
        });
        source.push(i);
    }
    // Shapes only when some literal has one: the artifact stays as it was
    // for a catalog without.
    if artifact.literal_shapes.iter().all(|&s| s == 0) {
        artifact.literal_shapes.clear();
    }
    Compiled { artifact, source }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shipped_catalog_classifies_browsers_and_bots() {
        let (catalog, _) = crate::Catalog::embedded();
        let m = super::compile(&catalog).matcher().unwrap();
        let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert!(m.classify(ua).is_none());
        assert_eq!(
            m.classify("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
                .unwrap()
                .signature
                .id,
            "cua-googlebot"
        );
        assert_eq!(m.classify("curl/8.5.0").unwrap().signature.id, "cua-curl");
    }

    /// Starting a regex a lead before its literal's first hit, or where the
    /// run of its lead set before that hit starts, changes no verdict: the
    /// shipped catalog decides every user-agent of the guard and import data
    /// (bots and devices) alike with its leads and lead sets and with them
    /// cleared (every regex from the start of the text), every matching
    /// signature in order. Counts the user-agents a signature with a lead
    /// decides and those one with a lead set matches, so the check cannot
    /// pass on data neither touches.
    #[test]
    fn leads_change_no_verdict() {
        let (catalog, _) = crate::Catalog::embedded();
        let compiled = super::compile(&catalog);
        let with = compiled.matcher().unwrap();
        let mut cleared = compiled.artifact.clone();
        for s in &mut cleared.signatures {
            s.lead = None;
        }
        cleared.lead_sets.clear();
        let walked: Vec<u32> = compiled
            .artifact
            .lead_sets
            .iter()
            .map(|(s, _)| *s)
            .collect();
        let email = with
            .signatures()
            .position(|s| s.id == "generic-contact-email");
        assert!(
            email.is_some_and(|i| walked.contains(&(i as u32))),
            "the e-mail rule's lead is unbounded: it has a lead set"
        );
        // A set of every printable byte would walk back to the start anyway:
        // `\bSpider[\s\S]*spider\.com\b` has none stored.
        let anything = with
            .signatures()
            .position(|s| s.id == "cua-spider-s-s-spider-com")
            .expect("the catalog has it");
        assert!(with.signature(anything).lead.is_none() && !walked.contains(&(anything as u32)));
        let without = bot_signatures_matcher::Matcher::new(cleared).unwrap();
        let led = with.signatures().filter(|s| s.lead.is_some()).count();
        assert!(led >= 10, "only {led} signatures have a lead");
        let url = with.signatures().find(|s| s.id == "generic-contact-url");
        assert_eq!(
            url.and_then(|s| s.lead),
            Some(1),
            "one class byte before \"http\""
        );
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let (mut checked, mut decided_by_lead, mut matched_by_set) = (0, 0, 0);
        for file in [
            "isbot/crawlers.txt",
            "isbot/browsers.txt",
            "uap-core/spiders-guard.txt",
            "uap-core/devices-guard.txt",
            "whichbrowser/bots-guard.txt",
            "whichbrowser/devices-guard.txt",
        ] {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            for ua in text.lines() {
                let a = with.classify(ua).map(|v| v.index);
                assert_eq!(a, without.classify(ua).map(|v| v.index), "{file}: {ua:?}");
                checked += 1;
                decided_by_lead += usize::from(a.is_some_and(|i| with.signature(i).lead.is_some()));
                // Every signature that matches, not only the deciding one (a
                // lead set's rule is rarely the first to match), also with a
                // contact address after the user-agent and before it.
                for text in [
                    ua.to_owned(),
                    format!("{ua} (+ops.team@example.org)"),
                    format!("ops@example.org; {ua}"),
                ] {
                    let all: Vec<usize> = with.matches(&text).map(|v| v.index).collect();
                    let cleared: Vec<usize> = without.matches(&text).map(|v| v.index).collect();
                    assert_eq!(all, cleared, "{file}: {text:?}");
                    matched_by_set +=
                        usize::from(all.iter().any(|&i| walked.contains(&(i as u32))));
                }
            }
        }
        assert!(
            checked > 10_000 && decided_by_lead >= 100 && matched_by_set >= 10_000,
            "{checked} checked, {decided_by_lead} decided by a signature with a lead, {matched_by_set} matched by one with a lead set"
        );
    }
}
