"""The example nightly workflow: OIDC role assumption, the history store kept between runs,
SARIF to code scanning, the HTML report kept, and the gate on new findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "scheduled-audit.yml"


def load() -> dict[str, Any]:
    document = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    document["on"] = document.pop(True)  # YAML 1.1 reads the key `on` as true
    return document


def steps() -> list[dict[str, Any]]:
    [job] = load()["jobs"].values()
    return job["steps"]


def step_using(action: str) -> dict[str, Any]:
    found = [s for s in steps() if str(s.get("uses", "")).startswith(action + "@")]
    assert len(found) == 1, f"{action}: {found}"
    return found[0]


def test_it_runs_nightly_and_by_hand() -> None:
    triggers = load()["on"]
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers


def test_credentials_come_from_oidc_not_stored_keys() -> None:
    permissions = load()["permissions"]
    assert permissions["id-token"] == "write" and permissions["contents"] == "read"
    assume = step_using("aws-actions/configure-aws-credentials")["with"]
    assert "role-to-assume" in assume
    assert not any(key in assume for key in ("aws-access-key-id", "aws-secret-access-key"))
    assert "secrets." not in WORKFLOW.read_text(encoding="utf-8")


def test_the_audit_uses_the_cached_history_and_gates_on_new_findings() -> None:
    [audit] = [s for s in steps() if "audit run" in str(s.get("run", ""))]
    assert "--profile prod" in audit["run"] and "--fail-on-new" in audit["run"]
    assert '--state "$AUDIT_STATE"' in audit["run"]
    restore = step_using("actions/cache/restore")["with"]
    save = step_using("actions/cache/save")
    assert restore["path"] == save["with"]["path"] == ".audit-state"
    assert save["if"] == "always()"  # the run is recorded even when the gate fails
    names = [s.get("name") for s in steps()]
    assert names.index("Restore the history store") < names.index("Audit") < names.index(
        "Save the history store")


def test_sarif_goes_to_code_scanning_and_the_report_is_kept() -> None:
    assert load()["permissions"]["security-events"] == "write"
    upload = step_using("github/codeql-action/upload-sarif")["with"]
    assert upload["sarif_file"].endswith("findings.sarif")
    artifact = step_using("actions/upload-artifact")["with"]
    assert "report.html" in artifact["path"] and "findings.json" in artifact["path"]


def test_the_job_summary_is_the_markdown_report() -> None:
    [summary] = [s for s in steps() if "GITHUB_STEP_SUMMARY" in str(s.get("run", ""))]
    assert "summary.md" in summary["run"]
