"""The one table of attribute operators: ``{attr: <path>, <operator>: <argument>}``.

Each operator checks its argument when the rule is loaded (so a bad regex or a string where
a number belongs is a RuleError at a line) and then tests values. A value that is absent
(``null``, or a path that leads nowhere) simply fails most tests; only ``exists``, ``empty``,
``equals: null``, ``not_equals`` and ``not_in`` can be true of it. A test returns ``None``
(unknown) only when the value is there but cannot be read, e.g. a malformed timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from auditor import clock
from auditor.rules.logic import Truth


@dataclass(frozen=True, slots=True)
class Operator:
    # what the argument must be, as said in errors and docs/rules.md
    argument: str
    # validates the argument from the rule file and returns what ``test`` receives;
    # raises ValueError when the argument is unusable
    prepare: Callable[[Any], Any]
    test: Callable[[Any, Any, datetime], Truth]
    # the same constraint as ``prepare``, for the rule-file JSON Schema (schema.py)
    schema: dict[str, Any]


def same(a: Any, b: Any) -> bool:
    """Equality as a rule author means it: ``true`` is not ``1``; lists and maps compare deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        return False
    return bool(a == b)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and len(value) == 0)


def _contains(value: Any, wanted: Any) -> bool:
    if isinstance(value, list):
        return any(same(item, wanted) for item in value)
    if isinstance(value, str):
        return isinstance(wanted, str) and wanted in value
    if isinstance(value, dict):
        return isinstance(wanted, str) and wanted in value
    return False


def _age_days(value: Any, now: datetime) -> float | None:
    """Days from the timestamp ``value`` to ``now``; None when it is not an ISO timestamp."""
    if not isinstance(value, str):
        return None
    try:
        return (now - clock.parse(value)) / timedelta(days=1)
    except ValueError:
        return None


def _timestamp_test(older: bool) -> Callable[[Any, Any, datetime], Truth]:
    def test(value: Any, days: float, now: datetime) -> Truth:
        if value is None:
            return False
        age = _age_days(value, now)
        if age is None:
            return None
        return age > days if older else age < days
    return test


def _compare(check: Callable[[Any, Any], bool]) -> Callable[[Any, Any, datetime], Truth]:
    return lambda value, limit, _now: _is_number(value) and check(value, limit)


# -- argument checks ---------------------------------------------------------------------------

def _anything(argument: Any) -> Any:
    return argument


def _scalar(argument: Any) -> Any:
    if isinstance(argument, list | dict):
        raise ValueError("a single value (string, number, boolean or null)")
    return argument


def _list(argument: Any) -> list[Any]:
    if not isinstance(argument, list):
        raise ValueError("a list of values")
    return list(argument)


def _boolean(argument: Any) -> bool:
    if not isinstance(argument, bool):
        raise ValueError("true or false")
    return argument


def _number(argument: Any) -> float:
    if not _is_number(argument):
        raise ValueError("a number")
    return argument


def _days(argument: Any) -> float:
    if not _is_number(argument) or argument < 0:
        raise ValueError("a number of days (0 or more)")
    return argument


def _regex(argument: Any) -> re.Pattern[str]:
    if not isinstance(argument, str):
        raise ValueError("a regular expression (a string)")
    try:
        return re.compile(argument)
    except re.error as exc:
        raise ValueError(f"a valid regular expression ({exc})") from None


_ANY: dict[str, Any] = {}
_SCALAR = {"type": ["string", "number", "boolean", "null"]}
_LIST = {"type": "array"}
_BOOLEAN = {"type": "boolean"}
_NUMBER = {"type": "number"}
_DAYS = {"type": "number", "minimum": 0}
_REGEX = {"type": "string", "format": "regex"}

OPERATORS: dict[str, Operator] = {
    "equals": Operator("any value", _anything, lambda v, a, _: same(v, a), _ANY),
    "not_equals": Operator("any value", _anything, lambda v, a, _: not same(v, a), _ANY),
    "in": Operator("a list of values", _list, lambda v, a, _: any(same(v, x) for x in a), _LIST),
    "not_in": Operator("a list of values", _list, lambda v, a, _: not any(same(v, x) for x in a),
                       _LIST),
    "exists": Operator("true or false", _boolean, lambda v, a, _: (v is not None) == a, _BOOLEAN),
    "empty": Operator("true or false", _boolean, lambda v, a, _: _is_empty(v) == a, _BOOLEAN),
    "contains": Operator("a single value", _scalar, lambda v, a, _: _contains(v, a), _SCALAR),
    "matches": Operator("a regular expression", _regex,
                        lambda v, a, _: isinstance(v, str) and a.search(v) is not None, _REGEX),
    "gt": Operator("a number", _number, _compare(lambda v, a: v > a), _NUMBER),
    "gte": Operator("a number", _number, _compare(lambda v, a: v >= a), _NUMBER),
    "lt": Operator("a number", _number, _compare(lambda v, a: v < a), _NUMBER),
    "lte": Operator("a number", _number, _compare(lambda v, a: v <= a), _NUMBER),
    "older_than_days": Operator("a number of days", _days, _timestamp_test(older=True), _DAYS),
    "newer_than_days": Operator("a number of days", _days, _timestamp_test(older=False), _DAYS),
}
