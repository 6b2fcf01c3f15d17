//! The viewer request as the core sees it: plain data converted from the
//! CloudFront event by an adapter, plus the small parsers the decision needs
//! (headers, cookies, query string, client address key).

use crate::text::{split_byte, split_once_byte};

/// One header value. CloudFront gives each lowercase header name a list of
/// `{key, value}`; the adapter flattens it into one entry per value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Lowercase header name.
    pub name: String,
    /// The original spelling (CloudFront's `key`), when given.
    pub key: Option<String>,
    /// The value.
    pub value: String,
}

/// A CloudFront viewer request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CfRequest {
    /// The viewer's IP address as CloudFront reports it.
    pub client_ip: String,
    /// HTTP method.
    pub method: String,
    /// Path, starting with `/`, still percent-encoded.
    pub uri: String,
    /// Query string without the `?`, still encoded.
    pub querystring: String,
    /// Header values in order.
    pub headers: Vec<Header>,
}

/// Every header the decision reads by name, besides the ones a Web Bot Auth
/// signature covers (read only when the request has a `signature-input`,
/// through [`CfRequest::covered_header_values`]). The Node shim hands the
/// core these headers and no others, unless the request carries a
/// `signature-input`: then every header. Reading a header not listed here
/// panics in debug builds (every test), so the list cannot fall behind.
pub const READ_HEADERS: &[&str] = &[
    "user-agent",
    "authorization",
    "cookie",
    "access-control-request-method",
    "accept",
    "origin",
    "signature",
    "signature-input",
    "signature-agent",
];

impl CfRequest {
    /// Every value of header `name` (lowercase; one of [`READ_HEADERS`]).
    pub fn header_values<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        debug_assert!(
            READ_HEADERS.contains(&name),
            "the core reads header {name:?}: add it to READ_HEADERS (the shim passes only those)"
        );
        self.covered_header_values(name)
    }

    /// Every value of header `name`, any name: for the components a Web Bot
    /// Auth signature covers (the shim passes every header when a request
    /// carries a `signature-input`).
    pub fn covered_header_values<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .map(|h| h.value.as_str())
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).next()
    }

    /// Every cookie named `name`, over all Cookie headers (browsers and
    /// CloudFront may split cookies over several).
    pub fn cookies<'a>(&'a self, name: &str) -> Vec<&'a str> {
        self.header_values("cookie")
            .flat_map(split_byte::<b';'>)
            .filter_map(|pair| {
                let (k, v) = split_once_byte::<b'='>(pair)?;
                (k.trim() == name).then(|| v.trim().trim_matches('"'))
            })
            .collect()
    }
}

/// The query string split into raw `name=value` parameters, in order
/// (lazily: nothing allocated).
pub fn query_params(querystring: &str) -> impl Iterator<Item = (&str, &str)> {
    split_byte::<b'&'>(querystring)
        .filter(|p| !p.is_empty())
        .map(|p| split_once_byte::<b'='>(p).unwrap_or((p, "")))
}

/// `querystring` without every parameter named `name` (order kept).
pub fn remove_query_param(querystring: &str, name: &str) -> String {
    split_byte::<b'&'>(querystring)
        .filter(|p| !p.is_empty() && split_once_byte::<b'='>(p).map_or(*p, |(k, _)| k) != name)
        .collect::<Vec<_>>()
        .join("&")
}

/// A client as the rate limiter keys it: an address as 128 bits (IPv4 as
/// its IPv4-mapped IPv6 form), no string built per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey(u128);

impl From<u128> for ClientKey {
    fn from(bits: u128) -> ClientKey {
        ClientKey(bits)
    }
}

/// The rate-limit key for a client address: the IPv4 address, or the /64
/// prefix of an IPv6 address (one subscriber usually holds a whole /64).
/// Anything unparsable (`None`; CloudFront never sends one) shares one key,
/// which no address has (a /64 key's low 64 bits are zero, an IPv4 key's top
/// 80 are). It takes the address parsed, so a decision parses it once.
pub fn client_key(ip: Option<std::net::IpAddr>) -> ClientKey {
    match ip {
        // An IPv4-mapped address is already the IPv4 key.
        Some(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_some() => {
            ClientKey(u128::from(v6))
        }
        Some(std::net::IpAddr::V6(v6)) => ClientKey(u128::from(v6) & !u128::from(u64::MAX)),
        Some(std::net::IpAddr::V4(v4)) => ClientKey(u128::from(v4.to_ipv6_mapped())),
        None => ClientKey(u128::MAX),
    }
}

/// The client address for logs: IPv4 with the last octet zeroed, IPv6 cut to
/// /48. Never the full address.
pub fn redact_ip(client_ip: &str) -> String {
    match client_ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        Err(_) => "invalid".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)]) -> CfRequest {
        CfRequest {
            headers: headers
                .iter()
                .map(|(n, v)| Header {
                    name: (*n).into(),
                    key: None,
                    value: (*v).into(),
                })
                .collect(),
            ..CfRequest::default()
        }
    }

    #[test]
    fn cookies_across_headers() {
        let r = req(&[
            ("cookie", "a=1; session=x"),
            ("cookie", "access_token=tok; b=2"),
        ]);
        assert_eq!(r.cookies("access_token"), vec!["tok"]);
        assert_eq!(r.cookies("session"), vec!["x"]);
        assert!(r.cookies("missing").is_empty());
    }

    #[test]
    fn query_removal_keeps_others() {
        assert_eq!(
            remove_query_param("a=1&token=x&b=2&token=y", "token"),
            "a=1&b=2"
        );
        assert_eq!(remove_query_param("token=x", "token"), "");
        assert_eq!(remove_query_param("tokenx=1", "token"), "tokenx=1");
        assert_eq!(
            query_params("a=1&&b").collect::<Vec<_>>(),
            vec![("a", "1"), ("b", "")]
        );
        // Whether a name is there, as `forward` asks it.
        for (qs, name, there) in [
            ("a=1&&b", "b", true),
            ("a=1&&b", "a", true),
            ("a=1&&b", "", false),
            ("", "", false),
            ("b=", "b", true),
            ("=x", "", true),
            ("ab=1", "a", false),
            ("&", "", false),
        ] {
            assert_eq!(
                query_params(qs).any(|(k, _)| k == name),
                there,
                "{qs:?} {name:?}"
            );
        }
    }

    #[test]
    fn ipv6_keys_by_64_and_logs_redact() {
        let client_key = |ip: &str| client_key(ip.parse().ok());
        assert_eq!(
            client_key("2001:db8:1:2:3:4:5:6"),
            client_key("2001:db8:1:2::")
        );
        assert_eq!(
            client_key("2001:db8:1:2:ffff::1"),
            client_key("2001:db8:1:2::9")
        );
        assert_ne!(client_key("2001:db8:1:2::9"), client_key("2001:db8:1:3::9"));
        assert_eq!(client_key("203.0.113.9"), client_key("::ffff:203.0.113.9"));
        assert_ne!(client_key("203.0.113.9"), client_key("203.0.113.10"));
        assert_ne!(client_key("203.0.113.9"), client_key("::"));
        assert_eq!(client_key("nonsense"), client_key("also nonsense"));
        for ip in [
            "203.0.113.9",
            "::",
            "2001:db8::1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            assert_ne!(client_key(ip), client_key("nonsense"), "{ip}");
        }
        assert_eq!(redact_ip("203.0.113.9"), "203.0.113.0/24");
        assert_eq!(redact_ip("2001:db8:1:2::9"), "2001:db8:1::/48");
        assert_eq!(redact_ip("nonsense"), "invalid");
    }
}
