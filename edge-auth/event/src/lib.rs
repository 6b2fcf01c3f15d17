//! The CloudFront Lambda@Edge wire format, shared by every adapter (the
//! native CLI and the wasm build): parse a viewer-request event into the
//! core's [`CfRequest`], render an [`Outcome`] as exactly what the handler
//! returns, and build the JSON log record of a decision.
//!
//! Architecture invariant: the only crate that knows CloudFront's JSON shapes.
//! Log records never contain a token, a cookie, a query string or a full client IP.

use edge_auth_core::request::redact_ip;
use edge_auth_core::{CfRequest, Decision, Header, Outcome, Response};
use serde_json::{Value, json};

pub mod ledger;
pub mod packed;

pub use ledger::Ledger;
pub use packed::{pack_event, parse_packed};

/// Why an event could not be read. The handler answers 503 (fail closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// Not JSON.
    #[error("event is not JSON: {0}")]
    Json(String),
    /// JSON, but not a viewer-request event.
    #[error("not a CloudFront viewer-request event: {0}")]
    Shape(String),
}

/// A parsed event: the core's view plus the original request object, which is
/// what gets forwarded (with at most the query string changed).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEvent {
    /// The request for the core.
    pub request: CfRequest,
    /// `Records[0].cf.request` as received.
    pub raw_request: Value,
    /// `Records[0].cf.config.requestId`, for logs.
    pub request_id: Option<String>,
}

mod dto {
    //! Typed, borrowing views of the event for the per-request fast path.
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Event<'a> {
        #[serde(rename = "Records", borrow)]
        pub records: Vec<Record<'a>>,
    }
    #[derive(Deserialize)]
    pub struct Record<'a> {
        #[serde(borrow)]
        pub cf: Cf<'a>,
    }
    #[derive(Deserialize)]
    pub struct Cf<'a> {
        #[serde(default, borrow)]
        pub config: Option<Config<'a>>,
        #[serde(borrow)]
        pub request: Request<'a>,
    }
    #[derive(Deserialize)]
    pub struct Config<'a> {
        #[serde(rename = "requestId", default, borrow)]
        pub request_id: Option<Cow<'a, str>>,
        #[serde(rename = "eventType", default, borrow)]
        pub event_type: Option<Cow<'a, str>>,
    }
    #[derive(Deserialize)]
    pub struct Request<'a> {
        #[serde(rename = "clientIp", borrow)]
        pub client_ip: Cow<'a, str>,
        #[serde(borrow)]
        pub method: Cow<'a, str>,
        #[serde(borrow)]
        pub uri: Cow<'a, str>,
        #[serde(default, borrow)]
        pub querystring: Cow<'a, str>,
        #[serde(default, borrow)]
        pub headers: BTreeMap<Cow<'a, str>, Vec<Header<'a>>>,
    }
    #[derive(Deserialize)]
    pub struct Header<'a> {
        #[serde(default, borrow)]
        pub key: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub value: Cow<'a, str>,
    }
}

/// The request of an event and its request id, without keeping the raw JSON:
/// the per-request path of the wasm adapter. Same result as [`parse_event`]
/// (a typed parse first; anything unusual goes through [`parse_event`]).
pub fn parse_request(text: &str) -> Result<(CfRequest, Option<String>), EventError> {
    if !may_escape_a_surrogate(text)
        && let Ok(event) = serde_json::from_str::<dto::Event<'_>>(text)
        && let [record] = event.records.as_slice()
        && record.cf.request.uri.starts_with('/')
        && record
            .cf
            .config
            .as_ref()
            .and_then(|c| c.event_type.as_deref())
            .is_none_or(|t| t == "viewer-request")
    {
        let r = &record.cf.request;
        let mut headers = Vec::new();
        for (name, list) in &r.headers {
            for h in list {
                headers.push(Header {
                    name: name.to_ascii_lowercase(),
                    key: h.key.as_ref().map(|k| k.to_string()),
                    value: h.value.to_string(),
                });
            }
        }
        let request = CfRequest {
            client_ip: r.client_ip.to_string(),
            method: r.method.to_string(),
            uri: r.uri.to_string(),
            querystring: r.querystring.to_string(),
            headers,
        };
        let request_id = record
            .cf
            .config
            .as_ref()
            .and_then(|c| c.request_id.as_ref())
            .map(|id| id.to_string());
        return Ok((request, request_id));
    }
    parse_event(text).map(|e| (e.request, e.request_id))
}

/// Whether `text` may hold a `\u` escape of a UTF-16 surrogate. The typed
/// parse skips the fields it does not read without decoding their strings, so
/// a lone surrogate there would pass it, where [`parse_event`] (and any strict
/// JSON reader) refuses the event: such a text goes the full way. CloudFront
/// writes events in UTF-8 and escapes no surrogate, so this costs nothing in
/// practice; an escaped backslash before `ud8..` only sends a text the full
/// way too.
fn may_escape_a_surrogate(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(4).any(|w| {
        w[0] == b'\\'
            && w[1] == b'u'
            && w[2] | 0x20 == b'd'
            && matches!(w[3] | 0x20, b'8' | b'9' | b'a'..=b'f')
    })
}

/// What the shim needs beyond "forward unchanged", as compact JSON: for a
/// forward `{"reason": "...", "forward": true, "uri": null | "...",
/// "querystring": null | "...", "drop_authorization": true (only when set),
/// "cookie": [...] (only when set)}` (the shim applies those changes to the
/// event's own request object, as [`render`] does); for an answer
/// `{"reason": "...", "response": {...}}`. Never the token or the client
/// address: only what the origin or the viewer gets.
pub fn decision_json(outcome: &Outcome) -> String {
    #[derive(serde::Serialize)]
    struct Compact<'a> {
        reason: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        forward: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        uri: Option<Option<&'a str>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        querystring: Option<Option<&'a str>>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        drop_authorization: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        cookie: Option<&'a [String]>,
        #[serde(skip_serializing_if = "Option::is_none")]
        response: Option<ResponseOut<'a>>,
    }
    let reason = outcome.reason.as_str();
    let decision = match &outcome.decision {
        Decision::Forward {
            uri,
            querystring,
            drop_authorization,
            cookie,
        } => Compact {
            reason,
            forward: Some(true),
            uri: Some(uri.as_deref()),
            querystring: Some(querystring.as_deref()),
            drop_authorization: *drop_authorization,
            cookie: cookie.as_deref(),
            response: None,
        },
        Decision::Respond(response) => Compact {
            reason,
            forward: None,
            uri: None,
            querystring: None,
            drop_authorization: false,
            cookie: None,
            response: Some(ResponseOut(response)),
        },
    };
    serde_json::to_string(&decision).unwrap_or_default()
}

/// Whether `outcome` forwards the request exactly as it came (the shim then
/// returns the event's request object untouched, asking for nothing more).
pub fn forwards_unchanged(outcome: &Outcome) -> bool {
    matches!(
        outcome.decision,
        Decision::Forward {
            uri: None,
            querystring: None,
            drop_authorization: false,
            cookie: None,
        }
    )
}

/// Parses one event from JSON text.
pub fn parse_event(text: &str) -> Result<ParsedEvent, EventError> {
    let value: Value = serde_json::from_str(text).map_err(|e| EventError::Json(e.to_string()))?;
    parse_event_value(value)
}

/// Parses one event from a JSON value.
pub fn parse_event_value(mut value: Value) -> Result<ParsedEvent, EventError> {
    let shape = |m: &str| EventError::Shape(m.to_owned());
    let records = value
        .get_mut("Records")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| shape("missing Records array"))?;
    if records.len() != 1 {
        return Err(shape("Records must hold exactly one record"));
    }
    let cf = records[0]
        .get_mut("cf")
        .ok_or_else(|| shape("missing Records[0].cf"))?;
    let request_id = cf
        .pointer("/config/requestId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(kind) = cf.pointer("/config/eventType").and_then(Value::as_str)
        && kind != "viewer-request"
    {
        return Err(EventError::Shape(format!(
            "eventType is {kind:?}, expected \"viewer-request\""
        )));
    }
    let raw_request = cf
        .get_mut("request")
        .map(Value::take)
        .ok_or_else(|| shape("missing Records[0].cf.request"))?;
    let obj = raw_request
        .as_object()
        .ok_or_else(|| shape("request is not an object"))?;
    let string = |name: &str, required: bool| -> Result<String, EventError> {
        match obj.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            None if !required => Ok(String::new()),
            _ => Err(EventError::Shape(format!(
                "request.{name} must be a string"
            ))),
        }
    };
    let uri = string("uri", true)?;
    if !uri.starts_with('/') {
        return Err(shape("request.uri must start with '/'"));
    }
    let mut headers = Vec::new();
    match obj.get("headers") {
        None => {}
        Some(Value::Object(map)) => {
            for (name, list) in map {
                let list = list
                    .as_array()
                    .ok_or_else(|| EventError::Shape(format!("headers.{name} must be an array")))?;
                for item in list {
                    let value = item.get("value").and_then(Value::as_str).ok_or_else(|| {
                        EventError::Shape(format!("headers.{name}[].value must be a string"))
                    })?;
                    let key = item.get("key").and_then(Value::as_str).map(str::to_owned);
                    headers.push(Header {
                        name: name.to_ascii_lowercase(),
                        key,
                        value: value.to_owned(),
                    });
                }
            }
        }
        Some(_) => return Err(shape("request.headers must be an object")),
    }
    let request = CfRequest {
        client_ip: string("clientIp", true)?,
        method: string("method", true)?,
        uri,
        querystring: string("querystring", false)?,
        headers,
    };
    Ok(ParsedEvent {
        request,
        raw_request,
        request_id,
    })
}

/// What the handler returns for `outcome`: the request to forward, or a response.
pub fn render(outcome: &Outcome, event: &ParsedEvent) -> Value {
    match &outcome.decision {
        Decision::Forward {
            uri,
            querystring,
            drop_authorization,
            cookie,
        } => {
            let mut request = event.raw_request.clone();
            if let Some(obj) = request.as_object_mut() {
                if let Some(uri) = uri {
                    obj.insert("uri".into(), Value::String(uri.clone()));
                }
                if let Some(qs) = querystring {
                    obj.insert("querystring".into(), Value::String(qs.clone()));
                }
                if let Some(Value::Object(headers)) = obj.get_mut("headers") {
                    if *drop_authorization {
                        headers.remove("authorization");
                    }
                    if let Some(values) = cookie {
                        if values.is_empty() {
                            headers.remove("cookie");
                        } else {
                            let list = values
                                .iter()
                                .map(|v| json!({ "key": "Cookie", "value": v }))
                                .collect();
                            headers.insert("cookie".into(), Value::Array(list));
                        }
                    }
                }
            }
            request
        }
        Decision::Respond(response) => render_response(response),
    }
}

/// A generated response in CloudFront's shape (status is a string).
pub fn render_response(response: &Response) -> Value {
    serde_json::to_value(ResponseOut(response)).unwrap_or(Value::Null)
}

/// [`render_response`] written straight to JSON, for [`decision_json`] (the
/// wasm build): no `Value` tree. Members in the order a `Value` object keeps
/// them (sorted: `body` when not empty, `headers`, `status`,
/// `statusDescription`); headers sorted by name, the last value of a name
/// repeated winning, as inserting into a map would.
struct ResponseOut<'a>(&'a Response);

impl serde::Serialize for ResponseOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let r = self.0;
        let mut map = s.serialize_map(None)?;
        if !r.body.is_empty() {
            map.serialize_entry("body", &r.body)?;
        }
        map.serialize_entry("headers", &HeadersOut(&r.headers))?;
        map.serialize_entry("status", &r.status.to_string())?;
        map.serialize_entry("statusDescription", r.status_description)?;
        map.end()
    }
}

/// A response's headers as CloudFront's `{name: [{key, value}]}`.
struct HeadersOut<'a>(&'a [(&'static str, String)]);

impl serde::Serialize for HeadersOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        // A handful of headers: sorted by insertion, without a sort routine.
        let mut sorted: Vec<(&str, &str)> = Vec::with_capacity(self.0.len());
        for (name, value) in self.0 {
            match sorted.binary_search_by(|(n, _)| (*n).cmp(name)) {
                Ok(i) => sorted[i].1 = value,
                Err(i) => sorted.insert(i, (name, value)),
            }
        }
        let mut map = s.serialize_map(Some(sorted.len()))?;
        for (name, value) in sorted {
            map.serialize_entry(
                name,
                &[HeaderOut {
                    key: canonical_key(name),
                    value,
                }],
            )?;
        }
        map.end()
    }
}

#[derive(serde::Serialize)]
struct HeaderOut<'a> {
    key: String,
    value: &'a str,
}

/// The fail-closed answer for anything that went wrong inside the handler:
/// the core's 503 ([`edge_auth_core::decide::unavailable`]) in CloudFront's shape.
pub fn internal_error() -> Value {
    render_response(&edge_auth_core::decide::unavailable())
}

/// `www-authenticate` → `WWW-Authenticate`, `retry-after` → `Retry-After`.
pub fn canonical_key(name: &str) -> String {
    name.split('-')
        .map(|part| {
            if part == "www" {
                "WWW".to_owned()
            } else {
                let mut c = part.chars();
                c.next().map_or_else(String::new, |f| {
                    f.to_ascii_uppercase().to_string() + c.as_str()
                })
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The CloudWatch namespace of the edge's metrics.
pub const METRICS_NAMESPACE: &str = "EdgeAuth";

/// The log record of one decision, in CloudWatch Embedded Metric Format: the
/// fields (reason, status, decision, bot, redacted client, method, path,
/// request id) plus the metrics `requests` and `token_cache_hits`, by reason,
/// by decision, by bot category when a bot signature matched, and by claim
/// status and operator when a good bot's name was claimed (verified, spoofed
/// or unverified claims per operator). Never the
/// token, cookies, query string or full IP. `now_ms` is the decision's time.
pub fn log_record(outcome: &Outcome, event: &ParsedEvent, now_ms: u64) -> Value {
    log_fields(outcome, &event.request, event.request_id.as_deref(), now_ms)
}

/// The log record's shape, serialized straight from borrowed data (no JSON
/// tree per request).
#[derive(serde::Serialize)]
struct LogRecord<'a> {
    /// The metric directive; absent on a sampled record (its request is
    /// counted by the ledger, not by the record).
    #[serde(rename = "_aws", skip_serializing_if = "Option::is_none")]
    aws: Option<Aws>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requests: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_cache_hits: Option<u8>,
    /// On a sampled record: one forwarded request in this many is written.
    #[serde(skip_serializing_if = "Option::is_none")]
    sampled: Option<u32>,
    reason: &'static str,
    decision: &'static str,
    status: Status,
    client: String,
    method: &'a str,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    bot: Option<Bot<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bot_category: Option<&'a str>,
    /// `verified`, `spoofed` or `unverified`, when a good bot's name was claimed.
    #[serde(skip_serializing_if = "Option::is_none")]
    bot_claim: Option<&'static str>,
    /// The claimed operator (`none` when the catalog verifies the claim by no means).
    #[serde(skip_serializing_if = "Option::is_none")]
    bot_operator: Option<&'a str>,
    /// How a verified claim was proved: `ranges` or `signature`.
    #[serde(skip_serializing_if = "Option::is_none")]
    bot_verified_by: Option<&'static str>,
    /// A Web Bot Auth signature's fate: `verified`, `expired`, `bad_signature`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    bot_signature: Option<&'static str>,
    /// The configured agent whose signature verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    bot_signed_agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum Status {
    Forward(&'static str),
    Code(u16),
}

#[derive(serde::Serialize)]
struct Bot<'a> {
    id: &'a str,
    category: &'a str,
    action: &'static str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Aws {
    timestamp: u64,
    cloud_watch_metrics: [Directive; 1],
    /// Which dimension set (an index into [`DIMENSION_SETS`] and
    /// [`DIRECTIVES_JSON`]): 1 for a bot category, 2 for a claim, 3 both.
    #[serde(skip)]
    set: usize,
}

/// `CloudWatchMetrics` as [`Aws::new`] serializes it, written out once per
/// dimension set (in [`DIMENSION_SETS`]' order): the records of the per-request
/// path splice these in instead of serializing the same constant each time
/// (a test holds each to the serde form).
const DIRECTIVES_JSON: [&str; 4] = [
    r#"[{"Namespace":"EdgeAuth","Dimensions":[["reason"],["decision"]],"Metrics":[{"Name":"requests","Unit":"Count"},{"Name":"token_cache_hits","Unit":"Count"}]}]"#,
    r#"[{"Namespace":"EdgeAuth","Dimensions":[["reason"],["decision"],["bot_category"]],"Metrics":[{"Name":"requests","Unit":"Count"},{"Name":"token_cache_hits","Unit":"Count"}]}]"#,
    r#"[{"Namespace":"EdgeAuth","Dimensions":[["reason"],["decision"],["bot_claim","bot_operator"]],"Metrics":[{"Name":"requests","Unit":"Count"},{"Name":"token_cache_hits","Unit":"Count"}]}]"#,
    r#"[{"Namespace":"EdgeAuth","Dimensions":[["reason"],["decision"],["bot_category"],["bot_claim","bot_operator"]],"Metrics":[{"Name":"requests","Unit":"Count"},{"Name":"token_cache_hits","Unit":"Count"}]}]"#,
];

/// Appends `record` as one line: `{"_aws":{...}, ...fields}` then `\n`.
/// The same JSON as serializing the record with its `_aws` (a test holds the
/// two to one another), with the constant directive spliced in.
fn write_record<T: serde::Serialize>(out: &mut String, aws: Option<&Aws>, fields: &T) {
    // Serializing these structs cannot fail (string keys, no maps of other keys).
    let Ok(body) = serde_json::to_string(fields) else {
        return;
    };
    match aws {
        Some(a) => {
            out.push_str("{\"_aws\":{\"Timestamp\":");
            out.push_str(&a.timestamp.to_string());
            out.push_str(",\"CloudWatchMetrics\":");
            out.push_str(DIRECTIVES_JSON[a.set]);
            out.push('}');
            match body.strip_prefix('{') {
                Some("}") | None => out.push('}'),
                Some(rest) => {
                    out.push(',');
                    out.push_str(rest);
                }
            }
        }
        None => out.push_str(&body),
    }
    out.push('\n');
}

impl Aws {
    /// The directive at `now_ms` for a record with or without a bot
    /// category and a claim (the dimensions it can be counted by).
    fn new(now_ms: u64, bot: bool, claim: bool) -> Aws {
        let set = usize::from(bot) + 2 * usize::from(claim);
        Aws {
            timestamp: now_ms,
            cloud_watch_metrics: [Directive {
                namespace: METRICS_NAMESPACE,
                dimensions: DIMENSION_SETS[set],
                metrics: METRICS,
            }],
            set,
        }
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive {
    namespace: &'static str,
    dimensions: &'static [&'static [&'static str]],
    metrics: &'static [Metric],
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metric {
    name: &'static str,
    unit: &'static str,
}

const METRICS: &[Metric] = &[
    Metric {
        name: "requests",
        unit: "Count",
    },
    Metric {
        name: "token_cache_hits",
        unit: "Count",
    },
];
/// The dimension sets, by [`Aws::set`]: none, a bot category, a claim, both.
const DIMENSION_SETS: [&[&[&str]]; 4] = [
    &[&["reason"], &["decision"]],
    &[&["reason"], &["decision"], &["bot_category"]],
    &[&["reason"], &["decision"], &["bot_claim", "bot_operator"]],
    &[
        &["reason"],
        &["decision"],
        &["bot_category"],
        &["bot_claim", "bot_operator"],
    ],
];

fn log_struct<'a>(
    outcome: &'a Outcome,
    request: &'a CfRequest,
    request_id: Option<&'a str>,
    now_ms: u64,
) -> LogRecord<'a> {
    let (status, decision) = match &outcome.decision {
        Decision::Forward { .. } => (Status::Forward("forward"), "forward"),
        Decision::Respond(r) => (
            Status::Code(r.status),
            if r.status < 400 { "answer" } else { "deny" },
        ),
    };
    LogRecord {
        aws: Some(Aws::new(
            now_ms,
            outcome.bot.is_some(),
            outcome.claim.is_some(),
        )),
        requests: Some(1),
        token_cache_hits: Some(u8::from(outcome.token_cache_hit)),
        sampled: None,
        reason: outcome.reason.as_str(),
        decision,
        status,
        client: redact_ip(&request.client_ip),
        method: &request.method,
        path: &request.uri,
        bot: outcome.bot.as_ref().map(|b| Bot {
            id: &b.id,
            category: &b.category,
            action: b.action.as_str(),
        }),
        bot_category: outcome.bot.as_ref().map(|b| b.category.as_str()),
        bot_claim: outcome.claim.as_ref().map(|c| c.status.as_str()),
        bot_operator: outcome.claim.as_ref().map(|c| {
            if c.operator.is_empty() {
                "none"
            } else {
                c.operator.as_str()
            }
        }),
        bot_verified_by: outcome
            .claim
            .as_ref()
            .map(|c| c.via)
            .filter(|v| !v.is_empty()),
        bot_signature: outcome.signature.as_ref().map(|s| s.status),
        bot_signed_agent: outcome.signature.as_ref().and_then(|s| s.agent.as_deref()),
        request_id,
    }
}

fn log_fields(
    outcome: &Outcome,
    request: &CfRequest,
    request_id: Option<&str>,
    now_ms: u64,
) -> Value {
    serde_json::to_value(log_struct(outcome, request, request_id, now_ms)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spliced_directives_are_the_serde_form() {
        for bot in [false, true] {
            for claim in [false, true] {
                let aws = Aws::new(1_800_000_100_123, bot, claim);
                let fields = json!({ "reason": "x", "requests": 1 });
                let mut line = String::new();
                write_record(&mut line, Some(&aws), &fields);
                let mut whole = fields.clone();
                whole["_aws"] = serde_json::to_value(&aws).unwrap();
                assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
                let got: Value = serde_json::from_str(&line).unwrap();
                assert_eq!(got, whole, "bot {bot}, claim {claim}");
                let mut empty = String::new();
                write_record(&mut empty, Some(&aws), &json!({}));
                let got: Value = serde_json::from_str(&empty).unwrap();
                assert_eq!(got, json!({ "_aws": serde_json::to_value(&aws).unwrap() }));
            }
        }
        let mut plain = String::new();
        write_record(&mut plain, None, &json!({ "a": 1 }));
        assert_eq!(plain, "{\"a\":1}\n");
    }

    /// The typed response writer against the `Value` map it replaced: the
    /// same text (member order included), headers out of order, a name given
    /// twice (the last value wins), a body or none.
    #[test]
    fn responses_are_written_as_a_value_map_would_write_them() {
        fn as_map(response: &Response) -> Value {
            let mut headers = serde_json::Map::new();
            for (name, value) in &response.headers {
                headers.insert(
                    (*name).to_owned(),
                    json!([{ "key": canonical_key(name), "value": value }]),
                );
            }
            let mut out = serde_json::Map::new();
            out.insert("status".into(), json!(response.status.to_string()));
            out.insert(
                "statusDescription".into(),
                json!(response.status_description),
            );
            out.insert("headers".into(), Value::Object(headers));
            if !response.body.is_empty() {
                out.insert("body".into(), json!(response.body));
            }
            Value::Object(out)
        }
        let mut responses = vec![edge_auth_core::decide::unavailable()];
        for body in ["", "Forbidden\n"] {
            responses.push(Response {
                status: 429,
                status_description: "Too Many Requests",
                headers: vec![
                    ("retry-after", "7".to_owned()),
                    ("cache-control", "no-store".to_owned()),
                    ("www-authenticate", "Bearer".to_owned()),
                    ("cache-control", "private".to_owned()),
                ],
                body: body.to_owned(),
            });
        }
        responses.push(Response {
            status: 204,
            status_description: "No Content",
            headers: Vec::new(),
            body: String::new(),
        });
        for r in &responses {
            let expected = as_map(r).to_string();
            assert_eq!(serde_json::to_string(&ResponseOut(r)).unwrap(), expected);
            assert_eq!(render_response(r).to_string(), expected);
        }
        assert!(!responses[2].body.is_empty() && responses[1].body.is_empty());
        assert!(
            as_map(&responses[1])
                .to_string()
                .contains(r#""cache-control":[{"key":"Cache-Control","value":"private"}]"#)
        );
    }

    #[test]
    fn canonical_keys() {
        assert_eq!(canonical_key("www-authenticate"), "WWW-Authenticate");
        assert_eq!(
            canonical_key("access-control-allow-origin"),
            "Access-Control-Allow-Origin"
        );
        assert_eq!(canonical_key("cache-control"), "Cache-Control");
    }

    /// Every viewer-request fixture event (not its `.decision.json`), with its path.
    pub(crate) fn fixture_events() -> Vec<(std::path::PathBuf, String)> {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/viewer-request"
        );
        let mut events = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.to_string_lossy().ends_with(".decision.json")
                || path.extension().is_none_or(|e| e != "json")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            events.push((path, text));
        }
        events
    }

    #[test]
    fn fast_parse_agrees_with_full_parse_on_every_fixture() {
        let events = fixture_events();
        for (path, text) in &events {
            let full = parse_event(text).map(|e| (e.request, e.request_id));
            assert_eq!(parse_request(text), full, "{}", path.display());
        }
        assert!(events.len() >= 20);
    }

    /// A lone surrogate escaped in a field neither parser reads (found by the
    /// `request` fuzz target: a misspelt `headers` holding one): both refuse
    /// the event; a surrogate pair there, both accept it.
    #[test]
    fn a_lone_surrogate_anywhere_is_refused_by_both_parsers() {
        let event = |extra: &str| {
            format!(
                r#"{{"Records":[{{"cf":{{"request":{{"uri":"/x","method":"GET","clientIp":"1.2.3.4","h)eaders":{{"host":[{{"key":"{extra}"}}]}}}}}}}}]}}"#
            )
        };
        for lone in [r"\udec8", r"\uD800", r"x\udbffy", r"\uDC00\u0041"] {
            let text = event(lone);
            assert!(
                matches!(parse_event(&text), Err(EventError::Json(_))),
                "{text}"
            );
            assert_eq!(
                parse_request(&text),
                parse_event(&text).map(|e| (e.request, e.request_id)),
                "{text}"
            );
        }
        for fine in [r"\ud83d\ude00", r"\u00e9", r"\\ud800", "plain"] {
            let text = event(fine);
            assert!(parse_request(&text).is_ok(), "{text}");
            assert_eq!(
                parse_request(&text),
                parse_event(&text).map(|e| (e.request, e.request_id)),
                "{text}"
            );
        }
        assert!(may_escape_a_surrogate(r"\uD83D"));
        assert!(!may_escape_a_surrogate(r"\u00e9 \ud7ff ud800"));
    }

    #[test]
    fn shape_errors() {
        assert!(matches!(parse_event("{"), Err(EventError::Json(_))));
        assert!(matches!(parse_event("{}"), Err(EventError::Shape(_))));
        assert!(matches!(
            parse_event(
                r#"{"Records":[{"cf":{"request":{"uri":"x","method":"GET","clientIp":"1.2.3.4"}}}]}"#
            ),
            Err(EventError::Shape(_))
        ));
        let ok = parse_event(r#"{"Records":[{"cf":{"request":{"uri":"/x","method":"GET","clientIp":"1.2.3.4","headers":{"cookie":[{"key":"Cookie","value":"a=1"},{"value":"b=2"}]}}}}]}"#).unwrap();
        assert_eq!(ok.request.headers.len(), 2);
        assert_eq!(ok.request.querystring, "");
    }
}
