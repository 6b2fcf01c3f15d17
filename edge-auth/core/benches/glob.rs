//! Path globs on hostile input: the worst glob the config accepts (16 `**`
//! wildcards, each followed by a literal, and a final byte that never comes)
//! against an 8 KB path of the repeated literal, beside the anchor of a plain
//! prefix test on the same path. The backtracking matcher this replaced takes
//! time exponential in the wildcards here; the NFA walk is linear in the path.
//! Also the canonical-URI reading of the same 8 KB path, fully percent-encoded.
//!
//! `cargo bench -p edge-auth-core --bench glob`

use criterion::{Criterion, criterion_group, criterion_main};
use edge_auth_core::policy::{Glob, MAX_GLOB_WILDCARDS};
use edge_auth_core::uri::{UriPolicy, canonicalize};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let path = "/".to_owned() + &"a".repeat(8191);
    let worst = "/".to_owned() + &"**a".repeat(MAX_GLOB_WILDCARDS) + "b";
    let star = "/".to_owned() + &"*a".repeat(MAX_GLOB_WILDCARDS) + "b";
    let worst = Glob::new(&worst).unwrap_or_else(|e| panic!("{e}"));
    let star = Glob::new(&star).unwrap_or_else(|e| panic!("{e}"));
    let typical = Glob::new("/assets/**.css").unwrap_or_else(|e| panic!("{e}"));
    let mut g = c.benchmark_group("glob, 8 KB path");
    g.bench_function("anchor: prefix test", |b| {
        b.iter(|| black_box(&path).starts_with(black_box("/assets/")))
    });
    g.bench_function("typical glob /assets/**.css", |b| {
        b.iter(|| typical.matches(black_box(&path)))
    });
    g.bench_function("worst glob: 16 x '**a', then 'b'", |b| {
        b.iter(|| worst.matches(black_box(&path)))
    });
    g.bench_function("16 x '*a', then 'b'", |b| {
        b.iter(|| star.matches(black_box(&path)))
    });
    g.finish();
    let encoded: String = "/".to_owned()
        + &path[1..]
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect::<String>();
    let mut u = c.benchmark_group("canonical URI");
    let policy = UriPolicy::default();
    u.bench_function("8 KB path, plain", |b| {
        b.iter(|| canonicalize(black_box(&path), &policy))
    });
    u.bench_function("24 KB path, every byte escaped", |b| {
        b.iter(|| canonicalize(black_box(&encoded), &policy))
    });
    u.bench_function("typical asset path", |b| {
        b.iter(|| canonicalize(black_box("/assets/app.3f9c1a.js"), &policy))
    });
    u.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
