"""The condition language and the engine, on hand-built inventories and access maps."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.access.model import AccessGrant, AccessMap, AssetAccess, PathStep
from auditor.classify.model import Classification
from auditor.errors import RuleError
from auditor.inventory import CollectionError, Inventory, Resource, Scope
from auditor.rules.context import EvaluationContext
from auditor.rules.engine import evaluate_rules, resource_status
from auditor.rules.loader import parse_rule
from auditor.rules.model import Remediation, Verdict, YamlRule
from auditor.rules.operators import OPERATORS

NOW = datetime(2025, 6, 1, tzinfo=UTC)
ACCOUNT = "111122223333"
DOCS = Path(__file__).parent.parent / "docs" / "rules.md"


def make_rule(condition: str, *, resource_type: str = "aws.s3.bucket", applies_to: str = "",
              message: str = "{name} fails", evidence: str = "", severity: str = "high",
              rule_id: str = "") -> YamlRule:
    provider, service = resource_type.split(".")[:2]
    lines = [f"id: {rule_id or f'{provider}.{service}.test'}", "title: Test", f"severity: {severity}",
             f"resource_type: {resource_type}", f"condition: {condition}",
             f"message: {json.dumps(message)}", "rationale: r", "remediation: {text: t, cli: c}",
             "references: [https://docs.aws.amazon.com/x]"]
    if applies_to:
        lines.append(f"applies_to: {applies_to}")
    if evidence:
        lines.append(f"evidence: {evidence}")
    return parse_rule("\n".join(lines) + "\n", "test.yaml")


def bucket(name: str = "b", unknown: tuple[str, ...] = (), tags: dict[str, str] | None = None,
           **attributes: Any) -> Resource:
    return Resource(id=f"arn:aws:s3:::{name}", type="aws.s3.bucket", provider="aws",
                    account=ACCOUNT, name=name, region="us-east-1", attributes=attributes,
                    tags=tags or {}, unknown=list(unknown))


def inventory(*resources: Resource, errors: tuple[CollectionError, ...] = ()) -> Inventory:
    return Inventory(resources=list(resources), errors=list(errors),
                     scopes=[Scope("aws", ACCOUNT, ("us-east-1",), ())])


def judge(rule: YamlRule, resource: Resource, *others: Resource,
          classifications: dict[str, Classification] | None = None,
          access: AccessMap | None = None, errors: tuple[CollectionError, ...] = ()) -> str:
    """The rule's outcome on ``resource``: pass, fail, error or not_applicable."""
    context = EvaluationContext(inventory(resource, *others, errors=errors),
                                classifications or {}, access or AccessMap(), NOW)
    return resource_status(rule.evaluate(resource, context))


# ---------------------------------------------------------------- operators

@pytest.mark.parametrize(("operator", "argument", "value", "expected"), [
    ("equals", "AES256", "AES256", "fail"), ("equals", "AES256", "aws:kms", "pass"),
    ("equals", True, 1, "pass"), ("equals", 1, True, "pass"), ("equals", None, None, "fail"),
    ("equals", [1, 2], [1, 2], "fail"), ("equals", [1, 2], [2, 1], "pass"),
    ("not_equals", "Enabled", None, "fail"), ("not_equals", "Enabled", "Enabled", "pass"),
    ("in", ["a", "b"], "b", "fail"), ("in", ["a", "b"], "c", "pass"), ("in", [None], None, "fail"),
    ("not_in", ["a"], "b", "fail"), ("not_in", ["a"], "a", "pass"),
    ("exists", True, "x", "fail"), ("exists", True, None, "pass"), ("exists", False, None, "fail"),
    ("exists", True, False, "fail"),
    ("empty", True, [], "fail"), ("empty", True, {}, "fail"), ("empty", True, "", "fail"),
    ("empty", True, None, "fail"), ("empty", True, 0, "pass"), ("empty", False, ["x"], "fail"),
    ("contains", "*", ["arn", "*"], "fail"), ("contains", "*", ["arn"], "pass"),
    ("contains", "*", "arn:aws:iam::*:root", "fail"), ("contains", "k", {"k": 1}, "fail"),
    ("contains", "x", None, "pass"), ("contains", 1, [True], "pass"),
    ("matches", "^acme-", "acme-weights", "fail"), ("matches", "^acme-", "x-acme", "pass"),
    ("matches", "1", 1, "pass"),
    ("gt", 5, 6, "fail"), ("gt", 5, 5, "pass"), ("gte", 5, 5, "fail"), ("lt", 5, 4, "fail"),
    ("lte", 5, 6, "pass"), ("gt", 0, True, "pass"), ("gt", 0, "7", "pass"), ("gt", 0, None, "pass"),
    ("older_than_days", 90, "2025-01-01T00:00:00Z", "fail"),
    ("older_than_days", 90, "2025-05-01T00:00:00Z", "pass"),
    ("older_than_days", 90, None, "pass"),
    ("older_than_days", 90, "yesterday", "error"),
    ("newer_than_days", 7, "2025-05-30T00:00:00Z", "fail"),
    ("newer_than_days", 7, "2025-01-01T00:00:00+00:00", "pass"),
    ("newer_than_days", 7, "2025-05-30T00:00:00", "fail"),  # naive times are UTC
])
def test_operator(operator: str, argument: Any, value: Any, expected: str) -> None:
    rule = make_rule(f"{{attr: x, {operator}: {json.dumps(argument)}}}")
    assert judge(rule, bucket(x=value)) == expected


def test_every_operator_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [op for op in OPERATORS if not re.search(rf"^\| `{op}` \|", text, re.MULTILINE)]
    assert not missing, f"docs/rules.md has no operator table row for {missing}"


# ---------------------------------------------------------------- paths and special roots

@pytest.mark.parametrize(("condition", "expected"), [
    ("{attr: encryption.algorithm, equals: AES256}", "fail"),
    ("{attr: encryption.kms_key_id, exists: false}", "fail"),
    ("{attr: encryption.missing.deeper, exists: false}", "fail"),
    ("{attr: object_sample.1.key, equals: b.pt}", "fail"),
    ("{attr: object_sample.9.key, exists: false}", "fail"),
    ("{attr: name, equals: weights}", "fail"),
    ("{attr: region, equals: us-east-1}", "fail"),
    ("{attr: account, equals: '111122223333'}", "fail"),
    ("{attr: id, equals: 'arn:aws:s3:::weights'}", "fail"),
    ("{attr: tags.team, equals: ml}", "fail"),
    ("{attr: tags.cost.centre, equals: '42'}", "fail"),
    ("{attr: tags.absent, exists: false}", "fail"),
    ("{attr: classification, equals: model-weights}", "fail"),
    ("{attr: classification, equals: training-data}", "pass"),
])
def test_paths_and_roots(condition: str, expected: str) -> None:
    resource = bucket("weights", tags={"team": "ml", "cost.centre": "42"},
                      encryption={"algorithm": "AES256", "kms_key_id": None},
                      object_sample=[{"key": "a.pt"}, {"key": "b.pt"}])
    labels = {resource.id: Classification("model-weights")}
    assert judge(make_rule(condition), resource, classifications=labels) == expected


def test_an_unclassified_resource_has_no_classification() -> None:
    rule = make_rule("{attr: classification, exists: false}")
    assert judge(rule, bucket()) == "fail"


# ---------------------------------------------------------------- unknown is not pass

def test_reading_an_unknown_attribute_is_an_error_never_a_pass() -> None:
    rule = make_rule("{attr: encryption, exists: true}")
    failed_call = CollectionError("aws", ACCOUNT, "s3", "GetBucketEncryption", "AccessDenied",
                                  "no", resource_id="arn:aws:s3:::b", attribute="encryption")
    resource = bucket(unknown=("encryption",), encryption=None)
    context = EvaluationContext(inventory(resource, errors=(failed_call,)), {}, AccessMap(), NOW)
    [verdict] = rule.evaluate(resource, context)
    assert verdict.status == "error"
    assert verdict.evidence["unknown"] == [
        "encryption could not be collected (GetBucketEncryption failed: AccessDenied)"]
    assert verdict.evidence["collection_errors"] == [failed_call.to_dict()]
    assert "could not be decided for b" in verdict.message


@pytest.mark.parametrize(("condition", "expected"), [
    # the unknown part cannot change the answer, so the known part decides
    ("{all: [{attr: known, equals: 2}, {attr: encryption.algorithm, equals: AES256}]}", "pass"),
    ("{any: [{attr: known, equals: 1}, {attr: encryption.algorithm, equals: AES256}]}", "fail"),
    # the unknown part decides
    ("{all: [{attr: known, equals: 1}, {attr: encryption.algorithm, equals: AES256}]}", "error"),
    ("{any: [{attr: known, equals: 2}, {attr: encryption.algorithm, equals: AES256}]}", "error"),
    ("{not: {attr: encryption, exists: true}}", "error"),
    ("{attr: encryption.algorithm, exists: false}", "error"),
    ("{each: encryption, any: {attr: algorithm, exists: true}}", "error"),
])
def test_three_valued_logic(condition: str, expected: str) -> None:
    resource = bucket(unknown=("encryption",), known=1, encryption=None)
    assert judge(make_rule(condition), resource) == expected


def test_unknown_tags_make_tag_tests_errors() -> None:
    assert judge(make_rule("{attr: tags.team, exists: false}"), bucket(unknown=("tags",))) == "error"


def test_applies_to_selects_resources_and_unknown_applicability_is_an_error() -> None:
    rule = make_rule("{attr: logging, exists: false}",
                     applies_to="{attr: tags.keep, equals: 'yes'}")
    assert judge(rule, bucket(tags={"keep": "yes"}, logging=None)) == "fail"
    assert judge(rule, bucket(tags={"keep": "no"}, logging=None)) == "not_applicable"
    assert judge(rule, bucket(unknown=("tags",), logging=None)) == "error"


# ---------------------------------------------------------------- each

STATEMENTS = [{"Effect": "Deny", "Principal": "*"},
              {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::1:root", "*"]}}]


@pytest.mark.parametrize(("condition", "statements", "expected"), [
    ("{each: policy.Statement, any: {attr: Principal.AWS, contains: '*'}}", STATEMENTS, "fail"),
    ("{each: policy.Statement, all: {attr: Effect, equals: Allow}}", STATEMENTS, "pass"),
    ("{each: policy.Statement, all: {attr: Effect, equals: Allow}}", [], "fail"),
    ("{each: policy.Statement, any: {attr: Effect, equals: Allow}}", [], "pass"),
    # a lone statement object counts as a list of one
    ("{each: policy.Statement, any: {attr: Effect, equals: Deny}}", STATEMENTS[0], "fail"),
])
def test_each(condition: str, statements: Any, expected: str) -> None:
    resource = bucket(policy={"Statement": statements})
    assert judge(make_rule(condition), resource) == expected


def test_each_evidence_lists_every_matching_item() -> None:
    rule = make_rule("{each: object_sample, any: {attr: key, matches: '\\.pt$'}}")
    resource = bucket(object_sample=[{"key": "a.pt"}, {"key": "b.txt"}, {"key": "c.pt"}])
    [verdict] = rule.evaluate(resource, EvaluationContext(inventory(resource), {}, AccessMap(), NOW))
    assert verdict.evidence["matches"] == {"object_sample": [{"key": "a.pt"}, {"key": "c.pt"}]}


# ---------------------------------------------------------------- access tests

def grant(principal: str, kind: str, *, access: str = "read", human: bool | None = None,
          decision: str = "allow") -> AccessGrant:
    return AccessGrant(principal=principal, kind=kind, human=human, access=access,  # type: ignore[arg-type]
                       action="s3:GetObject", decision=decision,  # type: ignore[arg-type]
                       path=(PathStep(principal, "s3:GetObject", "arn:aws:s3:::b#bucket-policy",
                                      "S1"),))


GRANTS = [
    grant("*", "public"),
    grant("arn:aws:iam::999988887777:root", "external-account", decision="conditional"),
    grant("arn:aws:iam::111122223333:user/ann", "user", human=True),
    grant("arn:aws:iam::111122223333:user/ann", "user", human=True),  # a second path
    grant("arn:aws:iam::111122223333:user/bot", "user", human=False, access="write"),
    grant("arn:aws:iam::111122223333:role/svc", "role", human=False),
]


@pytest.mark.parametrize(("condition", "expected"), [
    ("{access: read, who: public}", "fail"),
    ("{access: write, who: public}", "pass"),
    ("{access: read, who: external, count_gt: 1}", "fail"),
    ("{access: read, who: cross-account}", "fail"),
    ("{access: read, who: cross-account, decision: allow}", "pass"),
    ("{access: read, who: cross-account, decision: conditional}", "fail"),
    ("{access: read, who: public, decision: conditional}", "pass"),
    ("{access: read, who: human}", "fail"),
    ("{access: read, who: human, count_gt: 1}", "pass"),  # ann twice is one principal
    ("{access: read, who: non-human}", "fail"),
    ("{access: write, who: non-human}", "fail"),
    ("{access: read, count_gt: 3}", "fail"),
    ("{access: read, count_gt: 4}", "pass"),
    ("{access: delete}", "pass"),
])
def test_access_tests(condition: str, expected: str) -> None:
    resource = bucket()
    access = AccessMap({resource.id: AssetAccess(resource.id, list(GRANTS))})
    assert judge(make_rule(condition), resource, access=access) == expected


def test_access_without_analysis_is_an_error() -> None:
    assert judge(make_rule("{access: read, who: public}"), bucket()) == "error"


def test_incomplete_access_is_an_error_unless_a_grant_proves_the_failure() -> None:
    resource = bucket()
    incomplete = AccessMap({resource.id: AssetAccess(resource.id, list(GRANTS),
                                                     unknown=["bucket policy not collected"])})
    assert judge(make_rule("{access: read, who: public}"), resource, access=incomplete) == "fail"
    assert judge(make_rule("{access: write, who: public}"), resource, access=incomplete) == "error"


# ---------------------------------------------------------------- cross-resource tests

def kms_key(key_id: str, rotation: bool | None = True, account: str = ACCOUNT,
            unknown: tuple[str, ...] = ()) -> Resource:
    return Resource(id=f"arn:aws:kms:us-east-1:{account}:key/{key_id}", type="aws.kms.key",
                    provider="aws", account=account, name=key_id, region="us-east-1",
                    attributes={"key_id": key_id, "aliases": [f"alias/{key_id}"],
                                "alias_arns": [f"arn:aws:kms:us-east-1:{account}:alias/{key_id}"],
                                "rotation_enabled": rotation},
                    unknown=list(unknown))


def encrypted(name: str, key_name: str | None, unknown: tuple[str, ...] = ()) -> Resource:
    return bucket(name, unknown=unknown, encryption={"algorithm": "aws:kms",
                                                     "kms_key_id": key_name})


FORWARD = ("{references: {type: aws.kms.key, attr: encryption.kms_key_id}, "
           "any: {attr: rotation_enabled, equals: false}}")
REVERSE = ("{referenced_by: {type: aws.s3.bucket, attr: encryption.kms_key_id}, "
           "any: {attr: name, equals: secret}}")


@pytest.mark.parametrize(("key_name", "rotation", "expected"), [
    ("arn:aws:kms:us-east-1:111122223333:key/k1", False, "fail"),
    ("k1", False, "fail"),
    ("alias/k1", False, "fail"),
    ("arn:aws:kms:us-east-1:111122223333:alias/k1", False, "fail"),
    ("alias/k1", True, "pass"),
    (None, False, "pass"),  # names no key
    ("alias/elsewhere", True, "error"),  # names a key the inventory does not hold
])
def test_references(key_name: str | None, rotation: bool, expected: str) -> None:
    rule = make_rule(FORWARD)
    assert judge(rule, encrypted("b", key_name), kms_key("k1", rotation)) == expected


def test_short_names_resolve_in_the_same_account_first() -> None:
    rule = make_rule(FORWARD)
    others = (kms_key("k1", rotation=True), kms_key("k1", rotation=False, account="444455556666"))
    assert judge(rule, encrypted("b", "alias/k1"), *others) == "pass"


@pytest.mark.parametrize(("buckets", "expected"), [
    ((encrypted("secret", "alias/k1"),), "fail"),
    ((encrypted("public", "alias/k1"), encrypted("secret", "alias/other")), "pass"),
    # a bucket whose key is unknown may use this key: it matters only if it is the secret one
    ((encrypted("secret", None, unknown=("encryption",)),), "error"),
    ((encrypted("public", None, unknown=("encryption",)),), "pass"),
])
def test_referenced_by(buckets: tuple[Resource, ...], expected: str) -> None:
    rule = make_rule(REVERSE, resource_type="aws.kms.key")
    assert judge(rule, kms_key("k1"), *buckets) == expected


def test_referenced_by_over_an_incomplete_listing_is_an_error() -> None:
    rule = make_rule(REVERSE, resource_type="aws.kms.key")
    listing = CollectionError("aws", ACCOUNT, "s3", "ListBuckets", "AccessDenied", "no")
    assert judge(rule, kms_key("k1"), errors=(listing,)) == "error"
    # ... but a bucket that was found still proves it
    assert judge(rule, kms_key("k1"), encrypted("secret", "alias/k1"), errors=(listing,)) == "fail"


def test_a_service_outside_the_scan_scope_is_unknown() -> None:
    rule = make_rule("{not: {s3_data_events_logged: read}}")
    resource = bucket()
    scoped = Inventory(resources=[resource], scopes=[Scope("aws", ACCOUNT, (), ("s3", "iam"))])
    context = EvaluationContext(scoped, {}, AccessMap(), NOW)
    [verdict] = rule.evaluate(resource, context)
    assert verdict.status == "error"
    assert "cloudtrail was not scanned" in verdict.evidence["unknown"][0]


# ---------------------------------------------------------------- messages

@pytest.mark.parametrize(("template", "expected"), [
    ("{name} in {region}", "b in us-east-1"),
    ("{encryption.algorithm} / {encryption.missing}", "AES256 / none"),
    ("{object_sample}", "a.pt, b.pt"),
    ("{versioning}", "false"),
    ("{{literal}} {name}", "{literal} b"),
    # looked up as data, never evaluated: no attribute access on Python objects
    ("{__class__} {name.__class__} {0}", "none none none"),
])
def test_messages_substitute_fields_only(template: str, expected: str) -> None:
    rule = make_rule("{attr: name, equals: b}", message=template)
    resource = bucket(encryption={"algorithm": "AES256"}, object_sample=["a.pt", "b.pt"],
                      versioning=False)
    [verdict] = rule.evaluate(resource, EvaluationContext(inventory(resource), {}, AccessMap(), NOW))
    assert verdict.message == expected


# ---------------------------------------------------------------- the engine

def test_evaluate_rules_reports_fails_and_errors_and_counts_passes() -> None:
    rule = make_rule("{attr: logging, exists: false}", evidence="[logging]",
                     applies_to="{attr: classification, in: [training-data, model-weights]}",
                     message="{name} has no logging")
    failing, passing, unknown, other = (bucket("a", logging=None), bucket("b", logging={"x": 1}),
                                        bucket("c", unknown=("logging",)), bucket("d"))
    labels = {r.id: Classification("training-data", ("tag",)) for r in (failing, passing, unknown)}
    labels[other.id] = Classification("other")
    findings, outcomes = evaluate_rules([rule], inventory(other, unknown, passing, failing),
                                        labels, AccessMap(), NOW)
    assert [(f.resource.name, f.status) for f in findings] == [("a", "fail"), ("c", "error")]
    first = findings[0]
    assert first.message == "a has no logging"
    assert first.classification == Classification("training-data", ("tag",))
    assert first.evidence == {"attributes": {"logging": None}}
    assert first.remediation == {"text": "t", "cli": "c",
                                 "references": ["https://docs.aws.amazon.com/x"]}
    assert first.discriminator == ""
    [outcome] = outcomes
    assert (outcome.evaluated, outcome.failed, outcome.errors, outcome.status) == (3, 1, 1, "fail")


def test_findings_are_sorted_worst_first_and_deterministic() -> None:
    low = make_rule("{attr: name, exists: true}", severity="low", rule_id="aws.s3.a-low")
    critical = make_rule("{attr: name, exists: true}", severity="critical", rule_id="aws.s3.z-crit")
    resources = inventory(bucket("y"), bucket("x"))

    def run() -> list[dict[str, Any]]:
        findings, _ = evaluate_rules([low, critical], resources, {}, AccessMap(), NOW)
        return [f.to_dict() for f in findings]

    first = run()
    assert [(f["rule_id"], f["resource"]["name"]) for f in first] == [
        ("aws.s3.z-crit", "x"), ("aws.s3.z-crit", "y"), ("aws.s3.a-low", "x"),
        ("aws.s3.a-low", "y")]
    assert json.dumps(first, sort_keys=True) == json.dumps(run(), sort_keys=True)


def test_access_findings_carry_the_matching_grants_with_their_proof() -> None:
    rule = make_rule("{access: read, who: human}", message="{name} is read by {principals}")
    resource = bucket()
    access = AccessMap({resource.id: AssetAccess(resource.id, list(GRANTS))})
    [finding], _ = evaluate_rules([rule], inventory(resource), {}, access, NOW)
    assert finding.message == "b is read by arn:aws:iam::111122223333:user/ann"
    assert finding.evidence["grants"] == [GRANTS[2].to_dict()]  # both paths were identical
    assert finding.evidence["grants"][0]["path"][0]["policy"] == "arn:aws:s3:::b#bucket-policy"


def test_kms_findings_name_the_key_aliases() -> None:
    rule = make_rule("{attr: rotation_enabled, equals: false}", resource_type="aws.kms.key")
    [finding], _ = evaluate_rules([rule], inventory(kms_key("k1", rotation=False)), {},
                                  AccessMap(), NOW)
    assert finding.resource.aliases == ("arn:aws:kms:us-east-1:111122223333:alias/k1",)


def test_a_failed_listing_is_reported_as_an_uncovered_scope() -> None:
    rule = make_rule("{attr: logging, exists: false}")
    listing = CollectionError("aws", ACCOUNT, "s3", "ListBuckets", "AccessDenied", "denied")
    unrelated = CollectionError("aws", ACCOUNT, "kms", "ListKeys", "AccessDenied", "denied",
                                region="us-east-1")
    findings, [outcome] = evaluate_rules([rule], inventory(errors=(listing, unrelated)), {},
                                         AccessMap(), NOW)
    [finding] = findings
    assert finding.status == "error" and finding.resource.account == ACCOUNT
    assert "ListBuckets failed: AccessDenied" in finding.message
    assert finding.evidence == {"collection_errors": [listing.to_dict()]}
    assert (outcome.evaluated, outcome.errors, outcome.status) == (0, 1, "error")


def test_duplicate_rule_ids_are_refused() -> None:
    rule = make_rule("{attr: name, exists: true}")
    with pytest.raises(RuleError, match=r"already defined in test\.yaml line 1"):
        evaluate_rules([rule, rule], inventory(), {}, AccessMap(), NOW)


class PrincipalsRule:
    """A Python rule: one finding per human reader, told apart by the discriminator."""

    id = "aws.s3.python-test"
    title = "One finding per human reader"
    severity = "medium"
    resource_type = "aws.s3.bucket"
    remediation = Remediation("Remove them.")
    references = ("https://docs.aws.amazon.com/x",)
    fixtures = ()
    source = "tests/test_rules_engine.py"

    def evaluate(self, resource: Resource, context: EvaluationContext) -> list[Verdict]:
        asset = context.access_for(resource.id)
        if asset is None:
            return []
        readers = sorted({g.principal for g in asset.who("read") if g.human})
        return [Verdict("fail", f"{who} reads {resource.name}", {"principal": who}, who)
                for who in readers] or [Verdict("pass")]


def test_the_engine_runs_python_rules_beside_rule_files() -> None:
    resource, quiet = bucket("b"), bucket("q")
    grants = [grant("arn:aws:iam::111122223333:user/ann", "user", human=True),
              grant("arn:aws:iam::111122223333:user/zed", "user", human=True)]
    access = AccessMap({resource.id: AssetAccess(resource.id, grants),
                        quiet.id: AssetAccess(quiet.id, [])})
    yaml_rule = make_rule("{access: read, who: human}")
    findings, outcomes = evaluate_rules([PrincipalsRule(), yaml_rule], inventory(resource, quiet),
                                        {}, access, NOW)
    python = [f for f in findings if f.rule_id == PrincipalsRule.id]
    assert [f.discriminator for f in python] == ["arn:aws:iam::111122223333:user/ann",
                                                 "arn:aws:iam::111122223333:user/zed"]
    assert len({f.id for f in python}) == 2
    assert python[0].remediation == {"text": "Remove them.",
                                     "references": ["https://docs.aws.amazon.com/x"]}
    counts = {o.rule_id: (o.evaluated, o.failed) for o in outcomes}
    assert counts == {PrincipalsRule.id: (2, 1), "aws.s3.test": (2, 1)}
