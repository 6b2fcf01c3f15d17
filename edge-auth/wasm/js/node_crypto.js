// Signature math on Node's native crypto for edge-auth-wasm: KeyObjects are
// imported once per key (keyed by a digest of the key material) and reused.
// Every JWT rule stays in Rust; this only answers "does this signature verify".
const crypto = require('node:crypto');

const keys = new Map();

const ALGS = {
  RS256: ['sha256', {}], RS384: ['sha384', {}], RS512: ['sha512', {}],
  PS256: ['sha256', { padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }],
  PS384: ['sha384', { padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }],
  PS512: ['sha512', { padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }],
  ES256: ['sha256', { dsaEncoding: 'ieee-p1363' }], ES384: ['sha384', { dsaEncoding: 'ieee-p1363' }],
  EdDSA: [null, {}],
};

function node_verify(keyId, jwkJson, alg, message, signature) {
  try {
    let key = keys.get(keyId);
    if (key === undefined) {
      if (!jwkJson) return false;
      key = crypto.createPublicKey({ key: JSON.parse(jwkJson), format: 'jwk' });
      keys.set(keyId, key);
    }
    const spec = ALGS[alg];
    if (spec === undefined) return false;
    return crypto.verify(spec[0], message, { key, ...spec[1] }, signature);
  } catch {
    return false;
  }
}

module.exports = { node_verify };
