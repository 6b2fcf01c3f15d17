//! The CloudFront Lambda@Edge wire format, shared by every adapter (the
//! native CLI and the wasm build): parse a viewer-request event into the
//! core's [`CfRequest`], render an [`Outcome`] as exactly what the handler
//! returns, and build the JSON log record of a decision.
//!
//! Architecture invariant: the only crate that knows CloudFront's JSON shapes.
//! Log records never contain a token, a cookie, a query string or a full client IP.

use edge_auth_core::request::redact_ip;
use edge_auth_core::{CfRequest, Decision, Header, Outcome, Response};
use serde_json::{Map, Value, json};

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
        Decision::Forward { querystring } => {
            let mut request = event.raw_request.clone();
            if let (Some(qs), Some(obj)) = (querystring, request.as_object_mut()) {
                obj.insert("querystring".into(), Value::String(qs.clone()));
            }
            request
        }
        Decision::Respond(response) => render_response(response),
    }
}

/// A generated response in CloudFront's shape (status is a string).
pub fn render_response(response: &Response) -> Value {
    let mut headers = Map::new();
    for (name, value) in &response.headers {
        headers.insert(
            (*name).to_owned(),
            json!([{ "key": canonical_key(name), "value": value }]),
        );
    }
    let mut out = Map::new();
    out.insert("status".into(), Value::String(response.status.to_string()));
    out.insert(
        "statusDescription".into(),
        Value::String(response.status_description.to_owned()),
    );
    out.insert("headers".into(), Value::Object(headers));
    if !response.body.is_empty() {
        out.insert("body".into(), Value::String(response.body.clone()));
    }
    Value::Object(out)
}

/// The fail-closed answer for anything that went wrong inside the handler.
pub fn internal_error() -> Value {
    json!({
        "status": "503",
        "statusDescription": "Service Unavailable",
        "headers": {
            "cache-control": [{ "key": "Cache-Control", "value": "no-store" }],
            "content-type": [{ "key": "Content-Type", "value": "text/plain; charset=utf-8" }]
        },
        "body": "Service Unavailable\n"
    })
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

/// The log record of one decision: reason, status, bot, redacted client,
/// method and path. Never the token, cookies, query string or full IP.
pub fn log_record(outcome: &Outcome, event: &ParsedEvent) -> Value {
    let status = match &outcome.decision {
        Decision::Forward { .. } => Value::String("forward".into()),
        Decision::Respond(r) => Value::from(r.status),
    };
    let mut rec = json!({
        "reason": outcome.reason.as_str(),
        "status": status,
        "client": redact_ip(&event.request.client_ip),
        "method": event.request.method,
        "path": event.request.uri,
        "token_cache_hit": outcome.token_cache_hit,
    });
    if let (Some(bot), Some(obj)) = (&outcome.bot, rec.as_object_mut()) {
        obj.insert(
            "bot".into(),
            json!({ "id": bot.id, "category": bot.category, "action": bot.action.as_str() }),
        );
    }
    if let (Some(id), Some(obj)) = (&event.request_id, rec.as_object_mut()) {
        obj.insert("request_id".into(), Value::String(id.clone()));
    }
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_keys() {
        assert_eq!(canonical_key("www-authenticate"), "WWW-Authenticate");
        assert_eq!(
            canonical_key("access-control-allow-origin"),
            "Access-Control-Allow-Origin"
        );
        assert_eq!(canonical_key("cache-control"), "Cache-Control");
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
