"""Reading and writing inventory.json.

The file is data, never code: it is parsed as JSON and checked field by field, and any
mistake is an ``InputError`` naming the file and the JSON path. An inventory may come from
elsewhere, so what JSON allows but the auditor could not process or write back is refused
too: nesting deeper than ``MAX_DEPTH``, lone surrogates (``"\\ud800"``: not encodable as
UTF-8), NaN and Infinity (not JSON for the readers of the reports).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from auditor.errors import InputError
from auditor.inventory.model import SCHEMA_VERSION, CollectionError, Inventory, Resource, Scope
from auditor.io import write_atomic

FORMAT = "auditor-inventory"
# real inventories nest about ten levels (attributes, a policy, its statements, a condition,
# an operator, a key, its values); far deeper is hostile and would break recursive code later
MAX_DEPTH = 100
_SURROGATE = re.compile("[\ud800-\udfff]")
# the top-level section that makes a file a partial inventory (auditor.inventory.shard)
SHARD_SECTION = "shard"


def to_document(inventory: Inventory) -> dict[str, Any]:
    inventory.sort()
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "scopes": [s.to_dict() for s in inventory.scopes],
        "resources": [r.to_dict() for r in inventory.resources],
        "errors": [e.to_dict() for e in inventory.errors],
    }


def dumps(document: dict[str, Any]) -> str:
    """The one way an inventory document becomes bytes (partial ones too)."""
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def to_json(inventory: Inventory) -> str:
    return dumps(to_document(inventory))


def save(inventory: Inventory, path: Path) -> None:
    write_atomic(path, to_json(inventory))


def read_text(path: Path) -> str:
    source = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read inventory: {exc.strerror}", source=source) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", source=source) from None


def load(path: Path) -> Inventory:
    return parse(read_text(path), str(path))


def parse(text: str, source: str) -> Inventory:
    """A whole inventory; a partial one (one shard of a scan) is refused: evaluating it would
    report on part of the scope as if it were all of it."""
    document = parse_json(text, source)
    inventory = from_document(document, source)
    if SHARD_SECTION in document:
        raise InputError("a partial inventory (one shard of `audit scan --shard I/N`): join "
                         "all the parts with `audit merge` first", source=source,
                         location=f"$.{SHARD_SECTION}")
    return inventory


def parse_json(text: str, source: str) -> Any:
    """The JSON document of an inventory file, with every value checked (see the module)."""
    document = _json(text, source)
    check_values(document, source)
    return document


def from_document(document: Any, source: str) -> Inventory:
    """The inventory part of a parsed document (a partial one's shard section is left to
    auditor.inventory.shard)."""
    reader = _Reader(source)
    reader.require(document, dict, "$")
    if document.get("format") != FORMAT:
        raise InputError(f"not an inventory (expected \"format\": \"{FORMAT}\")",
                         source=source, location="$.format")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"unsupported schema_version {document.get('schema_version')!r}; "
                         f"this auditor reads version {SCHEMA_VERSION}",
                         source=source, location="$.schema_version")
    inventory = Inventory()
    for i, raw in enumerate(reader.list_of(document, "scopes", "$")):
        where = f"$.scopes[{i}]"
        inventory.scopes.append(Scope(
            provider=reader.field(raw, "provider", str, where),
            account=reader.field(raw, "account", str, where),
            regions=tuple(reader.strings(raw, "regions", where)),
            services=tuple(reader.strings(raw, "services", where)),
        ))
    for i, raw in enumerate(reader.list_of(document, "resources", "$")):
        inventory.resources.append(reader.resource(raw, f"$.resources[{i}]"))
    for i, raw in enumerate(reader.list_of(document, "errors", "$")):
        inventory.errors.append(reader.error(raw, f"$.errors[{i}]"))
    return inventory


def _json(text: str, source: str) -> Any:
    def refuse(constant: str) -> Any:
        raise InputError(f"{constant} is not a JSON number", source=source)

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", source=source,
                         location=f"line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InputError(f"nested more than {MAX_DEPTH} levels deep", source=source) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise InputError(f"not valid JSON: {exc}", source=source) from None


def check_values(document: Any, source: str, prefix: str = "") -> None:
    """Every value of a parsed JSON ``document`` nested at most MAX_DEPTH deep, every string
    and key valid Unicode; else an InputError at ``prefix`` (e.g. "line 3 ") + JSON path.

    Iterative (the point is to survive hostile depth); places are kept as parent links and
    spelled out only for the error."""
    Entry = tuple[Any, int, Any, str]  # value, depth, parent entry, step from the parent
    stack: list[Entry] = [(document, 0, None, "$")]
    while stack:
        entry = stack.pop()
        value, depth, _, _ = entry
        if depth > MAX_DEPTH:
            raise InputError(f"nested more than {MAX_DEPTH} levels deep", source=source,
                             location=prefix + _place(entry))
        if isinstance(value, dict):
            for key, item in value.items():
                if _SURROGATE.search(key):
                    raise InputError("a key holds a lone surrogate (not valid Unicode)",
                                     source=source, location=prefix + _place(entry))
                stack.append((item, depth + 1, entry, f".{key}"))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, entry, f"[{i}]") for i, item in enumerate(value))
        elif isinstance(value, str) and _SURROGATE.search(value):
            raise InputError("a lone surrogate (not valid Unicode)", source=source,
                             location=prefix + _place(entry))


def _place(entry: Any, shown: int = 12) -> str:
    steps = []
    while entry is not None:
        steps.append(entry[3])
        entry = entry[2]
    steps.reverse()
    return "".join(steps if len(steps) <= shown else [*steps[:shown], "..."])


class _Reader:
    def __init__(self, source: str):
        self.source = source

    def fail(self, message: str, where: str) -> InputError:
        return InputError(message, source=self.source, location=where)

    def require(self, value: Any, kind: type | tuple[type, ...], where: str) -> Any:
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(f"expected {name}, found {type(value).__name__}", where)
        return value

    def field(self, raw: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str,
              optional: bool = False) -> Any:
        if key not in raw:
            if optional:
                return None
            raise self.fail(f"missing field {key!r}", where)
        value = raw[key]
        if optional and value is None:
            return None
        return self.require(value, kind, f"{where}.{key}")

    def list_of(self, raw: dict[str, Any], key: str, where: str) -> list[Any]:
        items = self.field(raw, key, list, where)
        for i, item in enumerate(items):
            self.require(item, dict, f"{where}.{key}[{i}]")
        return items

    def strings(self, raw: dict[str, Any], key: str, where: str) -> list[str]:
        items = self.field(raw, key, list, where)
        for i, item in enumerate(items):
            self.require(item, str, f"{where}.{key}[{i}]")
        return items

    def resource(self, raw: dict[str, Any], where: str) -> Resource:
        tags = self.field(raw, "tags", dict, where)
        for key, value in tags.items():
            self.require(value, str, f"{where}.tags.{key}")
        return Resource(
            id=self.field(raw, "id", str, where),
            type=self.field(raw, "type", str, where),
            provider=self.field(raw, "provider", str, where),
            account=self.field(raw, "account", str, where),
            name=self.field(raw, "name", str, where),
            region=self.field(raw, "region", str, where, optional=True),
            attributes=self.field(raw, "attributes", dict, where),
            tags=tags,
            unknown=self.strings(raw, "unknown", where),
        )

    def error(self, raw: dict[str, Any], where: str) -> CollectionError:
        text = {key: self.field(raw, key, str, where)
                for key in ("provider", "account", "service", "operation", "code", "message")}
        optional = {key: self.field(raw, key, str, where, optional=True)
                    for key in ("region", "resource_id", "attribute")}
        return CollectionError(**text, **optional)
