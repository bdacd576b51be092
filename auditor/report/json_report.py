"""findings.json: the machine-readable record of a run (schema: findings.schema.json)."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from auditor.report import canonical
from auditor.report.summary import summarize

if TYPE_CHECKING:
    from auditor.run import RunResult

# Bump only for a change that breaks readers (a field removed, renamed or retyped);
# adding a field keeps the version (see docs/findings.md).
SCHEMA_VERSION = 1
TOOL_NAME = "auditor"


def run_section(result: RunResult) -> dict[str, Any]:
    meta = result.metadata
    return {
        "tool": {"name": TOOL_NAME, "version": meta.tool_version},
        "profile": meta.profile,
        "started_at": meta.started_at,
        "finished_at": meta.finished_at,
        "fail_on": meta.fail_on,
        "coverage": result.coverage(),
    }


def findings_document(result: RunResult) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "run": run_section(result),
        "summary": summarize(result.findings),
        "rules": [rule.to_dict() for rule in sorted(result.rules, key=lambda r: r.rule_id)],
        # the engine sorts findings (worst first); that order is part of the output
        "findings": [finding.to_dict() for finding in result.findings],
    }


def findings_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that every findings.json satisfies."""
    text = files("auditor.report").joinpath("findings.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


class JsonRenderer:
    name = "json"
    filename = "findings.json"

    def render(self, result: RunResult) -> str:
        return canonical.dumps(findings_document(result))
