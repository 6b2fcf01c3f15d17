// Signature math on Node's native crypto for edge-auth-wasm: each key (a JWK,
// also its cache key) is imported into a KeyObject once and reused. Every JWT
// rule stays in Rust; this only answers "does this signature verify".
// node:crypto is loaded on the first verification, not at start: loading it
// costs a cold start 6-8 ms on the build machine, and an instance that only
// serves public pages never needs it.
let crypto = null;
let ALGS = null;

const keys = new Map();

const algs = () => ({
  HS256: ['sha256', null], HS384: ['sha384', null], HS512: ['sha512', null],
  RS256: ['sha256', {}], RS384: ['sha384', {}], RS512: ['sha512', {}],
  PS256: ['sha256', { padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }],
  PS384: ['sha384', { padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }],
  PS512: ['sha512', { padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }],
  ES256: ['sha256', { dsaEncoding: 'ieee-p1363' }], ES384: ['sha384', { dsaEncoding: 'ieee-p1363' }],
  EdDSA: [null, {}],
});

function importKey(jwkJson) {
  const jwk = JSON.parse(jwkJson);
  return jwk.kty === 'oct'
    ? crypto.createSecretKey(Buffer.from(jwk.k, 'base64url'))
    : crypto.createPublicKey({ key: jwk, format: 'jwk' });
}

function node_verify(jwkJson, alg, message, signature) {
  try {
    if (crypto === null) {
      crypto = require('node:crypto');
      ALGS = algs();
    }
    const spec = ALGS[alg];
    if (spec === undefined) return false;
    let key = keys.get(jwkJson);
    if (key === undefined) {
      key = importKey(jwkJson);
      keys.set(jwkJson, key);
    }
    if (spec[1] === null) {
      const mac = crypto.createHmac(spec[0], key).update(message).digest();
      return mac.length === signature.length && crypto.timingSafeEqual(mac, signature);
    }
    return crypto.verify(spec[0], message, { key, ...spec[1] }, signature);
  } catch {
    return false;
  }
}

module.exports = { node_verify };
