"""Hostile logs: the activity readers (auditor/activity) report a file or line they cannot read
as an issue naming the file (and the line, for line-oriented logs), read everything else, and
never raise: random bytes, invalid UTF-8, NUL bytes, lone surrogates, odd Unicode, JSON nested
10,000 deep, a line of megabytes, 10,000 records, in CloudTrail, S3 access log and Cloud
Storage audit log files.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.activity.ingest import IngestResult, ingest
from auditor.activity.settings import LogSources
from auditor.activity.store import EventStore

FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
KINDS = ("cloudtrail", "s3_access_logs", "gcs_audit_logs")
DEEP = 10_000
HUGE = 10_000
RECORD = {"eventVersion": "1.08", "eventTime": "2026-11-01T10:00:00Z",
          "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "us-east-1",
          "sourceIPAddress": "203.0.113.9", "userAgent": "aws-cli/2",
          "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice",
                           "accountId": "123456789012"},
          "requestParameters": {"bucketName": "data", "key": "train/x.parquet"},
          "eventID": "e-1", "recipientAccountId": "123456789012"}
ACCESS_LINE = ('79a5 data [06/Feb/2019:00:00:38 +0000] 192.0.2.3 '
               'arn:aws:iam::123456789012:user/alice 3E57427F3EXAMPLE REST.GET.OBJECT '
               'train/x.parquet "GET /data/train/x.parquet HTTP/1.1" 200 - 113 113 7 6 "-" '
               '"aws-cli/2" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/'
               'XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader data.s3.amazonaws.com '
               'TLSV1.2 - -')
AUDIT_ENTRY = {"timestamp": "2026-11-01T10:00:00Z", "logName": "projects/p/logs/data_access",
               "protoPayload": {"methodName": "storage.objects.get",
                                "authenticationInfo": {"principalEmail": "a@example.com"},
                                "resourceName": "projects/_/buckets/data/objects/x"},
               "resource": {"type": "gcs_bucket", "labels": {"bucket_name": "data"}}}

odd_text = st.text(st.characters(exclude_categories=()), max_size=60)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | odd_text,
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(odd_text, inner, max_size=3), max_leaves=15)


@pytest.fixture
def store() -> Iterator[EventStore]:
    with EventStore() as events:
        yield events


def read(tmp_path: Path, store: EventStore, kind: str, content: bytes,
         name: str = "log.json") -> IngestResult:
    folder = tmp_path / kind
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    staging = tmp_path / "staging"
    staging.mkdir(exist_ok=True)
    result = ingest(LogSources(**{kind: (str(path),)}), store, staging)
    assert all(issue.file == str(path) and issue.message for issue in result.issues), result.issues
    return result


def lines(*items: Any) -> bytes:
    return "\n".join(i if isinstance(i, str) else json.dumps(i) for i in items).encode(
        "utf-8", "surrogatepass")


@FUZZ
@given(st.sampled_from(KINDS), st.binary(max_size=300))
def test_any_bytes_are_events_or_issues(tmp_path: Path, store: EventStore, kind: str,
                                        content: bytes) -> None:
    read(tmp_path, store, kind, content)


@FUZZ
@given(st.lists(json_values, max_size=5), st.booleans())
def test_random_cloudtrail_records_are_events_or_issues(tmp_path: Path, store: EventStore,
                                                        records: list[Any], wrapped: bool) -> None:
    document = {"Records": [RECORD, *records]} if wrapped else [RECORD, *records]
    read(tmp_path, store, "cloudtrail",
         json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.sampled_from(["s3_access_logs", "gcs_audit_logs"]),
       st.lists(odd_text | json_values.map(json.dumps), max_size=5))
def test_random_lines_are_events_or_issues_at_their_line(tmp_path: Path, store: EventStore,
                                                         kind: str, extra: list[str]) -> None:
    good = ACCESS_LINE if kind == "s3_access_logs" else json.dumps(AUDIT_ENTRY)
    result = read(tmp_path, store, kind, lines(good, *extra), name="log.txt")
    assert result.events >= 1  # the good line is read whatever follows it
    # the file could be read, so each problem is a line of it
    assert all(issue.line is not None and issue.line > 1 for issue in result.issues)


@pytest.mark.parametrize(("kind", "content"), [
    ("cloudtrail", ("[" * DEEP + "]" * DEEP).encode()),
    ("cloudtrail", json.dumps({"Records": [{**RECORD, "requestParameters": json.loads(
        "[" * 900 + "]" * 900)}]}).encode()),
    ("gcs_audit_logs", lines("[" * DEEP + "]" * DEEP, AUDIT_ENTRY)),
    ("cloudtrail", json.dumps({"Records": [{**RECORD, "eventID": f"e{i}\x00\u202e"}
                                           for i in range(HUGE)]}).encode()),
    ("s3_access_logs", lines(ACCESS_LINE, "x" * (4 << 20), ACCESS_LINE.replace("alice", "\x00"))),
    ("gcs_audit_logs", lines(AUDIT_ENTRY, '{"timestamp": "\\ud800"}', "\x00" * 100)),
    ("cloudtrail", gzip.compress(b"\xff\xfe" + b"\x00" * 1000)),
    ("cloudtrail", b"\x1f\x8b\x08\x00broken gzip"),
    ("cloudtrail", b'{"Records": [{"eventTime": ' + b"9" * 5000 + b"}, "),
    ("gcs_audit_logs", lines(AUDIT_ENTRY, '{"timestamp": ' + "9" * 5000 + "}")),
], ids=["deep-array", "deep-record", "deep-line", "huge", "megabyte-line", "surrogate-and-nul",
        "gzip-garbage", "truncated-gzip", "huge-int-record", "huge-int-line"])
def test_deep_huge_and_odd_logs_are_events_or_issues(tmp_path: Path, store: EventStore,
                                                     kind: str, content: bytes) -> None:
    name = "log.json.gz" if content[:2] == b"\x1f\x8b" else "log.json"
    read(tmp_path, store, kind, content, name=name)
