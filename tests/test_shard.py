"""Shard assignment: a stable partition of scan units, independent of listing order, machine
and provider; and the shard section that marks a partial inventory."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.errors import ConfigError, InputError
from auditor.inventory import Inventory, Resource, Scope
from auditor.inventory.io import to_json
from auditor.inventory.shard import (
    ShardSection,
    ShardSpec,
    plan_digest,
    read_part,
    shard_of,
    write_part,
)

ACCOUNTS = [f"aws:{100000000000 + n * 7919:012d}" for n in range(3000)]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_every_unit_belongs_to_exactly_one_shard(count) -> None:
    for key in ACCOUNTS[:300]:
        owners = [index for index in range(1, count + 1) if ShardSpec(index, count).owns(key)]
        assert owners == [shard_of(key, count)]


def test_the_split_does_not_depend_on_listing_order_or_on_other_units() -> None:
    before = {key: shard_of(key, 3) for key in ACCOUNTS[:100]}
    shuffled = ACCOUNTS[:100]
    random.Random(4).shuffle(shuffled)
    # a new account joining the organization moves no other account to another shard
    after = {key: shard_of(key, 3) for key in [*shuffled, "aws:999999999999"]}
    assert {key: after[key] for key in before} == before


def test_shards_are_balanced() -> None:
    sizes = [sum(shard_of(key, 3) == index for key in ACCOUNTS) for index in (1, 2, 3)]
    assert all(900 <= size <= 1100 for size in sizes), sizes


def test_the_split_is_the_same_in_another_process() -> None:
    """Python's own hash() is salted per process: a shard computed from it would differ
    between machines."""
    keys = [*ACCOUNTS[:50], "gcp:ml-training-prod", "aws:organization"]
    program = ("import json, sys\nfrom auditor.inventory.shard import shard_of\n"
               "print(json.dumps([shard_of(k, 5) for k in json.loads(sys.argv[1])]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    output = subprocess.run([sys.executable, "-c", program, json.dumps(keys)], env=env,
                            check=True, capture_output=True, text=True).stdout
    assert json.loads(output) == [shard_of(key, 5) for key in keys]


@pytest.mark.parametrize("text", ["", "3", "0/3", "4/3", "1/0", "a/b", "-1/3", "1/3/4"])
def test_a_bad_shard_option_is_a_config_error(text) -> None:
    with pytest.raises(ConfigError) as caught:
        ShardSpec.parse(text)
    assert caught.value.location == "--shard"


def test_a_shard_option_is_parsed() -> None:
    assert ShardSpec.parse(" 2/ 3") == ShardSpec(2, 3)
    assert str(ShardSpec(2, 3)) == "2/3"


def test_the_plan_digest_names_the_unit_set_whatever_its_order() -> None:
    assert plan_digest(["aws:1", "aws:2"]) == plan_digest(["aws:2", "aws:1"])
    assert plan_digest(["aws:1", "aws:2"]) != plan_digest(["aws:1", "aws:3"])


def partial(index: int, count: int = 3) -> tuple[Inventory, ShardSection]:
    units = tuple(sorted(key for key in ACCOUNTS[:12] if shard_of(key, count) == index))
    inventory = Inventory()
    for unit in units:
        account = unit.split(":")[1]
        inventory.add([Scope("aws", account, ("us-east-1",), ("s3",)),
                       Resource(id=f"arn:aws:s3:::b-{account}", type="aws.s3.bucket",
                                provider="aws", account=account, name=f"b-{account}")])
    return inventory, ShardSection(index, count, plan_digest(ACCOUNTS[:12]), 12, units)


def test_a_partial_inventory_is_an_inventory_with_a_shard_section(tmp_path) -> None:
    inventory, section = partial(2)
    path = tmp_path / "part.json"
    write_part(inventory, section, path)
    part = read_part(path)
    assert part.shard == section
    assert to_json(part.inventory) == to_json(inventory)
    assert json.loads(path.read_text())["shard"]["units"] == list(section.units)


def test_a_full_inventory_has_no_shard_section(tmp_path) -> None:
    inventory, _ = partial(1)
    path = tmp_path / "full.json"
    path.write_text(to_json(inventory), encoding="utf-8")
    assert read_part(path).shard is None


@pytest.mark.parametrize(("change", "location"), [
    (lambda s: s.pop("plan"), "$.shard"),
    (lambda s: s.update(index="2"), "$.shard.index"),
    (lambda s: s.update(index=4), "$.shard.index"),
    (lambda s: s.update(units=[1]), "$.shard.units[0]"),
    (lambda s: s.update(units=[next(k for k in ACCOUNTS if shard_of(k, 3) == 3)]),
     "$.shard.units[0]"),
])
def test_a_broken_shard_section_names_the_place(tmp_path, change, location) -> None:
    inventory, section = partial(1)
    path = tmp_path / "part.json"
    write_part(inventory, section, path)
    document = json.loads(path.read_text())
    change(document["shard"])
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_part(path)
    assert (caught.value.source, caught.value.location) == (str(path), location)


CAI_EXPORT = Path(__file__).parent / "data" / "gcp" / "gcp-ml-org.cai.jsonl"


def test_a_provider_that_does_not_split_is_one_unit_in_one_shard() -> None:
    """A scanner without plan()/unit_tasks() (here GCP reading an export) is the unit
    ``gcp:all``: whole in the shard that owns it, absent from the others."""
    from auditor.executors.profile_scan import scan_providers
    from auditor.scanners.base import ScanSettings
    from auditor.scanners.gcp.scanner import GcpScanner

    providers = {"gcp": {"cai_export": str(CAI_EXPORT)}}
    direct = Inventory()
    direct.add(GcpScanner().scan(providers["gcp"], ScanSettings()))
    whole = scan_providers(providers, ScanSettings()).inventory
    assert to_json(whole) == to_json(direct)
    owner = shard_of("gcp:all", 2)
    for index in (1, 2):
        outcome = scan_providers(providers, ScanSettings(), shard=ShardSpec(index, 2))
        assert outcome.shard is not None
        assert outcome.shard.units == (("gcp:all",) if index == owner else ())
        assert len(outcome.inventory.resources) == (len(whole.resources) if index == owner
                                                    else 0)
