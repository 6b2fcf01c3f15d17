// The shim's packed path against its JSON path, run for real:
//   node tests/node/fast_path.mjs BUNDLE_DIR NOW_S
// A request normally crosses into wasm as one packed string of its fields
// (Edge.decide); what the shim cannot pack goes as the JSON event
// (Edge.handle), the path the bundle replay holds to the native core. Here two
// warm instances of the same bundle see the same events in the same order: one
// as shipped, one whose decide() always answers FALLBACK (so every event takes
// the JSON path). Their answers must be identical on every fixture and on
// hostile events (a NUL smuggling a header, names spelled twice, a lone
// surrogate, wrong shapes, a signature covering a header the core does not
// read by name), and none may make the shim throw; the events that must not be packed must not be,
// and the others must be. Then the [logging] policy, through the real
// console.log: a forwarded request prints nothing, a refusal its record, and
// the counts come out as one EMF line once flush_seconds have passed.
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
// long for it) are counted, and both refused on the JSON-only instance.
const counting = ['decide', 'decide_input'].map((m) => `
const __${m} = module.exports.Edge.prototype.${m};
module.exports.Edge.prototype.${m} = function (...a) {
  const code = __${m}.apply(this, a);
  if ((code & 3) === ${FALLBACK}) globalThis.__fastPathCount.refused++; else globalThis.__fastPathCount.packed++;
  if ('${m}' === 'decide_input') globalThis.__fastPathCount.input++;
  return code;
};
`).join('');
const fast = instance(counting);
const fastGlue = require(join(lastDir, 'edge_auth_wasm.js'));
const json = instance(['decide', 'decide_input'].map((m) => `\nmodule.exports.Edge.prototype.${m} = function () { return ${FALLBACK}; };\n`).join(''));

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
  ['a URI without its leading slash (refused by the core: the JSON path answers)', ev('public/a.css', { 'user-agent': one('User-Agent', CHROME) }), false],
  ['two records', JSON.stringify({ Records: [{}, {}] }), false],
  ['a key with a non-ASCII capital', ev('/public/a.css', { 'User-Agent': one('User-Agent', CHROME), 'İuser-agent': one('x', 'python-requests/2.32.3') }), true],
];

const failures = [];
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
let shouldPack = 0;
for (const [name, text, pack] of [...fixtures.map(([f, t]) => [f, t, null]), ...hostile]) {
  const before = packedCalls.packed;
  const a = await fast(JSON.parse(text));
  const b = await json(JSON.parse(text));
  const wasPacked = packedCalls.packed > before;
  if (!same(a, b)) failures.push(`${name}: packed path ${JSON.stringify(a).slice(0, 300)}\n   JSON path ${JSON.stringify(b).slice(0, 300)}`);
  if (pack !== null && wasPacked !== pack) failures.push(`${name}: ${wasPacked ? 'packed' : 'not packed'}, expected ${pack ? 'packed' : 'the JSON path'}`);
  if (pack === null && !wasPacked && !name.startsWith('not-an-event')) failures.push(`${name}: a plain fixture was not packed`);
  if (pack) shouldPack++;
}
// The memory grows (its old buffer detached): the shim makes its view of the
// input buffer again, and a plain request still crosses through the buffer.
for (const pages of [1, 16]) {
  fastGlue.wasm_memory().grow(pages);
  const [name, text] = fixtures.find(([f]) => f.startsWith('public'));
  const before = packedCalls.input;
  const a = await fast(JSON.parse(text));
  const b = await json(JSON.parse(text));
  if (!same(a, b)) failures.push(`${name} after the memory grew by ${pages} pages: the paths differ`);
  if (packedCalls.input !== before + 1) failures.push(`${name} after the memory grew by ${pages} pages: not through the input buffer`);
}
const smuggled = await fast(JSON.parse(hostile[0][1]));
if (smuggled.status !== '401') failures.push(`NUL-smuggled token: expected 401, got ${JSON.stringify(smuggled).slice(0, 200)}`);
if (packedCalls.refused < 2) failures.push(`only ${packedCalls.refused} packed strings were refused; the NUL cases must reach the count check`);

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
console.warn(`fast path: ok (${fixtures.length} fixtures and ${hostile.length} hostile events, packed and JSON paths identical; ${packedCalls.packed} packed, ${packedCalls.refused} refused by the count check; logging: counts flushed as one EMF line)`);
