"""Optional parts of a run that the report shows when they are there: compliance and changes.

Other stages produce them: ``RunResult.compliance`` (auditor.compliance: one
RequirementResult per requirement of each evaluated framework) and ``RunResult.diff``
(auditor.history: ``Diff.to_dict()``). The report leaves a section out when its part is
empty or None. Entries may be mappings or objects with the same attribute names:

* ``compliance``: ``{framework, requirement, title, status, rule_ids}``, status one of
  ``passed``, ``failed``, ``not-covered``.
* ``diff``: ``{new, resolved, unchanged}``; ``new`` and ``unchanged`` are ids of this run's
  findings; ``resolved`` lists the previous run's findings that are gone, each an id or a
  finding (a ``Finding``, or a mapping in the findings.json shape), so the report can say
  what they were.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from auditor.errors import InputError
from auditor.findings import SEVERITIES, severity_rank

if TYPE_CHECKING:
    from auditor.run import RunResult

COMPLIANCE_STATUSES = ("failed", "passed", "not-covered")


def _get(entry: Any, name: str, default: Any = None) -> Any:
    if isinstance(entry, Mapping):
        return entry.get(name, default)
    return getattr(entry, name, default)


def _text(entry: Any, name: str, where: str) -> str:
    value = _get(entry, name)
    if not isinstance(value, str):
        raise InputError(f"must be a string, not {type(value).__name__}", location=f"{where}.{name}")
    return value


def _texts(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not all(isinstance(item, str) for item in value):
        raise InputError("must be a list of strings", location=where)
    return tuple(value)


@dataclass(frozen=True, slots=True)
class Requirement:
    requirement: str
    title: str
    status: str
    rule_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Framework:
    name: str
    requirements: tuple[Requirement, ...]

    def counts(self) -> dict[str, int]:
        counted = Counter(r.status for r in self.requirements)
        return {status: counted[status] for status in COMPLIANCE_STATUSES}


def compliance_view(result: RunResult) -> list[Framework]:
    """Frameworks sorted by name, requirements in the framework's own order; [] when absent."""
    entries = getattr(result, "compliance", None) or ()
    grouped: dict[str, list[Requirement]] = {}
    for index, entry in enumerate(entries):
        where = f"compliance[{index}]"
        status = _text(entry, "status", where)
        if status not in COMPLIANCE_STATUSES:
            raise InputError(f"must be one of {', '.join(COMPLIANCE_STATUSES)}, not {status!r}",
                             location=f"{where}.status")
        grouped.setdefault(_text(entry, "framework", where), []).append(Requirement(
            requirement=_text(entry, "requirement", where),
            title=_text(entry, "title", where) if _get(entry, "title") is not None else "",
            status=status,
            rule_ids=_texts(_get(entry, "rule_ids"), f"{where}.rule_ids")))
    return [Framework(name, tuple(grouped[name])) for name in sorted(grouped)]


@dataclass(frozen=True, slots=True)
class ResolvedFinding:
    """A finding of the previous run that this run no longer has; only ``id`` is certain."""

    id: str
    rule_id: str | None = None
    title: str | None = None
    severity: str | None = None
    resource_id: str | None = None
    resource_name: str | None = None

    def sort_key(self) -> tuple[int, str, str, str]:
        rank = severity_rank(self.severity) if self.severity in SEVERITIES else -1
        return (-rank, self.rule_id or "", self.resource_id or "", self.id)


@dataclass(frozen=True, slots=True)
class RunChanges:
    new: frozenset[str]
    unchanged: frozenset[str]
    resolved: tuple[ResolvedFinding, ...]

    def change_of(self, finding_id: str) -> str:
        if finding_id in self.new:
            return "new"
        return "unchanged" if finding_id in self.unchanged else ""


def _resolved(entry: Any, where: str) -> ResolvedFinding:
    if isinstance(entry, str):
        return ResolvedFinding(id=entry)
    finding_id = _get(entry, "id")
    if not isinstance(finding_id, str):
        raise InputError("must be a finding id or a finding with an id", location=where)
    resource = _get(entry, "resource") or {}
    severity = _get(entry, "severity")
    return ResolvedFinding(id=finding_id, rule_id=_get(entry, "rule_id"), title=_get(entry, "title"),
                           severity=severity if severity in SEVERITIES else None,
                           resource_id=_get(resource, "id"), resource_name=_get(resource, "name"))


def run_changes(result: RunResult) -> RunChanges | None:
    diff = getattr(result, "diff", None)
    if diff is None:
        return None
    resolved = [_resolved(entry, f"diff.resolved[{i}]")
                for i, entry in enumerate(_get(diff, "resolved") or ())]
    return RunChanges(new=frozenset(_texts(_get(diff, "new"), "diff.new")),
                      unchanged=frozenset(_texts(_get(diff, "unchanged"), "diff.unchanged")),
                      resolved=tuple(sorted(resolved, key=ResolvedFinding.sort_key)))
