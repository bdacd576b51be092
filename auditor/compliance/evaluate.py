"""How a run fares against frameworks: a pure function of the rules' outcomes.

A requirement is **not-covered** when no rule maps to it or none of its rules evaluated a
resource (all not applicable, or not run); **failed** when one of its rules failed or could not
decide (an error is never a pass); **passed** otherwise. Suppressions do not change this: a
muted finding is an accepted risk, still a gap against the requirement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from auditor.compliance.model import Framework, RequirementResult, RequirementStatus
from auditor.errors import ConfigError
from auditor.run import RuleOutcome


def evaluate_compliance(frameworks: Iterable[Framework],
                        rule_outcomes: Iterable[RuleOutcome]) -> list[RequirementResult]:
    """Every requirement of every framework (frameworks by id, requirements in file order)."""
    outcomes = {outcome.rule_id: outcome for outcome in rule_outcomes}
    results = []
    for framework in sorted(frameworks, key=lambda f: f.id):
        for requirement in framework.requirements:
            ran = [outcomes[r] for r in requirement.rule_ids
                   if r in outcomes and outcomes[r].status != "not-applicable"]
            failed = tuple(o.rule_id for o in ran if o.status in ("fail", "error"))
            status: RequirementStatus = ("not-covered" if not ran
                                         else "failed" if failed else "passed")
            results.append(RequirementResult(framework.id, requirement.id, requirement.title,
                                             status, requirement.rule_ids, failed))
    return results


def select_frameworks(frameworks: Sequence[Framework], wanted: Iterable[str]) -> list[Framework]:
    """The frameworks named by ``audit run --framework ID``; an unknown id is a ConfigError."""
    by_id = {f.id: f for f in frameworks}
    chosen = []
    for framework_id in wanted:
        if framework_id not in by_id:
            raise ConfigError(f"unknown framework {framework_id!r} (known: "
                              f"{', '.join(sorted(by_id))})", location="--framework")
        chosen.append(by_id[framework_id])
    return chosen


def rules_of(frameworks: Iterable[Framework]) -> frozenset[str]:
    """The rule ids the frameworks map: ``--framework`` evaluates these rules only."""
    return frozenset().union(*(f.rule_ids for f in frameworks))
