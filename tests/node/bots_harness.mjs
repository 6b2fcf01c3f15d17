// The versus benchmark's Node side (bench/bots.mjs), run on a few lines
// against the built bundle, so that a change to the glue cannot leave the
// benchmark's wasm figures broken unnoticed (as it once did: the glue's
// memory became an object and the harness still called it):
//   node tests/node/bots_harness.mjs DIST/full
// Checks that the harness returns the wasm matcher's figures, that its two
// ways in (the input buffer, as the edge passes a request, and the string
// argument) flag the same lines, and that they flag the bots and not the
// browsers: a harness that times a matcher flagging nothing or everything
// would report a speed for no work.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

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
const input = join(mkdtempSync(join(tmpdir(), 'bots-harness-')), 'input.json');
writeFileSync(input, JSON.stringify({
  workload: [...bots, ...browsers],
  sources: { bots, browsers },
  rounds: 1,
  bundle: full,
  artifact,
  one_signature_artifact: artifact,
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
if (failures.length) {
  console.error(`bots harness: ${failures.length} check(s) failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.error(`bots harness: bench/bots.mjs gave the wasm figures; both ways in flagged ${bots.length} bots and none of ${browsers.length} browsers`);
