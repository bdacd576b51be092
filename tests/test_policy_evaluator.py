"""The AWS policy evaluator feature by feature: grammar checks, matching, condition operators,
policy variables, principal types, policy layers, three-valued answers and action knowledge.
Expected answers come from AWS's documentation ('Policy evaluation logic', 'IAM JSON policy
elements: Condition operators', ...), not from the implementation."""

from __future__ import annotations

import time
from typing import Any

import pytest

from auditor.access.aws import actions
from auditor.access.aws.evaluator import (
    NamedPolicy,
    PolicySet,
    Request,
    Result,
    StatementRef,
    evaluate,
    infer_resource_policy_kind,
)
from auditor.access.aws.policy import parse_policy
from auditor.errors import InputError

ACCOUNT = "111122223333"
OTHER = "444455556666"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/app/sess1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
OBJECT = "arn:aws:s3:::reports/q1.csv"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        document["Version"] = version
    return document


def allow(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def request(principal: str = USER, action: str = "s3:GetObject", resource: str = OBJECT,
            context: dict[str, Any] | None = None, *, principal_account: str | None = ACCOUNT,
            resource_account: str | None = ACCOUNT, open_world: bool = False) -> Request:
    return Request(principal, principal_account, action, resource, resource_account,
                   context or {}, open_world)


def named(document: dict[str, Any], name: str = "p") -> NamedPolicy:
    return NamedPolicy(name, document)


def decide(*identity: dict[str, Any], req: Request | None = None, **layers: Any) -> str:
    return run(*identity, req=req, **layers).decision


def run(*identity: dict[str, Any], req: Request | None = None, **layers: Any) -> Result:
    policy_set = PolicySet(identity=tuple(named(d, f"identity-{i}") for i, d in enumerate(identity)),
                           **{k: _wrap(k, v) for k, v in layers.items()})
    return evaluate(req or request(), policy_set)


def _wrap(layer: str, value: Any) -> Any:
    if layer in ("resource", "boundary", "session"):
        return named(value, layer)
    if layer in ("scps", "rcps"):
        return tuple(tuple(named(d, f"{layer}-{i}-{j}") for j, d in enumerate(level))
                     for i, level in enumerate(value))
    return value


def cond(block: dict[str, Any], action: str = "s3:GetObject") -> dict[str, Any]:
    return doc(allow(action, Condition=block))


def condition_holds(block: dict[str, Any], context: dict[str, Any]) -> bool:
    """Whether an Allow guarded by ``block`` allows, under a closed-world ``context``."""
    return decide(cond(block), req=request(context=context)) == "allow"


# --- grammar: malformed documents are InputErrors naming the JSON path ------------------------

@pytest.mark.parametrize("document, location", [
    (doc({"Effect": "Permit", "Action": "s3:*", "Resource": "*"}), "Statement[0].Effect"),
    (doc(allow(NotAction="s3:PutObject")), "Statement[0].NotAction"),
    (doc({"Effect": "Allow", "Resource": "*"}), "Statement[0]"),
    (doc(allow(action=7)), "Statement[0].Action"),
    (doc(allow(action=["s3:GetObject", None])), "Statement[0].Action[1]"),
    (doc(allow(action=[])), "Statement[0].Action"),
    (doc(allow(action="GetObject")), "Statement[0].Action"),
    (doc(allow(resource={"arn": "x"})), "Statement[0].Resource"),
    (doc(allow(NotResource="*")), "Statement[0].NotResource"),
    (doc(allow(), allow(Condition={"StringEqualz": {"aws:x": "y"}})),
     "Statement[1].Condition.StringEqualz"),
    (doc(allow(Condition={"StringEquals": {"aws:x": {"nested": 1}}})),
     "Statement[0].Condition.StringEquals.aws:x"),
    (doc(allow(Condition={"StringEquals": {"aws:x": ["a", ["b"]]}})),
     "Statement[0].Condition.StringEquals.aws:x[1]"),
    (doc(allow(Condition={"NumericLessThan": {"s3:max-keys": "ten"}})),
     "Statement[0].Condition.NumericLessThan.s3:max-keys"),
    (doc(allow(Condition={"DateLessThan": {"aws:CurrentTime": "yesterday"}})),
     "Statement[0].Condition.DateLessThan.aws:CurrentTime"),
    (doc(allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}})),
     "Statement[0].Condition.IpAddress.aws:SourceIp"),
    (doc(allow(Condition={"Null": {"aws:x": "maybe"}})), "Statement[0].Condition.Null.aws:x"),
    (doc(allow(Condition={"ForSomeValues:StringEquals": {"aws:x": "y"}})),
     "Statement[0].Condition.ForSomeValues:StringEquals"),
    (doc(allow(Condition=["StringEquals"])), "Statement[0].Condition"),
    (doc(allow(Principal="arn:aws:iam::111122223333:root")), "Statement[0].Principal"),
    (doc(allow(Principal={"Human": "alice"})), "Statement[0].Principal.Human"),
    (doc(allow(Principal={"AWS": []})), "Statement[0].Principal.AWS"),
    (doc(allow(Sid=3)), "Statement[0].Sid"),
    (doc(allow(Effects="Allow")), "Statement[0].Effects"),
    (doc("not a statement"), "Statement[0]"),
    ({"Version": "2012-10-17"}, "Statement"),
    ({"Version": "2012-10-17", "Statement": "Allow"}, "Statement"),
    ({"Version": "2024-01-01", "Statement": []}, "Version"),
    ({"Version": ["2012-10-17"], "Statement": []}, "Version"),
    ({"Statement": [], "Policy": {}}, "Policy"),
    ({"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": 1}}, "Statement.Action"),
])
def test_malformed_documents_name_the_json_path(document: Any, location: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_policy(document, source="policy.json")
    assert raised.value.location == location
    assert raised.value.source == "policy.json"


def test_a_document_that_is_not_an_object_is_an_input_error() -> None:
    for document in (None, [], "{}", 12):
        with pytest.raises(InputError):
            parse_policy(document)


def test_evaluate_reports_the_policy_id_of_a_malformed_document() -> None:
    broken = NamedPolicy("arn:aws:iam::1:policy/broken", doc({"Effect": "Allow"}))
    with pytest.raises(InputError) as raised:
        evaluate(request(), PolicySet(identity=(broken,)))
    assert raised.value.source == "arn:aws:iam::1:policy/broken"
    assert raised.value.location == "Statement[0]"


@pytest.mark.parametrize("field, value", [("action", None), ("principal", 7),
                                          ("resource_account", 111122223333),
                                          ("context", ["aws:SourceIp"])])
def test_a_malformed_request_is_an_input_error(field: str, value: Any) -> None:
    fields = {"principal": USER, "principal_account": ACCOUNT, "action": "s3:GetObject",
              "resource": OBJECT, "resource_account": ACCOUNT, "context": {}, field: value}
    with pytest.raises(InputError) as raised:
        evaluate(Request(**fields), PolicySet(identity=(named(doc(allow())),)))
    assert raised.value.location == field


def test_statement_and_values_may_be_a_single_object_or_string() -> None:
    single = {"Version": "2012-10-17", "Statement": allow("s3:GetObject", OBJECT)}
    assert decide(single) == "allow"


def test_json_booleans_and_numbers_are_condition_values() -> None:
    assert condition_holds({"Bool": {"aws:SecureTransport": True}},
                           {"aws:SecureTransport": "true"})
    assert condition_holds({"NumericLessThan": {"s3:max-keys": 10}}, {"s3:max-keys": "9"})
    assert condition_holds({"Null": {"aws:TokenIssueTime": True}}, {})


# --- actions and resources ---------------------------------------------------------------------

@pytest.mark.parametrize("pattern, action, expected", [
    ("s3:GetObject", "s3:GetObject", True),
    ("S3:GETOBJECT", "s3:GetObject", True),
    ("s3:getobject", "S3:GetObject", True),
    ("s3:Get*", "s3:GetObjectVersion", True),
    ("s3:Get*", "s3:ListBucket", False),
    ("s3:*Object", "s3:PutObject", True),
    ("s3:*Object", "s3:PutObjectAcl", False),
    ("iam:*AccessKey*", "iam:CreateAccessKey", True),
    ("s3:GetObjec?", "s3:GetObject", True),
    ("s3:GetObjec?", "s3:GetObjects", False),
    ("*", "dynamodb:GetItem", True),
    ("s3:*", "s3express:CreateSession", False),
])
def test_action_matching(pattern: str, action: str, expected: bool) -> None:
    outcome = decide(doc(allow(pattern)), req=request(action=action, resource="*"))
    assert (outcome == "allow") is expected


@pytest.mark.parametrize("pattern, resource, expected", [
    ("arn:aws:s3:::reports/*", "arn:aws:s3:::reports/a/b/c.csv", True),
    ("arn:aws:s3:::rep*", "arn:aws:s3:::reports/q1.csv", True),
    ("arn:aws:s3:::reports", "arn:aws:s3:::reports/q1.csv", False),
    ("arn:aws:s3:::reports/*", "arn:aws:s3:::reports", False),
    ("arn:aws:s3:::reports/q?.csv", "arn:aws:s3:::reports/q1.csv", True),
    ("arn:aws:s3:::reports/q?.csv", "arn:aws:s3:::reports/q10.csv", False),
    ("arn:aws:s3:::Reports/*", "arn:aws:s3:::reports/q1.csv", False),  # ARNs are case-sensitive
    ("arn:aws:s3:::data/*/test/*", "arn:aws:s3:::data/1/2/test/3/x", True),
    ("arn:aws:s3:::data/*/test/*", "arn:aws:s3:::data/test/x", False),
    ("arn:aws:dynamodb:*:111122223333:table/orders",
     "arn:aws:dynamodb:us-east-1:111122223333:table/orders", True),
    ("arn:aws:s3:::*", "*", False),  # an action without resource ARNs needs Resource "*"
    ("*", "*", True),
])
def test_resource_matching(pattern: str, resource: str, expected: bool) -> None:
    outcome = decide(doc(allow("s3:GetObject", pattern)), req=request(resource=resource))
    assert (outcome == "allow") is expected


def test_not_action_and_not_resource() -> None:
    everything_but_iam = doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert decide(everything_but_iam) == "allow"
    assert decide(everything_but_iam, req=request(action="iam:CreateUser", resource="*")) \
        == "implicit-deny"
    fence = doc(allow("s3:*"), {"Effect": "Deny", "Action": "s3:*",
                                "NotResource": ["arn:aws:s3:::reports/*"]})
    assert decide(fence) == "allow"
    assert decide(fence, req=request(resource="arn:aws:s3:::other/x")) == "explicit-deny"


def test_hostile_wildcard_patterns_match_in_linear_time() -> None:
    pattern = "arn:aws:s3:::" + "*a" * 40 + "*b"
    started = time.perf_counter()
    outcome = decide(doc(allow("s3:GetObject", pattern)),
                     req=request(resource="arn:aws:s3:::" + "a" * 20000))
    assert outcome == "implicit-deny"
    assert time.perf_counter() - started < 1.0


# --- condition operators -----------------------------------------------------------------------

@pytest.mark.parametrize("block, context, expected", [
    ({"StringEquals": {"aws:PrincipalTag/team": "ml"}}, {"aws:PrincipalTag/team": "ml"}, True),
    ({"StringEquals": {"aws:PrincipalTag/team": "ml"}}, {"aws:PrincipalTag/team": "ML"}, False),
    ({"StringNotEquals": {"aws:PrincipalTag/team": "ml"}}, {"aws:PrincipalTag/team": "web"},
     True),
    ({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "ml"}},
     {"aws:PrincipalTag/team": "ML"}, True),
    ({"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "ml"}},
     {"aws:PrincipalTag/team": "ML"}, False),
    ({"StringLike": {"s3:prefix": "home/alice/*"}}, {"s3:prefix": "home/alice/a/b"}, True),
    ({"StringLike": {"s3:prefix": "home/?/x"}}, {"s3:prefix": "home/ab/x"}, False),
    ({"StringNotLike": {"s3:prefix": "home/alice/*"}}, {"s3:prefix": "home/bob/"}, True),
    ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.0"}, True),
    ({"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
    ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, True),
    ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.5"}, True),
    ({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "9"}, False),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "many"}, False),
    ({"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}},
     {"aws:CurrentTime": "2026-11-26T12:00:00Z"}, True),
    ({"DateLessThan": {"aws:CurrentTime": "2026-06-30T23:59:59Z"}},
     {"aws:CurrentTime": "2026-11-26T12:00:00Z"}, False),
    ({"DateEquals": {"aws:CurrentTime": "2026-11-26T12:00:00Z"}},
     {"aws:CurrentTime": "2026-11-26T13:00:00+01:00"}, True),
    ({"DateNotEquals": {"aws:CurrentTime": "2026-11-26T12:00:00Z"}},
     {"aws:CurrentTime": "2026-11-26T12:00:01Z"}, True),
    ({"DateLessThanEquals": {"aws:EpochTime": "1795694400"}},
     {"aws:EpochTime": "2026-11-26T12:00:00Z"}, True),
    ({"DateGreaterThanEquals": {"aws:TokenIssueTime": "2026-11-26T12:00:00Z"}},
     {"aws:TokenIssueTime": "1795694399"}, False),
    ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "FALSE"}, True),
    ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}, False),
    ({"BinaryEquals": {"aws:Blob": "QmluYXJ5VmFsdWU="}}, {"aws:Blob": "QmluYXJ5VmFsdWU="}, True),
    ({"BinaryEquals": {"aws:Blob": "QmluYXJ5VmFsdWU="}}, {"aws:Blob": "T3RoZXI="}, False),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.200"}, True),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.114.1"}, False),
    ({"IpAddress": {"aws:SourceIp": "198.51.100.7"}}, {"aws:SourceIp": "198.51.100.7"}, True),
    ({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:SourceIp": "2001:db8:1::5"}, True),
    ({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:SourceIp": "203.0.113.5"}, False),
    ({"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}},
     {"aws:SourceIp": "2001:db8::1"}, False),
    ({"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, {"aws:SourceIp": "198.51.100.1"}, True),
    ({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, {"aws:SourceIp": "not-an-ip"}, False),
    ({"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:topic"}},
     {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:topic"}, True),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:111122223333:orders-*"}},
     {"aws:SourceArn": "arn:aws:sns:eu-west-1:111122223333:orders-eu"}, True),
    # each of the six components is matched on its own: '*' does not swallow a colon
    ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:topic"}},
     {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:topic"}, False),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/etl-*"}},
     {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/etl-nightly"}, True),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/etl-*"}},
     {"aws:PrincipalArn": "not-an-arn"}, False),
    ({"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/admin"}},
     {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/app"}, True),
    ({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/*"}},
     {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/app"}, False),
    ({"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    ({"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": "x"}, False),
    ({"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": "x"}, True),
    ({"Null": {"aws:TokenIssueTime": "false"}}, {}, False),
])
def test_condition_operators(block: dict[str, Any], context: dict[str, Any],
                             expected: bool) -> None:
    assert condition_holds(block, context) is expected


@pytest.mark.parametrize("operator, expected", [
    ("StringEquals", False), ("StringNotEquals", True), ("StringLike", False),
    ("StringNotLike", True), ("StringEqualsIgnoreCase", False),
    ("StringNotEqualsIgnoreCase", True), ("NumericLessThan", False),
    ("NumericNotEquals", True), ("DateGreaterThan", False), ("DateNotEquals", True),
    ("Bool", False), ("IpAddress", False), ("NotIpAddress", True), ("ArnLike", False),
    ("ArnNotLike", True), ("ArnEquals", False), ("ArnNotEquals", True),
    ("StringEqualsIfExists", True), ("NumericLessThanIfExists", True),
    ("ForAnyValue:StringEquals", False), ("ForAllValues:StringEquals", True),
    ("ForAnyValue:StringLikeIfExists", True),
])
def test_absent_key(operator: str, expected: bool) -> None:
    value = {"Numeric": "1", "Date": "2026-01-01T00:00:00Z", "Bool": "true",
             "IpAddress": "10.0.0.0/8", "NotIpAddress": "10.0.0.0/8"}
    text = next((v for k, v in value.items() if k in operator), "arn:aws:iam::1:role/x")
    assert condition_holds({operator: {"aws:SomeKey": text}}, {}) is expected


def test_if_exists_compares_a_present_key() -> None:
    block = {"StringEqualsIfExists": {"aws:RequestTag/env": "dev"}}
    assert condition_holds(block, {"aws:RequestTag/env": "dev"})
    assert not condition_holds(block, {"aws:RequestTag/env": "prod"})


def test_values_are_ored_but_negated_operators_must_match_none() -> None:
    assert condition_holds({"StringEquals": {"aws:PrincipalTag/team": ["ml", "data"]}},
                           {"aws:PrincipalTag/team": "data"})
    assert not condition_holds({"StringNotEquals": {"aws:RequestedRegion":
                                                    ["us-east-1", "eu-west-1"]}},
                               {"aws:RequestedRegion": "eu-west-1"})
    assert condition_holds({"StringNotEquals": {"aws:RequestedRegion":
                                                ["us-east-1", "eu-west-1"]}},
                           {"aws:RequestedRegion": "ap-south-1"})


def test_keys_and_operators_are_anded() -> None:
    block = {"StringEquals": {"aws:PrincipalTag/team": "ml", "aws:RequestedRegion": "us-east-1"},
             "Bool": {"aws:SecureTransport": "true"}}
    everything = {"aws:PrincipalTag/team": "ml", "aws:RequestedRegion": "us-east-1",
                  "aws:SecureTransport": "true"}
    assert condition_holds(block, everything)
    for key in everything:
        assert not condition_holds(block, {k: v for k, v in everything.items() if k != key})


def test_condition_key_names_are_case_insensitive_values_are_not() -> None:
    assert condition_holds({"StringEquals": {"AWS:PRINCIPALTAG/Team": "ml"}},
                           {"aws:principaltag/TEAM": "ml"})
    assert not condition_holds({"StringEquals": {"AWS:PRINCIPALTAG/Team": "ml"}},
                               {"aws:principaltag/TEAM": "Ml"})


@pytest.mark.parametrize("operator, values, context, expected", [
    ("ForAnyValue:StringEquals", ["env", "owner"], ["owner", "cost"], True),
    ("ForAnyValue:StringEquals", ["env", "owner"], ["cost", "project"], False),
    ("ForAnyValue:StringEquals", ["env", "owner"], [], False),
    ("ForAllValues:StringEquals", ["a", "b", "c"], ["a", "b"], True),
    ("ForAllValues:StringEquals", ["a", "b", "c"], ["a", "z"], False),
    ("ForAllValues:StringEquals", ["a", "b", "c"], [], True),
    ("ForAllValues:StringLike", ["team-*"], ["team-a", "team-b"], True),
    ("ForAnyValue:StringLike", ["team-*"], ["x", "team-b"], True),
    ("ForAllValues:StringNotEquals", ["secret"], ["a", "b"], True),
    ("ForAllValues:StringNotEquals", ["secret"], ["a", "secret"], False),
    ("ForAnyValue:StringNotEquals", ["secret"], ["secret", "b"], True),
    ("ForAnyValue:StringNotEquals", ["secret"], ["secret"], False),
])
def test_set_operators(operator: str, values: list[str], context: list[str],
                       expected: bool) -> None:
    assert condition_holds({operator: {"aws:TagKeys": values}},
                           {"aws:TagKeys": context}) is expected


def test_deny_with_false_condition_does_not_apply() -> None:
    policy = doc(allow(), deny(Condition={"StringEquals": {"aws:PrincipalTag/team": "x"}}))
    assert decide(policy, req=request(context={"aws:PrincipalTag/team": "ml"})) == "allow"
    assert decide(policy, req=request(context={"aws:PrincipalTag/team": "x"})) == \
        "explicit-deny"


# --- policy variables --------------------------------------------------------------------------

HOME = "arn:aws:s3:::home/${aws:username}/*"


@pytest.mark.parametrize("version, resource, context, expected", [
    ("2012-10-17", "arn:aws:s3:::home/alice/x", {"aws:username": "alice"}, "allow"),
    ("2012-10-17", "arn:aws:s3:::home/bob/x", {"aws:username": "alice"}, "implicit-deny"),
    # no value: the pattern matches nothing ('IAM policy elements: Variables and tags')
    ("2012-10-17", "arn:aws:s3:::home//x", {}, "implicit-deny"),
    # the old language version and a missing Version keep ${...} as literal text
    ("2008-10-17", "arn:aws:s3:::home/alice/x", {"aws:username": "alice"}, "implicit-deny"),
    ("2008-10-17", "arn:aws:s3:::home/${aws:username}/x", {"aws:username": "alice"}, "allow"),
    (None, "arn:aws:s3:::home/${aws:username}/x", {"aws:username": "alice"}, "allow"),
])
def test_variables_in_resources(version: str | None, resource: str, context: dict[str, Any],
                                expected: str) -> None:
    policy = doc(allow("s3:GetObject", HOME), version=version)
    assert decide(policy, req=request(resource=resource, context=context)) == expected


def test_substituted_values_are_literal_not_wildcards() -> None:
    policy = doc(allow("s3:GetObject", HOME))
    assert decide(policy, req=request(resource="arn:aws:s3:::home/bob/x",
                                      context={"aws:username": "*"})) == "implicit-deny"
    assert decide(policy, req=request(resource="arn:aws:s3:::home/*/x",
                                      context={"aws:username": "*"})) == "allow"


@pytest.mark.parametrize("resource, expected", [
    ("arn:aws:s3:::lit/*/?/$/x", "allow"),
    ("arn:aws:s3:::lit/a/b/$/x", "implicit-deny"),
])
def test_escape_variables_are_literal_characters(resource: str, expected: str) -> None:
    policy = doc(allow("s3:GetObject", "arn:aws:s3:::lit/${*}/${?}/${$}/*"))
    assert decide(policy, req=request(resource=resource)) == expected


def test_variable_default_applies_only_when_the_key_is_absent() -> None:
    policy = doc(allow("s3:PutObject", "arn:aws:s3:::scratch-${aws:PrincipalTag/cc, 'shared'}/*"))
    put = "s3:PutObject"
    assert decide(policy, req=request(action=put, resource="arn:aws:s3:::scratch-shared/t")) \
        == "allow"
    assert decide(policy, req=request(action=put, resource="arn:aws:s3:::scratch-shared/t",
                                      context={"aws:PrincipalTag/cc": "ml"})) == "implicit-deny"
    assert decide(policy, req=request(action=put, resource="arn:aws:s3:::scratch-ml/t",
                                      context={"aws:PrincipalTag/CC": "ml"})) == "allow"


def test_variables_in_conditions() -> None:
    same_project = {"StringEquals": {"aws:ResourceTag/project": "${aws:PrincipalTag/project}"}}
    assert condition_holds(same_project, {"aws:ResourceTag/project": "atlas",
                                          "aws:PrincipalTag/project": "atlas"})
    assert not condition_holds(same_project, {"aws:ResourceTag/project": "atlas",
                                              "aws:PrincipalTag/project": "zeus"})
    # a variable with no value fails positive operators and satisfies negated ones
    assert not condition_holds(same_project, {"aws:ResourceTag/project": "atlas"})
    assert condition_holds({"StringNotEquals": {"aws:ResourceTag/project":
                                                "${aws:PrincipalTag/project}"}},
                           {"aws:ResourceTag/project": "atlas"})
    assert condition_holds({"StringLike": {"s3:prefix": "${aws:username}/*"}},
                           {"aws:username": "alice", "s3:prefix": "alice/photos/"})


def test_variable_in_not_resource_without_value_excludes_nothing() -> None:
    policy = doc(allow("s3:*"), {"Effect": "Deny", "Action": "s3:*",
                                 "NotResource": "arn:aws:s3:::home/${aws:username}/*"})
    assert decide(policy, req=request(resource="arn:aws:s3:::home/alice/x")) == "explicit-deny"
    assert decide(policy, req=request(resource="arn:aws:s3:::home/alice/x",
                                      context={"aws:username": "alice"})) == "allow"


# --- principals in resource-based policies -----------------------------------------------------

def bucket(principal: Any, effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    key = "NotPrincipal" if extra.pop("negated", False) else "Principal"
    return doc({"Effect": effect, key: principal, "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::reports/*", **extra})


@pytest.mark.parametrize("principal, caller, expected", [
    ({"AWS": USER}, USER, "allow"),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}, USER, "implicit-deny"),
    ({"AWS": ROLE}, SESSION, "allow"),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/team/app"}, SESSION, "allow"),  # role names unique
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"}, SESSION, "implicit-deny"),
    ({"AWS": SESSION}, SESSION, "allow"),
    ({"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/app/sess2"}, SESSION, "implicit-deny"),
    ("*", SESSION, "allow"),
    ({"AWS": "*"}, USER, "allow"),
    ({"AWS": [f"arn:aws:iam::{ACCOUNT}:user/bob", USER]}, USER, "allow"),
    ({"Service": "cloudtrail.amazonaws.com"}, USER, "implicit-deny"),
])
def test_same_account_resource_policy_grants(principal: Any, caller: str,
                                             expected: str) -> None:
    assert decide(req=request(principal=caller), resource=bucket(principal)) == expected


def test_account_principal_same_account_delegates_to_identity_policies() -> None:
    # documented for KMS key policies: the account principal enables IAM policies
    key_policy = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                      "Action": "kms:*", "Resource": "*"})
    decrypt = request(principal=SESSION, action="kms:Decrypt", resource=KEY)
    assert decide(req=decrypt, resource=key_policy, resource_policy_kind="kms") == \
        "implicit-deny"
    assert decide(doc(allow("kms:Decrypt")), req=decrypt, resource=key_policy,
                  resource_policy_kind="kms") == "allow"


def test_anonymous_and_service_callers_have_only_a_resource_side() -> None:
    anonymous = request(principal="*", principal_account=None)
    assert decide(req=anonymous, resource=bucket("*")) == "allow"
    assert decide(req=anonymous, resource=bucket({"AWS": "*"})) == "allow"
    assert decide(req=anonymous, resource=bucket({"AWS": ACCOUNT})) == "implicit-deny"
    service = request(principal="logging.s3.amazonaws.com", principal_account=None)
    assert decide(req=service, resource=bucket({"Service": "logging.s3.amazonaws.com"})) == \
        "allow"
    assert decide(req=service, resource=bucket({"Service": "cloudtrail.amazonaws.com"})) == \
        "implicit-deny"


def test_not_principal_deny_exempts_only_exact_identities() -> None:
    fence = doc({"Effect": "Deny", "NotPrincipal": {"AWS": [USER, f"arn:aws:iam::{ACCOUNT}:root"]},
                 "Action": "s3:*", "Resource": "arn:aws:s3:::reports/*"})
    identity = doc(allow("s3:*"))
    assert decide(identity, resource=fence) == "allow"
    bob = request(principal=f"arn:aws:iam::{ACCOUNT}:user/bob")
    assert decide(identity, req=bob, resource=fence) == "explicit-deny"
    # a session is not exempt because its role is listed: its own ARN must be
    role_only = doc({"Effect": "Deny", "NotPrincipal": {"AWS": [ROLE]}, "Action": "s3:*",
                     "Resource": "*"})
    assert decide(identity, req=request(principal=SESSION), resource=role_only) == \
        "explicit-deny"
    assert decide(req=request(principal="*", principal_account=None),
                  resource=doc(*fence["Statement"], *bucket("*")["Statement"])) == \
        "explicit-deny"


def test_not_principal_deny_always_denies_a_principal_with_a_boundary() -> None:
    fence = doc({"Effect": "Deny", "NotPrincipal": {"AWS": [USER, f"arn:aws:iam::{ACCOUNT}:root"]},
                 "Action": "s3:*", "Resource": "*"})
    identity = doc(allow("s3:*"))
    assert decide(identity, resource=fence) == "allow"
    assert decide(identity, resource=fence, boundary=doc(allow("s3:*"))) == "explicit-deny"


# --- how the principal's side and the resource's side combine ---------------------------------

def test_boundary_and_session_policy_limit_a_role_grant_but_not_a_session_grant() -> None:
    dynamo_only = doc(allow("dynamodb:*"))
    caller = request(principal=SESSION)
    for layer in ("boundary", "session"):
        assert decide(req=caller, resource=bucket({"AWS": ROLE}), **{layer: dynamo_only}) == \
            "implicit-deny"
        assert decide(req=caller, resource=bucket({"AWS": SESSION}), **{layer: dynamo_only}) == \
            "allow"
        assert decide(req=caller, resource=bucket({"AWS": ROLE}),
                      **{layer: doc(allow("s3:GetObject"))}) == "allow"
    assert decide(resource=bucket({"AWS": USER}), boundary=dynamo_only) == "allow"


def test_identity_side_is_the_intersection_of_identity_boundary_and_session() -> None:
    everything = doc(allow("*"))
    caller = request(principal=SESSION)
    assert decide(everything, req=caller, boundary=doc(allow("s3:Get*")),
                  session=doc(allow("s3:GetObject"))) == "allow"
    assert decide(everything, req=caller, boundary=doc(allow("s3:Put*")),
                  session=doc(allow("s3:GetObject"))) == "implicit-deny"
    assert decide(req=caller, boundary=everything, session=everything) == "implicit-deny"


def test_cross_account_needs_both_sides() -> None:
    partner = request(principal=f"arn:aws:sts::{OTHER}:assumed-role/partner/job7",
                      principal_account=OTHER)
    grant = bucket({"AWS": OTHER})
    identity = doc(allow("s3:GetObject", "arn:aws:s3:::reports/*"))
    assert decide(identity, req=partner, resource=grant) == "allow"
    assert decide(req=partner, resource=grant) == "implicit-deny"
    assert decide(identity, req=partner) == "implicit-deny"
    assert decide(identity, req=partner, resource=bucket("*")) == "allow"
    # the same-account exemptions do not cross accounts: a session grant still needs identity
    session_grant = bucket({"AWS": f"arn:aws:sts::{OTHER}:assumed-role/partner/job7"})
    assert decide(req=partner, resource=session_grant) == "implicit-deny"
    # the other account's root user holds every permission of its own account
    root = request(principal=f"arn:aws:iam::{OTHER}:root", principal_account=OTHER)
    assert decide(req=root, resource=grant) == "allow"


def test_root_user_has_full_access_in_its_account_except_kms_keys() -> None:
    root = request(principal=f"arn:aws:iam::{ACCOUNT}:root")
    assert decide(req=root) == "allow"
    key_request = request(principal=f"arn:aws:iam::{ACCOUNT}:root", action="kms:Decrypt",
                          resource=KEY)
    admin_only = doc({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:*",
                      "Resource": "*"})
    assert decide(req=key_request, resource=admin_only, resource_policy_kind="kms") == \
        "implicit-deny"
    assert decide(req=root, scps=[[doc(allow("ec2:*"))]]) == "implicit-deny"


def test_key_policies_and_trust_policies_must_allow_on_their_own() -> None:
    decrypt = request(principal=SESSION, action="kms:Decrypt", resource=KEY)
    assert decide(doc(allow("kms:Decrypt")), req=decrypt, resource_policy_kind="kms") == \
        "implicit-deny"
    assume = request(action="sts:AssumeRole", resource=f"arn:aws:iam::{ACCOUNT}:role/deploy")
    trusts_alice = doc({"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "sts:AssumeRole"})
    assert decide(doc(allow("sts:AssumeRole")), req=assume, resource_policy_kind="trust") == \
        "implicit-deny"
    assert decide(req=assume, resource=trusts_alice, resource_policy_kind="trust") == "allow"
    # a user named directly in a trust policy still needs its boundary to allow the call
    assert decide(req=assume, resource=trusts_alice, resource_policy_kind="trust",
                  boundary=doc(allow("s3:*"))) == "implicit-deny"


def test_federated_identity_provider_in_trust_policy() -> None:
    provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    trust = doc({"Effect": "Allow", "Principal": {"Federated": provider},
                 "Action": "sts:AssumeRoleWithWebIdentity",
                 "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub":
                                              "repo:org/app:*"}}})
    call = request(principal=provider, principal_account=None,
                   action="sts:AssumeRoleWithWebIdentity",
                   resource=f"arn:aws:iam::{ACCOUNT}:role/gh",
                   context={"token.actions.githubusercontent.com:sub": "repo:org/app:ref:main"})
    assert decide(req=call, resource=trust, resource_policy_kind="trust") == "allow"


def test_scps_must_allow_at_every_level_and_rcps_too() -> None:
    full = doc(allow("*"))
    identity = doc(allow("s3:*"))
    assert decide(identity, scps=[[full], [full], [full]]) == "allow"
    assert decide(identity, scps=[[full], [doc(allow("ec2:*"))], [full]]) == "implicit-deny"
    assert decide(identity, scps=[[full], [], [full]]) == "implicit-deny"
    assert decide(identity, scps=[[full, doc(deny())], [full]]) == "explicit-deny"
    rcp_full = doc({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})
    rcp_deny = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"})
    assert decide(identity, rcps=[[rcp_full], [rcp_full]]) == "allow"
    assert decide(identity, rcps=[[rcp_full], [rcp_full, rcp_deny]]) == "explicit-deny"
    assert decide(rcps=[[rcp_full]]) == "implicit-deny"  # RCPs never grant


def test_scps_do_not_govern_callers_without_an_account() -> None:
    anonymous = request(principal="*", principal_account=None)
    assert decide(req=anonymous, resource=bucket("*"), scps=[[doc(allow("ec2:*"))]]) == "allow"


def test_explicit_deny_in_any_layer_wins() -> None:
    everything = doc(allow("*"))
    caller = request(principal=SESSION)
    blocked = doc(allow("*"), deny())
    for layer in ("boundary", "session"):
        assert decide(everything, req=caller, **{layer: blocked}) == "explicit-deny"
    assert decide(everything, req=caller, resource=bucket("*", effect="Deny")) == "explicit-deny"
    assert decide(everything, blocked, req=caller) == "explicit-deny"


@pytest.mark.parametrize("action, resource, kind", [
    ("sts:AssumeRole", "arn:aws:iam::1:role/x", "trust"),
    ("sts:AssumeRoleWithWebIdentity", "arn:aws:iam::1:role/x", "trust"),
    ("iam:GetRole", "arn:aws:iam::1:role/x", "generic"),
    ("kms:Decrypt", KEY, "kms"),
    ("s3:GetObject", OBJECT, "s3"),
    ("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q", "generic"),
    ("iam:ListRoles", "*", "generic"),
])
def test_infer_resource_policy_kind(action: str, resource: str, kind: str) -> None:
    assert infer_resource_policy_kind(action, resource) == kind


# --- proofs and three-valued answers -----------------------------------------------------------

def test_proof_names_the_deciding_statements() -> None:
    identity = doc({"Sid": "ReadReports", **allow("s3:GetObject", "arn:aws:s3:::reports/*")},
                   allow("ec2:*"))
    result = run(identity)
    assert result.allowed_by == (StatementRef("identity-0", "ReadReports", "Allow"),)
    result = run(identity, doc(allow("ec2:*"), deny("s3:*")))
    assert result.decision == "explicit-deny"
    assert result.denied_by == (StatementRef("identity-1", "#1", "Deny"),)


def test_open_world_unknown_key_makes_an_allow_conditional() -> None:
    guarded = cond({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})
    result = run(guarded, req=request(open_world=True))
    assert result.decision == "conditional"
    assert result.allowed_by == (StatementRef("identity-0", "#0", "Allow"),)
    assert result.conditions == ({"policy": "identity-0", "statement": "#0", "effect": "Allow",
                                  "condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
                                  "undecided": ["IpAddress aws:SourceIp"]},)
    # the same question closed-world: the key is absent, so the Allow does not apply
    assert run(guarded).decision == "implicit-deny"
    # a known value decides it
    assert run(guarded, req=request(context={"aws:SourceIp": "203.0.113.9"},
                                    open_world=True)).decision == "allow"


def test_open_world_unknown_deny_over_an_allow_is_conditional() -> None:
    policy = doc(allow(), deny(Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}}))
    result = run(policy, req=request(open_world=True))
    assert result.decision == "conditional"
    assert result.denied_by == (StatementRef("identity-0", "#1", "Deny"),)
    assert result.conditions[0]["undecided"] == ["Bool aws:MultiFactorAuthPresent"]
    # with nothing allowing, a possible deny changes nothing: the request is denied anyway
    assert run(doc(policy["Statement"][1]), req=request(open_world=True)).decision == \
        "implicit-deny"


def test_open_world_unknown_variable_in_resource_is_conditional() -> None:
    result = run(doc(allow("s3:GetObject", "arn:aws:s3:::team-${aws:PrincipalTag/team}/*")),
                 req=request(principal=SESSION, resource="arn:aws:s3:::team-ml/x",
                             open_world=True))
    assert result.decision == "conditional"
    assert result.conditions[0]["undecided"] == ["Resource"]


def test_open_world_derives_keys_that_follow_from_the_request() -> None:
    only_app = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
                    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": ROLE}}})
    identity = doc(allow("s3:*"))
    assert run(identity, req=request(principal=SESSION, open_world=True),
               resource=only_app).decision == "allow"
    other = request(principal=f"arn:aws:sts::{ACCOUNT}:assumed-role/web/s", open_world=True)
    assert run(identity, req=other, resource=only_app).decision == "explicit-deny"


def test_conditional_layers_combine_three_valued() -> None:
    unknown = {"StringEquals": {"aws:PrincipalTag/team": "ml"}}
    caller = request(principal=SESSION, open_world=True)
    # an undecided boundary leaves the answer undecided; a failing one decides it
    assert run(doc(allow()), req=caller, boundary=cond(unknown)).decision == "conditional"
    assert run(doc(allow("ec2:*")), req=caller, boundary=cond(unknown)).decision == \
        "implicit-deny"
    # one certain path is enough, whatever the undecided one
    assert run(doc(allow()), cond(unknown), req=caller).decision == "allow"


# --- robustness --------------------------------------------------------------------------------

def test_ten_thousand_statements() -> None:
    statements = [allow("s3:GetObject", f"arn:aws:s3:::bucket-{i}/*") for i in range(10_000)]
    policy = doc(*statements)
    assert decide(policy, req=request(resource="arn:aws:s3:::bucket-9999/x")) == "allow"
    assert decide(policy, req=request(resource="arn:aws:s3:::bucket-10000/x")) == "implicit-deny"


def test_odd_unicode_and_nul_bytes_are_plain_text() -> None:
    weird = "arn:aws:s3:::b\x00ucket/\u202e\ud800/é/*"
    policy = doc(allow("s3:GetObject", weird,
                       Condition={"StringEquals": {"aws:PrincipalTag/\x00": "\U0001f600"}}))
    assert decide(policy, req=request(resource="arn:aws:s3:::b\x00ucket/\u202e\ud800/é/x",
                                      context={"aws:PrincipalTag/\x00": "\U0001f600"})) == "allow"


def test_deeply_nested_documents_are_input_errors() -> None:
    nested: Any = "s3:GetObject"
    for _ in range(5000):
        nested = [nested]
    with pytest.raises(InputError):
        parse_policy(doc(allow(nested)))
    deep_condition: Any = "x"
    for _ in range(5000):
        deep_condition = {"k": deep_condition}
    with pytest.raises(InputError):
        parse_policy(doc(allow(Condition={"StringEquals": deep_condition})))


def test_a_policy_is_parsed_once_per_document() -> None:
    document = doc(allow())
    policy_set = PolicySet(identity=(named(document),))
    assert evaluate(request(), policy_set).decision == "allow"
    document["Statement"] = "garbage"  # documents are immutable to the evaluator
    assert evaluate(request(), policy_set).decision == "allow"


# --- action knowledge --------------------------------------------------------------------------

def test_expand_action_patterns() -> None:
    gets = actions.expand("s3:Get*")
    assert "s3:GetObject" in gets and "s3:GetObjectVersion" in gets
    assert all(name.startswith("s3:Get") for name in gets)
    assert actions.expand("S3:GETOBJECT") == ("s3:GetObject",)
    assert actions.expand("s3:NoSuchThing*") == ()


def test_access_levels_come_from_the_database() -> None:
    assert actions.access_level("s3:GetObject") == "Read"
    assert actions.access_level("s3:putobject") == "Write"
    assert actions.access_level("s3:ListBucket") == "List"
    assert actions.access_level("s3:PutBucketPolicy") == "Permissions management"
    assert actions.access_level("s3:PutObjectTagging") == "Tagging"
    assert actions.access_level("s3:Imaginary") is None


def test_access_class_map() -> None:
    classes = actions.ACCESS_CLASS_ACTIONS
    assert set(classes) == {"read", "write", "delete", "admin"}
    assert classes["read"]["s3"] == ("s3:GetObject", "s3:GetObjectVersion")
    assert classes["write"]["s3"] == ("s3:PutObject",)
    assert classes["delete"]["s3"] == ("s3:DeleteObject", "s3:DeleteObjectVersion")
    assert classes["read"]["kms"] == ("kms:Decrypt",)
    assert classes["write"]["kms"] == ("kms:GenerateDataKey",)
    admin_s3 = set(classes["admin"]["s3"])
    assert {"s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketAcl", "s3:PutObjectAcl",
            "s3:PutBucketPublicAccessBlock", "s3:PutBucketOwnershipControls"} <= admin_s3
    assert {"kms:PutKeyPolicy", "kms:CreateGrant"} <= set(classes["admin"]["kms"])
    # admin is permissions management (plus Object Ownership, which re-enables ACLs)
    assert all(actions.access_level(a) == "Permissions management"
               for service in classes["admin"].values() for a in service
               if a != "s3:PutBucketOwnershipControls")
    assert "s3:PutAccountPublicAccessBlock" not in admin_s3  # not a bucket or object action
    assert "s3:GetObject" not in admin_s3


def test_actions_for_classes_and_actions() -> None:
    assert actions.actions_for("read") == ("s3:GetObject", "s3:GetObjectVersion", "kms:Decrypt")
    assert actions.actions_for("s3:getobject") == ("s3:GetObject",)
    assert "s3:GetObjectVersion" in actions.actions_for("s3:GetObject*")
    with pytest.raises(InputError):
        actions.actions_for("s3:Teleport")
    with pytest.raises(InputError):
        actions.actions_for("copy")
    with pytest.raises(InputError):
        actions.actions_for("s3:Teleport*")
