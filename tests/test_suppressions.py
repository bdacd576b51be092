"""Suppressions: strict files, matching, muting without dropping, and expiry."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from auditor.errors import ConfigError
from auditor.history.suppressions import (
    EXPIRED_RULE_ID,
    apply_suppressions,
    expired_findings,
    load_suppressions,
    parse_suppressions,
)
from auditor.report.json_report import JsonRenderer, findings_schema
from tests.test_history import finding, run_result

NOW = datetime(2026, 11, 26, 3, 17, tzinfo=UTC)
VALID = textwrap.dedent("""\
    suppressions:
      - rule: aws.s3.sensitive-cross-account-*
        resource: "acme-partner-*"
        reason: Partner X reads its own checkpoints (contract 2025-17)
        owner: ml-platform@acme.example
        expires: 2026-12-31
      - rule: "*"
        account: "999988887777"
        reason: The sandbox account is thrown away every week
        owner: security@acme.example
        expires: 2026-11-26
      - rule: gcp.storage.weights-no-retention-policy
        reason: Scratch checkpoints
        owner: research@acme.example
        expires: 2026-01-31
    """)
SUPPRESSIONS = parse_suppressions(VALID, "suppressions.yaml")


def test_a_valid_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "suppressions.yaml"
    path.write_text(VALID, encoding="utf-8")
    loaded = load_suppressions(path)
    assert [(s.rule, s.resource, s.account, s.expires.isoformat(), s.line) for s in loaded] == [
        ("aws.s3.sensitive-cross-account-*", "acme-partner-*", None, "2026-12-31", 2),
        ("*", None, "999988887777", "2026-11-26", 7),
        ("gcp.storage.weights-no-retention-policy", None, None, "2026-01-31", 12)]
    assert loaded[0].source == str(path)


@pytest.mark.parametrize(("old", "new", "line", "words"), [
    ("    owner: ml-platform@acme.example\n", "", 2, "missing the field 'owner'"),
    ("    reason: Scratch checkpoints\n", "", 12, "missing the field 'reason'"),
    ("expires: 2026-12-31", "expires: next year", 6, "must be a date"),
    ("expires: 2026-12-31", "expires: 2026-02-30", 6, "must be a date"),
    ('    resource: "acme-partner-*"', '    resources: "acme-partner-*"', 3, "unknown key 'resources'"),
    ("suppressions:", "suppression:", 1, "unknown key 'suppression'"),
    ("reason: Scratch checkpoints", "reason: ''", 13, "reason must not be empty"),
])
def test_a_mistake_names_the_file_and_line(old: str, new: str, line: int, words: str) -> None:
    assert old in VALID
    with pytest.raises(ConfigError) as caught:
        parse_suppressions(VALID.replace(old, new, 1), "suppressions.yaml")
    assert (caught.value.source, caught.value.location) == ("suppressions.yaml", f"line {line}")
    assert words in caught.value.message


def test_a_yaml_mistake_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="duplicate key 'owner'"):
        parse_suppressions(VALID.replace("    owner: research@acme.example\n",
                                         "    owner: a\n    owner: b\n"), "s.yaml")


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the suppressions file"):
        load_suppressions(tmp_path / "nope.yaml")


PARTNER_READ = finding("acme-partner-ckpt", rule_id="aws.s3.sensitive-cross-account-read",
                       severity="high")
PARTNER_WRITE = finding("acme-partner-ckpt", rule_id="aws.s3.sensitive-cross-account-write",
                        severity="high", status="error")
OTHER_BUCKET = finding("acme-weights", rule_id="aws.s3.sensitive-cross-account-read",
                       severity="high")
SANDBOX = finding("sandbox-data", account="999988887777")
SCRATCH = finding("scratch", rule_id="gcp.storage.weights-no-retention-policy", severity="low")


def test_matching_mutes_without_dropping_and_keeps_why() -> None:
    findings = [PARTNER_READ, PARTNER_WRITE, OTHER_BUCKET, SANDBOX, SCRATCH]
    muted, expired = apply_suppressions(findings, SUPPRESSIONS, NOW)
    assert [f.status for f in muted] == ["suppressed", "suppressed", "fail", "suppressed", "fail"]
    assert [f.id for f in muted] == [f.id for f in findings]
    why = muted[1].evidence["suppression"]
    assert (why["reason"], why["owner"], why["expires"], why["line"], why["status"]) == (
        "Partner X reads its own checkpoints (contract 2025-17)", "ml-platform@acme.example",
        "2026-12-31", 2, "error")
    # the last day of a suppression still counts; the day after it has expired
    assert [s.expires.isoformat() for s in expired] == ["2026-01-31"]
    assert PARTNER_READ.status == "fail"  # the input is not changed


def test_a_suppression_matches_the_resource_by_name_or_id() -> None:
    [by_id] = parse_suppressions(VALID.replace('resource: "acme-partner-*"',
                                               'resource: "arn:aws:s3:::acme-partner-*"'), "s.yaml")[:1]
    assert by_id.matches(PARTNER_READ) and not by_id.matches(OTHER_BUCKET)


def test_an_expired_suppression_stops_working_and_is_reported() -> None:
    day_after = datetime(2027, 1, 1, tzinfo=UTC)
    muted, expired = apply_suppressions([PARTNER_READ, SCRATCH], SUPPRESSIONS, day_after)
    assert [f.status for f in muted] == ["fail", "fail"]
    reports = expired_findings(expired)
    assert [f.rule_id for f in reports] == [EXPIRED_RULE_ID] * 3
    first = reports[0]
    assert first.status == "fail" and first.severity == "low"
    assert "expired on 2026-12-31" in first.message and "suppressions.yaml line 2" in first.message
    assert first.evidence["suppression"]["owner"] == "ml-platform@acme.example"
    # ids are stable across runs, so the history tracks an expired entry until it is fixed
    assert [f.id for f in reports] == [f.id for f in expired_findings(expired)]


def test_muted_and_expiry_findings_fit_findings_json() -> None:
    muted, expired = apply_suppressions([PARTNER_READ, SCRATCH], SUPPRESSIONS, NOW)
    document = JsonRenderer().render(run_result(muted + expired_findings(expired)))
    jsonschema.validate(json.loads(document), findings_schema())
