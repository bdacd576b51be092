"""Counts of findings by severity and by status, shared by every report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, get_args

from auditor.findings import SEVERITIES, Finding, Status

STATUSES: tuple[str, ...] = get_args(Status)


def summarize(findings: Iterable[Finding]) -> dict[str, Any]:
    """Every severity and status is present, with 0 when none: readers need not guess."""
    findings = list(findings)
    severities = Counter(f.severity for f in findings)
    statuses = Counter(f.status for f in findings)
    return {
        "total": len(findings),
        "by_severity": {s: severities[s] for s in SEVERITIES},
        "by_status": {s: statuses[s] for s in STATUSES},
    }
