"""Compliance as data: strict framework files, requirement results, --framework selection."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from auditor.compliance.evaluate import evaluate_compliance, rules_of, select_frameworks
from auditor.compliance.loader import load_frameworks, parse_framework
from auditor.compliance.model import Framework, Requirement
from auditor.errors import ConfigError, RuleError
from auditor.rules.loader import BUNDLED_PACKAGE, load_rules
from auditor.run import RuleOutcome

RULE_IDS = {rule.id for rule in load_rules()}
FRAMEWORKS = load_frameworks()

VALID = textwrap.dedent("""\
    id: test-framework
    title: A test framework
    version: "1.0"
    url: https://example.com/framework
    requirements:
      - id: "1.10"
        title: Public buckets
        rules: [aws.s3.sensitive-public-read, gcp.storage.sensitive-public-read]
      - id: AC-3
        title: Not covered yet
        rules: []
    """)


def error_for(text: str) -> RuleError:
    with pytest.raises(RuleError) as caught:
        parse_framework(text, "frameworks/test.yaml", RULE_IDS)
    return caught.value


def test_a_valid_framework_loads() -> None:
    framework = parse_framework(VALID, "frameworks/test.yaml", RULE_IDS)
    assert framework.id == "test-framework" and framework.version == "1.0"
    assert [(r.id, r.rule_ids, r.line) for r in framework.requirements] == [
        ("1.10", ("aws.s3.sensitive-public-read", "gcp.storage.sensitive-public-read"), 6),
        ("AC-3", (), 9)]


@pytest.mark.parametrize(("old", "new", "line", "words"), [
    ("rules: [aws.s3.sensitive-public-read, gcp", "rules: [aws.s3.no-such-rule, gcp", 8,
     "unknown rule id 'aws.s3.no-such-rule' in requirement 1.10"),
    ('  - id: "1.10"', "  - id: 1.10", 6, "quote numbers"),
    ("  - id: AC-3", '  - id: "1.10"', 9, "requirement '1.10' is already listed at line 6"),
    ("url: https://example.com/framework\n", "", 1, "missing the field 'url'"),
    ("version: \"1.0\"", "version: \"1.0\"\nowner: me", 4, "unknown key 'owner'"),
    ("id: test-framework", "id: Test Framework", 1, "lower-case words"),
    ("    title: Not covered yet\n", "", 9, "missing the field 'title'"),
])
def test_a_mistake_is_an_error_naming_the_file_and_line(old: str, new: str, line: int,
                                                        words: str) -> None:
    assert old in VALID
    error = error_for(VALID.replace(old, new, 1))
    assert error.source == "frameworks/test.yaml" and error.location == f"line {line}", str(error)
    assert words in error.message


def test_a_framework_defined_twice_is_an_error(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(VALID, encoding="utf-8")
    with pytest.raises(RuleError, match="already defined in"):
        load_frameworks([tmp_path], RULE_IDS)


def test_bundled_frameworks_load_and_are_named_after_their_files() -> None:
    from importlib.resources import files

    folder = files(BUNDLED_PACKAGE).joinpath("frameworks")
    stems = sorted(entry.name.rsplit(".", 1)[0] for entry in folder.iterdir()
                   if entry.name.endswith(".yaml"))
    assert [f.id for f in FRAMEWORKS] == stems
    assert {"cis-aws-3.0", "cis-gcp-3.0", "nist-800-53-r5", "iso-27001-2022", "soc2-cc6",
            "nist-ai-rmf-1.0", "iso-42001-2023"} <= set(stems)


def test_nist_800_53_maps_the_controls_the_issue_names() -> None:
    nist = next(f for f in FRAMEWORKS if f.id == "nist-800-53-r5")
    mapped = {r.id for r in nist.requirements if r.rule_ids}
    assert {"AC-3", "AC-6", "AU-2", "AU-12", "IA-5", "SC-12", "SC-28"} <= mapped


def test_every_bundled_rule_but_listings_is_in_some_framework() -> None:
    # an info rule lists (every writer, say) rather than judges: mapped, it would fail its
    # requirement on every bucket
    judging = {rule.id for rule in load_rules() if rule.severity != "info"}
    assert sorted(judging - rules_of(FRAMEWORKS)) == []
    assert "aws.s3.sensitive-write-access" not in rules_of(FRAMEWORKS)


# ---------------------------------------------------------------- evaluation

FRAMEWORK = Framework(id="f", title="F", version="1", url="https://x", description="",
                      source="f.yaml", requirements=(
                          Requirement("R1", "one rule passes", ("a.b.pass",)),
                          Requirement("R2", "one of two fails", ("a.b.pass", "a.b.fail")),
                          Requirement("R3", "an error is not a pass", ("a.b.pass", "a.b.error")),
                          Requirement("R4", "nothing maps", ()),
                          Requirement("R5", "nothing applied", ("a.b.nothing",)),
                          Requirement("R6", "not run at all", ("a.b.absent",)),
                          Requirement("R7", "one applied, one did not", ("a.b.nothing", "a.b.pass")),
                      ))
OUTCOMES = [RuleOutcome("a.b.pass", "t", "high", evaluated=3),
            RuleOutcome("a.b.fail", "t", "high", evaluated=2, failed=1),
            RuleOutcome("a.b.error", "t", "high", evaluated=1, errors=1),
            RuleOutcome("a.b.nothing", "t", "high", evaluated=0)]


def test_requirement_statuses() -> None:
    results = evaluate_compliance([FRAMEWORK], OUTCOMES)
    assert [(r.requirement, r.status, r.failed_rule_ids) for r in results] == [
        ("R1", "passed", ()), ("R2", "failed", ("a.b.fail",)), ("R3", "failed", ("a.b.error",)),
        ("R4", "not-covered", ()), ("R5", "not-covered", ()), ("R6", "not-covered", ()),
        ("R7", "passed", ())]


def test_results_have_the_shape_the_report_reads() -> None:
    [first, *_] = evaluate_compliance([FRAMEWORK], OUTCOMES)
    assert first.to_dict() == {"framework": "f", "requirement": "R1", "title": "one rule passes",
                               "status": "passed", "rule_ids": ["a.b.pass"], "failed_rule_ids": []}


def test_the_report_reads_compliance_results() -> None:
    from auditor.report.extras import compliance_view
    from tests.test_history import run_result

    result = run_result([])
    result.compliance = evaluate_compliance([FRAMEWORK], OUTCOMES)
    [view] = compliance_view(result)
    assert view.counts() == {"failed": 2, "passed": 2, "not-covered": 3}


def test_select_frameworks_and_their_rules() -> None:
    [cis] = select_frameworks(FRAMEWORKS, ["cis-gcp-3.0"])
    chosen = rules_of([cis])
    assert "gcp.storage.sensitive-uniform-access-off" in chosen
    assert not any(rule_id.startswith("aws.") for rule_id in chosen)
    with pytest.raises(ConfigError, match="unknown framework 'cis-azure'"):
        select_frameworks(FRAMEWORKS, ["cis-azure"])
