// The versus benchmark's Node side (bench/bots.mjs), run on a few lines
// against the built bundle, so that a change to the glue cannot leave the
// benchmark's wasm figures broken unnoticed (as it once did: the glue's
// memory became an object and the harness still called it):
//   node tests/node/bots_harness.mjs DIST/full
// Checks that the harness returns the wasm matcher's figures, that its two
// ways in (the input buffer, as the edge passes a request, and the string
// argument) flag the same lines, and that they flag the bots and not the
// browsers: a harness that times a matcher flagging nothing or everything
// would report a speed for no work. And that its table of isbot's patterns on
// our misses and the guard adds up to what isbot itself flags there.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isbot } from 'isbot';

const full = resolve(process.argv[2] ?? 'target/dist/full');
const here = new URL('.', import.meta.url).pathname;
const artifact = join(full, '../baked/bot-matcher.bin');
const bots = [
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'curl/8.5.0',
  'python-requests/2.31.0',
];
const browsers = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
];
// The frontier: isbot's patterns one by one on lines we do not flag. Taken
// together they must count what isbot itself flags (it is their union).
const missed = ['voyager/1.0', 'Website Explorer/0.9.9.9', 'Mozilla/5.0 (Windows NT 6.1) Quokka'];
const guard = [...browsers, 'NetSurf/3.10 (Linux)', 'T-Online Browser'];
const input = join(mkdtempSync(join(tmpdir(), 'bots-harness-')), 'input.json');
writeFileSync(input, JSON.stringify({
  workload: [...bots, ...browsers],
  sources: { bots, browsers },
  rounds: 1,
  bundle: full,
  artifact,
  one_signature_artifact: artifact,
  frontier: { missed, guard },
}));
const out = JSON.parse(execFileSync(process.execPath, [join(here, '../../bench/bots.mjs'), input], { encoding: 'utf8' }));

const failures = [];
const expect = (ok, what) => { if (!ok) failures.push(what); };
for (const name of ['wasm', 'wasm-string', 'isbot']) {
  expect(out[name] !== undefined, `no figures for ${name}`);
}
if (out.wasm && out['wasm-string']) {
  for (const source of ['bots', 'browsers']) {
    const a = out.wasm.sources[source].lines;
    const b = out['wasm-string'].sources[source].lines;
    expect(a === b, `${source}: the input buffer flagged ${a}, the string argument ${b}`);
  }
  expect(out.wasm.sources.bots.lines === '1'.repeat(bots.length), `bots flagged ${out.wasm.sources.bots.lines}, expected every one`);
  expect(out.wasm.sources.browsers.lines === '0'.repeat(browsers.length), `browsers flagged ${out.wasm.sources.browsers.lines}, expected none`);
  for (const key of ['median_ns', 'load_ms_cold_median', 'load_ms_median']) {
    expect(Number.isFinite(out.wasm[key]) && out.wasm[key] > 0, `wasm ${key} is ${out.wasm[key]}`);
  }
}
const f = out.frontier ?? {};
expect(f.recovered === missed.filter((ua) => isbot(ua)).length, `frontier recovered ${f.recovered}, isbot flags ${missed.filter((ua) => isbot(ua)).length} of the misses`);
expect(f.flagged === guard.filter((ua) => isbot(ua)).length, `frontier flagged ${f.flagged}, isbot flags ${guard.filter((ua) => isbot(ua)).length} of the guard`);
expect(f.recovered > 0 && f.flagged > 0, 'the frontier lines reach neither side');
expect((f.patterns ?? []).every((p) => p.recovered > 0 && p.recovered <= f.recovered), 'a frontier pattern listed that recovers nothing, or more than all');
if (failures.length) {
  console.error(`bots harness: ${failures.length} check(s) failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.error(`bots harness: bench/bots.mjs gave the wasm figures; both ways in flagged ${bots.length} bots and none of ${browsers.length} browsers; isbot's patterns recovered ${f.recovered} of ${missed.length} misses and flagged ${f.flagged} of ${guard.length} guard lines`);
