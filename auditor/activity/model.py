"""Small records shared by the log readers: a log file, and a problem found in one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# problems reported per file before the rest are summed up in one line
ISSUES_PER_FILE = 20


@dataclass(frozen=True, slots=True)
class LogFile:
    """A log file to read: ``name`` is what people know it by (a path or an s3:// URL),
    ``path`` the local copy that is read."""

    name: str
    path: Path


@dataclass(frozen=True, slots=True)
class IngestIssue:
    """A file, or a record in it, that could not be read; the rest is still read."""

    file: str
    message: str
    line: int | None = None
    event_id: str | None = None

    @property
    def location(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}"
        if self.event_id is not None:
            return f"{self.file} (eventID {self.event_id})"
        return self.file

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "event_id": self.event_id,
                "message": self.message}


def capped(issues: list[IngestIssue]) -> list[IngestIssue]:
    """At most ISSUES_PER_FILE problems per file, then one line saying how many more."""
    kept: list[IngestIssue] = []
    extra: dict[str, int] = {}
    shown: dict[str, int] = {}
    for issue in issues:
        if shown.get(issue.file, 0) < ISSUES_PER_FILE:
            shown[issue.file] = shown.get(issue.file, 0) + 1
            kept.append(issue)
        else:
            extra[issue.file] = extra.get(issue.file, 0) + 1
    kept.extend(IngestIssue(file, f"{count} more problems in this file not shown")
                for file, count in sorted(extra.items()))
    return kept
