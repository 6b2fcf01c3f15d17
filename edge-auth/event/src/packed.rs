//! The per-request fast path's wire format: the few fields of a viewer
//! request, packed by the Node shim into one string, so the event is neither
//! serialized to JSON nor parsed again (issue #17).
//!
//! The shim writes, separated by NUL (`\0`): the URI, the method, the client
//! IP, the query string, the request id (`=` then the id, or empty when the
//! event has none), then for every header value its name as the event spells
//! it and the value: `uri\0method\0ip\0qs\0=id\0name\0value\0name\0value...`.
//! It also passes how many fields it wrote. A value holding a NUL adds
//! fields, so a count that does not match is refused ([`None`]) and the shim
//! takes the JSON path, which decides on the whole event; so does every event
//! whose shape the shim does not recognise (the JSON path is the reference:
//! `parse_request` on `JSON.stringify(event)`).
//!
//! Headers come back in [`parse_request`](crate::parse_request)'s order:
//! sorted by the name as spelled (its map is a `BTreeMap`), each name's values
//! in order, names lowercased (ASCII) after sorting. `key` (the original
//! spelling) is not carried: no decision reads it.

use edge_auth_core::{CfRequest, Header};

/// The field separator.
pub const SEP: char = '\0';

/// Fields before the headers.
const FIXED: usize = 5;

/// The request and request id packed in `packed`, or `None` when it is not
/// exactly `fields` fields of the form above (the caller then decides on the
/// JSON event instead).
pub fn parse_packed(packed: &str, fields: usize) -> Option<(CfRequest, Option<String>)> {
    if fields < FIXED || !(fields - FIXED).is_multiple_of(2) {
        return None;
    }
    let mut parts = packed.split(SEP);
    let mut next = || parts.next();
    let uri = next()?;
    let method = next()?;
    let client_ip = next()?;
    let querystring = next()?;
    let id = next()?;
    if !uri.starts_with('/') {
        return None;
    }
    let request_id = match id {
        "" => None,
        _ => Some(id.strip_prefix('=')?.to_owned()),
    };
    let pairs = (fields - FIXED) / 2;
    let mut raw: Vec<(&str, &str)> = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        raw.push((next()?, next()?));
    }
    if next().is_some() {
        return None;
    }
    // `BTreeMap` order by the spelled name; a stable sort keeps each name's
    // values in order (the shim writes one name's values together).
    if !raw.is_sorted_by(|a, b| a.0 <= b.0) {
        raw.sort_by(|a, b| a.0.cmp(b.0));
    }
    let headers = raw
        .into_iter()
        .map(|(name, value)| Header {
            name: name.to_ascii_lowercase(),
            key: None,
            value: value.to_owned(),
        })
        .collect();
    Some((
        CfRequest {
            client_ip: client_ip.to_owned(),
            method: method.to_owned(),
            uri: uri.to_owned(),
            querystring: querystring.to_owned(),
            headers,
        },
        request_id,
    ))
}

/// What the shim writes for `event` (a JSON event), and its field count; or
/// `None` where the shim would take the JSON path. The Rust twin of the
/// shim's `pack`, for tests that hold the two formats to one another (the
/// bundle replay holds the shim itself to the native core).
pub fn pack_event(event: &serde_json::Value) -> Option<(String, usize)> {
    let records = event.get("Records")?.as_array()?;
    let [record] = records.as_slice() else {
        return None;
    };
    let cf = record.get("cf")?;
    let config = cf.get("config");
    if let Some(t) = config.and_then(|c| c.get("eventType"))
        && t.is_string()
        && t != "viewer-request"
    {
        return None;
    }
    let request = cf.get("request")?.as_object()?;
    let string = |name: &str| request.get(name)?.as_str();
    let mut out = vec![
        string("uri")?.to_owned(),
        string("method")?.to_owned(),
        string("clientIp")?.to_owned(),
        match request.get("querystring") {
            None => String::new(),
            Some(q) => q.as_str()?.to_owned(),
        },
        match config
            .and_then(|c| c.get("requestId"))
            .and_then(|i| i.as_str())
        {
            Some(id) => format!("={id}"),
            None => String::new(),
        },
    ];
    match request.get("headers") {
        None => {}
        Some(serde_json::Value::Object(map)) => {
            for (name, list) in map {
                for item in list.as_array()? {
                    out.push(name.clone());
                    out.push(item.as_object()?.get("value")?.as_str()?.to_owned());
                }
            }
        }
        Some(_) => return None,
    }
    let fields = out.len();
    Some((out.join("\0"), fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_request;

    fn without_keys(mut r: CfRequest) -> CfRequest {
        for h in &mut r.headers {
            h.key = None;
        }
        r
    }

    #[test]
    fn packed_fixtures_read_as_the_json_path_reads_them() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/viewer-request"
        );
        let (mut packed, mut fallback) = (0, 0);
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.to_string_lossy().ends_with(".decision.json")
                || path.extension().is_none_or(|e| e != "json")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            let json = parse_request(&text);
            match pack_event(&value) {
                Some((p, n)) => {
                    let fast = parse_packed(&p, n).expect("a packed fixture reads back");
                    let (r, id) = json.expect("what packs, parses");
                    assert_eq!(fast, (without_keys(r), id), "{}", path.display());
                    packed += 1;
                }
                None => fallback += 1,
            }
        }
        assert!(packed >= 30, "{packed} fixtures packed");
        assert!(
            fallback >= 1,
            "the not-an-event fixture takes the JSON path"
        );
    }

    #[test]
    fn a_nul_in_a_value_cannot_forge_a_header() {
        // A user-agent carrying "\0authorization\0Bearer x": three fields
        // more than the shim counted, so the packed form is refused.
        let forged = "/p\0GET\x001.2.3.4\0\0\0user-agent\0ua\0authorization\0Bearer x";
        assert!(parse_packed(forged, 7).is_none());
        assert!(parse_packed(forged, 9).is_some());
        assert!(parse_packed("/p\0GET\x001.2.3.4\0\0", 5).is_some());
        assert!(parse_packed("/p\0GET\x001.2.3.4\0\0", 6).is_none());
        assert!(parse_packed("/p\0GET\x001.2.3.4\0", 5).is_none());
        assert!(parse_packed("/p\0GET\x001.2.3.4\0\0\0h", 6).is_none());
    }

    #[test]
    fn order_case_and_request_id_follow_the_json_path() {
        let text = r#"{"Records":[{"cf":{"config":{"requestId":"r1"},"request":{"uri":"/x","method":"GET","clientIp":"1.2.3.4","headers":{"user-agent":[{"value":"b"}],"User-Agent":[{"value":"a"},{"value":"c"}],"accept":[{"value":"d"}]}}}}]}"#;
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        let (p, n) = pack_event(&value).unwrap();
        let fast = parse_packed(&p, n).unwrap();
        let (r, id) = parse_request(text).unwrap();
        assert_eq!(fast, (without_keys(r), id));
        let ua: Vec<&str> = fast.0.header_values("user-agent").collect();
        assert_eq!(ua, ["a", "c", "b"], "sorted by spelled name: 'U' < 'u'");
        assert_eq!(fast.1.as_deref(), Some("r1"));
        // No request id, an empty one, and one that is not marked.
        assert_eq!(parse_packed("/x\0GET\0ip\0\0", 5).unwrap().1, None);
        assert_eq!(
            parse_packed("/x\0GET\0ip\0\0=", 5).unwrap().1.as_deref(),
            Some("")
        );
        assert!(parse_packed("/x\0GET\0ip\0\0r1", 5).is_none());
        assert!(
            parse_packed("x\0GET\0ip\0\0", 5).is_none(),
            "a URI starts with '/'"
        );
    }
}
