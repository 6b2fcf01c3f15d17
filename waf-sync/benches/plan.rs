//! Plan time and memory for 100,000 flagged rows (goal: under 2 s and 200 MB):
//! derivation, packing and diffing against an empty WAF, under criterion,
//! then the process's peak memory. Run: `cargo bench -p waf-sync --bench plan`
//! (needs `npm ci` for the browser corpus).

use std::hint::black_box;
use std::time::Duration;

use bot_signatures::Catalog;
use bot_signatures::corpus::BrowserCorpus;
use bot_signatures::waf::Budget;
use criterion::Criterion;
use waf_sync::agent::FlaggedAgent;
use waf_sync::derive::{Guards, derive};
use waf_sync::plan::{Managed, desired, plan};

/// 100,000 rows: 300 new crawlers in many versions, known catalog bots,
/// browsers flagged by mistake, and reviewed rows.
fn rows(browsers: &BrowserCorpus) -> Vec<FlaggedAgent> {
    let mut out = Vec::with_capacity(100_000);
    for i in 0..100_000u32 {
        let ua = match i % 10 {
            0..=5 => format!(
                "Mozilla/5.0 (compatible; Synth{}Harvester/{}.{}; +https://synth{}.example/bot)",
                i % 300,
                i % 7,
                i % 13,
                i % 300
            ),
            6 => format!(
                "Mozilla/5.0 (compatible; AhrefsBot/7.{}; +http://ahrefs.com/robot/)",
                i % 9
            ),
            7 | 8 => browsers.user_agents[i as usize % browsers.user_agents.len()].clone(),
            _ => format!("ReviewedTool{}/1.0", i % 50),
        };
        let status = if i % 10 == 9 {
            Some("rejected".to_owned())
        } else {
            None
        };
        out.push(FlaggedAgent {
            user_agent: ua,
            hits: i64::from(i % 100),
            status,
        });
    }
    out
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:").map(|v| {
                    v.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .unwrap_or(0.0)
                })
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let browsers = BrowserCorpus::load(&root.join(bot_signatures::corpus::DEFAULT_RELATIVE))
        .unwrap_or_else(|e| panic!("{e}: run `npm ci`"));
    let (catalog, _) = Catalog::embedded();
    let matcher = bot_signatures::compile::compile(&catalog)
        .matcher()
        .unwrap_or_else(|e| panic!("{e}"));
    let verified = bot_signatures::verified::embedded(&catalog)
        .unwrap_or_else(|e| panic!("{}", e.join("\n")))
        .0;
    let input = rows(&browsers);
    let guards = Guards::default();
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    let mut summary = (0, 0, 0);
    c.bench_function("waf-sync/plan-100k-rows", |b| {
        b.iter(|| {
            let d = derive(black_box(&input), &matcher, &browsers, &guards);
            let want = desired(
                &catalog,
                Some(&verified),
                &d.candidates,
                Budget::default(),
                "edge-bots",
                None,
            );
            let p = plan(&Managed::default(), &want.managed);
            summary = (
                d.candidates.len(),
                d.rejected.values().sum::<usize>(),
                p.added.len(),
            );
            black_box(p)
        })
    });
    c.final_summary();
    println!(
        "100,000 rows: {} candidates, {} rejected, {} regexes added; peak RSS of the whole benchmark process {:.0} MB",
        summary.0,
        summary.1,
        summary.2,
        peak_rss_mb()
    );
}
