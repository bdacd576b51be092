"""Strict YAML for rule files: every mapping remembers the line of each of its keys.

Rule files are data written by people, so mistakes must point at a line. The file is composed
into YAML nodes (which carry their position) and converted by hand, which also lets us refuse
what PyYAML would accept silently: duplicate keys, non-string keys, YAML 1.1 booleans such as
``yes``/``no``/``on``/``off`` (``equals: NO`` must stay the string ``"NO"``) and timestamps
turned into ``datetime`` objects (inventory timestamps are strings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from auditor.errors import AuditorError, RuleError

_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
T = TypeVar("T")
# aliases may repeat a node, but a document may expand to at most this many times the nodes
# written in it: a "billion laughs" file of ten lines would otherwise expand to 10**9 values
MAX_EXPANSION = 10


class _Loader(yaml.SafeLoader):
    pass


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


class LineMap(dict[str, Any]):
    """A YAML mapping: a plain dict that also knows its own line and the line of each key."""

    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A YAML sequence that knows its line and the line of each item."""

    line: int
    item_lines: list[int]


def parse(text: str, source: str, error: type[AuditorError] = RuleError) -> Any:
    """The document in ``text`` as dicts (``LineMap``), lists (``LineList``) and scalars.

    Mistakes raise ``error`` (rule files: RuleError; other YAML inputs pass their own class).
    """
    loader = None
    try:
        loader = _Loader(text)  # refuses NUL and other unprintable characters at once
        node = loader.get_single_node()
        if node is None:
            raise error("the file is empty", source=source, location="line 1")
        return _Converter(loader, source, error, MAX_EXPANSION * _written(node)).convert(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark else None
        raise error(f"not valid YAML: {exc.problem or exc.context}", source=source,
                    location=where) from None
    except yaml.YAMLError as exc:
        raise error(f"not valid YAML: {exc}", source=source) from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise error("not valid YAML: nested too deeply", source=source) from None
    finally:
        if loader is not None:
            loader.dispose()


def _written(root: Node) -> int:
    """How many nodes the document writes out (an alias is not a node of its own)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            stack.extend(part for pair in node.value for part in pair)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return len(seen)


def line_of(node: Node) -> int:
    return node.start_mark.line + 1


class _Converter:
    def __init__(self, loader: _Loader, source: str, error: type[AuditorError], budget: int):
        self.loader = loader
        self.source = source
        self.error = error
        self.budget = budget  # values left to convert

    def convert(self, node: Node) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise self.error(f"the document expands through YAML aliases to more than "
                             f"{MAX_EXPANSION} times what it writes", source=self.source,
                             location=f"line {line_of(node)}")
        if isinstance(node, MappingNode):
            return self._mapping(node)
        if isinstance(node, SequenceNode):
            items = LineList(self.convert(item) for item in node.value)
            items.line = line_of(node)
            items.item_lines = [line_of(item) for item in node.value]
            return items
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: MappingNode) -> LineMap:
        result = LineMap()
        result.line = line_of(node)
        result.key_lines = {}
        merged: list[LineMap] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.extend(self._merge_sources(value_node))
                continue
            key = self.loader.construct_object(key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                raise self.error("mapping keys must be strings", source=self.source,
                                 location=f"line {line_of(key_node)}")
            if key in result:
                raise self.error(f"duplicate key {key!r} (first at line {result.key_lines[key]})",
                                 source=self.source, location=f"line {line_of(key_node)}")
            result[key] = self.convert(value_node)
            result.key_lines[key] = line_of(key_node)
        # YAML merge keys (<<: *anchor) fill in what the mapping does not set itself
        for source in merged:
            for key, value in source.items():
                if key not in result:
                    result[key] = value
                    result.key_lines[key] = source.line_of(key)
        return result

    def _merge_sources(self, node: Node) -> list[LineMap]:
        nodes = node.value if isinstance(node, SequenceNode) else [node]
        sources = [self.convert(item) for item in nodes]
        if not all(isinstance(item, LineMap) for item in sources):
            raise self.error("'<<' must merge a mapping or a list of mappings",
                             source=self.source, location=f"line {line_of(node)}")
        return sources


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string",
            LineMap: "mapping", LineList: "list"}.get(type(value), type(value).__name__)


class Reported(Exception):
    """Stops reading a part whose problems are already in ``Reader.problems``."""


class Reader:
    """Reads the parts of one rule file, turning every mistake into a RuleError at a line.

    Problems are collected, not raised one by one: a part that cannot be read raises, and
    ``attempt`` records the error and lets the caller go on with the next part, so that a
    file's every problem can be reported at once (``audit rules lint``). Problems that do not
    stop reading (an unknown key) are recorded directly.
    """

    def __init__(self, source: str, error: type[AuditorError] = RuleError):
        self.source = source
        self.error = error
        self.problems: list[AuditorError] = []

    def fail(self, message: str, line: int) -> AuditorError:
        return self.error(message, source=self.source, location=f"line {line}")

    def attempt(self, read: Callable[[], T]) -> T | None:
        """``read()``, or None once its problem is recorded."""
        try:
            return read()
        except Reported:
            return None
        except AuditorError as exc:
            self.problems.append(exc)
            return None

    def sorted_problems(self) -> list[AuditorError]:
        return sorted(self.problems, key=problem_line)

    def check(self) -> None:
        """Raise the first problem, in line order (strict loading stops at it)."""
        if self.problems:
            raise self.sorted_problems()[0]

    def each(self, read: Callable[[Any, int], T], items: LineList) -> list[T]:
        """``read(item, line)`` for every item; a failed item is recorded and the rest read,
        and then the whole list counts as failed."""
        results = [self.attempt(lambda item=item, line=line: read(item, line))
                   for item, line in zip(items, items.item_lines, strict=True)]
        if any(result is None for result in results):
            raise Reported("see the problems recorded for the items")
        return results  # type: ignore[return-value]

    def mapping(self, value: Any, line: int, what: str, *, required: Collection[str] = (),
                optional: Collection[str] = ()) -> LineMap:
        """``value`` as a mapping holding all of ``required`` and nothing beyond ``optional``.

        Unknown keys are recorded and reading goes on; a missing required key stops it.
        """
        if not isinstance(value, LineMap):
            raise self.fail(f"{what} must be a mapping, found {type_name(value)}", line)
        for key in value:
            if key not in required and key not in optional:
                known = ", ".join(sorted([*required, *optional]))
                self.problems.append(self.fail(f"unknown key {key!r} in {what} (known keys: "
                                               f"{known})", value.line_of(key)))
        missing = [key for key in required if key not in value]
        for key in missing:
            self.problems.append(self.fail(f"{what} is missing the field {key!r}", value.line))
        if missing:
            raise Reported(f"{what} is missing fields")
        return value

    def field(self, mapping: LineMap, key: str, kind: type | tuple[type, ...], what: str) -> Any:
        """``mapping[key]``, which must be of ``kind`` (booleans never pass for numbers)."""
        value = mapping[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            expected = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)
            raise self.fail(f"{what} must be {expected}, found {type_name(value)}",
                            mapping.line_of(key))
        return value

    def text(self, mapping: LineMap, key: str, what: str) -> str:
        """A non-empty string, without the trailing newline YAML block scalars keep."""
        value = self.field(mapping, key, str, what).strip()
        if not value:
            raise self.fail(f"{what} must not be empty", mapping.line_of(key))
        return value

    def strings(self, mapping: LineMap, key: str, what: str) -> tuple[str, ...]:
        items = self.field(mapping, key, LineList, what)
        for item, line in zip(items, items.item_lines, strict=True):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(f"each item of {what} must be a non-empty string, "
                                f"found {type_name(item)}", line)
        return tuple(items)


_KIND_NAMES = {LineMap: "a mapping", LineList: "a list", str: "a string", int: "an integer",
               float: "a number", bool: "a boolean"}


def problem_line(problem: AuditorError) -> int:
    match = re.match(r"^line (\d+)", problem.location or "")
    return int(match.group(1)) if match else 0
