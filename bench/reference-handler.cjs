// The anchor: the viewer-request handler a team writes today in Node.js with
// jose (jwtVerify on Node's native crypto) and isbot, implementing the same
// demo policy as examples/demo/edge.toml (public /public/ and /assets/, token
// elsewhere, /private/{sub}/ for the token's own folder).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { isbot } = require('isbot');

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

exports.handler = async (event) => {
  await ready;
  const request = event.Records[0].cf.request;
  const ua = request.headers['user-agent']?.[0]?.value ?? '';
  if (!ua || isbot(ua)) return respond(403, 'Forbidden');
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
