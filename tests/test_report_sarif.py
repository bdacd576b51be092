"""findings.sarif: valid SARIF 2.1.0 for a live audit and for an IaC scan.

tests/data/sarif-schema-2.1.0.json is the OASIS SARIF 2.1.0 JSON Schema (OASIS Open, published
by the OASIS SARIF TC; its ``$id`` points at the oasis-tcs/sarif-spec repository), copied from the
project's shared schemas to validate SARIF output offline.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor.findings import Finding, SourceLocation
from auditor.iac import scan_iac
from auditor.report.sarif import FINGERPRINT, SOURCE_ROOT, SarifRenderer
from auditor.run import RunResult
from tests.test_report_json import build_result

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
EXPOSED = Path(__file__).parent / "data" / "iac" / "ml-exposed"
EXPECTED_SCORE = {"critical": 9.5, "high": 8.0, "medium": 5.5, "low": 3.0, "info": 1.0}
EXPECTED_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


def sarif(result: RunResult) -> dict[str, Any]:
    document = json.loads(SarifRenderer().render(result))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
                               ).validate(document)
    return document


@pytest.fixture(scope="module")
def iac_result() -> RunResult:
    return scan_iac(EXPOSED, source_root=EXPOSED)


def test_renderer_contract() -> None:
    renderer = SarifRenderer()
    assert (renderer.name, renderer.filename) == ("sarif", "findings.sarif")


def test_live_audit_is_valid_sarif_with_one_run_and_every_rule() -> None:
    result = build_result()
    document = sarif(result)
    assert document["version"] == "2.1.0"
    [run] = document["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("auditor", "9.9.9-test")
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids == sorted({o.rule_id for o in result.rules} | {f.rule_id for f in result.findings})
    severities = {o.rule_id: o.severity for o in result.rules}
    for rule in driver["rules"]:
        severity = severities[rule["id"]]
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] == EXPECTED_LEVEL[severity]
        assert float(rule["properties"]["security-severity"]) == EXPECTED_SCORE[severity]
    # the remediation of a rule's finding is its help, code included
    public = next(r for r in driver["rules"] if r["id"] == "aws.s3.bucket-public-read")
    assert "```sh\naws s3api delete-bucket-policy" in public["help"]["markdown"]


def test_each_finding_is_a_result_in_order_with_its_fingerprint() -> None:
    result = build_result()
    [run] = sarif(result)["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert len(run["results"]) == len(result.findings)
    for finding, item in zip(result.findings, run["results"], strict=True):
        assert item["ruleId"] == finding.rule_id == rules[item["ruleIndex"]]["id"]
        assert item["partialFingerprints"] == {FINGERPRINT: finding.id}
        assert item["message"]["text"] == finding.message
        # a cloud resource has no file: it is named by a logical location
        [location] = item["locations"]
        assert "physicalLocation" not in location
        assert location["logicalLocations"][0]["fullyQualifiedName"] == finding.resource.id
        if finding.status == "error":
            assert (item["kind"], item["level"]) == ("review", "none")
        else:
            assert (item["kind"], item["level"]) == ("fail", EXPECTED_LEVEL[finding.severity])
        assert ("suppressions" in item) == (finding.status == "suppressed")


def test_suppressions_say_where_they_were_made() -> None:
    result = build_result()
    external = next(r for r in sarif(result)["runs"][0]["results"] if "suppressions" in r)
    assert external["suppressions"] == [{"kind": "external"}]
    in_code = replace(next(f for f in result.findings if f.status == "fail"), status="suppressed",
                      evidence={"suppress_comment": "public by design"})
    result.findings = [in_code]
    [item] = sarif(result)["runs"][0]["results"]
    assert item["suppressions"] == [{"kind": "inSource", "justification": "public by design"}]


def test_collection_errors_are_notifications() -> None:
    result = build_result()
    [invocation] = sarif(result)["runs"][0]["invocations"]
    [notice] = invocation["toolExecutionNotifications"]
    assert notice["level"] == "error"
    assert "GetBucketPolicy" in notice["message"]["text"] and "AccessDenied" in notice["message"]["text"]
    [logical] = notice["locations"][0]["logicalLocations"]
    assert logical["fullyQualifiedName"] == "arn:aws:s3:::acme-weights-archive"


def test_same_run_same_bytes_whatever_the_input_order() -> None:
    assert SarifRenderer().render(build_result()) == SarifRenderer().render(build_result(reverse_inputs=True))


def test_a_path_is_a_relative_uri() -> None:
    result = build_result()
    result.findings = [replace(result.findings[0], location=SourceLocation("infra dir/main.tf", 3, 9))]
    [item] = sarif(result)["runs"][0]["results"]
    physical = item["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "infra%20dir/main.tf", "uriBaseId": SOURCE_ROOT}
    assert physical["region"] == {"startLine": 3, "endLine": 9}


def test_iac_scan_is_valid_sarif_whose_regions_are_the_resources(iac_result: RunResult) -> None:
    [run] = sarif(iac_result)["runs"]
    assert len(run["results"]) == len(iac_result.findings) > 30
    for item in run["results"]:
        physical = item["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uriBaseId"] == SOURCE_ROOT
        path = EXPOSED / physical["artifactLocation"]["uri"]
        lines = path.read_text(encoding="utf-8").splitlines()
        start, end = physical["region"]["startLine"], physical["region"]["endLine"]
        name = item["locations"][0]["logicalLocations"][0]["name"]
        kind, local = name.rsplit(".", 1)
        if path.suffix == ".tf":
            block = "data" if kind.startswith("data.") else "resource"
            declaration = f'{block} "{kind.removeprefix("data.")}" "{local}"'
            assert lines[start - 1].startswith(declaration), (item["ruleId"], name)
            assert lines[end - 1] == "}"
        else:
            assert lines[start - 1] == f"  {local}:" and lines[start].strip() == f"Type: {kind}"
            # the region ends on the resource's last line: the next line starts another resource
            assert end == len(lines) or not lines[end].startswith("      ")


def test_finding_with_a_location_keeps_its_logical_name(iac_result: RunResult) -> None:
    finding: Finding = next(f for f in iac_result.findings if f.rule_id.startswith("iac.s3."))
    result = replace(iac_result, findings=[finding])
    [item] = sarif(result)["runs"][0]["results"]
    [logical] = item["locations"][0]["logicalLocations"]
    assert logical == {"name": finding.resource.name, "fullyQualifiedName": finding.resource.id,
                       "kind": "resource"}
