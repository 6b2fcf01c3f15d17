//! The reporting database's connection string from AWS Secrets Manager, for
//! production: `source.url = "secretsmanager:NAME"`. The secret holds either
//! a URL or the JSON RDS writes for managed credentials (`username`,
//! `password`, `host`, `port`, `dbname`). The value is never logged.

use aws_sdk_secretsmanager::Client;

/// The prefix that names a secret instead of a URL.
pub const PREFIX: &str = "secretsmanager:";

#[derive(serde::Deserialize)]
struct RdsSecret {
    username: String,
    password: String,
    host: String,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    dbname: Option<String>,
}

/// Turns a secret's string into a PostgreSQL URL (`sslmode=require` for the
/// JSON form, since RDS enforces TLS).
pub fn url_from_secret(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        return Ok(value.to_owned());
    }
    let s: RdsSecret = serde_json::from_str(value).map_err(|_| "the secret is neither a postgres:// URL nor RDS JSON (username, password, host, port, dbname)".to_owned())?;
    let enc = |x: &str| {
        x.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    Ok(format!(
        "postgres://{}:{}@{}:{}/{}?sslmode=require",
        enc(&s.username),
        enc(&s.password),
        s.host,
        s.port.unwrap_or(5432),
        enc(s.dbname.as_deref().unwrap_or("postgres"))
    ))
}

/// Fetches secret `name` and returns the URL in it. `endpoint` overrides the
/// AWS endpoint (tests); otherwise the standard AWS environment applies.
pub async fn resolve(name: &str, endpoint: Option<&str>) -> Result<String, String> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(e) = endpoint {
        loader = loader
            .endpoint_url(e)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "test", "test", None, None, "static",
            ));
    }
    let client = Client::new(&loader.load().await);
    let out = client
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| {
            use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
            format!(
                "reading secret {name:?}: {}",
                e.code().map_or_else(
                    || format!("{e}"),
                    |c| format!("{c}: {}", e.message().unwrap_or_default())
                )
            )
        })?;
    let value = out
        .secret_string()
        .ok_or_else(|| format!("secret {name:?} has no string value"))?;
    url_from_secret(value).map_err(|e| format!("secret {name:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rds_json_and_plain_urls() {
        assert_eq!(
            url_from_secret(" postgres://a:b@h/d ").unwrap(),
            "postgres://a:b@h/d"
        );
        let url = url_from_secret(r#"{"username":"reader","password":"p@ss:w/rd","host":"db.example","port":5433,"dbname":"reporting","engine":"postgres"}"#).unwrap();
        assert_eq!(
            url,
            "postgres://reader:p%40ss%3Aw%2Frd@db.example:5433/reporting?sslmode=require"
        );
        assert!(url_from_secret("hunter2").unwrap_err().contains("neither"));
        assert!(
            !url_from_secret("hunter2").unwrap_err().contains("hunter2"),
            "the value never appears in errors"
        );
    }
}
