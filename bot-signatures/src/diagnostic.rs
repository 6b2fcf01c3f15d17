//! Findings about the catalog, each pointing at a file and line with a hint on
//! how to fix it: what `bot-signatures check` prints.

use std::fmt;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The catalog must not ship with this.
    Error,
    /// Works, but worth a look (e.g. a slow, unindexable pattern).
    Warning,
}

/// A stable code per kind of finding, used by tests and in the CLI output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code {
    /// The file is not valid TOML or has a field of the wrong type or an unknown field.
    Syntax,
    /// A field value is malformed (empty id, bad date, ...).
    BadField,
    /// The pattern does not compile.
    PatternSyntax,
    /// The pattern uses something AWS WAF cannot run, or is too long for it.
    NotWafCompatible,
    /// Two signatures share an id.
    DuplicateId,
    /// Two signatures have the same pattern.
    DuplicatePattern,
    /// An example user-agent that the signature's pattern does not match.
    InstanceNotMatched,
    /// The pattern matches a real browser's user-agent.
    MatchesBrowser,
    /// Another signature decides every example of this one.
    Shadowed,
    /// No literal of at least two characters could be extracted: the regex runs on every request.
    Unindexed,
}

impl Code {
    /// The short name printed in brackets.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "syntax",
            Code::BadField => "bad-field",
            Code::PatternSyntax => "pattern-syntax",
            Code::NotWafCompatible => "not-waf-compatible",
            Code::DuplicateId => "duplicate-id",
            Code::DuplicatePattern => "duplicate-pattern",
            Code::InstanceNotMatched => "instance-not-matched",
            Code::MatchesBrowser => "matches-browser",
            Code::Shadowed => "shadowed",
            Code::Unindexed => "unindexed",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The kind of finding.
    pub code: Code,
    /// The catalog file, as given to the loader.
    pub file: String,
    /// 1-based line in `file` (0 when unknown).
    pub line: usize,
    /// What is wrong, lowercase, without a trailing period.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl Diagnostic {
    /// An error finding.
    pub fn error(
        code: Code,
        file: &str,
        line: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: file.to_owned(),
            line,
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// A warning finding.
    pub fn warning(
        code: Code,
        file: &str,
        line: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, file, line, message, hint)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}: {}[{}]: {}",
            self.file,
            self.line,
            level,
            self.code.as_str(),
            self.message
        )?;
        if !self.hint.is_empty() {
            write!(f, "\n  hint: {}", self.hint)?;
        }
        Ok(())
    }
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    LineIndex::new(text).line(offset)
}

/// Byte offsets of line starts, for many offset-to-line look-ups in one text.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes `text`.
    pub fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|&(_, b)| b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        LineIndex { starts }
    }

    /// The 1-based line of byte `offset`.
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let t = "a\nbc\n\nd";
        assert_eq!(
            [0, 1, 2, 4, 5, 6, 99].map(|o| line_of(t, o)),
            [1, 1, 2, 2, 3, 4, 4]
        );
    }
}
