"""What an honest answer under faults is, for any provider (tests/test_faults*.py).

A scan that met faults is judged against a scan of the same organization without them:

* whatever is unknown is explained: a resource with an unknown attribute has a collection
  error, and an error about an attribute marks that attribute unknown;
* every rule that failed on a resource without faults still fails, or reports error, on it
  (unknown is never a pass), unless the resource could not even be listed and the listing's
  failure is reported;
* no rule that failed without faults passes with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from auditor.inventory import Inventory
from auditor.run import RunResult


@dataclass(frozen=True, slots=True)
class Baseline:
    inventory: Inventory
    failing: set[tuple[str, str]]  # (rule id, resource id)
    failing_rules: set[str]
    requests: int  # how many requests a scan without faults sends

    @classmethod
    def of(cls, inventory: Inventory, result: RunResult, requests: int) -> Baseline:
        return cls(inventory, {(f.rule_id, f.resource.id) for f in result.findings
                               if f.status == "fail"},
                   {o.rule_id for o in result.rules if o.status == "fail"}, requests)


def assert_unknowns_explained(inventory: Inventory) -> None:
    explained = {e.resource_id for e in inventory.errors}
    assert [r.id for r in inventory.resources if r.unknown and r.id not in explained] == []
    for error in inventory.errors:
        resource = inventory.get(error.resource_id) if error.resource_id else None
        if resource is not None and error.attribute:
            assert error.attribute in resource.unknown, (error, resource.unknown)


def assert_no_silent_pass(baseline: Baseline, inventory: Inventory,
                          still_failing: Iterable[tuple[str, str]],
                          rule_outcomes: Mapping[str, str]) -> None:
    """``still_failing``: (rule id, resource id) of the faulted run's fail and error findings;
    ``rule_outcomes``: rule id -> its status in the faulted run."""
    unlisted = {(e.account, e.service) for e in inventory.errors if e.resource_id is None}
    silent = []
    for rule_id, resource_id in sorted(baseline.failing - set(still_failing)):
        resource = baseline.inventory.get(resource_id)
        if resource is None or inventory.get(resource_id) is not None \
                or (resource.account, resource.type.split(".")[1]) not in unlisted:
            silent.append((rule_id, resource_id))
    assert silent == [], "failed without faults, silently passed with them"
    assert [r for r in sorted(baseline.failing_rules) if rule_outcomes.get(r) == "pass"] == []
