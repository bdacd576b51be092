"""Findings: what rules conclude about resources."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from auditor.classify.model import Classification

SEVERITIES = ("critical", "high", "medium", "low", "info")
Status = Literal["fail", "error", "suppressed"]


def severity_rank(severity: str) -> int:
    """Higher is worse: critical=4 ... info=0."""
    return len(SEVERITIES) - 1 - SEVERITIES.index(severity)


@dataclass(frozen=True, slots=True)
class ResourceRef:
    id: str
    type: str
    name: str
    provider: str
    account: str
    region: str | None = None
    aliases: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type, "name": self.name,
                                "provider": self.provider, "account": self.account,
                                "region": self.region}
        if self.aliases:
            data["aliases"] = list(self.aliases)
        return data


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where in a file a finding points (IaC findings), for SARIF and pull-request annotations."""

    path: str
    start_line: int
    end_line: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "start_line": self.start_line, "end_line": self.end_line}


@dataclass(slots=True)
class Finding:
    rule_id: str
    title: str
    severity: str
    status: Status
    resource: ResourceRef
    message: str
    classification: Classification | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    remediation: dict[str, Any] = field(default_factory=dict)
    # what tells two findings of one rule on one resource apart (a principal, say)
    discriminator: str = ""
    location: SourceLocation | None = None

    @property
    def id(self) -> str:
        key = json.dumps([self.rule_id, self.resource.id, self.discriminator])
        return hashlib.sha256(key.encode()).hexdigest()[:20]

    def sort_key(self) -> tuple[int, str, str, str]:
        return (-severity_rank(self.severity), self.rule_id, self.resource.id, self.discriminator)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "id": self.id,
            "rule_id": self.rule_id,
            "title": self.title,
            "severity": self.severity,
            "status": self.status,
            "message": self.message,
            "resource": self.resource.to_dict(),
            "classification": self.classification.to_dict() if self.classification else None,
            "evidence": self.evidence,
            "remediation": self.remediation,
        }
        if self.location:
            data["location"] = self.location.to_dict()
        return data
