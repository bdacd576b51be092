"""Request-context values and policy variables ('IAM policy elements: Variables and tags').

A policy value such as ``arn:aws:s3:::home/${aws:username}/*`` is parsed once into a
``Template``; at evaluation it is substituted against the request's ``RequestValues``.
Wildcards typed in the policy keep their meaning, while substituted values and the escapes
``${*}`` ``${?}`` ``${$}`` are literal text: a user named ``*`` must not widen a grant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

# Language versions: only 2012-10-17 knows policy variables; older documents keep ${...} literal.
VARIABLES_VERSION: Final = "2012-10-17"

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_KEY_WITH_DEFAULT = re.compile(r"^\s*([^,'\s]+)\s*(?:,\s*'([^']*)'\s*)?$")
_ESCAPES = frozenset({"*", "?", "$"})


class _Marker:
    """A sentinel with a readable repr."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


# A context key that is not in the request (closed world): the variable matches nothing.
NO_VALUE: Final = _Marker("NO_VALUE")
# A context key whose value is not known (open world): the match is undecided.
UNKNOWN: Final = _Marker("UNKNOWN")
# Lookup result for a key not in the request context.
MISSING: Final = _Marker("MISSING")

ContextValue = str | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Escaped:
    """Text that is literal even where the policy text would be a wildcard pattern."""

    text: str


@dataclass(frozen=True, slots=True)
class Variable:
    key: str  # lower-cased: context keys are case-insensitive
    default: str | None


TemplatePart = str | Escaped | Variable
# One piece of a substituted value: (text, literal). Policy text is not literal: its * and ?
# are wildcards for the pattern operators; substituted values and escapes are literal.
Chunk = tuple[str, bool]


@dataclass(frozen=True, slots=True)
class Template:
    raw: str
    parts: tuple[TemplatePart, ...]

    @property
    def is_plain(self) -> bool:
        return len(self.parts) == 1 and isinstance(self.parts[0], str)


@lru_cache(maxsize=65536)
def parse_template(text: str, variables_enabled: bool) -> Template:
    if not variables_enabled or "${" not in text:
        return Template(text, (text,))
    parts: list[TemplatePart] = []
    position = 0
    for match in _VARIABLE.finditer(text):
        inner = match.group(1).strip()
        if inner in _ESCAPES:
            part: TemplatePart = Escaped(inner)
        else:
            key = _KEY_WITH_DEFAULT.match(inner)
            if key is None:
                continue  # not a variable: AWS keeps such text as typed
            part = Variable(key.group(1).lower(), key.group(2))
        if match.start() > position:
            parts.append(text[position:match.start()])
        parts.append(part)
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    if not parts:
        parts.append("")
    return Template(text, tuple(parts))


class RequestValues:
    """The request context with lower-cased keys, and whether absent keys are unknown."""

    __slots__ = ("open_world", "values")

    def __init__(self, values: Mapping[str, ContextValue], open_world: bool):
        self.values = values
        self.open_world = open_world

    @classmethod
    def from_context(cls, context: Mapping[str, object], open_world: bool,
                     derived: Mapping[str, str] | None = None) -> RequestValues:
        values: dict[str, ContextValue] = {}
        if derived:
            values.update(derived)
        for key, value in context.items():
            values[str(key).lower()] = _normalise(value)
        return cls(values, open_world)

    def lookup(self, key: str) -> ContextValue | _Marker:
        return self.values.get(key, MISSING)


def _normalise(value: object) -> ContextValue:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(_scalar_text(item) for item in value)
    return _scalar_text(value)


def _scalar_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def substitute(template: Template, request: RequestValues) -> tuple[Chunk, ...] | _Marker:
    """The template's chunks with variables replaced, or NO_VALUE / UNKNOWN."""
    chunks: list[Chunk] = []
    undecided = False
    for part in template.parts:
        if isinstance(part, str):
            chunks.append((part, False))
        elif isinstance(part, Escaped):
            chunks.append((part.text, True))
        else:
            value = request.lookup(part.key)
            if isinstance(value, str):
                chunks.append((value, True))
            elif value is MISSING and request.open_world:
                undecided = True
            elif part.default is not None and value is MISSING:
                chunks.append((part.default, True))
            else:
                # absent (closed world), or multivalued: a variable has no single value
                return NO_VALUE
    return UNKNOWN if undecided else tuple(chunks)


def chunks_text(chunks: tuple[Chunk, ...]) -> str:
    return "".join(text for text, _literal in chunks)


# --- wildcard patterns: '*' any run of characters (including '/' and ':'), '?' exactly one ---
# Matching splits the pattern at its stars and places each star-free segment at its leftmost
# possible position, which is linear-time; a backtracking regex of many '.*' is not, and a
# hostile policy could make it run for minutes.

@dataclass(frozen=True, slots=True)
class _Segment:
    """A star-free piece of a pattern: fixed length; ``text`` when it has no '?', else
    ``regex`` (compiling one costs far more than matching, so plain text skips it)."""

    length: int
    text: str | None
    regex: re.Pattern[str] | None


class Glob:
    """A compiled wildcard pattern."""

    __slots__ = ("exact", "middles", "min_length", "prefix", "starred", "suffix")

    def __init__(self, segments: list[list[tuple[str, bool]]]):
        # segments: the pattern split at its stars; each a list of (text, is_question_mark)
        self.starred = len(segments) > 1
        compiled = [_segment(pieces) for pieces in segments]
        self.exact = compiled[0].text if not self.starred else None
        self.prefix = compiled[0]
        self.suffix = compiled[-1]
        self.middles = tuple(compiled[1:-1])
        self.min_length = sum(seg.length for seg in compiled)

    def matches(self, value: str) -> bool:
        if self.exact is not None:
            return value == self.exact
        prefix = self.prefix
        if not self.starred:
            assert prefix.regex is not None  # a star-free pattern without '?' is exact
            return len(value) == prefix.length and prefix.regex.match(value) is not None
        if len(value) < self.min_length:
            return False
        if prefix.length and not (value.startswith(prefix.text) if prefix.text is not None
                                  else prefix.regex.match(value)):  # type: ignore[union-attr]
            return False
        suffix = self.suffix
        end = len(value) - suffix.length
        if suffix.length and not (value.endswith(suffix.text) if suffix.text is not None
                                  else suffix.regex.match(value, end)):  # type: ignore[union-attr]
            return False
        position = prefix.length
        for segment in self.middles:
            if segment.text is not None:
                found_at = value.find(segment.text, position, end)
                if found_at < 0:
                    return False
                position = found_at + segment.length
                continue
            found = segment.regex.search(value, position, end)  # type: ignore[union-attr]
            if found is None:
                return False
            position = found.end()
        return True


def _segment(pieces: list[tuple[str, bool]]) -> _Segment:
    length = sum(1 if question else len(text) for text, question in pieces)
    if not any(question for _text, question in pieces):
        return _Segment(length, "".join(text for text, _q in pieces), None)
    source = "".join("." if question else re.escape(text) for text, question in pieces)
    return _Segment(length, None, _compile(source))


@lru_cache(maxsize=65536)
def glob_from_chunks(chunks: tuple[Chunk, ...]) -> Glob:
    segments: list[list[tuple[str, bool]]] = [[]]
    for text, literal in chunks:
        if literal:
            segments[-1].append((text, False))
            continue
        run: list[str] = []
        for character in text:
            if character == "*":
                if run:
                    segments[-1].append(("".join(run), False))
                    run = []
                if segments[-1] or len(segments) == 1:
                    segments.append([])
            elif character == "?":
                if run:
                    segments[-1].append(("".join(run), False))
                    run = []
                segments[-1].append(("?", True))
            else:
                run.append(character)
        if run:
            segments[-1].append(("".join(run), False))
    return Glob(segments)


@lru_cache(maxsize=65536)
def glob_from_text(text: str) -> Glob:
    return glob_from_chunks(((text, False),))


@lru_cache(maxsize=65536)
def _compile(source: str) -> re.Pattern[str]:
    return re.compile(source, re.DOTALL)
