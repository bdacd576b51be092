"""S3 server access logs into the events table.

The documented format: space-separated fields, ``[...]`` around the time, ``"..."`` around
the request URI, referrer and user agent, ``-`` for an empty field; newer fields are appended
at the end of the line, so only the first seventeen are required.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html
"""

from __future__ import annotations

from auditor.activity.lines import LineFormat
from auditor.activity.sql import is_session, role_of_session, sql_string

KIND = "s3-access-log"

_QUOTED = r'("(?:[^"\\]|\\.)*"|-)'
_FIELD = r"(\S+)"
PATTERN = ("^" + " ".join([_FIELD, _FIELD, r"\[([^\]]*)\]", *[_FIELD] * 5, _QUOTED, *[_FIELD] * 6,
                           _QUOTED, _QUOTED]) + r"(?: (\S+))?(?: .*)?$")
FIELDS = ("bucket_owner", "bucket", "time", "remote_ip", "requester", "request_id", "operation",
          "key", "request_uri", "http_status", "error_code", "bytes_sent", "object_size",
          "total_time", "turn_around_time", "referer", "user_agent", "version_id")

# operation -> the IAM action it performs (on the bucket, on an object); others keep their name
_OPERATIONS: dict[str, tuple[str, str]] = {
    "REST.GET.OBJECT": ("s3:GetObject", "s3:GetObject"),
    # the read half of a copy: the object's content leaves through it
    "REST.COPY.OBJECT_GET": ("s3:GetObject", "s3:GetObject"),
    "REST.HEAD.OBJECT": ("s3:HeadObject", "s3:HeadObject"),
    "REST.PUT.OBJECT": ("s3:PutObject", "s3:PutObject"),
    "REST.POST.OBJECT": ("s3:PutObject", "s3:PutObject"),
    "REST.COPY.OBJECT": ("s3:CopyObject", "s3:CopyObject"),
    "REST.DELETE.OBJECT": ("s3:DeleteObject", "s3:DeleteObject"),
    "BATCH.DELETE.OBJECT": ("s3:DeleteObject", "s3:DeleteObject"),
    "REST.GET.BUCKET": ("s3:ListObjects", "s3:ListObjects"),
    "REST.HEAD.BUCKET": ("s3:HeadBucket", "s3:HeadBucket"),
    "REST.GET.ACL": ("s3:GetBucketAcl", "s3:GetObjectAcl"),
    "REST.PUT.ACL": ("s3:PutBucketAcl", "s3:PutObjectAcl"),
    "REST.GET.BUCKETPOLICY": ("s3:GetBucketPolicy", "s3:GetBucketPolicy"),
    "REST.PUT.BUCKETPOLICY": ("s3:PutBucketPolicy", "s3:PutBucketPolicy"),
    "REST.DELETE.BUCKETPOLICY": ("s3:DeleteBucketPolicy", "s3:DeleteBucketPolicy"),
    "REST.GET.PUBLICACCESSBLOCK": ("s3:GetBucketPublicAccessBlock",) * 2,
    "REST.PUT.PUBLICACCESSBLOCK": ("s3:PutBucketPublicAccessBlock",) * 2,
    "REST.DELETE.PUBLICACCESSBLOCK": ("s3:DeleteBucketPublicAccessBlock",) * 2,
    "REST.GET.VERSIONING": ("s3:GetBucketVersioning", "s3:GetBucketVersioning"),
    "REST.POST.UPLOADS": ("s3:CreateMultipartUpload", "s3:CreateMultipartUpload"),
    "REST.PUT.PART": ("s3:UploadPart", "s3:UploadPart"),
    "REST.POST.UPLOAD": ("s3:CompleteMultipartUpload", "s3:CompleteMultipartUpload"),
}


def _action(operation: str, key: str) -> str:
    cases = " ".join(
        f"WHEN {sql_string(name)} THEN CASE WHEN {key} IS NULL THEN {sql_string(bucket)} "
        f"ELSE {sql_string(on_object)} END" for name, (bucket, on_object) in _OPERATIONS.items())
    return f"CASE {operation} {cases} ELSE 's3:' || {operation} END"


def _unquoted(field: str) -> str:
    return f"CASE WHEN {field} = '-' THEN NULL ELSE substr({field}, 2, length({field}) - 2) END"


def _dash(field: str) -> str:
    return f"nullif({field}, '-')"


def events_sql(relation: str) -> str:
    key = "url_decode(nullif(f.key, '-'))"
    return f"""SELECT
    try_strptime(f.time, '%d/%b/%Y:%H:%M:%S %z'),
    '{KIND}', 'aws', NULL, NULL,
    CASE WHEN f.requester = '-' THEN '*'
         WHEN {is_session('f.requester')} THEN {role_of_session('f.requester')}
         ELSE f.requester END,
    CASE WHEN f.requester = '-' THEN 'Anonymous'
         WHEN {is_session('f.requester')} THEN 'AssumedRole'
         WHEN f.requester LIKE 'arn:%:iam::%:user/%' THEN 'IAMUser'
         WHEN f.requester LIKE 'arn:%:iam::%:root' THEN 'Root'
         WHEN f.requester LIKE 'svc:%' THEN 'AWSService'
         ELSE 'CanonicalUser' END,
    CASE WHEN {is_session('f.requester')} THEN f.requester END,
    NULL,
    {_action('f.operation', key)},
    'arn:aws:s3:::' || f.bucket,
    {key},
    {_dash('f.remote_ip')},
    {_unquoted('f.user_agent')},
    TRY_CAST({_dash('f.bytes_sent')} AS BIGINT),
    CASE WHEN f.error_code <> '-' THEN f.error_code
         WHEN TRY_CAST(f.http_status AS INTEGER) >= 400 THEN 'HTTP ' || f.http_status END,
    {_dash('f.request_id')},
    NULL, NULL,
    file_id, line
FROM (SELECT file_id, line, regexp_extract(text, {sql_string(PATTERN)}, {list(FIELDS)!r}) AS f
      FROM {relation}) AS parsed"""


ACCESS_LOG = LineFormat(
    kind=KIND,
    parse_sql=f"SELECT file_id, line, text FROM pending WHERE regexp_matches(text, {sql_string(PATTERN)})",
    invalid_sql=f"SELECT file_id, line, 'not an S3 server access log line' FROM pending "
                f"WHERE NOT regexp_matches(text, {sql_string(PATTERN)})",
    events_sql=events_sql)
