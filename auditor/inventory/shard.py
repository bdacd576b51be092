"""Sharding a scan across machines, and the partial inventories that shards write.

``audit scan --shard I/N`` plans the whole scan on every machine (cheap listing calls that give
the same units everywhere), then scans only the units whose stable hash falls on shard I: the
SHA-256 of the unit key (``aws:123456789012``, ``gcp:my-project``) modulo N, so the split does
not depend on listing order and is the same for any provider. What the planning itself records
(a failed listing) belongs to the shard that owns ``PROVIDER:plan``.

A partial inventory is an ordinary inventory.json with one more top-level section, ``shard``:
which shard it is, the units it holds and a digest of the whole plan (every unit, and the
settings that decide what is collected), so that ``audit merge`` can prove the parts fit
together (one profile, one plan, every shard once, no unit twice).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError, InputError
from auditor.inventory.io import (
    SHARD_SECTION,
    dumps,
    from_document,
    parse_json,
    read_text,
    to_document,
)
from auditor.inventory.model import Inventory
from auditor.io import write_atomic

SECTION = SHARD_SECTION
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def shard_of(key: str, count: int) -> int:
    """The shard (1..count) that owns a unit key: stable across machines and runs."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def plan_key(provider: str) -> str:
    """The pseudo-unit that owns a provider's planning records."""
    return f"{provider}:plan"


def plan_digest(keys: Iterable[str], settings: Any = None) -> str:
    """Names the whole plan: its units, and the JSON-like ``settings`` that decide what is
    collected of them (a profile's provider tables, sample sizes). Shards planned from
    different unit lists, or scanned with different settings, describe different things and
    cannot be merged."""
    text = "\n".join(sorted(keys))
    if settings is not None:
        text += "\n\n" + json.dumps(settings, sort_keys=True, ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ShardSpec:
    index: int  # 1..count
    count: int

    @classmethod
    def parse(cls, text: str, location: str = "--shard") -> ShardSpec:
        match = _SPEC.match(text)
        if not match:
            raise ConfigError(f"expected I/N (e.g. 2/3), not {text!r}", location=location)
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or not 1 <= index <= count:
            raise ConfigError(f"{text!r}: I must be between 1 and N", location=location)
        return cls(index, count)

    def owns(self, key: str) -> bool:
        return shard_of(key, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True, slots=True)
class ShardSection:
    """The ``shard`` section of a partial inventory."""

    index: int
    count: int
    plan: str  # plan_digest of every unit of the whole scan, and of its settings
    planned: int  # how many units the whole scan has
    units: tuple[str, ...]  # keys of the units this shard scanned, sorted
    profile: str | None = None  # the profile scanned, when the scan came from one

    @property
    def spec(self) -> ShardSpec:
        return ShardSpec(self.index, self.count)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "count": self.count, "plan": self.plan,
                "planned": self.planned, "units": list(self.units), "profile": self.profile}

    @classmethod
    def from_dict(cls, raw: Any, source: str) -> ShardSection:
        where = f"$.{SECTION}"

        def fail(message: str, place: str = where) -> InputError:
            return InputError(message, source=source, location=place)

        if not isinstance(raw, dict):
            raise fail(f"expected object, found {type(raw).__name__}")
        values: dict[str, Any] = {}
        fields: tuple[tuple[str, type | tuple[type, ...]], ...] = (
            ("index", int), ("count", int), ("plan", str), ("planned", int), ("units", list),
            ("profile", (str, type(None))))
        for key, kind in fields:
            if key not in raw:
                raise fail(f"missing field {key!r}")
            value = raw[key]
            if not isinstance(value, kind) or isinstance(value, bool):
                expected = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple)
                                                             else (kind,)))
                raise fail(f"expected {expected}, found {type(value).__name__}",
                           f"{where}.{key}")
            values[key] = value
        for i, unit in enumerate(values["units"]):
            if not isinstance(unit, str):
                raise fail(f"expected str, found {type(unit).__name__}", f"{where}.units[{i}]")
        if values["count"] < 1 or not 1 <= values["index"] <= values["count"]:
            raise fail(f"shard {values['index']}/{values['count']} is not a valid I/N",
                       f"{where}.index")
        for i, unit in enumerate(values["units"]):
            if shard_of(unit, values["count"]) != values["index"]:
                raise fail(f"unit {unit!r} belongs to shard "
                           f"{shard_of(unit, values['count'])}/{values['count']}, not to this "
                           f"shard", f"{where}.units[{i}]")
        values["units"] = tuple(values["units"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Part:
    """An inventory file and, when it is partial, its shard section."""

    path: Path
    inventory: Inventory
    shard: ShardSection | None


def part_json(inventory: Inventory, section: ShardSection) -> str:
    # the inventory part of a partial file is what a full scan of the same units writes
    return dumps({**to_document(inventory), SECTION: section.to_dict()})


def write_part(inventory: Inventory, section: ShardSection, path: Path) -> None:
    write_atomic(path, part_json(inventory, section))


def read_part(path: Path) -> Part:
    """Read an inventory file, partial or not (merge tells them apart)."""
    source = str(path)
    document = parse_json(read_text(path), source)
    inventory = from_document(document, source)  # checks every inventory field
    section = (ShardSection.from_dict(document[SECTION], source)
               if SECTION in document else None)
    return Part(Path(path), inventory, section)
