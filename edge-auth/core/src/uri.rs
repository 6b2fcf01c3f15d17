//! The canonical URI: the one reading of the viewer's path that the edge
//! authorizes and forwards, so that the rules and the origin always name the
//! same object.
//!
//! CloudFront hands the viewer-request hook the path exactly as the viewer
//! spelled it, still percent-encoded. Amazon S3 (REST and website endpoints)
//! percent-decodes the path once and takes everything after the first `/` as
//! the object key: `/%70rivate/x` and `/private%2Fx` both name `private/x`,
//! and `//private/x` names the different key `/private/x`. A custom origin
//! (nginx, Express, Tomcat, ...) may also resolve dot segments, merge `//`,
//! turn `\` into `/`, or cut a segment at `;`. Rules that looked at the raw
//! spelling could therefore be walked around by encoding one letter.
//!
//! [`canonicalize`] reads the path once, segment by segment (split on the raw
//! `/`), decoding every percent-escape exactly once (never twice: `%2570`
//! is the three characters `%70`). The result is
//! - [`CanonicalUri::path`]: the decoded path, `/` followed by the S3 object
//!   key. Path rules, `{sub}` prefixes and path claims match this, so they
//!   match the object the origin serves;
//! - [`CanonicalUri::encoded`]: the same path spelled one way (unreserved
//!   characters and `!$&'()*,:=@` literal, everything else escaped with
//!   upper-case hex, `+` and `;` always escaped), which is what the edge
//!   forwards: every origin decodes it to `path` and to nothing else.
//!
//! Refused (reason `bad_uri`, 400), because an origin or a proxy on the way
//! could read them as a different object than the rules saw:
//! - a path that does not start with `/`;
//! - a `%` not followed by two hex digits (origins disagree on what it means);
//! - an escaped `/` (`%2F`): S3 reads it as a separator, most custom origins
//!   as part of a name;
//! - `\`, raw or escaped: Windows-backed origins and some proxies read it as `/`;
//! - NUL and every other control character (C0, DEL, C1), raw or escaped:
//!   C-based origins cut the name at NUL, logs and headers split at CR/LF;
//! - escapes that decode to invalid UTF-8 (overlong forms such as `%C0%AE`
//!   are how `.` and `/` were once smuggled past decoders);
//! - dot segments `.` and `..`, raw or escaped, including the path-parameter
//!   forms `..;x` and `.;x` (Tomcat and Jetty resolve those): S3 keeps them
//!   as names, clients and proxies resolve them;
//! - empty segments (`//`): S3 keeps them (`//a` is the key `/a`), proxies
//!   merge them.
//!
//! A config may let escaped slashes or empty segments through below stated
//! prefixes (`[uri] allow_encoded_slash`, `allow_empty_segments`), for sites
//! whose object names need them; everything else is refused everywhere.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::text::{split_byte, split_once_byte};

/// Why a URI was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriError {
    /// The path does not start with `/`.
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// `%2F` outside a family that allows it.
    EncodedSlash,
    /// `\`, raw or escaped.
    Backslash,
    /// A control character, raw or escaped.
    ControlCharacter,
    /// A segment that does not decode to UTF-8.
    InvalidUtf8,
    /// `.` or `..` (also `..;x`), raw or escaped.
    DotSegment,
    /// `//` outside a family that allows it.
    EmptySegment,
}

/// Path families where a config lets through what is otherwise refused.
/// Each entry is a decoded path prefix (checked clean at config load).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UriPolicy {
    /// Prefixes below which `%2F` is accepted (read as `/`, forwarded as `%2F`).
    pub allow_encoded_slash: Vec<String>,
    /// Prefixes below which empty segments (`//`) are accepted.
    pub allow_empty_segments: Vec<String>,
}

/// A URI the edge accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalUri {
    /// The decoded path: `/` followed by the object key the origin reads.
    pub path: String,
    /// The one spelling of `path` that is forwarded.
    pub encoded: String,
}

/// The canonical form of `raw` (CloudFront's `request.uri`) under `policy`.
pub fn canonicalize(raw: &str, policy: &UriPolicy) -> Result<CanonicalUri, UriError> {
    let Some(rest) = raw.strip_prefix('/') else {
        return Err(UriError::NotAbsolute);
    };
    // The common case, a path already in canonical spelling: one pass over
    // the bytes, one over the segments, and no re-encoding.
    if rest.bytes().all(|b| b == b'/' || is_literal_byte(b)) {
        let mut segments = split_byte::<b'/'>(rest).peekable();
        while let Some(seg) = segments.next() {
            if seg.is_empty() && segments.peek().is_some() {
                if !under_any(raw, &policy.allow_empty_segments) {
                    return Err(UriError::EmptySegment);
                }
            } else if is_dot_segment(seg) {
                return Err(UriError::DotSegment);
            }
        }
        return Ok(CanonicalUri {
            path: raw.to_owned(),
            encoded: raw.to_owned(),
        });
    }
    decode_and_encode(raw, rest, policy)
}

/// The path of `raw` (`rest` is it without its leading `/`) decoded and
/// encoded again, when its spelling is not canonical. Out of line, so that a
/// cold instance whose first request has a canonical path (most do) does not
/// compile it.
#[inline(never)]
fn decode_and_encode(raw: &str, rest: &str, policy: &UriPolicy) -> Result<CanonicalUri, UriError> {
    let mut path = String::with_capacity(raw.len());
    let mut encoded = String::with_capacity(raw.len() + 8);
    let mut encoded_slash = false;
    let mut empty_segment = false;
    let mut segments = rest.split('/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        let decoded = decode_segment(seg)?;
        if decoded.is_empty() && !last {
            empty_segment = true;
        }
        // A segment holding an escaped slash is several names to S3: check each.
        for part in decoded.split('/') {
            if is_dot_segment(part) {
                return Err(UriError::DotSegment);
            }
        }
        if decoded.contains('/') {
            encoded_slash = true;
        }
        path.push('/');
        path.push_str(&decoded);
        encoded.push('/');
        percent_encode_into(&decoded, LITERAL, &mut encoded);
    }
    if encoded_slash && !under_any(&path, &policy.allow_encoded_slash) {
        return Err(UriError::EncodedSlash);
    }
    if empty_segment && !under_any(&path, &policy.allow_empty_segments) {
        return Err(UriError::EmptySegment);
    }
    Ok(CanonicalUri { path, encoded })
}

/// Whether `path` is a clean decoded path: it starts with `/` and holds no
/// empty or dot segment, backslash, control character or `%`. Config prefixes,
/// path-claim entries and substituted claims must be clean, so a claim can
/// never widen what a token opens.
pub fn is_clean_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    if path
        .chars()
        .any(|c| c.is_control() || c == '\\' || c == '%')
    {
        return false;
    }
    let mut segments = split_byte::<b'/'>(rest).peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        if (seg.is_empty() && !last) || is_dot_segment(seg) {
            return false;
        }
    }
    true
}

/// `.` or `..`, also with a path parameter (`..;x`), which Tomcat and Jetty resolve.
fn is_dot_segment(seg: &str) -> bool {
    let name = split_once_byte::<b';'>(seg).map_or(seg, |(name, _)| name);
    name == "." || name == ".."
}

fn under_any(path: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| path.starts_with(p.as_str()))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One raw segment, every escape decoded once; refuses what [`canonicalize`] refuses.
///
/// Hand-written rather than `percent-encoding`'s decoder on purpose: that one
/// passes a malformed escape (`%zz`, a lone `%`) through as text, where the
/// edge must refuse it (origins disagree on what it means).
fn decode_segment(seg: &str) -> Result<String, UriError> {
    let bytes = seg.as_bytes();
    if !bytes.contains(&b'%') {
        check_chars(seg)?;
        return Ok(seg.to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex_value),
                bytes.get(i + 2).copied().and_then(hex_value),
            ) else {
                return Err(UriError::BadEscape);
            };
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).map_err(|_| UriError::InvalidUtf8)?;
    check_chars(&text)?;
    Ok(text)
}

fn check_chars(text: &str) -> Result<(), UriError> {
    for c in text.chars() {
        if c == '\\' {
            return Err(UriError::Backslash);
        }
        if c.is_control() {
            return Err(UriError::ControlCharacter);
        }
    }
    Ok(())
}

/// What a component inside a query keeps literal: RFC 3986 unreserved
/// characters only (`percent-encoding` escapes every other byte, non-ASCII
/// included, in upper-case hex).
pub(crate) const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What the canonical path keeps literal: the unreserved characters and the
/// sub-delimiters no common origin gives a meaning inside a path segment
/// (`+` and `;` are left out on purpose).
const LITERAL: &AsciiSet = &UNRESERVED
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b',')
    .remove(b':')
    .remove(b'=')
    .remove(b'@');

/// The bytes [`LITERAL`] writes as themselves, one bit each (percent-encoding
/// does not say which bytes its sets hold; a test holds this table to the
/// encoder, byte by byte).
const LITERAL_BYTES: u128 = {
    let mut table = 0u128;
    let mut b = 0u8;
    while b < 128 {
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b','
                    | b':'
                    | b'='
                    | b'@'
            )
        {
            table |= 1 << b;
        }
        b += 1;
    }
    table
};

/// Whether [`LITERAL`] writes byte `b` as itself: a segment of such bytes is
/// spelled as encoding would write it.
fn is_literal_byte(b: u8) -> bool {
    // The table as two 64-bit words: wasm32 has no 128-bit shift, and
    // `u128 >> b` was a call (`__lshrti3`) per byte of every URI.
    const WORDS: [u64; 2] = [LITERAL_BYTES as u64, (LITERAL_BYTES >> 64) as u64];
    b < 128 && (WORDS[usize::from(b >> 6)] >> (b & 63)) & 1 == 1
}

/// Appends `text` to `out`, every byte in `escape` (and every non-ASCII
/// byte) escaped with upper-case hex.
pub(crate) fn percent_encode_into(text: &str, escape: &'static AsciiSet, out: &mut String) {
    out.extend(utf8_percent_encode(text, escape));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_bytes_are_those_encoding_leaves_alone() {
        // Every ASCII byte, against what the encoder writes for it; the
        // bytes of a non-ASCII character are always escaped.
        let mut kept = 0;
        for b in 0u8..0x80 {
            let text = char::from(b).to_string();
            let same = utf8_percent_encode(&text, LITERAL).to_string() == text;
            assert_eq!(is_literal_byte(b), same, "byte {b:#04x}");
            kept += usize::from(same);
        }
        // Letters, digits, `-._~` and the eleven sub-delimiters kept above.
        assert_eq!(kept, 26 * 2 + 10 + 4 + 11);
        for c in ['é', '€', '😀'] {
            assert!(c.to_string().bytes().all(|b| !is_literal_byte(b)));
        }
    }

    fn canon(raw: &str) -> Result<(String, String), UriError> {
        canonicalize(raw, &UriPolicy::default()).map(|c| (c.path, c.encoded))
    }

    #[test]
    fn escapes_of_unreserved_characters_are_decoded() {
        let want = Ok((
            "/private/bob/secret.txt".to_owned(),
            "/private/bob/secret.txt".to_owned(),
        ));
        assert_eq!(canon("/%70rivate/bob/secret.txt"), want);
        assert_eq!(canon("/%70%72%69%76%61%74%65/bob/secret%2etxt"), want);
        assert_eq!(canon("/private/b%6Fb/secret.txt"), want);
        assert_eq!(canon("/private/b%6fb/secret.txt"), want);
    }

    #[test]
    fn reserved_and_other_bytes_get_one_spelling() {
        assert_eq!(
            canon("/a b/%7e/x%2bY+z/c%3bd;e/%C3%A9/é"),
            Ok((
                "/a b/~/x+Y+z/c;d;e/é/é".to_owned(),
                "/a%20b/~/x%2BY%2Bz/c%3Bd%3Be/%C3%A9/%C3%A9".to_owned()
            ))
        );
        assert_eq!(
            canon("/%25%37%30rivate"),
            Ok(("/%70rivate".to_owned(), "/%2570rivate".to_owned())),
            "decoded once, never twice"
        );
        assert_eq!(canon("/"), Ok(("/".to_owned(), "/".to_owned())));
        assert_eq!(canon("/dir/"), Ok(("/dir/".to_owned(), "/dir/".to_owned())));
    }

    #[test]
    fn ambiguous_spellings_are_refused() {
        for (raw, why) in [
            ("private/x", UriError::NotAbsolute),
            ("", UriError::NotAbsolute),
            ("/private%2Fbob/x", UriError::EncodedSlash),
            ("/private%2fbob/x", UriError::EncodedSlash),
            ("//private/bob/x", UriError::EmptySegment),
            ("/private//bob", UriError::EmptySegment),
            ("/a\\b", UriError::Backslash),
            ("/a%5cb", UriError::Backslash),
            ("/a%00b", UriError::ControlCharacter),
            ("/a%0d%0ab", UriError::ControlCharacter),
            ("/a%7Fb", UriError::ControlCharacter),
            ("/a%C2%85b", UriError::ControlCharacter),
            ("/a\tb", UriError::ControlCharacter),
            ("/a%zz", UriError::BadEscape),
            ("/a%4", UriError::BadEscape),
            ("/a%", UriError::BadEscape),
            ("/%C0%AE%C0%AE/x", UriError::InvalidUtf8),
            ("/%FF", UriError::InvalidUtf8),
            ("/public/../private/x", UriError::DotSegment),
            ("/public/./x", UriError::DotSegment),
            ("/public/%2e%2E/private", UriError::DotSegment),
            ("/public/.%2e/private", UriError::DotSegment),
            ("/public/..;/private", UriError::DotSegment),
            ("/public/.;x/a", UriError::DotSegment),
            ("/x/..", UriError::DotSegment),
        ] {
            assert_eq!(canon(raw), Err(why), "{raw:?}");
        }
        // Names that merely contain dots are fine.
        assert!(canon("/a/..b/.c/...").is_ok());
    }

    #[test]
    fn families_opt_in_to_slashes_and_empty_segments() {
        let policy = UriPolicy {
            allow_encoded_slash: vec!["/wiki/".into()],
            allow_empty_segments: vec!["/legacy/".into()],
        };
        let c = canonicalize("/wiki/AC%2fDC", &policy).unwrap();
        assert_eq!(c.path, "/wiki/AC/DC");
        assert_eq!(c.encoded, "/wiki/AC%2FDC");
        assert_eq!(
            canonicalize("/wiki/%2e%2e%2f..%2fprivate", &policy),
            Err(UriError::DotSegment)
        );
        assert_eq!(
            canonicalize("/wiki%2fx", &policy).map(|c| c.path),
            Ok("/wiki/x".to_owned())
        );
        assert_eq!(
            canonicalize("/other/AC%2FDC", &policy),
            Err(UriError::EncodedSlash)
        );
        assert!(canonicalize("/legacy//x", &policy).is_ok());
        assert_eq!(
            canonicalize("//legacy/x", &policy),
            Err(UriError::EmptySegment)
        );
    }

    #[test]
    fn clean_paths() {
        for ok in ["/", "/a/", "/private/alice/", "/a b/c"] {
            assert!(is_clean_path(ok), "{ok}");
        }
        for bad in [
            "", "a/", "//a", "/a//b", "/a/../b", "/a/./b", "/a/%2e", "/a\\b", "/a\n", "/..;x/",
        ] {
            assert!(!is_clean_path(bad), "{bad:?}");
        }
    }
}
