//! The CloudFormation custom resource `Custom::WafSync`: the stack invokes
//! the waf-sync function while it is created or updated, so the user-agent
//! rule is in the stack's rule group before the web ACL that references the
//! group, and the distribution behind it, exist; and on deletion it removes
//! waf-sync's rules and sets, so none is left over to fill the account's
//! quota. This file reads the event and writes the answer CloudFormation
//! waits for (a PUT of a small JSON document to the pre-signed `ResponseURL`);
//! what a run does is `apply`'s.

use serde_json::{Value, json};

/// What CloudFormation asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    /// The stack is being created.
    Create,
    /// The resource's properties changed (new code, another rule group...).
    Update,
    /// The stack is being deleted, or the resource replaced.
    Delete,
}

/// A custom-resource request, as far as waf-sync reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Create, Update or Delete.
    pub request_type: RequestType,
    /// Where the answer goes (pre-signed S3 URL; never logged: it is a credential).
    pub response_url: String,
    /// Echoed back.
    pub stack_id: String,
    /// Echoed back.
    pub request_id: String,
    /// Echoed back.
    pub logical_resource_id: String,
    /// The resource's id from an earlier answer (Update, Delete).
    pub physical_resource_id: Option<String>,
    /// `ResourceProperties.RuleGroup`: the rule group to write into.
    pub rule_group: Option<String>,
    /// `ResourceProperties.Force`: `"true"` lets the run pass the blast-radius guards.
    pub force: bool,
}

/// The prefix of the physical resource id; the rest is the rule group's name.
pub const PHYSICAL_ID_PREFIX: &str = "waf-sync:";

/// The custom-resource request in a Lambda input; `None` when the input is
/// not one (a scheduled event, `{"apply": false}`...); `Some(Err)` when it
/// claims to be one but lacks what an answer needs.
pub fn parse(input: &Value) -> Option<Result<Request, String>> {
    let kind = input.get("RequestType")?.as_str();
    Some(parse_request(input, kind))
}

fn parse_request(input: &Value, kind: Option<&str>) -> Result<Request, String> {
    let text = |key: &str| -> Result<String, String> {
        input
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("custom-resource event without {key}"))
    };
    let request_type = match kind {
        Some("Create") => RequestType::Create,
        Some("Update") => RequestType::Update,
        Some("Delete") => RequestType::Delete,
        other => {
            return Err(format!(
                "RequestType {other:?} is not Create, Update or Delete"
            ));
        }
    };
    let props = input.get("ResourceProperties");
    let prop = |key: &str| props.and_then(|p| p.get(key)).and_then(Value::as_str);
    let response_url = text("ResponseURL")?;
    if !response_url.starts_with("https://") && !response_url.starts_with("http://127.0.0.1:") {
        return Err("ResponseURL is not an https URL".into());
    }
    Ok(Request {
        request_type,
        response_url,
        stack_id: text("StackId")?,
        request_id: text("RequestId")?,
        logical_resource_id: text("LogicalResourceId")?,
        physical_resource_id: input
            .get("PhysicalResourceId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        rule_group: prop("RuleGroup").map(str::to_owned),
        force: prop("Force").is_some_and(|f| f.eq_ignore_ascii_case("true")),
    })
}

impl Request {
    /// The rule group this request is about: Delete acts on the group the
    /// resource was created for (its physical id), the others on the
    /// properties' group.
    pub fn group(&self) -> Option<String> {
        let from_id = self
            .physical_resource_id
            .as_deref()
            .and_then(|id| id.strip_prefix(PHYSICAL_ID_PREFIX))
            .filter(|g| !g.is_empty())
            .map(str::to_owned);
        match self.request_type {
            RequestType::Delete => from_id,
            _ => self.rule_group.clone().or(from_id),
        }
    }

    /// The answer: `Ok(data)` (a few counts the template may read) or
    /// `Err(reason)`. The reason is cut to fit CloudFormation's 4 KB answer.
    pub fn answer(&self, outcome: Result<Value, String>) -> Value {
        let physical = match self.group() {
            Some(g) => format!("{PHYSICAL_ID_PREFIX}{g}"),
            // A Create that failed before knowing its group still needs an
            // id; CloudFormation sends Delete for it on rollback.
            None => self
                .physical_resource_id
                .clone()
                .unwrap_or_else(|| PHYSICAL_ID_PREFIX.to_owned()),
        };
        let mut out = json!({
            "StackId": self.stack_id,
            "RequestId": self.request_id,
            "LogicalResourceId": self.logical_resource_id,
            "PhysicalResourceId": physical,
        });
        match outcome {
            Ok(data) => {
                out["Status"] = "SUCCESS".into();
                out["Data"] = data;
            }
            Err(reason) => {
                let mut reason: String = reason.chars().take(1000).collect();
                if reason.is_empty() {
                    reason = "waf-sync failed (see its log group)".into();
                }
                out["Status"] = "FAILED".into();
                out["Reason"] = reason.into();
            }
        }
        out
    }
}

/// PUTs the answer to the pre-signed URL, with the empty content type the
/// signature was made for. Blocking (run it off the async runtime).
pub fn send(url: &str, answer: &Value) -> Result<(), String> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .http_status_as_error(true)
        .build()
        .into();
    agent
        .put(url)
        .header("Content-Type", "")
        .send(answer.to_string())
        .map(|_| ())
        .map_err(|e| format!("answering CloudFormation: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str) -> Value {
        json!({
            "RequestType": kind,
            "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=abc",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
            "RequestId": "r-1",
            "LogicalResourceId": "InitialSync",
            "ResourceType": "Custom::WafSync",
            "ResourceProperties": {"ServiceToken": "arn:...", "RuleGroup": "s-bots", "Force": "false"}
        })
    }

    #[test]
    fn reads_the_three_kinds_and_answers_each() {
        assert!(parse(&json!({"apply": false})).is_none());
        assert!(parse(&json!({"detail-type": "Scheduled Event"})).is_none());
        let create = parse(&event("Create")).unwrap().unwrap();
        assert_eq!(create.request_type, RequestType::Create);
        assert_eq!(create.group().as_deref(), Some("s-bots"));
        assert!(!create.force);
        let ok = create.answer(Ok(json!({"Added": 3})));
        assert_eq!(ok["Status"], "SUCCESS");
        assert_eq!(ok["PhysicalResourceId"], "waf-sync:s-bots");
        assert_eq!(ok["RequestId"], "r-1");
        assert_eq!(ok["Data"]["Added"], 3);

        // Delete acts on the group it was created for, not the new properties.
        let mut delete = event("Delete");
        delete["PhysicalResourceId"] = "waf-sync:old-bots".into();
        let delete = parse(&delete).unwrap().unwrap();
        assert_eq!(delete.group().as_deref(), Some("old-bots"));
        let failed = delete.answer(Err("x".repeat(5000)));
        assert_eq!(failed["Status"], "FAILED");
        assert_eq!(failed["Reason"].as_str().unwrap().len(), 1000);
        assert_eq!(failed["PhysicalResourceId"], "waf-sync:old-bots");

        let mut forced = event("Update");
        forced["ResourceProperties"]["Force"] = "True".into();
        assert!(parse(&forced).unwrap().unwrap().force);
    }

    #[test]
    fn refuses_what_cannot_be_answered_safely() {
        let mut bad = event("Create");
        bad["ResponseURL"] = "http://attacker.example/".into();
        assert!(parse(&bad).unwrap().unwrap_err().contains("https"));
        let mut bad = event("Create");
        bad.as_object_mut().unwrap().remove("StackId");
        assert!(parse(&bad).unwrap().unwrap_err().contains("StackId"));
        assert!(parse(&event("Rename")).unwrap().is_err());
    }
}
