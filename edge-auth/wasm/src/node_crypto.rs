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
    fn node_verify(jwk_json: &str, alg: &str, message: &[u8], signature: &[u8]) -> bool;
}

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
    /// The key as a JWK: also the JS side's KeyObject cache key.
    jwk: String,
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn node_verifier(
    alg: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    let jwk = match (alg, key.kind()) {
        (
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512,
            DecodingKeyKind::SecretOrDer(k),
        ) => {
            format!(r#"{{"kty":"oct","k":"{}"}}"#, b64(k))
        }
        (_, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            format!(r#"{{"kty":"RSA","n":"{}","e":"{}"}}"#, b64(n), b64(e))
        }
        (Algorithm::ES256 | Algorithm::ES384, DecodingKeyKind::SecretOrDer(sec1)) => {
            let (crv, len) = if *alg == Algorithm::ES256 {
                ("P-256", 32)
            } else {
                ("P-384", 48)
            };
            if sec1.len() != 1 + 2 * len || sec1[0] != 4 {
                return Err(Error::from(ErrorKind::InvalidEcdsaKey));
            }
            format!(
                r#"{{"kty":"EC","crv":"{crv}","x":"{}","y":"{}"}}"#,
                b64(&sec1[1..1 + len]),
                b64(&sec1[1 + len..])
            )
        }
        (Algorithm::EdDSA, DecodingKeyKind::SecretOrDer(x)) => {
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#, b64(x))
        }
        _ => return Err(Error::from(ErrorKind::InvalidKeyFormat)),
    };
    Ok(Box::new(NodeVerifier { alg: *alg, jwk }))
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
        if node_verify(&self.jwk, name, msg, signature) {
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
