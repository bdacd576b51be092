"""Where log files come from: local files and folders, and s3:// prefixes.

``s3://`` prefixes are cloud I/O, so the scanners read them
(``auditor.scanners.aws.log_objects``): objects are copied into a staging folder and read
locally, named by their s3:// URL everywhere (errors, evidence).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from auditor.activity.model import IngestIssue, LogFile
from auditor.scanners.aws.log_objects import fetch_prefix

Accept = Callable[[str], bool]

JSON_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
# CloudTrail also writes digest files (signatures) under AWSLogs/.../CloudTrail-Digest/
_NOT_LOGS = re.compile(r"(^|/)(CloudTrail-Digest|\.[^/]*)(/|$)")



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
            found, problems = fetch_prefix(location, accept, staging, aws_profile=aws_profile,
                                           endpoint_url=endpoint_url)
            files.extend(LogFile(name, local) for name, local in found)
            issues.extend(IngestIssue(name, problem) for name, problem in problems)
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
