"""Detections on real logs: Stratus Red Team detonations, Panther's labelled rule tests, the
Panther "compromised root credentials" scenario and OTRF's anonymous honey-bucket calls.

Which detonation or labelled case each detection must catch is stated here, from the raw
records; the auditor's output is only compared with that.
"""

from __future__ import annotations

import ast
import csv
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.access.model import AccessMap
from auditor.activity.detections.base import one_of
from auditor.activity.run import ActivityResult, run_activity
from auditor.activity.settings import LogSources, parse_activity
from auditor.activity.store import EventStore
from auditor.findings import Finding
from auditor.inventory import Inventory, Resource, Scope
from auditor.pipeline import analyze
from tests.test_activity_ingest import DATA, SIGHTINGS, STRATUS

SCENARIO = DATA / "panther_rule_tests" / "test_scenarios" / "compromised-root-creds"
PANTHER = DATA / "panther_rule_tests" / "cloudtrail_rule_tests.subset.jsonl"
HONEY = DATA / "otrf_security_datasets" / "AWS_S3_HoneyBucketLogs.csv"
LATER = datetime(2026, 1, 1, tzinfo=UTC)


def activity(tmp_path: Path, sources: LogSources, inventory: Inventory | None = None,
             since: timedelta = timedelta(days=3650), now: datetime = LATER,
             **settings: Any) -> ActivityResult:
    inventory = inventory or Inventory()
    classifications, access = analyze(inventory) if inventory.resources else ({}, AccessMap())
    return run_activity(sources, parse_activity(settings)[1], inventory, classifications, access,
                        since, now, work_dir=tmp_path)


def by_rule(findings: list[Finding]) -> dict[str, list[Finding]]:
    found: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        found[finding.rule_id].append(finding)
    return found


def evidence_ids(findings: list[Finding]) -> set[str]:
    return {e["event_id"] for f in findings for e in f.evidence["events"]}


def bucket(name: str, label: str, account: str) -> Resource:
    return Resource(id=f"arn:aws:s3:::{name}", type="aws.s3.bucket", provider="aws", account=account,
                    name=name, region="us-east-1", tags={"ml-asset": label},
                    attributes={"policy": None, "acl": None, "public_access_block": None,
                                "object_ownership": "BucketOwnerEnforced", "encryption": None})


# -- Stratus Red Team detonations -------------------------------------------------------------------

def _stratus() -> list[dict[str, Any]]:
    records = [r for p in sorted(STRATUS.glob("*.json")) for r in json.loads(p.read_text())]
    for path in sorted(SIGHTINGS.glob("*.json")):
        try:
            records += json.loads(path.read_text())["Records"]
        except json.JSONDecodeError:
            continue  # the damaged file holds no detonation these detections look for
    return records


def test_stratus_detonations_are_found(tmp_path: Path) -> None:
    records = _stratus()
    result = activity(tmp_path, LogSources(cloudtrail=(str(STRATUS), str(SIGHTINGS))))
    found = by_rule(result.findings)

    succeeded = [r for r in records if not r.get("errorCode")]
    trail_off = {r["eventID"] for r in succeeded if r["eventName"] in ("StopLogging", "DeleteTrail")
                 or (r["eventName"] == "PutEventSelectors" and not any(
                     s.get("includeManagementEvents") for s in r["requestParameters"]["eventSelectors"]))}
    other_user = {r["eventID"] for r in succeeded if r["eventName"] == "CreateAccessKey"
                  and r["requestParameters"]["userName"] != r["userIdentity"].get("userName")}
    # the detonations of cloudtrail-stop, cloudtrail-delete (twice), cloudtrail-event-selectors,
    # iam-backdoor-user and iam-create-admin-user
    assert (len(trail_off), len(other_user)) == (4, 2)
    assert evidence_ids(found.pop("aws.cloudtrail.logging-disabled")) == trail_off
    assert evidence_ids(found.pop("aws.iam.access-key-created-for-other-user")) == other_user
    # no sensitive asset is known here, so the behavioural detections have nothing to say
    assert found == {}


# -- Panther's labelled rule tests ------------------------------------------------------------------

# Panther rule -> our detection with the same meaning on these events
SAME_MEANING = {
    "AWS.CloudTrail.ResourceMadePublic": "ml.sensitive-bucket-made-public",
    "AWS.S3.DeletePublicAccessBlock": "ml.sensitive-bucket-made-public",
    "AWS.IAM.Backdoor.User.Keys": "aws.iam.access-key-created-for-other-user",
    "AWS.CloudTrail.Stopped": "aws.cloudtrail.logging-disabled",
    "AWS.CloudTrail.EventSelectorsDisabled": "aws.cloudtrail.logging-disabled",
}


def test_panther_labelled_cases_agree(tmp_path: Path) -> None:
    cases = [json.loads(line) for line in PANTHER.read_text().splitlines()]
    logs = tmp_path / "panther.jsonl"
    logs.write_text("".join(json.dumps(c["log"]) + "\n" for c in cases))
    result = activity(tmp_path, LogSources(cloudtrail=(str(logs),)))
    flagged: dict[int, set[str]] = defaultdict(set)
    for finding in result.findings:
        for event in finding.evidence["events"]:
            flagged[int(event["log"].rsplit(":", 1)[1])].add(finding.rule_id)

    compared = 0
    for line, case in enumerate(cases, start=1):
        ours = SAME_MEANING.get(case["id"])
        if ours is None or case["log"]["eventName"] == "PutBucketAcl":
            continue  # a different meaning (any ACL change), not ours (a public one)
        assert (ours in flagged[line]) == case["expected_result"], (case["id"], case["test_name"])
        compared += 1
    assert compared >= 15


# -- Panther's compromised-root-credentials scenario ------------------------------------------------

def test_the_compromised_root_scenario(tmp_path: Path) -> None:
    records = [r for name in ("victim_cloudtrail.yml", "attacker_cloudtrail.yml")
               for r in yaml.safe_load((SCENARIO / name).read_text())["Logs"]]
    cloudtrail = tmp_path / "cloudtrail.jsonl"
    cloudtrail.write_text("".join(json.dumps(r) + "\n" for r in records))
    access_log = tmp_path / "access.log"
    access_lines = yaml.safe_load((SCENARIO / "attacker_s3_access.yml").read_text())["Logs"]
    access_log.write_text("\n".join(access_lines) + "\n")
    account = "493859302102"
    customer_data = bucket("acme.customerdata-prod", "training-data", account)
    inventory = Inventory(resources=[customer_data], scopes=[Scope("aws", account, ("us-east-1",), ())])
    legit, attacker = "71.253.251.71", "tracy_stone"

    sources = LogSources(cloudtrail=(str(cloudtrail),), s3_access_logs=(str(access_log),))
    result = activity(tmp_path, sources, inventory, since=timedelta(days=18),
                      now=datetime(2020, 11, 2, tzinfo=UTC), trusted_cidrs=[f"{legit}/32"])

    assert result.errors == []
    found = {(f.rule_id, f.resource.id) for f in result.findings}
    attacker_arn = f"arn:aws:iam::{account}:user/{attacker}"
    trail = f"arn:aws:cloudtrail:us-east-1:{account}:trail/acme-cloudtrail-us-east-1"
    stop = next(r for r in records if r["eventName"] == "StopLogging")
    assert stop["errorCode"]  # the attacker tried to stop the trail, and AWS refused
    assert found == {
        ("aws.iam.access-key-created-for-other-user", attacker_arn),
        # the attacker's user reads customer data: new, from outside, on a Sunday
        ("ml.first-time-sensitive-access", customer_data.id),
        ("ml.sensitive-read-untrusted-network", customer_data.id),
        ("ml.sensitive-read-off-hours", customer_data.id),
    }
    assert trail not in {resource for _, resource in found}
    for finding in result.findings:
        if finding.resource.id == customer_data.id:
            assert finding.evidence["principal"] == attacker_arn
            assert finding.evidence["count"] == len(access_lines)
    key = next(r for r in records if r["eventName"] == "CreateAccessKey"
               and (r.get("requestParameters") or {}).get("userName") == attacker)
    [created] = [f for f in result.findings if f.rule_id == "aws.iam.access-key-created-for-other-user"]
    assert created.evidence["events"][0]["time"] == key["eventTime"]
    assert created.evidence["events"][0]["source_ip"] == key["sourceIPAddress"]


# -- OTRF's anonymous honey-bucket calls -----------------------------------------------------------

def _honey_records() -> list[dict[str, Any]]:
    records = []
    for row in csv.DictReader(HONEY.open(encoding="utf-8")):
        records.append({"eventTime": row["Event DateTime"], "eventSource": "s3.amazonaws.com",
                        "eventName": row["Event Name"], "eventID": row["Event ID"],
                        "requestID": row["Request ID"], "sourceIPAddress": row["Source IP"],
                        "userAgent": row["Request User Agent"], "eventType": row["Event Type"],
                        "userIdentity": ast.literal_eval(row["User ID"]),
                        "requestParameters": ast.literal_eval(row["Request Parameters"])})
    return records


@pytest.mark.parametrize("known", [True, False], ids=["classified", "unclassified"])
def test_anonymous_calls_on_a_sensitive_bucket_are_found(tmp_path: Path, known: bool) -> None:
    records = _honey_records()
    logs = tmp_path / "honey.jsonl"
    logs.write_text("".join(json.dumps(r) + "\n" for r in records))
    names = {r["requestParameters"]["bucketName"] for r in records}
    assert names == {"microsoft-devtest"}
    inventory = Inventory(resources=[bucket("microsoft-devtest", "training-data", "000000000000")]) \
        if known else Inventory()

    result = activity(tmp_path, LogSources(cloudtrail=(str(logs),)), inventory)

    anonymous = [f for f in result.findings if f.rule_id == "ml.anonymous-sensitive-read"]
    if not known:
        # "microsoft-devtest" says nothing about training data: nothing is known to be exposed
        assert anonymous == []
        return
    expected = [r for r in records if r["userIdentity"].get("accountId") == "ANONYMOUS_PRINCIPAL"
                and r["eventName"] == "ListObjects"]
    [finding] = anonymous
    assert finding.resource.id == "arn:aws:s3:::microsoft-devtest"
    assert finding.evidence["count"] == len(expected)
    assert {e["event_id"] for e in finding.evidence["events"]} <= {r["eventID"] for r in expected}
    assert f"{len(expected)} s3:ListObjects" in finding.message


# -- a GCS bucket made public ---------------------------------------------------------------------------

def test_a_gcs_bucket_opened_to_all_users_is_found(tmp_path: Path) -> None:
    def change(member: str, action: str) -> dict[str, Any]:
        delta = {"action": action, "role": "roles/storage.objectViewer", "member": member}
        return {"insertId": f"{member}-{action}", "timestamp": "2025-05-10T12:00:00Z",
                "resource": {"type": "gcs_bucket",
                             "labels": {"bucket_name": "acme-weights", "project_id": "p"}},
                "protoPayload": {"methodName": "storage.setIamPermissions",
                                 "resourceName": "projects/_/buckets/acme-weights",
                                 "authenticationInfo": {"principalEmail": "dev@acme.example"},
                                 "serviceData": {"policyDelta": {"bindingDeltas": [delta]}}}}

    logs = tmp_path / "admin.json"
    entries = [change("allUsers", "ADD"), change("user:x@acme.example", "ADD"), change("allUsers", "REMOVE")]
    logs.write_text("".join(json.dumps(e) + "\n" for e in entries))
    result = activity(tmp_path, LogSources(gcs_audit_logs=(str(logs),)))
    [finding] = result.findings
    assert (finding.rule_id, finding.resource.id, finding.resource.type) == (
        "ml.sensitive-bucket-made-public", "//storage.googleapis.com/projects/_/buckets/acme-weights",
        "gcp.storage.bucket")
    assert finding.evidence["events"][0]["event_id"] == "allUsers-ADD"
    assert "roles/storage.objectViewer to allUsers" in finding.message


def test_hostile_requests_do_not_break_the_detections(tmp_path: Path) -> None:
    deep = json.loads("[" * 500 + "]" * 500)
    base = {"eventTime": "2025-05-10T12:00:00Z", "awsRegion": "us-east-1",
            "recipientAccountId": "111122223333", "sourceIPAddress": "198.51.100.4",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory",
                             "accountId": "111122223333"}}
    records = [
        {**base, "eventID": "policy", "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy",
         "requestParameters": {"bucketName": "acme-weights", "bucketPolicy": {"Statement": deep}}},
        {**base, "eventID": "stop", "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
         "requestParameters": {"name": "org-trail", "eventSelectors": deep}},
    ]
    logs = tmp_path / "hostile.json"
    logs.write_text(json.dumps({"Records": records}))
    result = activity(tmp_path, LogSources(cloudtrail=(str(logs),)))
    assert result.errors == []
    # a policy nobody can read opens nothing; stopping the trail is still reported
    [stopped] = result.findings
    assert stopped.rule_id == "aws.cloudtrail.logging-disabled"
    assert stopped.evidence["events"][0]["event_id"] == "stop"
    json.dumps([f.to_dict() for f in result.findings])


@pytest.mark.parametrize("count", [0, 1, 5, 6, 11])
def test_one_of_selects_exactly_the_listed_values(count: int) -> None:
    values = [f"s3:Action{i}" for i in range(20)] + ["it's quoted"]
    wanted = [values[-1], *values[:count - 1]] if count else []
    with EventStore() as store:
        store.execute("CREATE TABLE t AS SELECT unnest(?::VARCHAR[]) AS action", [values])
        found = [a for (a,) in store.fetch(f"SELECT action FROM t WHERE {one_of('action', wanted)}")]
    assert sorted(found) == sorted(wanted)
