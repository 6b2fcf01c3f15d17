//! Verification keys: an RFC 7517 JWK Set turned into keys the verifier may
//! use. Unusable keys (RSA under 2048 bits, `use` other than `sig`, private
//! material, unknown `kty`/`crv`, symmetric `oct` keys) are skipped with a
//! warning and never used. Keys only ever come from configuration, never from
//! a token header (`jwk`, `jku`, `x5u`, `x5c` are refused by the verifier).
//! A set is strict JSON, as a token's header and claims are: a member name
//! given twice in one object refuses the whole set (RFC 7517 §4 allows a
//! parser to refuse it or keep the last).

use crate::json::Json;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};

/// Smallest RSA modulus accepted.
pub const MIN_RSA_BITS: usize = 2048;
/// Smallest HMAC secret accepted, in bytes.
pub const MIN_HMAC_BYTES: usize = 32;

/// What kind of key, which fixes the algorithms it can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA (RS*, PS*), with its modulus size.
    Rsa { bits: usize },
    /// ECDSA on P-256 (ES256).
    P256,
    /// ECDSA on P-384 (ES384).
    P384,
    /// Ed25519 (EdDSA).
    Ed25519,
    /// A shared secret (HS*).
    Hmac,
}

impl KeyKind {
    /// Whether this kind of key verifies `alg`.
    pub fn verifies(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        matches!(
            (self, alg),
            (
                KeyKind::Rsa { .. },
                RS256 | RS384 | RS512 | PS256 | PS384 | PS512
            ) | (KeyKind::P256, ES256)
                | (KeyKind::P384, ES384)
                | (KeyKind::Ed25519, EdDSA)
                | (KeyKind::Hmac, HS256 | HS384 | HS512)
        )
    }

    /// The exact signature length for `alg` with this key, in bytes.
    pub fn signature_len(self, alg: Algorithm) -> usize {
        use Algorithm::*;
        match (self, alg) {
            (KeyKind::Rsa { bits }, _) => bits.div_ceil(8),
            (_, ES256) => 64,
            (_, ES384) => 96,
            (_, EdDSA) => 64,
            (_, HS256) => 32,
            (_, HS384) => 48,
            (_, HS512) => 64,
            _ => 0,
        }
    }
}

/// A usable verification key.
#[derive(Clone)]
pub struct VerifyKey {
    /// The JWK `kid`.
    pub kid: Option<String>,
    /// The key's kind.
    pub kind: KeyKind,
    /// The JWK `alg`, when the key is pinned to one algorithm.
    pub alg: Option<Algorithm>,
    /// The key material for jsonwebtoken.
    pub key: DecodingKey,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl VerifyKey {
    /// Whether this key may verify a token signed with `alg`.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        self.kind.verifies(alg) && self.alg.is_none_or(|a| a == alg)
    }
}

/// One key of a JWK Set, its members as the RFC names them (only those read).
#[derive(Debug, PartialEq)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    d: Option<String>,
}

impl Jwk {
    /// The key in `v`: an object whose `kty` is a string and whose other
    /// members read here are strings (`key_ops` an array of strings) or
    /// absent or `null`; others are ignored.
    fn from_json(v: &Json) -> Result<Jwk, String> {
        if !matches!(v, Json::Object(_)) {
            return Err("a key is not an object".into());
        }
        let string = |name: &str| -> Result<Option<String>, String> {
            match v.get(name) {
                None | Some(Json::Null) => Ok(None),
                Some(Json::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("{name} is not a string")),
            }
        };
        let key_ops = match v.get("key_ops") {
            None | Some(Json::Null) => None,
            Some(Json::Array(ops)) => Some(
                ops.iter()
                    .map(|o| o.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or("key_ops holds something other than strings")?,
            ),
            Some(_) => return Err("key_ops is not an array".into()),
        };
        Ok(Jwk {
            kty: string("kty")?.ok_or("missing kty")?,
            kid: string("kid")?,
            use_: string("use")?,
            key_ops,
            alg: string("alg")?,
            n: string("n")?,
            e: string("e")?,
            crv: string("crv")?,
            x: string("x")?,
            y: string("y")?,
            d: string("d")?,
        })
    }
}

/// A parsed key set: the usable keys and a warning per skipped key.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    /// Keys that may be used.
    pub keys: Vec<VerifyKey>,
    /// One line per skipped or questionable key (no key material in them).
    pub warnings: Vec<String>,
}

/// Why a JWK Set cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeySetError {
    /// Not a JSON object with a `keys` array of objects.
    #[error("not an RFC 7517 JWK Set: {0}")]
    Format(String),
    /// Two usable keys share a `kid`, so a token could not pick one.
    #[error("two keys have kid {0:?}; kids must be unique")]
    DuplicateKid(String),
}

/// The size in bits of a big-endian modulus without leading zero bytes (an
/// empty one, or one of zeros, has 0).
pub(crate) fn modulus_bits(n: &[u8]) -> usize {
    n.first()
        .map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize)
}

/// Decodes strict base64url (no padding, canonical).
pub fn b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

impl KeySet {
    /// Parses a JWK Set document: strict JSON (no duplicate member names at
    /// any depth, no byte-order mark, nothing after the value; [`Json`]), an
    /// object with a `keys` array of keys ([`Jwk::from_json`]). Read with
    /// the token's JSON reader rather than a derived one: the wasm then
    /// carries one JSON reader, and none of serde's typed error paths.
    pub fn parse(json: &str) -> Result<KeySet, KeySetError> {
        let format = |why: String| KeySetError::Format(why);
        let doc = Json::parse(json.as_bytes()).map_err(format)?;
        if !matches!(doc, Json::Object(_)) {
            return Err(format("not a JSON object".into()));
        }
        let keys = match doc.get("keys") {
            Some(Json::Array(keys)) => keys,
            Some(_) => return Err(format("keys is not an array".into())),
            None => return Err(format("no keys member".into())),
        };
        let keys = keys
            .iter()
            .enumerate()
            .map(|(i, k)| Jwk::from_json(k).map_err(|e| format(format!("key #{i}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = KeySet::default();
        for (i, jwk) in keys.into_iter().enumerate() {
            let name = jwk
                .kid
                .clone()
                .map_or_else(|| format!("key #{i}"), |k| format!("key {k:?}"));
            match usable(&jwk) {
                Ok(key) => {
                    if key.kid.is_none() {
                        out.warnings.push(format!(
                            "{name} has no kid; tokens must name a kid, so it is never used"
                        ));
                    }
                    if let Some(kid) = &key.kid
                        && out.keys.iter().any(|k| k.kid.as_ref() == Some(kid))
                    {
                        return Err(KeySetError::DuplicateKid(kid.clone()));
                    }
                    out.keys.push(key);
                }
                Err(why) => out.warnings.push(format!("{name} skipped: {why}")),
            }
        }
        Ok(out)
    }
}

fn usable(jwk: &Jwk) -> Result<VerifyKey, String> {
    if jwk.d.is_some() {
        return Err("it contains private key material; publish only public keys".into());
    }
    if let Some(u) = &jwk.use_
        && u != "sig"
    {
        return Err(format!("use is {u:?}, not \"sig\""));
    }
    if let Some(ops) = &jwk.key_ops
        && !ops.iter().any(|o| o == "verify")
    {
        return Err("key_ops does not include \"verify\"".into());
    }
    let alg = match &jwk.alg {
        None => None,
        Some(a) => Some(
            a.parse::<Algorithm>()
                .map_err(|_| format!("unknown alg {a:?}"))?,
        ),
    };
    let field = |v: &Option<String>, name: &str| -> Result<Vec<u8>, String> {
        let s = v.as_deref().ok_or_else(|| format!("missing {name}"))?;
        b64url(s).ok_or_else(|| format!("{name} is not base64url"))
    };
    let (kind, key) = match jwk.kty.as_str() {
        "RSA" => {
            let n = field(&jwk.n, "n")?;
            let e = field(&jwk.e, "e")?;
            let n_trim: &[u8] = &n[n.iter().position(|&b| b != 0).unwrap_or(n.len())..];
            let bits = modulus_bits(n_trim);
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "RSA modulus of {bits} bits; at least {MIN_RSA_BITS} are required"
                ));
            }
            let e_val = e.iter().fold(0u64, |acc, &b| {
                acc.saturating_mul(256).saturating_add(u64::from(b))
            });
            if e_val < 3 || e_val % 2 == 0 {
                return Err("RSA exponent is not an odd number of at least 3".into());
            }
            (
                KeyKind::Rsa { bits },
                DecodingKey::from_rsa_raw_components(n_trim, &e),
            )
        }
        "EC" => {
            let (kind, len) = match jwk.crv.as_deref() {
                Some("P-256") => (KeyKind::P256, 32),
                Some("P-384") => (KeyKind::P384, 48),
                other => return Err(format!("unsupported EC curve {other:?}")),
            };
            let x = field(&jwk.x, "x")?;
            let y = field(&jwk.y, "y")?;
            if x.len() != len || y.len() != len {
                return Err("EC coordinates have the wrong length for the curve".into());
            }
            let (xs, ys) = (
                jwk.x.as_deref().unwrap_or_default(),
                jwk.y.as_deref().unwrap_or_default(),
            );
            (
                kind,
                DecodingKey::from_ec_components(xs, ys).map_err(|e| e.to_string())?,
            )
        }
        "OKP" => {
            if jwk.crv.as_deref() != Some("Ed25519") {
                return Err(format!("unsupported OKP curve {:?}", jwk.crv));
            }
            let x = field(&jwk.x, "x")?;
            if x.len() != 32 {
                return Err("Ed25519 key is not 32 bytes".into());
            }
            (
                KeyKind::Ed25519,
                DecodingKey::from_ed_components(jwk.x.as_deref().unwrap_or_default())
                    .map_err(|e| e.to_string())?,
            )
        }
        "oct" => {
            return Err("symmetric keys do not belong in a JWK Set; configure hmac_secret".into());
        }
        other => return Err(format!("unsupported kty {other:?}")),
    };
    if let Some(a) = alg
        && !kind.verifies(a)
    {
        return Err(format!("alg {a:?} does not fit a {kind:?} key"));
    }
    Ok(VerifyKey {
        kid: jwk.kid.clone(),
        kind,
        alg,
        key,
    })
}

/// Builds the HMAC key from a base64url secret, refusing short secrets.
pub fn hmac_key(secret_b64url: &str) -> Result<VerifyKey, String> {
    let secret = b64url(secret_b64url.trim()).ok_or("hmac_secret is not base64url (unpadded)")?;
    if secret.len() < MIN_HMAC_BYTES {
        return Err(format!(
            "hmac_secret is {} bytes; at least {MIN_HMAC_BYTES} are required",
            secret.len()
        ));
    }
    Ok(VerifyKey {
        kid: None,
        kind: KeyKind::Hmac,
        alg: None,
        key: DecodingKey::from_secret(&secret),
    })
}

#[cfg(test)]
mod tests {
    use super::{KeyKind, KeySet, MIN_RSA_BITS};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::Algorithm;

    /// The demo's P-256 public key coordinates.
    const X: &str = "wX0la-T9TQnTSayfOx0_x1E3aTD_P9q6rG2QXjxJKfY";
    const Y: &str = "jmRS1o8Icwsz9mQpU07ibwX3rINTkjMc_62pDXfHMdE";

    fn one(jwk: &str) -> KeySet {
        KeySet::parse(&format!("{{\"keys\": [{jwk}]}}")).unwrap()
    }

    fn ec(extra: &str) -> String {
        format!(
            "{{\"kty\": \"EC\", \"crv\": \"P-256\", \"kid\": \"k\", \"x\": \"{X}\", \"y\": \"{Y}\"{extra}}}"
        )
    }

    /// An RSA key whose modulus has `bits` bits (top byte chosen so), with
    /// exponent `e`; the modulus need not be a product of primes here.
    fn rsa(bits: usize, e: u64) -> String {
        let mut n = vec![0xffu8; bits.div_ceil(8)];
        let spare = n.len() * 8 - bits;
        n[0] = 0xff >> spare;
        let e: Vec<u8> = e
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        format!(
            "{{\"kty\": \"RSA\", \"kid\": \"r\", \"n\": \"{}\", \"e\": \"{}\"}}",
            URL_SAFE_NO_PAD.encode(&n),
            URL_SAFE_NO_PAD.encode(&e)
        )
    }

    #[test]
    fn key_ops_must_allow_verify_when_present() {
        assert_eq!(one(&ec("")).keys.len(), 1);
        assert_eq!(one(&ec(", \"key_ops\": [\"verify\"]")).keys.len(), 1);
        let signing = one(&ec(", \"key_ops\": [\"sign\"]"));
        assert!(signing.keys.is_empty());
        assert!(
            signing.warnings[0].contains("key_ops"),
            "{:?}",
            signing.warnings
        );
        assert!(one(&ec(", \"use\": \"enc\"")).keys.is_empty());
        assert_eq!(one(&ec(", \"use\": \"sig\"")).keys.len(), 1);
    }

    #[test]
    fn ec_coordinates_must_both_fit_the_curve() {
        // 31 bytes, canonical base64url: read, then refused for its length.
        let short = URL_SAFE_NO_PAD.encode(&URL_SAFE_NO_PAD.decode(X).unwrap()[1..]);
        for jwk in [ec("").replace(X, &short), ec("").replace(Y, &short)] {
            let set = one(&jwk);
            assert!(set.keys.is_empty(), "{jwk}");
            assert!(
                set.warnings[0].contains("wrong length"),
                "{:?}",
                set.warnings
            );
        }
    }

    #[test]
    fn rsa_moduli_are_measured_in_bits() {
        let bits = |b: usize| match one(&rsa(b, 65537)).keys.first().map(|k| k.kind) {
            Some(KeyKind::Rsa { bits }) => Some(bits),
            _ => None,
        };
        assert_eq!(bits(MIN_RSA_BITS), Some(MIN_RSA_BITS));
        assert_eq!(bits(MIN_RSA_BITS + 1), Some(MIN_RSA_BITS + 1));
        // One bit short, though it takes as many bytes: refused.
        assert_eq!(bits(MIN_RSA_BITS - 1), None);
        assert_eq!(bits(1024), None);
        // An empty modulus, or one of zero bytes, has no bits (this once
        // underflowed: found by the `config` fuzz target on the same sum).
        for n in ["", "AA", "AAAA"] {
            let set = one(&format!(
                "{{\"kty\": \"RSA\", \"kid\": \"r\", \"n\": \"{n}\", \"e\": \"AQAB\"}}"
            ));
            assert!(set.keys.is_empty(), "{n:?}");
            assert!(
                set.warnings[0].contains("RSA modulus of 0 bits"),
                "{:?}",
                set.warnings
            );
        }
        assert_eq!(
            KeyKind::Rsa { bits: 3071 }.signature_len(Algorithm::RS256),
            384
        );
    }

    #[test]
    fn rsa_exponents_are_odd_and_at_least_three() {
        let usable = |e: u64| !one(&rsa(2048, e)).keys.is_empty();
        assert!(usable(3));
        assert!(usable(65537));
        for e in [0, 1, 2, 4, 65536] {
            assert!(!usable(e), "e = {e}");
        }
    }

    #[test]
    fn hmac_signature_lengths_follow_the_hash() {
        let k = KeyKind::Hmac;
        assert_eq!(k.signature_len(Algorithm::HS256), 32);
        assert_eq!(k.signature_len(Algorithm::HS384), 48);
        assert_eq!(k.signature_len(Algorithm::HS512), 64);
        assert_eq!(KeyKind::P384.signature_len(Algorithm::ES384), 96);
    }

    #[test]
    fn a_key_prints_its_kid_never_its_material() {
        let set = one(&ec(""));
        let shown = format!("{:?}", set.keys[0]);
        assert!(
            shown.starts_with("VerifyKey") && shown.contains("\"k\""),
            "{shown}"
        );
        assert!(!shown.contains(X) && !shown.contains("wX0la"), "{shown}");
    }

    /// The reader before it: serde's derive, which the JSON reader replaced.
    mod derived {
        #[derive(serde::Deserialize)]
        pub struct JwkSet {
            pub keys: Vec<Jwk>,
        }
        #[derive(serde::Deserialize)]
        pub struct Jwk {
            pub kty: String,
            pub kid: Option<String>,
            #[serde(rename = "use")]
            pub use_: Option<String>,
            pub key_ops: Option<Vec<String>>,
            pub alg: Option<String>,
            pub n: Option<String>,
            pub e: Option<String>,
            pub crv: Option<String>,
            pub x: Option<String>,
            pub y: Option<String>,
            pub d: Option<String>,
        }
    }

    fn member_value() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            16 => "[a-zA-Z0-9_-]{0,6}".prop_map(|s| format!("{s:?}")),
            1 => Just("null".to_owned()),
            1 => Just("7".to_owned()),
            1 => Just("true".to_owned()),
            1 => Just("{}".to_owned()),
            1 => Just(r#"["verify","sign"]"#.to_owned()),
            1 => Just(r#"["verify",1]"#.to_owned()),
            1 => Just("[]".to_owned()),
        ]
    }

    fn member_name() -> impl proptest::strategy::Strategy<Value = &'static str> {
        proptest::sample::select(vec![
            "kty", "kid", "use", "key_ops", "alg", "n", "e", "crv", "x", "y", "d", "x5c", "ext",
        ])
    }

    /// A key's members: usually a `kty` string first, then a few members.
    fn jwk_members() -> impl proptest::strategy::Strategy<Value = Vec<(&'static str, String)>> {
        use proptest::prelude::*;
        (
            proptest::option::weighted(0.8, "[A-Z]{2,3}".prop_map(|s| format!("{s:?}"))),
            proptest::collection::vec((member_name(), member_value()), 0..6),
        )
            .prop_map(|(kty, rest)| kty.map(|k| ("kty", k)).into_iter().chain(rest).collect())
    }

    proptest::proptest! {
        /// The JSON reader against the derive it replaced, on JWK Sets
        /// built member by member (every member the reader reads, and two
        /// it ignores, each a string, null, a number, a boolean, an object
        /// or an array): where the derive reads a set, the reader reads the
        /// same keys; where it refuses one, so does the reader. The reader
        /// also refuses a member name given twice in one object, which the
        /// derive let pass for members it ignores.
        #[test]
        fn the_json_reader_reads_what_the_derive_read(
            keys in proptest::collection::vec(jwk_members(), 0..3),
            wrap in 0u8..4,
        ) {
            let objects: Vec<String> = keys.iter().map(|members| {
                let body: Vec<String> = members.iter().map(|(n, v)| format!("{n:?}:{v}")).collect();
                format!("{{{}}}", body.join(","))
            }).collect();
            let array = format!("[{}]", objects.join(","));
            let doc = match wrap {
                0 | 1 => format!("{{\"keys\":{array}}}"),
                2 => format!("{{\"keys\":{array},\"other\":1}}"),
                _ => array.clone(),
            };
            let duplicates = keys.iter().any(|members| {
                members.iter().enumerate().any(|(i, (n, _))| members[..i].iter().any(|(m, _)| m == n))
            });
            let old = serde_json::from_str::<derived::JwkSet>(&doc);
            let new = crate::json::Json::parse(doc.as_bytes()).ok().and_then(|d| {
                match d.get("keys") {
                    Some(crate::json::Json::Array(ks)) => ks.iter().map(|k| super::Jwk::from_json(k).ok()).collect::<Option<Vec<_>>>(),
                    _ => None,
                }
            });
            match (&old, &new) {
                (Ok(set), Some(keys)) => {
                    proptest::prop_assert_eq!(set.keys.len(), keys.len());
                    for (a, b) in set.keys.iter().zip(keys) {
                        let a = super::Jwk {
                            kty: a.kty.clone(), kid: a.kid.clone(), use_: a.use_.clone(),
                            key_ops: a.key_ops.clone(), alg: a.alg.clone(), n: a.n.clone(),
                            e: a.e.clone(), crv: a.crv.clone(), x: a.x.clone(), y: a.y.clone(),
                            d: a.d.clone(),
                        };
                        proptest::prop_assert_eq!(&a, b);
                    }
                }
                (Ok(_), None) => proptest::prop_assert!(duplicates, "the reader refused what the derive read: {}", doc),
                (Err(_), Some(_)) => proptest::prop_assert!(false, "the reader read what the derive refused: {}", doc),
                (Err(_), None) => {}
            }
            // And KeySet::parse refuses exactly the sets the reader cannot read.
            proptest::prop_assert_eq!(KeySet::parse(&doc).is_err() && !matches!(KeySet::parse(&doc), Err(super::KeySetError::DuplicateKid(_))), new.is_none());
        }
    }

    /// What the generator above reaches, counted: sets the derive read, sets
    /// it refused for a member's type, and sets refused for a name twice.
    #[test]
    fn the_generator_reaches_each_outcome() {
        use proptest::strategy::{Strategy, ValueTree};
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = jwk_members();
        let (mut read, mut refused, mut twice) = (0, 0, 0);
        for _ in 0..2000 {
            let members = strategy.new_tree(&mut runner).unwrap().current();
            let body: Vec<String> = members.iter().map(|(n, v)| format!("{n:?}:{v}")).collect();
            let doc = format!("{{\"keys\":[{{{}}}]}}", body.join(","));
            if members
                .iter()
                .enumerate()
                .any(|(i, (n, _))| members[..i].iter().any(|(m, _)| m == n))
            {
                twice += 1;
            } else if serde_json::from_str::<derived::JwkSet>(&doc).is_ok() {
                read += 1;
            } else {
                refused += 1;
            }
        }
        assert!(
            read > 100 && refused > 100 && twice > 100,
            "{read} read, {refused} refused, {twice} twice"
        );
    }
}
