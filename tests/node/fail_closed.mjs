// The shim's fail-closed paths, run for real: `node tests/node/fail_closed.mjs BUNDLE_DIR NOW_S [REMOTE_CONFIG_BIN]`
// (NOW_S: the fixtures' clock, workspace_tests::FIXTURE_NOW_S, which `cargo xtask ci` passes).
// Each case copies the built bundle to a temporary directory, breaks one thing
// (an instance whose prepared config is gone, a decide() or decide_input()
// that throws, a clock that reads NaN), loads it fresh and sends a request
// that a working bundle would forward (a browser on a public page): the
// answer must be the 503 (or, for the clock, the core's 503 bad_clock), never
// a forward. After a throw the shim instantiates the module again: a throw
// that happens once is followed by a working instance, prepared afresh.
// Then what the build refuses to prepare (`node xtask/prepare.cjs` on the
// bundle with one baked file broken: a corrupt or truncated config, one the
// core refuses, a truncated matcher or verified-bot table, a config that
// fetches keys in a bundle built without the reader for them): each must
// fail the build, never leave a memory image.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const bundle = resolve(process.argv[2]);
const nowMs = Number(process.argv[3]) * 1000;
if (!Number.isFinite(nowMs)) throw new Error('usage: fail_closed.mjs BUNDLE_DIR NOW_S');
const require = createRequire(import.meta.url);
console.log = () => {};
console.error = () => {};
const realNow = Date.now;

const event = () => ({ Records: [{ cf: { config: { eventType: 'viewer-request', requestId: 'fc' }, request: {
  clientIp: '203.0.113.9', method: 'GET', uri: '/public/index.html', querystring: '',
  headers: { 'user-agent': [{ key: 'User-Agent', value: 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0' }] } } } }] });

let broken = 0;
async function run(name, breakIt, { now = () => nowMs, make = event } = {}) {
  if (!name.startsWith('control')) broken++;
  const dir = mkdtempSync(join(tmpdir(), 'edge-fail-closed-'));
  try {
    cpSync(bundle, dir, { recursive: true });
    breakIt(dir);
    Date.now = now;
    const { handler } = require(join(dir, 'index.js'));
    const first = await handler(make());
    const second = await handler(make());
    return [name, first, second];
  } finally {
    Date.now = realNow;
    rmSync(dir, { recursive: true, force: true });
  }
}

const failures = [];
const expect503 = ([name, ...results]) => {
  for (const r of results) {
    const ct = r.headers?.['content-type']?.[0]?.value;
    if (r.status !== '503' || !(r.body ?? '').startsWith('Service Unavailable') || ct !== 'text/plain; charset=utf-8') {
      failures.push(`${name}: expected the fail-closed 503, got ${JSON.stringify(r).slice(0, 200)}`);
    }
  }
};

// The control: the unbroken bundle forwards this request.
const [, ok] = await run('control', () => {});
if (ok.status !== undefined || ok.uri !== '/public/index.html') failures.push(`control: expected a forward, got ${JSON.stringify(ok).slice(0, 200)}`);

// The instance's prepared config taken before the shim loads: the wasm's own
// refusal (`Edge.prepared(keys)`), which the shim answers with 503s.
expect503(await run('an instance with no prepared config', (d) => {
  const glue = join(d, 'edge_auth_wasm.js');
  writeFileSync(glue, readFileSync(glue, 'utf8') + '\nmodule.exports.Edge.prepared(1, 2, 3, 4).free();\n');
}));
// A shim that passes the prepared instance no hash keys: refused by the wasm
// (its tables would hash alike in every instance), answered with 503s.
expect503(await run('a shim that passes no hash keys', (d) => {
  const glue = join(d, 'edge_auth_wasm.js');
  writeFileSync(glue, readFileSync(glue, 'utf8') + '\nconst __prepared = module.exports.Edge.prepared;\nmodule.exports.Edge.prepared = function () { return __prepared.call(this); };\n');
}));
const inject = (method) => (d) => {
  const glue = join(d, 'edge_auth_wasm.js');
  writeFileSync(glue, readFileSync(glue, 'utf8') + `\nmodule.exports.Edge.prototype.${method} = function () { throw new Error("injected"); };\n`);
};
// Both ways a packed request crosses: the input buffer, or a string when too
// long for it. (An event the shim cannot pack never reaches the core: see
// fast_path.mjs.)
expect503(await run('decide_input() throws', inject('decide_input')));
expect503(await run('decide() throws (a request too long for the input buffer)', inject('decide'), { make: () => { const e = event(); e.Records[0].cf.request.headers.cookie = [{ key: 'Cookie', value: 'x='.padEnd(20000, 'y') }]; return e; } }));
// A trap after the wasm's panic hook noted a message, in a decision or while
// the instance loads: the 503s and a record (internal_error, config_refused)
// for each request that carries the note, read from the memory of the
// instance that trapped. The glue is patched to point the shim at known bytes
// there, as the hook (edge-auth/wasm/src/panic_note.rs, tested natively) leaves
// them; a trap with no note gives a record without one.
for (const [where, reason] of [['decide_input', 'internal_error'], ['load', 'config_refused']]) {
  for (const note of ['panicked at edge-auth/core/src/decide.rs:1:2:\nan invariant broke é', '']) {
    const records = [];
    console.error = (line) => records.push(String(line));
    const trap = where === 'load'
      ? 'module.exports.Edge.prepared = function () { throw new WebAssembly.RuntimeError("unreachable"); };'
      : 'module.exports.Edge.prototype.decide_input = function () { throw new WebAssembly.RuntimeError("unreachable"); };';
    const [name, first, second] = await run(`a trap in ${where} ${note ? 'after a panic note' : 'with no panic note'}`, (d) => {
      const glue = join(d, 'edge_auth_wasm.js');
      writeFileSync(glue, readFileSync(glue, 'utf8') + `
const __note = Buffer.from(${JSON.stringify(note)});
const __at = wasm.__wbindgen_malloc(__note.length + 1, 1);
new Uint8Array(wasm.memory.buffer, __at, __note.length).set(__note);
module.exports.panic_note_ptr = () => __at;
module.exports.panic_note_len = () => __note.length;
${trap}
`);
    });
    console.error = () => {};
    expect503([name, first, second]);
    const logged = records.map((l) => JSON.parse(l)).filter((r) => r.reason === reason);
    const want = note ? { message: 'unreachable', panic: note } : { message: 'unreachable' };
    // A load is tried when the module loads and again on each request while
    // there is no instance; a decision's trap is logged once per request.
    const count = where === 'load' ? 3 : 2;
    if (logged.length !== count || logged.some((r) => JSON.stringify({ message: r.message, panic: r.panic }) !== JSON.stringify(want))) {
      failures.push(`${name}: expected ${count} ${reason} records ${JSON.stringify(want)}, got ${JSON.stringify(records).slice(0, 300)}`);
    }
  }
}
// A throw once, then none: the second request is answered by a module
// instantiated again (the glue evaluated twice), prepared as built.
{
  globalThis.__glueLoads = 0;
  const [name, first, second] = await run('decide_input() throws once', (d) => {
    const glue = join(d, 'edge_auth_wasm.js');
    writeFileSync(glue, readFileSync(glue, 'utf8') + `
globalThis.__glueLoads++;
if (globalThis.__glueLoads === 1) module.exports.Edge.prototype.decide_input = function () { throw new Error("injected"); };
`);
  });
  expect503([name, first]);
  if (second.status !== undefined || second.uri !== '/public/index.html') failures.push(`${name}: expected the next request forwarded by a fresh instance, got ${JSON.stringify(second).slice(0, 200)}`);
  if (globalThis.__glueLoads !== 2) failures.push(`${name}: expected the module instantiated again after the throw (2 loads), got ${globalThis.__glueLoads}`);
}
const [name, ...clock] = await run('Date.now() is NaN', () => {}, { now: () => NaN });
for (const r of clock) {
  if (r.status !== '503') failures.push(`${name}: expected 503 (bad_clock), got ${JSON.stringify(r).slice(0, 200)}`);
}

// What the build refuses to prepare, on the module as built and the files
// `cargo xtask dist` wrote beside the bundle (DIST/full, DIST/baked).
const baked = join(bundle, '../baked');
const full = join(bundle, '../full');
const here = new URL('.', import.meta.url).pathname;
let refused = 0;
// `node xtask/prepare.cjs` on copies of the module and the baked files, the
// files first changed by `breakIt`: its exit status, whether it left a memory
// image, and what it said.
function prepareWith(breakIt) {
  const dir = mkdtempSync(join(tmpdir(), 'edge-prepare-'));
  try {
    cpSync(full, join(dir, 'bundle'), { recursive: true });
    cpSync(baked, join(dir, 'baked'), { recursive: true });
    breakIt(join(dir, 'baked'));
    const out = join(dir, 'memory');
    let status = 0;
    let stderr = '';
    try {
      execFileSync(process.execPath, [join(here, '../../xtask/prepare.cjs'), join(dir, 'bundle'), join(dir, 'baked'), out], { stdio: 'pipe' });
    } catch (e) {
      status = e.status;
      stderr = String(e.stderr);
    }
    return { status, image: existsSync(out), stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
function refusedToPrepare(name, breakIt) {
  const { status, image } = prepareWith(breakIt);
  if (status !== 1 || image) failures.push(`${name}: expected the build to refuse it (exit 1, no memory image), got exit ${status}${image ? ' and an image' : ''}`);
  else refused++;
}
const rewrite = (file, change) => (d) => writeFileSync(join(d, file), change(readFileSync(join(d, file))));
// The control: the files as built prepare.
{
  const { status, image, stderr } = prepareWith(() => {});
  if (status !== 0) failures.push(`prepare control: the files as built did not prepare: ${stderr}`);
  else if (!image) failures.push('prepare control: no memory image');
}
refusedToPrepare('corrupt edge-config.bin', rewrite('edge-config.bin', () => Buffer.from('{"config_json": "not a config", ')));
refusedToPrepare('truncated edge-config.bin', rewrite('edge-config.bin', (c) => c.subarray(0, c.length - 1)));
// The baked config's first field (edge-auth/core/src/config/baked.rs) is the
// pipeline after 8 bytes of magic: a u32 count, then a byte a step (bots 0,
// rate_limit 1, auth 2). Cut to [bots, rate_limit]: no auth, which the core
// refuses even from a well-formed file.
refusedToPrepare('config the core refuses (a pipeline without auth)', rewrite('edge-config.bin', (c) => {
  const head = Buffer.from(c.subarray(0, 15));
  if (head.readUInt32LE(8) !== 3 || head[14] !== 2) throw new Error(`the demo's pipeline is not [bots, rate_limit, auth]: ${head.toString('hex')}`);
  head.writeUInt32LE(2, 8);
  return Buffer.concat([head.subarray(0, 14), c.subarray(15)]);
}));
refusedToPrepare('truncated bot-matcher.bin', rewrite('bot-matcher.bin', (m) => m.subarray(0, Math.floor(m.length / 2))));
refusedToPrepare('truncated bot-verify.bin', rewrite('bot-verify.bin', (m) => m.subarray(0, Math.floor(m.length / 2))));
// A config that fetches keys at run time, in a bundle built without the
// reader for them (the remote-JWKS check's config, when CI passes it): the
// build must refuse it rather than run on the baked keys alone.
const remoteConfig = process.argv[4];
if (remoteConfig) {
  refusedToPrepare('a config with a jwks_url in a bundle built without remote JWK Sets', rewrite('edge-config.bin', () => readFileSync(remoteConfig)));
}

if (failures.length) {
  for (const f of failures) console.warn(`FAIL ${f}`);
  process.exit(1);
}
console.warn(`fail-closed: ok (${broken} broken bundles, each answered 503 twice; a throw once, then a fresh instance; the control forwarded; ${refused} baked files the build refused to prepare)`);
