"""Reading and writing inventory.json.

The file is data, never code: it is parsed as JSON and checked field by field, and any
mistake is an ``InputError`` naming the file and the JSON path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.errors import InputError
from auditor.inventory.model import SCHEMA_VERSION, CollectionError, Inventory, Resource, Scope
from auditor.io import write_atomic

FORMAT = "auditor-inventory"


def to_json(inventory: Inventory) -> str:
    inventory.sort()
    document = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "scopes": [s.to_dict() for s in inventory.scopes],
        "resources": [r.to_dict() for r in inventory.resources],
        "errors": [e.to_dict() for e in inventory.errors],
    }
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def save(inventory: Inventory, path: Path) -> None:
    write_atomic(path, to_json(inventory))


def load(path: Path) -> Inventory:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read inventory: {exc.strerror}", source=source) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", source=source) from None
    return parse(text, source)


def parse(text: str, source: str) -> Inventory:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", source=source,
                         location=f"line {exc.lineno} column {exc.colno}") from None
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
