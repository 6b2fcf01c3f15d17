// The bundle's V8 code cache (code.cache; edge-auth/shim/index.js), for real:
// Node started with the flags `cargo xtask dist` made it for takes it, and the
// bundle then decides as it does without it. When a source is no longer the
// one it was made from, or the file is cut short, V8 refuses it: compiled from
// source, the same decisions, and one `code_cache_refused` warning logged.
// Under other flags it is not read at all (no `node:vm` loaded); with no file,
// not used. Usage:
//   node tests/node/code_cache.mjs BUNDLE_DIR UNIX_SECONDS DIST/code-cache.json
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [bundleArg, nowSeconds, made] = process.argv.slice(2);
const CHILD = '--child';

if (bundleArg === CHILD) {
  // In a fresh Node: load the bundle, decide a few requests, print what the
  // module says of its cache, whether node:vm was loaded, and the results.
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const [, , , dir, now] = process.argv;
  Date.now = () => Number(now) * 1000;
  const warnings = [];
  console.log = (line) => {
    const r = JSON.parse(line);
    if (r.level === 'warn') warnings.push(r.reason);
  };
  const mod = require(join(dir, 'index.js'));
  const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
  const event = (uri, ua, extra = {}) => ({
    Records: [{
      cf: {
        config: { eventType: 'viewer-request', requestId: 'cc' },
        request: { clientIp: '198.51.100.7', method: 'GET', uri, querystring: '', headers: { 'user-agent': [{ key: 'User-Agent', value: ua }], ...extra } },
      },
    }],
  });
  const results = [];
  for (const e of [
    event('/public/index.html', CHROME),
    event('/public/index.html', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'),
    event('/private/alice/a.jpg', CHROME, { authorization: [{ key: 'Authorization', value: 'Bearer e30.e30.AAAA' }] }),
    event('/private/alice/a.jpg', CHROME),
    { Records: [] },
  ]) results.push(await mod.handler(e));
  process.stdout.write(JSON.stringify({ codeCache: mod.codeCache, vm: process.moduleLoadList.includes('NativeModule vm'), warnings, results }));
  process.exit(0);
}

const { flags } = JSON.parse(readFileSync(made, 'utf8'));
const bundle = resolve(bundleArg);
const failures = [];
const dirs = [];
// A copy of the bundle, changed by `change`.
function copy(change) {
  const dir = mkdtempSync(join(tmpdir(), 'edge-code-cache-'));
  dirs.push(dir);
  cpSync(bundle, dir, { recursive: true });
  change(dir);
  return dir;
}
// Node started with `nodeFlags` on its command line, or in NODE_OPTIONS.
const run = (dir, nodeFlags, options = false) => JSON.parse(execFileSync(
  process.execPath,
  [...(options ? [] : nodeFlags), new URL(import.meta.url).pathname, CHILD, dir, nowSeconds],
  { env: { ...process.env, NODE_OPTIONS: options ? nodeFlags.join(' ') : '' } },
));

const plain = run(bundle, []);
const cases = [
  ['the bundle as built, under its flags', bundle, flags, 'taken', true],
  ['the bundle as built, its flags in NODE_OPTIONS', bundle, flags, 'taken', true, true],
  ['the bundle as built, under no flags', bundle, [], 'not used', false],
  ['a glue with a line added, under its flags', copy((d) => appendFileSync(join(d, 'edge_auth_wasm.js'), '\n// changed\n')), flags, 'refused', true],
  ['a shim with a line added, under its flags', copy((d) => appendFileSync(join(d, 'shim.js'), '\n// changed\n')), flags, 'refused', true],
  ['code.cache cut short, under its flags', copy((d) => truncateSync(join(d, 'code.cache'), Math.floor(statSync(join(d, 'code.cache')).size / 2))), flags, 'refused', true],
  ['no code.cache, under its flags', copy((d) => rmSync(join(d, 'code.cache'))), flags, 'not used', true],
];
// The control: without the flags, nothing of the cache is read.
if (plain.codeCache !== 'not used' || plain.vm) failures.push(`without flags: expected the cache not used and node:vm not loaded, got ${plain.codeCache}, vm ${plain.vm}`);
if (!plain.results[0] || plain.results[0].uri !== '/public/index.html') failures.push(`the control did not forward a browser's public page: ${JSON.stringify(plain.results[0]).slice(0, 200)}`);
if (!plain.results[4] || plain.results[4].status !== '503') failures.push(`the control did not answer 503 to an event it cannot read: ${JSON.stringify(plain.results[4]).slice(0, 200)}`);
for (const [name, dir, nodeFlags, want, vm, options] of cases) {
  const got = run(dir, nodeFlags, options);
  if (got.codeCache !== want) failures.push(`${name}: expected the cache ${want}, got ${got.codeCache}`);
  if (got.vm !== vm) failures.push(`${name}: expected node:vm ${vm ? '' : 'not '}loaded`);
  // A refused cache is logged once (a warning), and nothing else is.
  const warned = want === 'refused' ? ['code_cache_refused'] : [];
  if (JSON.stringify(got.warnings) !== JSON.stringify(warned)) failures.push(`${name}: expected the warnings ${JSON.stringify(warned)}, got ${JSON.stringify(got.warnings)}`);
  if (JSON.stringify(got.results) !== JSON.stringify(plain.results)) failures.push(`${name}: decided otherwise than without the cache:\n  ${JSON.stringify(got.results).slice(0, 300)}\n  ${JSON.stringify(plain.results).slice(0, 300)}`);
}
// The cache is compiled code of the shim and the glue only: nothing of the
// requests the build decided to make it (xtask/code-cache.cjs gives each the
// request id and subject "code-cache", and its tokens' signature bytes).
const cache = readFileSync(join(bundle, 'code.cache'));
for (const s of ['code-cache', Buffer.alloc(64, 0x11).toString('base64url')]) {
  if (cache.includes(s)) failures.push(`code.cache holds "${s.slice(0, 20)}", from a request decided while it was made`);
}
for (const d of dirs) rmSync(d, { recursive: true, force: true });
if (failures.length) {
  console.error(`code cache: ${failures.length} failure(s):\n${failures.join('\n')}`);
  process.exit(1);
}
console.error(`code cache: ok (taken under ${flags.join(' ')}, on the command line or in NODE_OPTIONS; ${cases.length - 2} other bundles and starts refused it or did not read it; the same ${plain.results.length} decisions every way)`);
