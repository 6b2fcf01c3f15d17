//! A strict JSON value for token headers and claims: duplicate member names
//! (at any depth) and a leading byte-order mark are errors, as RFC 7515/7519
//! and I-JSON ask; plain serde_json would keep the last duplicate silently.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

/// A JSON value whose objects have unique member names.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// Any number, as f64 (NumericDate may have a fraction).
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, members in document order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses `bytes` strictly: no BOM, no duplicate member names, nothing after the value.
    pub fn parse(bytes: &[u8]) -> Result<Json, String> {
        if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
            return Err("byte-order mark".into());
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = Json::deserialize(&mut de).map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())?;
        Ok(value)
    }

    /// Member `name` of an object.
    pub fn get(&self, name: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is a finite one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) if n.is_finite() => Some(*n),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Number(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Json::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out: Vec<(String, Json)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.iter().any(|(k, _)| *k == key) {
                // The name itself stays out: it comes from a token, and an error
                // message may be logged.
                return Err(de::Error::custom("duplicate member name"));
            }
            let value = map.next_value()?;
            out.push((key, value));
        }
        Ok(Json::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_at_any_depth() {
        assert!(Json::parse(br#"{"a":1,"a":2}"#).is_err());
        assert!(Json::parse(br#"{"x":{"b":1,"b":1}}"#).is_err());
        assert!(Json::parse(br#"{"a":1,"b":[{"c":1}]}"#).is_ok());
    }

    #[test]
    fn bom_and_trailing_data_are_refused() {
        assert!(Json::parse(b"\xEF\xBB\xBF{}").is_err());
        assert!(Json::parse(b"{} x").is_err());
        assert_eq!(
            Json::parse(b" {\"a\":\"b\"} ")
                .unwrap()
                .get("a")
                .and_then(Json::as_str),
            Some("b")
        );
    }
}
