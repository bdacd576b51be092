"""findings.csv: one row per finding, for spreadsheets and ticket imports.

Cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return) get a leading apostrophe: names, tags and messages come from the
cloud, where anyone who can name a bucket could otherwise plant a formula (CSV injection).
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from auditor.report.extras import run_changes

if TYPE_CHECKING:
    from auditor.findings import Finding
    from auditor.run import RunResult

COLUMNS = ("id", "severity", "status", "rule_id", "title", "resource_id", "resource_name",
           "resource_type", "provider", "account", "region", "classification", "message",
           "change")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _row(finding: Finding, change: str) -> list[str]:
    ref = finding.resource
    classification = finding.classification.label if finding.classification else ""
    return [safe_cell(value) for value in (
        finding.id, finding.severity, finding.status, finding.rule_id, finding.title, ref.id,
        ref.name, ref.type, ref.provider, ref.account, ref.region or "", classification,
        finding.message, change)]


class CsvRenderer:
    name = "csv"
    filename = "findings.csv"

    def render(self, result: RunResult) -> str:
        changes = run_changes(result)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for finding in result.findings:
            writer.writerow(_row(finding, changes.change_of(finding.id) if changes else ""))
        return out.getvalue()
