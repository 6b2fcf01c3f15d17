//! The shipped bot-signature catalog: it passes every check against the guard
//! corpus, and each imported file is exactly what the importer makes from its
//! pinned npm package (no hand edits, no drift).

use bot_signatures::Catalog;
use bot_signatures::corpus::BrowserCorpus;
use bot_signatures::import::{self, Source, UpstreamEntry};
use bot_signatures::validate::validate;
use workspace_tests::repo_root;

/// The default guard corpus, found from the repository root.
fn corpus() -> BrowserCorpus {
    let paths: Vec<_> = bot_signatures::corpus::GUARD
        .iter()
        .map(|r| repo_root().join(r))
        .collect();
    BrowserCorpus::load_all(&paths)
        .unwrap_or_else(|e| panic!("{e}: run `npm ci` at the repository root"))
}

/// The upstream entries of the pinned crawler-user-agents package.
fn crawler_user_agents() -> Vec<UpstreamEntry> {
    serde_json::from_str(
        &std::fs::read_to_string(
            repo_root().join("node_modules/crawler-user-agents/crawler-user-agents.json"),
        )
        .unwrap_or_else(|e| panic!("run `npm ci`: {e}")),
    )
    .unwrap()
}

#[test]
fn shipped_catalog_passes_check_with_browser_guard() {
    let (catalog, parse) = Catalog::load(&repo_root().join("bot-signatures/catalog")).unwrap();
    assert!(parse.is_empty(), "{parse:?}");
    let corpus = corpus();
    // Every guard file is read, and together they are tens of thousands... of
    // which none is lost to deduplication by accident.
    assert_eq!(corpus.files.len(), bot_signatures::corpus::GUARD.len());
    // Each file adds at least a third of its own distinct lines (the rest
    // are in files read before it; woothee's devices, the smallest, add 62
    // of 128) and more than 50.
    for (path, added) in &corpus.files {
        let own = BrowserCorpus::load(std::path::Path::new(path))
            .unwrap()
            .user_agents
            .len();
        assert!(
            *added > 50 && added * 3 >= own,
            "{path} adds {added} of its {own} user-agents: (nearly) empty, or lost to deduplication"
        );
    }
    assert!(
        corpus.user_agents.len() > 12_000,
        "guard corpus too small: {}",
        corpus.user_agents.len()
    );
    let report = validate(&catalog, Some(&corpus));
    let errors: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(catalog.signatures.len() > 1000);
}

/// Regenerates one imported file the way `bot-signatures import --source`
/// does and compares it with the committed one.
fn assert_import_is_fresh(source: Source) {
    let root = repo_root();
    let dir = root.join("bot-signatures/catalog");
    let name = source.name();
    let out = dir.join(format!("imported/{name}.toml"));
    let committed = std::fs::read_to_string(&out).unwrap();
    let pkg = root.join(format!("node_modules/{name}"));
    let version: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pkg.join("package.json")).unwrap()).unwrap();
    let package = format!("{name}@{}", version["version"].as_str().unwrap());
    let (mut existing, _) = Catalog::load(&dir).unwrap();
    let out_name = out.display().to_string();
    existing.signatures.retain(|s| s.location.file != out_name);
    let import_date = committed
        .lines()
        .find_map(|l| {
            l.strip_prefix("# Imported on ")
                .map(|d| d.trim_end_matches('.').to_owned())
        })
        .expect("the imported file names its import date");
    let (drafts, skipped) = match source {
        Source::CrawlerUserAgents => (
            import::crawler_user_agents(&crawler_user_agents(), &package, &import_date),
            Vec::new(),
        ),
        Source::Isbot => {
            let patterns =
                import::isbot_patterns(&std::fs::read_to_string(pkg.join("index.js")).unwrap())
                    .unwrap();
            let examples = import::isbot_examples(
                BrowserCorpus::load(&root.join(bot_signatures::corpus::ISBOT_FIXTURES))
                    .unwrap()
                    .user_agents,
                &crawler_user_agents(),
                bot_signatures::corpus::DEVELOPMENT_BOTS
                    .iter()
                    .flat_map(|rel| BrowserCorpus::load(&root.join(rel)).unwrap().user_agents)
                    .collect(),
            );
            import::isbot(&patterns, &examples, &existing, &package, &import_date)
        }
    };
    let regenerated = import::import(
        source,
        drafts,
        skipped,
        &package,
        &import_date,
        &existing,
        Some(&corpus()),
    );
    assert!(
        regenerated.text == committed,
        "bot-signatures/catalog/imported/{name}.toml differs from a fresh import of {package}: run `cargo run -p bot-signatures -- import --source {name} --date {import_date}`"
    );
    assert!(
        dir.join(format!("imported/{name}.LICENSE")).is_file(),
        "the upstream license must be kept beside the import"
    );
    assert!(
        regenerated.written > 50,
        "{package}: only {} entries",
        regenerated.written
    );
}

#[test]
fn imported_crawler_user_agents_matches_the_pinned_package() {
    assert_import_is_fresh(Source::CrawlerUserAgents);
}

#[test]
fn imported_isbot_matches_the_pinned_package() {
    assert_import_is_fresh(Source::Isbot);
}

#[test]
fn shipped_catalog_packs_into_waf_quotas_and_proves() {
    let (catalog, _) = Catalog::load(&repo_root().join("bot-signatures/catalog")).unwrap();
    let budget = bot_signatures::waf::Budget::default();
    let (verified, _) =
        bot_signatures::verified::load(&repo_root().join("bot-signatures/verified"), &catalog)
            .unwrap();
    let rules = bot_signatures::waf::compile(&catalog, Some(&verified), budget);
    let problems = bot_signatures::waf::prove(&rules, &catalog, Some(&verified), Some(&corpus()));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Every verified bot a block hits is exempt only from its operator's
    // addresses; no allow is exempt by user-agent alone.
    assert!(
        rules
            .exceptions
            .regexes()
            .flat_map(|r| &r.signatures)
            .all(|id| {
                catalog
                    .signatures
                    .iter()
                    .any(|s| &s.id == id && s.action != bot_signatures::Action::Allow)
            }),
        "an allow exempt by user-agent alone"
    );
    assert!(rules.sets_used <= budget.max_sets && rules.wcu <= budget.max_wcu);
    // Every specific block signature is packed; only generic rules stay at the edge.
    let specific_blocks = catalog
        .signatures
        .iter()
        .filter(|s| s.action == bot_signatures::Action::Block && !s.generic)
        .count();
    assert_eq!(rules.packed.len(), specific_blocks);
    assert!(
        rules
            .left_out
            .iter()
            .all(|l| l.reason.starts_with("generic rule")
                || l.reason.starts_with("allow taken on its word"))
    );
}

/// The edge's matcher (literal index, then regexes only where needed) finds
/// exactly the signatures whose regexes match, checked against all of them at
/// once with the `regex` crate (ASCII case-insensitive, as WAF and the edge
/// read patterns): every crawler-user-agents instance and every browser of the
/// guard corpus.
#[test]
fn binary_artifact_matches_exactly_what_the_regexes_match() {
    let (catalog, _) = Catalog::embedded();
    let compiled = bot_signatures::compile::compile(&catalog);
    // The form the bundle ships (`cargo xtask dist`).
    let bytes = compiled.artifact.to_edge_bytes();
    let edge = bot_signatures::Matcher::from_bytes(&bytes).unwrap();
    assert_eq!(edge.len(), compiled.artifact.signatures.len());
    // The patterns from the catalog: the binary form leaves out those of
    // exact signatures (the edge never reads them), in the same order.
    for (s, meta) in edge.signatures().zip(&compiled.artifact.signatures) {
        assert_eq!(s.id, meta.id);
        assert_eq!(s.pattern.is_empty(), meta.exact, "{}", s.id);
    }
    let oracle = regex::bytes::RegexSetBuilder::new(
        compiled
            .artifact
            .signatures
            .iter()
            .map(|s| s.pattern.as_str()),
    )
    .case_insensitive(true)
    .unicode(false)
    .size_limit(1 << 30)
    .build()
    .unwrap();
    // A generic rule's exception, read the same way: a signature matches
    // when its pattern does and its `unless` does not.
    let exceptions: Vec<(usize, regex::bytes::Regex)> = edge
        .signatures()
        .enumerate()
        .filter_map(|(i, s)| {
            let re = regex::bytes::RegexBuilder::new(s.unless?)
                .case_insensitive(true)
                .unicode(false)
                .build()
                .unwrap();
            Some((i, re))
        })
        .collect();
    assert!(exceptions.len() >= 4, "{} exceptions", exceptions.len());
    let mut uas: Vec<String> = crawler_user_agents()
        .into_iter()
        .flat_map(|e| e.instances)
        .collect();
    uas.extend(corpus().user_agents);
    uas.extend(
        BrowserCorpus::load(&repo_root().join(bot_signatures::corpus::ISBOT_FIXTURES))
            .unwrap()
            .user_agents,
    );
    let (mut bots, mut spared) = (0, 0);
    for ua in &uas {
        let found: Vec<usize> = edge.matches(ua).map(|v| v.index).collect();
        let mut want: Vec<usize> = oracle.matches(ua.as_bytes()).into_iter().collect();
        let before = want.len();
        want.retain(|i| {
            !exceptions
                .iter()
                .any(|(e, re)| e == i && re.is_match(ua.as_bytes()))
        });
        spared += before - want.len();
        assert_eq!(found, want, "{ua}");
        bots += usize::from(!found.is_empty());
    }
    assert!(bots > 2500, "only {bots} user-agents matched");
    // The exceptions were exercised: some pattern matches were spared.
    assert!(spared > 100, "only {spared} matches spared by an `unless`");
    // Corrupting any one byte of the text or the tables is refused or still
    // loads a matcher; it never panics.
    for at in (0..bytes.len()).step_by(97) {
        let mut bad = bytes.clone();
        bad[at] ^= 0x5A;
        if let Ok(m) = bot_signatures::Matcher::from_bytes(&bad) {
            let _ = m.classify("Mozilla/5.0 (compatible; Googlebot/2.1)");
        }
    }
}

/// Issue #14's attack over the whole shipped catalog: every instance of every
/// specific `block` or `rate_limit` signature, with a good bot's token
/// appended (the shortest instance of each `allow` signature), sent from an
/// address no operator publishes, is never let through as that good bot,
/// under either `unverified_claim` policy: a claim verified by address fails
/// there, and a claim taken on its word never outranks a specific signature
/// of another action that matches the same user-agent.
#[test]
fn an_appended_good_bot_token_never_rescues_a_blocked_agent() {
    use bot_signatures::Action;
    use edge_auth_core::config::UnverifiedClaim;
    use edge_auth_core::decide::bot_verdict;
    let matcher = workspace_tests::shipped_matcher();
    let verified = workspace_tests::shipped_verified();
    let outside: std::net::IpAddr = "203.0.113.10".parse().unwrap();
    let mut tokens: Vec<String> = Vec::new();
    let mut blocked: Vec<(String, String)> = Vec::new();
    let (catalog, _) = Catalog::embedded();
    for s in &catalog.signatures {
        match s.action {
            Action::Allow => {
                if let Some((t, _)) = s.instances.iter().min_by_key(|(i, _)| i.len()) {
                    tokens.push(t.clone());
                }
            }
            Action::Block | Action::RateLimit if !s.generic => {
                blocked.extend(s.instances.iter().map(|(i, _)| (s.id.clone(), i.clone())));
            }
            _ => {}
        }
    }
    assert!(
        tokens.len() > 200 && blocked.len() > 1000,
        "{} tokens, {} blocked instances",
        tokens.len(),
        blocked.len()
    );
    let (mut checked, mut anchored, mut failures) = (0usize, 0usize, Vec::new());
    for (id, instance) in &blocked {
        // Only instances the catalog itself decides as a non-allow.
        let alone = bot_verdict(
            matcher,
            Some(verified),
            instance,
            Some(outside),
            UnverifiedClaim::Block,
        );
        if alone
            .verdict
            .is_none_or(|v| v.signature.action == Action::Allow)
        {
            continue;
        }
        for token in &tokens {
            let ua = format!("{instance} {token}");
            // A pattern anchored at the end (`GoogleAssociationService$`)
            // no longer names the agent once text follows it: only a
            // verified claim (by address or signature) can tell those.
            if !matcher.matches(&ua).any(|v| v.signature.id == id) {
                anchored += 1;
                continue;
            }
            for policy in [UnverifiedClaim::Block, UnverifiedClaim::Ignore] {
                checked += 1;
                let found = bot_verdict(matcher, Some(verified), &ua, Some(outside), policy);
                let through = found
                    .verdict
                    .is_some_and(|v| v.signature.action == Action::Allow)
                    && !found.spoofed;
                if through {
                    failures.push(format!(
                        "{id} ({policy:?}): {ua:?} decided by {:?}",
                        found.verdict.map(|v| v.signature.id)
                    ));
                }
            }
        }
    }
    assert!(checked > 400_000, "only {checked} combinations checked");
    assert!(
        anchored < 2_000,
        "{anchored} combinations skipped as anchored"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} let through, e.g.:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Issue #14's acceptance over the whole catalog: every `allow` signature's
/// examples are verified from an address in its operator's lists; from an
/// address outside they are refused as spoofed (`block`) or lose the claim
/// (`ignore`); an `allow` the catalog verifies by no means stays a claim
/// taken on its word.
#[test]
fn every_allow_signature_is_verified_by_its_operators_addresses() {
    use bot_signatures::Action;
    use edge_auth_core::ClaimStatus;
    use edge_auth_core::config::UnverifiedClaim;
    use edge_auth_core::decide::bot_verdict;
    let matcher = workspace_tests::shipped_matcher();
    let verified = workspace_tests::shipped_verified();
    let outside: std::net::IpAddr = "203.0.113.10".parse().unwrap();
    let (catalog, _) = Catalog::embedded();
    let (mut by_address, mut on_word) = (0usize, 0usize);
    for s in catalog
        .signatures
        .iter()
        .filter(|s| s.action == Action::Allow)
    {
        for (ua, _) in &s.instances {
            let claim_of = |ip, policy| bot_verdict(matcher, Some(verified), ua, Some(ip), policy);
            match verified.claim_lists(&s.id) {
                Some((operator, lists)) => {
                    by_address += 1;
                    for list in lists {
                        let inside = list.first_address().unwrap();
                        let found = claim_of(inside, UnverifiedClaim::Block);
                        let claim = found.claim.clone().unwrap();
                        assert_eq!(
                            (claim.status, claim.operator.as_str(), found.spoofed),
                            (ClaimStatus::Verified, operator, false),
                            "{} from {inside} ({}): {ua:?}",
                            s.id,
                            list.name
                        );
                        assert_eq!(
                            found.verdict.map(|v| v.signature.action),
                            Some(Action::Allow)
                        );
                    }
                    let refused = claim_of(outside, UnverifiedClaim::Block);
                    assert!(refused.spoofed, "{} from {outside}: {ua:?}", s.id);
                    let ignored = claim_of(outside, UnverifiedClaim::Ignore);
                    assert!(!ignored.spoofed);
                    assert_eq!(
                        ignored.claim.map(|c| c.status),
                        Some(ClaimStatus::Spoofed),
                        "{}: {ua:?}",
                        s.id
                    );
                    assert!(
                        ignored
                            .verdict
                            .is_none_or(|v| v.signature.action != Action::Allow
                                || verified.claim_lists(v.signature.id).is_none()),
                        "{}: a spoofed claim was honoured: {ua:?}",
                        s.id
                    );
                }
                None => {
                    on_word += 1;
                    let found = claim_of(outside, UnverifiedClaim::Block);
                    assert!(!found.spoofed, "{}: {ua:?}", s.id);
                }
            }
        }
    }
    assert!(
        by_address >= 20 && on_word > 100,
        "{by_address} by address, {on_word} on their word"
    );
}
