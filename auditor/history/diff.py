"""What changed since a baseline: new, resolved and unchanged findings, matched by finding id.

Finding ids are stable (rule id + resource id + discriminator), so a finding that is still
there is "unchanged" even if its message or evidence changed; one whose status changed
(muted by a suppression, say) is unchanged too, and shows its current status.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from auditor.findings import Finding, severity_rank
from auditor.history.model import FindingRecord


@dataclass(frozen=True, slots=True)
class Diff:
    new: tuple[Finding | FindingRecord, ...]
    resolved: tuple[FindingRecord, ...]
    unchanged: tuple[Finding | FindingRecord, ...]

    def new_failures(self, fail_on: str) -> list[Finding | FindingRecord]:
        """New findings that fail at or above ``fail_on``: what ``--fail-on-new`` gates on."""
        gate = severity_rank(fail_on)
        return [f for f in self.new if f.status == "fail" and severity_rank(f.severity) >= gate]

    def to_dict(self) -> dict[str, Any]:
        """``RunResult.diff`` for the reports: ids of this run's new and unchanged findings,
        and the resolved ones in full (they are not in this run)."""
        return {"new": [f.id for f in self.new], "unchanged": [f.id for f in self.unchanged],
                "resolved": [f.to_dict() for f in self.resolved]}


def diff(current: Iterable[Finding | FindingRecord],
         baseline: Iterable[FindingRecord]) -> Diff:
    current = _by_id(current)
    before = _by_id(baseline)
    return Diff(new=tuple(f for i, f in current.items() if i not in before),
                resolved=tuple(f for i, f in before.items() if i not in current),
                unchanged=tuple(f for i, f in current.items() if i in before))


def _by_id(findings: Iterable[Any]) -> dict[str, Any]:
    """Worst first, then by rule and resource: the order every output lists them in."""
    unique = {f.id: f for f in findings}
    return dict(sorted(unique.items(), key=lambda item: (-severity_rank(item[1].severity),
                                                         item[1].rule_id, _resource_id(item[1]),
                                                         item[0])))


def _resource_id(finding: Finding | FindingRecord) -> str:
    return finding.resource.id if isinstance(finding, Finding) else finding.resource_id


def format_diff(changes: Diff, limit: int = 50) -> str:
    """The text ``audit diff`` prints."""
    lines = [f"new: {len(changes.new)}, resolved: {len(changes.resolved)}, "
             f"unchanged: {len(changes.unchanged)}"]
    for title, items in (("new", changes.new), ("resolved", changes.resolved)):
        if items:
            lines.append(f"\n{title}:")
            lines += [f"  {f.severity:<8} {f.status:<10} {f.rule_id}  {_name(f)}"
                      for f in items[:limit]]
            if len(items) > limit:
                lines.append(f"  ... and {len(items) - limit} more")
    return "\n".join(lines)


def _name(finding: Finding | FindingRecord) -> str:
    return finding.resource.name if isinstance(finding, Finding) else finding.resource_name

