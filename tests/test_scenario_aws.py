"""The dev scenario end to end: moto-seeded account -> scan -> classify -> access -> rules.

Expectations are read from tests/data/aws-ml-org.json; see ../shared/scenarios/README.md for
what each list means.
"""

from __future__ import annotations

from typing import Any

import pytest

from auditor.run import RunResult
from tests.scenario_support import audit_endpoint, findings_about, principals

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def result(seeded_aws_org: Any) -> RunResult:
    return audit_endpoint(seeded_aws_org.endpoint_url, seeded_aws_org.scenario["region"])


@pytest.fixture(scope="module")
def expected(seeded_aws_org: Any) -> dict[str, Any]:
    return seeded_aws_org.scenario["expected"]


def test_classification(result: RunResult, expected: dict[str, Any]) -> None:
    got = {result.inventory.get(rid).name: c.label for rid, c in result.classifications.items()}
    assert got == expected["classification"]


@pytest.mark.parametrize(("section", "classes"), [("can_read", ("read",)),
                                                  ("can_write", ("write", "delete"))])
def test_effective_access(result: RunResult, expected: dict[str, Any], section: str,
                          classes: tuple[str, ...]) -> None:
    problems = []
    for bucket, answer in expected[section].items():
        who = principals(result, bucket, classes)
        problems += [f"{bucket}: {p} missing" for p in answer["must_include"] if p not in who]
        problems += [f"{bucket}: {p} must not be listed" for p in answer["must_exclude"] if p in who]
    assert not problems


def test_flagged_resources_have_a_high_finding(result: RunResult, expected: dict[str, Any]) -> None:
    # a certain failure, not an undecided rule
    unflagged = [name for name in expected["flagged"]
                 if not findings_about(result, name, "high", statuses=("fail",))]
    assert unflagged == []


def test_traps_are_not_flagged(result: RunResult, expected: dict[str, Any]) -> None:
    offending = {name: [f.rule_id for f in findings_about(result, name, "high")]
                 for name in expected["not_flagged"]}
    assert {k: v for k, v in offending.items() if v} == {}


def test_clean_resources_have_nothing_at_medium_or_above(result: RunResult,
                                                         expected: dict[str, Any]) -> None:
    offending = {name: [f.rule_id for f in findings_about(result, name, "medium")]
                 for name in expected["clean"]}
    assert {k: v for k, v in offending.items() if v} == {}


def test_every_access_grant_carries_a_proof(result: RunResult) -> None:
    grants = [g for asset in result.access.assets.values() for g in asset.grants]
    assert grants
    assert all(g.path and all(step.policy and step.statement for step in g.path) for g in grants)


def test_the_access_map_agrees_with_who_can(result: RunResult) -> None:
    """The per-asset analysis behind rules and reports gives the same readers as who-can."""
    for resource_id, asset in result.access.assets.items():
        bucket = result.inventory.get(resource_id).name
        assert {g.principal for g in asset.who("read")} == principals(result, bucket, ("read",))
