// The anchor: the viewer-request handler a team writes today in Node.js with
// jose (jwtVerify on Node's native crypto) and isbot, implementing the same
// demo policy as examples/demo/edge.toml (public /public/ and /assets/, token
// elsewhere, /private/{sub}/ for the token's own folder), and the same two
// claim checks with the tools such a team would reach for: a Googlebot claim
// checked against Google's published ranges with Node's net.BlockList, and a
// Web Bot Auth signature checked with Cloudflare's `web-bot-auth` package
// (npm, the reference implementation's JavaScript side) on WebCrypto.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { isbot } = require('isbot');

// Google's crawler ranges, the same files the bundle is built from.
const google = new net.BlockList();
for (const list of ['googlebot.json', 'googlesc.json']) {
  const file = path.join(__dirname, '../bot-signatures/verified/ranges', list);
  for (const p of JSON.parse(fs.readFileSync(file, 'utf8')).prefixes) {
    const [addr, bits] = (p.ipv4Prefix ?? p.ipv6Prefix).split('/');
    google.addSubnet(addr, Number(bits), p.ipv4Prefix ? 'ipv4' : 'ipv6');
  }
}
const GOOGLEBOT = /googlebot/i;

// The demo config's one signed agent and its key.
const AGENT_KEY = { kty: 'OKP', crv: 'Ed25519', x: 'JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs' };
let wba; let verifier;
const wbaReady = Promise.all([import('web-bot-auth'), import('web-bot-auth/crypto')])
  .then(async ([m, c]) => { wba = m; verifier = await c.verifierFromJWK(AGENT_KEY); });

const jwks = JSON.parse(fs.readFileSync(path.join(__dirname, '../examples/demo/jwks.json'), 'utf8'));
let jose; let JWKS;
const ready = import('jose').then((m) => { jose = m; JWKS = m.createLocalJWKSet(jwks); });

const respond = (status, description, extra = {}) => ({
  status: String(status), statusDescription: description,
  headers: { 'cache-control': [{ key: 'Cache-Control', value: 'no-store' }], ...extra },
});

function token(request) {
  const auth = request.headers.authorization?.[0]?.value;
  if (auth && /^bearer /i.test(auth)) return auth.slice(7).trim();
  for (const c of request.headers.cookie ?? []) {
    for (const part of c.value.split(';')) {
      const [k, v] = part.trim().split('=');
      if (k === 'access_token') return v;
    }
  }
  const q = new URLSearchParams(request.querystring).get('token');
  return q ?? null;
}

// A signed request: rebuilt as a fetch Request, as the package expects.
async function signatureVerifies(request) {
  await wbaReady;
  const headers = new Headers();
  for (const [name, list] of Object.entries(request.headers)) for (const { value } of list) headers.append(name, value);
  const host = request.headers.host?.[0]?.value ?? 'localhost';
  try {
    await wba.verify(new Request(`https://${host}${request.uri}`, { headers }), verifier);
    return true;
  } catch {
    return false;
  }
}

exports.handler = async (event) => {
  await ready;
  const request = event.Records[0].cf.request;
  const ua = request.headers['user-agent']?.[0]?.value ?? '';
  if (request.headers['signature-input']) {
    if (!(await signatureVerifies(request))) return respond(403, 'Forbidden');
  } else if (GOOGLEBOT.test(ua)) {
    const v6 = request.clientIp.includes(':');
    if (!google.check(request.clientIp, v6 ? 'ipv6' : 'ipv4')) return respond(403, 'Forbidden');
  } else if (!ua || isbot(ua)) return respond(403, 'Forbidden');
  if (request.uri.startsWith('/public/') || request.uri.startsWith('/assets/')) return request;
  const t = token(request);
  if (!t) return respond(401, 'Unauthorized', { 'www-authenticate': [{ key: 'WWW-Authenticate', value: 'Bearer realm="demo"' }] });
  try {
    const { payload } = await jose.jwtVerify(t, JWKS, {
      issuer: 'https://demo-issuer.example', audience: 'demo-site', algorithms: ['ES256'], clockTolerance: 30,
    });
    if (request.uri.startsWith('/private/') && !request.uri.startsWith(`/private/${payload.sub}/`)) return respond(403, 'Forbidden');
    return request;
  } catch {
    return respond(401, 'Unauthorized', { 'www-authenticate': [{ key: 'WWW-Authenticate', value: 'Bearer realm="demo", error="invalid_token"' }] });
  }
};
