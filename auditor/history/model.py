"""What the history keeps of a finding: enough to diff runs and to say what a finding was."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.findings import Finding


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """A finding as stored in the history or read from a baseline findings.json."""

    id: str
    rule_id: str
    title: str
    severity: str
    status: str
    message: str
    resource_id: str
    resource_name: str
    resource_type: str
    account: str

    @classmethod
    def of(cls, finding: Finding) -> FindingRecord:
        ref = finding.resource
        return cls(id=finding.id, rule_id=finding.rule_id, title=finding.title,
                   severity=finding.severity, status=finding.status, message=finding.message,
                   resource_id=ref.id, resource_name=ref.name, resource_type=ref.type,
                   account=ref.account)

    def to_dict(self) -> dict[str, Any]:
        """The findings.json shape, reduced to what a record holds."""
        return {"id": self.id, "rule_id": self.rule_id, "title": self.title,
                "severity": self.severity, "status": self.status, "message": self.message,
                "resource": {"id": self.resource_id, "name": self.resource_name,
                             "type": self.resource_type, "account": self.account}}


@dataclass(frozen=True, slots=True)
class StoredRun:
    id: int
    profile: str | None
    started_at: str
    finished_at: str
    tool_version: str
    findings: tuple[FindingRecord, ...] = ()
