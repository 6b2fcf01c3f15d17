// Build time only (`cargo xtask dist`, xtask/src/dist.rs): writes the bundle's
// V8 code cache, BUNDLE/code.cache, for the handler module (index.js) to
// compile the shim and the glue with.
//
//   node FLAGS xtask/code-cache.cjs BUNDLE_DIR ISSUERS_JSON
//
// Run with the V8 flags of the Node that will load the bundle (a cache is
// taken only under the same flags and V8 version): by default those the
// Lambda runtime starts Node with for a 128 MB function (xtask/src/dist.rs,
// `lambda_edge_node_flags`). It loads the bundle as Lambda does, decides the
// requests a cold instance meets first (a browser on a public page, a
// crawler, bearer tokens, an event it cannot read), each twice, and then
// takes the cache: the functions those decisions ran are compiled in it. The
// tokens are shaped from ISSUERS_JSON (each issuer's iss, an audience, typ,
// algorithms and key ids, from the config: xtask/src/dist.rs) and signed by no
// key, so each is refused at the signature check, after Node's crypto ran.
// Nothing reaches the network: `fetch` (remote JWK Sets) fails at once here.
// Fails (exit 1) when the bundle does not load or was not built to use a
// cache under these flags; `dist` then checks that a fresh Node takes it.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [bundle, issuersJson] = process.argv.slice(2);
if (!issuersJson) {
  console.error('usage: node [FLAGS] xtask/code-cache.cjs BUNDLE_DIR ISSUERS_JSON');
  process.exit(2);
}
globalThis.fetch = async () => {
  throw new Error('no network while building the code cache');
};
console.log = () => {};
console.error = () => {};

const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const CRAWLER = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
// Per issuer and algorithm, a token for its first key id (or none) with a
// signature of the algorithm's usual size (RSA: 2048 bits) that verifies
// under no key. Not zeros: the core refuses an all-zero ECDSA signature
// before it asks Node's crypto.
const SIZES = { HS256: 32, HS384: 48, HS512: 64, ES256: 64, ES384: 96, EdDSA: 64 };
const signature = (alg) => Buffer.alloc(SIZES[alg] ?? 256, 0x11).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const TOKENS = JSON.parse(issuersJson).flatMap((i) => i.algs.map((alg) => [
  b64({ alg, typ: i.typ ?? 'JWT', ...(i.kids.length ? { kid: i.kids[0] } : {}) }),
  b64({ iss: i.iss, aud: i.aud ?? undefined, sub: 'code-cache', iat: now, exp: now + 600 }),
  signature(alg),
].join('.')));
// Each from a client of its own (192.0.x.y): none is refused by a rate limit
// instead.
let client = 0;
const event = (uri, headers) => ({
  Records: [{
    cf: {
      config: { eventType: 'viewer-request', requestId: 'code-cache' },
      request: {
        clientIp: `192.0.${(++client >> 8) & 255}.${client & 255}`,
        method: 'GET',
        uri,
        querystring: '',
        headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [{ key: k, value: v }]])),
      },
    },
  }],
});

(async () => {
  const module = require(path.resolve(bundle, 'index.js'));
  if (module.makeCodeCache === null) throw new Error('the bundle did not compile its code for a cache: were these the flags dist wrote into index.js?');
  const requests = [
    event('/index.html', { 'user-agent': UA, accept: 'text/html' }),
    event('/index.html', { 'user-agent': CRAWLER }),
    ...TOKENS.map((t) => event('/private/a.jpg', { 'user-agent': UA, authorization: `Bearer ${t}` })),
    { Records: [] },
  ];
  for (let round = 0; round < 2; round++) for (const e of requests) await module.handler(e);
  fs.writeFileSync(path.join(bundle, 'code.cache'), module.makeCodeCache());
})().catch((e) => {
  process.stderr.write(`code cache: ${(e && e.stack) || e}\n`);
  process.exit(1);
});
