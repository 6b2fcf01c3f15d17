//! A jsonwebtoken `CryptoProvider` whose verifiers (HMAC, RSA, ECDSA, EdDSA)
//! call Node's native crypto (`js/node_crypto.js`), which imports each key
//! into a KeyObject once and reuses it. JWT semantics stay in Rust: this only
//! answers whether a signature verifies. The edge never signs.

use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/node_crypto.js")]
extern "C" {
    /// `kind` is one of the `KIND_*` below; `a` and `b` the key's parts.
    fn node_verify(
        kind: u32,
        a: &[u8],
        b: &[u8],
        alg: &str,
        message: &[u8],
        signature: &[u8],
    ) -> bool;
}

// Key kinds, as `js/node_crypto.js` reads them (it builds the JWK from the
// parts, so no JSON or base64 writer runs here).
/// An HMAC secret: `a` the key bytes.
const KIND_OCT: u32 = 0;
/// An RSA public key: `a` the modulus, `b` the exponent (big-endian).
const KIND_RSA: u32 = 1;
/// A P-256 point: `a` x, `b` y (32 bytes each).
const KIND_P256: u32 = 2;
/// A P-384 point: `a` x, `b` y (48 bytes each).
const KIND_P384: u32 = 3;
/// An Ed25519 public key: `a` its 32 bytes.
const KIND_ED25519: u32 = 4;

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: no_signer,
    verifier_factory: node_verifier,
    // JWKs are parsed by edge-auth-core, never through jsonwebtoken's key utils.
    key_utils: jsonwebtoken::crypto::KeyUtils::new_unimplemented(),
};

/// The edge verifies only.
fn no_signer(
    _alg: &Algorithm,
    _key: &jsonwebtoken::EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn jsonwebtoken::crypto::JwtSigner>> {
    Err(Error::from(ErrorKind::InvalidAlgorithm))
}

/// Makes Node's crypto the default for this process (once; later calls are no-ops).
pub fn install() {
    let _ = PROVIDER.install_default();
}

struct NodeVerifier {
    alg: Algorithm,
    /// The key: its kind and parts, also the JS side's KeyObject cache key.
    kind: u32,
    a: Vec<u8>,
    b: Vec<u8>,
}

/// The kind and parts of `key` for `alg`, as `js/node_crypto.js` imports them.
fn key_parts<'k>(
    alg: &Algorithm,
    key: &'k DecodingKey,
) -> jsonwebtoken::errors::Result<(u32, &'k [u8], &'k [u8])> {
    Ok(match (alg, key.kind()) {
        (
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512,
            DecodingKeyKind::SecretOrDer(k),
        ) => (KIND_OCT, k, &[]),
        (_, DecodingKeyKind::RsaModulusExponent { n, e }) => (KIND_RSA, n, e),
        (Algorithm::ES256 | Algorithm::ES384, DecodingKeyKind::SecretOrDer(sec1)) => {
            let (kind, len) = if *alg == Algorithm::ES256 {
                (KIND_P256, 32)
            } else {
                (KIND_P384, 48)
            };
            // Uncompressed SEC1: 0x04, x, y.
            if sec1.len() != 1 + 2 * len || sec1[0] != 4 {
                return Err(Error::from(ErrorKind::InvalidEcdsaKey));
            }
            (kind, &sec1[1..1 + len], &sec1[1 + len..])
        }
        (Algorithm::EdDSA, DecodingKeyKind::SecretOrDer(x)) => (KIND_ED25519, x, &[]),
        _ => return Err(Error::from(ErrorKind::InvalidKeyFormat)),
    })
}

fn node_verifier(
    alg: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    let (kind, a, b) = key_parts(alg, key)?;
    Ok(Box::new(NodeVerifier {
        alg: *alg,
        kind,
        a: a.to_vec(),
        b: b.to_vec(),
    }))
}

impl signature::Verifier<Vec<u8>> for NodeVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let name = match self.alg {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
            _ => return Err(signature::Error::new()),
        };
        if node_verify(self.kind, &self.a, &self.b, name, msg, signature) {
            Ok(())
        } else {
            Err(signature::Error::new())
        }
    }
}

impl JwtVerifier for NodeVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn each_key_crosses_as_its_kind_and_parts() {
        let secret = DecodingKey::from_secret(b"0123456789abcdef");
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            assert_eq!(
                key_parts(&alg, &secret).unwrap(),
                (KIND_OCT, &b"0123456789abcdef"[..], &[][..])
            );
        }
        let (n, e) = ([0xc3u8; 256], [1u8, 0, 1]);
        let rsa = DecodingKey::from_rsa_components(&b64(&n), &b64(&e)).unwrap();
        for alg in [Algorithm::RS256, Algorithm::PS384, Algorithm::RS512] {
            assert_eq!(key_parts(&alg, &rsa).unwrap(), (KIND_RSA, &n[..], &e[..]));
        }
        let (x, y) = ([7u8; 32], [9u8; 32]);
        let p256 = DecodingKey::from_ec_components(&b64(&x), &b64(&y)).unwrap();
        assert_eq!(
            key_parts(&Algorithm::ES256, &p256).unwrap(),
            (KIND_P256, &x[..], &y[..])
        );
        // A P-256 point is no ES384 key.
        assert!(key_parts(&Algorithm::ES384, &p256).is_err());
        let (x, y) = ([5u8; 48], [6u8; 48]);
        let p384 = DecodingKey::from_ec_components(&b64(&x), &b64(&y)).unwrap();
        assert_eq!(
            key_parts(&Algorithm::ES384, &p384).unwrap(),
            (KIND_P384, &x[..], &y[..])
        );
        assert!(key_parts(&Algorithm::ES256, &p384).is_err());
        let ed = DecodingKey::from_ed_components(&b64(&[3u8; 32])).unwrap();
        assert_eq!(
            key_parts(&Algorithm::EdDSA, &ed).unwrap(),
            (KIND_ED25519, &[3u8; 32][..], &[][..])
        );
        // A secret read as an ECDSA key is refused, not guessed at.
        assert!(key_parts(&Algorithm::ES256, &secret).is_err());
    }
}
