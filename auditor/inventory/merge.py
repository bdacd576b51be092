"""Joining the partial inventories of a sharded scan (``audit merge``).

The parts must fit exactly: all of one profile, planned from the same unit list and settings
(same plan digest and shard count), every shard present once, no unit in two parts, and no
resource in two parts. Any mismatch is an InputError naming the files, never a silently
incomplete inventory. Each file is read as strictly as any inventory (a part of another schema
version is refused with its name).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from auditor.errors import InputError
from auditor.inventory.model import Inventory
from auditor.inventory.shard import Part, ShardSection, read_part


def merge_parts(paths: Sequence[Path]) -> Inventory:
    parts = [read_part(path) for path in paths]
    check_parts(parts)
    merged = Inventory()
    for part in parts:
        merged.merge(part.inventory)
    merged.sort()
    return merged


def check_parts(parts: Sequence[Part]) -> None:
    if not parts:
        raise InputError("no inventories to merge")
    shards: list[_Shard] = []
    for part in parts:
        if part.shard is None:
            raise InputError("not a partial inventory (it has no shard section): only the "
                             "outputs of `audit scan --shard I/N` can be merged",
                             source=str(part.path))
        shards.append((part, part.shard))
    _same(shards, lambda shard: shard.profile, "profiles")
    _same(shards, lambda shard: shard.count, "shard counts")
    _same(shards, lambda shard: shard.plan, "plans (the shards saw different unit lists, or "
                                            "were scanned with different settings: scan them "
                                            "again)")
    _every_shard_once(shards)
    _disjoint_units(shards)
    _disjoint_resources(parts)


_Shard = tuple[Part, ShardSection]


def _names(shards: Sequence[_Shard]) -> str:
    return ", ".join(f"{part.path} = {shard.spec}" for part, shard in shards)


def _same(shards: Sequence[_Shard], value: Callable[[ShardSection], object], what: str) -> None:
    groups: dict[object, list[Path]] = {}
    for part, shard in shards:
        groups.setdefault(value(shard), []).append(part.path)
    if len(groups) > 1:
        detail = "; ".join(f"{key}: {', '.join(map(str, paths))}" for key, paths in groups.items())
        raise InputError(f"the parts do not come from one sharded scan: different {what} "
                         f"({detail})")


def _every_shard_once(shards: Sequence[_Shard]) -> None:
    count = shards[0][1].count
    seen: dict[int, Path] = {}
    for part, shard in shards:
        if shard.index in seen:
            raise InputError(f"shard {shard.spec} given twice: {seen[shard.index]} and "
                             f"{part.path}")
        seen[shard.index] = part.path
    missing = [f"{index}/{count}" for index in range(1, count + 1) if index not in seen]
    if missing:
        raise InputError(f"missing shard(s) {', '.join(missing)} (given: {_names(shards)})")


def _disjoint_units(shards: Sequence[_Shard]) -> None:
    owner: dict[str, Path] = {}
    for part, shard in shards:
        for unit in shard.units:
            if unit in owner:
                raise InputError(f"unit {unit} is in two parts: {owner[unit]} and {part.path}")
            owner[unit] = part.path
    planned = shards[0][1].planned
    if len(owner) != planned:
        raise InputError(f"the parts hold {len(owner)} units but the scan planned {planned} "
                         f"({_names(shards)})")


def _disjoint_resources(parts: Sequence[Part]) -> None:
    # one resource id may exist in several accounts, never twice for one account
    owner: dict[tuple[str, str, str], Path] = {}
    for part in parts:
        for resource in part.inventory.resources:
            key = (resource.type, resource.id, resource.account)
            if key in owner:
                raise InputError(f"resource {resource.id} (account {resource.account}) is in "
                                 f"two parts: {owner[key]} and {part.path}")
            owner[key] = part.path
