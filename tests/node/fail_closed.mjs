// The shim's fail-closed paths, run for real: `node tests/node/fail_closed.mjs BUNDLE_DIR NOW_S [REMOTE_CONFIG_BIN]`
// (NOW_S: the fixtures' clock, workspace_tests::FIXTURE_NOW_S, which `cargo xtask ci` passes).
// Each case copies the built bundle to a temporary directory, breaks one thing
// (a corrupt or truncated edge-config.bin, a truncated bot-matcher.bin or bot-verify.bin, a decide() or
// decide_input() that throws, a clock that reads NaN), loads it fresh and sends a request that a
// working bundle would forward (a browser on a public page): the answer must
// be the 503 (or, for the clock, the core's 503 bad_clock), never a forward.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

expect503(await run('corrupt edge-config.bin', (d) => writeFileSync(join(d, 'edge-config.bin'), '{"config_json": "not a config", ')));
expect503(await run('truncated edge-config.bin', (d) => {
  const c = readFileSync(join(d, 'edge-config.bin'));
  writeFileSync(join(d, 'edge-config.bin'), c.subarray(0, c.length - 1));
}));
// The baked config's first field (edge-auth/core/src/config/baked.rs) is the
// pipeline after 8 bytes of magic: a u32 count, then a byte a step (bots 0,
// rate_limit 1, auth 2). Cut to [bots, rate_limit]: no auth, which the core
// refuses even from a well-formed file.
expect503(await run('config the core refuses (a pipeline without auth)', (d) => {
  const c = readFileSync(join(d, 'edge-config.bin'));
  const head = Buffer.from(c.subarray(0, 15));
  if (head.readUInt32LE(8) !== 3 || head[14] !== 2) throw new Error(`the demo's pipeline is not [bots, rate_limit, auth]: ${head.toString('hex')}`);
  head.writeUInt32LE(2, 8);
  writeFileSync(join(d, 'edge-config.bin'), Buffer.concat([head.subarray(0, 14), c.subarray(15)]));
}));
expect503(await run('truncated bot-matcher.bin', (d) => {
  const m = readFileSync(join(d, 'bot-matcher.bin'));
  writeFileSync(join(d, 'bot-matcher.bin'), m.subarray(0, Math.floor(m.length / 2)));
}));
expect503(await run('truncated bot-verify.bin', (d) => {
  const m = readFileSync(join(d, 'bot-verify.bin'));
  writeFileSync(join(d, 'bot-verify.bin'), m.subarray(0, Math.floor(m.length / 2)));
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
// A config that fetches keys at run time, in a bundle built without the
// reader for them (the remote-JWKS check's config, when CI passes it): the
// bundle must refuse it rather than run on the baked keys alone.
const remoteConfig = process.argv[4];
if (remoteConfig) {
  expect503(await run('a config with a jwks_url in a bundle built without remote JWK Sets', (d) => writeFileSync(join(d, 'edge-config.bin'), readFileSync(remoteConfig))));
}
const [name, ...clock] = await run('Date.now() is NaN', () => {}, { now: () => NaN });
for (const r of clock) {
  if (r.status !== '503') failures.push(`${name}: expected 503 (bad_clock), got ${JSON.stringify(r).slice(0, 200)}`);
}

if (failures.length) {
  for (const f of failures) console.warn(`FAIL ${f}`);
  process.exit(1);
}
console.warn(`fail-closed: ok (${broken} broken bundles, each answered 503 twice; the control forwarded)`);
