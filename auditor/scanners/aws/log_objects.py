"""The log objects under an ``s3://`` prefix, copied into a local folder for ``audit activity``.

The one cloud read outside a scan: ``ListObjectsV2`` and ``GetObject`` on the prefixes the
user names (``S3_LOG_PERMISSIONS``, which ``audit permissions --log-source`` grants on those
prefixes only), through the scanners' client factory (user agent, retries, read-only proof).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from botocore.exceptions import BotoCoreError, ClientError

from auditor.bucket_urls import split_bucket_url
from auditor.scanners.aws.clients import AwsClients, session_for_profile

S3_LOG_PERMISSIONS = ("s3:ListBucket", "s3:GetObject")
DOWNLOADS = 8
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

Fetched = tuple[str, Path]  # the object's s3:// name, its local copy
Problem = tuple[str, str]  # the s3:// name of a prefix or object, what went wrong


def fetch_prefix(url: str, accept: Callable[[str], bool], staging: Path, *,
                 aws_profile: str | None = None, endpoint_url: str | None = None
                 ) -> tuple[list[Fetched], list[Problem]]:
    """Copy the objects under ``url`` (s3://BUCKET/PREFIX) whose key ``accept`` takes."""
    split = split_bucket_url(url, "s3")
    if split is None:
        return [], [(url, "an s3:// location needs a bucket: s3://BUCKET/PREFIX")]
    bucket, prefix = split
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
        return [], [(url, f"cannot list: {_reason(exc)}")]

    def download(numbered: tuple[int, str]) -> tuple[Fetched | None, Problem | None]:
        index, key = numbered
        name = f"s3://{bucket}/{key}"
        local = folder / f"{index:06d}-{_SAFE_NAME.sub('_', PurePosixPath(key).name)}"
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
            with local.open("wb") as sink:
                for chunk in body.iter_chunks(1 << 20):
                    sink.write(chunk)
        except (ClientError, BotoCoreError) as exc:
            return None, (name, f"cannot read: {_reason(exc)}")
        return (name, local), None

    # botocore clients are thread-safe; log files are many and small, so fetch them in parallel
    with ThreadPoolExecutor(max_workers=DOWNLOADS) as pool:
        fetched = list(pool.map(download, enumerate(keys)))
    return ([found for found, _ in fetched if found is not None],
            [problem for _, problem in fetched if problem is not None])


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)
