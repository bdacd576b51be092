"""The GCP rule pack: the scenario organization read from its Cloud Asset Inventory export and
evaluated by the real pipeline, and the engine pieces GCP rules need (organization
membership, reach through service accounts, id prefixes, Data Access audit logs)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from auditor import pipeline
from auditor.access.model import AccessGrant, AccessMap, AssetAccess, PathStep
from auditor.classify.model import Classification
from auditor.findings import Finding, severity_rank
from auditor.inventory import Inventory, Resource
from auditor.rules.context import EvaluationContext
from auditor.rules.loader import load_rules, parse_rule
from auditor.rules.logic import Trace
from auditor.rules.organization import outside_organization
from auditor.rules.resource_types import RESOURCE_TYPES
from auditor.run import RunResult
from auditor.scanners.base import ScanSettings
from auditor.scanners.gcp import ids
from auditor.scanners.gcp.cai import read_export
from tests.test_rules_engine import NOW

DATA = Path(__file__).parent / "data" / "gcp"
EXPORT = DATA / "gcp-ml-org.cai.jsonl"
EXPECTED = json.loads((DATA / "gcp-ml-org.expected.json").read_text(encoding="utf-8"))
ORG = "organizations/123456789"


# ---------------------------------------------------------------- the scenario

def scenario_names(finding: Finding) -> set[str]:
    """How GCP.md names a finding's resource: id, name, and the last segment of each."""
    ref = finding.resource
    return {ref.id, ref.name, ref.id.rsplit("/", 1)[-1], ref.name.rsplit("/", 1)[-1]}


def about(result: RunResult, name: str, minimum: str) -> list[str]:
    return [f"{f.rule_id} ({f.severity}, {f.status})" for f in result.findings
            if f.status != "suppressed" and severity_rank(f.severity) >= severity_rank(minimum)
            and name in scenario_names(f)]


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    inventory = Inventory()
    inventory.add(read_export(EXPORT, ScanSettings()))
    inventory.sort()
    return inventory


@pytest.fixture(scope="module")
def result(inventory: Inventory) -> RunResult:
    return pipeline.evaluate(inventory, pipeline.EvaluationOptions(profile="gcp-scenario"))


def test_flagged_resources_get_a_high_or_critical_finding(result: RunResult) -> None:
    assert [name for name in EXPECTED["flagged"] if not about(result, name, "high")] == []


def test_flagged_resources_fail_a_rule_and_do_not_only_error(result: RunResult) -> None:
    failing = {name for f in result.findings if f.status == "fail"
               and severity_rank(f.severity) >= severity_rank("high") for name in scenario_names(f)}
    assert [name for name in EXPECTED["flagged"] if name not in failing] == []


def test_clean_resources_get_nothing_at_medium_or_above(result: RunResult) -> None:
    problems = {name: about(result, name, "medium") for name in EXPECTED["clean"]}
    assert not any(problems.values()), problems


def test_the_external_reader_and_the_old_key_are_named_in_the_messages(result: RunResult) -> None:
    external = [f for f in result.findings if f.rule_id == "gcp.storage.sensitive-external-member-read"
                and f.status == "fail"]
    assert [f.resource.name for f in external] == ["acme-ml-curated-corpus"]
    assert "user:contractor.jlee@gmail.com" in external[0].message
    grants = external[0].evidence["grants"]
    assert {g["principal"] for g in grants} == {"user:contractor.jlee@gmail.com"}
    old_key = [f for f in result.findings
               if f.rule_id == "gcp.iam.user-managed-key-old-on-sensitive-account"]
    assert [f.resource.name for f in old_key] == ["c94d23ca20e5df7a7dd989c2e9ecb823d1e9d586"]
    # the account the key belongs to, and the weights it reads
    assert old_key[0].evidence["related"] == [
        "//iam.googleapis.com/projects/acme-ml-models/serviceAccounts/"
        "sa-batch-infer@acme-ml-models.iam.gserviceaccount.com",
        "//storage.googleapis.com/projects/_/buckets/acme-ml-weights-serving"]


def test_impersonation_paths_are_reported_on_the_service_accounts(result: RunResult) -> None:
    impersonated = {f.resource.name: f.message for f in result.findings
                    if f.rule_id == "gcp.iam.service-account-impersonation-to-sensitive-data"
                    and f.status == "fail"}
    assert set(impersonated) == {"sa-eval@acme-ml-data.iam.gserviceaccount.com",
                                 "sa-batch-infer@acme-ml-models.iam.gserviceaccount.com"}
    assert "user:dana@acme-ml.example" in impersonated["sa-eval@acme-ml-data.iam.gserviceaccount.com"]


def test_decoys_are_not_judged_as_ml_data(result: RunResult) -> None:
    assert about(result, "acme-ml-training-logs", "info") == []
    assert about(result, "acme-ml-audit-logs", "info") == []


def test_the_pack_covers_the_gcp_issue() -> None:
    gcp_rules = {r.id: r for r in load_rules() if r.id.startswith("gcp.")}
    assert len(gcp_rules) >= 12
    assert {r.resource_type for r in gcp_rules.values()} >= {
        ids.BUCKET, ids.SERVICE_ACCOUNT, ids.SERVICE_ACCOUNT_KEY, ids.HMAC_KEY, ids.CRYPTO_KEY,
        ids.PROJECT}
    for rule in gcp_rules.values():
        assert all(url.startswith("https://cloud.google.com/") for url in rule.references), rule.id


# ---------------------------------------------------------------- resource types

def test_every_gcp_type_the_scanner_names_is_registered() -> None:
    declared = {value for name, value in vars(ids).items()
                if name.isupper() and isinstance(value, str) and value.startswith("gcp.")}
    assert declared and declared <= set(RESOURCE_TYPES)


def test_a_gcp_resource_name_finds_the_resource_by_its_id_prefix(inventory: Inventory) -> None:
    context = EvaluationContext(inventory, {}, AccessMap(), NOW)
    bucket = inventory.get(ids.bucket_id("acme-ml-weights-prod"))
    assert bucket is not None
    name = bucket.attributes["default_kms_key"]
    [key] = context.named(ids.CRYPTO_KEY, name, bucket)
    assert key.id == ids.kms_id(name)


# ---------------------------------------------------------------- outside the organization

def gcp_resource(resource_type: str, resource_id: str, account: str, name: str,
                 **attributes: Any) -> Resource:
    return Resource(id=resource_id, type=resource_type, provider="gcp", account=account,
                    name=name, attributes=attributes)


ORGANIZATION = gcp_resource(ids.ORGANIZATION, ids.node_id(ORG), ORG, "acme.example",
                            domain="acme.example", ancestors=[ORG])
PROJECT = gcp_resource(ids.PROJECT, ids.node_id("projects/42"), "acme-models", "acme-models",
                       project_id="acme-models", project_number="42",
                       ancestors=["projects/42", ORG])
OTHER_PROJECT = gcp_resource(ids.PROJECT, ids.node_id("projects/77"), "vendor", "vendor",
                             project_id="vendor", project_number="77",
                             ancestors=["projects/77", "organizations/5"])
BUCKET = gcp_resource(ids.BUCKET, ids.bucket_id("acme-weights"), "acme-models", "acme-weights",
                      ancestors=["projects/42", ORG])


def member_grant(member: str, kind: str = "user") -> AccessGrant:
    return AccessGrant(principal=member, kind=kind, human=None, access="read",  # type: ignore[arg-type]
                       action="storage.objects.get", decision="allow")


@pytest.mark.parametrize(("member", "outside"), [
    ("user:ana@acme.example", False),
    ("user:ana@eu.acme.example", False),
    ("group:ml@ACME.example", False),
    ("domain:acme.example", False),
    ("user:contractor@gmail.com", True),
    ("group:labelers@vendor.example", True),
    ("domain:notacme.example", True),
    ("user:x@evilacme.example", True),
    ("serviceAccount:trainer@acme-models.iam.gserviceaccount.com", False),
    ("serviceAccount:service-42@gs-project-accounts.iam.gserviceaccount.com", False),
    ("serviceAccount:42-compute@developer.gserviceaccount.com", False),
    ("serviceAccount:acme-models@appspot.gserviceaccount.com", False),
    ("serviceAccount:acme-models.svc.id.goog[ml/trainer]", False),
    ("serviceAccount:etl@vendor.iam.gserviceaccount.com", True),
    ("serviceAccount:etl@unknown-project.iam.gserviceaccount.com", None),
    ("projectViewer:acme-models", False),
    ("principalSet://iam.googleapis.com/projects/42/locations/global/workloadIdentityPools/gh/*", False),
    ("allUsers", False),
])
def test_outside_organization(member: str, outside: bool | None) -> None:
    inventory = Inventory(resources=[ORGANIZATION, PROJECT, OTHER_PROJECT, BUCKET])
    context = EvaluationContext(inventory, {}, AccessMap(), NOW)
    kind = "public" if member == "allUsers" else "user"
    trace = Trace(BUCKET.id)
    assert outside_organization(member_grant(member, kind), BUCKET, context, trace) is outside
    assert bool(trace.unknown) == (outside is None)


def test_membership_is_unknown_without_the_organization() -> None:
    context = EvaluationContext(Inventory(resources=[PROJECT, BUCKET]), {}, AccessMap(), NOW)
    trace = Trace(BUCKET.id)
    assert outside_organization(member_grant("user:a@gmail.com"), BUCKET, context, trace) is None
    assert any("not in the inventory" in reason for reason in trace.unknown)


def test_aws_outside_organization_is_another_account() -> None:
    bucket = Resource(id="arn:aws:s3:::b", type="aws.s3.bucket", provider="aws",
                      account="111122223333", name="b")
    context = EvaluationContext(Inventory(resources=[bucket]), {}, AccessMap(), NOW)
    other = member_grant("arn:aws:iam::999988887777:root", "external-account")
    mine = member_grant("arn:aws:iam::111122223333:user/ana", "user")
    assert outside_organization(other, bucket, context, Trace(bucket.id)) is True
    assert outside_organization(mine, bucket, context, Trace(bucket.id)) is False


# ---------------------------------------------------------------- access-test filters and reach

ACCOUNT_EMAIL = "batch@acme-models.iam.gserviceaccount.com"
ACCOUNT = gcp_resource(ids.SERVICE_ACCOUNT, ids.service_account_id("acme-models", ACCOUNT_EMAIL),
                       "acme-models", ACCOUNT_EMAIL, email=ACCOUNT_EMAIL,
                       ancestors=["projects/42", ORG])


def through_account(member: str, role: str = "roles/iam.serviceAccountTokenCreator") -> AccessGrant:
    account_member = f"serviceAccount:{ACCOUNT_EMAIL}"
    return AccessGrant(principal=member, kind="user", human=True, access="read",
                       action="storage.objects.get", decision="allow",
                       path=(PathStep(member, "iam.serviceAccounts.getAccessToken", ACCOUNT.id, role),
                             PathStep(account_member, "storage.objects.get", BUCKET.id,
                                      "roles/storage.objectViewer")))


def gcp_rule(resource_type: str, condition: str) -> Any:
    service = resource_type.split(".")[1]
    return parse_rule("\n".join([
        f"id: gcp.{service}.test", "title: Test", "severity: high",
        f"resource_type: {resource_type}", f"condition: {condition}",
        'message: "{name}: {principals}"', "rationale: r", "remediation: {text: t}",
        "references: [https://cloud.google.com/x]"]) + "\n", "test.yaml")


def judge(rule: Any, subject: Resource, grants: list[AccessGrant],
          may_not_hold: list[str] | None = None, unknown: list[str] | None = None) -> Any:
    inventory = Inventory(resources=[ORGANIZATION, PROJECT, BUCKET, ACCOUNT])
    asset = AssetAccess(BUCKET.id, grants, unknown=unknown or [], may_not_hold=may_not_hold or [])
    context = EvaluationContext(inventory, {BUCKET.id: Classification("model-weights")},
                                AccessMap({BUCKET.id: asset}), NOW)
    return rule.evaluate(subject, context)


@pytest.mark.parametrize(("condition", "status"), [
    ("{access: read, statement: '^roles/iam\\.serviceAccountTokenCreator$'}", "fail"),
    ("{access: read, statement: '^roles/(owner|editor)$'}", "pass"),
    ("{access: read, principal: '^user:'}", "fail"),
    ("{access: read, principal: '^group:'}", "pass"),
    ("{access: read, who: outside-organization}", "pass"),
])
def test_access_test_filters(condition: str, status: str) -> None:
    [verdict] = judge(gcp_rule(ids.BUCKET, condition), BUCKET, [through_account("user:dana@acme.example")])
    assert verdict.status == status


def test_a_grant_that_may_not_hold_still_proves_a_failure_with_a_caveat() -> None:
    rule = gcp_rule(ids.BUCKET, "{access: read, who: outside-organization}")
    [verdict] = judge(rule, BUCKET, [through_account("user:x@gmail.com")],
                      may_not_hold=["the IAM deny policies of X were not collected; they could only "
                                    "remove access listed here"])
    assert verdict.status == "fail"
    assert verdict.evidence["caveats"] == [
        "the IAM deny policies of X were not collected; they could only remove access listed here"]


def test_what_could_only_remove_access_does_not_make_nobody_unknown() -> None:
    rule = gcp_rule(ids.BUCKET, "{access: read, who: outside-organization}")
    gap = "the IAM deny policies of X were not collected; they could only remove access listed here"
    grants = [through_account("user:dana@acme.example")]
    [split] = judge(rule, BUCKET, grants, may_not_hold=[gap])
    [mixed] = judge(rule, BUCKET, grants, unknown=[gap])
    assert (split.status, mixed.status) == ("pass", "error")


@pytest.mark.parametrize(("condition", "member", "status"), [
    # who reaches the weights through the account
    ("{reaches: {type: gcp.storage.bucket, access: read, by: others}, any: {attr: classification, "
     "equals: model-weights}}", "user:dana@acme.example", "fail"),
    ("{reaches: {type: gcp.storage.bucket, access: read, by: others, who: outside-organization}, "
     "any: {attr: classification, equals: model-weights}}", "user:dana@acme.example", "pass"),
    ("{reaches: {type: gcp.storage.bucket, access: read, by: others, who: outside-organization}, "
     "any: {attr: classification, equals: model-weights}}", "user:ops@partner.example", "fail"),
    # the account itself reaches the weights
    ("{reaches: {type: gcp.storage.bucket, access: [write, read]}, any: {attr: classification, "
     "equals: model-weights}}", f"serviceAccount:{ACCOUNT_EMAIL}", "fail"),
    ("{reaches: {type: gcp.storage.bucket, access: write}, any: {attr: classification, "
     "equals: model-weights}}", f"serviceAccount:{ACCOUNT_EMAIL}", "pass"),
    ("{reaches: {type: gcp.storage.bucket, access: read}, any: {attr: classification, "
     "equals: training-data}}", f"serviceAccount:{ACCOUNT_EMAIL}", "pass"),
])
def test_reaches(condition: str, member: str, status: str) -> None:
    grants = [through_account("user:dana@acme.example") if member.startswith("user:dana")
              else through_account(member)]
    if member.startswith("serviceAccount:"):
        grants = [dataclasses.replace(grants[0], principal=member, path=grants[0].path[1:])]
    [verdict] = judge(gcp_rule(ids.SERVICE_ACCOUNT, condition), ACCOUNT, grants)
    assert verdict.status == status
    if status == "fail":
        assert verdict.evidence["related"] == [BUCKET.id]
        assert member in verdict.message


def test_reach_is_unknown_when_the_principals_own_data_is_missing() -> None:
    rule = gcp_rule(ids.SERVICE_ACCOUNT, "{reaches: {type: gcp.storage.bucket, access: read, "
                                         "by: others}, any: {attr: classification, exists: true}}")
    incomplete = dataclasses.replace(ACCOUNT, unknown=["iam_policy"],
                                     attributes={**ACCOUNT.attributes, "iam_policy": None})
    [verdict] = judge(rule, incomplete, [])
    assert verdict.status == "error" and "iam_policy" in verdict.message


def test_reaches_needs_a_resource_that_is_a_principal() -> None:
    from auditor.errors import RuleError

    with pytest.raises(RuleError, match="acts as a principal"):
        gcp_rule(ids.BUCKET, "{reaches: {type: gcp.storage.bucket, access: read}, "
                             "any: {attr: name, exists: true}}")
