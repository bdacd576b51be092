"""CloudTrail logs into the events table.

Three shapes are read: the files CloudTrail delivers (``{"Records": [...]}``, usually gzip, in
the AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD layout), a JSON array of records, and JSON
lines of records (exports, Logstash; ``@timestamp`` stands in for a missing ``eventTime``).

Documents go through DuckDB's JSON reader with explicit columns (auditor/activity/documents.py,
which also reports and works around damaged files); JSON lines through the line reader
(auditor/activity/lines.py). Both end in ``events_sql``, the one mapping of a CloudTrail record
to an event.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from auditor.activity.documents import RecordFormat, read_documents
from auditor.activity.files import UnreadableFile, head
from auditor.activity.lines import LineFormat, read_lines
from auditor.activity.model import IngestIssue, LogFile
from auditor.activity.sql import JSON_LINES_INVALID, json_lines_parse, role_of_session
from auditor.activity.store import EventStore

KIND = "cloudtrail"

# the request parameters detections read; other fields of requestParameters are not kept
_REQUEST_PARAMETERS = (
    'STRUCT("bucketName" VARCHAR, "key" VARCHAR, "keyId" VARCHAR, "encryptionContext" JSON, '
    '"userName" VARCHAR, "name" VARCHAR, "trailName" VARCHAR, "bucketPolicy" JSON, '
    '"AccessControlPolicy" JSON, "x-amz-acl" JSON, "x-amz-grant-read" JSON, '
    '"x-amz-grant-read-acp" JSON, "x-amz-grant-write" JSON, "x-amz-grant-write-acp" JSON, '
    '"x-amz-grant-full-control" JSON, "PublicAccessBlockConfiguration" JSON, '
    '"eventSelectors" JSON, "advancedEventSelectors" JSON, "isMultiRegionTrail" VARCHAR, '
    '"includeGlobalServiceEvents" VARCHAR, "enableLogFileValidation" VARCHAR, '
    '"s3BucketName" VARCHAR, "accountId" VARCHAR)')
RECORD_COLUMNS: dict[str, str] = {
    "eventTime": "VARCHAR", "@timestamp": "VARCHAR", "eventSource": "VARCHAR",
    "eventName": "VARCHAR", "awsRegion": "VARCHAR", "sourceIPAddress": "VARCHAR",
    "userAgent": "VARCHAR", "errorCode": "VARCHAR", "eventID": "VARCHAR",
    "recipientAccountId": "VARCHAR",
    "userIdentity": 'STRUCT("type" VARCHAR, "principalId" VARCHAR, "arn" VARCHAR, '
                    '"accountId" VARCHAR, "accessKeyId" VARCHAR, "userName" VARCHAR, '
                    '"invokedBy" VARCHAR, "sessionContext" STRUCT("sessionIssuer" '
                    'STRUCT("type" VARCHAR, "arn" VARCHAR, "userName" VARCHAR)))',
    "requestParameters": _REQUEST_PARAMETERS,
    "additionalEventData": 'STRUCT("bytesTransferredOut" VARCHAR)',
    "resources": 'STRUCT("ARN" VARCHAR, "type" VARCHAR)[]',
}

_IDENTITY = "userIdentity"
_ANONYMOUS = f"{_IDENTITY}.type = 'AWSAccount' AND {_IDENTITY}.accountId = 'ANONYMOUS_PRINCIPAL'"
_PRINCIPAL = f"""CASE
    WHEN {_ANONYMOUS} THEN '*'
    WHEN {_IDENTITY}.type = 'AssumedRole'
        AND coalesce({_IDENTITY}.sessionContext.sessionIssuer.arn, '') <> ''
        THEN {_IDENTITY}.sessionContext.sessionIssuer.arn
    WHEN {_IDENTITY}.type = 'AssumedRole' THEN {role_of_session(f'{_IDENTITY}.arn')}
    WHEN {_IDENTITY}.type = 'AWSAccount' THEN 'arn:aws:iam::' || {_IDENTITY}.accountId || ':root'
    WHEN {_IDENTITY}.type = 'AWSService' THEN {_IDENTITY}.invokedBy
    WHEN {_IDENTITY}.type = 'Root' THEN coalesce(nullif({_IDENTITY}.arn, ''),
        'arn:aws:iam::' || {_IDENTITY}.accountId || ':root')
    ELSE coalesce(nullif({_IDENTITY}.arn, ''), nullif({_IDENTITY}.principalId, ''))
END"""
_TRAIL = "coalesce(requestParameters.name, requestParameters.trailName)"
_RESOURCE = f"""CASE
    WHEN coalesce(requestParameters.bucketName, '') <> '' THEN 'arn:aws:s3:::' || requestParameters.bucketName
    WHEN eventSource = 'kms.amazonaws.com' THEN coalesce(
        list_filter(resources, lambda r: r.type = 'AWS::KMS::Key' OR r.ARN LIKE 'arn:%:kms:%:key/%')[1].ARN,
        requestParameters.keyId)
    WHEN eventSource = 'cloudtrail.amazonaws.com' AND {_TRAIL} LIKE 'arn:%' THEN {_TRAIL}
    WHEN eventSource = 'cloudtrail.amazonaws.com' AND {_TRAIL} IS NOT NULL THEN 'arn:aws:cloudtrail:'
        || awsRegion || ':' || recipientAccountId || ':trail/' || {_TRAIL}
    ELSE resources[1].ARN
END"""


def events_sql(relation: str) -> str:
    """Event columns from CloudTrail records (RECORD_COLUMNS + file_id + line)."""
    return f"""SELECT
    TRY_CAST(coalesce(eventTime, "@timestamp") AS TIMESTAMPTZ),
    '{KIND}', 'aws',
    coalesce(recipientAccountId, {_IDENTITY}.accountId),
    awsRegion,
    {_PRINCIPAL},
    CASE WHEN {_ANONYMOUS} THEN 'Anonymous' ELSE {_IDENTITY}.type END,
    CASE WHEN {_IDENTITY}.type IN ('AssumedRole', 'FederatedUser') THEN {_IDENTITY}.arn END,
    nullif({_IDENTITY}.accessKeyId, ''),
    split_part(eventSource, '.', 1) || ':' || eventName,
    {_RESOURCE},
    requestParameters."key",
    sourceIPAddress,
    userAgent,
    TRY_CAST(TRY_CAST(additionalEventData.bytesTransferredOut AS DOUBLE) AS BIGINT),
    nullif(errorCode, ''),
    eventID,
    CASE WHEN requestParameters."key" IS NULL THEN to_json(requestParameters) END,
    json_extract_string(requestParameters.encryptionContext, '$."aws:s3:arn"'),
    file_id,
    line
FROM {relation}"""


JSON_LINES = LineFormat(kind=KIND, parse_sql=json_lines_parse(RECORD_COLUMNS),
                        invalid_sql=JSON_LINES_INVALID, events_sql=events_sql)

# -- files ---------------------------------------------------------------------------------------

_RECORDS_PREFIX = re.compile(rb'^\s*\{\s*"Records"\s*:\s*(?=\[)')
DOCUMENTS = RecordFormat(columns=RECORD_COLUMNS, prefix=_RECORDS_PREFIX, events_sql=events_sql,
                         lines=JSON_LINES)


def _start(path: Path) -> bytes:
    """The first bytes of the content after any byte-order mark and white space, however much
    of it there is (a file of nothing else gives b"")."""
    size = 64
    while True:
        data = head(path, size)
        start = data.lstrip(b"\xef\xbb\xbf \t\r\n")
        if start or len(data) < size:
            return start
        size *= 16


def read_cloudtrail(files: Sequence[tuple[LogFile, int]], store: EventStore,
                    staging: Path) -> list[IngestIssue]:
    """Sort the files by shape (Records document, array, JSON lines) and read each kind."""
    issues: list[IngestIssue] = []
    documents: list[tuple[LogFile, int, bool]] = []
    lines: list[tuple[LogFile, int]] = []
    for log, file_id in files:
        try:
            start = _start(log.path)
        except UnreadableFile as exc:
            issues.append(IngestIssue(log.name, str(exc)))
            continue
        if _RECORDS_PREFIX.match(start):
            documents.append((log, file_id, True))
        elif start.startswith(b"["):
            documents.append((log, file_id, False))
        elif start:
            lines.append((log, file_id))
    issues.extend(read_documents(documents, store, DOCUMENTS, staging))
    issues.extend(read_lines(lines, store, JSON_LINES, staging))
    return issues
