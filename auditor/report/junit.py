"""junit.xml: the run as test results, for CI systems that show JUnit reports.

One ``testsuite`` per rule (named by the rule id); in it one ``testcase`` per finding on a
resource: ``failure`` for a failing finding, ``error`` when the rule could not decide, and
``skipped`` for a suppressed one. A rule with no finding is one passing testcase (or a skipped
one when it applied to nothing). Collection errors (what the scan could not see) are ``error``
testcases of a last suite, ``auditor.coverage``, so an incomplete audit never reads as green.

Only the attributes every JUnit reader knows are used (name, classname, tests, failures,
errors, skipped, time, message, type). Text is escaped by ElementTree; characters that XML 1.0
cannot carry at all (control characters from a tag value, say) become U+FFFD.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from auditor.findings import Finding
from auditor.report.sarif import rule_outcomes
from auditor.run import RuleOutcome

if TYPE_CHECKING:
    from auditor.run import RunResult

SUITES_NAME = "auditor"
COVERAGE_SUITE = "auditor.coverage"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_FINDING_ELEMENT = {"fail": "failure", "error": "error", "suppressed": "skipped"}


def _text(value: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def _element(parent: ET.Element, tag: str, text: str | None = None, **attributes: Any) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _text(v) for k, v in attributes.items()})
    if text:
        element.text = _text(text)
    return element


def _details(finding: Finding) -> str:
    lines = [finding.message, f"severity: {finding.severity}", f"resource: {finding.resource.id}"]
    if finding.location is not None:
        where = finding.location
        lines.append(f"location: {where.path}:{where.start_line}-{where.end_line}")
    if finding.classification is not None:
        lines.append(f"classification: {finding.classification.label}")
    if finding.remediation.get("text"):
        lines.append(f"remediation: {finding.remediation['text']}")
    if finding.evidence:
        lines.append("evidence: " + json.dumps(finding.evidence, sort_keys=True, ensure_ascii=False))
    return "\n".join(lines)


def _case_name(finding: Finding) -> str:
    where = finding.location
    return f"{finding.resource.id} ({where.path}:{where.start_line})" if where else finding.resource.id


def _suite(root: ET.Element, outcome: RuleOutcome, findings: list[Finding]) -> None:
    suite = _element(root, "testsuite", name=outcome.rule_id)
    properties = _element(suite, "properties")
    _element(properties, "property", name="title", value=outcome.title)
    _element(properties, "property", name="severity", value=outcome.severity)
    for finding in findings:
        case = _element(suite, "testcase", classname=outcome.rule_id, name=_case_name(finding), time="0")
        element = _FINDING_ELEMENT[finding.status]
        if element == "skipped":
            _element(case, element, message=f"suppressed: {finding.message}")
        else:
            _element(case, element, _details(finding), message=finding.message, type=finding.severity)
    if not findings:
        case = _element(suite, "testcase", classname=outcome.rule_id, name=outcome.title, time="0")
        if outcome.status == "not-applicable":
            _element(case, "skipped", message="no resource this rule applies to")
    _count(suite)


def _coverage_suite(root: ET.Element, errors: list[dict[str, Any]]) -> None:
    suite = _element(root, "testsuite", name=COVERAGE_SUITE)
    for error in errors:
        where = ":".join(str(error[k]) for k in ("provider", "account", "region", "service") if error.get(k))
        case = _element(suite, "testcase", classname=COVERAGE_SUITE, time="0",
                        name=f"{where} {error['operation']} {error.get('resource_id') or ''}".strip())
        _element(case, "error", json.dumps(error, sort_keys=True, ensure_ascii=False),
                 message=f"{error['code']}: {error['message']}", type="collection-error")
    _count(suite)


def _count(element: ET.Element) -> None:
    cases = element.iter("testcase")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for case in cases:
        counts["tests"] += 1
        counts["failures"] += case.find("failure") is not None
        counts["errors"] += case.find("error") is not None
        counts["skipped"] += case.find("skipped") is not None
    for key, value in counts.items():
        element.set(key, str(value))
    element.set("time", "0")


def junit_tree(result: RunResult) -> ET.Element:
    root = ET.Element("testsuites", {"name": SUITES_NAME})
    by_rule: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    for outcome in rule_outcomes(result):
        _suite(root, outcome, by_rule.get(outcome.rule_id, []))
    errors = result.coverage()["collection_errors"]
    if errors:
        _coverage_suite(root, errors)
    _count(root)
    return root


class JunitRenderer:
    name = "junit"
    filename = "junit.xml"

    def render(self, result: RunResult) -> str:
        tree = junit_tree(result)
        ET.indent(tree)
        return ET.tostring(tree, encoding="unicode", xml_declaration=True) + "\n"
