"""The condition language of rule files, compiled once at load time.

Forms (docs/rules.md has the full table):

* combinators ``{all: [...]}``, ``{any: [...]}``, ``{not: ...}``;
* attribute tests ``{attr: <path>, <operator>: <argument>}`` (operators.py);
* list tests ``{each: <path>, any|all: <condition>}``, the condition read against each item;
* access tests ``{access: read|write|delete|admin, who: ..., count_gt: N, decision: ...}``
  over the effective access the analyzers computed (auditor.access.model);
* cross-resource tests ``{references: {type, attr}, any|all: ...}`` (the resources my ``attr``
  names) and ``{referenced_by: {type, attr}, any|all: ...}`` (the resources whose ``attr``
  names me), the condition read against each related resource;
* reach tests ``{reaches: {type, access, by, who, decision}, any|all: ...}`` on a resource
  that is a principal (a role, a service account): the analyzed assets it can reach, or that
  others reach through it (impersonation, role chaining), the condition read against each;
* named predicates for what needs code (predicates.py), e.g. ``{s3_data_events_logged: read}``.

Every form evaluates to true, false or unknown (logic.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from auditor.access.model import ACCESS_CLASSES, AccessGrant, AssetAccess
from auditor.inventory import Resource
from auditor.rules.context import EvaluationContext
from auditor.rules.logic import Trace, Truth, all3, any3, not3
from auditor.rules.operators import OPERATORS
from auditor.rules.organization import outside_organization
from auditor.rules.predicates import PREDICATES
from auditor.rules.resource_types import RESOURCE_TYPES
from auditor.rules.scope import Scope, is_path
from auditor.rules.template import Template, parse_template
from auditor.rules.yamlfile import LineList, LineMap, Reader, type_name


class Condition(Protocol):
    def evaluate(self, scope: Scope, trace: Trace) -> Truth: ...


QUANTIFIERS = ("any", "all")
# who counts in an access test; judged against the resource whose access is read
WHO: dict[str, Callable[[AccessGrant, Resource, EvaluationContext, Trace], Truth]] = {
    "any": lambda g, r, c, t: True,
    "public": lambda g, r, c, t: g.public,
    "external": lambda g, r, c, t: g.external,
    "cross-account": lambda g, r, c, t: g.external and not g.public,
    "outside-organization": outside_organization,
    "human": lambda g, r, c, t: g.human is True,
    "non-human": lambda g, r, c, t: g.human is False,
}
DECISIONS = ("any", "allow", "conditional")
REACHED_BY = ("self", "others")
# the keys of each form besides its lead key: the compiler and the JSON Schema read these
ACCESS_TEST_KEYS = ("who", "count_gt", "decision", "principal", "statement")
REACHES_KEYS = ("type", "access", "by", "who", "decision")
RELATED_KEYS = ("type", "attr")


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Condition, ...]

    def evaluate(self, scope: Scope, trace: Trace) -> Truth:
        return all3(part.evaluate(scope, trace) for part in self.parts)


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Condition, ...]

    def evaluate(self, scope: Scope, trace: Trace) -> Truth:
        return any3(part.evaluate(scope, trace) for part in self.parts)


@dataclass(frozen=True, slots=True)
class Not:
    part: Condition

    def evaluate(self, scope: Scope, trace: Trace) -> Truth:
        return not3(self.part.evaluate(scope, trace))


@dataclass(frozen=True, slots=True)
class AttributeTest:
    attr: str
    operator: str
    argument: Any

    def evaluate(self, scope: Scope, trace: Trace) -> Truth:
        found = scope.lookup(self.attr)
        if found.unknown:
            trace.note(scope.resource.id, found.unknown)
            return None
        result = OPERATORS[self.operator].test(found.value, self.argument, scope.context.now)
        if result is None:
            trace.note(scope.resource.id, f"{self.attr} = {found.value!r} cannot be tested "
                                          f"with {self.operator}")
        return result


@dataclass(frozen=True, slots=True)
class Each:
    path: str
    quantifier: str
    part: Condition

    def evaluate(self, scope: Scope, trace: Trace) -> Truth:
        found = scope.lookup(self.path)
        if found.unknown:
            trace.note(scope.resource.id, found.unknown)
            return None
        items = as_items(found.value)
        if self.quantifier == "all":
            return all3(self.part.evaluate(scope.with_item(item), trace) for item in items)
        # every item is tested (no short cut) so that the evidence lists all that match
        results = [(item, self.part.evaluate(scope.with_item(item), trace)) for item in items]
        trace.matches.setdefault(self.path, []).extend(i for i, r in results if r is True)
        return any3(r for _, r in results)


@dataclass(frozen=True, slots=True)
class GrantFilter:
    """Which grants an access or reach test counts."""

    who: str = "any"
    decision: str = "any"
    # re.search over the grant's principal, and over the statements of its proof path
    principal: re.Pattern[str] | None = None
    statement: re.Pattern[str] | None = None

    def matches(self, grant: AccessGrant, resource: Resource, context: EvaluationContext,
                trace: Trace) -> Truth:
        if self.decision not in ("any", grant.decision):
            return False
        if self.principal is not None and not self.principal.search(grant.principal):
            return False
        if self.statement is not None and not any(self.statement.search(step.statement)
                                                  for step in grant.path):
            return False
        return WHO[self.who](grant, resource, context, trace)


def count_principals(grants: list[tuple[AccessGrant, Truth]], count_gt: int) -> Truth:
    """More than ``count_gt`` distinct principals among grants that match (True), or
    unknown when the ones that may match (None) could make the number."""
    certain = {g.principal for g, matched in grants if matched is True}
    possible = certain | {g.principal for g, matched in grants if matched is None}
    if len(certain) > count_gt:
        return True
    return None if len(possible) > count_gt else False


def caveats(asset: AssetAccess) -> list[str]:
    """Why grants the analyzer found might not hold (a deny policy that was not collected).

    ``AssetAccess.unknown`` lists what could add principals; ``may_not_hold`` what could only
    remove some, so that "nobody" answers stay certain.
    """
    return list(asset.may_not_hold)


@dataclass(frozen=True, slots=True)
class AccessTest:
    access: str
    count_gt: int
    grants: GrantFilter

    def evaluate(self, scope: Scope, trace: Trace) -> Truth:
        resource = scope.resource
        asset = scope.context.access_for(resource.id)
        judged = [(g, self.grants.matches(g, resource, scope.context, trace))
                  for g in (asset.who(self.access) if asset else [])]
        result = count_principals(judged, self.count_gt)
        if result is True:  # proven by the grants we know, whatever else is unknown
            trace.grants.extend(g for g, matched in judged if matched is True)
            trace.caveats.extend(caveats(asset) if asset else [])
            return True
        if asset is None:
            trace.note(resource.id, "its access was not analyzed")
            return None
        gaps = asset.unknown_about(self.access)
        if gaps:
            for why in gaps:
                trace.note(resource.id, f"access analysis is incomplete: {why}")
            return None
        return result


@dataclass(frozen=True, slots=True)
class Reaches:
    """The assets of ``resource_type`` that this principal resource reaches (``by: self``), or
    that other principals reach through it (``by: others``): the condition is read against each.

    Reach is read from the grants the analyzer listed on each asset. An asset that was not
    analyzed is unknown, and so is a reach not proven when the principal's own data is
    incomplete; an asset whose analysis is incomplete is reported by the rules on the asset
    itself (its access tests are errors), not again on every principal its gaps might name.
    """

    resource_type: str
    access: tuple[str, ...]
    by: str
    grants: GrantFilter
    quantifier: str
    part: Condition

    def evaluate(self, scope: Scope, trace: Trace) -> Truth:
        me = principal_name(scope.resource, scope)
        if me is None:
            trace.note(scope.resource.id, "its name as a principal is not known")
            return None
        results: list[Truth] = []
        for target in scope.context.resources_of(self.resource_type):
            value = self.part.evaluate(Scope(target, scope.context), trace)
            member, grants = self._reached(target, me, scope, trace) if value is not False \
                else (False, [])
            if self.quantifier == "any":
                results.append(all3((member, value)))
                if member and value:
                    trace.related.append(target.id)
                    trace.grants.extend(grants)
            else:
                results.append(any3((not3(member), value)))
        return any3(results) if self.quantifier == "any" else all3(results)

    def _reached(self, target: Resource, me: str, scope: Scope, trace: Trace
                 ) -> tuple[Truth, list[AccessGrant]]:
        asset = scope.context.access_for(target.id)
        if asset is None:
            trace.note(target.id, "its access was not analyzed")
            return None, []
        judged = [(g, self.grants.matches(g, target, scope.context, trace)) for g in asset.grants
                  if g.access in self.access and self._involves(g, me)]
        result = count_principals(judged, 0)
        if result is True:
            trace.caveats.extend(caveats(asset) + asset.all_unknown())
            return True, [g for g, matched in judged if matched is True]
        # an asset whose analysis is incomplete is an error of the rules on that asset, not
        # repeated on every principal its gaps might name; but a gap in this principal's own
        # data (its policies, who may act as it) leaves its reach unknown
        own = scope.resource
        if result is False and own.unknown:
            for attribute in own.unknown:
                trace.note(own.id, scope.context.unknown_reason(own, attribute))
            return None, []
        return result, []

    def _involves(self, grant: AccessGrant, me: str) -> bool:
        if self.by == "self":
            return grant.principal == me
        return grant.principal != me and any(step.principal == me for step in grant.path)


@cache
def _principal_template(resource_type: str) -> Template | None:
    declared = RESOURCE_TYPES[resource_type].principal
    return parse_template(declared) if declared else None


def principal_name(resource: Resource, scope: Scope) -> str | None:
    """How access grants name ``resource`` when it acts (ResourceType.principal)."""
    template = _principal_template(resource.type)
    if template is None:
        return None
    own = Scope(resource, scope.context)
    values = [own.lookup(path).value for text, path in template.parts if path is not None]
    if any(not isinstance(v, str) or not v for v in values):
        return None
    return template.render(lambda path: own.lookup(path).value)


@dataclass(frozen=True, slots=True)
class Related:
    direction: str  # "references" or "referenced_by"
    resource_type: str
    attr: str
    quantifier: str
    part: Condition

    def evaluate(self, scope: Scope, trace: Trace) -> Truth:
        members = (self._referenced(scope, trace) if self.direction == "references"
                   else self._referencing(scope, trace))
        if members is None:
            return None
        results: list[Truth] = []
        for resource, member in members:
            # None stands for a resource that may exist but is not in the inventory
            value = None if resource is None else self.part.evaluate(
                Scope(resource, scope.context), trace)
            if self.quantifier == "any":
                results.append(all3((member, value)))
                if member and value:
                    trace.related.append(resource.id)
            else:  # a resource that may not be related cannot break "all" unless it is
                results.append(any3((not3(member), value)))
        return any3(results) if self.quantifier == "any" else all3(results)

    def _referenced(self, scope: Scope, trace: Trace) -> list[tuple[Resource | None, Truth]] | None:
        found = scope.lookup(self.attr)
        if found.unknown:
            trace.note(scope.resource.id, found.unknown)
            return None
        members: list[tuple[Resource | None, Truth]] = []
        for name in names_in(found.value):
            targets = scope.context.named(self.resource_type, name, scope.resource)
            members.extend((target, True) for target in targets)
            if not targets:
                trace.note(scope.resource.id, f"{self.attr} names {name!r}, which is not a "
                                              f"{self.resource_type} in the inventory")
                members.append((None, None))
        return members

    def _referencing(self, scope: Scope, trace: Trace) -> list[tuple[Resource | None, Truth]]:
        me = scope.resource
        members: list[tuple[Resource | None, Truth]] = []
        for candidate in scope.context.resources_of(self.resource_type):
            found = Scope(candidate, scope.context).lookup(self.attr)
            if found.unknown:
                trace.note(candidate.id, found.unknown)
                members.append((candidate, None))
            elif any(named.id == me.id for name in names_in(found.value)
                     for named in scope.context.named(me.type, name, candidate)):
                members.append((candidate, True))
        gaps = scope.context.listing_gaps(self.resource_type, me.account)
        if gaps:
            trace.unknown.extend(gaps)
            members.append((None, None))
        return members


@dataclass(frozen=True, slots=True)
class PredicateTest:
    name: str
    argument: Any

    def evaluate(self, scope: Scope, trace: Trace) -> Truth:
        return PREDICATES[self.name].evaluate(scope, self.argument, trace)


def as_items(value: Any) -> list[Any]:
    """A list attribute's items; a lone mapping or scalar (``"Statement": {...}``) is one item."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def names_in(value: Any) -> list[str]:
    return [v for v in as_items(value) if isinstance(v, str) and v]


# -- compiling ---------------------------------------------------------------------------------

LEAD_KEYS = ("attr", "each", "access", "references", "referenced_by", "reaches")
COMBINATORS = ("all", "any", "not")


def known_forms() -> list[str]:
    return [*COMBINATORS, *LEAD_KEYS, *sorted(PREDICATES)]


def compile_condition(value: Any, line: int, reader: Reader, resource_type: str) -> Condition:
    """The condition written as ``value`` (at ``line``) for resources of ``resource_type``."""
    if not isinstance(value, LineMap) or not value:
        raise reader.fail(f"a condition must be a non-empty mapping, found {type_name(value)}",
                          line)
    leads = [key for key in value if key in LEAD_KEYS or key in PREDICATES]
    if len(leads) > 1:
        raise reader.fail(f"one condition cannot be both {leads[0]!r} and {leads[1]!r}: "
                          f"combine them with all/any", value.line_of(leads[1]))
    compiler = _Compiler(reader, resource_type)
    if leads:
        return compiler.lead(leads[0], value)
    key = next(iter(value))
    if key not in COMBINATORS:
        raise reader.fail(f"unknown condition {key!r} (known: {', '.join(known_forms())})",
                          value.line_of(key))
    return compiler.combinator(value)


class _Compiler:
    def __init__(self, reader: Reader, resource_type: str):
        self.reader = reader
        self.resource_type = resource_type

    def sub(self, value: Any, line: int, resource_type: str | None = None) -> Condition:
        return compile_condition(value, line, self.reader, resource_type or self.resource_type)

    def lead(self, key: str, value: LineMap) -> Condition:
        if key in PREDICATES:
            return self.predicate(key, value)
        return {"attr": self.attribute, "each": self.each, "access": self.access_test,
                "references": self.related, "referenced_by": self.related,
                "reaches": self.reaches}[key](value)

    def combinator(self, value: LineMap) -> Condition:
        key = next(iter(value))
        self.reader.mapping(value, value.line, f"{key!r} condition", required=(key,))
        if key == "not":
            return Not(self.sub(value["not"], value.line_of("not")))
        return (AllOf if key == "all" else AnyOf)(self.parts(value, key))

    def parts(self, value: LineMap, key: str) -> tuple[Condition, ...]:
        items = self.reader.field(value, key, LineList, f"{key!r}")
        if not items:
            raise self.reader.fail(f"{key!r} needs at least one condition", value.line_of(key))
        return tuple(self.reader.each(self.sub, items))

    def path(self, value: LineMap, key: str) -> str:
        path = self.reader.text(value, key, f"{key!r}")
        if not is_path(path):
            raise self.reader.fail(f"{path!r} is not an attribute path (dotted names such as "
                                   f"encryption.algorithm)", value.line_of(key))
        return path

    def quantifier(self, value: LineMap, what: str) -> str:
        chosen = [q for q in QUANTIFIERS if q in value]
        if len(chosen) != 1:
            raise self.reader.fail(f"{what} needs exactly one of 'any' or 'all'", value.line)
        return chosen[0]

    def attribute(self, value: LineMap) -> Condition:
        operators = [key for key in value if key != "attr"]
        for key in operators:
            if key not in OPERATORS:
                raise self.reader.fail(f"unknown operator {key!r} (known: "
                                       f"{', '.join(OPERATORS)})", value.line_of(key))
        if len(operators) != 1:
            raise self.reader.fail("an attribute test needs exactly one operator besides 'attr'",
                                   value.line)
        operator = operators[0]
        try:
            argument = OPERATORS[operator].prepare(value[operator])
        except ValueError as exc:
            raise self.reader.fail(f"{operator!r} needs {exc}, found "
                                   f"{type_name(value[operator])}",
                                   value.line_of(operator)) from None
        return AttributeTest(self.path(value, "attr"), operator, argument)

    def each(self, value: LineMap) -> Condition:
        quantifier = self.quantifier(value, "'each'")
        self.reader.mapping(value, value.line, "'each' condition", required=("each", quantifier))
        return Each(self.path(value, "each"), quantifier,
                    self.sub(value[quantifier], value.line_of(quantifier)))

    def access_test(self, value: LineMap) -> Condition:
        self.reader.mapping(value, value.line, "access test", required=("access",),
                            optional=ACCESS_TEST_KEYS)
        access = self.choice(value, "access", ACCESS_CLASSES)
        count_gt = self.reader.field(value, "count_gt", int, "count_gt") if "count_gt" in value else 0
        if count_gt < 0:
            raise self.reader.fail("count_gt must be 0 or more", value.line_of("count_gt"))
        return AccessTest(access, count_gt, self.grant_filter(value))

    def grant_filter(self, value: LineMap) -> GrantFilter:
        return GrantFilter(
            who=self.choice(value, "who", tuple(WHO)) if "who" in value else "any",
            decision=self.choice(value, "decision", DECISIONS) if "decision" in value else "any",
            principal=self.pattern(value, "principal") if "principal" in value else None,
            statement=self.pattern(value, "statement") if "statement" in value else None)

    def pattern(self, value: LineMap, key: str) -> re.Pattern[str]:
        try:
            return OPERATORS["matches"].prepare(value[key])
        except ValueError as exc:
            raise self.reader.fail(f"{key!r} needs {exc}", value.line_of(key)) from None

    def reaches(self, value: LineMap) -> Condition:
        quantifier = self.quantifier(value, "'reaches'")
        self.reader.mapping(value, value.line, "'reaches' condition", required=("reaches", quantifier))
        if RESOURCE_TYPES[self.resource_type].principal is None:
            principals = sorted(t for t, d in RESOURCE_TYPES.items() if d.principal)
            raise self.reader.fail(f"'reaches' needs a resource that acts as a principal "
                                   f"({', '.join(principals)}), not {self.resource_type}",
                                   value.line_of("reaches"))
        link = self.reader.mapping(value["reaches"], value.line_of("reaches"), "'reaches'",
                                   required=("type", "access"),
                                   optional=tuple(k for k in REACHES_KEYS if k not in ("type", "access")))
        target_type = self.choice(link, "type", tuple(RESOURCE_TYPES))
        accesses = link["access"] if isinstance(link["access"], LineList) else [link["access"]]
        if not accesses or any(a not in ACCESS_CLASSES for a in accesses):
            raise self.reader.fail(f"'access' must be one of {', '.join(ACCESS_CLASSES)} or a "
                                   f"list of them, found {link['access']!r}", link.line_of("access"))
        return Reaches(target_type, tuple(accesses),
                       self.choice(link, "by", REACHED_BY) if "by" in link else "self",
                       self.grant_filter(link), quantifier,
                       self.sub(value[quantifier], value.line_of(quantifier), target_type))

    def related(self, value: LineMap) -> Condition:
        direction = "references" if "references" in value else "referenced_by"
        quantifier = self.quantifier(value, f"{direction!r}")
        self.reader.mapping(value, value.line, f"{direction!r} condition",
                            required=(direction, quantifier))
        link = self.reader.mapping(value[direction], value.line_of(direction), f"{direction!r}",
                                   required=RELATED_KEYS)
        related_type = self.choice(link, "type", tuple(RESOURCE_TYPES))
        return Related(direction, related_type, self.path(link, "attr"), quantifier,
                       self.sub(value[quantifier], value.line_of(quantifier), related_type))

    def predicate(self, name: str, value: LineMap) -> Condition:
        self.reader.mapping(value, value.line, f"{name!r} test", required=(name,))
        predicate = PREDICATES[name]
        if self.resource_type not in predicate.resource_types:
            raise self.reader.fail(f"{name!r} applies to {', '.join(predicate.resource_types)}, "
                                   f"not {self.resource_type}", value.line_of(name))
        return PredicateTest(name, self.choice(value, name, predicate.arguments))

    def choice(self, value: LineMap, key: str, allowed: tuple[str, ...]) -> str:
        chosen = value[key]
        if chosen not in allowed:
            raise self.reader.fail(f"{key!r} must be one of {', '.join(allowed)}, found "
                                   f"{chosen!r}", value.line_of(key))
        return str(chosen)
