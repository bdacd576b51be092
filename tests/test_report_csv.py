"""findings.csv: one row per finding, spreadsheet-safe, deterministic."""

from __future__ import annotations

import csv
import io

from auditor.classify.model import Classification
from auditor.history.diff import diff
from auditor.history.model import FindingRecord
from auditor.plugins import registry
from auditor.report.base import Renderer
from auditor.report.csv_report import COLUMNS, CsvRenderer
from tests.test_history import finding, run_result


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_one_row_per_finding_in_the_runs_order() -> None:
    findings = [finding("a"), finding("b", severity="low", status="suppressed")]
    findings[0].classification = Classification("model-weights")
    text = CsvRenderer().render(run_result(findings))
    assert text.splitlines()[0] == ",".join(COLUMNS)
    table = rows(text)
    assert [(r["id"], r["resource_name"], r["status"], r["severity"]) for r in table] == [
        (findings[0].id, "a", "fail", "critical"), (findings[1].id, "b", "suppressed", "low")]
    assert table[0]["classification"] == "model-weights" and table[1]["classification"] == ""
    assert table[0]["region"] == "us-east-1" and table[0]["provider"] == "aws"


def test_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    hostile = finding("=HYPERLINK(\"http://evil\")")
    hostile.message = "+1+cmd|' /C calc'!A0"
    [row] = rows(CsvRenderer().render(run_result([hostile])))
    assert row["resource_name"] == "'=HYPERLINK(\"http://evil\")"
    assert row["message"] == "'+1+cmd|' /C calc'!A0"
    assert row["resource_id"].startswith("arn:aws:s3:::=")  # not at the start: harmless


def test_quotes_commas_and_newlines_survive() -> None:
    odd = finding("a")
    odd.message = 'line one, "quoted"\nline two'
    [row] = rows(CsvRenderer().render(run_result([odd])))
    assert row["message"] == 'line one, "quoted"\nline two'


def test_the_change_column_says_what_is_new() -> None:
    kept, fresh = finding("kept"), finding("fresh")
    result = run_result([kept, fresh])
    result.diff = diff([kept, fresh], [FindingRecord.of(kept)]).to_dict()
    assert [r["change"] for r in rows(CsvRenderer().render(result))] == ["unchanged", "new"]


def test_same_result_same_bytes_and_the_renderer_contract() -> None:
    result = run_result([finding("a"), finding("b")])
    assert CsvRenderer().render(result) == CsvRenderer().render(result)
    renderer = CsvRenderer()
    assert isinstance(renderer, Renderer)
    assert (renderer.name, renderer.filename) == ("csv", "findings.csv")


def test_registered_as_a_renderer_plugin_when_the_entry_point_is_declared() -> None:
    declared = registry("auditor.renderers").get("csv")
    assert declared in (None, CsvRenderer)  # None until pyproject.toml declares it
