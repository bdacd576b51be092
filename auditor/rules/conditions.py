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
* named predicates for what needs code (predicates.py), e.g. ``{s3_data_events_logged: read}``.

Every form evaluates to true, false or unknown (logic.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from auditor.access.model import ACCESS_CLASSES, AccessGrant
from auditor.inventory import Resource
from auditor.rules.logic import Trace, Truth, all3, any3, not3
from auditor.rules.operators import OPERATORS
from auditor.rules.predicates import PREDICATES
from auditor.rules.resource_types import RESOURCE_TYPES
from auditor.rules.scope import Scope, is_path
from auditor.rules.yamlfile import LineList, LineMap, Reader, type_name


class Condition(Protocol):
    def evaluate(self, scope: Scope, trace: Trace) -> Truth: ...


QUANTIFIERS = ("any", "all")
WHO = {
    "any": lambda g: True,
    "public": lambda g: g.public,
    "external": lambda g: g.external,
    "cross-account": lambda g: g.external and not g.public,
    "human": lambda g: g.human is True,
    "non-human": lambda g: g.human is False,
}
DECISIONS = ("any", "allow", "conditional")


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
class AccessTest:
    access: str
    who: str
    count_gt: int
    decision: str

    def matches(self, grant: AccessGrant) -> bool:
        return WHO[self.who](grant) and self.decision in ("any", grant.decision)

    def evaluate(self, scope: Scope, trace: Trace) -> Truth:
        resource_id = scope.resource.id
        asset = scope.context.access_for(resource_id)
        grants = [g for g in asset.who(self.access) if self.matches(g)] if asset else []
        if len({g.principal for g in grants}) > self.count_gt:
            trace.grants.extend(grants)
            return True  # proven by the grants we know, whatever else is unknown
        if asset is None:
            trace.note(resource_id, "its access was not analyzed")
            return None
        if asset.unknown:
            for why in asset.unknown:
                trace.note(resource_id, f"access analysis is incomplete: {why}")
            return None
        return False


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

LEAD_KEYS = ("attr", "each", "access", "references", "referenced_by")
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
                "references": self.related, "referenced_by": self.related}[key](value)

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
        return tuple(self.sub(item, line)
                     for item, line in zip(items, items.item_lines, strict=True))

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
                            optional=("who", "count_gt", "decision"))
        access = self.choice(value, "access", ACCESS_CLASSES)
        who = self.choice(value, "who", tuple(WHO)) if "who" in value else "any"
        decision = self.choice(value, "decision", DECISIONS) if "decision" in value else "any"
        count_gt = self.reader.field(value, "count_gt", int, "count_gt") if "count_gt" in value else 0
        if count_gt < 0:
            raise self.reader.fail("count_gt must be 0 or more", value.line_of("count_gt"))
        return AccessTest(access, who, count_gt, decision)

    def related(self, value: LineMap) -> Condition:
        direction = "references" if "references" in value else "referenced_by"
        quantifier = self.quantifier(value, f"{direction!r}")
        self.reader.mapping(value, value.line, f"{direction!r} condition",
                            required=(direction, quantifier))
        link = self.reader.mapping(value[direction], value.line_of(direction), f"{direction!r}",
                                   required=("type", "attr"))
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
