"""Key usage, used versus granted, the unused and overdue key detections, settings and the
run_activity result."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor.access.model import AccessGrant, AccessMap, AssetAccess, PathStep
from auditor.activity.run import run_activity
from auditor.activity.settings import (
    ACTIVITY_OPTIONS,
    ActivitySettings,
    LogSources,
    parse_activity,
    parse_duration,
)
from auditor.errors import ConfigError
from auditor.inventory import Resource
from auditor.pipeline import analyze
from tests.test_activity_ingest import DATA, STRATUS
from tests.test_activity_synthetic import (
    ACCOUNT,
    ACTORS,
    DATASETS,
    DAYS,
    GCS_WEIGHTS,
    NOW,
    PROJECT,
    SA_EMAIL,
    SA_KEY,
    WEIGHTS,
    access_key,
    access_log_line,
    organisation,
    quiet_logs,
    role,
    run,
    settings,
    user,
)

AWSDOCS = DATA / "awsdocs_examples" / "awsdocs_cloudtrail_examples.jsonl"


def _iso(days_ago: int) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- key usage from real events -----------------------------------------------------------------------

def test_kms_key_use_is_counted_per_key_and_principal(tmp_path: Path) -> None:
    records = [json.loads(line)["event"] for line in AWSDOCS.read_text().splitlines()]
    logs = tmp_path / "awsdocs.jsonl"
    logs.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = run_activity(LogSources(cloudtrail=(str(logs),)), ActivitySettings(), organisation(), {},
                          AccessMap(), timedelta(days=365 * 15), NOW, work_dir=tmp_path)

    expected: Counter[tuple[str, str]] = Counter()
    for record in records:
        name = record.get("eventName", "")
        if record.get("eventSource") == "kms.amazonaws.com" and not record.get("errorCode") and (
                name == "Decrypt" or name.startswith("GenerateDataKey")):
            key = next(r["ARN"] for r in record["resources"] if ":key/" in r["ARN"])
            expected[(key, "Decrypt" if name == "Decrypt" else "GenerateDataKey")] += 1
    assert sum(expected.values()) >= 10
    counted: Counter[tuple[str, str]] = Counter()
    for use in result.analysis.key_usage.kms_keys:
        counted[(use.key, "Decrypt")] += use.decrypt
        counted[(use.key, "GenerateDataKey")] += use.generate_data_key
    assert +counted == expected
    alice_arn = "arn:aws:iam::111122223333:user/Alice"
    alice = [u for u in result.analysis.key_usage.kms_keys if u.principal == alice_arn]
    alice_decrypts = sum(1 for r in records if r.get("eventName") == "Decrypt" and not r.get("errorCode")
                         and r.get("userIdentity", {}).get("arn") == alice_arn)
    assert sum(u.decrypt for u in alice) == alice_decrypts


def test_access_key_use_from_stratus(tmp_path: Path) -> None:
    records = [r for p in sorted(STRATUS.glob("*.json")) for r in json.loads(p.read_text())]
    result = run_activity(LogSources(cloudtrail=(str(STRATUS),)), ActivitySettings(), organisation(), {},
                          AccessMap(), timedelta(days=365 * 15), NOW, work_dir=tmp_path)
    uses = {u.access_key_id: u for u in result.analysis.key_usage.access_keys}
    by_key: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        key = (record.get("userIdentity") or {}).get("accessKeyId")
        if key:
            by_key.setdefault(key, []).append(record)
    assert set(uses) == set(by_key)
    for key, calls in by_key.items():
        assert uses[key].calls == len(calls)
        assert uses[key].failed == sum(1 for c in calls if c.get("errorCode"))
        assert uses[key].last_seen == max(c["eventTime"] for c in calls)
        assert uses[key].first_seen == min(c["eventTime"] for c in calls)


# -- unused and overdue keys ---------------------------------------------------------------------------

def test_unused_and_overdue_keys_that_reach_ml_assets(tmp_path: Path) -> None:
    keys = [
        access_key("carol", "AKIACAROLOLDKEY00001", _iso(400), _iso(200)),  # idle and old
        access_key("bob", "AKIABOBOLDKEY0000001", _iso(400), _iso(200)),  # old, but used yesterday
        access_key("dave", "AKIADAVENOACCESS0001", _iso(400), None),  # reaches nothing
        access_key("alice", "AKIAALICENEVERUSED01", _iso(120), None),  # never used, 120 days old
    ]
    inactive = access_key("carol", "AKIACAROLINACTIVE001", _iso(400), None)
    inactive.attributes["status"] = "Inactive"
    inventory = organisation([*keys, inactive, user("dave", {})])
    logs = quiet_logs(9)
    rng = random.Random(9)
    used = ACTORS[3]
    yesterday = NOW - timedelta(days=1, hours=12)
    event = {"eventVersion": "1.09", "eventTime": yesterday.strftime("%Y-%m-%dT%H:%M:%SZ"),
             "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "awsRegion": "us-east-1",
             "sourceIPAddress": used.ip, "eventID": f"{rng.getrandbits(64):x}", "recipientAccountId": ACCOUNT,
             "userIdentity": {"type": "IAMUser", "arn": used.arn, "accountId": ACCOUNT,
                              "accessKeyId": "AKIABOBOLDKEY0000001", "userName": "bob"}}
    logs.cloudtrail.append(event)

    result = run(logs, tmp_path, inventory)

    def keys_of(rule: str) -> set[str]:
        return {f.evidence["key_id"] for f in result.findings if f.rule_id == rule}

    assert keys_of("ml.unused-key-reaches-sensitive-data") == {"AKIACAROLOLDKEY00001", "AKIAALICENEVERUSED01"}
    assert keys_of("ml.overdue-key-reaches-sensitive-data") == {
        "AKIACAROLOLDKEY00001", "AKIABOBOLDKEY0000001", "AKIAALICENEVERUSED01"}
    statuses = {s.key_id: s for s in result.analysis.key_usage.keys}
    bob = statuses["AKIABOBOLDKEY0000001"]
    assert (bob.last_used, bob.last_used_source) == (event["eventTime"], "logs")
    assert statuses["AKIACAROLOLDKEY00001"].last_used_source == "inventory"
    assert statuses["AKIADAVENOACCESS0001"].reach == []
    carol = next(f for f in result.findings if f.rule_id == "ml.unused-key-reaches-sensitive-data"
                 and f.evidence["key_id"] == "AKIACAROLOLDKEY00001")
    assert carol.resource.id == keys[0].id
    assert {r["resource_id"] for r in carol.evidence["reach"]} == {
        f"arn:aws:s3:::{WEIGHTS}", f"arn:aws:s3:::{DATASETS}"}
    assert carol.evidence["idle_days"] == 200


def test_a_gcp_key_not_seen_in_the_storage_logs_is_unused(tmp_path: Path) -> None:
    def key(name: str, days_old: int) -> Resource:
        key_id = f"//iam.googleapis.com/projects/{PROJECT}/serviceAccounts/{SA_EMAIL}/keys/{name}"
        return Resource(id=key_id, type="gcp.iam.service_account_key", provider="gcp", account=PROJECT,
                        name=name, attributes={"key_id": name, "service_account": SA_EMAIL,
                                               "key_type": "USER_MANAGED", "create_time": _iso(days_old),
                                               "expire_time": None, "disabled": False})

    inventory = organisation([key("k1", 30), key("k-old", 300)])
    classifications, access = analyze(inventory)
    bucket = f"//storage.googleapis.com/projects/_/buckets/{GCS_WEIGHTS}"
    grant = AccessGrant(principal=f"serviceAccount:{SA_EMAIL}", kind="service-account", human=False,
                        access="read", action="storage.objects.get", decision="allow",
                        path=(PathStep(f"serviceAccount:{SA_EMAIL}", "storage.objects.get", "bucket", "0"),))
    access.assets[bucket] = AssetAccess(bucket, [grant])
    result = run_activity(quiet_logs(2).write(tmp_path / "logs"), settings(key_unused_days=20), inventory,
                          classifications, access, timedelta(days=DAYS), NOW, work_dir=tmp_path)
    unused = {f.resource.id for f in result.findings if f.rule_id == "ml.unused-key-reaches-sensitive-data"}
    # k1 (SA_KEY) signs the loader's reads every day; k-old has not been seen since the logs began
    assert SA_KEY in {s.resource_id for s in result.analysis.key_usage.keys}
    assert unused == {key("k-old", 300).id}
    [old] = [f for f in result.findings if f.resource.id == key("k-old", 300).id
             and f.rule_id == "ml.unused-key-reaches-sensitive-data"]
    assert "Cloud Storage audit logs" in old.evidence["idle_note"]


# -- used versus granted -------------------------------------------------------------------------------

def test_used_versus_granted(tmp_path: Path) -> None:
    assume = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Resource": f"arn:aws:iam::{ACCOUNT}:role/ml/trainer"}]}
    dan = f"arn:aws:iam::{ACCOUNT}:user/dan"
    inventory = organisation([user("dan", {"assume": assume})])
    inventory.resources = [r for r in inventory.resources if r.name != "trainer"] + [
        role("trainer", {"read": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}, [dan])]
    logs = quiet_logs(4)
    rng = random.Random(4)
    # the trainer seen in an S3 access log, where a role session has no path
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/trainer/s"
    logs.access_log.append(access_log_line(NOW - timedelta(days=2), DATASETS, "x/1.bin", session,
                                           "10.0.1.10", 5, rng))
    logs.access_log.append(access_log_line(NOW - timedelta(days=2), WEIGHTS, "x/1.bin", "-",
                                           "203.0.113.9", 5, rng))

    result = run(logs, tmp_path, inventory)
    report = result.analysis.usage.to_dict()
    assets = {a["resource_id"]: a for a in report["assets"]}
    weights, datasets = assets[f"arn:aws:s3:::{WEIGHTS}"], assets[f"arn:aws:s3:::{DATASETS}"]

    def statuses(asset: dict[str, Any]) -> dict[str, str]:
        return {g["principal"].rsplit(":", 1)[1]: g["status"] for g in asset["grants"]}

    assert statuses(weights) == {"user/alice": "used", "role/ml/evaluator": "used", "user/bob": "unused",
                                 "user/carol": "unused", "role/ml/trainer": "unused",
                                 "user/dan": "unused", "root": "indeterminate"}
    assert statuses(datasets) == {"user/alice": "unused", "role/ml/evaluator": "unused", "user/bob": "used",
                                  "user/carol": "unused", "role/ml/trainer": "used",
                                  # dan can only read through the trainer role, which did read
                                  "user/dan": "indeterminate", "root": "indeterminate"}
    trainer_arn = f"arn:aws:iam::{ACCOUNT}:role/ml/trainer"
    logged = sum(1 for r in logs.cloudtrail if r["eventName"] == "GetObject"
                 and r["requestParameters"]["bucketName"] == DATASETS
                 and r["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {}).get("arn")
                 == trainer_arn)
    trainer = next(r for r in datasets["readers"] if r["principal"] == trainer_arn)
    assert trainer["reads"] == logged + 1  # and the access-log read, named by its role
    anonymous = next(r for r in weights["readers"] if r["principal"] == "*")
    assert (anonymous["reads"], anonymous["granted"]) == (1, False)
    ungranted = {(a["resource_id"], r["principal"]) for a in report["assets"] for r in a["readers"]
                 if not r["granted"]}
    # the inventory gives the GCS bucket no IAM policy, so no grant explains the loader's reads
    gcs = f"//storage.googleapis.com/projects/_/buckets/{GCS_WEIGHTS}"
    assert ungranted == {(f"arn:aws:s3:::{WEIGHTS}", "*"), (gcs, f"serviceAccount:{SA_EMAIL}")}
    assert report["summary"]["ungranted_readers"] == len(ungranted)
    json.dumps(result.to_dict())  # everything the lead puts in reports is plain JSON


# -- settings ------------------------------------------------------------------------------------------------

def test_defaults_come_from_the_options() -> None:
    sources, parsed = parse_activity({})
    assert parsed == ActivitySettings()
    assert sources == LogSources()
    assert not sources.configured
    assert {"cloudtrail", "s3_access_logs", "gcs_audit_logs", "working_hours", "time_zone", "trusted_cidrs",
            "window"} <= set(ACTIVITY_OPTIONS)
    assert all(option.help for option in ACTIVITY_OPTIONS.values())


@pytest.mark.parametrize(("key", "value", "location"), [
    ("time_zone", "Mars/Olympus", "activity.time_zone"),
    ("working_hours", "9-18", "activity.working_hours"),
    ("working_hours", "18:00-09:00", "activity.working_hours"),
    ("trusted_cidrs", ["10.0.0.0/8", "10.0.0.300/32"], "activity.trusted_cidrs[1]"),
    ("working_days", ["mon", "funday"], "activity.working_days[1]"),
    ("window", "30 days", "activity.window"),
    ("evidence_events", -1, "activity.evidence_events"),
])
def test_bad_settings_name_the_key(key: str, value: Any, location: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_activity({key: value}, source="audit.toml")
    assert (error.value.source, error.value.location) == ("audit.toml", location)


def test_durations() -> None:
    assert [parse_duration(t) for t in ("90m", "12h", "30d", "2w")] == [
        timedelta(minutes=90), timedelta(hours=12), timedelta(days=30), timedelta(weeks=2)]
    with pytest.raises(ConfigError):
        parse_duration("0d")


def test_the_events_can_be_kept_in_a_database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    from auditor.activity import run as activity_run

    sources = LogSources(cloudtrail=(str(STRATUS),), database="activity.duckdb")
    staging = tmp_path / "staging"
    staging.mkdir()
    monkeypatch.setattr(activity_run, "staging_parent", lambda work_dir: staging)
    result = run_activity(sources, ActivitySettings(), organisation(), {}, AccessMap(),
                          timedelta(days=365 * 15), NOW, work_dir=tmp_path)
    with duckdb.connect(str(tmp_path / "activity.duckdb"), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM events").fetchone() == (result.events,)
    assert list(staging.iterdir()) == []  # the staging folder is gone
