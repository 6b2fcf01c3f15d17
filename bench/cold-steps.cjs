// Where a cold start goes, step by step, in fresh Node processes (medians):
//   node bench/cold-steps.cjs target/dist/bundle [RUNS]
// Each child times, in order: loading node:crypto (which the shim now defers to
// the first signature check), the wasm-bindgen glue (the synchronous
// WebAssembly.Module of the wasm and its instantiation, the prepared memory
// image copied in), `Edge.prepared()` (what the shim does: the matcher's
// literal index built, the per-instance state new; docs/benchmarks.md has
// what reading the files in wasm cost before it was done at build time), and
// the first and second decision of a browser on a public page.
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');

if (process.argv[2] === '--child') {
  const dir = process.argv[3];
  let last = process.hrtime.bigint();
  const out = [];
  const mark = (name) => { const t = process.hrtime.bigint(); out.push([name, Number(t - last) / 1e6]); last = t; };
  require('node:crypto'); mark('require node:crypto');
  const glue = require(path.join(dir, 'edge_auth_wasm.js')); mark('require the glue (compile + instantiate)');
  const word = () => (Math.random() * 0x100000000) >>> 0;
  const edge = glue.Edge.prepared(word(), word(), word(), word()); mark('Edge.prepared() (what the shim does)');
  const ua = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
  edge.decide(`/public/a.css\0GET\x00203.0.113.1\0\0\0user-agent\0${ua}`, 7, Date.now(), 0); mark('first decision');
  edge.decide(`/public/a.css\0GET\x00203.0.113.2\0\0\0user-agent\0${ua}`, 7, Date.now(), 0); mark('second decision');
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
}

const dir = path.resolve(process.argv[2] ?? 'target/dist/bundle');
const runs = Number(process.argv[3] ?? 9);
const all = [];
for (let i = 0; i < runs; i++) all.push(JSON.parse(execFileSync(process.execPath, [__filename, '--child', dir])));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
console.log(`cold start by step, ${process.version}, medians of ${runs} fresh processes (ms)`);
for (let k = 0; k < all[0].length; k++) {
  console.log(`${median(all.map((r) => r[k][1])).toFixed(2).padStart(8)}  ${all[0][k][0]}`);
}
