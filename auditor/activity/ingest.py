"""Read every configured log source into the events table, collecting what could not be read."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.activity import cloudtrail, gcs_audit, s3_access
from auditor.activity.lines import read_lines
from auditor.activity.model import IngestIssue, LogFile, capped
from auditor.activity.settings import LogSources
from auditor.activity.sources import Accept, any_logs, json_logs, resolve
from auditor.activity.store import EventStore
from auditor.inventory import Inventory

Reader = Callable[[Sequence[tuple[LogFile, int]], EventStore, Path], list[IngestIssue]]


@dataclass(frozen=True, slots=True)
class SourceKind:
    kind: str          # events.source and log_files.kind
    setting: str       # the LogSources field (and key of [profiles.NAME.activity])
    accept: Accept     # which files in a folder or under a prefix are logs
    read: Reader
    # what a record lacks when its time or action cannot be read
    incomplete: str


SOURCE_KINDS: tuple[SourceKind, ...] = (
    SourceKind(cloudtrail.KIND, "cloudtrail", json_logs, cloudtrail.read_cloudtrail,
               "not a CloudTrail record: eventTime, eventSource or eventName missing or invalid"),
    SourceKind(s3_access.KIND, "s3_access_logs", any_logs,
               lambda files, store, staging: read_lines(files, store, s3_access.ACCESS_LOG, staging),
               "the time field is not [dd/Mon/yyyy:HH:MM:SS +zone]"),
    SourceKind(gcs_audit.KIND, "gcs_audit_logs", json_logs,
               lambda files, store, staging: read_lines(files, store, gcs_audit.AUDIT_LOG, staging),
               "not an audit log entry: timestamp or protoPayload.methodName missing or invalid"),
)


@dataclass(slots=True)
class IngestResult:
    files: int = 0
    events: int = 0
    issues: list[IngestIssue] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "events": self.events,
                "errors": [i.to_dict() for i in self.issues]}


def ingest(sources: LogSources, store: EventStore, staging: Path) -> IngestResult:
    """Read all of ``sources``; a missing, unreadable or malformed file or line is an issue,
    never an exception, and everything else is still read."""
    result = IngestResult()
    for kind in SOURCE_KINDS:
        files, problems = resolve(getattr(sources, kind.setting), kind.accept, staging,
                                  aws_profile=sources.aws_profile,
                                  endpoint_url=sources.endpoint_url)
        result.issues.extend(problems)
        result.issues.extend(ingest_files(kind, files, store, staging))
        result.files += len(files)
    result.issues = capped(result.issues)
    result.events = store.count()
    return result


def ingest_files(kind: SourceKind, files: Sequence[LogFile], store: EventStore,
                 staging: Path) -> list[IngestIssue]:
    staging.mkdir(parents=True, exist_ok=True)
    numbered = list(zip(files, store.add_files([log.name for log in files], kind.kind), strict=True))
    issues = kind.read(numbered, store, staging)
    return issues + _reject_incomplete(store, kind)


def _reject_incomplete(store: EventStore, kind: SourceKind) -> list[IngestIssue]:
    where = "source = ? AND (time IS NULL OR action IS NULL)"
    rows = store.fetch(f"SELECT f.name, e.line, e.event_id FROM events AS e JOIN log_files AS f "
                       f"USING (file_id) WHERE {where} ORDER BY f.name, e.line, e.event_id",
                       [kind.kind])
    store.execute(f"DELETE FROM events WHERE {where}", [kind.kind])
    return [IngestIssue(name, kind.incomplete, line=line, event_id=event_id)
            for name, line, event_id in rows]


_ROLE_ARN = re.compile(r"^(arn:[^:]+:iam::\d{12}:role/)(.+/)([^/]+)$")


def resolve_principals(store: EventStore, inventory: Inventory) -> int:
    """Give role sessions their role's full ARN when the role has a path.

    A session ARN (``assumed-role/NAME/SESSION``) and an S3 access log's requester do not
    carry the role's path, which the inventory and the access analysis use. Returns how many
    events were renamed.
    """
    aliases: dict[str, str] = {}
    for role in inventory.of_type("aws.iam.role"):
        match = _ROLE_ARN.match(role.id)
        if match:
            aliases[match.group(1) + match.group(3)] = role.id
    if not aliases:
        return 0
    before = store.count("principal IN (SELECT unnest(?::VARCHAR[]))", [list(aliases)])
    store.execute("UPDATE events SET principal = a.target FROM (SELECT unnest(?::VARCHAR[]) AS alias, "
                  "unnest(?::VARCHAR[]) AS target) AS a WHERE events.principal = a.alias",
                  [list(aliases), list(aliases.values())])
    return before
