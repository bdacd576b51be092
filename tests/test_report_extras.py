"""Compliance and changes since the last run: shown when a run has them, left out otherwise,
and malformed entries are input errors that say where."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from auditor.errors import InputError
from auditor.report.extras import ResolvedFinding, compliance_view, run_changes
from auditor.report.html import HtmlRenderer
from auditor.run import RunResult
from tests.test_report_golden import full_result
from tests.test_report_html import parse
from tests.test_report_json import build_result


def _with(**extras: Any) -> RunResult:
    return replace(build_result(), **extras)


def test_a_run_without_them_has_neither_section() -> None:
    html = HtmlRenderer().render(build_result())
    assert 'id="compliance"' not in html and 'id="changes"' not in html
    assert 'name="change"' not in html  # nor the table's change filter


def test_compliance_is_grouped_by_framework_in_the_frameworks_order() -> None:
    frameworks = compliance_view(full_result())
    assert [f.name for f in frameworks] == ["CIS AWS 3.0", "ML-SEC 1.0"]
    ml = frameworks[1]
    assert [r.requirement for r in ml.requirements] == ["1.1", "1.2", "2.1"]
    assert ml.counts() == {"failed": 1, "passed": 1, "not-covered": 1}


def test_compliance_section_shows_counts_and_requirements() -> None:
    tree = parse(HtmlRenderer().render(full_result()))
    [section] = tree.root.find_all("section", id="compliance")
    [ml] = section.find_all("article", data_framework="ML-SEC 1.0")
    counts = {n.attrs["data-compliance"]: int(n.text) for n in ml.find_all("dd")}
    assert counts == {"failed": 1, "passed": 1, "not-covered": 1}
    statuses = [row.attrs["data-status"] for row in ml.find_all("tr") if "data-status" in row.attrs]
    assert statuses == ["failed", "passed", "not-covered"]
    # a rule with findings links to them; a rule without findings has nothing to link to
    [cis] = section.find_all("article", data_framework="CIS AWS 3.0")
    links = [a.attrs["data-filter-rule"] for a in cis.find_all("a")]
    assert links == ["aws.s3.bucket-public-read"] and "aws.cloudtrail.data-events" in cis.text


@dataclass
class Entry:  # a producer's own dataclass works as well as a mapping
    framework: str
    requirement: str
    status: str
    title: str | None = None
    rule_ids: tuple[str, ...] = ()


def test_compliance_entries_may_be_objects() -> None:
    [framework] = compliance_view(_with(compliance=[Entry("F", "1", "passed", rule_ids=("r",))]))
    assert framework.requirements[0].rule_ids == ("r",) and framework.requirements[0].title == ""


@pytest.mark.parametrize(("entry", "location"), [
    ({"framework": "F", "requirement": "1", "status": "ok"}, "compliance[0].status"),
    ({"requirement": "1", "status": "passed"}, "compliance[0].framework"),
    ({"framework": "F", "requirement": 1, "status": "passed"}, "compliance[0].requirement"),
    ({"framework": "F", "requirement": "1", "status": "passed", "rule_ids": "r"},
     "compliance[0].rule_ids"),
])
def test_a_malformed_compliance_entry_says_where(entry: dict[str, Any], location: str) -> None:
    with pytest.raises(InputError) as caught:
        compliance_view(_with(compliance=[entry]))
    assert caught.value.location == location


def test_changes_section_counts_and_lists_what_was_resolved() -> None:
    run = full_result()
    tree = parse(HtmlRenderer().render(run))
    [section] = tree.root.find_all("section", id="changes")
    counts = {n.attrs["data-change-count"]: int(n.text) for n in section.find_all("dd")}
    assert counts == {"new": 2, "resolved": 2, "unchanged": 6}
    rows = section.find_all("tbody")[0].find_all("tr")
    # the finding with its details first (it has a severity), the bare id after it
    assert "Bucket readable by anyone" in rows[0].text and "fedcba9876543210fedc" in rows[1].text


def test_resolved_findings_sort_worst_first_and_accept_ids_or_findings() -> None:
    finding = build_result().findings[-1]  # an info finding, as an object
    changes = run_changes(_with(diff={"new": [], "unchanged": [], "resolved": [
        "abc", finding, {"id": "def", "severity": "critical", "rule_id": "r"}]}))
    assert changes is not None
    assert [r.id for r in changes.resolved] == ["def", finding.id, "abc"]
    assert changes.resolved[1] == ResolvedFinding(finding.id, finding.rule_id, finding.title,
                                                  "info", finding.resource.id, finding.resource.name)


@pytest.mark.parametrize(("diff", "location"), [
    ({"new": "abc"}, "diff.new"),
    ({"resolved": [{"rule_id": "r"}]}, "diff.resolved[0]"),
])
def test_a_malformed_diff_says_where(diff: dict[str, Any], location: str) -> None:
    with pytest.raises(InputError) as caught:
        run_changes(_with(diff=diff))
    assert caught.value.location == location
