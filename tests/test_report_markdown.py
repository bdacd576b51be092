"""summary.md: counts, compliance, changes and top findings, with cloud text escaped."""

from __future__ import annotations

import re

from auditor.compliance.model import RequirementResult
from auditor.history.diff import diff
from auditor.history.model import FindingRecord
from auditor.inventory import CollectionError
from auditor.report.base import Renderer
from auditor.report.markdown_report import TOP_FINDINGS, MarkdownRenderer, md
from tests.test_history import finding, run_result


def section(text: str, title: str) -> str:
    match = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no section {title!r} in:\n{text}"
    return match.group(1)


def test_counts_by_severity_and_status() -> None:
    findings = [finding("a"), finding("b"), finding("c", severity="low", status="suppressed"),
                finding("d", severity="high", status="error")]
    text = MarkdownRenderer().render(run_result(findings))
    counts = section(text, "Findings")
    assert "| severity | fail | error | suppressed |" in counts
    assert "| critical | 2 | 0 | 0 |" in counts
    assert "| high | 0 | 1 | 0 |" in counts
    assert "| low | 0 | 0 | 1 |" in counts
    assert text.startswith("# Audit of prod\n")


def test_top_findings_are_the_worst_open_ones_and_capped() -> None:
    findings = [finding(f"bucket-{i:02}") for i in range(TOP_FINDINGS + 3)]
    findings.insert(0, finding("muted", status="suppressed"))
    top = section(MarkdownRenderer().render(run_result(findings)), "Top findings")
    assert "muted" not in top
    assert top.count("| critical | fail |") == TOP_FINDINGS
    assert "… and 3 more" in top


def test_no_findings_says_so() -> None:
    assert section(MarkdownRenderer().render(run_result([])), "Top findings").strip() == "None."


def test_compliance_and_changes_appear_when_the_run_has_them() -> None:
    kept, fresh, muted = finding("kept"), finding("fresh", severity="high"), finding("m", status="suppressed")
    result = run_result([kept, fresh, muted])
    assert "## Compliance" not in MarkdownRenderer().render(result)
    result.compliance = [RequirementResult("cis-aws-3.0", "2.1.4", "t", "failed", ("x",)),
                         RequirementResult("cis-aws-3.0", "3.6", "t", "passed", ("y",)),
                         RequirementResult("soc2-cc6", "CC6.1", "t", "not-covered", ())]
    result.diff = diff([kept, fresh, muted], [FindingRecord.of(kept),
                                              FindingRecord.of(finding("gone"))]).to_dict()
    text = MarkdownRenderer().render(result)
    compliance = section(text, "Compliance")
    assert "| cis\\-aws\\-3.0 |" not in compliance  # hyphens and dots need no escaping
    assert "| cis-aws-3.0 | 1 | 1 | 0 |" in compliance and "| soc2-cc6 | 0 | 0 | 1 |" in compliance
    changes = section(text, "Since the baseline")
    assert "2 new, 1 resolved, 1 unchanged." in changes
    assert "fresh" in changes and "| m |" not in changes and "kept" not in changes


def test_an_incomplete_scan_is_said_first() -> None:
    result = run_result([])
    result.inventory.errors.append(CollectionError(
        provider="aws", account="1", region=None, service="s3", operation="ListBuckets",
        code="AccessDenied", message="no"))
    assert "**Incomplete:** 1 collection error(s)" in MarkdownRenderer().render(result)


def test_cloud_text_cannot_add_markup() -> None:
    hostile = finding("x")
    hostile.message = "a|b <img src=x onerror=alert(1)> [click](https://evil) ![i](https://e/i.png) *b*"
    top = section(MarkdownRenderer().render(run_result([hostile])), "Top findings")
    row = top.strip().splitlines()[-1]
    assert row.count(" | ") == 4  # five cells: the pipe in the message is escaped
    assert "<img" not in top and "&lt;img" in top
    assert "\\[click\\]" in top and "!\\[i\\]" in top and "\\*b\\*" in top
    assert md("line\nbreak") == "line break"


def test_same_result_same_bytes_and_the_renderer_contract() -> None:
    result = run_result([finding("a")])
    assert MarkdownRenderer().render(result) == MarkdownRenderer().render(result)
    renderer = MarkdownRenderer()
    assert isinstance(renderer, Renderer)
    assert (renderer.name, renderer.filename) == ("markdown", "summary.md")
