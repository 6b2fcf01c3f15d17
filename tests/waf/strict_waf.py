"""A strict AWS WAF for waf-sync's tests: an HTTP proxy in front of the WAF
emulator (moto server) that answers like the real service where moto is
lenient, and forwards everything else.

- Every WAFV2 request is checked against the published API model that
  botocore ships (service `wafv2`): required and unknown members, string
  lengths, patterns and enums, list and map sizes, integer ranges, blob
  lengths. A violation answers 400 ValidationException naming the member, as
  AWS does, and is counted.
- Service quotas moto does not enforce: 10 regex pattern sets and 100 IP sets
  per scope (counting sets anyone made), 10 regexes per set, 200 characters
  per regex, 10,000 addresses per IP set, web ACL capacity 5,000 WCU
  (WAFLimitsExceededException); a CIDR block that is not one
  (WAFInvalidParameterException).
- Referential rules: a web ACL or rule group may reference only sets (and a
  web ACL only rule groups) that exist (WAFNonexistentItemException); a set
  a web ACL or rule group references cannot be deleted
  (WAFAssociatedItemException); with --unavailable, the first UpdateWebACL
  or UpdateRuleGroup that references newly created sets answers
  WAFUnavailableEntityException (AWS needs a while before a new set can be
  used; by the retry they are).
- Rule groups: the rules' WCU must fit the capacity the group was created
  with (WAFLimitsExceededException); in a web ACL a rule group reference
  costs that capacity.
- Where moto's answers are not AWS's shape, the proxy makes them so: moto
  gives IP sets 6-character lock tokens, AWS gives UUIDs; the proxy hands out
  a UUID for each and translates it back on the way in.
- An update that leaves a web ACL or rule group with no rules empties it on
  AWS; moto keeps the old rules instead (it reads an empty list as "not
  given"), so the proxy remembers the emptied ones and answers their reads,
  and its own reference checks, with no rules.
- UpdateWebACL replaces the whole web ACL on AWS: a field the request leaves
  out is cleared. moto keeps it instead, so the proxy refuses such a request
  (400 StrictWafFieldWouldBeCleared) rather than let a test pass that would
  wipe a real ACL's custom response bodies or CAPTCHA settings.

GET /_strict/stats reports the counts (model violations by member, quota and
reference refusals, the largest web ACL capacity seen).

Usage: strict_waf.py MOTO_URL PORT_FILE [--unavailable]
       strict_waf.py --self-test
"""
import base64
import http.client
import ipaddress
import json
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.session

MODEL = botocore.session.get_session().get_service_model("wafv2")
PREFIX = "AWSWAF_20190729."

MAX_REGEX_SETS = 10
MAX_IP_SETS = 100
MAX_REGEXES_PER_SET = 10
MAX_REGEX_CHARS = 200
MAX_ADDRESSES = 10_000
MAX_WCU = 5_000
# WCU of the AWS managed rule groups the tests' web ACLs reference.
MANAGED_WCU = {
    "AWSManagedRulesCommonRuleSet": 700,
    "AWSManagedRulesSQLiRuleSet": 200,
    "AWSManagedRulesKnownBadInputsRuleSet": 200,
}
# UpdateWebACL fields AWS clears when the request leaves them out.
REPLACED = ["Description", "CustomResponseBodies", "CaptchaConfig", "ChallengeConfig",
            "TokenDomains", "AssociationConfig", "DataProtectionConfig"]
# The same for UpdateRuleGroup.
REPLACED_GROUP = ["Description", "CustomResponseBodies"]

_compiled = {}


def _pattern(p):
    if p not in _compiled:
        try:
            _compiled[p] = re.compile(p, re.DOTALL)
        except re.error:
            _compiled[p] = None
    return _compiled[p]


def validate(shape, value, path, errors):
    """Appends (path, constraint) for every way `value` breaks `shape`."""
    t, m = shape.type_name, shape.metadata
    at = path or shape.name

    def bound(n, what):
        if "min" in m and n < m["min"]:
            errors.append((at, f"Member must have {what} greater than or equal to {m['min']}"))
        if "max" in m and n > m["max"]:
            errors.append((at, f"Member must have {what} less than or equal to {m['max']}"))

    if t == "structure":
        if not isinstance(value, dict):
            errors.append((at, "Member must be a structure"))
            return
        for name in shape.required_members:
            if name not in value:
                errors.append((f"{path}.{name}" if path else name, "Member must not be null"))
        for name, v in value.items():
            if name not in shape.members:
                errors.append((f"{path}.{name}" if path else name, "Member is not in the model"))
                continue
            validate(shape.members[name], v, f"{path}.{name}" if path else name, errors)
    elif t == "list":
        if not isinstance(value, list):
            errors.append((at, "Member must be a list"))
            return
        bound(len(value), "length")
        for i, x in enumerate(value):
            validate(shape.member, x, f"{at}.{i + 1}.member", errors)
    elif t == "map":
        if not isinstance(value, dict):
            errors.append((at, "Member must be a map"))
            return
        bound(len(value), "length")
        for k, v in value.items():
            validate(shape.key, k, f"{at}.key", errors)
            validate(shape.value, v, f"{at}.{k}", errors)
    elif t == "string":
        if not isinstance(value, str):
            errors.append((at, "Member must be a string"))
            return
        bound(len(value), "length")
        if "pattern" in m:
            rx = _pattern(m["pattern"])
            if rx is not None and not rx.search(value):
                errors.append((at, f"Member must satisfy regular expression pattern: {m['pattern']}"))
        if shape.enum and value not in shape.enum:
            errors.append((at, f"Member must satisfy enum value set: {shape.enum}"))
    elif t in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append((at, "Member must be an integer"))
            return
        if "min" in m and value < m["min"]:
            errors.append((at, f"Member must have value greater than or equal to {m['min']}"))
        if "max" in m and value > m["max"]:
            errors.append((at, f"Member must have value less than or equal to {m['max']}"))
    elif t == "boolean":
        if not isinstance(value, bool):
            errors.append((at, "Member must be a boolean"))
    elif t == "blob":
        try:
            raw = base64.b64decode(value, validate=True)
        except Exception:  # noqa: BLE001 - any decoding failure is the violation
            errors.append((at, "Member must be base64"))
            return
        bound(len(raw), "length")


def model_errors(op, body):
    shape = MODEL.operation_model(op).input_shape
    errors = []
    validate(shape, body, "", errors)
    return errors


def statement_wcu(s, groups=None):
    """Web ACL capacity units of one statement, after AWS's published costs;
    `groups` maps a rule group's ARN to its capacity."""
    if not isinstance(s, dict):
        return 0
    if "RuleGroupReferenceStatement" in s:
        return (groups or {}).get(s["RuleGroupReferenceStatement"].get("ARN"), 0)
    def transforms(x):
        return 10 * sum(1 for t in x.get("TextTransformations", []) if t.get("Type") != "NONE")
    if "AndStatement" in s or "OrStatement" in s:
        inner = s.get("AndStatement") or s.get("OrStatement")
        return sum(statement_wcu(x, groups) for x in inner.get("Statements", []))
    if "NotStatement" in s:
        return statement_wcu(s["NotStatement"].get("Statement"), groups)
    if "RegexPatternSetReferenceStatement" in s:
        return 25 + transforms(s["RegexPatternSetReferenceStatement"])
    if "RegexMatchStatement" in s:
        return 3 + transforms(s["RegexMatchStatement"])
    if "IPSetReferenceStatement" in s:
        return 1
    if "ByteMatchStatement" in s:
        b = s["ByteMatchStatement"]
        return (1 if b.get("PositionalConstraint") == "EXACTLY" else 2) + transforms(b)
    if "RateBasedStatement" in s:
        r = s["RateBasedStatement"]
        keys = r.get("CustomKeys", [])
        return 2 + 30 * max(0, len(keys) - 1) + statement_wcu(r.get("ScopeDownStatement"), groups)
    if "ManagedRuleGroupStatement" in s:
        return MANAGED_WCU.get(s["ManagedRuleGroupStatement"].get("Name"), 100)
    return 1


def arns_in(value):
    text = json.dumps(value)
    return set(re.findall(r'"ARN": "([^"]+)"', text))


class Strict:
    def __init__(self, moto, unavailable):
        self.moto = moto
        self.unavailable = unavailable
        self.lock = threading.Lock()
        self.fresh = set()  # ARNs created and not yet referenced
        self.tokens = {}  # AWS-shaped lock token -> moto's
        self.emptied = set()  # ids of web ACLs and rule groups updated to no rules
        self.stats = {"requests": 0, "model_violations": {}, "refused": {}, "max_wcu": 0}

    def call(self, op, body):
        """Asks moto directly (for the checks that need its state)."""
        conn = http.client.HTTPConnection(*self.moto)
        conn.request("POST", "/", json.dumps(body), {
            "X-Amz-Target": PREFIX + op, "Content-Type": "application/x-amz-json-1.1",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/wafv2/aws4_request, SignedHeaders=host, Signature=0"})
        data = json.loads(conn.getresponse().read() or b"{}")
        conn.close()
        return self.overlay(op, data)

    def overlay(self, op, data):
        """moto's answer with the rules AWS would have (see `emptied`)."""
        key = {"GetWebACL": "WebACL", "GetRuleGroup": "RuleGroup"}.get(op)
        entity = data.get(key) if key else None
        if isinstance(entity, dict):
            with self.lock:
                if entity.get("Id") in self.emptied:
                    entity["Rules"] = []
        return data

    def groups(self, scope):
        """Rule groups in moto: ARN -> (summary, group)."""
        out = {}
        for g in self.call("ListRuleGroups", {"Scope": scope, "Limit": 100}).get("RuleGroups", []):
            got = self.call("GetRuleGroup", {"Name": g["Name"], "Scope": scope, "Id": g["Id"]}).get("RuleGroup", {})
            out[g["ARN"]] = (g, got)
        return out

    def references(self, op, body, scope):
        """None, or the refusal for a rules list that references what does not
        exist or was created moments ago."""
        known = set()
        for kind, field in (("ListRegexPatternSets", "RegexPatternSets"), ("ListIPSets", "IPSets")):
            known |= {s["ARN"] for s in self.call(kind, {"Scope": scope, "Limit": 100}).get(field, [])}
        referenced = {a for a in arns_in(body.get("Rules", [])) if "/regexpatternset/" in a or "/ipset/" in a}
        groups = {a for a in arns_in(body.get("Rules", [])) if "/rulegroup/" in a}
        for arn in referenced:
            if arn not in known:
                return self.refuse("WAFNonexistentItemException", f"{arn} does not exist")
        have = self.groups(scope)
        for arn in groups:
            if arn not in have:
                return self.refuse("WAFNonexistentItemException", f"{arn} does not exist")
        with self.lock:
            fresh = referenced & self.fresh
            if self.unavailable and fresh:
                # By the time the caller retries, they have become available.
                self.fresh -= fresh
                return self.refuse("WAFUnavailableEntityException",
                                   f"{sorted(fresh)[0]} was created moments ago and is not available yet; retry")
        return None

    def refuse(self, kind, message):
        self.stats["refused"][kind] = self.stats["refused"].get(kind, 0) + 1
        return 400, {"__type": kind, "Message": message}

    def check(self, op, body):
        """None, or (status, error body) as AWS would answer."""
        errors = model_errors(op, body)
        if errors:
            for path, _ in errors:
                v = self.stats["model_violations"]
                v[path] = v.get(path, 0) + 1
            msg = "; ".join(f"Value at '{p}' failed to satisfy constraint: {c}" for p, c in errors)
            return 400, {"__type": "ValidationException",
                         "message": f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected: {msg}"}
        scope = body.get("Scope", "CLOUDFRONT")
        if op in ("CreateRegexPatternSet", "UpdateRegexPatternSet"):
            if op == "CreateRegexPatternSet":
                have = self.call("ListRegexPatternSets", {"Scope": scope, "Limit": 100}).get("RegexPatternSets", [])
                if len(have) >= MAX_REGEX_SETS:
                    return self.refuse("WAFLimitsExceededException",
                                       f"{len(have)} regex pattern sets exist in {scope}; the quota is {MAX_REGEX_SETS}")
            regexes = body.get("RegularExpressionList", [])
            if len(regexes) > MAX_REGEXES_PER_SET:
                return self.refuse("WAFLimitsExceededException",
                                   f"{len(regexes)} regexes in one set; the quota is {MAX_REGEXES_PER_SET}")
            long = [r["RegexString"] for r in regexes if len(r.get("RegexString", "")) > MAX_REGEX_CHARS]
            if long:
                return self.refuse("WAFLimitsExceededException",
                                   f"a regex of {len(long[0])} characters; the quota is {MAX_REGEX_CHARS}")
        if op in ("CreateIPSet", "UpdateIPSet"):
            if op == "CreateIPSet":
                have = self.call("ListIPSets", {"Scope": scope, "Limit": 100}).get("IPSets", [])
                if len(have) >= MAX_IP_SETS:
                    return self.refuse("WAFLimitsExceededException",
                                       f"{len(have)} IP sets exist in {scope}; the quota is {MAX_IP_SETS}")
            addresses = body.get("Addresses", [])
            if len(addresses) > MAX_ADDRESSES:
                return self.refuse("WAFLimitsExceededException",
                                   f"{len(addresses)} addresses in one IP set; the quota is {MAX_ADDRESSES}")
            for a in addresses:
                try:
                    net = ipaddress.ip_network(a, strict=True)
                except ValueError:
                    return self.refuse("WAFInvalidParameterException", f"{a!r} is not a CIDR block")
                if net.prefixlen == 0 or "/" not in a:
                    return self.refuse("WAFInvalidParameterException", f"{a!r}: /0 and bare addresses are refused")
                version = body.get("IPAddressVersion")
                if version and (net.version == 4) != (version == "IPV4"):
                    return self.refuse("WAFInvalidParameterException", f"{a!r} is not {version}")
        if op in ("DeleteRegexPatternSet", "DeleteIPSet"):
            users = []
            for a in self.call("ListWebACLs", {"Scope": scope, "Limit": 100}).get("WebACLs", []):
                got = self.call("GetWebACL", {"Name": a["Name"], "Scope": scope, "Id": a["Id"]}).get("WebACL", {})
                users.append((f"web ACL {a['Name']}", got.get("Rules", [])))
            for summary, group in self.groups(scope).values():
                users.append((f"rule group {summary['Name']}", group.get("Rules", [])))
            for who, rules in users:
                if any(body["Id"] in arn and body["Name"] in arn for arn in arns_in(rules)):
                    return self.refuse("WAFAssociatedItemException", f"{body['Name']} is referenced by {who}")
        if op in ("CreateWebACL", "UpdateWebACL"):
            capacities = {arn: g.get("Capacity", 0) for arn, (_, g) in self.groups(scope).items()}
            wcu = sum(statement_wcu(r.get("Statement"), capacities) for r in body.get("Rules", []))
            self.stats["max_wcu"] = max(self.stats["max_wcu"], wcu)
            if wcu > MAX_WCU:
                return self.refuse("WAFLimitsExceededException", f"capacity {wcu} WCU; the web ACL allows {MAX_WCU}")
            refused = self.references(op, body, scope)
            if refused:
                return refused
        if op == "UpdateWebACL":
            current = self.call("GetWebACL", {"Name": body["Name"], "Scope": scope, "Id": body["Id"]}).get("WebACL", {})
            for field in REPLACED:
                if current.get(field) not in (None, "", [], {}) and field not in body:
                    return self.refuse("StrictWafFieldWouldBeCleared",
                                       f"UpdateWebACL leaves out {field}, which the web ACL has: AWS WAF would clear it")
        if op in ("CreateRuleGroup", "UpdateRuleGroup"):
            if op == "CreateRuleGroup":
                capacity = body.get("Capacity", 0)
            else:
                current = self.call("GetRuleGroup", {"Name": body["Name"], "Scope": scope, "Id": body["Id"]}).get("RuleGroup", {})
                capacity = current.get("Capacity", 0)
                for field in REPLACED_GROUP:
                    if current.get(field) not in (None, "", [], {}) and field not in body:
                        return self.refuse("StrictWafFieldWouldBeCleared",
                                           f"UpdateRuleGroup leaves out {field}, which the group has: AWS WAF would clear it")
            wcu = sum(statement_wcu(r.get("Statement")) for r in body.get("Rules", []))
            self.stats["max_group_wcu"] = max(self.stats.get("max_group_wcu", 0), wcu)
            if wcu > capacity:
                return self.refuse("WAFLimitsExceededException", f"rules of {wcu} WCU; the rule group's capacity is {capacity}")
            refused = self.references(op, body, scope)
            if refused:
                return refused
        return None

    UUID = re.compile(r"^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$")

    def outward(self, data):
        """moto's answer with AWS-shaped lock tokens."""
        for key in ("LockToken", "NextLockToken"):
            t = data.get(key)
            if isinstance(t, str) and not self.UUID.match(t):
                aws = str(uuid.uuid5(uuid.NAMESPACE_URL, "moto-lock-token:" + t))
                with self.lock:
                    self.tokens[aws] = t
                data[key] = aws
        summary = data.get("Summary")
        if isinstance(summary, dict):
            self.outward(summary)
        return data

    def inward(self, body):
        """A request with moto's lock token back in place."""
        t = body.get("LockToken")
        with self.lock:
            if t in self.tokens:
                body["LockToken"] = self.tokens[t]
        return body

    def after(self, op, status, data, body=None):
        if status == 200 and op in ("UpdateWebACL", "UpdateRuleGroup") and body:
            with self.lock:
                if body.get("Rules"):
                    self.emptied.discard(body.get("Id"))
                else:
                    self.emptied.add(body.get("Id"))
        self.overlay(op, data)
        if status == 200 and op in ("CreateRegexPatternSet", "CreateIPSet"):
            arn = (data.get("Summary") or {}).get("ARN")
            if arn:
                with self.lock:
                    self.fresh.add(arn)


def serve(moto_url, port_file, unavailable):
    host, port = moto_url.removeprefix("http://").split(":")
    strict = Strict((host, int(port)), unavailable)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, headers, data):
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/_strict/stats":
                self.reply(200, [("Content-Type", "application/json")], json.dumps(strict.stats).encode())
            else:
                self.forward(b"")

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = self.headers.get("X-Amz-Target", "")
            op = target.removeprefix(PREFIX) if target.startswith(PREFIX) else None
            parsed = None
            if op:
                strict.stats["requests"] += 1
                try:
                    parsed = json.loads(body or b"{}")
                except ValueError:
                    return self.reply(400, [("Content-Type", "application/x-amz-json-1.1")],
                                      json.dumps({"__type": "SerializationException"}).encode())
                refused = strict.check(op, parsed)
                if refused:
                    status, err = refused
                    return self.reply(status, [("Content-Type", "application/x-amz-json-1.1"),
                                               ("x-amzn-ErrorType", err["__type"])], json.dumps(err).encode())
            if parsed is not None:
                body = json.dumps(strict.inward(parsed)).encode()
            status, headers, data = self.forward(body, reply=False)
            if op:
                try:
                    answer = json.loads(data or b"{}")
                    strict.after(op, status, answer, parsed)
                    if isinstance(answer, dict):
                        data = json.dumps(strict.outward(answer)).encode()
                except ValueError:
                    pass
            self.reply(status, headers, data)

        def forward(self, body, reply=True):
            conn = http.client.HTTPConnection(host, int(port))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            conn.request(self.command, self.path, body, headers)
            r = conn.getresponse()
            out = (r.status, r.getheaders(), r.read())
            conn.close()
            if reply:
                self.reply(*out)
            return out

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


def self_test():
    """Each constraint kind refused, on requests shaped like waf-sync's."""
    ok = {"Name": "edge-bots-ua-0", "Scope": "CLOUDFRONT", "Description": "managed by waf-sync, rows=3",
          "RegularExpressionList": [{"RegexString": "foobot"}]}
    assert model_errors("CreateRegexPatternSet", ok) == [], model_errors("CreateRegexPatternSet", ok)
    cases = {
        "pattern (the old description)": ("CreateRegexPatternSet", {**ok, "Description": "managed by waf-sync; rows=3"}, "Description"),
        "required": ("CreateRegexPatternSet", {k: v for k, v in ok.items() if k != "Scope"}, "Scope"),
        "enum": ("CreateRegexPatternSet", {**ok, "Scope": "GLOBAL"}, "Scope"),
        "string length": ("CreateRegexPatternSet", {**ok, "Name": "x" * 129}, "Name"),
        "unknown member": ("CreateRegexPatternSet", {**ok, "Colour": "red"}, "Colour"),
        "list length": ("UpdateWebACL", {"Name": "a", "Scope": "CLOUDFRONT", "Id": "0" * 8 + "-0000-0000-0000-" + "0" * 12,
                                         "DefaultAction": {"Allow": {}},
                                         "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"},
                                         "LockToken": "0" * 8 + "-0000-0000-0000-" + "0" * 12,
                                         "Rules": [{"Name": "r", "Priority": 1, "Action": {"Block": {}},
                                                    "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "r"},
                                                    "Statement": {"RegexMatchStatement": {"RegexString": "x", "FieldToMatch": {"UriPath": {}},
                                                                                          "TextTransformations": []}}}]}, "Rules"),
        "integer range": ("ListRegexPatternSets", {"Scope": "CLOUDFRONT", "Limit": 0}, "Limit"),
        "type": ("ListRegexPatternSets", {"Scope": "CLOUDFRONT", "Limit": "ten"}, "Limit"),
    }
    for kind, (op, body, member) in cases.items():
        errors = model_errors(op, body)
        assert any(p.split(".")[0] == member for p, _ in errors), (kind, errors)
        print(f"refused: {kind}: {errors[0][0]}: {errors[0][1][:90]}")
    wcu = statement_wcu({"AndStatement": {"Statements": [
        {"RegexPatternSetReferenceStatement": {"ARN": "a", "TextTransformations": [{"Type": "LOWERCASE", "Priority": 0}]}},
        {"NotStatement": {"Statement": {"IPSetReferenceStatement": {"ARN": "b"}}}}]}})
    assert wcu == 36, wcu
    print("self-test ok")


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        self_test()
    else:
        serve(sys.argv[1], sys.argv[2], "--unavailable" in sys.argv[3:])
