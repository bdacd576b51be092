"""Every bundled rule judges its own fixtures exactly as they say, through the real pipeline
(classification and access analysis), and the pack's severities fit the dev scenario."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

from auditor.pipeline import analyze
from auditor.rules.fixtures import fixture_outcome
from auditor.rules.loader import BUNDLED_PACKAGE, load_rules
from auditor.rules.model import Fixture, Rule, YamlRule

RULES = load_rules()
FIXTURES = [(rule, fixture) for rule in RULES for fixture in rule.fixtures]


@pytest.mark.parametrize(("rule", "fixture"), FIXTURES,
                         ids=[f"{rule.id}:{fixture.name}" for rule, fixture in FIXTURES])
def test_fixture(rule: Rule, fixture: Fixture) -> None:
    classifications, access = analyze(fixture.inventory)
    outcome = fixture_outcome(rule, fixture, classifications, access)
    assert outcome == fixture.expected, (
        f"{rule.source} line {fixture.line} ({fixture.description or fixture.name}): expected "
        f"{fixture.expected}, got {outcome}")


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_every_rule_has_pass_and_fail_fixtures(rule: Rule) -> None:
    kinds = {fixture.expected for fixture in rule.fixtures}
    assert {"pass", "fail"} <= kinds, f"{rule.source}: needs a pass and a fail fixture"


@pytest.mark.parametrize("rule", [r for r in RULES if isinstance(r, YamlRule)],
                         ids=[r.id for r in RULES if isinstance(r, YamlRule)])
def test_rule_file_path_matches_its_id(rule: YamlRule) -> None:
    root = Path(str(files(BUNDLED_PACKAGE)))
    relative = Path(rule.source).relative_to(root)
    assert ".".join([*relative.parent.parts, relative.stem]) == rule.id, (
        f"{relative} must hold the rule {'.'.join([*relative.parent.parts, relative.stem])}")


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_bundled_rules_say_how_to_fix_and_where_to_read(rule: Rule) -> None:
    assert rule.remediation.text and rule.remediation.cli and rule.remediation.terraform
    assert rule.references and all(url.startswith("https://docs.aws.amazon.com/")
                                   for url in rule.references if rule.id.startswith("aws."))


def test_the_aws_pack_has_at_least_fifteen_rules() -> None:
    assert len([rule for rule in RULES if rule.id.startswith("aws.")]) >= 15


# ---------------------------------------------------------------- the dev scenario
