"""audit merge: the parts of a sharded scan join into the inventory a single scan writes, and
parts that do not fit together are refused with the files named."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.inventory import CollectionError, Inventory, Resource, Scope
from auditor.inventory.io import to_json
from auditor.inventory.merge import merge_parts
from auditor.inventory.shard import ShardSection, plan_digest, shard_of, write_part

COUNT = 3
UNITS = sorted(f"aws:{210000000000 + n:012d}" for n in range(9))


def unit_records(unit: str) -> list[Scope | Resource | CollectionError]:
    account = unit.split(":")[1]
    return [Scope("aws", account, ("us-east-1",), ("iam", "s3")),
            Resource(id=f"arn:aws:s3:::data-{account}", type="aws.s3.bucket", provider="aws",
                     account=account, name=f"data-{account}", region="us-east-1"),
            # the same AWS-managed policy, in use in every account
            Resource(id="arn:aws:iam::aws:policy/ReadOnlyAccess", type="aws.iam.policy",
                     provider="aws", account=account, name="ReadOnlyAccess",
                     attributes={"attachment_count": int(account[-1]) + 1}),
            CollectionError("aws", account, "iam", "ListUsers", "AccessDenied", "no",
                            attribute="password_last_used")]


def whole() -> Inventory:
    inventory = Inventory()
    for unit in UNITS:
        inventory.add(unit_records(unit))
    return inventory


def write_shard(tmp_path: Path, index: int, *, units: list[str] | None = None,
                count: int = COUNT, plan: list[str] | None = None,
                planned: int | None = None, name: str | None = None) -> Path:
    chosen = units if units is not None else [u for u in UNITS if shard_of(u, count) == index]
    inventory = Inventory()
    for unit in reversed(chosen):  # in another order than the whole scan's
        inventory.add(unit_records(unit))
    section = ShardSection(index, count, plan_digest(plan or UNITS),
                           len(UNITS) if planned is None else planned, tuple(sorted(chosen)))
    path = tmp_path / (name or f"part-{index}-of-{count}.json")
    write_part(inventory, section, path)
    return path


def all_parts(tmp_path: Path) -> list[Path]:
    return [write_shard(tmp_path, index) for index in range(1, COUNT + 1)]


def test_the_parts_merge_into_the_whole_inventory(tmp_path) -> None:
    parts = all_parts(tmp_path)
    assert all(len(UNITS) > sum(1 for u in UNITS if shard_of(u, COUNT) == i)
               for i in range(1, COUNT + 1))  # every part is really partial
    assert to_json(merge_parts(parts)) == to_json(whole())


def test_the_merge_does_not_depend_on_the_order_of_the_parts(tmp_path) -> None:
    parts = all_parts(tmp_path)
    merged = merge_parts(parts)
    # one resource id held by several accounts comes out in account order
    holders = [r.account for r in merged.resources if r.type == "aws.iam.policy"]
    assert holders == sorted(holders) and len(holders) == len(UNITS)
    assert to_json(merge_parts(parts[::-1])) == to_json(merged)


def test_a_missing_shard_is_named(tmp_path) -> None:
    first, _, third = all_parts(tmp_path)
    with pytest.raises(InputError, match=r"missing shard\(s\) 2/3") as caught:
        merge_parts([first, third])
    assert str(first) in str(caught.value) and str(third) in str(caught.value)


def test_a_shard_given_twice_names_both_files(tmp_path) -> None:
    parts = all_parts(tmp_path)
    again = write_shard(tmp_path, 2, name="copy-of-2.json")
    with pytest.raises(InputError, match="shard 2/3 given twice") as caught:
        merge_parts([*parts, again])
    assert str(parts[1]) in str(caught.value) and str(again) in str(caught.value)


def test_parts_of_different_scans_are_refused(tmp_path) -> None:
    parts = all_parts(tmp_path)
    other_plan = write_shard(tmp_path, 3, plan=[*UNITS, "aws:399999999999"], name="other.json")
    with pytest.raises(InputError, match="different plans") as caught:
        merge_parts([parts[0], parts[1], other_plan])
    assert str(other_plan) in str(caught.value)
    other_count = write_shard(tmp_path, 1, count=2, name="halves.json")
    with pytest.raises(InputError, match="different shard counts"):
        merge_parts([other_count, parts[1], parts[2]])


def test_a_full_inventory_is_not_a_part(tmp_path) -> None:
    full = tmp_path / "full.json"
    full.write_text(to_json(whole()), encoding="utf-8")
    with pytest.raises(InputError, match="not a partial inventory") as caught:
        merge_parts([full, *all_parts(tmp_path)])
    assert caught.value.source == str(full)


def test_units_missing_from_the_plan_are_found(tmp_path) -> None:
    parts = all_parts(tmp_path)
    short = [u for u in UNITS if shard_of(u, COUNT) == 1][1:]  # one unit of shard 1 lost
    lossy = write_shard(tmp_path, 1, units=short, name="lossy.json")
    with pytest.raises(InputError, match=f"hold {len(UNITS) - 1} units but the scan planned"):
        merge_parts([lossy, parts[1], parts[2]])


def test_a_resource_in_two_parts_names_both_files(tmp_path) -> None:
    parts = all_parts(tmp_path)
    # a part claiming a unit it does not own would fail its own check; a resource of another
    # part's account sneaking in is caught by the merge
    stolen = next(u for u in UNITS if shard_of(u, COUNT) == 2)
    index_one = [u for u in UNITS if shard_of(u, COUNT) == 1]
    inventory = Inventory()
    for unit in index_one:
        inventory.add(unit_records(unit))
    inventory.add([r for r in unit_records(stolen) if isinstance(r, Resource)][:1])
    section = ShardSection(1, COUNT, plan_digest(UNITS), len(UNITS), tuple(index_one))
    leaky = tmp_path / "leaky.json"
    write_part(inventory, section, leaky)
    with pytest.raises(InputError, match="is in two parts") as caught:
        merge_parts([leaky, parts[1], parts[2]])
    assert str(leaky) in str(caught.value) and str(parts[1]) in str(caught.value)


def test_nothing_to_merge_is_an_error() -> None:
    with pytest.raises(InputError, match="no inventories"):
        merge_parts([])
