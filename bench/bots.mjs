// The Node side of `cargo bench -p bot-signatures --bench versus`: times the
// anchors (isbot, and crawler-user-agents' patterns as one case-sensitive
// RegExp, the way projects use that list) on the same workload, and measures
// their quality on the same labeled data. Input: a JSON file (argv[2]) with
// {workload, sources: {name: [ua]}, rounds, frontier?: {missed, guard}}. Output:
// JSON on stdout, with each matcher's flagged count per source and which lines
// it flagged, and with `frontier` isbot's patterns scored on those lines.
// With `--paired` (argv[3]) it times one pass per matcher for each "time"
// line on stdin instead, printing one JSON line per round.
import { readFileSync } from 'node:fs';
import { isbot, list as isbotList } from 'isbot';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const cuaDir = new URL('../node_modules/crawler-user-agents/', import.meta.url);
const cua = JSON.parse(readFileSync(new URL('crawler-user-agents.json', cuaDir), 'utf8'));
const cuaRegex = new RegExp(cua.map((e) => e.pattern).join('|'));
const cuaMatch = (ua) => cuaRegex.test(ua);

// Times several matchers on the workload in alternating rounds (this
// machine's speed drifts; alternating keeps their ratio honest). Returns the
// per-UA median of each.
// One pass of `fn` over the workload: ns per user-agent, and how many it
// flagged (summed into a sink, so that the work cannot be optimised away).
function pass(fn, workload) {
  let flagged = 0;
  const t0 = process.hrtime.bigint();
  for (const ua of workload) flagged += fn(ua) ? 1 : 0;
  return [Number(process.hrtime.bigint() - t0) / workload.length, flagged];
}

function timeNsPerUa(fns, workload, rounds) {
  let sink = 0;
  const samples = fns.map(() => []);
  for (const fn of fns) sink += pass(fn, workload)[1]; // warm-up
  for (let r = 0; r < rounds; r++) {
    fns.forEach((fn, k) => {
      const [ns, flagged] = pass(fn, workload);
      samples[k].push(ns);
      sink += flagged;
    });
  }
  return samples.map((xs) => {
    xs.sort((a, b) => a - b);
    return { median_ns: xs[xs.length >> 1], sink };
  });
}

// Per source: how many lines `fn` flags, and which ('1' per flagged line,
// '0' otherwise, in input order), so that the Rust side can pair each line's
// verdicts (McNemar's test of ours against isbot on the same lines).
function quality(fn) {
  const sources = {};
  for (const [name, list] of Object.entries(input.sources)) {
    const lines = list.map((ua) => (fn(ua) ? '1' : '0')).join('');
    const flagged = lines.split('1').length - 1;
    sources[name] = { total: list.length, flagged, lines };
  }
  return { sources };
}

const out = {};
const fns = [['isbot', isbot], ['crawler-user-agents', cuaMatch]];

// Ours through the wasm build, when a bundle has been built (cargo xtask dist),
// loading the artifact the Rust side compiled from the catalog as it is now.
let wasm = null;
if (input.bundle) {
  // A cold instance: a fresh Node process loads the bundle's wasm, then the
  // matcher (timed); the first call also compiles the loader's code lazily.
  const { execFileSync } = await import('node:child_process');
  const coldScript = new URL('cold-matcher.cjs', import.meta.url).pathname;
  // Alternating with a one-signature artifact: what any first call into the
  // loader costs (V8 compiling it lazily, first touch of memory), whatever
  // the catalog.
  const cold = []; const coldOne = [];
  for (let i = 0; i < 15; i++) {
    cold.push(Number(execFileSync(process.execPath, [coldScript, input.bundle, input.artifact])));
    coldOne.push(Number(execFileSync(process.execPath, [coldScript, input.bundle, input.one_signature_artifact])));
  }
  cold.sort((a, b) => a - b); coldOne.sort((a, b) => a - b);
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const before = process.memoryUsage();
  const { BotMatcher, __wasm_memory: memory } = require(`${input.bundle}/edge_auth_wasm.js`);
  const artifact = readFileSync(input.artifact);
  const loads = [];
  let m;
  for (let i = 0; i < 20; i++) {
    const t0 = process.hrtime.bigint();
    m = new BotMatcher(artifact);
    loads.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (i < 19) m.free();
  }
  const firstLoadMs = loads[0];
  loads.sort((a, b) => a - b);
  const after = process.memoryUsage();
  wasm = {
    load_ms_cold_median: cold[cold.length >> 1],
    load_ms_cold_p90: cold[Math.floor(cold.length * 0.9)],
    load_ms_cold_one_signature_median: coldOne[coldOne.length >> 1],
    load_ms_first: firstLoadMs,
    load_ms_median: loads[loads.length >> 1],
    memory_added_mb: (after.rss - before.rss) / 1048576,
  };
  // As the edge passes a request (the input buffer), and as a string
  // argument (wasm-bindgen's glue copies it a character at a time).
  const { inputPath } = await import('./bot-input.mjs');
  fns.push(['wasm', inputPath(m, memory)]);
  fns.push(['wasm-string', (ua) => m.is_bot(ua)]);
}
if (process.argv[3] === '--paired') {
  // Paired rounds for `versus.rs`: on each "time" line, one untimed and one
  // timed pass of each matcher; the Rust side times its own pass between two of these, so the
  // machine's drift hits both sides of a ratio alike.
  const { createInterface } = await import('node:readline');
  for (const [, fn] of fns) pass(fn, input.workload); // warm-up
  process.stdout.write('ready\n');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line !== 'time') break;
    const round = {};
    for (const [name, fn] of fns) {
      const warm = pass(fn, input.workload)[1]; // caches warm again
      const [ns, flagged] = pass(fn, input.workload);
      round[name] = ns;
      round.sink = (round.sink ?? 0) + warm + flagged;
    }
    process.stdout.write(JSON.stringify(round) + '\n');
  }
  process.exit(0);
}
const times = timeNsPerUa(fns.map(([, fn]) => fn), input.workload, input.rounds);
fns.forEach(([name, fn], k) => {
  out[name] = { ...times[k], ...quality(fn), ...(name === 'wasm' ? wasm : {}) };
});
// isbot's patterns one by one on what our catalog does not flag (when the
// input has `frontier`: development bots we miss, guard devices): how many of
// our misses each would recover, and how many browsers it would flag. The
// price of isbot's recall, measured on data we may read.
if (input.frontier) {
  const { missed, guard } = input.frontier;
  const recovered = new Set(); const flagged = new Set();
  const patterns = [];
  for (const p of isbotList) {
    const re = new RegExp(p, 'i');
    const r = missed.filter((ua) => re.test(ua));
    const f = guard.filter((ua) => re.test(ua));
    r.forEach((ua) => recovered.add(ua)); f.forEach((ua) => flagged.add(ua));
    // Listed if it recovers anything; the totals are isbot's whole list.
    if (r.length > 0) patterns.push({ pattern: p, recovered: r.length, flagged: f.length });
  }
  patterns.sort((a, b) => b.recovered - a.recovered || a.flagged - b.flagged);
  out.frontier = { missed: missed.length, guard: guard.length, of: input.frontier.of, patterns, recovered: recovered.size, flagged: flagged.size };
}
out.versions = {
  node: process.version,
  isbot: JSON.parse(readFileSync(new URL('../node_modules/isbot/package.json', import.meta.url), 'utf8')).version,
  'crawler-user-agents': JSON.parse(readFileSync(new URL('package.json', cuaDir), 'utf8')).version,
};
process.stdout.write(JSON.stringify(out));
