// Remote JWKS in the built bundle: `node tests/node/remote_jwks.mjs BUNDLE_DIR PORT`.
// The bundle's config fetches http://127.0.0.1:PORT/jwks.json (cache 10 s,
// penalty box 2 s, timeout 300 ms) on top of the baked demo key. Checks: the
// endpoint being down never lets a request in and baked keys keep working; a
// key rotated in is picked up on its first unknown kid (penalty box
// permitting); a failing refetch keeps the keys held; a slow one times out.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { importPKCS8, SignJWT } from 'jose';

const [bundleDir, port] = process.argv.slice(2);
const here = new URL('.', import.meta.url).pathname;
const jwks = readFileSync(resolve(here, '../fixtures/keys/jwks.json'));
let mode = 'ok';
let hits = 0;
const server = http.createServer((req, res) => {
  hits++;
  if (mode === 'error') { res.writeHead(500); res.end(); return; }
  if (mode === 'slow') { setTimeout(() => { res.writeHead(200); res.end(jwks); }, 2000); return; }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(jwks);
});

let now = 1_800_000_000_000;
Date.now = () => now;
console.log = () => {};
console.error = () => {};
const require = createRequire(import.meta.url);
const { handler } = require(resolve(bundleDir, 'index.js'));

const sign = async (pem, kid) => new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'ES256', kid })
  .setIssuer('https://demo-issuer.example').setAudience('demo-site').setIssuedAt(now / 1000).setExpirationTime(now / 1000 + 86400)
  .sign(await importPKCS8(readFileSync(resolve(here, pem), 'utf8'), 'ES256'));
const rotated = await sign('../fixtures/keys/es256.key.pem', 'es256-1');
const baked = await sign('../../examples/demo/demo-es256.key.pem', 'demo-es256-1');
const ev = (token) => ({ Records: [{ cf: { config: { eventType: 'viewer-request' }, request: {
  clientIp: `198.51.100.${hits}`, method: 'GET', uri: '/private/alice/a.txt', querystring: '',
  headers: { 'user-agent': [{ value: 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0' }], authorization: [{ value: `Bearer ${token}` }] } } } }] });
const status = async (token) => (await handler(ev(token))).status ?? 'forward';
const check = (what, got, want) => { if (got !== want) { console.warn(`FAIL ${what}: got ${got}, want ${want}`); process.exit(1); } };

check('endpoint down: a rotated-in key is unknown', await status(rotated), '401');
check('endpoint down: baked keys still work', await status(baked), 'forward');
await new Promise((r) => server.listen(Number(port), '127.0.0.1', r));
now += 500;
check('within the penalty box: no refetch yet', await status(rotated), '401');
check('no fetch inside the penalty box', hits, 0);
now += 2000;
check('after the penalty box: fetched on the unknown kid', await status(rotated), 'forward');
check('one fetch', hits, 1);
check('cached: no second fetch', await status(rotated), 'forward');
check('still one fetch', hits, 1);
mode = 'error';
now += 11_000;
check('a failing refetch keeps the keys held', await status(rotated), 'forward');
check('it did try', hits, 2);
mode = 'slow';
now += 11_000;
const t0 = process.hrtime.bigint();
check('a slow endpoint times out and baked keys answer', await status(baked), 'forward');
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
check('answered within the timeout', ms < 1500, true);
server.close();
server.closeAllConnections?.();
console.warn(`remote JWKS: ok (${hits} fetches)`);
process.exit(0);
