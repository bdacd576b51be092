"""The result of one audit run: what every renderer and deliverer receives."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from auditor.access.model import AccessMap
from auditor.classify.model import Classification
from auditor.compliance.model import RequirementResult
from auditor.findings import Finding
from auditor.inventory import Inventory


@dataclass(slots=True)
class RuleOutcome:
    """How one rule fared over the resources it looked at."""

    rule_id: str
    title: str
    severity: str
    evaluated: int = 0
    failed: int = 0
    errors: int = 0

    @property
    def status(self) -> str:
        if self.failed:
            return "fail"
        if self.errors:
            return "error"
        return "pass" if self.evaluated else "not-applicable"

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "title": self.title, "severity": self.severity,
                "evaluated": self.evaluated, "failed": self.failed, "errors": self.errors,
                "status": self.status}


@dataclass(slots=True)
class RunMetadata:
    tool_version: str
    profile: str | None
    started_at: str
    finished_at: str
    fail_on: str = "high"


@dataclass(slots=True)
class RunResult:
    metadata: RunMetadata
    inventory: Inventory
    classifications: dict[str, Classification]
    access: AccessMap
    findings: list[Finding]
    rules: list[RuleOutcome] = field(default_factory=list)
    # each requirement of the evaluated frameworks (docs/compliance.md)
    compliance: list[RequirementResult] = field(default_factory=list)
    # what changed since the baseline: auditor.history.diff.Diff.to_dict(), or None
    diff: dict[str, Any] | None = None

    @property
    def incomplete(self) -> bool:
        return bool(self.inventory.errors)

    def coverage(self) -> dict[str, Any]:
        """What was scanned and what could not be: readers must know what was not checked."""
        counts = Counter(r.type for r in self.inventory.resources)
        return {
            "scopes": [s.to_dict() for s in self.inventory.scopes],
            "resources_by_type": dict(sorted(counts.items())),
            "collection_errors": [e.to_dict() for e in self.inventory.errors],
            "complete": not self.incomplete,
        }
