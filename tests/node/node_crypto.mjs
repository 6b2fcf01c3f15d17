// The bundle's signature check in JavaScript (the snippet the wasm calls,
// edge-auth/wasm/js/node_crypto.js), for every key kind and algorithm the
// edge accepts:
//   node tests/node/node_crypto.mjs BUNDLE_DIR
// The wasm hands over a key as its kind and raw parts (edge-auth/wasm/src/
// node_crypto.rs, `key_parts`), and the snippet builds the key from them.
// Each case signs with Node's crypto and expects: the signature verifies
// with the key's parts; not with the message changed, a bit of the signature
// flipped, another key of the same kind (imported after, so that its cache
// entry must not be confused with the first; for ECDSA also the other point
// with the same x), or the parts passed as the wrong kind; an algorithm the edge does not know verifies nothing.
import { createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const bundle = resolve(process.argv[2] ?? 'target/dist/bundle');
// `cargo xtask dist` puts the snippet inside the glue, in a function scope
// with its own `module` (xtask/src/dist.rs, `inline_snippets`): the code
// tested here is the bundle's own copy, taken from the glue and run alone.
const glue = readFileSync(join(bundle, 'edge_auth_wasm.js'), 'utf8');
const inlined = glue.match(/^const \{ node_verify \} = \(function \(module\) \{\n([\s\S]*?)\nreturn module\.exports; \}\)\(\{ exports: \{\} \}\); \/\/ snippets\/[^\n]*\/js\/node_crypto\.js, inlined by cargo xtask dist$/m);
if (!inlined) throw new Error(`${bundle}: the glue does not carry node_crypto.js inlined`);
const module = { exports: {} };
new Function('module', 'require', inlined[1])(module, createRequire(import.meta.url));
const { node_verify: verify } = module.exports;

const part = (s) => Buffer.from(s, 'base64url');
// Each kind: a fresh key as (parts, signer), and the algorithms it serves.
const kinds = {
  oct: {
    kind: 0,
    fresh: () => {
      const k = randomBytes(32);
      return { a: k, b: Buffer.alloc(0), sign: (hash, m) => createHmac(hash, k).update(m).digest() };
    },
    algs: [['HS256', 'sha256'], ['HS384', 'sha384'], ['HS512', 'sha512']],
  },
  rsa: {
    kind: 1,
    fresh: () => {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const jwk = publicKey.export({ format: 'jwk' });
      return { a: part(jwk.n), b: part(jwk.e), sign: (hash, m, opts) => sign(hash, m, { key: privateKey, ...opts }) };
    },
    algs: [['RS256', 'sha256'], ['RS384', 'sha384'], ['RS512', 'sha512'],
      ['PS256', 'sha256', { padding: 6, saltLength: 32 }], ['PS384', 'sha384', { padding: 6, saltLength: 48 }],
      ['PS512', 'sha512', { padding: 6, saltLength: 64 }]],
  },
  p256: {
    kind: 2,
    fresh: () => ec('P-256'),
    algs: [['ES256', 'sha256', { dsaEncoding: 'ieee-p1363' }]],
  },
  p384: {
    kind: 3,
    fresh: () => ec('P-384'),
    algs: [['ES384', 'sha384', { dsaEncoding: 'ieee-p1363' }]],
  },
  ed25519: {
    kind: 4,
    fresh: () => {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      return { a: part(publicKey.export({ format: 'jwk' }).x), b: Buffer.alloc(0), sign: (_h, m) => sign(null, m, privateKey) };
    },
    algs: [['EdDSA', null]],
  },
};
function ec(namedCurve) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
  const jwk = publicKey.export({ format: 'jwk' });
  // (x, p - y) is on the curve too.
  const p = namedCurve === 'P-256' ? (1n << 256n) - (1n << 224n) + (1n << 192n) + (1n << 96n) - 1n
    : (1n << 384n) - (1n << 128n) - (1n << 96n) + (1n << 32n) - 1n;
  const y = part(jwk.y);
  const len = y.length;
  const mirror = Buffer.from((p - BigInt(`0x${y.toString('hex')}`)).toString(16).padStart(2 * len, '0'), 'hex');
  return { a: part(jwk.x), b: y, mirror, sign: (hash, m, opts) => sign(hash, m, { key: privateKey, ...opts }) };
}

// The wasm passes views into its memory: pass views into a larger buffer too.
const view = (bytes) => {
  const big = new Uint8Array(bytes.length + 16);
  big.set(bytes, 8);
  return big.subarray(8, 8 + bytes.length);
};

const failures = [];
const expect = (what, got, want) => { if (got !== want) failures.push(`${what}: got ${got}, expected ${want}`); };
let cases = 0;
for (const [name, k] of Object.entries(kinds)) {
  const first = k.fresh();
  const second = k.fresh();
  for (const [alg, hash, opts] of k.algs) {
    const message = Buffer.from(`header.payload of ${alg}`);
    const sig = first.sign(hash, message, opts);
    const at = `${name} ${alg}`;
    expect(`${at} verifies`, verify(k.kind, view(first.a), view(first.b), alg, view(message), view(sig)), true);
    expect(`${at} verifies again (cached key)`, verify(k.kind, view(first.a), view(first.b), alg, view(message), view(sig)), true);
    expect(`${at} message changed`, verify(k.kind, first.a, first.b, alg, Buffer.from(`${message}!`), sig), false);
    const flipped = Buffer.from(sig);
    flipped[flipped.length >> 1] ^= 1;
    expect(`${at} signature bit flipped`, verify(k.kind, first.a, first.b, alg, message, flipped), false);
    expect(`${at} another key of the kind`, verify(k.kind, second.a, second.b, alg, message, sig), false);
    const theirs = second.sign(hash, message, opts);
    expect(`${at} the other key's own signature`, verify(k.kind, second.a, second.b, alg, message, theirs), true);
    expect(`${at} the other key's signature, first key`, verify(k.kind, first.a, first.b, alg, message, theirs), false);
    if (first.mirror) {
      // The other point with the same x: its own key, though only y differs.
      expect(`${at} the point with the same x`, verify(k.kind, first.a, first.mirror, alg, message, sig), false);
    }
    for (const other of Object.values(kinds)) {
      if (other.kind !== k.kind) expect(`${at} parts as kind ${other.kind}`, verify(other.kind, first.a, first.b, alg, message, sig), false);
    }
    expect(`${at} unknown kind`, verify(9, first.a, first.b, alg, message, sig), false);
    expect(`${at} as 'none'`, verify(k.kind, first.a, first.b, 'none', message, sig), false);
    cases += 1;
  }
}
if (failures.length) {
  console.error(`node crypto: ${failures.length} failure(s):\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.error(`node crypto: ok (${cases} algorithms over 5 key kinds: each verifies with its key's parts and with nothing else)`);
