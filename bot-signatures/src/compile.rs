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
            exact: lits.is_some_and(|(l, _)| l.exact),
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
}
