"""findings.json and access.json: shape, schema, determinism.

``build_result`` is also used by test_report_html.py: one sample run, hostile text included.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.access.model import AccessGrant, AccessMap, AssetAccess, PathStep
from auditor.classify.model import MODEL_WEIGHTS, OTHER, TRAINING_DATA, Classification
from auditor.errors import InputError
from auditor.findings import Finding
from auditor.inventory import CollectionError, Inventory, Resource, Scope
from auditor.plugins import registry
from auditor.report.access_report import AccessRenderer
from auditor.report.assets import resource_ref, sensitive_assets
from auditor.report.base import Renderer
from auditor.report.html import HtmlRenderer
from auditor.report.json_report import JsonRenderer, findings_schema
from auditor.run import RuleOutcome, RunMetadata, RunResult

DOCS = Path(__file__).resolve().parents[1] / "docs" / "findings.md"

ACCOUNT = "111122223333"
EXTERNAL_ROOT = "arn:aws:iam::999988887777:root"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
TRAINER = f"arn:aws:iam::{ACCOUNT}:role/trainer"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/platform-admin"

# Text a cloud resource controls; it must reach every report as inert data.
SCRIPT_PAYLOAD = "<script>alert(1)</script>"
ATTRIBUTE_PAYLOAD = '"><img src=x onerror=alert(1)>'
CLOSE_PAYLOAD = "</script><script>alert(2)</script>"
POLICY_PAYLOAD = "</script><img src=x onerror=alert(3)>"
PAYLOADS = (SCRIPT_PAYLOAD, ATTRIBUTE_PAYLOAD, CLOSE_PAYLOAD, POLICY_PAYLOAD)

TRAIN_BUCKET = "arn:aws:s3:::acme-train"
HOSTILE_BUCKET = f"arn:aws:s3:::{SCRIPT_PAYLOAD}"
UNANALYZED_BUCKET = "arn:aws:s3:::acme-weights-archive"
LOGS_BUCKET = "arn:aws:s3:::acme-logs"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

HOSTILE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": POLICY_PAYLOAD, "Effect": "Allow", "Principal": "*",
                   "Action": "s3:GetObject", "Resource": f"{HOSTILE_BUCKET}/*"}],
}


def _bucket(arn: str, tags: dict[str, str] | None = None, policy: Any = None) -> Resource:
    return Resource(id=arn, type="aws.s3.bucket", provider="aws", account=ACCOUNT,
                    name=arn.removeprefix("arn:aws:s3:::"), region="us-east-1",
                    attributes={"policy": policy}, tags=tags or {})


def _grant(principal: str, access: str, *, kind: str = "user", human: bool | None = False,
           decision: str = "allow", conditions: tuple[dict[str, Any], ...] = (),
           policy: str = "arn:aws:s3:::acme-train#bucket-policy") -> AccessGrant:
    action = {"read": "s3:GetObject", "write": "s3:PutObject", "delete": "s3:DeleteObject",
              "admin": "s3:PutBucketPolicy"}[access]
    return AccessGrant(principal=principal, kind=kind, human=human, access=access, action=action,
                       decision=decision, conditions=conditions,
                       path=(PathStep(principal, action, policy, "AllowTraining"),))


# Deliberately not in any sorted order: the reports must order them.
TRAIN_GRANTS = [
    _grant("*", "read", kind="public", human=None),
    _grant(TRAINER, "write", kind="role"),
    _grant(ALICE, "read", human=True, policy=f"{ALICE}#inline:read-train"),
    _grant(EXTERNAL_ROOT, "read", kind="external-account", human=None, decision="conditional",
           conditions=({"StringEquals": {"aws:SourceVpce": "vpce-1"}},)),
    _grant(ADMIN, "admin", kind="role"),
    _grant(TRAINER, "read", kind="role"),
    _grant(ALICE, "delete", human=True),
]
TRAIN_CLASS = Classification(TRAINING_DATA, ("tag ml:dataset=imagenet-été",))
HOSTILE_CLASS = Classification(MODEL_WEIGHTS, (f"tag {ATTRIBUTE_PAYLOAD}={CLOSE_PAYLOAD}",))


def build_result(*, reverse_inputs: bool = False) -> RunResult:
    """A run over a small account: three sensitive buckets, one other bucket, a KMS key.

    ``reverse_inputs`` feeds every list in the opposite order: the output must not change.
    """
    resources = [
        _bucket(TRAIN_BUCKET, tags={"ml:dataset": "imagenet-été"}),
        _bucket(HOSTILE_BUCKET, tags={ATTRIBUTE_PAYLOAD: CLOSE_PAYLOAD}, policy=HOSTILE_POLICY),
        _bucket(UNANALYZED_BUCKET),
        _bucket(LOGS_BUCKET),
        Resource(id=KEY, type="aws.kms.key", provider="aws", account=ACCOUNT,
                 name="1234abcd-12ab-34cd-56ef-1234567890ab", region="us-east-1",
                 attributes={"aliases": ["alias/acme-release"]}),
        Resource(id=ALICE, type="aws.iam.user", provider="aws", account=ACCOUNT, name="alice"),
    ]
    errors = [CollectionError(provider="aws", account=ACCOUNT, service="s3",
                              operation="GetBucketPolicy", code="AccessDenied",
                              message="Access Denied", region="us-east-1",
                              resource_id=UNANALYZED_BUCKET, attribute="policy")]
    classifications = {TRAIN_BUCKET: TRAIN_CLASS, HOSTILE_BUCKET: HOSTILE_CLASS,
                       UNANALYZED_BUCKET: Classification(MODEL_WEIGHTS, ("name *-weights-*",)),
                       LOGS_BUCKET: Classification(OTHER)}
    grants = TRAIN_GRANTS[::-1] if reverse_inputs else list(TRAIN_GRANTS)
    access = AccessMap({
        TRAIN_BUCKET: AssetAccess(TRAIN_BUCKET, grants),
        HOSTILE_BUCKET: AssetAccess(HOSTILE_BUCKET, [
            _grant("*", "read", kind="public", human=None, policy=f"{HOSTILE_BUCKET}#bucket-policy"),
        ], unknown=["object ACLs were not sampled", "object ACLs were not sampled"]),
        # not sensitive: must stay out of access.json
        LOGS_BUCKET: AssetAccess(LOGS_BUCKET, [_grant(ALICE, "read", human=True)]),
    })
    by_id = {r.id: r for r in resources}
    findings = [
        Finding("aws.s3.bucket-public-read", "Bucket readable by anyone", "critical", "fail",
                resource_ref(by_id[HOSTILE_BUCKET]), f"{SCRIPT_PAYLOAD} is public",
                HOSTILE_CLASS, evidence={"policy": HOSTILE_POLICY,
                                         "tags": {ATTRIBUTE_PAYLOAD: CLOSE_PAYLOAD}},
                remediation={"cli": f"aws s3api delete-bucket-policy --bucket '{SCRIPT_PAYLOAD}'"}),
        Finding("aws.s3.bucket-public-read", "Bucket readable by anyone", "critical", "fail",
                resource_ref(by_id[TRAIN_BUCKET]), "acme-train is readable by anyone",
                TRAIN_CLASS, evidence={"principal": "*"}),
        Finding("ml.external-read", "Training data readable by another account", "high", "fail",
                resource_ref(by_id[TRAIN_BUCKET]), "999988887777 can read acme-train",
                TRAIN_CLASS, evidence={"principal": EXTERNAL_ROOT}, discriminator=EXTERNAL_ROOT),
        Finding("aws.kms.key-rotation", "Key rotation disabled", "high", "suppressed",
                resource_ref(by_id[KEY]), "alias/acme-release does not rotate",
                evidence={"rotation_enabled": False}),
        Finding("ml.external-read", "Training data readable by another account", "medium",
                "error", resource_ref(by_id[UNANALYZED_BUCKET]),
                "the bucket policy of acme-weights-archive could not be read",
                classifications[UNANALYZED_BUCKET], evidence={"missing": ["policy"]}),
        Finding("aws.iam.user-without-mfa", "User without MFA", "info", "fail",
                resource_ref(by_id[ALICE]), "alice has no MFA device"),
    ]
    findings.sort(key=Finding.sort_key)  # as the engine does
    rules = [RuleOutcome("ml.external-read", "Training data readable by another account", "high",
                         evaluated=3, failed=1, errors=1),
             RuleOutcome("aws.iam.user-without-mfa", "User without MFA", "info", 1, 1),
             RuleOutcome("aws.s3.bucket-public-read", "Bucket readable by anyone", "critical", 4, 2),
             RuleOutcome("aws.kms.key-rotation", "Key rotation disabled", "high", 1, 1),
             RuleOutcome("aws.cloudtrail.data-events", "S3 data events logged", "medium")]
    if reverse_inputs:
        resources.reverse()
        rules.reverse()
        classifications = dict(reversed(classifications.items()))
    inventory = Inventory(resources=resources, errors=errors,
                          scopes=[Scope("aws", ACCOUNT, ("us-east-1",), ("s3", "iam", "kms"))])
    metadata = RunMetadata(tool_version="9.9.9-test", profile="prod",
                           started_at="2024-05-01T10:00:00Z", finished_at="2024-05-01T10:02:13Z",
                           fail_on="high")
    return RunResult(metadata, inventory, classifications, access, findings, rules)


def findings_json(result: RunResult | None = None) -> dict[str, Any]:
    return json.loads(JsonRenderer().render(result or build_result()))


def access_json(result: RunResult | None = None) -> dict[str, Any]:
    return json.loads(AccessRenderer().render(result or build_result()))


# --- findings.json -------------------------------------------------------------------------


def test_findings_json_satisfies_its_schema() -> None:
    schema = findings_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(findings_json())


def test_run_section_carries_metadata_and_coverage() -> None:
    run = findings_json()["run"]
    assert run["tool"] == {"name": "auditor", "version": "9.9.9-test"}
    assert (run["profile"], run["started_at"], run["finished_at"], run["fail_on"]) == (
        "prod", "2024-05-01T10:00:00Z", "2024-05-01T10:02:13Z", "high")
    coverage = run["coverage"]
    assert coverage["complete"] is False
    assert coverage["resources_by_type"] == {"aws.iam.user": 1, "aws.kms.key": 1, "aws.s3.bucket": 4}
    assert [e["operation"] for e in coverage["collection_errors"]] == ["GetBucketPolicy"]
    assert coverage["scopes"] == [{"provider": "aws", "account": ACCOUNT, "regions": ["us-east-1"],
                                   "services": ["s3", "iam", "kms"]}]


def test_summary_counts_every_severity_and_status() -> None:
    assert findings_json()["summary"] == {
        "total": 6,
        "by_severity": {"critical": 2, "high": 2, "medium": 1, "low": 0, "info": 1},
        "by_status": {"fail": 4, "error": 1, "suppressed": 1},
    }


def test_rules_are_sorted_by_id_with_their_status() -> None:
    rules = findings_json()["rules"]
    assert [r["rule_id"] for r in rules] == [
        "aws.cloudtrail.data-events", "aws.iam.user-without-mfa", "aws.kms.key-rotation",
        "aws.s3.bucket-public-read", "ml.external-read"]
    assert rules[0]["status"] == "not-applicable"
    assert rules[-1] == {"rule_id": "ml.external-read",
                         "title": "Training data readable by another account",
                         "severity": "high", "evaluated": 3, "failed": 1, "errors": 1,
                         "status": "fail"}


def test_findings_keep_the_engine_order_and_round_trip() -> None:
    result = build_result()
    findings = findings_json(result)["findings"]
    assert [f["id"] for f in findings] == [f.id for f in result.findings]
    assert [f["severity"] for f in findings] == ["critical", "critical", "high", "high",
                                                 "medium", "info"]
    assert findings == [json.loads(json.dumps(f.to_dict())) for f in result.findings]
    assert all(re.fullmatch(r"[0-9a-f]{20}", f["id"]) for f in findings)
    hostile = next(f for f in findings if f["resource"]["id"] == HOSTILE_BUCKET)
    assert hostile["evidence"]["policy"] == HOSTILE_POLICY  # the text is kept, not mangled


def test_a_kms_key_lists_its_aliases_and_a_bucket_does_not() -> None:
    resources = {f["resource"]["id"]: f["resource"] for f in findings_json()["findings"]}
    assert resources[KEY]["aliases"] == ["alias/acme-release"]
    assert "aliases" not in resources[TRAIN_BUCKET]


def test_finding_ids_are_stable_across_runs_and_distinct() -> None:
    first = [f["id"] for f in findings_json()["findings"]]
    assert first == [f["id"] for f in findings_json(build_result())["findings"]]
    assert len(set(first)) == len(first)


def test_findings_json_is_byte_identical_for_the_same_run() -> None:
    result = build_result()
    text = JsonRenderer().render(result)
    assert text == JsonRenderer().render(result)
    assert text == JsonRenderer().render(build_result(reverse_inputs=True))
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert "imagenet-été" in text  # not \u-escaped
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _mutations() -> list[tuple[str, Any]]:
    def extra_top_level(doc: dict[str, Any]) -> None:
        doc["generated_at"] = "2024-05-01T10:00:00Z"

    def unknown_severity(doc: dict[str, Any]) -> None:
        doc["findings"][0]["severity"] = "urgent"

    def missing_id(doc: dict[str, Any]) -> None:
        del doc["findings"][0]["id"]

    def missing_severity_count(doc: dict[str, Any]) -> None:
        del doc["summary"]["by_severity"]["low"]

    def undocumented_resource_field(doc: dict[str, Any]) -> None:
        doc["findings"][0]["resource"]["arn"] = doc["findings"][0]["resource"]["id"]

    def wrong_version(doc: dict[str, Any]) -> None:
        doc["schema_version"] = 2

    return [(m.__name__, m) for m in (extra_top_level, unknown_severity, missing_id,
                                      missing_severity_count, undocumented_resource_field,
                                      wrong_version)]


@pytest.mark.parametrize(("name", "mutate"), _mutations(), ids=[n for n, _ in _mutations()])
def test_schema_rejects_drift(name: str, mutate: Any) -> None:
    document = findings_json()
    mutate(document)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, findings_schema(), cls=jsonschema.Draft202012Validator)


def _property_names(node: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(node, dict):
        names.update(node.get("properties", {}))
        for value in node.values():
            names |= _property_names(value)
    elif isinstance(node, list):
        for value in node:
            names |= _property_names(value)
    return names


def test_docs_describe_every_field_of_the_schema() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    undocumented = sorted(n for n in _property_names(findings_schema()) if f"`{n}`" not in docs)
    assert undocumented == []


# --- access.json ---------------------------------------------------------------------------


def test_access_json_lists_only_sensitive_assets_by_id() -> None:
    assets = access_json()["assets"]
    assert [a["resource"]["id"] for a in assets] == sorted(
        [TRAIN_BUCKET, HOSTILE_BUCKET, UNANALYZED_BUCKET])
    assert {a["classification"]["label"] for a in assets} == {TRAINING_DATA, MODEL_WEIGHTS}


def test_access_json_groups_grants_by_access_class() -> None:
    train = next(a for a in access_json()["assets"] if a["resource"]["id"] == TRAIN_BUCKET)
    who = {access: [g["principal"] for g in grants] for access, grants in train["access"].items()}
    assert who == {"read": sorted(["*", ALICE, EXTERNAL_ROOT, TRAINER]), "write": [TRAINER],
                   "delete": [ALICE], "admin": [ADMIN]}
    external = next(g for g in train["access"]["read"] if g["principal"] == EXTERNAL_ROOT)
    assert external["decision"] == "conditional"
    assert external["conditions"] == [{"StringEquals": {"aws:SourceVpce": "vpce-1"}}]
    assert external["path"] == [{"principal": EXTERNAL_ROOT, "action": "s3:GetObject",
                                 "policy": "arn:aws:s3:::acme-train#bucket-policy",
                                 "statement": "AllowTraining"}]
    assert train["unknown"] == []


def test_an_unanalyzed_sensitive_asset_is_unknown_not_unreachable() -> None:
    assets = {a["resource"]["id"]: a for a in access_json()["assets"]}
    unanalyzed = assets[UNANALYZED_BUCKET]
    assert all(grants == [] for grants in unanalyzed["access"].values())
    assert len(unanalyzed["unknown"]) == 1 and "not analyzed" in unanalyzed["unknown"][0]
    assert assets[HOSTILE_BUCKET]["unknown"] == ["object ACLs were not sampled"]  # deduplicated


def test_access_json_is_byte_identical_whatever_the_input_order() -> None:
    text = AccessRenderer().render(build_result())
    assert text == AccessRenderer().render(build_result(reverse_inputs=True))
    assert text.endswith("\n") and "imagenet-été" in text


def test_blast_radius_counts_distinct_principals() -> None:
    train = next(a for a in sensitive_assets(build_result()) if a.resource.id == TRAIN_BUCKET)
    radius = train.blast_radius()
    assert radius.by_access == {"read": 4, "write": 1, "delete": 1, "admin": 1}
    # alice, trainer, admin, the external account and the public
    assert (radius.principals, radius.human, radius.external, radius.public) == (5, 1, 2, 1)


def test_a_classified_resource_missing_from_the_inventory_is_an_input_error() -> None:
    result = build_result()
    result.classifications["arn:aws:s3:::ghost"] = Classification(TRAINING_DATA)
    with pytest.raises(InputError, match="not in the inventory") as caught:
        AccessRenderer().render(result)
    assert "arn:aws:s3:::ghost" in str(caught.value)


# --- the renderer contract -----------------------------------------------------------------


@pytest.mark.parametrize(("renderer", "name", "filename"), [
    (JsonRenderer, "json", "findings.json"),
    (HtmlRenderer, "html", "report.html"),
    (AccessRenderer, "access", "access.json"),
])
def test_renderers_follow_the_protocol(renderer: type, name: str, filename: str) -> None:
    instance = renderer()
    assert isinstance(instance, Renderer)
    assert (instance.name, instance.filename) == (name, filename)


@pytest.mark.parametrize(("name", "renderer"), [("json", JsonRenderer), ("html", HtmlRenderer)])
def test_renderers_load_through_their_entry_points(name: str, renderer: type) -> None:
    assert registry("auditor.renderers")[name] is renderer


def test_access_renderer_loads_through_its_entry_point() -> None:
    assert registry("auditor.renderers")["access"] is AccessRenderer
