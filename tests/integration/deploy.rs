//! The deployment template (`deploy/edge-stack.json`): IAM stays least
//! privilege (no wildcard action; a `*` resource only for actions that have no
//! resource-level permissions), waf-sync can touch only its own WAF resources,
//! and the edge role is trusted by both Lambda principals.

use serde_json::Value;
use workspace_tests::repo_root;

/// Actions that AWS authorizes only on `*` (no resource-level permissions).
const STAR_ONLY: &[&str] = &[
    "wafv2:ListWebACLs",
    "wafv2:ListRuleGroups",
    "wafv2:ListRegexPatternSets",
    "wafv2:ListIPSets",
];

fn template() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("deploy/edge-stack.json")).unwrap(),
    )
    .unwrap()
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// Every Allow statement of every inline role policy: (role, sid, actions, resources).
fn allow_statements(t: &Value) -> Vec<(String, String, Vec<String>, Vec<Value>)> {
    let mut out = Vec::new();
    for (name, res) in t["Resources"].as_object().unwrap() {
        if res["Type"] != "AWS::IAM::Role" {
            continue;
        }
        for policy in res["Properties"]["Policies"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for st in as_list(&policy["PolicyDocument"]["Statement"]) {
                if st["Effect"] != "Allow" {
                    continue;
                }
                let actions = as_list(&st["Action"])
                    .iter()
                    .map(|a| a.as_str().unwrap_or_default().to_owned())
                    .collect();
                out.push((
                    name.clone(),
                    st["Sid"].as_str().unwrap_or_default().to_owned(),
                    actions,
                    as_list(&st["Resource"]),
                ));
            }
        }
    }
    out
}

/// The least-privilege findings for a template.
fn findings(t: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (role, sid, actions, resources) in allow_statements(t) {
        for a in &actions {
            if a.contains('*') {
                out.push(format!("{role}/{sid}: wildcard action {a}"));
            }
        }
        for r in &resources {
            if r == "*" && !actions.iter().all(|a| STAR_ONLY.contains(&a.as_str())) {
                out.push(format!(
                    "{role}/{sid}: resource * for {actions:?}, which support narrower resources"
                ));
            }
            let text = r.to_string();
            if text.contains("regexpatternset/*")
                || text.contains("ipset/*")
                || text.contains("webacl/*")
                || text.contains("rulegroup/*")
            {
                out.push(format!(
                    "{role}/{sid}: every WAF resource of a kind ({text})"
                ));
            }
        }
    }
    out
}

#[test]
fn iam_is_least_privilege() {
    let t = template();
    let f = findings(&t);
    assert!(f.is_empty(), "{}", f.join("\n"));
    assert!(allow_statements(&t).len() >= 6);
}

#[test]
fn the_check_catches_wildcards() {
    let mut t = template();
    let role =
        &mut t["Resources"]["SyncRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"];
    role.as_array_mut()
        .unwrap()
        .push(serde_json::json!({"Effect": "Allow", "Action": "wafv2:*", "Resource": "*"}));
    let f = findings(&t);
    assert_eq!(f.len(), 2, "{f:?}");
}

#[test]
fn waf_sync_only_touches_its_own_pattern_sets_acl_and_secret() {
    let t = template();
    let statements = allow_statements(&t);
    let sync: Vec<_> = statements.iter().filter(|s| s.0 == "SyncRole").collect();
    let sets = sync
        .iter()
        .find(|s| s.2.contains(&"wafv2:UpdateRegexPatternSet".to_owned()))
        .expect("pattern set statement");
    assert!(
        sets.3[0]
            .to_string()
            .contains("regexpatternset/${ManagedPrefix}-ua-*/*"),
        "{:?}",
        sets.3
    );
    let ip_sets = sync
        .iter()
        .find(|s| s.2.contains(&"wafv2:UpdateIPSet".to_owned()))
        .expect("IP set statement");
    assert!(
        ip_sets.3[0]
            .to_string()
            .contains("ipset/${ManagedPrefix}-ip-*/*"),
        "{:?}",
        ip_sets.3
    );
    let secret = sync
        .iter()
        .find(|s| s.2.contains(&"secretsmanager:GetSecretValue".to_owned()))
        .expect("secret statement");
    assert_eq!(
        secret.3,
        vec![serde_json::json!({"Ref": "ReportingSecretArn"})]
    );
    let trust = &t["Resources"]["EdgeRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        [0]["Principal"]["Service"];
    assert_eq!(
        trust,
        &serde_json::json!(["lambda.amazonaws.com", "edgelambda.amazonaws.com"])
    );
    assert_eq!(
        t["Resources"]["EdgeFunction"]["Properties"]["MemorySize"],
        128
    );
    assert_eq!(
        t["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
            ["ViewerProtocolPolicy"],
        "redirect-to-https"
    );
}

/// The IAM action of an SDK operation (`list_ip_sets` → `wafv2:ListIPSets`).
fn iam_action(op: &str) -> String {
    let words: String = op
        .split('_')
        .map(|w| match w {
            "acl" => "ACL".to_owned(),
            "acls" => "ACLs".to_owned(),
            "ip" => "IP".to_owned(),
            _ => w[..1].to_uppercase() + &w[1..],
        })
        .collect();
    format!("wafv2:{words}")
}

/// The web ACL calls of waf-sync's other mode (`--web-acl`, for sites
/// without this stack); the stack's runs write into its rule group.
const WEB_ACL_MODE: [&str; 3] = ["list_web_acls", "get_web_acl", "update_web_acl"];

#[test]
fn every_waf_call_waf_sync_makes_is_granted() {
    let code = std::fs::read_to_string(repo_root().join("waf-sync/src/waf.rs")).unwrap();
    // `self.client.op(` and, inside the pager's closures, `client.op(`.
    let call = regex::Regex::new(r"\bclient\s*\.([a-z_]+)\(").unwrap();
    let ops: std::collections::BTreeSet<String> =
        call.captures_iter(&code).map(|c| c[1].to_owned()).collect();
    assert!(ops.len() >= 16, "{ops:?}");
    let t = template();
    let granted: Vec<String> = allow_statements(&t)
        .into_iter()
        .filter(|s| s.0 == "SyncRole")
        .flat_map(|s| s.2)
        .collect();
    let missing: Vec<String> = ops
        .iter()
        .filter(|op| !WEB_ACL_MODE.contains(&op.as_str()))
        .map(|op| iam_action(op))
        .filter(|a| !granted.contains(a))
        .collect();
    assert!(
        missing.is_empty(),
        "waf-sync calls, SyncRole may not: {missing:?}"
    );
    // Least privilege: the stack owns the web ACL; waf-sync may not write it.
    for op in WEB_ACL_MODE {
        assert!(
            ops.contains(op),
            "{op} is gone from waf.rs: update WEB_ACL_MODE"
        );
        assert!(!granted.contains(&iam_action(op)), "SyncRole may {op}");
    }
    assert_eq!(iam_action("list_web_acls"), "wafv2:ListWebACLs");
    assert_eq!(iam_action("create_ip_set"), "wafv2:CreateIPSet");
}

/// Protection from minute one: the web ACL carries the rate rule (from
/// parameters) and a reference to the rule group, and CloudFormation creates
/// it only after the custom resource has run waf-sync into that group; the
/// distribution uses the web ACL, so no request is served before both rules
/// exist. waf-sync's rule lives in the group, which no template property
/// writes, so a stack update of the web ACL cannot drop it.
#[test]
fn the_stack_owns_the_rules_and_fills_the_group_before_the_acl_exists() {
    let t = template();
    let r = &t["Resources"];
    let acl = &r["WebAcl"];
    assert_eq!(acl["DependsOn"], "InitialSync");
    let rules = acl["Properties"]["Rules"].as_array().unwrap();
    let rate = rules
        .iter()
        .find_map(|x| x["Statement"].get("RateBasedStatement"))
        .expect("a rate-based rule in the web ACL");
    assert_eq!(rate["Limit"], serde_json::json!({"Ref": "RateLimit"}));
    assert_eq!(
        rate["EvaluationWindowSec"],
        serde_json::json!({"Ref": "RateWindowSeconds"})
    );
    let group_ref = rules
        .iter()
        .find_map(|x| x["Statement"].get("RuleGroupReferenceStatement"))
        .expect("a rule group reference in the web ACL");
    assert_eq!(
        group_ref["Arn"],
        serde_json::json!({"Fn::GetAtt": ["BotRuleGroup", "Arn"]})
    );
    let group = &r["BotRuleGroup"]["Properties"];
    assert!(
        group.get("Rules").is_none(),
        "the template must not write waf-sync's rules"
    );
    let sync = &r["InitialSync"];
    assert_eq!(sync["Type"], "Custom::WafSync");
    assert_eq!(
        sync["Properties"]["ServiceToken"],
        serde_json::json!({"Fn::GetAtt": ["SyncFunction", "Arn"]})
    );
    // The group it fills is the group the web ACL references (same name),
    // and a replaced group (new capacity) reruns it.
    assert_eq!(sync["Properties"]["RuleGroup"], group["Name"]);
    assert_eq!(
        sync["Properties"]["RuleGroupId"],
        serde_json::json!({"Fn::GetAtt": ["BotRuleGroup", "Id"]})
    );
    assert_eq!(
        r["Distribution"]["Properties"]["DistributionConfig"]["WebACLId"],
        serde_json::json!({"Fn::GetAtt": ["WebAcl", "Arn"]})
    );
    // The nightly run writes into the same group.
    let input = r["SyncSchedule"]["Properties"]["Target"]["Input"]["Fn::Sub"]
        .as_str()
        .unwrap();
    let name = group["Name"]["Fn::Sub"].as_str().unwrap();
    assert!(
        input.contains(&format!("\"rule_group\": \"{name}\"")),
        "{input}"
    );
}

/// A value of the template with `Fn::Sub` and `Ref` of pseudo parameters
/// rendered for a stack called `stack` (other intrinsics left as they are).
fn render(v: &Value, stack: &str) -> Value {
    match v {
        Value::Object(o) if o.len() == 1 && o.contains_key("Fn::Sub") => match &o["Fn::Sub"] {
            Value::String(s) => Value::String(s.replace("${AWS::StackName}", stack)),
            other => other.clone(),
        },
        Value::Object(o) if o.get("Ref") == Some(&Value::String("AWS::StackName".into())) => {
            Value::String(stack.into())
        }
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), render(x, stack)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| render(x, stack)).collect()),
        other => other.clone(),
    }
}

/// AWS WAF publishes a web ACL's metrics under its VisibilityConfig
/// MetricName (dimension `WebACL`), not under its name: the blocked-requests
/// alarm must watch that, whatever the stack is called.
#[test]
fn the_waf_alarm_watches_the_web_acls_metric_for_any_stack_name() {
    let t = template();
    for stack in ["edge", "prod-site-7"] {
        let acl = render(&t["Resources"]["WebAcl"]["Properties"], stack);
        let alarm = render(&t["Resources"]["WafBlockedSpikeAlarm"]["Properties"], stack);
        let metric = &acl["VisibilityConfig"]["MetricName"];
        let dims = alarm["Dimensions"].as_array().unwrap();
        let watched = dims
            .iter()
            .find(|d| d["Name"] == "WebACL")
            .map(|d| d["Value"].clone());
        assert_eq!(
            watched.as_ref(),
            Some(metric),
            "stack {stack}: alarm {dims:?}, ACL metric {metric}"
        );
        assert!(
            metric.as_str().is_some_and(|m| m.contains(stack)),
            "two stacks in one account must not share a metric: {metric}"
        );
    }
}

/// checkov (pinned, run by `cargo xtask ci`) passes the template; what it
/// cannot pass is declared where it applies, each with its reason.
#[test]
fn every_checkov_skip_says_why() {
    let t = template();
    let mut skips = 0;
    for (name, res) in t["Resources"].as_object().unwrap() {
        for s in res["Metadata"]["checkov"]["skip"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let id = s["id"].as_str().unwrap_or_default();
            let why = s["comment"].as_str().unwrap_or_default();
            assert!(id.starts_with("CKV_"), "{name}: {s}");
            assert!(
                why.len() >= 40,
                "{name}/{id}: a skip needs its reason: {why:?}"
            );
            skips += 1;
        }
    }
    assert!((1..=10).contains(&skips), "{skips} skips");
}

/// Operations: WAF logs without credentials or signed-link tokens, every
/// log group encrypted, failed nightly runs kept and alarmed, the VPC and a
/// concurrency reservation only when asked for.
#[test]
fn operations_settings() {
    let t = template();
    let r = &t["Resources"];
    let logging = &r["WafLogging"]["Properties"];
    assert_eq!(
        logging["ResourceArn"],
        serde_json::json!({"Fn::GetAtt": ["WebAcl", "Arn"]})
    );
    let redacted = logging["RedactedFields"].to_string();
    for field in ["\"authorization\"", "\"cookie\"", "QueryString"] {
        assert!(
            redacted.contains(field),
            "WAF logs keep {field}: {redacted}"
        );
    }
    assert!(
        r["WafLogGroup"]["Properties"]["LogGroupName"]["Fn::Sub"]
            .as_str()
            .unwrap()
            .starts_with("aws-waf-logs-"),
        "WAF delivers only to log groups named aws-waf-logs-*"
    );
    for (name, res) in t["Resources"].as_object().unwrap() {
        if res["Type"] == "AWS::Logs::LogGroup" {
            assert_eq!(
                res["Properties"]["KmsKeyId"],
                serde_json::json!({"Fn::GetAtt": ["LogKey", "Arn"]}),
                "{name}"
            );
        }
    }
    let queue = serde_json::json!({"Fn::GetAtt": ["SyncFailureQueue", "Arn"]});
    assert_eq!(
        r["SyncInvokeConfig"]["Properties"]["DestinationConfig"]["OnFailure"]["Destination"],
        queue
    );
    assert_eq!(
        r["SyncSchedule"]["Properties"]["Target"]["DeadLetterConfig"]["Arn"],
        queue
    );
    let sends: Vec<_> = allow_statements(&t)
        .into_iter()
        .filter(|s| s.2.contains(&"sqs:SendMessage".to_owned()))
        .map(|s| (s.0, s.3))
        .collect();
    assert!(
        sends
            .iter()
            .any(|(role, res)| role == "SyncRole" && res == &vec![queue.clone()]),
        "{sends:?}"
    );
    assert!(
        sends
            .iter()
            .any(|(role, res)| role == "SchedulerRole" && res == &vec![queue.clone()]),
        "{sends:?}"
    );
    assert_eq!(
        r["SyncFailuresQueuedAlarm"]["Properties"]["Dimensions"][0]["Value"],
        serde_json::json!({"Fn::GetAtt": ["SyncFailureQueue", "QueueName"]})
    );
    let f = &r["SyncFunction"]["Properties"];
    assert_eq!(f["VpcConfig"]["Fn::If"][0], "SyncInVpc");
    assert_eq!(
        f["VpcConfig"]["Fn::If"][2],
        serde_json::json!({"Ref": "AWS::NoValue"})
    );
    assert_eq!(
        r["SyncRole"]["Properties"]["ManagedPolicyArns"]["Fn::If"][0],
        "SyncInVpc"
    );
    assert_eq!(
        f["ReservedConcurrentExecutions"]["Fn::If"][0],
        "HasReservedConcurrency"
    );
    assert_eq!(
        t["Parameters"]["SyncReservedConcurrency"]["Default"], -1,
        "no reservation by default"
    );
    assert_eq!(
        t["Parameters"]["SyncSubnetIds"]["Default"], "",
        "no VPC by default"
    );
}
