"""Rules: what every rule offers the engine, and the rules written as data (rule files).

A rule looks at each resource of its ``resource_type`` and returns verdicts: none when it does
not apply, else ``pass``, ``fail`` or ``error`` (it could not decide because data is missing).
Rule files give ``YamlRule``s; Python rules (entry point group ``auditor.rules``) are any
objects with the same attributes and ``evaluate`` method.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from auditor.access.model import AccessGrant
from auditor.errors import RuleError
from auditor.inventory import Inventory, Resource
from auditor.rules.conditions import Condition
from auditor.rules.context import EvaluationContext
from auditor.rules.logic import Trace
from auditor.rules.scope import Scope
from auditor.rules.template import PRINCIPALS, Template

Status = Literal["pass", "fail", "error"]
# what a fixture expects of the rule on its first resource
EXPECTATIONS = ("pass", "fail", "error", "not_applicable")


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    message: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    # tells several verdicts of one rule on one resource apart (a principal, say)
    discriminator: str = ""


@dataclass(frozen=True, slots=True)
class Remediation:
    text: str
    cli: str = ""
    terraform: str = ""

    def to_dict(self) -> dict[str, str]:
        return {key: value for key, value in
                (("text", self.text), ("cli", self.cli), ("terraform", self.terraform)) if value}


@dataclass(frozen=True, slots=True, eq=False)
class Fixture:
    """A small inventory whose first resource the rule must judge as ``expected``."""

    expected: str  # one of EXPECTATIONS
    index: int
    description: str
    inventory: Inventory
    subject_id: str
    line: int

    @property
    def name(self) -> str:
        return f"{self.expected}[{self.index}]"


class Rule(Protocol):
    """What the engine needs of a rule, whether written as data or in Python."""

    id: str
    title: str
    severity: str
    resource_type: str
    remediation: Remediation
    references: tuple[str, ...]
    fixtures: tuple[Fixture, ...]
    # where the rule was defined: a file, or "entry point NAME"
    source: str

    def evaluate(self, resource: Resource, context: EvaluationContext) -> list[Verdict]:
        """Verdicts on ``resource``: empty when the rule does not apply to it."""
        ...


@dataclass(frozen=True, slots=True, eq=False)
class YamlRule:
    id: str
    title: str
    severity: str
    resource_type: str
    condition: Condition
    message: Template
    rationale: str
    remediation: Remediation
    references: tuple[str, ...]
    source: str
    line: int = 1  # of the id, in the rule file
    applies_to: Condition | None = None
    evidence: tuple[str, ...] = ()
    fixtures: tuple[Fixture, ...] = ()

    def evaluate(self, resource: Resource, context: EvaluationContext) -> list[Verdict]:
        scope = Scope(resource, context)
        trace = Trace(subject=resource.id)
        if self.applies_to is not None:
            applies = self.applies_to.evaluate(scope, trace)
            if applies is False:
                return []
            if applies is None:
                return [undecided(scope, trace)]
        failed = self.condition.evaluate(scope, trace)
        if failed is None:
            return [undecided(scope, trace)]
        if not failed:
            return [Verdict("pass")]
        return [Verdict("fail", self._message(scope, trace), self._evidence(scope, trace))]

    def _message(self, scope: Scope, trace: Trace) -> str:
        principals = sorted({g.principal for g in trace.grants})
        return self.message.render(
            lambda path: principals if path == PRINCIPALS else scope.lookup(path).value)

    def _evidence(self, scope: Scope, trace: Trace) -> dict[str, Any]:
        evidence: dict[str, Any] = {}
        if self.evidence:
            evidence["attributes"] = {path: scope.lookup(path).value for path in self.evidence}
        if trace.grants:
            evidence["grants"] = unique_grants(trace.grants)
        if trace.related:
            evidence["related"] = sorted(set(trace.related))
        if trace.matches:
            evidence["matches"] = {path: unique(items) for path, items in trace.matches.items()
                                   if items}
        if trace.caveats:
            evidence["caveats"] = sorted(set(trace.caveats))
        return evidence


def undecided(scope: Scope, trace: Trace) -> Verdict:
    """The error verdict: what was unknown, and the collection errors behind it."""
    reasons = sorted(set(trace.unknown)) or ["required data is missing"]
    errors = scope.context.collection_errors(scope.resource.id)
    evidence: dict[str, Any] = {"unknown": reasons}
    if errors:
        evidence["collection_errors"] = [e.to_dict() for e in errors]
    return Verdict("error", f"could not be decided for {scope.resource.name}: "
                            f"{'; '.join(reasons)}", evidence)


def unique_grants(grants: list[AccessGrant]) -> list[dict[str, Any]]:
    return sorted(unique([g.to_dict() for g in grants]),
                  key=lambda g: (g["principal"], g["access"], g["action"], g["decision"]))


def unique(items: list[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for item in items:
        seen.setdefault(json.dumps(item, sort_keys=True, default=str), item)
    return list(seen.values())


def check_unique_ids(rules: Sequence[Rule]) -> None:
    """A rule id defined twice is an error naming both places."""
    seen: dict[str, Rule] = {}
    for rule in rules:
        if rule.id in seen:
            raise RuleError(f"rule id {rule.id!r} is already defined in {_where(seen[rule.id])}",
                            source=rule.source, location=_line(rule))
        seen[rule.id] = rule


def _where(rule: Rule) -> str:
    line = _line(rule)
    return f"{rule.source} {line}" if line else rule.source


def _line(rule: Rule) -> str | None:
    return f"line {rule.line}" if isinstance(rule, YamlRule) else None
