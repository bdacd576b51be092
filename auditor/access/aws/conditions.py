"""Condition operators ('IAM JSON policy elements: Condition operators').

A ``Condition`` block is parsed once into ``ConditionClause`` objects (one per operator and
key). Evaluation is three-valued: ``True``, ``False`` or ``None`` (undecided: the request
context does not say, in the open world of a real account).

Rules implemented, as 'Creating a condition with multiple keys or values' states them:
several values for one key are ORed, but a negated operator must match none of them; keys
and operators are ANDed; an absent key makes an operator false, except negated operators,
``...IfExists`` and ``ForAllValues`` (true) and ``Null``; ``ForAnyValue`` is false for an
absent key or empty set; key names are case-insensitive.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from auditor.access.aws.variables import (
    MISSING,
    NO_VALUE,
    UNKNOWN,
    Chunk,
    Glob,
    RequestValues,
    Template,
    chunks_text,
    glob_from_chunks,
    parse_template,
    substitute,
)
from auditor.errors import InputError

Tri = bool | None  # three-valued truth: None is "undecided"


def tri_not(value: Tri) -> Tri:
    return None if value is None else not value


def tri_any(values: Iterable[Tri]) -> Tri:
    undecided = False
    for value in values:
        if value:
            return True
        if value is None:
            undecided = True
    return None if undecided else False


def tri_all(values: Iterable[Tri]) -> Tri:
    undecided = False
    for value in values:
        if value is False:
            return False
        if value is None:
            undecided = True
    return None if undecided else True


# --- operator families: how one policy value is prepared and compared with one context value ---

def _number(text: str) -> float:
    value = float(text.strip())
    if math.isnan(value):
        raise ValueError("not a number")
    return value


def _date(text: str) -> float:
    text = text.strip()
    try:
        return float(text)  # epoch seconds are accepted as well as ISO 8601
    except ValueError:
        pass
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text.strip(), strict=False)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_interface(text.strip()).ip


def _binary(text: str) -> bytes:
    return base64.b64decode(text.strip(), validate=True)


@dataclass(frozen=True, slots=True)
class ArnPattern:
    """ArnEquals/ArnLike: each of the six colon-separated components is matched on its own.

    A bare ``*`` matches any value; a pattern of fewer than six components is not an ARN and
    matches nothing.
    """

    any_value: bool
    components: tuple[Glob, ...]  # six, or none for a pattern that is not an ARN

    def matches(self, value: str) -> bool:
        if self.any_value:
            return True
        parts = value.split(":", 5)
        return (len(parts) == len(self.components) == 6
                and all(glob.matches(part) for glob, part in zip(self.components, parts,
                                                                 strict=True)))


def _arn_pattern(chunks: tuple[Chunk, ...]) -> ArnPattern:
    if all(not literal and set(text) <= {"*"} for text, literal in chunks):
        return ArnPattern(True, ())
    components: list[list[Chunk]] = [[]]
    for text, literal in chunks:
        for index, piece in enumerate(text.split(":")):
            if index and len(components) < 6:
                components.append([])
            elif index:
                components[-1].append((":", True))
            components[-1].append((piece, literal))
    if len(components) < 6:
        return ArnPattern(False, ())
    return ArnPattern(False, tuple(glob_from_chunks(tuple(c)) for c in components))


@dataclass(frozen=True, slots=True)
class Family:
    """How a family of operators reads policy values and compares a context value with one."""

    name: str
    prepare: Callable[[tuple[Chunk, ...]], Any]  # raises ValueError for a malformed value
    compare: Callable[[str, Any], bool]  # raises ValueError for an unreadable context value


def _ordered(parse: Callable[[str], Any],
             test: Callable[[Any, Any], bool]) -> Callable[[str, Any], bool]:
    return lambda context, policy: test(parse(context), policy)


def _text(chunks: tuple[Chunk, ...]) -> str:
    return chunks_text(chunks)


_STRING = Family("string", _text, operator.eq)
_STRING_CI = Family("string-ignore-case", lambda c: _text(c).casefold(),
                    lambda context, policy: context.casefold() == policy)
_LIKE = Family("string-like", glob_from_chunks, lambda context, glob: glob.matches(context))
_BOOL = Family("bool", lambda c: _text(c).lower(), lambda context, policy: context.lower() == policy)
_BINARY = Family("binary", lambda c: _binary(_text(c)),
                 lambda context, policy: _binary(context) == policy)
_IP = Family("ip", lambda c: _network(_text(c)), lambda context, net: _address(context) in net)
_ARN = Family("arn", _arn_pattern, lambda context, pattern: pattern.matches(context))


def _numeric(test: Callable[[Any, Any], bool]) -> Family:
    return Family("numeric", lambda c: _number(_text(c)), _ordered(_number, test))


def _dated(test: Callable[[Any, Any], bool]) -> Family:
    return Family("date", lambda c: _date(_text(c)), _ordered(_date, test))


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    family: Family | None  # None for Null
    negated: bool  # a negated operator is true when the positive comparison matches no value


_OPERATORS: dict[str, OperatorSpec] = {
    "stringequals": OperatorSpec(_STRING, False),
    "stringnotequals": OperatorSpec(_STRING, True),
    "stringequalsignorecase": OperatorSpec(_STRING_CI, False),
    "stringnotequalsignorecase": OperatorSpec(_STRING_CI, True),
    "stringlike": OperatorSpec(_LIKE, False),
    "stringnotlike": OperatorSpec(_LIKE, True),
    "numericequals": OperatorSpec(_numeric(operator.eq), False),
    "numericnotequals": OperatorSpec(_numeric(operator.eq), True),
    "numericlessthan": OperatorSpec(_numeric(operator.lt), False),
    "numericlessthanequals": OperatorSpec(_numeric(operator.le), False),
    "numericgreaterthan": OperatorSpec(_numeric(operator.gt), False),
    "numericgreaterthanequals": OperatorSpec(_numeric(operator.ge), False),
    "dateequals": OperatorSpec(_dated(operator.eq), False),
    "datenotequals": OperatorSpec(_dated(operator.eq), True),
    "datelessthan": OperatorSpec(_dated(operator.lt), False),
    "datelessthanequals": OperatorSpec(_dated(operator.le), False),
    "dategreaterthan": OperatorSpec(_dated(operator.gt), False),
    "dategreaterthanequals": OperatorSpec(_dated(operator.ge), False),
    "bool": OperatorSpec(_BOOL, False),
    "binaryequals": OperatorSpec(_BINARY, False),
    "ipaddress": OperatorSpec(_IP, False),
    "notipaddress": OperatorSpec(_IP, True),
    "arnequals": OperatorSpec(_ARN, False),
    "arnlike": OperatorSpec(_ARN, False),
    "arnnotequals": OperatorSpec(_ARN, True),
    "arnnotlike": OperatorSpec(_ARN, True),
    "null": OperatorSpec(None, False),
}

SetQualifier = Literal["", "any", "all"]
_QUALIFIERS: dict[str, SetQualifier] = {"foranyvalue": "any", "forallvalues": "all"}
_IF_EXISTS = "ifexists"


@dataclass(frozen=True, slots=True)
class ConditionClause:
    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str  # as written
    key_lower: str
    spec: OperatorSpec
    qualifier: SetQualifier
    if_exists: bool
    values: tuple[Template, ...]
    # policy values prepared at parse time; None where a policy variable defers it to evaluation
    prepared: tuple[Any, ...]

    def evaluate(self, request: RequestValues) -> Tri:
        present = request.lookup(self.key_lower)
        family = self.spec.family
        if present is MISSING:
            return None if request.open_world else self._absent()
        if family is None:
            # Null: "true" asks for the key to be absent; the key is present here
            return any(value.raw.strip().lower() == "false" for value in self.values)
        contexts = (present,) if isinstance(present, str) else tuple(present)  # type: ignore[arg-type]
        if not contexts and not self.qualifier:
            # an empty set under a single-valued operator: nothing to compare, as if absent
            return self._absent()
        policy_values = self._policy_values(request)

        def matches(context: str) -> Tri:
            return tri_any(_compare(family, context, value) for value in policy_values)

        if self.spec.negated:
            per_value = [tri_not(matches(context)) for context in contexts]
            return tri_any(per_value) if self.qualifier == "any" else tri_all(per_value)
        per_value = [matches(context) for context in contexts]
        return tri_all(per_value) if self.qualifier == "all" else tri_any(per_value)

    def compares_value(self, request: RequestValues) -> bool:
        """Whether the answer, for a single value of the key, depends on that value: not for
        ``Null``, nor when every policy value is unknown or has no value in ``request``."""
        if self.spec.family is None:
            return False
        return any(v is not UNKNOWN and v is not NO_VALUE for v in self._policy_values(request))

    def _absent(self) -> bool:
        if self.spec.family is None:
            return any(value.raw.strip().lower() == "true" for value in self.values)
        if self.if_exists or self.qualifier == "all":
            return True
        if self.qualifier == "any":
            return False
        return self.spec.negated

    def _policy_values(self, request: RequestValues) -> list[Any]:
        family = self.spec.family
        assert family is not None
        values: list[Any] = []
        for template, prepared in zip(self.values, self.prepared, strict=True):
            if prepared is not None:
                values.append(prepared)
                continue
            chunks = substitute(template, request)
            if chunks is UNKNOWN or chunks is NO_VALUE:
                values.append(chunks)
                continue
            assert isinstance(chunks, tuple)
            try:
                values.append(family.prepare(chunks))
            except (ValueError, OverflowError):
                values.append(NO_VALUE)  # a substituted value of the wrong type matches nothing
        return values


def _compare(family: Family, context: str, policy_value: Any) -> Tri:
    if policy_value is UNKNOWN:
        return None
    if policy_value is NO_VALUE:
        return False
    try:
        return family.compare(context, policy_value)
    except (ValueError, OverflowError, TypeError):
        return False  # a context value of the wrong type never matches


def parse_operator(name: str) -> tuple[SetQualifier, OperatorSpec, bool]:
    """Split ``ForAnyValue:StringLikeIfExists`` into (qualifier, operator, if_exists)."""
    rest = name.strip().lower()
    qualifier: SetQualifier = ""
    if ":" in rest:
        prefix, rest = rest.split(":", 1)
        if prefix not in _QUALIFIERS:
            raise ValueError(f"unknown set operator {prefix!r}")
        qualifier = _QUALIFIERS[prefix]
    if_exists = rest.endswith(_IF_EXISTS) and rest != _IF_EXISTS
    if if_exists:
        rest = rest[: -len(_IF_EXISTS)]
    spec = _OPERATORS.get(rest)
    if spec is None:
        raise ValueError(f"unknown condition operator {name!r}")
    if spec.family is None and if_exists:
        raise ValueError("Null cannot take the IfExists suffix")
    return qualifier, spec, if_exists


def _value_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return None


def parse_condition_block(block: Any, path: str, *, variables_enabled: bool
                          ) -> tuple[ConditionClause, ...]:
    """Parse a statement's ``Condition`` element; errors name the JSON path."""
    if not isinstance(block, Mapping):
        raise InputError("Condition must be an object", location=path)
    clauses: list[ConditionClause] = []
    for operator_name, keys in block.items():
        where = f"{path}.{operator_name}"
        if not isinstance(operator_name, str):
            raise InputError("condition operator must be a string", location=where)
        try:
            qualifier, spec, if_exists = parse_operator(operator_name)
        except ValueError as error:
            raise InputError(str(error), location=where) from None
        if not isinstance(keys, Mapping):
            raise InputError("condition operator must map keys to values", location=where)
        for key, raw_values in keys.items():
            clauses.append(_parse_clause(operator_name, key, raw_values, f"{where}.{key}",
                                         qualifier, spec, if_exists, variables_enabled))
    return tuple(clauses)


def _parse_clause(operator_name: str, key: Any, raw_values: Any, where: str,
                  qualifier: SetQualifier, spec: OperatorSpec, if_exists: bool,
                  variables_enabled: bool) -> ConditionClause:
    if not isinstance(key, str) or not key:
        raise InputError("condition key must be a non-empty string", location=where)
    items = raw_values if isinstance(raw_values, list) else [raw_values]
    texts: list[str] = []
    for index, item in enumerate(items):
        text = _value_text(item)
        if text is None:
            place = f"{where}[{index}]" if isinstance(raw_values, list) else where
            raise InputError("condition value must be a string, number or boolean",
                             location=place)
        texts.append(text)
    if spec.family is None:
        bad = [t for t in texts if t.strip().lower() not in ("true", "false")]
        if bad:
            raise InputError(f"Null takes true or false, not {bad[0]!r}", location=where)
        templates = tuple(parse_template(t, False) for t in texts)
        return ConditionClause(operator_name, key, key.lower(), spec, qualifier, if_exists,
                               templates, tuple(None for _ in templates))
    templates = tuple(parse_template(t, variables_enabled) for t in texts)
    prepared: list[Any] = []
    for template in templates:
        if not template.is_plain:
            prepared.append(None)
            continue
        try:
            prepared.append(spec.family.prepare(((template.raw, False),)))
        except (ValueError, OverflowError) as error:
            raise InputError(f"{template.raw!r} is not a valid {spec.family.name} value "
                             f"({error})", location=where) from None
    return ConditionClause(operator_name, key, key.lower(), spec, qualifier, if_exists,
                           templates, tuple(prepared))


def evaluate_conditions(clauses: tuple[ConditionClause, ...], request: RequestValues
                        ) -> tuple[Tri, tuple[ConditionClause, ...]]:
    """All clauses ANDed; returns the truth and the clauses left undecided."""
    undecided: list[ConditionClause] = []
    for clause in clauses:
        outcome = clause.evaluate(request)
        if outcome is False:
            return False, ()
        if outcome is None:
            undecided.append(clause)
    return (None, tuple(undecided)) if undecided else (True, ())
