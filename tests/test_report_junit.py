"""junit.xml: one suite per rule, one case per finding, counts CI systems can trust."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from auditor.findings import SourceLocation
from auditor.report.junit import COVERAGE_SUITE, JunitRenderer
from auditor.run import RunResult
from tests.test_report_json import PAYLOADS, SCRIPT_PAYLOAD, build_result

COUNTED = ("failure", "error", "skipped")


def parse(result: RunResult) -> ET.Element:
    text = JunitRenderer().render(result)
    assert text.startswith("<?xml version='1.0' encoding='utf-8'?>")
    return ET.fromstring(text)


def test_renderer_contract() -> None:
    renderer = JunitRenderer()
    assert (renderer.name, renderer.filename) == ("junit", "junit.xml")


def test_standard_structure_with_consistent_counts() -> None:
    root = parse(build_result())
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert suites and all(s.findall("testcase") for s in suites)
    for element in [root, *suites]:
        cases = list(element.iter("testcase"))
        assert int(element.get("tests")) == len(cases)
        assert int(element.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(element.get("errors")) == sum(c.find("error") is not None for c in cases)
        assert int(element.get("skipped")) == sum(c.find("skipped") is not None for c in cases)
    for case in root.iter("testcase"):
        assert case.get("classname") and case.get("name")
        assert sum(case.find(tag) is not None for tag in COUNTED) <= 1


def test_one_suite_per_rule_and_one_case_per_finding() -> None:
    result = build_result()
    root = parse(result)
    rule_ids = sorted({o.rule_id for o in result.rules} | {f.rule_id for f in result.findings})
    assert [s.get("name") for s in root.findall("testsuite")] == [*rule_ids, COVERAGE_SUITE]
    for rule_id in rule_ids:
        suite = root.find(f"testsuite[@name='{rule_id}']")
        findings = [f for f in result.findings if f.rule_id == rule_id]
        cases = suite.findall("testcase")
        assert len(cases) == max(len(findings), 1)
        for finding, case in zip(findings, cases[:len(findings)], strict=True):
            assert finding.resource.id in case.get("name")
            expected = {"fail": "failure", "error": "error", "suppressed": "skipped"}[finding.status]
            assert case.find(expected) is not None


def test_failures_carry_severity_message_and_details() -> None:
    result = build_result()
    root = parse(result)
    finding = next(f for f in result.findings if f.status == "fail")
    failure = next(c for c in root.iter("testcase") if c.get("name") == finding.resource.id).find("failure")
    assert failure.get("type") == finding.severity
    assert failure.get("message") == finding.message
    assert f"resource: {finding.resource.id}" in failure.text


def test_a_rule_without_findings_passes_or_is_skipped_when_it_applied_to_nothing() -> None:
    root = parse(build_result())
    [case] = root.find("testsuite[@name='aws.cloudtrail.data-events']").findall("testcase")
    assert case.find("skipped") is not None
    result = build_result()
    result.findings = [f for f in result.findings if f.rule_id != "aws.iam.user-without-mfa"]
    [case] = parse(result).find("testsuite[@name='aws.iam.user-without-mfa']").findall("testcase")
    assert list(case) == []  # evaluated, nothing failed: a passing test


def test_collection_errors_make_the_run_red() -> None:
    root = parse(build_result())
    suite = root.find(f"testsuite[@name='{COVERAGE_SUITE}']")
    [case] = suite.findall("testcase")
    assert case.find("error").get("message") == "AccessDenied: Access Denied"


def test_hostile_and_invalid_characters_survive_as_text() -> None:
    result = build_result()
    text = JunitRenderer().render(result)
    assert SCRIPT_PAYLOAD not in text  # escaped, never markup
    root = ET.fromstring(text)
    messages = " ".join(e.get("message") or "" for e in root.iter() if e.tag in COUNTED)
    assert SCRIPT_PAYLOAD in messages
    content = " ".join(e.text or "" for e in root.iter())
    assert all(payload in content for payload in PAYLOADS if payload in str(result.findings))
    broken = replace(result.findings[0], message="bell\x07 and nul\x00 in a tag value")
    result.findings = [broken]
    failure = next(parse(result).iter("failure"))
    assert failure.get("message") == "bell\ufffd and nul\ufffd in a tag value"


def test_an_iac_finding_names_its_file_and_line() -> None:
    result = build_result()
    located = replace(result.findings[0], location=SourceLocation("infra/main.tf", 12, 20))
    result.findings = [located]
    [case] = [c for c in parse(result).iter("testcase") if c.find("failure") is not None]
    assert case.get("name") == f"{located.resource.id} (infra/main.tf:12)"
    assert "location: infra/main.tf:12-20" in case.find("failure").text


def test_same_run_same_bytes_whatever_the_input_order() -> None:
    assert JunitRenderer().render(build_result()) == JunitRenderer().render(build_result(reverse_inputs=True))
