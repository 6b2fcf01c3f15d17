// How much wasm V8 compiles at a cold start, step by step: the bytes of
// function bodies Liftoff compiles (lazily, on each function's first call)
// when a fresh process loads the bundle's glue alone, then the whole shim
// (`new Edge` included), then answers a first request (a browser on a public
// page, or a token). Compiled bytes, not work done, set most of a cold start
// here (docs/benchmarks.md), and unlike a timing this count does not drift
// with the machine, so two bundles compare in one run:
//   node bench/cold-compile.cjs target/dist/bundle [OTHER_BUNDLE ...]
//   node bench/cold-compile.cjs BUNDLE --budget shim=26000,public=28000,token=62000,turbofan=0
// Each step is its own fresh process under `--trace-wasm-compilation-times`;
// a step's figure is its process's total less the step before. The counts
// are wasm body bytes, so they do not depend on the machine or on V8's
// version, only on which functions the code calls: with `--budget` (bytes
// per step) the script exits 1 when a step compiles more, which is how
// `cargo xtask ci` keeps a cold path from growing back unnoticed.
// Last column: the functions V8 would also compile with TurboFan during the
// whole cold start (load and a first request, the most of the two) if its
// tier-up budget were two thirds of what it is (`--wasm-tiering-budget`
// 1,200,000 of 1,800,000, per function). Such a compile runs on a background
// thread, which on Lambda@Edge's single CPU is the load's own time (2.5 ms
// measured on one core: docs/benchmarks.md); `turbofan=N` in `--budget` caps
// it. Each child waits for those compiles before it exits, so that they are
// counted; which functions cross the budget depends only on what runs.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

if (process.argv[2] === '--child') {
  const [, , , dir, step, tokenFile] = process.argv;
  console.log = () => {};
  if (step === 'glue') {
    require(path.join(dir, 'edge_auth_wasm.js'));
    return;
  }
  const { handler } = require(path.join(dir, 'index.js'));
  if (step === 'shim') return;
  const headers = { 'user-agent': [{ key: 'User-Agent', value: CHROME }] };
  let uri = '/public/index.html';
  if (step === 'token') {
    uri = '/private/alice/a.jpg';
    headers.authorization = [{ key: 'Authorization', value: `Bearer ${fs.readFileSync(tokenFile, 'utf8')}` }];
  }
  const event = { Records: [{ cf: { config: { eventType: 'viewer-request', requestId: 'c' }, request: { clientIp: '203.0.113.10', method: 'GET', uri, querystring: '', headers } } }] };
  handler(event).then((r) => {
    // A token that did not verify (an expired one, say) compiles far less:
    // refuse to count it.
    if (step === 'token' && r.status !== undefined) throw new Error(`the token was refused (${r.status})`);
    // Background TurboFan compiles the request started: let them finish and
    // print before the process exits.
    setTimeout(() => {}, 250);
  });
  return;
}

// A demo token, valid for an hour, minted here so that no child loads jose.
async function mint() {
  const { importPKCS8, SignJWT } = require('jose');
  const key = await importPKCS8(fs.readFileSync(path.join(__dirname, '../examples/demo/demo-es256.key.pem'), 'utf8'), 'ES256');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'ES256', kid: 'demo-es256-1' })
    .setIssuer('https://demo-issuer.example').setAudience('demo-site').setIssuedAt(now).setExpirationTime(now + 3600).sign(key);
}

// Two thirds of V8's tier-up budget (11.3, Node 20: 1,800,000), for the
// TurboFan count's margin.
const TIERING_BUDGET = 1200000;

// Body bytes and functions Liftoff compiled in one fresh process, and the
// functions TurboFan compiled there at TIERING_BUDGET.
function compiled(dir, step, tokenFile) {
  const out = execFileSync(process.execPath, ['--trace-wasm-compilation-times', `--wasm-tiering-budget=${TIERING_BUDGET}`, __filename, '--child', dir, step, tokenFile], { encoding: 'utf8', maxBuffer: 1 << 26 });
  let bytes = 0;
  let functions = 0;
  let turbofan = 0;
  for (const line of out.split('\n')) {
    const m = /^Compiled function .* using Liftoff.*bodysize (\d+)/.exec(line);
    if (m) { bytes += Number(m[1]); functions += 1; }
    if (/^Compiled function .* using TurboFan/.test(line)) turbofan += 1;
  }
  // Every step compiles something (the glue its start function at least):
  // none read means the trace's format changed, and a budget would pass on
  // zeros.
  if (functions === 0) throw new Error(`${dir} (${step}): no "Compiled function ... using Liftoff ... bodysize" line in the trace of ${process.version}: has V8's --trace-wasm-compilation-times output changed?`);
  return { bytes, functions, turbofan };
}

(async () => {
  const args = process.argv.slice(2);
  const at = args.indexOf('--budget');
  const budget = at === -1 ? null : Object.fromEntries(args.splice(at, 2)[1].split(',').map((kv) => {
    const [k, v] = kv.split('=');
    if (!['glue', 'shim', 'public', 'token', 'turbofan'].includes(k) || !/^\d+$/.test(v ?? '') || (k !== 'turbofan' && Number(v) === 0)) throw new Error(`--budget: ${kv} is not STEP=BYTES (steps: glue, shim, public, token) or turbofan=FUNCTIONS`);
    return [k, Number(v)];
  }));
  const dirs = args.map((d) => path.resolve(d));
  if (dirs.length === 0) dirs.push(path.resolve('target/dist/bundle'));
  const tokenFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cold-compile-')), 'token');
  fs.writeFileSync(tokenFile, await mint());
  const kb = (b) => (b / 1000).toFixed(1).padStart(6);
  console.log(`wasm compiled by Liftoff at a cold start, KB of function bodies (functions), ${process.version}; and by TurboFan at a tier-up budget of ${TIERING_BUDGET}`);
  console.log(`${'bundle'.padEnd(40)} ${'glue'.padStart(13)} ${'new Edge'.padStart(13)} ${'public page'.padStart(13)} ${'a token'.padStart(13)} ${'TurboFan'.padStart(9)}`);
  for (const dir of dirs) {
    const glue = compiled(dir, 'glue', tokenFile);
    const shim = compiled(dir, 'shim', tokenFile);
    const page = compiled(dir, 'public', tokenFile);
    const token = compiled(dir, 'token', tokenFile);
    const cell = (a, b) => `${kb(a.bytes - b.bytes)} (${String(a.functions - b.functions).padStart(3)})`;
    const turbofan = Math.max(page.turbofan, token.turbofan);
    console.log(`${path.relative(process.cwd(), dir).padEnd(40)} ${cell(glue, { bytes: 0, functions: 0 })} ${cell(shim, glue)} ${cell(page, shim)} ${cell(token, shim)} ${String(turbofan).padStart(9)}`);
    if (budget) {
      const steps = { glue: glue.bytes, shim: shim.bytes - glue.bytes, public: page.bytes - shim.bytes, token: token.bytes - shim.bytes, turbofan };
      const over = Object.entries(budget).filter(([k, max]) => steps[k] > max);
      for (const [k, max] of over) {
        if (k === 'turbofan') {
          console.error(`${dir}: ${steps[k]} functions reach TurboFan during a cold start at a tier-up budget of ${TIERING_BUDGET}, over the ${max} allowed: a loop the load or a first request runs per item has grown (more items, or a longer body); split it into more shares (bot-signatures/matcher/src/index.rs, LOAD_SHARES) or shorten its body; \`node --trace-wasm-compilation-times --wasm-tiering-budget=${TIERING_BUDGET}\` names them by index`);
        } else {
          console.error(`${dir}: the ${k} step compiles ${steps[k]} bytes of wasm at a cold start, over its budget of ${max}: a branch most requests never take has likely come back into a function they call (see ARCHITECTURE.md, "Cold paths out of line", and docs/benchmarks.md)`);
        }
      }
      if (over.length) process.exitCode = 1;
      else console.log(`within budget: ${Object.entries(budget).map(([k, max]) => `${k} ${steps[k]} <= ${max}`).join(', ')}`);
    }
  }
})().catch((e) => { console.error(String((e && e.stack) || e)); process.exitCode = 1; });
