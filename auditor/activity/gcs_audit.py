"""Cloud Storage audit logs (Cloud Logging LogEntry with an AuditLog protoPayload, one JSON
object per line, as a log sink or ``gcloud logging read --format=json`` exports them) into
the events table.

Data Access logs carry reads (``storage.objects.get``, ``storage.objects.list``); Admin
Activity logs carry policy changes (``storage.setIamPermissions``), whose ``serviceData``
is kept as the event's detail. They record no byte counts.
https://cloud.google.com/logging/docs/reference/audit/auditlog/rest/Shared.Types/AuditLog
"""

from __future__ import annotations

from auditor.activity.lines import LineFormat
from auditor.activity.sql import JSON_LINES_INVALID, json_lines_parse

KIND = "gcs-audit-log"
STORAGE = "//storage.googleapis.com/"

RECORD_COLUMNS: dict[str, str] = {
    "timestamp": "VARCHAR",
    "insertId": "VARCHAR",
    "resource": 'STRUCT("type" VARCHAR, "labels" STRUCT("bucket_name" VARCHAR, '
                '"project_id" VARCHAR, "location" VARCHAR))',
    "protoPayload": 'STRUCT("methodName" VARCHAR, "serviceName" VARCHAR, "resourceName" VARCHAR, '
                    '"status" STRUCT("code" VARCHAR, "message" VARCHAR), '
                    '"authenticationInfo" STRUCT("principalEmail" VARCHAR, '
                    '"serviceAccountKeyName" VARCHAR), '
                    '"requestMetadata" STRUCT("callerIp" VARCHAR, "callerSuppliedUserAgent" VARCHAR), '
                    '"serviceData" JSON)',
}

_EMAIL = "protoPayload.authenticationInfo.principalEmail"
_NAME = "protoPayload.resourceName"
# projects/_/buckets/B[/objects/K]
_BUCKET = (f"coalesce(nullif(regexp_extract({_NAME}, '^projects/_/buckets/([^/]+)', 1), ''), "
           f"resource.labels.bucket_name)")


def events_sql(relation: str) -> str:
    return f"""SELECT
    TRY_CAST(timestamp AS TIMESTAMPTZ),
    '{KIND}', 'gcp',
    resource.labels.project_id,
    resource.labels.location,
    CASE WHEN coalesce({_EMAIL}, '') = '' THEN 'allUsers'
         WHEN {_EMAIL} LIKE '%.gserviceaccount.com' THEN 'serviceAccount:' || {_EMAIL}
         ELSE 'user:' || {_EMAIL} END,
    CASE WHEN coalesce({_EMAIL}, '') = '' THEN 'Anonymous'
         WHEN {_EMAIL} LIKE '%.gserviceaccount.com' THEN 'serviceAccount'
         ELSE 'user' END,
    NULL,
    nullif(protoPayload.authenticationInfo.serviceAccountKeyName, ''),
    protoPayload.methodName,
    '{STORAGE}projects/_/buckets/' || {_BUCKET},
    nullif(regexp_extract({_NAME}, '^projects/_/buckets/[^/]+/objects/(.+)$', 1), ''),
    protoPayload.requestMetadata.callerIp,
    protoPayload.requestMetadata.callerSuppliedUserAgent,
    NULL,
    CASE WHEN coalesce(protoPayload.status.code, '0') <> '0'
         THEN coalesce(nullif(protoPayload.status.message, ''), 'status ' || protoPayload.status.code) END,
    insertId,
    protoPayload.serviceData,
    NULL,
    file_id, line
FROM {relation}"""


AUDIT_LOG = LineFormat(kind=KIND, parse_sql=json_lines_parse(RECORD_COLUMNS),
                       invalid_sql=JSON_LINES_INVALID, events_sql=events_sql)
