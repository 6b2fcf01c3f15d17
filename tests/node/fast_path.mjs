// The shim's packed path, run for real, against the native core:
//   node tests/node/fast_path.mjs BUNDLE_DIR NOW_S
// A request crosses into wasm as one packed string of its fields
// (Edge.decide); an event the shim cannot pack is not a viewer-request as
// CloudFront writes one, and the shim answers it 503 itself (no JSON path in
// the bundle). Every plain fixture must be packed (the bundle replay holds
// their answers to the native core). Hostile events (a NUL smuggling a header,
// names spelled twice, a lone surrogate, wrong shapes, a signature covering a
// header the core does not read by name) go through a fresh instance: those
// that must be packed must be, and must get exactly what `edge-auth decide`
// (the native core, reading the JSON event) answers, in the same order; the
// others must get the fail-closed 503 with a malformed_event record, and none
// may make the shim throw. Then the [logging] policy, through the real
// console.log: a forwarded request prints nothing, a refusal its record, and
// the counts come out as one EMF line once flush_seconds have passed.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const bundle = resolve(process.argv[2]);
const nowMs = Number(process.argv[3]) * 1000;
if (!Number.isFinite(nowMs)) throw new Error('usage: fast_path.mjs BUNDLE_DIR NOW_S');
const here = new URL('.', import.meta.url).pathname;
const require = createRequire(import.meta.url);
let clock = nowMs;
Date.now = () => clock;
let printed = [];
console.log = (line) => printed.push(line);
// The shim's own error line: no event, however malformed, may throw inside
// the handler (a throw drops the warm instance and its state).
const shimErrors = [];
console.error = (line) => shimErrors.push(String(line));

const FALLBACK = 3;
const dirs = [];
let lastDir = null;
// A fresh copy of the bundle, with `patch` appended to its wasm glue.
function instance(patch = '') {
  const dir = mkdtempSync(join(tmpdir(), 'edge-fast-path-'));
  dirs.push(dir);
  lastDir = dir;
  cpSync(bundle, dir, { recursive: true });
  const glue = join(dir, 'edge_auth_wasm.js');
  writeFileSync(glue, readFileSync(glue, 'utf8') + patch);
  return require(join(dir, 'index.js')).handler;
}
const packedCalls = { packed: 0, refused: 0, input: 0 };
globalThis.__fastPathCount = packedCalls;
// Both ways a packed request crosses (the input buffer, or a string when too
// long for it) are counted, and whether the core refused the packed form.
const counting = ['decide', 'decide_input'].map((m) => `
const __${m} = module.exports.Edge.prototype.${m};
module.exports.Edge.prototype.${m} = function (...a) {
  const code = __${m}.apply(this, a);
  if ((code & 3) === ${FALLBACK}) globalThis.__fastPathCount.refused++; else globalThis.__fastPathCount.packed++;
  if ('${m}' === 'decide_input') globalThis.__fastPathCount.input++;
  return code;
};
`).join('');
// The glue as this instance's shim runs it (the shim evaluates the glue
// itself, so a separate `require` of the file would be another instance).
const fast = instance(`${counting}\nglobalThis.__fastPathGlue = module.exports;\n`);
const fastGlue = globalThis.__fastPathGlue;
if (!fastGlue) throw new Error("the shim did not run its bundle's glue");

const fixtureDir = resolve(here, '../fixtures/viewer-request');
const fixtures = readdirSync(fixtureDir)
  .filter((f) => f.endsWith('.json') && !f.endsWith('.decision.json'))
  .sort()
  .map((f) => [f, readFileSync(join(fixtureDir, f), 'utf8')]);
const byName = Object.fromEntries(fixtures);
const token = JSON.parse(byName['bearer-token-valid.json']).Records[0].cf.request.headers.authorization[0].value;
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const ev = (uri, headers, extra = {}) => JSON.stringify({ Records: [{ cf: { config: { eventType: 'viewer-request', requestId: 'fp' }, request: { clientIp: '203.0.113.50', method: 'GET', uri, querystring: '', headers, ...extra } } }] });
const one = (k, v) => [{ key: k, value: v }];

// [name, event text, must it be packed?]
const hostile = [
  ['a NUL in the user-agent smuggles an Authorization header', ev('/private/alice/a.jpg', { 'user-agent': one('User-Agent', `${CHROME}\u0000authorization\u0000${token}`) }), false],
  ['a NUL in the name of a header the core does not read (left out, so packed)', ev('/public/a.css', { 'user-agent\u0000authorization': one('x', token), 'user-agent': one('User-Agent', CHROME) }), true],
  ['a NUL in a header name, all headers packed (a signature-input is present)', ev('/public/a.css', { 'user-agent\u0000authorization': one('x', token), 'user-agent': one('User-Agent', CHROME), 'Signature-Input': one('Signature-Input', 'sig1=("@authority");created=1;keyid="k"') }), false],
  ['a cookie too long for the input buffer (crosses as a string)', ev('/private/alice/a.jpg', { 'user-agent': one('User-Agent', CHROME), cookie: one('Cookie', `access_token=${token.slice(7)}; pad=${'p'.repeat(20000)}`) }), true],
  ['a browser with its usual headers (only the read ones packed)', ev('/public/a.css', { host: one('Host', 'd111111abcdef8.cloudfront.net'), 'user-agent': one('User-Agent', CHROME), accept: one('Accept', 'text/css,*/*;q=0.1'), 'accept-encoding': one('Accept-Encoding', 'gzip, deflate, br, zstd'), 'accept-language': one('Accept-Language', 'en-GB,en;q=0.9'), referer: one('Referer', 'https://d111111abcdef8.cloudfront.net/'), 'sec-ch-ua': one('sec-ch-ua', '"Chromium";v="131", "Not_A Brand";v="24"'), 'sec-fetch-dest': one('Sec-Fetch-Dest', 'style'), cookie: one('Cookie', 'theme=dark') }), true],
  ['User-Agent and user-agent both present (a bot second)', ev('/public/a.css', { 'user-agent': one('User-Agent', CHROME), 'User-Agent': one('User-Agent', 'python-requests/2.32.3') }), true],
  ['user-agent and User-Agent both present (a bot first)', ev('/public/a.css', { 'User-Agent': one('User-Agent', CHROME), 'user-agent': one('User-Agent', 'python-requests/2.32.3') }), true],
  ['two authorization values', ev('/private/alice/a.jpg', { 'user-agent': one('User-Agent', CHROME), authorization: [{ value: 'Bearer x' }, { value: token }] }), true],
  ['a lone surrogate in the user-agent', ev('/public/a.css', { 'user-agent': one('User-Agent', `${CHROME}\ud800`) }), false],
  ['a header value that is a number', ev('/public/a.css', { 'user-agent': one('User-Agent', CHROME), dnt: [{ key: 'DNT', value: 1 }] }), false],
  ['a header that is not a list', ev('/public/a.css', { 'user-agent': { key: 'User-Agent', value: CHROME } }), false],
  ['headers: null', ev('/public/a.css', null), false],
  ['no querystring, a numeric request id', JSON.stringify({ Records: [{ cf: { config: { requestId: 7 }, request: { clientIp: '203.0.113.51', method: 'GET', uri: '/public/a.css', headers: { 'user-agent': one('User-Agent', CHROME) } } } }] }), true],
  ['an origin-request event', JSON.stringify({ Records: [{ cf: { config: { eventType: 'origin-request' }, request: { clientIp: '203.0.113.52', method: 'GET', uri: '/public/a.css', headers: {} } } }] }), false],
  ['a URI without its leading slash', ev('public/a.css', { 'user-agent': one('User-Agent', CHROME) }), false],
  ['Signature-Input spelled with capitals (every header packed, found in passing)', ev('/public/a.css', { 'user-agent': one('User-Agent', CHROME), 'x-extra': one('X-Extra', '1'), 'Signature-Input': one('Signature-Input', 'sig1=("x-extra");created=1;keyid="k"') }), true],
  ['two records', JSON.stringify({ Records: [{}, {}] }), false],
  ['a key with a non-ASCII capital', ev('/public/a.css', { 'User-Agent': one('User-Agent', CHROME), 'İuser-agent': one('x', 'python-requests/2.32.3') }), true],
];

const failures = [];
// Equal as JSON values: member order aside (the native CLI prints its objects
// with sorted members; the shim returns the event's own request object).
const canon = (v) => (Array.isArray(v) ? v.map(canon)
  : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])])) : v);
const same = (a, b) => JSON.stringify(canon(a)) === JSON.stringify(canon(b));
// The 503 `cargo xtask dist` wrote into the shim, as it also wrote it beside the bundle.
const FAIL_CLOSED = JSON.parse(readFileSync(join(bundle, '../baked/fail-closed.json'), 'utf8'));
// The plain fixtures, in order on one warm instance: each packed, none refused.
for (const [name, text] of fixtures) {
  const before = { ...packedCalls };
  printed = [];
  const answer = await fast(JSON.parse(text));
  const wasPacked = packedCalls.packed > before.packed;
  if (name.startsWith('not-an-event')) {
    if (packedCalls.packed + packedCalls.refused !== before.packed + before.refused) failures.push(`${name}: reached the core`);
    if (!same(answer, FAIL_CLOSED)) failures.push(`${name}: expected the fail-closed 503, got ${JSON.stringify(answer).slice(0, 200)}`);
  } else if (!wasPacked) failures.push(`${name}: a plain fixture was not packed`);
}

// The hostile events, on a fresh instance, against the native core: the ones
// that must be packed get exactly its answers (it reads the JSON event; they
// go to it in the same order, so the rate limiter and token cache match); the
// others the fail-closed 503, with their record.
const hostileInstance = instance(counting);
const native = execFileSync(process.env.CARGO ?? 'cargo', ['run', '--quiet', '-p', 'edge-auth-cli', '--', 'decide', '--config', 'examples/demo/edge.toml', '--now', String(nowMs / 1000)], {
  cwd: resolve(here, '../..'),
  input: hostile.filter(([, , pack]) => pack).map(([, text]) => JSON.stringify(JSON.parse(text)) + '\n').join(''),
  stdio: ['pipe', 'pipe', 'ignore'],
}).toString().trim().split('\n').map((l) => JSON.parse(l));
let nativeAt = 0;
let refusedOnes = 0;
for (const [name, text, pack] of hostile) {
  const before = { ...packedCalls };
  printed = [];
  const answer = await hostileInstance(JSON.parse(text));
  const wasPacked = packedCalls.packed > before.packed;
  if (wasPacked !== pack) failures.push(`${name}: ${wasPacked ? 'packed' : 'not packed'}, expected ${pack ? 'packed' : 'answered 503 by the shim'}`);
  if (pack) {
    const expected = native[nativeAt++];
    if (!same(answer, expected)) failures.push(`${name}: bundle ${JSON.stringify(answer).slice(0, 300)}\n   native ${JSON.stringify(expected).slice(0, 300)}`);
  } else {
    if (packedCalls.refused > before.refused) refusedOnes++;
    if (!same(answer, FAIL_CLOSED)) failures.push(`${name}: expected the fail-closed 503, got ${JSON.stringify(answer).slice(0, 200)}`);
    const records = printed.map((l) => JSON.parse(l)).filter((r) => r.reason === 'malformed_event' && r.status === 503 && typeof r.error === 'string');
    if (records.length !== 1) failures.push(`${name}: expected one malformed_event record, printed ${JSON.stringify(printed).slice(0, 300)}`);
  }
}
if (nativeAt !== native.length) failures.push(`native gave ${native.length} answers for ${nativeAt} packed hostile events`);
// The NUL cases reach the core, which refuses the packed form by its count.
if (refusedOnes < 2) failures.push(`only ${refusedOnes} packed strings were refused by the core; the NUL cases must reach the count check`);

// The memory grows (its old buffer detached): the shim makes its view of the
// input buffer again, and a plain request still crosses through the buffer.
const [pubName, pubText] = fixtures.find(([f]) => f.startsWith('public'));
const pubAnswer = await fast(JSON.parse(pubText));
for (const pages of [1, 16]) {
  fastGlue.__wasm_memory.grow(pages);
  const before = packedCalls.input;
  const a = await fast(JSON.parse(pubText));
  if (!same(a, pubAnswer)) failures.push(`${pubName} after the memory grew by ${pages} pages: a different answer`);
  if (packedCalls.input !== before + 1) failures.push(`${pubName} after the memory grew by ${pages} pages: not through the input buffer`);
}

// Config warnings: one record each when an instance loads (the wasm gives
// them as lines), none for a config without any (the demo's).
printed = [];
instance(`\nmodule.exports.Edge.prototype.warnings = function () { return 'first\\nsecond'; };\n`);
const warned = printed.map((l) => JSON.parse(l)).filter((r) => r.level === 'warn').map((r) => r.message);
if (JSON.stringify(warned) !== '["first","second"]') failures.push(`two config warnings: expected one record each at load, got ${JSON.stringify(warned)}`);
printed = [];
instance();
if (printed.length !== 0) failures.push(`the demo config has no warnings, yet its load printed ${JSON.stringify(printed).slice(0, 200)}`);

// Hash keys: each instance draws four words of its own for its tables'
// SipHash keys (the wasm refuses none at all: fail_closed.mjs), and answers
// as a fresh instance of the unpatched bundle does.
const drawn = [];
globalThis.__fastPathKeys = drawn;
const freshAnswer = await instance()(JSON.parse(pubText));
if (freshAnswer.status !== undefined) failures.push(`${pubName} on a fresh instance: expected a forward, got ${freshAnswer.status}`);
for (let i = 0; i < 3; i++) {
  const h = instance('\nconst __prepared = module.exports.Edge.prepared;\nmodule.exports.Edge.prepared = function (...a) { globalThis.__fastPathKeys.push(a); return __prepared.apply(this, a); };\n');
  if (!same(await h(JSON.parse(pubText)), freshAnswer)) failures.push(`${pubName} on a fresh instance with its own keys (${i + 1}): a different answer`);
}
const words = drawn.flat();
if (drawn.length !== 3 || drawn.some((a) => a.length !== 4) || words.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff)) {
  failures.push(`each instance must pass Edge.prepared four 32-bit words, got ${JSON.stringify(drawn)}`);
} else if (new Set(words).size !== words.length) {
  failures.push(`three instances drew repeated hash key words: ${JSON.stringify(drawn)}`);
}

// Logging, on a fresh instance of the shipped bundle (the demo config: forwarded = "count").
printed = [];
const logs = instance();
const at = (s) => { clock = nowMs + s * 1000; };
const pub = (ip) => JSON.parse(ev('/public/a.css', { 'user-agent': one('User-Agent', CHROME) }, { clientIp: ip }));
at(0); await logs(pub('198.51.100.1'));
at(10); await logs(pub('198.51.100.2'));
at(20); await logs(pub('198.51.100.3'));
if (printed.length !== 0) failures.push(`forwarded requests printed ${printed.length} line(s) under "count": ${printed[0]}`);
at(30); await logs(JSON.parse(ev('/public/a.css', { 'user-agent': one('User-Agent', 'python-requests/2.32.3') }, { clientIp: '198.51.100.4' })));
if (printed.length !== 1 || JSON.parse(printed[0]).reason !== 'bot_blocked') failures.push(`a refusal must print its record at once, got ${printed}`);
at(61); await logs(pub('198.51.100.5'));
const flushed = printed.slice(1).map((l) => JSON.parse(l));
if (flushed.length !== 1 || flushed[0].requests !== 4 || flushed[0].reason !== 'public_path' || flushed[0].window_seconds !== 61 || !flushed[0]._aws) {
  failures.push(`after 61 s the counts must come out as one EMF line of 4 requests, got ${JSON.stringify(flushed)}`);
}
for (const line of printed) {
  if (line.includes('\n') || line.includes('198.51.100.4') || line.includes(token.slice(7, 40))) failures.push(`a printed line leaks or spans lines: ${line}`);
}

for (const e of shimErrors) if (e.includes('internal_error')) failures.push(`the shim threw: ${e.slice(0, 200)}`);
for (const d of dirs) rmSync(d, { recursive: true, force: true });
if (failures.length) {
  for (const f of failures) console.warn(`FAIL ${f}`);
  process.exit(1);
}
console.warn(`fast path: ok (${fixtures.length} fixtures packed or refused; ${hostile.length} hostile events: ${nativeAt} packed, each answered as the native core answers, the others 503 with their record, ${refusedOnes} of them refused by the core's count check; logging: counts flushed as one EMF line)`);
