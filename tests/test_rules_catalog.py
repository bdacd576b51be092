"""The library behind `audit rules list|show|lint|test|schema`."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import jsonschema
import pytest

from auditor.compliance.loader import load_frameworks
from auditor.errors import ConfigError
from auditor.rules.catalog import (
    format_fixture_results,
    format_rule,
    format_rule_list,
    list_rules,
    run_fixtures,
    show_rule,
)
from auditor.rules.lint import lint
from auditor.rules.loader import load_rules
from auditor.rules.operators import OPERATORS
from auditor.rules.predicates import PREDICATES
from auditor.rules.resource_types import RESOURCE_TYPES
from auditor.rules.schema import rule_schema
from auditor.rules.yamlfile import parse
from tests.test_rules_loader import VALID

RULES = load_rules()
FRAMEWORKS = load_frameworks()
BUNDLED = sorted(p for p in (Path(__file__).parents[1] / "rules").rglob("*.yaml")
                 if "frameworks" not in p.parts)


def write(folder: Path, relative: str, text: str) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- lint

BROKEN = textwrap.dedent("""\
    id: aws.s3.broken
    title: Broken in several places
    severity: urgent
    resource_type: aws.s3.bucket
    colour: red
    condition:
      all:
        - {attr: name, exist: true}
        - {attr: name, matches: '(unclosed'}
        - {access: peek}
    message: "{name!r}"
    rationale: r
    remediation: {text: t, cloudformation: x}
    references: [http://example.com]
    """)


def test_lint_reports_every_problem_of_a_file_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", BROKEN)
    problems = lint([path])
    assert [(p.line, p.message.split(" (")[0].split(",")[0]) for p in problems] == [
        (3, "severity must be one of critical"),
        (5, "unknown key 'colour' in a rule file"),
        (8, "unknown operator 'exist'"),
        (9, "'matches' needs a valid regular expression"),
        (10, "'access' must be one of read"),
        (11, "message: {name!r} is not a field name such as {name} or {encryption.algorithm}"),
        (13, "unknown key 'cloudformation' in remediation"),
        (14, "reference 'http://example.com' must be an https:// URL"),
    ]
    assert all(p.source == str(path) for p in problems)
    assert str(problems[0]).startswith(f"{path}:3: ")


def test_lint_reports_duplicates_layout_and_missing_paths(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    write(pack, "aws/s3/test-rule.yaml", VALID)
    write(pack, "aws/s3/other.yaml", VALID)  # same id, and a file name that is not its id
    problems = lint([pack, tmp_path / "missing.yaml"])
    messages = sorted(str(p) for p in problems)
    assert messages == sorted([
        f"{pack / 'aws/s3/other.yaml'}:1: the file aws/s3/other.yaml must hold the rule "
        "aws.s3.other, not aws.s3.test-rule",
        f"{pack / 'aws/s3/test-rule.yaml'}:1: rule id 'aws.s3.test-rule' is already defined in "
        f"{pack / 'aws/s3/other.yaml'} line 1",
        f"{tmp_path / 'missing.yaml'}: no such rule file or directory",
    ])


def test_lint_is_quiet_about_the_bundled_pack() -> None:
    assert lint([Path(__file__).parents[1] / "rules" / provider for provider in ("aws", "gcp")]) == []


def test_strict_loading_still_stops_at_the_first_problem_in_line_order(tmp_path: Path) -> None:
    from auditor.errors import RuleError

    with pytest.raises(RuleError) as caught:
        load_rules([write(tmp_path, "broken.yaml", BROKEN)])
    assert caught.value.location == "line 3"


# ---------------------------------------------------------------- schema

SCHEMA = rule_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_every_bundled_rule_file_satisfies_the_schema(path: Path) -> None:
    errors = [e.message for e in VALIDATOR.iter_errors(parse(path.read_text(), str(path)))]
    assert errors == []


@pytest.mark.parametrize(("old", "new"), [
    ("severity: high", "severity: urgent"),
    ("exists: false}", "exist: false}"),
    ("resource_type: aws.s3.bucket", "resource_type: aws.s3.bukket"),
    ("rationale: Because.", "rationale: Because.\nrisk: high"),
    ("  - https://docs", "  - http://docs"),
    ("{attr: tags.owner, equals: NO}", "{access: read, who: strangers}"),
    ("{attr: tags.owner, equals: NO}", "{s3_data_events_logged: sometimes}"),
])
def test_the_schema_refuses_what_the_loader_refuses(old: str, new: str) -> None:
    text = VALID.replace(old, new, 1)
    assert text != VALID
    assert not VALIDATOR.is_valid(parse(text, "x.yaml"))
    assert lint_text(text)


def lint_text(text: str) -> list[object]:
    with tempfile.TemporaryDirectory() as folder:
        return lint([write(Path(folder), "x.yaml", text)])


def test_the_schema_is_built_from_the_loaders_declarations() -> None:
    text = repr(SCHEMA)
    for name in (*OPERATORS, *PREDICATES, *RESOURCE_TYPES, "outside-organization", "reaches"):
        assert f"'{name}'" in text, name


# ---------------------------------------------------------------- list, show, test

def test_list_gives_id_severity_title_and_frameworks() -> None:
    infos = {info.id: info for info in list_rules(RULES, FRAMEWORKS)}
    assert set(infos) == {rule.id for rule in RULES}
    public = infos["gcp.storage.sensitive-public-read"]
    assert (public.severity, public.resource_type) == ("critical", "gcp.storage.bucket")
    assert "cis-gcp-3.0" in public.frameworks and "cis-aws-3.0" not in public.frameworks
    text = format_rule_list(list(infos.values()))
    assert len(text.splitlines()) == len(RULES)


def test_show_gives_one_rule_in_full() -> None:
    details = show_rule(RULES, "aws.s3.sensitive-public-read", FRAMEWORKS)
    assert details["severity"] == "critical" and details["rationale"]
    assert {"text", "cli", "terraform"} <= set(details["remediation"])
    assert "cis-aws-3.0 2.1.4" in details["requirements"]
    assert details["definition"].startswith("id: aws.s3.sensitive-public-read\n")
    text = format_rule(details)
    assert "Terraform:" in text and "Requirements:" in text and "condition:" in text


def test_show_refuses_an_unknown_rule() -> None:
    with pytest.raises(ConfigError, match=r"no rule 'aws\.s3\.nope'"):
        show_rule(RULES, "aws.s3.nope")


def test_test_runs_the_fixtures_and_reports_a_wrong_one(tmp_path: Path) -> None:
    [rule] = load_rules([write(tmp_path, "x.yaml", VALID)])
    # the fixture bucket is not classified, so applies_to leaves it out: both fixtures are wrong
    results = run_fixtures([rule])
    assert [(r.fixture, r.expected, r.actual, r.passed) for r in results] == [
        ("pass[0]", "pass", "not_applicable", False), ("fail[0]", "fail", "not_applicable", False)]
    # without applies_to, the rule judges them as they say
    [fixed] = load_rules([write(tmp_path, "x.yaml", "\n".join(
        line for line in VALID.splitlines() if not line.startswith("applies_to:")) + "\n")])
    assert all(r.passed for r in run_fixtures([fixed]))
    text = format_fixture_results(results)
    assert "FAIL aws.s3.test-rule pass[0]: expected pass, got not_applicable" in text
    assert text.endswith("0 passed, 2 failed")


def test_the_bundled_packs_have_at_least_forty_rules() -> None:
    # the rest of the meta-test (fixtures, ids matching paths, remediation, references) is
    # tests/test_rule_fixtures.py, for every bundled rule
    providers = [rule.id.split(".")[0] for rule in RULES]
    assert len(RULES) >= 40 and providers.count("gcp") >= 12 and providers.count("aws") >= 19
