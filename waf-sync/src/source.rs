//! Where flagged user-agents come from: PostgreSQL (the reporting store), or
//! a SQLite file or a CSV file (embedded defaults for a laptop). Every source
//! is read-only; table and column names are configurable and checked as plain
//! identifiers before they go into a query.

use crate::agent::FlaggedAgent;

/// Where and what to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    /// `postgres://...`, `sqlite://PATH` or a `.csv` path.
    pub url: String,
    /// Table (may be `schema.table`).
    pub table: String,
    /// Column holding the User-Agent.
    pub user_agent_column: String,
    /// Column holding the hit count.
    pub hits_column: String,
    /// Column holding the review status (nullable).
    pub status_column: String,
    /// PEM CA bundle trusted for PostgreSQL TLS besides the public roots
    /// (Amazon RDS certificates need the RDS CA bundle).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            url: String::new(),
            table: "flagged_user_agents".into(),
            user_agent_column: "user_agent".into(),
            hits_column: "hits".into(),
            status_column: "status".into(),
            ca_file: None,
        }
    }
}

/// Why a source could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The URL names no known kind of source.
    #[error("source {0:?} is not postgres://..., sqlite://PATH or a .csv file")]
    Kind(String),
    /// A table or column name is not a plain identifier.
    #[error("{0:?} is not a plain SQL identifier (letters, digits, _ and one '.')")]
    Identifier(String),
    /// The database failed.
    #[error("reading {source_name}: {message}")]
    Read {
        source_name: String,
        message: String,
    },
}

fn ident(name: &str) -> Result<String, SourceError> {
    let parts: Vec<&str> = name.split('.').collect();
    let ok = parts.len() <= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if !ok {
        return Err(SourceError::Identifier(name.to_owned()));
    }
    Ok(parts
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join("."))
}

fn query(cfg: &SourceConfig) -> Result<String, SourceError> {
    Ok(format!(
        "SELECT {}, CAST({} AS BIGINT), {} FROM {}",
        ident(&cfg.user_agent_column)?,
        ident(&cfg.hits_column)?,
        ident(&cfg.status_column)?,
        ident(&cfg.table)?
    ))
}

/// Redacts the password from a connection URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _password)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push(s.to_string());
        cur = s.source();
    }
    out.join(": ")
}

/// A rustls connector trusting the public web roots and the PEM certificates in `ca_file`.
fn tls_connector(
    ca_file: Option<&std::path::Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("reading CA file {}: {e}", path.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("CA file {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("CA file {}: {e}", path.display()))?;
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Reads every row.
pub async fn read(cfg: &SourceConfig) -> Result<Vec<FlaggedAgent>, SourceError> {
    let err = |e: &dyn std::fmt::Display| SourceError::Read {
        source_name: redact(&cfg.url),
        message: e.to_string(),
    };
    if cfg.url.starts_with("postgres://") || cfg.url.starts_with("postgresql://") {
        let sql = query(cfg)?;
        // TLS as the URL's sslmode asks (prefer by default; require for RDS),
        // verified against the public roots plus `ca_file`.
        let tls = tls_connector(cfg.ca_file.as_deref()).map_err(|e| err(&e))?;
        let (mut client, connection) = tokio_postgres::connect(&cfg.url, tls)
            .await
            .map_err(|e| err(&format!("{e}: {}", source_chain(&e))))?;
        let conn = tokio::spawn(connection);
        let tx = client
            .build_transaction()
            .read_only(true)
            .start()
            .await
            .map_err(|e| err(&e))?;
        let rows = tx.query(sql.as_str(), &[]).await.map_err(|e| err(&e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let user_agent: Option<String> = row.try_get(0).map_err(|e| err(&e))?;
            let hits: Option<i64> = row.try_get(1).map_err(|e| err(&e))?;
            let status: Option<String> = row.try_get(2).map_err(|e| err(&e))?;
            if let Some(user_agent) = user_agent {
                out.push(FlaggedAgent {
                    user_agent,
                    hits: hits.unwrap_or(0),
                    status,
                });
            }
        }
        tx.rollback().await.map_err(|e| err(&e))?;
        drop(client);
        let _ = conn.await;
        Ok(out)
    } else if let Some(path) = cfg.url.strip_prefix("sqlite://") {
        let sql = query(cfg)?;
        let conn =
            rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| err(&e))?;
        let mut stmt = conn.prepare(&sql).map_err(|e| err(&e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .map_err(|e| err(&e))?;
        let mut out = Vec::new();
        for row in rows {
            let (ua, hits, status) = row.map_err(|e| err(&e))?;
            if let Some(user_agent) = ua {
                out.push(FlaggedAgent {
                    user_agent,
                    hits: hits.unwrap_or(0),
                    status,
                });
            }
        }
        Ok(out)
    } else if cfg.url.ends_with(".csv") {
        let mut reader = csv::Reader::from_path(&cfg.url).map_err(|e| err(&e))?;
        let headers = reader.headers().map_err(|e| err(&e))?.clone();
        let col = |name: &str| headers.iter().position(|h| h == name);
        let ua_col = col(&cfg.user_agent_column).ok_or_else(|| {
            err(&format!(
                "no column {:?} in the header",
                cfg.user_agent_column
            ))
        })?;
        let (hits_col, status_col) = (col(&cfg.hits_column), col(&cfg.status_column));
        let mut out = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| err(&format!("line {}: {e}", i + 2)))?;
            let Some(ua) = record.get(ua_col).filter(|u| !u.is_empty()) else {
                continue;
            };
            let hits = match hits_col
                .and_then(|c| record.get(c))
                .filter(|h| !h.is_empty())
            {
                Some(h) => h
                    .parse()
                    .map_err(|_| err(&format!("line {}: hits {h:?} is not a number", i + 2)))?,
                None => 0,
            };
            let status = status_col
                .and_then(|c| record.get(c))
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            out.push(FlaggedAgent {
                user_agent: ua.to_owned(),
                hits,
                status,
            });
        }
        Ok(out)
    } else {
        Err(SourceError::Kind(redact(&cfg.url)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_checked() {
        assert_eq!(
            ident("reporting.flagged_user_agents").unwrap(),
            "\"reporting\".\"flagged_user_agents\""
        );
        for bad in ["x; DROP TABLE y", "a.b.c", "", "1abc", "a\"b"] {
            assert!(ident(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://app:hunter2@db:5432/r"),
            "postgres://app:***@db:5432/r"
        );
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
        assert_eq!(redact("postgres://reader@db/r"), "postgres://reader@db/r");
    }

    #[tokio::test]
    async fn csv_and_sqlite_sources() {
        let dir = std::env::temp_dir().join(format!("waf-sync-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv_path = dir.join("flagged.csv");
        std::fs::write(
            &csv_path,
            "user_agent,hits,status\nFooBot/1.0,12,\n\"Bar, Crawler/2\",3,rejected\n",
        )
        .unwrap();
        let cfg = SourceConfig {
            url: csv_path.display().to_string(),
            ..SourceConfig::default()
        };
        let rows = read(&cfg).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].status.as_deref(), Some("rejected"));
        let db = dir.join("flagged.db");
        let _ = std::fs::remove_file(&db);
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE flagged_user_agents (user_agent TEXT, hits INTEGER, status TEXT); INSERT INTO flagged_user_agents VALUES ('ZedBot/3', 7, NULL);").unwrap();
        drop(conn);
        let cfg = SourceConfig {
            url: format!("sqlite://{}", db.display()),
            ..SourceConfig::default()
        };
        let rows = read(&cfg).await.unwrap();
        assert_eq!(
            rows,
            vec![FlaggedAgent {
                user_agent: "ZedBot/3".into(),
                hits: 7,
                status: None
            }]
        );
        let bad = SourceConfig {
            url: format!("sqlite://{}", db.display()),
            table: "nope".into(),
            ..SourceConfig::default()
        };
        assert!(read(&bad).await.is_err());
    }
}
