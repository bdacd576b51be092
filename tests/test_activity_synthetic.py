"""Detections on synthetic logs of a small ML organisation, generated from a seed.

The quiet month (people reading at work from the office network, jobs reading at their usual
rate, a few harmless management calls) must raise nothing. Each planted incident must be found
by the detection meant for it, about the planted principal and resource, with the planted
events as evidence, and nothing else may be reported.

The generator here is also used by tests/test_activity_usage.py.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from auditor.activity.run import ActivityResult, run_activity
from auditor.activity.settings import ActivitySettings, LogSources, parse_activity
from auditor.inventory import Inventory, Resource, Scope
from auditor.pipeline import analyze

ACCOUNT = "111122223333"
REGION = "us-east-1"
NOW = datetime(2025, 6, 1, tzinfo=UTC)
DAYS = 28
TIME_ZONE = ZoneInfo("Europe/Paris")
TRUSTED = "10.0.0.0/16"
WEIGHTS = "acme-model-weights"
DATASETS = "acme-training-datasets"
GCS_WEIGHTS = "acme-gcs-checkpoints"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b1c2d3e-1111-2222-3333-444455556666"
PROJECT = "acme-ml"
SA_EMAIL = f"loader@{PROJECT}.iam.gserviceaccount.com"
SA_KEY = f"//iam.googleapis.com/projects/{PROJECT}/serviceAccounts/{SA_EMAIL}/keys/k1"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Actor:
    kind: str  # role, user, service-account
    name: str
    ip: str
    bucket: str
    reads_per_day: int
    object_size: int
    person: bool

    @property
    def arn(self) -> str:
        if self.kind == "role":
            return f"arn:aws:iam::{ACCOUNT}:role/ml/{self.name}"
        return f"arn:aws:iam::{ACCOUNT}:user/{self.name}"

    @property
    def access_key(self) -> str:
        return ("AKIA" if self.kind == "user" else "ASIA") + f"SYNTH{self.name.upper():0<12}"[:16]


ACTORS = (
    Actor("role", "trainer", "10.0.1.10", DATASETS, 200, 2 * MIB, person=False),
    Actor("role", "evaluator", "10.0.2.20", WEIGHTS, 20, 50 * MIB, person=False),
    Actor("user", "alice", "10.0.3.30", WEIGHTS, 5, 50 * MIB, person=True),
    Actor("user", "bob", "10.0.3.31", DATASETS, 30, 2 * MIB, person=True),
    Actor("service-account", "loader", "10.0.4.40", GCS_WEIGHTS, 10, 80 * MIB, person=False),
)


@dataclass
class SyntheticLogs:
    cloudtrail: list[dict[str, Any]] = field(default_factory=list)
    access_log: list[str] = field(default_factory=list)
    gcs: list[dict[str, Any]] = field(default_factory=list)

    def write(self, root: Path) -> LogSources:
        by_hour: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in self.cloudtrail:
            by_hour[record["eventTime"][:13]].append(record)
        for hour, records in sorted(by_hour.items()):
            day = hour[:10].replace("-", "/")
            folder = root / "AWSLogs" / ACCOUNT / "CloudTrail" / REGION / day
            folder.mkdir(parents=True, exist_ok=True)
            stamp = hour.replace("-", "") + "00Z"
            (folder / f"{ACCOUNT}_CloudTrail_{REGION}_{stamp}_synth.json.gz").write_bytes(
                gzip.compress(json.dumps({"Records": records}).encode()))
        (root / "s3-access").mkdir(parents=True, exist_ok=True)
        (root / "s3-access" / "2025-05-01-00-00-00-SYNTHETIC").write_text(
            "".join(line + "\n" for line in self.access_log))
        (root / "gcs").mkdir(parents=True, exist_ok=True)
        (root / "gcs" / "data_access.json").write_text(
            "".join(json.dumps(entry) + "\n" for entry in self.gcs))
        return LogSources(cloudtrail=(str(root / "AWSLogs"),),
                          s3_access_logs=(str(root / "s3-access"),),
                          gcs_audit_logs=(str(root / "gcs"),))


# -- records ----------------------------------------------------------------------------------

def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _identity(actor: Actor) -> dict[str, Any]:
    if actor.kind == "role":
        return {"type": "AssumedRole", "principalId": f"AROA{actor.name.upper()}:job",
                "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{actor.name}/job-session",
                "accountId": ACCOUNT, "accessKeyId": actor.access_key,
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": actor.arn,
                                                     "userName": actor.name}}}
    return {"type": "IAMUser", "principalId": f"AIDA{actor.name.upper()}", "arn": actor.arn,
            "accountId": ACCOUNT, "accessKeyId": actor.access_key, "userName": actor.name}


def _event(moment: datetime, actor: Actor, source: str, name: str, parameters: dict[str, Any] | None,
           rng: random.Random, **extra: Any) -> dict[str, Any]:
    return {"eventVersion": "1.09", "userIdentity": _identity(actor), "eventTime": _time(moment),
            "eventSource": f"{source}.amazonaws.com", "eventName": name, "awsRegion": REGION,
            "sourceIPAddress": extra.pop("ip", actor.ip), "userAgent": "aws-sdk-python/1.34",
            "requestParameters": parameters, "eventID": f"{rng.getrandbits(64):016x}",
            "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT, **extra}


def get_object(moment: datetime, actor: Actor, bucket: str, key: str, size: int, rng: random.Random,
               ip: str | None = None) -> list[dict[str, Any]]:
    """The S3 data event of a read, and the KMS decryption S3 makes for it (weights are SSE-KMS)."""
    read = _event(moment, actor, "s3", "GetObject", {"bucketName": bucket, "key": key}, rng,
                  ip=ip or actor.ip, additionalEventData={"bytesTransferredOut": size},
                  resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"}])
    if bucket != WEIGHTS:
        return [read]
    decrypt = _event(moment, actor, "kms", "Decrypt",
                     {"encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{bucket}/{key}"}}, rng,
                     ip="s3.amazonaws.com",
                     resources=[{"type": "AWS::KMS::Key", "ARN": KEY_ARN, "accountId": ACCOUNT}])
    return [read, decrypt]


def gcs_read(moment: datetime, email: str, bucket: str, key: str, ip: str,
             key_name: str | None, rng: random.Random) -> dict[str, Any]:
    authentication = {"principalEmail": email}
    if key_name:
        authentication["serviceAccountKeyName"] = key_name
    return {"insertId": f"{rng.getrandbits(48):012x}", "timestamp": moment.isoformat().replace("+00:00", "Z"),
            "logName": f"projects/{PROJECT}/logs/cloudaudit.googleapis.com%2Fdata_access",
            "resource": {"type": "gcs_bucket", "labels": {"bucket_name": bucket, "project_id": PROJECT,
                                                         "location": "us"}},
            "protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog", "status": {},
                             "authenticationInfo": authentication,
                             "requestMetadata": {"callerIp": ip, "callerSuppliedUserAgent": "gcloud"},
                             "serviceName": "storage.googleapis.com", "methodName": "storage.objects.get",
                             "resourceName": f"projects/_/buckets/{bucket}/objects/{key}"}}


def access_log_line(moment: datetime, bucket: str, key: str, requester: str, ip: str, size: int,
                    rng: random.Random) -> str:
    stamp = moment.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    request = f"{rng.getrandbits(64):016X}"
    return (f"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be {bucket} [{stamp}] {ip} "
            f"{requester} {request} REST.GET.OBJECT {key} \"GET /{bucket}/{key} HTTP/1.1\" 200 - {size} "
            f"{size} 35 12 \"-\" \"curl/8.5.0\" - hostid= SigV4 ECDHE-RSA-AES128-GCM-SHA256 "
            f"QueryString {bucket}.s3.amazonaws.com TLSv1.2 - -")


# -- a quiet month -------------------------------------------------------------------------------

def _working_moment(day: datetime, rng: random.Random) -> datetime:
    local = datetime(day.year, day.month, day.day, 9, 30, tzinfo=TIME_ZONE)
    return local + timedelta(seconds=rng.randrange(8 * 3600))


def quiet_logs(seed: int) -> SyntheticLogs:
    rng = random.Random(seed)
    logs = SyntheticLogs()
    start = NOW - timedelta(days=DAYS)
    for offset in range(DAYS):
        day = start + timedelta(days=offset)
        for actor in ACTORS:
            if actor.person and day.weekday() >= 5:
                continue
            for _ in range(max(1, int(actor.reads_per_day * rng.uniform(0.8, 1.2)))):
                moment = (_working_moment(day, rng) if actor.person
                          else day + timedelta(seconds=rng.randrange(86400)))
                key = f"v{rng.randrange(40)}/shard-{rng.randrange(10_000):05d}.bin"
                size = int(actor.object_size * rng.uniform(0.9, 1.1))
                if actor.kind == "service-account":
                    logs.gcs.append(gcs_read(moment, SA_EMAIL, actor.bucket, key, actor.ip, SA_KEY, rng))
                else:
                    logs.cloudtrail.extend(get_object(moment, actor, actor.bucket, key, size, rng))
    alice = ACTORS[2]
    weekday = next(day for day in (start + timedelta(days=d) for d in range(10, 17)) if day.weekday() < 5)
    harmless_day = _working_moment(weekday, rng)
    logs.cloudtrail += [
        # people managing their own keys and private policies is normal
        _event(harmless_day, alice, "iam", "CreateAccessKey", {"userName": "alice"}, rng),
        _event(harmless_day, alice, "s3", "PutBucketPolicy", {"bucketName": WEIGHTS, "bucketPolicy": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                           "Resource": f"arn:aws:s3:::{WEIGHTS}/*",
                           "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}, rng),
        _event(harmless_day, alice, "cloudtrail", "UpdateTrail",
               {"name": "org-trail", "isMultiRegionTrail": True, "enableLogFileValidation": True}, rng),
        # a failed attempt changes nothing
        _event(harmless_day, alice, "cloudtrail", "StopLogging", {"name": "org-trail"}, rng,
               errorCode="AccessDenied"),
    ]
    return logs


# -- incidents -------------------------------------------------------------------------------------

def plant_bulk_read(logs: SyntheticLogs, seed: int) -> dict[str, Any]:
    """The evaluator role reads the whole weights bucket on a weekday, at its usual address."""
    rng = random.Random(seed + 1)
    actor = ACTORS[1]
    day = NOW - timedelta(days=3)
    count = 1500
    for index in range(count):
        moment = day + timedelta(hours=11, seconds=index)
        logs.cloudtrail.extend(get_object(moment, actor, WEIGHTS, f"release/shard-{index:05d}.safetensors",
                                          200 * MIB, rng))
    return {"principal": actor.arn, "bucket": f"arn:aws:s3:::{WEIGHTS}", "reads": count,
            "day": day.date().isoformat()}


def plant_off_hours_read(logs: SyntheticLogs, seed: int) -> dict[str, Any]:
    """Alice's credentials read weights at 02:30 Paris time from an address nobody uses."""
    rng = random.Random(seed + 2)
    actor = ACTORS[2]
    night = datetime.combine((NOW - timedelta(days=2)).date(), datetime.min.time(), TIME_ZONE) + timedelta(
        hours=2, minutes=30)
    count = 3
    for index in range(count):
        logs.cloudtrail.extend(get_object(night + timedelta(minutes=index), actor, WEIGHTS,
                                          f"release/shard-{index:05d}.safetensors", 50 * MIB, rng,
                                          ip="198.51.100.7"))
    return {"principal": actor.arn, "bucket": f"arn:aws:s3:::{WEIGHTS}", "reads": count,
            "ip": "198.51.100.7", "access_key": actor.access_key}


def plant_anonymous_read(logs: SyntheticLogs, seed: int) -> dict[str, Any]:
    rng = random.Random(seed + 3)
    moment = NOW - timedelta(days=1, hours=5)
    count = 4
    for index in range(count):
        logs.access_log.append(access_log_line(moment + timedelta(seconds=index), WEIGHTS,
                                               f"release/shard-{index:05d}.safetensors", "-",
                                               "203.0.113.50", 200 * MIB, rng))
    return {"bucket": f"arn:aws:s3:::{WEIGHTS}", "reads": count}


# -- the organisation's inventory ------------------------------------------------------------------

_READ = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]}
CREATED = "2024-01-01T00:00:00Z"


def _bucket(name: str, label: str | None, kms: bool) -> Resource:
    return Resource(
        id=f"arn:aws:s3:::{name}", type="aws.s3.bucket", provider="aws", account=ACCOUNT, name=name,
        region=REGION, tags={"ml-asset": label} if label else {},
        attributes={"creation_date": "2024-01-01T00:00:00Z", "owner_id": "owner", "policy": None,
                    "acl": {"owner_id": "owner", "grants": []}, "public_access_block": None,
                    "object_ownership": "BucketOwnerEnforced",
                    "encryption": {"algorithm": "aws:kms", "kms_key_id": KEY_ARN, "bucket_key_enabled": False}
                    if kms else None,
                    "versioning": {"status": "Enabled", "mfa_delete": False}, "object_lock": None,
                    "logging": None, "replication": None, "object_sample": [],
                    "object_sample_truncated": False})


def user(name: str, policies: dict[str, Any]) -> Resource:
    return Resource(id=f"arn:aws:iam::{ACCOUNT}:user/{name}", type="aws.iam.user", provider="aws",
                    account=ACCOUNT, name=name,
                    attributes={"user_id": f"AIDA{name.upper()}", "path": "/", "create_date": CREATED,
                                "groups": [], "attached_policies": [], "inline_policies": policies,
                                "permissions_boundary": None, "mfa_devices": [], "login_profile": None,
                                "password_last_used": None})


def role(name: str, policies: dict[str, Any], trusted: list[str]) -> Resource:
    trust = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Principal": {"AWS": trusted or ACCOUNT},
                            "Action": "sts:AssumeRole"}]}
    return Resource(id=f"arn:aws:iam::{ACCOUNT}:role/ml/{name}", type="aws.iam.role", provider="aws",
                    account=ACCOUNT, name=name,
                    attributes={"role_id": f"AROA{name.upper()}", "path": "/ml/", "create_date": CREATED,
                                "trust_policy": trust, "attached_policies": [], "inline_policies": policies,
                                "permissions_boundary": None, "last_used": None, "service_linked": False})


def access_key(owner: str, key_id: str, created: str, last_used: str | None) -> Resource:
    return Resource(id=f"arn:aws:iam::{ACCOUNT}:user/{owner}/access-key/{key_id}", type="aws.iam.access_key",
                    provider="aws", account=ACCOUNT, name=key_id,
                    attributes={"access_key_id": key_id, "user": f"arn:aws:iam::{ACCOUNT}:user/{owner}",
                                "user_name": owner, "status": "Active", "create_date": created,
                                "last_used": {"date": last_used, "service": "s3", "region": REGION}})


def organisation(extra: Sequence[Resource] = ()) -> Inventory:
    recent = (NOW - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    resources = [
        Resource(id=f"arn:aws:iam::{ACCOUNT}:root", type="aws.account", provider="aws", account=ACCOUNT,
                 name=ACCOUNT, attributes={"account_id": ACCOUNT, "caller_arn": "auditor",
                                           "s3_public_access_block": None, "organization_id": None}),
        _bucket(WEIGHTS, "model-weights", kms=True), _bucket(DATASETS, "training-data", kms=False),
        _bucket("acme-build-logs", None, kms=False),
        Resource(id=KEY_ARN, type="aws.kms.key", provider="aws", account=ACCOUNT, name="weights-key",
                 region=REGION, attributes={"key_id": KEY_ARN.rsplit("/", 1)[1], "aliases": ["alias/weights"],
                                            "alias_arns": [], "policy": None, "key_manager": "CUSTOMER",
                                            "enabled": True, "grants": []}),
        user("alice", {"read": _READ}), user("bob", {"read": _READ}), user("carol", {"read": _READ}),
        role("trainer", {"read": _READ}, []), role("evaluator", {"read": _READ}, []),
        access_key("alice", ACTORS[2].access_key, recent, recent),
        access_key("bob", ACTORS[3].access_key, recent, recent),
        Resource(id=f"//storage.googleapis.com/projects/_/buckets/{GCS_WEIGHTS}", type="gcp.storage.bucket",
                 provider="gcp", account=PROJECT, name=GCS_WEIGHTS, region="us",
                 tags={"ml-asset": "model-weights"}, attributes={"project_id": PROJECT}),
        *extra,
    ]
    return Inventory(resources=resources, scopes=[Scope("aws", ACCOUNT, (REGION,), ()),
                                                  Scope("gcp", PROJECT, (), ())])


def settings(**overrides: Any) -> ActivitySettings:
    return parse_activity({"time_zone": "Europe/Paris", "trusted_cidrs": [TRUSTED], "window": f"{DAYS}d",
                           **overrides})[1]


def run(logs: SyntheticLogs, root: Path, inventory: Inventory | None = None,
        activity: ActivitySettings | None = None) -> ActivityResult:
    inventory = inventory or organisation()
    classifications, access = analyze(inventory)
    return run_activity(logs.write(root / "logs"), activity or settings(), inventory, classifications,
                        access, timedelta(days=DAYS), NOW, work_dir=root)


def by_rule(result: ActivityResult) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = defaultdict(list)
    for finding in result.findings:
        found[finding.rule_id].append(finding)
    return dict(found)


# -- tests ---------------------------------------------------------------------------------------

SEEDS = (7, 2024)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_quiet_month_raises_nothing(tmp_path: Path, seed: int) -> None:
    logs = quiet_logs(seed)
    result = run(logs, tmp_path)
    assert result.errors == []
    assert result.events == len(logs.cloudtrail) + len(logs.access_log) + len(logs.gcs)
    assert [f.message for f in result.findings] == []
    # the detections did look at the activity: pass, not "nothing to look at"
    looked = {o.rule_id for o in result.analysis.outcomes if o.evaluated}
    assert {"ml.bulk-read-above-baseline", "ml.first-time-sensitive-access", "ml.sensitive-read-off-hours",
            "ml.sensitive-read-untrusted-network", "ml.sensitive-read-new-address",
            "ml.access-key-multiple-addresses", "aws.kms.sensitive-key-decrypt-spike",
            "aws.iam.access-key-created-for-other-user", "aws.cloudtrail.logging-disabled",
            "ml.sensitive-bucket-made-public"} <= looked


@pytest.mark.parametrize("seed", SEEDS)
def test_a_bulk_read_of_weights_is_found(tmp_path: Path, seed: int) -> None:
    logs = quiet_logs(seed)
    planted = plant_bulk_read(logs, seed)
    found = by_rule(run(logs, tmp_path))
    assert set(found) == {"ml.bulk-read-above-baseline", "aws.kms.sensitive-key-decrypt-spike"}
    [bulk] = found["ml.bulk-read-above-baseline"]
    assert (bulk.resource.id, bulk.evidence["principal"], bulk.evidence["day"]) == (
        planted["bucket"], planted["principal"], planted["day"])
    # that day's reads: the planted ones plus the principal's ordinary reads of the day
    assert bulk.evidence["objects"] >= planted["reads"]
    assert bulk.evidence["count"] >= planted["reads"]
    assert bulk.evidence["baseline"] is True
    assert all(e["principal"] == planted["principal"] for e in bulk.evidence["events"])
    [spike] = found["aws.kms.sensitive-key-decrypt-spike"]
    assert (spike.resource.id, spike.evidence["day"]) == (KEY_ARN, planted["day"])
    busiest = spike.evidence["callers"][0]
    assert busiest["principal"] == planted["principal"] and busiest["calls"] >= planted["reads"]


@pytest.mark.parametrize("seed", SEEDS)
def test_an_off_hours_read_from_an_unknown_network_is_found(tmp_path: Path, seed: int) -> None:
    logs = quiet_logs(seed)
    planted = plant_off_hours_read(logs, seed)
    found = by_rule(run(logs, tmp_path))
    # alice's key was used from the office and from one outside address: one untrusted
    # address is not "several" (key_max_addresses = 1)
    assert set(found) == {"ml.sensitive-read-off-hours", "ml.sensitive-read-untrusted-network",
                          "ml.sensitive-read-new-address"}
    for rule in ("ml.sensitive-read-off-hours", "ml.sensitive-read-untrusted-network",
                 "ml.sensitive-read-new-address"):
        [finding] = found[rule]
        assert finding.resource.id == planted["bucket"]
        assert finding.evidence["principal"] == planted["principal"]
        assert finding.evidence["count"] == planted["reads"]
        assert {e["source_ip"] for e in finding.evidence["events"]} == {planted["ip"]}


def test_a_key_used_from_two_outside_addresses_is_found(tmp_path: Path) -> None:
    logs = quiet_logs(3)
    planted = plant_off_hours_read(logs, 3)
    rng = random.Random(4)
    logs.cloudtrail.extend(get_object(NOW - timedelta(days=1, hours=14), ACTORS[2], WEIGHTS, "v1/x.bin", MIB,
                                      rng, ip="192.0.2.99"))
    found = by_rule(run(logs, tmp_path))
    [spread] = found["ml.access-key-multiple-addresses"]
    assert spread.resource.id == f"arn:aws:iam::{ACCOUNT}:user/alice/access-key/{planted['access_key']}"
    assert spread.evidence["addresses"] == sorted([planted["ip"], "192.0.2.99"])
    assert {e["source_ip"] for e in spread.evidence["first_use_per_address"]} == {planted["ip"], "192.0.2.99"}


@pytest.mark.parametrize("seed", SEEDS)
def test_an_anonymous_read_is_found(tmp_path: Path, seed: int) -> None:
    logs = quiet_logs(seed)
    planted = plant_anonymous_read(logs, seed)
    result = run(logs, tmp_path)
    found = by_rule(result)
    assert set(found) == {"ml.anonymous-sensitive-read"}
    [finding] = found["ml.anonymous-sensitive-read"]
    assert finding.resource.id == planted["bucket"]
    assert finding.severity == "critical"
    assert finding.evidence["count"] == planted["reads"]
    assert all(e["principal"] == "*" and e["source"] == "s3-access-log" for e in finding.evidence["events"])
    assert all(e["log"].startswith(str(tmp_path)) for e in finding.evidence["events"])


def test_the_same_seed_gives_the_same_findings(tmp_path: Path) -> None:
    def findings(folder: Path) -> list[dict[str, Any]]:
        logs = quiet_logs(11)
        plant_bulk_read(logs, 11)
        plant_off_hours_read(logs, 11)
        return [{**f.to_dict(), "evidence": _relative(f.evidence, folder)}
                for f in run(logs, folder).findings]

    first, second = findings(tmp_path / "a"), findings(tmp_path / "b")
    assert first and first == second


def _relative(value: Any, folder: Path) -> Any:
    text = json.dumps(value, sort_keys=True).replace(str(folder), "ROOT")
    return json.loads(text)


def test_exempt_principals_are_left_out_of_behavioural_detections(tmp_path: Path) -> None:
    logs = quiet_logs(5)
    planted = plant_off_hours_read(logs, 5)
    result = run(logs, tmp_path, activity=settings(exempt_principals=["arn:aws:iam::*:user/ali*"]))
    assert planted["principal"].endswith("/alice")
    assert [f.message for f in result.findings] == []
