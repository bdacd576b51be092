"""Frameworks, their requirements, and how a run fares against each requirement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

RequirementStatus = Literal["passed", "failed", "not-covered"]
REQUIREMENT_STATUSES: tuple[str, ...] = ("passed", "failed", "not-covered")


@dataclass(frozen=True, slots=True)
class Requirement:
    id: str
    title: str
    rule_ids: tuple[str, ...]
    line: int = 0  # of its id, in the framework file


@dataclass(frozen=True, slots=True)
class Framework:
    id: str
    title: str
    version: str
    url: str
    description: str
    requirements: tuple[Requirement, ...]
    source: str

    @property
    def rule_ids(self) -> frozenset[str]:
        return frozenset(rule_id for r in self.requirements for rule_id in r.rule_ids)


@dataclass(frozen=True, slots=True)
class RequirementResult:
    """One requirement of one framework after a run; the report reads these fields."""

    framework: str
    requirement: str
    title: str
    status: RequirementStatus
    rule_ids: tuple[str, ...]
    # the mapped rules that failed or could not decide (why the requirement is not passed)
    failed_rule_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"framework": self.framework, "requirement": self.requirement, "title": self.title,
                "status": self.status, "rule_ids": list(self.rule_ids),
                "failed_rule_ids": list(self.failed_rule_ids)}
