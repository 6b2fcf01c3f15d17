"""Test helper: acts on the local WAF emulator (moto) as other people would,
through boto3: create the web ACL the deployment owns, add a rule of someone
else's, read what is there; and deploy the WAF part of the real template
(`deploy/edge-stack.json`) the way CloudFormation would, its intrinsic
functions resolved for a stack name and parameters.
Usage: moto_admin.py ENDPOINT COMMAND [ARGS...]"""
import json
import re
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
elif command in ("stack-group", "stack-acl", "stack-update-acl"):
    # CloudFormation's calls for the template's BotRuleGroup / WebAcl.
    template, stack, *assignments = args
    t = json.load(open(template))
    params = {k: v.get("Default") for k, v in t["Parameters"].items()}
    params.update(a.split("=", 1) for a in assignments)
    for k, v in t["Parameters"].items():
        if v["Type"] == "Number" and params.get(k) is not None:
            params[k] = int(params[k])
    pseudo = {"AWS::StackName": stack, "AWS::Partition": "aws", "AWS::AccountId": "123456789012", "AWS::Region": "us-east-1"}
    NO_VALUE = object()

    def group_arn():
        name = resolve(t["Resources"]["BotRuleGroup"]["Properties"]["Name"])
        return next(g["ARN"] for g in waf.list_rule_groups(Scope=SCOPE)["RuleGroups"] if g["Name"] == name)

    def condition(name):
        return truth(t["Conditions"][name])

    def truth(c):
        if "Fn::Equals" in c:
            a, b = (resolve(x) for x in c["Fn::Equals"])
            return str(a) == str(b)
        if "Fn::Not" in c:
            return not truth(c["Fn::Not"][0])
        if "Condition" in c:
            return condition(c["Condition"])
        raise SystemExit(f"condition {c} not understood")

    def resolve(v):
        if isinstance(v, dict) and len(v) == 1:
            (k, x), = v.items()
            if k == "Ref":
                if x == "AWS::NoValue":
                    return NO_VALUE
                return pseudo[x] if x in pseudo else params[x]
            if k == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(pseudo.get(m[1], params.get(m[1]))), x)
            if k == "Fn::If":
                return resolve(x[1] if condition(x[0]) else x[2])
            if k == "Fn::GetAtt":
                if x == ["BotRuleGroup", "Arn"]:
                    return group_arn()
                raise SystemExit(f"GetAtt {x} not understood")
        if isinstance(v, dict):
            out = {k: resolve(x) for k, x in v.items()}
            return {k: x for k, x in out.items() if x is not NO_VALUE}
        if isinstance(v, list):
            return [x for x in (resolve(y) for y in v) if x is not NO_VALUE]
        return v

    def encode_bytes(v):
        # CloudFormation's spelling to the API's: SearchString is bytes to
        # boto3, a reference statement's Arn is ARN.
        if isinstance(v, dict):
            return {("ARN" if k == "Arn" else k): (x.encode() if k == "SearchString" and isinstance(x, str) else encode_bytes(x))
                    for k, x in v.items()}
        if isinstance(v, list):
            return [encode_bytes(x) for x in v]
        return v

    if command == "stack-group":
        props = resolve(t["Resources"]["BotRuleGroup"]["Properties"])
        waf.create_rule_group(**props)
        print(props["Name"])
    else:
        props = encode_bytes(resolve(t["Resources"]["WebAcl"]["Properties"]))
        if command == "stack-acl":
            waf.create_web_acl(**props)
        else:
            acl_id, _, token = acl(props["Name"])
            waf.update_web_acl(Id=acl_id, LockToken=token, **props)
        print(props["Name"])
elif command == "delete-acl":
    (name,) = args
    acl_id, _, token = acl(name)
    waf.delete_web_acl(Name=name, Scope=SCOPE, Id=acl_id, LockToken=token)
elif command == "dump-group":
    (name,) = args
    summary = next(g for g in waf.list_rule_groups(Scope=SCOPE)["RuleGroups"] if g["Name"] == name)
    got = waf.get_rule_group(Name=name, Scope=SCOPE, Id=summary["Id"])["RuleGroup"]
    print(json.dumps(got, default=str, sort_keys=True))
elif command == "count-sets":
    print(json.dumps({"regex": [s["Name"] for s in waf.list_regex_pattern_sets(Scope=SCOPE)["RegexPatternSets"]],
                      "ip": [s["Name"] for s in waf.list_ip_sets(Scope=SCOPE)["IPSets"]]}))
else:
    sys.exit(f"unknown command {command}")
