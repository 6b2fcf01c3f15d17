"""Test helper: acts on the local WAF emulator (moto) as other people would,
through boto3: create the web ACL the deployment owns, add a rule of someone
else's, read what is there. Usage: moto_admin.py ENDPOINT COMMAND [ARGS...]"""
import json
import sys

import boto3

endpoint, command, *args = sys.argv[1:]
waf = boto3.client("wafv2", region_name="us-east-1", endpoint_url=endpoint,
                   aws_access_key_id="test", aws_secret_access_key="test")
SCOPE = "CLOUDFRONT"


def acl(name):
    summary = next(a for a in waf.list_web_acls(Scope=SCOPE)["WebACLs"] if a["Name"] == name)
    got = waf.get_web_acl(Name=name, Scope=SCOPE, Id=summary["Id"])
    return summary["Id"], got["WebACL"], got["LockToken"]


def visibility(name):
    return {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": name}


if command == "create-acl":
    (name,) = args
    waf.create_web_acl(Name=name, Scope=SCOPE, DefaultAction={"Allow": {}}, VisibilityConfig=visibility(name), Rules=[{
        "Name": "aws-common", "Priority": 1, "OverrideAction": {"None": {}}, "VisibilityConfig": visibility("common"),
        "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}}}])
elif command == "create-acl-full":
    # Every field UpdateWebACL would clear if left out, set.
    (name,) = args
    waf.create_web_acl(
        Name=name, Scope=SCOPE, DefaultAction={"Block": {"CustomResponse": {"ResponseCode": 403, "CustomResponseBodyKey": "denied"}}},
        Description="the sites web ACL, owned by the platform team", VisibilityConfig=visibility(name),
        Rules=[{"Name": "aws-common", "Priority": 1, "OverrideAction": {"None": {}}, "VisibilityConfig": visibility("common"),
                "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}}}],
        CustomResponseBodies={"denied": {"ContentType": "TEXT_HTML", "Content": "<h1>Denied</h1>"}},
        CaptchaConfig={"ImmunityTimeProperty": {"ImmunityTime": 600}},
        ChallengeConfig={"ImmunityTimeProperty": {"ImmunityTime": 900}},
        TokenDomains=["example.com", "www.example.com"],
        AssociationConfig={"RequestBody": {"CLOUDFRONT": {"DefaultSizeInspectionLimit": "KB_32"}}})
elif command == "dump-acl":
    (name,) = args
    _, web_acl, _ = acl(name)
    print(json.dumps(web_acl, default=str, sort_keys=True))
elif command == "add-rule":
    name, rule_name, priority = args
    acl_id, web_acl, token = acl(name)
    rules = web_acl["Rules"] + [{"Name": rule_name, "Priority": int(priority), "Action": {"Count": {}},
                                 "VisibilityConfig": visibility(rule_name),
                                 "Statement": {"ByteMatchStatement": {"SearchString": b"/admin", "FieldToMatch": {"UriPath": {}},
                                               "TextTransformations": [{"Priority": 0, "Type": "NONE"}], "PositionalConstraint": "STARTS_WITH"}}}]
    waf.update_web_acl(Name=name, Scope=SCOPE, Id=acl_id, DefaultAction=web_acl["DefaultAction"], Rules=rules,
                       VisibilityConfig=web_acl["VisibilityConfig"], LockToken=token)
elif command == "describe":
    (name,) = args
    _, web_acl, _ = acl(name)
    sets = {}
    for s in waf.list_regex_pattern_sets(Scope=SCOPE)["RegexPatternSets"]:
        got = waf.get_regex_pattern_set(Name=s["Name"], Scope=SCOPE, Id=s["Id"])["RegexPatternSet"]
        sets[s["Name"]] = sorted(r["RegexString"] for r in got["RegularExpressionList"])
    print(json.dumps({"rules": [r["Name"] for r in web_acl["Rules"]], "sets": sets}, default=str))
elif command == "touch-set":
    (set_name,) = args
    summary = next(s for s in waf.list_regex_pattern_sets(Scope=SCOPE)["RegexPatternSets"] if s["Name"] == set_name)
    got = waf.get_regex_pattern_set(Name=set_name, Scope=SCOPE, Id=summary["Id"])
    waf.update_regex_pattern_set(Name=set_name, Scope=SCOPE, Id=summary["Id"], LockToken=got["LockToken"],
                                 RegularExpressionList=[{"RegexString": "someone-elses-edit"}])
elif command == "put-secret":
    name, value = args
    boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="test",
                 aws_secret_access_key="test").create_secret(Name=name, SecretString=value)
else:
    sys.exit(f"unknown command {command}")
