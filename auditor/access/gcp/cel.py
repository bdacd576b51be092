"""A three-valued evaluator for the CEL that IAM Conditions use.

An audit must answer for every request at once, not for one request, so values may be
unknown: ``UNKNOWN`` (the requester's IP, a tag, the hour of a future request) or a
``NamePrefix`` (the name of *any* object in a bucket: a known prefix followed by an unknown
rest). Logic is Kleene's: ``false && x`` is false and ``true || x`` is true whatever ``x`` is,
which is also how CEL treats errors, so anything this evaluator cannot decide (including
syntax it does not know) becomes ``UNKNOWN`` and the binding is reported as conditional.

The subset is CEL's expression grammar (literals, lists, maps, member access, calls, ``!``,
``-``, ``&&``, ``||``, comparisons, ``in``, arithmetic, ``?:``) with the functions IAM
documents: ``timestamp``, ``duration``, ``startsWith``, ``endsWith``, ``contains``,
``matches``, ``size``, ``int``, ``string`` and the timestamp getters. ``getFullYear`` is decided
at the audit time (it only grows); the others (hour, day of week...) recur, so they are unknown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from auditor import clock


class _Unknown:
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True, slots=True)
class NamePrefix:
    """A string known only by its start: every object name of a bucket (``.../objects/`` + any
    non-empty rest)."""

    prefix: str


class CelSyntaxError(ValueError):
    pass


# -- tokens ---------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>[rRbB]{0,2}(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''
                          |"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[uU]?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])
""", re.VERBOSE | re.DOTALL)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
            "\\": "\\", "'": "'", '"': '"', "`": "`", "?": "?"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise CelSyntaxError(f"unexpected {text[position]!r} at {position}")
        position = match.end()
        if match.lastgroup != "space":
            out.append((match.lastgroup or "", match.group()))
    out.append(("end", ""))
    return out


def _string_literal(token: str) -> str:
    prefix = ""
    while token[0] in "rRbB":
        prefix, token = prefix + token[0].lower(), token[1:]
    quote = token[:3] if token[:3] in ('"""', "'''") else token[0]
    body = token[len(quote):-len(quote)]
    if "r" in prefix:
        return body
    out, i = [], 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        code = body[i + 1]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
        elif code in "xX":
            out.append(chr(int(body[i + 2:i + 4], 16)))
            i += 4
        elif code == "u":
            out.append(chr(int(body[i + 2:i + 6], 16)))
            i += 6
        elif code == "U":
            out.append(chr(int(body[i + 2:i + 10], 16)))
            i += 10
        elif code in "01234567":
            out.append(chr(int(body[i + 1:i + 4], 8)))
            i += 4
        else:
            raise CelSyntaxError(f"unknown escape \\{code}")
    return "".join(out)


# -- parser: expressions become nested tuples ----------------------------------------------------------
_RELATIONS = ("==", "!=", "<", "<=", ">", ">=", "in")


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i]

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.tokens[self.i]
        if value is not None and token[1] != value:
            raise CelSyntaxError(f"expected {value!r}, found {token[1]!r}")
        self.i += 1
        return token

    def at(self, *values: str) -> bool:
        kind, text = self.peek()
        return kind in ("op", "name") and text in values

    def parse(self) -> tuple:
        tree = self.conditional()
        if self.peek()[0] != "end":
            raise CelSyntaxError(f"unexpected {self.peek()[1]!r}")
        return tree

    def conditional(self) -> tuple:
        test = self.binary(0)
        if self.at("?"):
            self.take()
            then = self.conditional()
            self.take(":")
            return ("cond", test, then, self.conditional())
        return test

    _LEVELS: tuple[tuple[str, ...], ...] = (("||",), ("&&",), _RELATIONS, ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> tuple:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.at(*self._LEVELS[level]):
            op = self.take()[1]
            left = ("binary", op, left, self.binary(level + 1))
        return left

    def unary(self) -> tuple:
        if self.at("!", "-"):
            op = self.take()[1]
            return ("unary", op, self.unary())
        return self.member()

    def member(self) -> tuple:
        node = self.primary()
        while self.at(".", "["):
            if self.take()[1] == ".":
                kind, field = self.take()
                if kind != "name":
                    raise CelSyntaxError(f"expected a field name, found {field!r}")
                node = (("call", node, field, self.arguments(")")) if self.at("(")
                        else ("select", node, field))
            else:
                index = self.conditional()
                self.take("]")
                node = ("index", node, index)
        return node

    def arguments(self, closing: str) -> tuple:
        self.take()
        items = []
        while not self.at(closing):
            items.append(self.conditional())
            if not self.at(closing):
                self.take(",")
        self.take(closing)
        return tuple(items)

    def primary(self) -> tuple:
        kind, text = self.peek()
        if kind == "string":
            self.take()
            return ("lit", _string_literal(text))
        if kind == "number":
            self.take()
            return ("lit", _number(text))
        if kind == "name":
            self.take()
            if text in ("true", "false"):
                return ("lit", text == "true")
            if text == "null":
                return ("lit", None)
            if self.at("("):
                return ("call", None, text, self.arguments(")"))
            return ("ident", text)
        if self.at("("):
            self.take()
            inner = self.conditional()
            self.take(")")
            return inner
        if self.at("["):
            return ("list", self.arguments("]"))
        if self.at("{"):
            self.take()
            pairs = []
            while not self.at("}"):
                key = self.conditional()
                self.take(":")
                pairs.append((key, self.conditional()))
                if not self.at("}"):
                    self.take(",")
            self.take("}")
            return ("map", tuple(pairs))
        raise CelSyntaxError(f"unexpected {text!r}" if text else "unexpected end of expression")


def _number(text: str) -> int | float:
    text = text.rstrip("uU")
    if text.lower().startswith("0x"):
        return int(text, 16)
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


def parse(expression: str) -> tuple:
    return _Parser(expression).parse()


# -- evaluation ---------------------------------------------------------------------------------------------
def evaluate(expression: str, variables: Mapping[str, Any]) -> bool | None:
    """True or False when the expression decides, None when it depends on what is unknown."""
    try:
        value = _Evaluator(variables).eval(parse(expression))
    except (CelSyntaxError, IndexError, ValueError, RecursionError):
        return None
    return value if isinstance(value, bool) else None


class _Evaluator:
    def __init__(self, variables: Mapping[str, Any]):
        self.variables = variables

    def eval(self, node: tuple) -> Any:
        return getattr(self, f"_{node[0]}")(*node[1:])

    def _lit(self, value: Any) -> Any:
        return value

    def _ident(self, name: str) -> Any:
        return self.variables.get(name, UNKNOWN)

    def _select(self, operand: tuple, field: str) -> Any:
        value = self.eval(operand)
        if isinstance(value, Mapping):
            return value.get(field, UNKNOWN)
        return UNKNOWN

    def _index(self, operand: tuple, index: tuple) -> Any:
        value, key = self.eval(operand), self.eval(index)
        if value is UNKNOWN or key is UNKNOWN:
            return UNKNOWN
        try:
            return value[key]
        except (KeyError, IndexError, TypeError):
            return UNKNOWN

    def _list(self, items: tuple) -> Any:
        return [self.eval(item) for item in items]

    def _map(self, pairs: tuple) -> Any:
        out = {}
        for key, value in pairs:
            k = self.eval(key)
            if k is UNKNOWN or isinstance(k, NamePrefix):
                return UNKNOWN
            out[k] = self.eval(value)
        return out

    def _cond(self, test: tuple, then: tuple, otherwise: tuple) -> Any:
        decided = self.eval(test)
        if decided is True:
            return self.eval(then)
        if decided is False:
            return self.eval(otherwise)
        a, b = self.eval(then), self.eval(otherwise)
        return a if a == b and a is not UNKNOWN and not isinstance(a, NamePrefix) else UNKNOWN

    def _unary(self, op: str, operand: tuple) -> Any:
        value = self.eval(operand)
        if op == "!":
            return (not value) if isinstance(value, bool) else UNKNOWN
        if isinstance(value, (int, float, timedelta)) and not isinstance(value, bool):
            return -value
        return UNKNOWN

    def _binary(self, op: str, left: tuple, right: tuple) -> Any:
        if op in ("&&", "||"):
            return self._logic(op, self.eval(left), self.eval(right))
        a, b = self.eval(left), self.eval(right)
        if op in ("==", "!="):
            equal = _equals(a, b)
            return equal if op == "==" or equal is UNKNOWN else not equal
        if a is UNKNOWN or b is UNKNOWN or isinstance(a, NamePrefix) or isinstance(b, NamePrefix):
            return UNKNOWN
        if op == "in":
            return _contains(b, a)
        try:
            return _ARITHMETIC[op](a, b)
        except (TypeError, ZeroDivisionError, OverflowError):
            return UNKNOWN

    @staticmethod
    def _logic(op: str, a: Any, b: Any) -> Any:
        absorbing = op == "||"  # true absorbs ||, false absorbs &&
        if a is absorbing or b is absorbing:
            return absorbing
        if a is (not absorbing) and b is (not absorbing):
            return not absorbing
        return UNKNOWN

    def _call(self, target: tuple | None, name: str, args: tuple) -> Any:
        values = [self.eval(a) for a in args]
        if target is None:
            function = _FUNCTIONS.get(name)
            if function is None or any(v is UNKNOWN for v in values):
                return UNKNOWN
            return _guarded(function, *values)
        receiver = self.eval(target)
        if receiver is UNKNOWN or any(v is UNKNOWN for v in values):
            return UNKNOWN
        if isinstance(receiver, NamePrefix):
            return _prefix_method(receiver, name, values)
        method = _METHODS.get(name)
        return UNKNOWN if method is None else _guarded(method, receiver, *values)


def _guarded(function: Callable[..., Any], *values: Any) -> Any:
    try:
        return function(*values)
    except (TypeError, ValueError, AttributeError, re.error, OverflowError, ZeroDivisionError):
        return UNKNOWN


def _equals(a: Any, b: Any) -> Any:
    if a is UNKNOWN or b is UNKNOWN:
        return UNKNOWN
    if isinstance(b, NamePrefix):
        a, b = b, a
    if isinstance(a, NamePrefix):
        if isinstance(b, NamePrefix):
            return UNKNOWN
        # one object may have exactly that name; no object of this bucket has any other
        return UNKNOWN if isinstance(b, str) and b.startswith(a.prefix) and len(b) > len(a.prefix) else False
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return a == b


def _contains(container: Any, item: Any) -> Any:
    if isinstance(container, (list, Mapping)):
        if any(v is UNKNOWN or isinstance(v, NamePrefix) for v in container):
            return True if item in [v for v in container if v is not UNKNOWN] else UNKNOWN
        return item in container
    return UNKNOWN


def _prefix_method(name: NamePrefix, method: str, values: list[Any]) -> Any:
    argument = values[0] if values else None
    if not isinstance(argument, str):
        return UNKNOWN
    if method == "startsWith":
        if name.prefix.startswith(argument):
            return True
        # a longer prefix matches some object names of the bucket, not all
        return UNKNOWN if argument.startswith(name.prefix) else False
    if method == "contains" and argument in name.prefix:
        return True
    return UNKNOWN  # endsWith, matches, extract, ...: depends on the object


def _timestamp(text: str) -> datetime:
    if not isinstance(text, str):
        raise TypeError("timestamp() takes a string")
    return clock.parse(text)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|ns|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def _duration(text: str) -> timedelta:
    if not isinstance(text, str):
        raise TypeError("duration() takes a string")
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text)
    parts = _DURATION_PART.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise ValueError(f"not a duration: {text!r}")
    return timedelta(seconds=sign * sum(float(n) * _DURATION_UNITS[u] for n, u in parts))


def _size(value: Any) -> int:
    if isinstance(value, (str, list, Mapping, bytes)):
        return len(value)
    raise TypeError("size() of a non-container")


def _to_int(value: Any) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, (str, float, int)) and not isinstance(value, bool):
        return int(value)
    raise TypeError("int() of an unsupported value")


def _to_string(value: Any) -> str:
    if isinstance(value, datetime):
        return clock.isoformat(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TypeError("string() of an unsupported value")


def _full_year(moment: datetime, zone: str | None = None) -> int:
    if not isinstance(moment, datetime):
        raise TypeError("getFullYear() of a non-timestamp")
    if zone is not None:
        try:
            moment = moment.astimezone(ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r}") from None
    return moment.year


def _recurring(*_: Any) -> Any:
    return UNKNOWN


def _string_method(test: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def method(receiver: Any, argument: Any) -> bool:
        if not isinstance(receiver, str) or not isinstance(argument, str):
            raise TypeError("string method on a non-string")
        return test(receiver, argument)
    return method


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, bool) or isinstance(b, bool):
        raise TypeError("arithmetic on booleans")
    return a + b


def _compare(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if isinstance(a, bool) != isinstance(b, bool):
            raise TypeError("comparison between a boolean and another type")
        if isinstance(a, datetime) != isinstance(b, datetime):
            raise TypeError("comparison between a timestamp and another type")
        return test(a, b)
    return compare


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "<": _compare(lambda a, b: a < b), "<=": _compare(lambda a, b: a <= b),
    ">": _compare(lambda a, b: a > b), ">=": _compare(lambda a, b: a >= b),
    "+": _add, "-": lambda a, b: _add(a, -b) if not isinstance(b, datetime) else a - b,
    "*": lambda a, b: a * b, "/": lambda a, b: a // b if isinstance(a, int) and isinstance(b, int) else a / b,
    "%": lambda a, b: a % b,
}

_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "timestamp": _timestamp, "duration": _duration, "size": _size, "int": _to_int,
    "string": _to_string,
}

_METHODS: dict[str, Callable[..., Any]] = {
    "startsWith": _string_method(str.startswith),
    "endsWith": _string_method(str.endswith),
    "contains": _string_method(lambda s, sub: sub in s),
    # CEL matches is an unanchored RE2 search
    "matches": _string_method(lambda s, pattern: re.search(pattern, s) is not None),
    "size": _size,
    "getFullYear": _full_year,
    **{getter: _recurring for getter in ("getMonth", "getDate", "getDayOfMonth", "getDayOfWeek",
                                          "getDayOfYear", "getHours", "getMinutes", "getSeconds",
                                          "getMilliseconds")},
}


def request_variables(now: datetime | None = None) -> dict[str, Any]:
    """The ``request`` an audit knows: only its time (the audit time)."""
    moment = now or clock.now()
    return {"time": moment.astimezone(UTC)}
