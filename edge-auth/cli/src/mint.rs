//! `edge-auth mint`: signs a token with a PEM private key, for the demo and
//! for tests. Not an identity provider: it has no notion of users or sessions.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Args;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value};

/// What to sign.
#[derive(Debug, Args)]
pub struct MintArgs {
    /// PEM private key (PKCS#8 or PKCS#1 for RSA, SEC1/PKCS#8 for EC).
    #[arg(long, value_name = "PEM")]
    key: PathBuf,
    /// The `kid` header.
    #[arg(long)]
    kid: String,
    /// JWS algorithm.
    #[arg(long, default_value = "ES256")]
    alg: String,
    /// `iss` claim.
    #[arg(long)]
    iss: String,
    /// `aud` claim.
    #[arg(long)]
    aud: String,
    /// `sub` claim.
    #[arg(long)]
    sub: Option<String>,
    /// Lifetime in seconds (`exp` = now + ttl).
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
    /// Issue time, Unix seconds [default: now].
    #[arg(long, value_name = "UNIX_SECONDS")]
    now: Option<u64>,
    /// Extra claim NAME=VALUE; VALUE is JSON when it parses as JSON, else a string.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    claims: Vec<String>,
}

/// Builds and signs the token.
pub fn mint(args: &MintArgs) -> anyhow::Result<String> {
    let alg: Algorithm = args
        .alg
        .parse()
        .map_err(|_| anyhow!("unknown algorithm {:?}", args.alg))?;
    let pem =
        std::fs::read(&args.key).with_context(|| format!("reading {}", args.key.display()))?;
    let key = match alg {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            Ok(EncodingKey::from_secret(&pem))
        }
        _ => EncodingKey::from_rsa_pem(&pem),
    }
    .with_context(|| format!("{} is not a {alg:?} private key", args.key.display()))?;
    let now = args.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let mut claims = Map::new();
    claims.insert("iss".into(), Value::from(args.iss.clone()));
    claims.insert("aud".into(), Value::from(args.aud.clone()));
    if let Some(sub) = &args.sub {
        claims.insert("sub".into(), Value::from(sub.clone()));
    }
    claims.insert("iat".into(), Value::from(now));
    claims.insert("exp".into(), Value::from(now + args.ttl));
    for c in &args.claims {
        let (name, value) = c
            .split_once('=')
            .ok_or_else(|| anyhow!("--claim {c:?} is not NAME=VALUE"))?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::from(value));
        claims.insert(name.to_owned(), value);
    }
    let mut header = Header::new(alg);
    header.kid = Some(args.kid.clone());
    Ok(jsonwebtoken::encode(&header, &Value::Object(claims), &key)?)
}
