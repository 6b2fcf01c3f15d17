// Signature math on Node's native crypto for edge-auth-wasm: each key (its
// kind and parts, which also name its cache entry) is imported into a
// KeyObject once and reused. Every JWT rule stays in Rust; this only answers
// "does this signature verify".
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

// Key kinds (edge-auth/wasm/src/node_crypto.rs): the parts `a` and `b` are
// views into the wasm memory, read before anything can grow it.
const b64u = (part) => Buffer.from(part.buffer, part.byteOffset, part.byteLength).toString('base64url');
function importKey(kind, a, b) {
  switch (kind) {
    case 0: return crypto.createSecretKey(Buffer.from(a));
    case 1: return crypto.createPublicKey({ key: { kty: 'RSA', n: b64u(a), e: b64u(b) }, format: 'jwk' });
    case 2: return crypto.createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(a), y: b64u(b) }, format: 'jwk' });
    case 3: return crypto.createPublicKey({ key: { kty: 'EC', crv: 'P-384', x: b64u(a), y: b64u(b) }, format: 'jwk' });
    case 4: return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(a) }, format: 'jwk' });
    default: throw new Error('unknown key kind');
  }
}

function node_verify(kind, a, b, alg, message, signature) {
  try {
    if (crypto === null) {
      crypto = require('node:crypto');
      ALGS = algs();
    }
    const spec = ALGS[alg];
    if (spec === undefined) return false;
    // Base64url has no ':', so the id names one kind and one pair of parts.
    const id = `${kind}:${b64u(a)}:${b64u(b)}`;
    let key = keys.get(id);
    if (key === undefined) {
      key = importKey(kind, a, b);
      keys.set(id, key);
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
