"""Findings from the access analysis: who can tamper with ML data (rules/aws/s3/
sensitive-write-access.yaml, weights-writable-by-many-humans.yaml) and privilege escalation
that ends at it (auditor/rules/aws_escalation.py), on hand-built inventories and on the dev
scenario, each finding with the proof of every grant it names."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.access.aws.escalation import escalation_paths
from auditor.findings import Finding
from auditor.inventory import CollectionError
from auditor.pipeline import analyze
from auditor.rules import aws_escalation
from auditor.rules.engine import evaluate_rules
from auditor.rules.fixtures import FIXTURE_NOW, fixture_outcome
from auditor.rules.loader import load_rules, plugin_rule_problem
from auditor.rules.model import Fixture, Rule
from auditor.run import RunResult
from tests.test_aws_access import (
    _scenario,
    allow,
    arn,
    bucket,
    deny,
    doc,
    group,
    inventory,
    key_arn,
    kms_key,
    role,
    scenario_inventory,
    service_trust,
    sse_kms,
    user,
)

WRITE_LISTING = "aws.s3.sensitive-write-access"
MANY_WRITERS = "aws.s3.weights-writable-by-many-humans"
ESCALATION_RULES = aws_escalation.rules()
ESCALATION_IDS = {rule.id for rule in ESCALATION_RULES}
ENTRY_POINT = 'aws-escalation = "auditor.rules.aws_escalation:rules"'
BUNDLED = {rule.id: rule for rule in load_rules()}
WEIGHTS = {"ml-asset": "model-weights"}


def findings(rules: list[Rule], inv: Any) -> list[Finding]:
    classifications, access = analyze(inv)
    found, _outcomes = evaluate_rules(rules, inv, classifications, access, FIXTURE_NOW)
    return found


def grants_of(finding: Finding) -> dict[tuple[str, str], dict[str, Any]]:
    return {(g["principal"], g["access"]): g for g in finding.evidence.get("grants", [])}


def proven(grant: dict[str, Any]) -> bool:
    return bool(grant["path"]) and all(s["policy"] and s["statement"] for s in grant["path"])


# --- the Python rules are well formed and judge their fixtures --------------------------------

ESCALATION_FIXTURES = [(rule, fixture) for rule in ESCALATION_RULES for fixture in rule.fixtures]


@pytest.mark.parametrize(("rule", "fixture"), ESCALATION_FIXTURES,
                         ids=[f"{r.id}:{f.name}" for r, f in ESCALATION_FIXTURES])
def test_escalation_fixtures(rule: Rule, fixture: Fixture) -> None:
    classifications, access = analyze(fixture.inventory)
    assert fixture_outcome(rule, fixture, classifications, access) == fixture.expected, (
        fixture.description)


def test_the_escalation_rules_offer_the_rule_interface() -> None:
    assert [plugin_rule_problem(rule) for rule in ESCALATION_RULES] == [None, None]
    assert {rule.resource_type for rule in ESCALATION_RULES} == {"aws.iam.user", "aws.iam.role"}
    assert all({"pass", "fail", "error"} <= {f.expected for f in rule.fixtures}
               for rule in ESCALATION_RULES)


def test_the_escalation_rules_are_registered_as_an_entry_point() -> None:
    assert BUNDLED.keys() >= ESCALATION_IDS, (
        f'add to pyproject.toml under [project.entry-points."auditor.rules"]: {ENTRY_POINT}, '
        "then reinstall (pip install -e .)")


# --- tampering: every writer and deleter, with its proof -----------------------------------------

def _tamper_inventory(*people: str, deleters: tuple[str, ...] = ()) -> Any:
    writers = group("publishers", people, {"publish": doc(allow(
        ["s3:PutObject", "s3:DeleteObject"], "arn:aws:s3:::weights/*"))})
    cleaners = group("cleanup", deleters, {"clean": doc(allow(
        "s3:DeleteObjectVersion", "arn:aws:s3:::weights/*"))})
    users = [user(name, groups=[g for g, members in (("publishers", people),
                                                     ("cleanup", deleters)) if name in members])
             for name in sorted({*people, *deleters})]
    return inventory(bucket("weights", tags=WEIGHTS, ownership="BucketOwnerEnforced"),
                     writers, cleaners, *users)


def test_the_listing_names_writers_and_deleters_each_with_its_proof() -> None:
    # a writer found first must not hide a principal that can only delete
    inv = _tamper_inventory("ana", deleters=("cleo",))
    [listing] = [f for f in findings([BUNDLED[WRITE_LISTING]], inv) if f.status == "fail"]
    grants = grants_of(listing)
    assert {("arn:aws:iam::111122223333:user/ana", "write"),
            ("arn:aws:iam::111122223333:user/cleo", "delete"),
            (arn("root", ""), "write")} <= grants.keys()
    assert (arn("user", "cleo"), "write") not in grants
    assert grants[(arn("user", "cleo"), "delete")]["path"][0]["policy"] == (
        f"{arn('group', 'cleanup')}#inline:clean")
    assert all(proven(g) for g in grants.values())
    assert "cleo" in listing.message and listing.severity == "info"


def test_the_listing_passes_a_bucket_that_nobody_can_change() -> None:
    frozen = doc(deny(["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
                      "arn:aws:s3:::weights/*", Principal="*"))
    inv = inventory(bucket("weights", frozen, tags=WEIGHTS, ownership="BucketOwnerEnforced"),
                    user("admin", {"all": doc(allow("*"))}))
    assert findings([BUNDLED[WRITE_LISTING]], inv) == []


@pytest.mark.parametrize(("people", "flagged"), [(("a", "b", "c"), False),
                                                 (("a", "b", "c", "d"), True)])
def test_more_than_three_people_who_can_tamper_is_medium_and_root_is_not_counted(
        people: tuple[str, ...], flagged: bool) -> None:
    found = findings([BUNDLED[MANY_WRITERS]], _tamper_inventory(*people))
    assert [f.severity for f in found] == (["medium"] if flagged else [])
    if flagged:
        counted = {principal for principal, _access in grants_of(found[0])}
        assert counted == {arn("user", p) for p in people}  # the root user is left out
        assert all(proven(g) for g in grants_of(found[0]).values())


# --- escalation ----------------------------------------------------------------------------------

def _escalation_inventory() -> Any:
    key = key_arn("k1")
    only_serving = doc({"Sid": "ServingOnly", "Effect": "Allow", "Resource": "*",
                        "Principal": {"AWS": arn("role", "serving")},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey"]})
    return inventory(
        bucket("weights", tags=WEIGHTS, ownership="BucketOwnerEnforced"),
        bucket("sealed", tags=WEIGHTS, ownership="BucketOwnerEnforced",
               encryption=sse_kms(key)),
        bucket("logs", ownership="BucketOwnerEnforced",
               objects=[("s3/2024-11-01-12-00-00-4F2A", None)]),
        kms_key("k1", only_serving),
        user("ops", {"self": doc(allow("iam:AttachUserPolicy", arn("user", "ops")))}),
        user("frank", {"assume": doc(allow("sts:AssumeRole"))}),
        role("serving", service_trust("lambda.amazonaws.com")))


def test_an_escalation_names_its_method_target_statements_and_what_it_would_reach() -> None:
    found = findings(ESCALATION_RULES, _escalation_inventory())
    assert {(f.resource.id, f.discriminator) for f in found} == {
        (arn("user", "ops"), f"iam-008 {arn('user', 'ops')}")}
    [finding] = found
    assert finding.severity == "high" and finding.resource.type == "aws.iam.user"
    escalation = finding.evidence["escalation"]
    assert (escalation["method"], escalation["target"]) == ("iam-008", arn("user", "ops"))
    assert escalation["statements"][0]["policy"] == f"{arn('user', 'ops')}#inline:self"
    reach = {r["name"]: r for r in finding.evidence["reach"]}
    # an administrator is still kept from the key that names only the serving role, but
    # deleting needs no key; a bucket that holds no ML data is not listed
    assert {name: r["gains"] for name, r in reach.items()} == {
        "weights": ["read", "write", "delete"], "sealed": ["delete"]}
    for entry in reach.values():
        for grant in entry["grants"]:
            assert grant["principal"] == arn("user", "ops") and proven(grant)
            # the proof starts with the statement that allows the escalation
            assert grant["path"][0] == escalation["statements"][0]
    assert "iam-008" in finding.message and "sealed (delete)" in finding.message


def test_assuming_any_role_alone_is_no_escalation() -> None:
    inv = _escalation_inventory()
    assert not any(p.principal == arn("user", "frank") for p in escalation_paths(inv))


def test_an_escalation_that_adds_nothing_passes() -> None:
    admin = user("ops", {"all": doc(allow("*"))})
    inv = inventory(bucket("weights", tags=WEIGHTS, ownership="BucketOwnerEnforced"), admin)
    assert escalation_paths(inv) and findings(ESCALATION_RULES, inv) == []


# --- the dev scenario, built by hand ---------------------------------------------------------------

SCENARIO_ACCOUNT = "123456789012"


def _scenario_findings() -> list[Finding]:
    return findings([*ESCALATION_RULES, BUNDLED[WRITE_LISTING], BUNDLED[MANY_WRITERS]],
                    scenario_inventory(_scenario()))


def test_dev_scenario_escalations_without_the_emulator() -> None:
    escalating = {f.resource.name for f in _scenario_findings() if f.rule_id in ESCALATION_IDS}
    # sagemaker-training reaches notebooks running as other SageMaker roles; dave is already
    # an administrator, erin already reaches what an escalation would give her, frank only
    # assumes roles, inference-serving cannot escalate
    assert escalating == {"sagemaker-training"}


def test_dev_scenario_tampering_without_the_emulator() -> None:
    by_bucket = {f.resource.name: f for f in _scenario_findings() if f.rule_id == WRITE_LISTING}
    serving = {p for p, access in grants_of(by_bucket["acme-serving-weights"])}
    assert serving == {arn(kind, name, SCENARIO_ACCOUNT)
                       for kind, name in (("user", "dave"), ("user", "erin"), ("root", ""))}
    registry = grants_of(by_bucket["acme-model-registry"])
    assert (arn("role", "ci-model-publisher", SCENARIO_ACCOUNT), "write") in registry
    release = grants_of(by_bucket["acme-release-checkpoints"])
    assert (arn("user", "erin", SCENARIO_ACCOUNT), "delete") in release
    assert (arn("user", "erin", SCENARIO_ACCOUNT), "write") not in release  # no key for her


# --- the dev scenario, scanned from the emulator ------------------------------------------------

@pytest.fixture(scope="module")
def audited(seeded_aws_org: Any) -> tuple[RunResult, list[Finding]]:
    from auditor import clock
    from tests.scenario_support import audit_endpoint

    result = audit_endpoint(seeded_aws_org.endpoint_url, seeded_aws_org.scenario["region"])
    # the escalation rules join the run once their entry point is registered; until then
    # they are evaluated here on the run's own inventory and access map
    loaded = {outcome.rule_id for outcome in result.rules}
    missing = [rule for rule in ESCALATION_RULES if rule.id not in loaded]
    extra, _ = evaluate_rules(missing, result.inventory, result.classifications, result.access,
                              clock.now())
    return result, result.findings + extra


@pytest.mark.emulator
def test_scanned_escalation_and_tampering_findings_carry_proof_paths(
        audited: tuple[RunResult, list[Finding]], seeded_aws_org: Any) -> None:
    _result, found = audited
    escalation = [f for f in found if f.rule_id in ESCALATION_IDS]
    assert {f.resource.name for f in escalation} == {"sagemaker-training"}
    for finding in escalation:
        assert finding.status == "fail" and finding.severity == "high"
        assert finding.evidence["escalation"]["statements"]
        reached = [g for r in finding.evidence["reach"] for g in r["grants"]]
        assert reached and all(proven(g) for g in reached)
    tampering = [f for f in found if f.rule_id == WRITE_LISTING]
    assert {f.resource.name for f in tampering} == {
        name for name, label in seeded_aws_org.scenario["expected"]["classification"].items()
        if label != "other"}
    assert all(g and proven(g) for f in tampering for g in grants_of(f).values())


@pytest.mark.emulator
def test_scanned_clean_resources_get_nothing_from_these_rules_at_medium_or_above(
        audited: tuple[RunResult, list[Finding]], seeded_aws_org: Any) -> None:
    from tests.scenario_support import scenario_names

    clean = set(seeded_aws_org.scenario["expected"]["clean"])
    ours = ESCALATION_IDS | {WRITE_LISTING, MANY_WRITERS}
    _result, found = audited
    assert [f.rule_id for f in found if f.rule_id in ours and f.severity != "info"
            and scenario_names(f) & clean] == []


# --- an object ACL that could not be read hides readers, never writers -------------------------

def test_unread_object_acls_leave_reads_undecided_and_writes_decided() -> None:
    inv = inventory(bucket("weights", tags=WEIGHTS), user("ops", {"all": doc(allow("s3:ListBucket"))}))
    inv.add([CollectionError(provider="aws", account="111122223333", service="s3",
                             operation="GetObjectAcl", code="AccessDenied", message="denied",
                             region="us-east-1", resource_id="arn:aws:s3:::weights",
                             attribute="object_sample.acl")])
    _, access = analyze(inv)
    asset = access.for_resource("arn:aws:s3:::weights")
    assert asset.unknown == [] and asset.unknown_about("write") == []
    assert asset.unknown_about("read") and asset.unknown_about("admin")
    assert asset.all_unknown() == asset.unknown_about("read")
    statuses = {(f.rule_id, f.status) for f in findings(
        [BUNDLED["aws.s3.sensitive-public-read"], BUNDLED["aws.s3.sensitive-public-write"]], inv)}
    # a read the ACL may grant is undecided; a write it cannot grant is decided (a pass: no
    # finding)
    assert statuses == {("aws.s3.sensitive-public-read", "error")}
