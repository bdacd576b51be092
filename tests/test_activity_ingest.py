"""Reading logs into the events table, on real records (tests/data/activity, see its README).

Expected values are computed here from the files themselves (json, csv, shlex), never copied
from what the reader produced.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from auditor import clock
from auditor.activity import documents, files
from auditor.activity.ingest import IngestResult, ingest
from auditor.activity.settings import LogSources
from auditor.activity.store import EventStore
from tests.test_activity_synthetic import SA_EMAIL, SA_KEY, gcs_read

DATA = Path(__file__).parent / "data" / "activity"
STRATUS = DATA / "stratus_detonation_logs"
SIGHTINGS = DATA / "stratus_cloudtrail2sightings"
DAMAGED = SIGHTINGS / "aws.execution.ec2-user-data.json"
OTRF = DATA / "otrf_security_datasets" / "ec2_proxy_s3_exfiltration_2020-09-14011940.json"
ACCESS_LOG = DATA / "awsdocs_examples" / "s3_server_access_log_examples.log"
SCENARIO = DATA / "panther_rule_tests" / "test_scenarios" / "compromised-root-creds"


@pytest.fixture(params=["packed", "one file each"])
def sizes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Small documents are packed together, large ones streamed to a file each: run both paths."""
    if request.param == "one file each":
        monkeypatch.setattr(documents, "SMALL_ARRAY", 256)
    return str(request.param)


@pytest.fixture
def store() -> Iterator[EventStore]:
    with EventStore() as events:
        yield events


def read(store: EventStore, tmp_path: Path, **sources: Any) -> IngestResult:
    staging = tmp_path / "staging"
    staging.mkdir(exist_ok=True)
    return ingest(LogSources(**{k: tuple(map(str, v)) for k, v in sources.items()}), store, staging)


def event_ids(store: EventStore) -> list[str]:
    return sorted(e for (e,) in store.fetch("SELECT event_id FROM events"))


def stratus_records() -> dict[str, list[dict[str, Any]]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(STRATUS.glob("*.json"))}


def standard_layout(root: Path, files: dict[str, list[dict[str, Any]]],
                    account: str = "123456789012") -> Path:
    """Records files as CloudTrail delivers them, plus a digest file that must be skipped."""
    folder = root / "AWSLogs" / account / "CloudTrail" / "us-east-1" / "2024" / "07" / "31"
    folder.mkdir(parents=True)
    for index, (name, records) in enumerate(sorted(files.items())):
        target = folder / f"{account}_CloudTrail_us-east-1_20240731T{index:04d}Z_{name[:20]}.json.gz"
        target.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    digest = root / "AWSLogs" / account / "CloudTrail-Digest" / "us-east-1" / "2024" / "07" / "31"
    digest.mkdir(parents=True)
    (digest / f"{account}_CloudTrail-Digest_us-east-1_20240731T0000Z.json.gz").write_bytes(
        gzip.compress(json.dumps({"awsAccountId": account, "digestEndTime": "x"}).encode()))
    return root / "AWSLogs"


# -- CloudTrail ---------------------------------------------------------------------------------

def test_stratus_detonation_logs_are_read_whole(store: EventStore, tmp_path: Path, sizes: str) -> None:
    records = stratus_records()
    result = read(store, tmp_path, cloudtrail=[STRATUS])
    assert result.issues == []
    assert result.files == len(records)
    assert event_ids(store) == sorted(r["eventID"] for rs in records.values() for r in rs)


def test_the_standard_layout_is_read_from_gzip_records_files(store: EventStore, tmp_path: Path,
                                                             sizes: str) -> None:
    records = stratus_records()
    result = read(store, tmp_path, cloudtrail=[standard_layout(tmp_path / "logs", records)])
    assert result.issues == []
    assert result.files == len(records)  # the digest file is not a log
    assert result.events == sum(map(len, records.values()))
    # records read from a whole document are found by their eventID, not a line
    assert store.fetch("SELECT count(*) FROM events WHERE line IS NOT NULL") == [(0,)]


def test_a_malformed_file_is_reported_with_its_line_and_the_rest_is_read(store: EventStore, tmp_path: Path,
                                                                        sizes: str) -> None:
    text = DAMAGED.read_text()
    with pytest.raises(json.JSONDecodeError) as damage:
        json.loads(text)
    intact = {p.name: json.loads(p.read_text())["Records"] for p in SIGHTINGS.glob("*.json") if p != DAMAGED}
    damaged_ids = re.findall(r'"eventID": "([^"]+)"', text)

    result = read(store, tmp_path, cloudtrail=[SIGHTINGS])

    assert [(i.file, i.line) for i in result.issues] == [(str(DAMAGED), damage.value.lineno)]
    assert "malformed JSON" in result.issues[0].message
    assert event_ids(store) == sorted([r["eventID"] for rs in intact.values() for r in rs] + damaged_ids)
    # recovered records keep the line they start on
    lines = dict(store.fetch("SELECT event_id, line FROM events WHERE line IS NOT NULL"))
    for event_id in damaged_ids:
        line = text[:text.index(event_id)].count("\n") + 1
        assert lines[event_id] < line  # the record opens above its eventID field
        assert text.splitlines()[lines[event_id] - 1].strip().startswith("{")


def test_a_malformed_gzip_records_file_is_reported_the_same_way(store: EventStore, tmp_path: Path,
                                                               sizes: str) -> None:
    folder = tmp_path / "AWSLogs" / "677301038893" / "CloudTrail" / "us-east-1" / "2022" / "07" / "20"
    folder.mkdir(parents=True)
    damaged = folder / "677301038893_CloudTrail_us-east-1_20220720T2055Z_x.json.gz"
    damaged.write_bytes(gzip.compress(DAMAGED.read_bytes()))
    intact = SIGHTINGS / "aws.defense-evasion.cloudtrail-delete.json"
    good = folder / "677301038893_CloudTrail_us-east-1_20220720T2050Z_y.json.gz"
    good.write_bytes(gzip.compress(intact.read_bytes()))
    with pytest.raises(json.JSONDecodeError) as damage:
        json.loads(DAMAGED.read_text())

    result = read(store, tmp_path, cloudtrail=[tmp_path / "AWSLogs"])

    assert [(i.file, i.line) for i in result.issues] == [(str(damaged), damage.value.lineno)]
    good_ids = [r["eventID"] for r in json.loads(intact.read_text())["Records"]]
    assert set(good_ids) < set(event_ids(store))
    assert result.events == len(good_ids) + len(re.findall(r'"eventID"', DAMAGED.read_text()))


def test_gzip_arrays_and_multi_member_gzip(store: EventStore, tmp_path: Path, sizes: str) -> None:
    records = stratus_records()
    names = sorted(records)
    array = tmp_path / "array.json.gz"
    array.write_bytes(gzip.compress(json.dumps(records[names[0]], indent=2).encode()))
    # two gzip members make one valid file (cat a.gz b.gz); its last member's size is no guide
    document = json.dumps({"Records": records[names[1]]}).encode()
    members = tmp_path / "members.json.gz"
    members.write_bytes(gzip.compress(document[:40]) + gzip.compress(document[40:]))
    result = read(store, tmp_path, cloudtrail=[array, members])
    assert result.issues == []
    assert event_ids(store) == sorted(r["eventID"] for name in names[:2] for r in records[name])


@pytest.mark.parametrize("lead", [b"", b" " * 100, b"\n" * 5000 + b"\t"],
                         ids=["nothing", "100 spaces", "5000 new lines"])
def test_files_are_sorted_by_shape_whatever_leads_them(store: EventStore, tmp_path: Path,
                                                       lead: bytes) -> None:
    """Any amount of white space before a document or lines is read past (a file is never
    skipped for how it starts)."""
    records = stratus_records()
    names = sorted(records)
    (tmp_path / "records.json").write_bytes(lead + json.dumps({"Records": records[names[0]]}).encode())
    (tmp_path / "array.json.gz").write_bytes(gzip.compress(lead + json.dumps(records[names[1]]).encode()))
    (tmp_path / "lines.json").write_bytes(lead + "\n".join(json.dumps(r) for r in records[names[2]]).encode())
    result = read(store, tmp_path, cloudtrail=[tmp_path / "records.json", tmp_path / "array.json.gz",
                                               tmp_path / "lines.json"])
    assert result.issues == []
    assert event_ids(store) == sorted(r["eventID"] for name in names[:3] for r in records[name])


def test_documents_whatever_their_close_and_chunking(store: EventStore, tmp_path: Path, sizes: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Large documents are decompressed in small steps: a prefix or a record split across steps,
    and a close followed by more white space than is looked at, still read whole."""
    monkeypatch.setattr(files, "CHUNK", 97)
    records = stratus_records()
    names = sorted(records)
    padded = tmp_path / "padded.json.gz"
    padded.write_bytes(gzip.compress(json.dumps({"Records": records[names[0]]}).encode()
                                     + b"\n" * (files.TAIL * 3)))
    compact = tmp_path / "compact.json"
    compact.write_text(json.dumps({"Records": records[names[1]]}, separators=(",", ":")))
    result = read(store, tmp_path, cloudtrail=[padded, compact])
    assert result.issues == []
    assert event_ids(store) == sorted(r["eventID"] for name in names[:2] for r in records[name])


def test_copy_between_says_when_the_document_must_be_read_another_way(tmp_path: Path) -> None:
    prefix = re.compile(rb'^\s*\{\s*"Records"\s*:\s*(?=\[)')
    target = tmp_path / "array.json"
    document = b'{"Records": [{"eventID": "a"}, {"eventID": "b"}]}\n'

    source = tmp_path / "one.json.gz"
    source.write_bytes(gzip.compress(document))
    assert files.copy_between(source, target, prefix, b"}")
    assert json.loads(target.read_bytes()) == [{"eventID": "a"}, {"eventID": "b"}]

    other = tmp_path / "other.json.gz"
    other.write_bytes(gzip.compress(b'{"logs": []}'))
    members = tmp_path / "members.json.gz"
    members.write_bytes(gzip.compress(document[:20]) + gzip.compress(document[20:]))
    trailing = tmp_path / "trailing.json"
    trailing.write_bytes(document + b" " * (files.TAIL + 1))
    for refused in (other, members, trailing):
        assert not files.copy_between(refused, target, prefix, b"}"), refused.name

    truncated = tmp_path / "truncated.json.gz"
    truncated.write_bytes(gzip.compress(document * 50)[:-30])
    # a stream that stops short is not one whole member: the caller's full read says why
    assert not files.copy_between(truncated, target, prefix, b"}")
    with pytest.raises(files.UnreadableFile, match="damaged gzip data"):
        files.content(truncated)


def test_json_lines_with_broken_lines(store: EventStore, tmp_path: Path) -> None:
    lines = OTRF.read_text().splitlines()
    lines[9:9] = ['{"eventName": "GetObject", broken']  # becomes line 10
    lines[20:20] = ["[1, 2, 3]", "   "]  # line 21 is not an object, line 22 is blank
    target = tmp_path / "otrf.jsonl"
    target.write_text("\n".join(lines) + "\n")

    result = read(store, tmp_path, cloudtrail=[target])

    assert [(i.line, i.message) for i in result.issues] == [(10, "malformed JSON"),
                                                            (21, "not a JSON object")]
    valid = [(n, json.loads(line)) for n, line in enumerate(lines, start=1)
             if n not in (10, 21, 22)]
    assert result.events == len(valid)
    assert dict(store.fetch("SELECT event_id, line FROM events")) == {r["eventID"]: n for n, r in valid}


def test_a_cloudtrail_record_is_normalised(store: EventStore, tmp_path: Path) -> None:
    read(store, tmp_path, cloudtrail=[OTRF])
    number, record = next((n, json.loads(line)) for n, line in enumerate(OTRF.read_text().splitlines(), 1)
                          if json.loads(line)["eventName"] == "GetObject")
    identity = record["userIdentity"]
    account, role = identity["arn"].split(":")[4], identity["arn"].split("/")[1]
    [event] = store.rows("SELECT * FROM events WHERE event_id = ?", [record["eventID"]])
    assert event["time"] == clock.parse(record["@timestamp"])  # Logstash kept only @timestamp
    assert (event["principal"], event["principal_type"], event["session"], event["access_key_id"]) == (
        f"arn:aws:iam::{account}:role/{role}", "AssumedRole", identity["arn"], identity["accessKeyId"])
    assert (event["action"], event["resource"], event["object_key"]) == (
        "s3:GetObject", "arn:aws:s3:::" + record["requestParameters"]["bucketName"],
        record["requestParameters"]["key"])
    assert event["bytes"] == int(record["additionalEventData"]["bytesTransferredOut"])
    assert (event["source_ip"], event["user_agent"], event["error_code"]) == (
        record["sourceIPAddress"], record["userAgent"], None)
    assert (event["source"], event["provider"], event["account"], event["line"]) == (
        "cloudtrail", "aws", record["recipientAccountId"], number)


def test_other_timestamp_spellings_are_read(store: EventStore, tmp_path: Path) -> None:
    """Panther's test events write eventTime as '2024-11-25 17:51:21.000000000'."""
    cases = [json.loads(line) for line in (DATA / "panther_rule_tests" /
                                           "cloudtrail_rule_tests.subset.jsonl").read_text().splitlines()]
    target = tmp_path / "panther.jsonl"
    target.write_text("".join(json.dumps(c["log"]) + "\n" for c in cases))
    result = read(store, tmp_path, cloudtrail=[target])
    parseable = [c for c in cases if "eventTime" in c["log"]]
    undated = {n for n, c in enumerate(cases, 1) if "eventTime" not in c["log"]}
    assert {i.line for i in result.issues} == undated
    assert result.events == len(parseable)
    times = store.fetch("SELECT time FROM events ORDER BY line")
    expected = [datetime.fromisoformat(c["log"]["eventTime"][:19]).replace(tzinfo=UTC) for c in parseable]
    assert [t.replace(microsecond=0) for (t,) in times] == expected


# -- S3 server access logs -------------------------------------------------------------------------

def _access_fields(line: str) -> list[str]:
    """The documented fields, split independently of the reader: the time's brackets joined."""
    return shlex.split(re.sub(r"\[([^\]]*)\]", r'"\1"', line), posix=True)


def test_s3_server_access_log_lines(store: EventStore, tmp_path: Path) -> None:
    lines = ACCESS_LOG.read_text().splitlines()
    target = tmp_path / "access.log"
    target.write_text("\n".join([*lines, "this is not an access log line"]) + "\n")

    result = read(store, tmp_path, s3_access_logs=[target])

    assert [(i.line, i.message) for i in result.issues] == [
        (len(lines) + 1, "not an S3 server access log line")]
    events = {e["line"]: e for e in store.rows("SELECT * FROM events")}
    assert sorted(events) == list(range(1, len(lines) + 1))
    for number, line in enumerate(lines, start=1):
        fields, event = _access_fields(line), events[number]
        assert event["time"] == datetime.strptime(fields[2], "%d/%b/%Y:%H:%M:%S %z")
        assert (event["resource"], event["source_ip"], event["event_id"]) == (
            f"arn:aws:s3:::{fields[1]}", fields[3], fields[5])
        assert event["object_key"] == (None if fields[7] == "-" else fields[7])
        assert event["bytes"] == (None if fields[11] == "-" else int(fields[11]))
        assert event["error_code"] == (None if fields[10] == "-" else fields[10])
        assert event["user_agent"] == fields[16]
        # the requester is a canonical user id in these examples
        assert (event["principal"], event["principal_type"]) == (fields[4], "CanonicalUser")
    actions = {fields[6]: events[n]["action"] for n, fields in
               ((n, _access_fields(line)) for n, line in enumerate(lines, start=1))}
    assert actions["REST.PUT.OBJECT"] == "s3:PutObject"
    assert actions["REST.GET.BUCKETPOLICY"] == "s3:GetBucketPolicy"


def test_access_log_requesters_become_principals(store: EventStore, tmp_path: Path) -> None:
    lines = yaml.safe_load((SCENARIO / "attacker_s3_access.yml").read_text())["Logs"]
    target = tmp_path / "scenario.log"
    # split on spaces, the requester is the sixth word (the time holds a space)
    anonymous = lines[0].split(" ")
    anonymous[5] = "-"
    session = lines[0].split(" ")
    session[5] = "arn:aws:sts::493859302102:assumed-role/exporter/i-0abc"
    target.write_text("\n".join([*lines, " ".join(anonymous), " ".join(session)]) + "\n")

    result = read(store, tmp_path, s3_access_logs=[target])

    assert result.issues == []
    rows = store.fetch("SELECT line, principal, principal_type, session, action FROM events ORDER BY line")
    requesters = [_access_fields(line)[4] for line in lines]
    assert rows[:len(lines)] == [(n, r, "IAMUser", None, "s3:GetObject") for n, r in enumerate(requesters, 1)]
    assert rows[len(lines)] == (len(lines) + 1, "*", "Anonymous", None, "s3:GetObject")
    assert rows[len(lines) + 1] == (len(lines) + 2, "arn:aws:iam::493859302102:role/exporter", "AssumedRole",
                                    "arn:aws:sts::493859302102:assumed-role/exporter/i-0abc", "s3:GetObject")


# -- GCS audit logs -----------------------------------------------------------------------------

def test_gcs_audit_log_entries(store: EventStore, tmp_path: Path) -> None:
    rng = random.Random(1)
    moment = datetime(2025, 5, 2, 10, 0, tzinfo=UTC)
    entries = [gcs_read(moment, SA_EMAIL, "acme-ckpt", "run 1/model.safetensors", "10.1.2.3", SA_KEY, rng),
               gcs_read(moment, "", "acme-ckpt", "run 1/model.safetensors", "198.51.100.1", None, rng),
               gcs_read(moment, "dev@acme.example", "acme-ckpt", "a/b", "10.1.2.4", None, rng)]
    entries[2]["protoPayload"]["status"] = {"code": 7, "message": "PERMISSION_DENIED"}
    not_audit = {"insertId": "x", "timestamp": "2025-05-02T10:00:00Z", "textPayload": "hello"}
    target = tmp_path / "data_access.json"
    target.write_text("".join(json.dumps(e) + "\n" for e in [*entries, not_audit]) + "garbage\n")

    result = read(store, tmp_path, gcs_audit_logs=[target])

    assert sorted((i.line, i.message.split(":")[0]) for i in result.issues) == [
        (4, "not an audit log entry"), (5, "malformed JSON")]
    rows = store.rows("SELECT * FROM events ORDER BY line")
    assert [(r["principal"], r["principal_type"]) for r in rows] == [
        (f"serviceAccount:{SA_EMAIL}", "serviceAccount"), ("allUsers", "Anonymous"),
        ("user:dev@acme.example", "user")]
    assert {r["resource"] for r in rows} == {"//storage.googleapis.com/projects/_/buckets/acme-ckpt"}
    assert [r["object_key"] for r in rows] == ["run 1/model.safetensors", "run 1/model.safetensors", "a/b"]
    assert [r["access_key_id"] for r in rows] == [SA_KEY, None, None]
    assert [r["error_code"] for r in rows] == [None, None, "PERMISSION_DENIED"]
    assert [r["event_id"] for r in rows] == [e["insertId"] for e in entries]
    assert {r["action"] for r in rows} == {"storage.objects.get"}


# -- what cannot be read --------------------------------------------------------------------------

def test_unreadable_inputs_are_reported_not_raised(store: EventStore, tmp_path: Path) -> None:
    damaged_gzip = tmp_path / "damaged.json.gz"
    damaged_gzip.write_bytes(gzip.compress(b'{"Records": []}')[:-12])
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(json.dumps({"eventName": "GetObject", "eventTime": "2025-01-01T00:00:00Z",
                                   "eventSource": "s3.amazonaws.com"}).encode() + b"\n"
                       + '{"eventName": "caf\u00e9"}'.encode("latin-1") + b"\n")
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    missing = tmp_path / "missing"

    stop = STRATUS / "aws.defense-evasion.cloudtrail-stop.json"
    result = read(store, tmp_path, cloudtrail=[damaged_gzip, latin1, empty, missing, stop])

    problems = {(Path(i.file).name, i.line): i.message for i in result.issues}
    assert set(problems) == {("damaged.json.gz", None), ("latin1.jsonl", 2), ("missing", None)}
    assert problems[("missing", None)] == "no such file or folder"
    assert problems[("latin1.jsonl", 2)].startswith("not UTF-8")
    assert result.events == 2  # latin1's first line and the Stratus record


# -- s3:// sources ------------------------------------------------------------------------------------

@pytest.mark.emulator
def test_logs_are_read_from_s3(fresh_aws_module: Any, store: EventStore, tmp_path: Path) -> None:
    records = stratus_records()
    root = standard_layout(tmp_path / "local", records).parent
    s3 = boto3.client("s3", endpoint_url=fresh_aws_module.endpoint_url, region_name="us-east-1")
    s3.create_bucket(Bucket="acme-cloudtrail")
    for path in root.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), "acme-cloudtrail", f"org/{path.relative_to(root).as_posix()}")

    result = ingest(LogSources(cloudtrail=("s3://acme-cloudtrail/org/AWSLogs/", "s3://no-such-bucket/x"),
                               endpoint_url=fresh_aws_module.endpoint_url), store, tmp_path / "staging")

    assert [(i.file, i.message.split(":")[0]) for i in result.issues] == [
        ("s3://no-such-bucket/x", "cannot list")]
    assert result.files == len(records)
    assert result.events == sum(map(len, records.values()))
    names = {n for (n,) in store.fetch("SELECT name FROM log_files")}
    assert all(n.startswith("s3://acme-cloudtrail/org/AWSLogs/") and "Digest" not in n for n in names)
