// Remote JWKS in the built bundle: `node tests/node/remote_jwks.mjs BUNDLE_DIR PORT`.
// The bundle's config fetches http://127.0.0.1:PORT/jwks.json (cache 10 s,
// penalty box 2 s, timeout 300 ms, at most 4096 bytes, fetched keys dropped
// after 40 s without a successful fetch) on top of the baked demo key.
// Checks: the endpoint being down never lets a request in and baked keys keep
// working; a key rotated in is picked up on its first unknown kid (penalty box
// permitting) and that request is charged once against the rate limit; a
// failing or oversized refetch keeps the keys held, until they are too stale;
// a slow one times out.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { importPKCS8, SignJWT } from 'jose';

const [bundleDir, port] = process.argv.slice(2);
const here = new URL('.', import.meta.url).pathname;
const jwks = readFileSync(resolve(here, '../fixtures/keys/jwks.json'));
// A JWK Set with no keys, padded past max_bytes: taken, it would drop every fetched key.
const huge = '{"keys":[]}' + ' '.repeat(5000);
let mode = 'ok';
let hits = 0;
const server = http.createServer((req, res) => {
  hits++;
  if (mode === 'error') { res.writeHead(500); res.end(); return; }
  // Never answers: only the fetch's own timeout can end the request.
  if (mode === 'slow') return;
  if (mode === 'empty') { res.writeHead(200); res.end('{"keys":[]}'); return; }
  if (mode === 'huge') { res.writeHead(200); res.end(huge); return; }
  if (mode === 'huge-chunked') { res.writeHead(200, { 'transfer-encoding': 'chunked' }); res.write(huge.slice(0, 3000)); res.end(huge.slice(3000)); return; }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(jwks);
});

let now = 1_800_000_000_000;
Date.now = () => now;
console.log = () => {};
const errors = [];
console.error = (line) => errors.push(String(line));
const require = createRequire(import.meta.url);
const { handler } = require(resolve(bundleDir, 'index.js'));

const sign = async (pem, kid) => new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'ES256', kid })
  .setIssuer('https://demo-issuer.example').setAudience('demo-site').setIssuedAt(now / 1000).setExpirationTime(now / 1000 + 86400)
  .sign(await importPKCS8(readFileSync(resolve(here, pem), 'utf8'), 'ES256'));
const rotated = await sign('../fixtures/keys/es256.key.pem', 'es256-1');
const baked = await sign('../../examples/demo/demo-es256.key.pem', 'demo-es256-1');
let n = 0;
const ev = (token, ip) => ({ Records: [{ cf: { config: { eventType: 'viewer-request' }, request: {
  clientIp: ip ?? `198.51.100.${++n % 250}`, method: 'GET', uri: '/private/alice/a.txt', querystring: '',
  headers: { 'user-agent': [{ value: 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0' }], authorization: [{ value: `Bearer ${token}` }] } } } }] });
const status = async (token, ip) => (await handler(ev(token, ip))).status ?? 'forward';
const check = (what, got, want) => { if (got !== want) { console.warn(`FAIL ${what}: got ${got}, want ${want}`); process.exit(1); } };

check('endpoint down: a rotated-in key is unknown', await status(rotated), '401');
check('endpoint down: baked keys still work', await status(baked), 'forward');
await new Promise((r) => server.listen(Number(port), '127.0.0.1', r));
now += 500;
check('within the penalty box: no refetch yet', await status(rotated), '401');
check('no fetch inside the penalty box', hits, 0);

// A set without the rotated key is fetched first (stale at start) ...
mode = 'empty';
now += 2000;
check('first fetch: a set without the key', await status(baked), 'forward');
check('one fetch', hits, 1);
// ... then one client uses 9 of its burst of 10, and its 10th request carries
// the rotated key: decided, refreshed, decided again, and charged once.
mode = 'ok';
now += 2000;
const client = '192.0.2.77';
for (let i = 0; i < 9; i++) check(`burst request ${i + 1}`, await status(baked, client), 'forward');
check('unknown kid: fetched and decided again (10th of the burst)', await status(rotated, client), 'forward');
check('two fetches', hits, 2);
check('the 11th request of the burst is over the rate', await status(baked, client), '429');
check('cached: no further fetch', await status(rotated), 'forward');
check('still two fetches', hits, 2);

mode = 'error';
now += 11_000;
check('a failing refetch keeps the keys held', await status(rotated), 'forward');
check('it did try', hits, 3);
for (const m of ['huge', 'huge-chunked']) {
  mode = m;
  now += 11_000;
  errors.length = 0;
  check(`an oversized JWK Set (${m}) is refused and the keys held are kept`, await status(rotated), 'forward');
  check(`the oversized fetch (${m}) was logged`, errors.some((l) => l.includes('max_bytes')), true);
}
check('it tried both', hits, 5);
// 44 s since the last successful fetch: over jwks_max_stale_seconds (40).
mode = 'error';
now += 11_000;
errors.length = 0;
check('too stale: the fetched keys are dropped', await status(rotated), '401');
check('the drop was logged', errors.some((l) => l.includes('jwks_expired')), true);
check('too stale: baked keys still work', await status(baked), 'forward');
mode = 'ok';
now += 11_000;
check('the issuer is back: the rotated key works again', await status(rotated), 'forward');

mode = 'slow';
now += 11_000;
errors.length = 0;
// No wall-clock assertion: the endpoint never answers, so the decision can
// only come back through the timeout, and the log must say it was one. The
// watchdog only turns a hang (no timeout at all) into a failure.
const watchdog = setTimeout(() => { console.warn('FAIL a slow endpoint: no timeout, the request hung'); process.exit(1); }, 30_000);
check('a slow endpoint times out and baked keys answer', await status(baked), 'forward');
clearTimeout(watchdog);
check('the timeout was logged', errors.some((l) => l.includes('jwks_fetch_failed') && /timeout|abort/i.test(l)), true);
server.close();
server.closeAllConnections?.();
console.warn(`remote JWKS: ok (${hits} fetches)`);
process.exit(0);
