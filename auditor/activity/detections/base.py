"""What every activity detection is (metadata like a rule's), and what it may look at.

A detection reads the events of the analysis window (the temporary view ``win``) and the
inventory, never the cloud. Each finding it makes carries the matching events as evidence:
the first ``evidence_events`` of them and their count.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from auditor import clock
from auditor.access.model import AccessMap
from auditor.activity.assets import Assets
from auditor.activity.settings import ActivitySettings
from auditor.activity.sql import sql_string
from auditor.activity.store import EventStore
from auditor.activity.usage import (
    AccessKeyUse,
    KeyStatus,
    access_key_rows,
    access_key_use,
    key_statuses,
)
from auditor.findings import Finding, ResourceRef
from auditor.inventory import Inventory
from auditor.rules.model import Remediation
from auditor.run import RuleOutcome

# successful calls that return an object's content
READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:SelectObjectContent",
                "storage.objects.get")
LIST_ACTIONS = ("s3:ListObjects", "s3:ListObjectsV2", "s3:ListBucket", "storage.objects.list")
ANONYMOUS = ("*", "allUsers")
# callers that are AWS itself acting for someone, not a principal that could be stolen
SERVICE_TYPES = ("AWSService",)
PERSON_TYPES = ("IAMUser", "Root", "user", "FederatedUser", "SAMLUser", "WebIdentityUser",
                "IdentityCenterUser")

# characters of an unreadable request kept as evidence, and the nesting a request may have
DETAIL_SHOWN = 2000
MAX_DEPTH = 64
_EVIDENCE_COLUMNS = ("time", "source", "principal", "principal_type", "session", "access_key_id",
                     "action", "resource", "object_key", "source_ip", "user_agent", "bytes",
                     "error_code", "event_id")


@dataclass(frozen=True, slots=True)
class Detection:
    """A rule over events: the metadata of docs/rules.md, evaluated by code."""

    id: str
    title: str
    severity: str
    # the types of the resources its findings are about
    resource_types: tuple[str, ...]
    rationale: str
    remediation: Remediation
    references: tuple[str, ...]

    def finding(self, resource: ResourceRef, message: str, evidence: dict[str, Any], *,
                discriminator: str = "", context: DetectionContext) -> Finding:
        advice: dict[str, Any] = self.remediation.to_dict()
        if self.references:
            advice["references"] = list(self.references)
        return Finding(rule_id=self.id, title=self.title, severity=self.severity, status="fail",
                       resource=resource, message=message,
                       classification=context.assets.classification(resource.id),
                       evidence=evidence, remediation=advice, discriminator=discriminator)


@dataclass(slots=True)
class Window:
    start: datetime
    end: datetime

    def to_dict(self) -> dict[str, str]:
        return {"start": clock.isoformat(self.start), "end": clock.isoformat(self.end)}


class DetectionContext:
    """The store narrowed to the window, with the sensitive assets it mentions as tables:

    * ``win``: events in the window;
    * ``sensitive(resource, label)``: resources in ``win`` that are training data or weights;
    * ``exempt(principal)``: principals left out of behavioural detections by settings;
    * ``sensitive_access``: successful calls on sensitive resources in ``win`` by principals
      that are neither exempt, anonymous nor an AWS service; ``sensitive_reads``: those that
      read object content.
    """

    def __init__(self, store: EventStore, inventory: Inventory, assets: Assets,
                 settings: ActivitySettings, window: Window, access: AccessMap | None, now: datetime):
        self.store = store
        self.inventory = inventory
        self.assets = assets
        self.settings = settings
        self.window = window
        self.access = access
        self.now = now
        store.execute(f"CREATE OR REPLACE TEMP VIEW win AS SELECT * FROM events "
                      f"WHERE time >= {timestamp_sql(window.start)} AND time <= {timestamp_sql(window.end)}")
        # logs may begin after the window does: learn from the first days there are logs for
        first = store.fetch("SELECT min(time) FROM win")[0][0]
        self.observed_start = max(window.start, first) if first else window.start
        self.learning_end = min(self.observed_start + settings.learning_period, window.end)
        resources = [r for (r,) in store.fetch(
            "SELECT DISTINCT resource FROM win WHERE resource IS NOT NULL")]
        self.sensitive = assets.sensitive_among(resources)
        self._table("sensitive", ("resource", "label"), list(self.sensitive.items()))
        principals = [p for (p,) in store.fetch(
            "SELECT DISTINCT principal FROM win WHERE principal IS NOT NULL")]
        exempt = [p for p in principals if any(fnmatchcase(p, pattern)
                                               for pattern in settings.exempt_principals)]
        self._table("exempt", ("principal",), [(p,) for p in exempt])
        # every detection reads this view again: leave out the exemption join when none applies
        not_exempt = "AND e.principal NOT IN (SELECT principal FROM exempt)" if exempt else ""
        store.execute(f"""CREATE OR REPLACE TEMP VIEW sensitive_access AS
            SELECT e.*, s.label FROM win AS e JOIN sensitive AS s USING (resource)
            WHERE e.error_code IS NULL AND e.principal IS NOT NULL {not_exempt}
              AND e.principal NOT IN {in_list(ANONYMOUS)}
              AND coalesce(e.principal_type, '') NOT IN {in_list(SERVICE_TYPES)}""")
        store.execute(f"CREATE OR REPLACE TEMP VIEW sensitive_reads AS SELECT * FROM sensitive_access "
                      f"WHERE action IN {in_list(READ_ACTIONS)}")
        self._humans = _human_principals(access)
        self._key_statuses: list[KeyStatus] | None = None
        self._access_key_rows: list[dict[str, Any]] | None = None

    def access_key_rows(self) -> list[dict[str, Any]]:
        """Every access key used in the window, as ``usage.access_key_rows`` (queried once)."""
        if self._access_key_rows is None:
            self._access_key_rows = access_key_rows(self.store)
        return self._access_key_rows

    def access_keys(self) -> list[AccessKeyUse]:
        return access_key_use(self.access_key_rows())

    def key_statuses(self) -> list[KeyStatus]:
        """The inventory's access keys with their last use (computed once)."""
        if self._key_statuses is None:
            gcs_logs = self.store.fetch("SELECT count(*) FROM log_files WHERE kind = 'gcs-audit-log'")
            self._key_statuses = key_statuses(self.inventory, self.access, self.assets,
                                              self.access_keys(), self.now,
                                              self.observed_start, bool(gcs_logs[0][0]))
        return self._key_statuses

    def is_person(self, principal: str, principal_type: str | None) -> bool:
        """A person rather than a workload: as the access analysis says (IAM user tags), else
        by the kind of caller (an IAM Identity Center role session is a person)."""
        if principal in self._humans:
            return self._humans[principal]
        if principal_type == "AssumedRole":
            return "AWSReservedSSO_" in principal
        return principal_type in PERSON_TYPES

    def untrusted_address(self, text: str | None) -> str | None:
        """``text`` as a normalised IP address when it is one outside the trusted networks."""
        address = ip_address_of(text)
        if address is None or any(address in network for network in self.settings.trusted_cidrs):
            return None
        return str(address)

    def _table(self, name: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        typed = [column.split(" ", 1) if " " in column else (column, "VARCHAR") for column in columns]
        self.store.execute(f"CREATE OR REPLACE TEMP TABLE {name} "
                           f"({', '.join(f'{c} {t}' for c, t in typed)})")
        if rows:
            selects = ", ".join(f"unnest(?::{t}[]) AS {c}" for c, t in typed)
            self.store.execute(f"INSERT INTO {name} SELECT {selects}",
                               [[row[i] for row in rows] for i in range(len(columns))])

    def table(self, name: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """A temporary table for a detection's own joins: columns are ``name`` (a string) or
        ``name TYPE``."""
        self._table(name, columns, rows)

    def matching_evidence(self, relation: str, name: str, columns: Sequence[str],
                          rows: list[tuple[Any, ...]], condition: str, group: Sequence[str],
                          where: str = "TRUE") -> dict[tuple[Any, ...], dict[str, Any]]:
        """``evidence`` for the events of ``relation`` that match one of ``rows``: the rows go
        into the temporary table ``name`` (``columns`` as for ``table``), and ``condition`` joins
        them (as ``t``) to the events (as ``r``), as in ``joined``."""
        self._table(name, columns, rows)
        return self.evidence(joined(relation, name, condition), where, [], group)

    def evidence(self, relation: str, where: str, params: Sequence[Any], group: Sequence[str],
                 *, with_detail: bool = False) -> dict[tuple[Any, ...], dict[str, Any]]:
        """For each group of matching events: ``{"count": n, "events": [first events]}``."""
        keys = ", ".join(f"k{i}" for i in range(len(group)))
        aliased = ", ".join(f"{expression} AS k{i}" for i, expression in enumerate(group))
        detail = ", e.detail" if with_detail else ""
        rows = self.store.rows(f"""
            SELECT * FROM (
                SELECT {aliased}, {', '.join(f'e.{c}' for c in _EVIDENCE_COLUMNS)}, e.line{detail},
                       f.name AS file,
                       row_number() OVER (PARTITION BY {keys} ORDER BY e.time, f.name, e.line,
                                          e.event_id) AS position,
                       count(*) OVER (PARTITION BY {keys}) AS total
                FROM {relation} AS e JOIN log_files AS f USING (file_id)
                WHERE {where}
            ) WHERE position <= ? ORDER BY {keys}, position""",
            [*params, self.settings.evidence_events])
        found: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in rows:
            key = tuple(row[f"k{i}"] for i in range(len(group)))
            entry = found.setdefault(key, {"count": row["total"], "events": []})
            entry["events"].append(event_record(row))
        return found


def _human_principals(access: AccessMap | None) -> dict[str, bool]:
    humans: dict[str, bool] = {}
    for asset in (access.assets.values() if access else ()):
        for grant in asset.grants:
            if grant.human is not None:
                humans.setdefault(grant.principal, grant.human)
    return humans


def ip_address_of(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address, or None for what CloudTrail writes instead (``s3.amazonaws.com``,
    ``AWS Internal``) and for anonymised values that are not addresses."""
    try:
        return ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None


def event_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """One event as evidence: its fields, and where it is (file:line, or file and eventID)."""
    record: dict[str, Any] = {}
    for column in _EVIDENCE_COLUMNS:
        value = row.get(column)
        if value is None:
            continue
        record[column] = clock.isoformat(value) if isinstance(value, datetime) else value
    line = row.get("line")
    record["log"] = f"{row['file']}:{line}" if line is not None else row["file"]
    if row.get("detail"):
        request = request_of(row["detail"])
        record["request"] = _without_nulls(request) if request else row["detail"][:DETAIL_SHOWN]
    return record


def request_of(detail: str | None) -> dict[str, Any]:
    """The request parameters kept with an event; empty when there are none, or when they
    nest deeper than any real request (anyone can send any request, and what is read here
    is walked recursively)."""
    try:
        value = json.loads(detail) if detail else {}
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) and _depth(value) <= MAX_DEPTH else {}


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def joined(relation: str, table: str, condition: str) -> str:
    """``relation`` (as ``r``) narrowed to the rows matching ``table`` (as ``t``): a join, which
    DuckDB plans far better than a correlated EXISTS."""
    return f"(SELECT r.* FROM {relation} AS r JOIN {table} AS t ON {condition})"


def utc_day(column: str) -> str:
    """The UTC day of a timestamp as a day number; cheaper than a cast to DATE, which goes
    through the time-zone library for every row."""
    return f"(epoch_us({column}) // 86400000000)"


def day_of(number: int) -> date:
    return date(1970, 1, 1) + timedelta(days=number)


def in_list(values: Sequence[str]) -> str:
    return "(" + ", ".join(sql_string(v) for v in values) + ")"


# DuckDB reads an IN list of up to this many values inside the table scan; a longer one
# becomes a join that runs after every column of every row has been read
_SCANNED_IN_LIST = 5


def one_of(column: str, values: Sequence[str]) -> str:
    """``column IN values`` as short IN lists, which DuckDB filters while scanning."""
    parts = [f"{column} IN {in_list(values[i:i + _SCANNED_IN_LIST])}"
             for i in range(0, len(values), _SCANNED_IN_LIST)]
    return "(" + " OR ".join(parts or ["FALSE"]) + ")"


def timestamp_sql(moment: datetime) -> str:
    return f"TIMESTAMPTZ {sql_string(clock.isoformat(moment).replace('T', ' ').replace('Z', '+00'))}"


def human_bytes(count: float | None) -> str:
    value = float(count or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


@dataclass(slots=True)
class Result:
    """What one detection concluded: how many subjects it looked at, and its findings."""

    evaluated: int
    findings: list[Finding]


Runner = Callable[[DetectionContext], Result]


def outcome(detection: Detection, result: Result) -> RuleOutcome:
    return RuleOutcome(rule_id=detection.id, title=detection.title, severity=detection.severity,
                       evaluated=result.evaluated, failed=len(result.findings))
