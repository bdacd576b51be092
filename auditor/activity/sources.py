"""Where log files come from: local files and folders, and s3:// prefixes.

Reading ``s3://`` belongs with the scanners conceptually (it is cloud I/O, read-only:
ListObjectsV2 and GetObject), and ``fetch_s3`` uses their client factory; it lives here until
it moves to ``auditor/scanners/aws/``. Objects are copied into a staging folder and read
locally, named by their s3:// URL everywhere (errors, evidence).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from auditor.activity.model import IngestIssue, LogFile
from auditor.scanners.aws.clients import AwsClients, session_for_profile

Accept = Callable[[str], bool]

JSON_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
# CloudTrail also writes digest files (signatures) under AWSLogs/.../CloudTrail-Digest/
_NOT_LOGS = re.compile(r"(^|/)(CloudTrail-Digest|\.[^/]*)(/|$)")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

# the read-only permissions s3:// sources need
S3_LIST_PERMISSIONS = ("s3:ListBucket", "s3:GetObject")
DOWNLOADS = 8


def json_logs(name: str) -> bool:
    return name.lower().endswith(JSON_SUFFIXES) and not _NOT_LOGS.search(name)


def any_logs(name: str) -> bool:
    return not _NOT_LOGS.search(name)


def resolve(locations: tuple[str, ...], accept: Accept, staging: Path, *,
            aws_profile: str | None = None, endpoint_url: str | None = None
            ) -> tuple[list[LogFile], list[IngestIssue]]:
    """The files named by ``locations`` (files, folders walked recursively, s3:// prefixes).

    A file named explicitly is always read; files found in folders and prefixes are read when
    ``accept(name)`` says they are logs. A location that does not exist is an issue.
    """
    files: list[LogFile] = []
    issues: list[IngestIssue] = []
    for location in locations:
        if location.startswith("s3://"):
            found, problems = fetch_s3(location, accept, staging, aws_profile=aws_profile,
                                       endpoint_url=endpoint_url)
            files.extend(found)
            issues.extend(problems)
            continue
        path = Path(location).expanduser()
        if path.is_file():
            files.append(LogFile(str(path), path))
        elif path.is_dir():
            files.extend(LogFile(str(p), p) for p in _walk(path, accept))
        else:
            issues.append(IngestIssue(location, "no such file or folder"))
    return files, issues


def _walk(folder: Path, accept: Accept) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and accept(path.relative_to(folder).as_posix()):
            yield path


def fetch_s3(url: str, accept: Accept, staging: Path, *, aws_profile: str | None = None,
             endpoint_url: str | None = None) -> tuple[list[LogFile], list[IngestIssue]]:
    """Copy the log objects under an s3://bucket/prefix URL into ``staging``."""
    parsed = urlparse(url)
    bucket, prefix = parsed.netloc, parsed.path.lstrip("/")
    if not bucket:
        return [], [IngestIssue(url, "an s3:// location needs a bucket: s3://BUCKET/PREFIX")]
    s3 = AwsClients(session_for_profile(aws_profile), endpoint_url=endpoint_url,
                    max_workers=DOWNLOADS).client("s3")
    folder = staging / "s3" / _SAFE_NAME.sub("_", bucket)
    folder.mkdir(parents=True, exist_ok=True)
    keys: list[str] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", [])
                        if not item["Key"].endswith("/") and accept(item["Key"]))
    except (ClientError, BotoCoreError) as exc:
        return [], [IngestIssue(url, f"cannot list: {_reason(exc)}")]

    def download(numbered: tuple[int, str]) -> LogFile | IngestIssue:
        index, key = numbered
        name = f"s3://{bucket}/{key}"
        local = folder / f"{index:06d}-{_SAFE_NAME.sub('_', PurePosixPath(key).name)}"
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
            with local.open("wb") as sink:
                for chunk in body.iter_chunks(1 << 20):
                    sink.write(chunk)
        except (ClientError, BotoCoreError) as exc:
            return IngestIssue(name, f"cannot read: {_reason(exc)}")
        return LogFile(name, local)

    # botocore clients are thread-safe; log files are many and small, so fetch them in parallel
    with ThreadPoolExecutor(max_workers=DOWNLOADS) as pool:
        fetched = list(pool.map(download, enumerate(keys)))
    return ([f for f in fetched if isinstance(f, LogFile)],
            [f for f in fetched if isinstance(f, IngestIssue)])


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)
