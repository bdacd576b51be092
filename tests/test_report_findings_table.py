"""The compact findings data of report.html: each repeated value once, safe in a script element,
compressed when large, and the same bytes for the same run."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from auditor.report.extras import RunChanges
from auditor.report.findings_table import (
    CHANGES,
    GZIP_BASE64,
    NO_CLASSIFICATION,
    PLAIN,
    embed,
    facets,
    findings_table,
)
from auditor.report.json_report import findings_document
from tests.test_report_json import PAYLOADS, build_result

ID, RULE, SEV, STATUS, RES, CLASS, MSG, EVID, REMED, LOC, CHANGE = range(11)


@pytest.fixture(scope="module")
def findings() -> list[dict[str, Any]]:
    return findings_document(build_result())["findings"]


def test_each_row_points_at_what_its_finding_says(findings: list[dict[str, Any]]) -> None:
    table = findings_table(findings, None)
    assert len(table["findings"]) == len(findings)
    for row, finding in zip(table["findings"], findings, strict=True):
        assert row[ID] == finding["id"] and row[MSG] == finding["message"]
        assert table["rules"][row[RULE]] == [finding["rule_id"], finding["title"]]
        assert table["severities"][row[SEV]] == finding["severity"]
        assert table["statuses"][row[STATUS]] == finding["status"]
        resource = table["resources"][row[RES]]
        assert resource[:6] == [finding["resource"][k] for k in
                                ("id", "type", "name", "provider", "account", "region")]
        assert resource[6] == finding["resource"].get("aliases", [])
        if finding["classification"] is None:
            assert row[CLASS] == -1
        else:
            assert table["classes"][row[CLASS]] == [finding["classification"]["label"],
                                                    finding["classification"]["reasons"]]
        evidence = json.loads(table["evidence"][row[EVID]]) if row[EVID] >= 0 else {}
        assert evidence == finding["evidence"]
        remediation = table["remediation"][row[REMED]] if row[REMED] >= 0 else {}
        assert remediation == finding["remediation"]
        assert row[LOC] is None and table["changes"][row[CHANGE]] == ""


def test_repeated_values_are_stored_once(findings: list[dict[str, Any]]) -> None:
    doubled = findings + [dict(f, id=f"{f['id']}-copy") for f in findings]
    table = findings_table(doubled, None)
    assert len(table["findings"]) == 12
    single = findings_table(findings, None)
    for part in ("rules", "resources", "classes", "evidence", "remediation"):
        assert table[part] == single[part]


def test_changes_mark_new_and_unchanged_rows(findings: list[dict[str, Any]]) -> None:
    changes = RunChanges(new=frozenset({findings[0]["id"]}),
                         unchanged=frozenset({findings[1]["id"]}), resolved=())
    rows = findings_table(findings, changes)["findings"]
    assert [CHANGES[r[CHANGE]] for r in rows[:3]] == ["new", "unchanged", ""]


def test_facets_count_each_choice(findings: list[dict[str, Any]]) -> None:
    choices = facets(findings)
    assert [(c.value, c.count) for c in choices["provider"]] == [("aws", 6)]
    rules = {c.value: c.count for c in choices["rule"]}
    assert rules["ml.external-read"] == 2 and sum(rules.values()) == 6
    classes = {c.value: c.count for c in choices["classification"]}
    assert classes[NO_CLASSIFICATION] == 2 and classes["model-weights"] == 2


@pytest.mark.parametrize("payload", [*PAYLOADS, "a & b", "it's", "\u2028 line separator"])
def test_plain_data_cannot_end_its_script_and_reads_back(payload: str) -> None:
    embedded = embed({"text": payload})
    assert embedded.encoding == PLAIN
    assert not {"<", ">", "&", "'"} & set(str(embedded.text))
    assert json.loads(str(embedded.text)) == {"text": payload}


def test_large_data_is_compressed_and_reads_back() -> None:
    data = {"rows": [[i, PAYLOADS[i % len(PAYLOADS)]] for i in range(2_000)]}
    embedded = embed(data, compress_above=1_000)
    assert embedded.encoding == GZIP_BASE64
    assert set(str(embedded.text)) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789+/=")
    assert json.loads(gzip.decompress(base64.b64decode(str(embedded.text)))) == data
    assert embedded.json_bytes > len(str(embedded.text))
    assert embed(data, compress_above=1_000).text == embedded.text  # reproducible bytes
