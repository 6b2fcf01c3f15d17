//! Why a config is refused: a [`ConfigErrorKind`] tests and tools can
//! match on, the key path it is about (`issuers[1].jwks_url`, `paths[0]`,
//! `tokens.sources`), and, when the config was read from TOML, the line of
//! that key, found with the `toml` crate's spanned document.

/// What kind of mistake a refused config has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// Not TOML (or JSON), a value of the wrong type, an unknown key or
    /// value name (the parser's own message, with its line).
    Syntax,
    /// A setting the config needs is absent.
    Missing,
    /// A value outside its range or not of the form it must have.
    Invalid,
    /// Two settings that exclude each other, or one thing given twice.
    Conflict,
    /// A setting that would open a hole: a key source over plain HTTP, a
    /// pipeline without `auth`, a shared secret without an HS algorithm...
    Unsafe,
    /// A file the config names could not be read or is not what it must be.
    File,
}

/// A configuration that cannot be used: what kind, where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// What kind of mistake.
    pub kind: ConfigErrorKind,
    /// The TOML key path it is about (`jwt.audience`, `issuers[1]`,
    /// `paths[0].sub_prefix`); empty for the document as a whole.
    pub key: String,
    /// The key's 1-based line in the TOML text, when read from TOML.
    pub line: Option<usize>,
    /// What is wrong and what to do.
    pub message: String,
}

impl ConfigError {
    /// An error of `kind` about `key`.
    pub fn new(kind: ConfigErrorKind, key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            kind,
            key: key.into(),
            line: None,
            message: message.into(),
        }
    }

    /// The parser's error (its message carries its own position).
    #[cfg(feature = "toml")]
    pub(crate) fn syntax(message: impl Into<String>) -> Self {
        ConfigError::new(ConfigErrorKind::Syntax, "", message)
    }

    /// Sets [`ConfigError::line`] from the TOML text the config came from.
    #[cfg(feature = "toml")]
    pub(crate) fn located(mut self, toml_text: &str) -> Self {
        if self.line.is_none() {
            self.line = line_of(toml_text, &self.key);
        }
        self
    }
}

impl ConfigError {
    /// The error as a compiler would print it for `file`:
    /// `edge.toml:12: issuers[1].jwks_url: must be https://...`.
    pub fn in_file(&self, file: &str) -> String {
        let mut out = file.to_owned();
        if let Some(line) = self.line {
            out.push_str(&format!(":{line}"));
        }
        out.push_str(": ");
        if !self.key.is_empty() {
            out.push_str(&self.key);
            out.push_str(": ");
        }
        out.push_str(&self.message);
        out
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// One step of a key path: a table key or an array index.
#[cfg(feature = "toml")]
enum Part<'a> {
    Key(&'a str),
    Index(usize),
}

/// `issuers[1].jwks_url` → `issuers`, 1, `jwks_url`.
#[cfg(feature = "toml")]
fn parts(path: &str) -> Option<Vec<Part<'_>>> {
    let mut out = Vec::new();
    for seg in path.split('.') {
        let (name, rest) = seg.split_once('[').unwrap_or((seg, ""));
        if !name.is_empty() {
            out.push(Part::Key(name));
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            out.push(Part::Index(idx.strip_suffix(']')?.parse().ok()?));
        }
    }
    Some(out)
}

/// The line of the deepest part of `path` the document has (the key itself,
/// or its table when the key is absent, e.g. a missing `jwks_file`).
#[cfg(feature = "toml")]
fn line_of(text: &str, path: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    if path.is_empty() {
        return None;
    }
    let doc = DeTable::parse(text).ok()?;
    let mut span: Option<std::ops::Range<usize>> = None;
    let mut table: Option<&DeTable<'_>> = Some(doc.get_ref());
    let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
    for part in parts(path)? {
        let found = match part {
            Part::Key(k) => table
                .and_then(|t| t.get_key_value(k))
                .map(|(key, value)| (key.span(), value)),
            Part::Index(i) => array.and_then(|a| a.get(i)).map(|v| (v.span(), v)),
        };
        let Some((at, value)) = found else {
            break;
        };
        span = Some(at);
        (table, array) = match value.get_ref() {
            DeValue::Table(t) => (Some(t), None),
            DeValue::Array(a) => (None, Some(&a[..])),
            _ => (None, None),
        };
    }
    let at = span?.start.min(text.len());
    Some(text[..at].matches('\n').count() + 1)
}

#[cfg(test)]
#[cfg(feature = "toml")]
mod tests {
    use super::*;

    #[test]
    fn lines_are_found_by_key_path() {
        let text = "pipeline = [\"auth\"]\n\n[[issuers]]\nissuer = \"a\"\n\n[[issuers]]\nissuer = \"b\"\njwks_url = \"http://x\"\n\n[tokens]\nsources = []\n";
        assert_eq!(line_of(text, "pipeline"), Some(1));
        assert_eq!(line_of(text, "issuers[1].jwks_url"), Some(8));
        assert_eq!(line_of(text, "issuers[0].issuer"), Some(4));
        assert_eq!(line_of(text, "tokens.sources"), Some(11));
        // An absent key: the line of the table it belongs in.
        let table = line_of(text, "issuers[1]").unwrap();
        assert!((6..=7).contains(&table), "{table}");
        assert_eq!(line_of(text, "issuers[1].jwks_file"), Some(table));
        assert_eq!(line_of(text, "paths[0]"), None);
        assert_eq!(line_of(text, ""), None);
        let e = ConfigError::new(
            ConfigErrorKind::Unsafe,
            "issuers[1].jwks_url",
            "must be https://",
        )
        .located(text);
        assert_eq!(
            e.to_string(),
            "line 8: issuers[1].jwks_url: must be https://"
        );
        assert_eq!(
            e.in_file("edge.toml"),
            "edge.toml:8: issuers[1].jwks_url: must be https://"
        );
        let syntax = ConfigError::syntax("TOML parse error at line 3, column 1");
        assert_eq!(
            syntax.in_file("edge.toml"),
            "edge.toml: TOML parse error at line 3, column 1"
        );
    }
}
