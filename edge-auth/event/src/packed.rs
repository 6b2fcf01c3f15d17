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
//! answers 503, as it does every event whose shape it does not recognise.
//! The reference is the native reading of the JSON event, `parse_request`:
//! whatever is packed must read the same (the tests below, and the bundle
//! replay against `edge-auth decide`).
//!
//! Every name reads the same values, in the same order, as through
//! [`parse_request`](crate::parse_request) (names lowercased, ASCII): when
//! every name is spelled in lowercase (as CloudFront spells them) the names
//! are distinct keys of the event and their order does not matter; otherwise
//! they are sorted by the name as spelled, as `parse_request`'s `BTreeMap` has
//! them, so values of `User-Agent` come before those of `user-agent`. `key`
//! (the original spelling) is not carried: no decision reads it.

use edge_auth_core::{CfRequest, Header};

/// The field separator.
pub const SEP: char = '\0';

/// Fields before the headers.
const FIXED: usize = 5;

/// The request and request id packed in `packed`, or `None` when it is not
/// exactly `fields` fields of the form above (the caller then decides on the
/// JSON event instead).
pub fn parse_packed(packed: &str, fields: usize) -> Option<(CfRequest, Option<String>)> {
    let mut request = CfRequest::default();
    let mut id = None;
    parse_packed_into(packed, fields, &mut request, &mut id).then_some((request, id))
}

/// [`parse_packed`] into a request and id kept from the last call, reusing
/// their strings' memory (the wasm adapter's per-request path allocates
/// nothing once warm). On `false` their contents are unspecified.
pub fn parse_packed_into(
    packed: &str,
    fields: usize,
    request: &mut CfRequest,
    request_id: &mut Option<String>,
) -> bool {
    if fields < FIXED || !(fields - FIXED).is_multiple_of(2) {
        return false;
    }
    let mut parts = edge_auth_core::text::split_byte::<{ SEP as u8 }>(packed);
    let (Some(uri), Some(method), Some(client_ip), Some(querystring), Some(id)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    if !uri.starts_with('/') {
        return false;
    }
    match id {
        "" => *request_id = None,
        _ => match id.strip_prefix('=') {
            Some(id) => set(request_id.get_or_insert_with(String::new), id),
            None => return false,
        },
    }
    set(&mut request.uri, uri);
    set(&mut request.method, method);
    set(&mut request.client_ip, client_ip);
    set(&mut request.querystring, querystring);
    let pairs = (fields - FIXED) / 2;
    let headers = &mut request.headers;
    headers.truncate(pairs);
    let mut sorted = true;
    for i in 0..pairs {
        let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
            return false;
        };
        if i == headers.len() {
            headers.push(Header {
                name: String::new(),
                key: None,
                value: String::new(),
            });
        }
        let h = &mut headers[i];
        // The name as spelled for now (the sort below is by spelling).
        set(&mut h.name, name);
        h.key = None;
        set(&mut h.value, value);
        sorted &= i == 0 || headers[i - 1].name <= headers[i].name;
    }
    if parts.next().is_some() {
        return false;
    }
    // Only the order among values of one lowercased name can change what the
    // core reads, and names spelled in lowercase (CloudFront's spelling) are
    // distinct keys of the event: then any order reads the same. Otherwise
    // `BTreeMap` order by the spelled name, as `parse_request` has it; a stable
    // sort keeps each name's values in order (the shim writes them together).
    let spelled_lower = headers
        .iter()
        .all(|h| !h.name.bytes().any(|b| b.is_ascii_uppercase()));
    if !sorted && !spelled_lower {
        sort_by_name(headers);
    }
    if !spelled_lower {
        for h in headers.iter_mut() {
            h.name.make_ascii_lowercase();
        }
    }
    true
}

/// A stable insertion sort by the name as spelled. Only an event whose names
/// are not all lowercase gets here, and CloudFront spells every name in
/// lowercase: a test's or a replay's handful of headers. Written out rather
/// than `sort_by`, which would put a stable sort routine for this one rare
/// path into the wasm (about 8 KB).
fn sort_by_name(headers: &mut [Header]) {
    for i in 1..headers.len() {
        let mut j = i;
        while j > 0 && headers[j - 1].name > headers[j].name {
            headers.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// `to` becomes `from`, in the memory `to` already has.
fn set(to: &mut String, from: &str) {
    to.clear();
    to.push_str(from);
}

/// What the shim writes for `event` (a JSON event), and its field count; or
/// `None` where the shim would answer 503 unread. The Rust twin of the
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

    /// The request as the core reads it: keys dropped, names in order
    /// (a stable sort: each name's values keep theirs).
    fn without_keys(mut r: CfRequest) -> CfRequest {
        for h in &mut r.headers {
            h.key = None;
        }
        r.headers.sort_by(|a, b| a.name.cmp(&b.name));
        r
    }

    #[test]
    fn packed_fixtures_read_as_the_json_path_reads_them() {
        let (mut packed, mut fallback) = (0, 0);
        for (path, text) in crate::tests::fixture_events() {
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            let json = parse_request(&text);
            match pack_event(&value) {
                Some((p, n)) => {
                    let (fast, fast_id) = parse_packed(&p, n).expect("a packed fixture reads back");
                    let (r, id) = json.expect("what packs, parses");
                    assert_eq!(
                        (without_keys(fast), fast_id),
                        (without_keys(r), id),
                        "{}",
                        path.display()
                    );
                    packed += 1;
                }
                None => fallback += 1,
            }
        }
        assert!(packed >= 30, "{packed} fixtures packed");
        assert!(fallback >= 1, "the not-an-event fixture is not packed");
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
    fn lowercase_names_in_any_order_read_as_the_json_path_reads_them() {
        // The shim's order (the event's), not sorted: every name still reads
        // the values `parse_request` gives it, in order.
        let packed =
            "/p\0GET\x001.2.3.4\0\0\0user-agent\0ua\0cookie\0a=1\0cookie\0b=2\0accept\0*/*";
        let (fast, _) = parse_packed(packed, 13).unwrap();
        let text = r#"{"Records":[{"cf":{"request":{"uri":"/p","method":"GET","clientIp":"1.2.3.4","headers":{"user-agent":[{"value":"ua"}],"cookie":[{"value":"a=1"},{"value":"b=2"}],"accept":[{"value":"*/*"}]}}}}]}"#;
        let (json, _) = parse_request(text).unwrap();
        for name in ["user-agent", "cookie", "accept", "host"] {
            assert_eq!(
                fast.covered_header_values(name).collect::<Vec<_>>(),
                json.covered_header_values(name).collect::<Vec<_>>(),
                "{name}"
            );
        }
        assert_eq!(without_keys(fast), without_keys(json));
    }

    #[test]
    fn names_spelled_with_capitals_are_read_in_lowercase() {
        // Every name capitalised (a hand-made event, not CloudFront's spelling).
        let (r, _) =
            parse_packed("/p\0GET\x001.2.3.4\0\0\0User-Agent\0ua\0Cookie\0a=1", 9).unwrap();
        assert_eq!(r.header("user-agent"), Some("ua"));
        assert_eq!(r.header("cookie"), Some("a=1"));
        let json = r#"{"Records":[{"cf":{"request":{"uri":"/p","method":"GET","clientIp":"1.2.3.4","headers":{"User-Agent":[{"value":"ua"}],"Cookie":[{"value":"a=1"}]}}}}]}"#;
        assert_eq!(
            without_keys(r),
            without_keys(parse_request(json).unwrap().0)
        );
    }

    #[test]
    fn a_reused_request_holds_nothing_of_the_last_one() {
        let mut r = CfRequest::default();
        let mut id = None;
        let long = "/p\0GET\x001.2.3.4\0q=1\0=r1\0b\0two\0a\0one\0C\0three";
        assert!(parse_packed_into(long, 11, &mut r, &mut id));
        let names: Vec<&str> = r.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            ["c", "a", "b"],
            "sorted by spelling, then lowercased"
        );
        let short = "/q\0HEAD\x005.6.7.8\0\0\0x\0y";
        assert!(parse_packed_into(short, 7, &mut r, &mut id));
        assert_eq!((r, id), parse_packed(short, 7).unwrap());
    }

    #[test]
    fn order_case_and_request_id_follow_the_json_path() {
        let text = r#"{"Records":[{"cf":{"config":{"requestId":"r1"},"request":{"uri":"/x","method":"GET","clientIp":"1.2.3.4","headers":{"user-agent":[{"value":"b"}],"User-Agent":[{"value":"a"},{"value":"c"}],"accept":[{"value":"d"}]}}}}]}"#;
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        let (p, n) = pack_event(&value).unwrap();
        let fast = parse_packed(&p, n).unwrap();
        let (r, id) = parse_request(text).unwrap();
        assert_eq!(
            (without_keys(fast.0.clone()), fast.1.clone()),
            (without_keys(r), id)
        );
        let ua: Vec<&str> = fast.0.covered_header_values("user-agent").collect();
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

    /// Names spelled in mixed case, their groups packed in every order (120):
    /// each reads exactly as `parse_request` reads the same headers (values
    /// of one lowercased name in the order of the names as spelled, then as
    /// given). All orders but one are out of order, so the sort runs.
    #[test]
    fn mixed_case_names_in_every_order_read_as_parse_request_reads_them() {
        let groups: [(&str, &[&str]); 5] = [
            ("User-Agent", &["a", "c"]),
            ("user-agent", &["b"]),
            ("USER-AGENT", &["d"]),
            ("cookie", &["e"]),
            ("Cookie", &["f", "g"]),
        ];
        let json_headers: Vec<String> = groups
            .iter()
            .map(|(n, vs)| {
                let items: Vec<String> =
                    vs.iter().map(|v| format!(r#"{{"value":"{v}"}}"#)).collect();
                format!(r#""{n}":[{}]"#, items.join(","))
            })
            .collect();
        let text = format!(
            r#"{{"Records":[{{"cf":{{"request":{{"uri":"/x","method":"GET","clientIp":"1.2.3.4","headers":{{{}}}}}}}}}]}}"#,
            json_headers.join(",")
        );
        let (reference, _) = parse_request(&text).unwrap();
        let reference = without_keys(reference);
        let (mut orders, mut sorted_ones) = (0, 0);
        let mut order: Vec<usize> = (0..groups.len()).collect();
        let mut check = |order: &[usize]| {
            let mut fields = vec!["/x", "GET", "1.2.3.4", "", ""];
            for &g in order {
                for v in groups[g].1 {
                    fields.push(groups[g].0);
                    fields.push(v);
                }
            }
            let names: Vec<&str> = order.iter().map(|&g| groups[g].0).collect();
            sorted_ones += usize::from(names.windows(2).all(|w| w[0] <= w[1]));
            let (fast, _) = parse_packed(&fields.join("\0"), fields.len()).unwrap();
            assert_eq!(without_keys(fast), reference, "{names:?}");
            orders += 1;
        };
        // Heap's algorithm: every permutation of the groups' order.
        let mut c = vec![0; order.len()];
        check(&order);
        let mut i = 0;
        while i < order.len() {
            if c[i] < i {
                order.swap(if i % 2 == 0 { 0 } else { c[i] }, i);
                check(&order);
                c[i] += 1;
                i = 0;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
        assert_eq!((orders, sorted_ones), (120, 1));
    }
}
