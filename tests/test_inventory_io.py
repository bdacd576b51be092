import json
from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.inventory import CollectionError, Inventory, Resource, Scope
from auditor.inventory.io import load, parse, save, to_json


def sample() -> Inventory:
    inventory = Inventory()
    inventory.add([
        Scope("aws", "123456789012", ("us-east-1",), ("s3",)),
        Resource(id="arn:aws:s3:::b", type="aws.s3.bucket", provider="aws", account="123456789012",
                 name="b", region="us-east-1", attributes={"policy": None}, tags={"k": "v"},
                 unknown=["policy"]),
        Resource(id="arn:aws:s3:::a", type="aws.s3.bucket", provider="aws", account="123456789012",
                 name="a", region="us-east-1"),
        CollectionError(provider="aws", account="123456789012", service="s3",
                        operation="GetBucketPolicy", code="AccessDenied", message="denied",
                        region="us-east-1", resource_id="arn:aws:s3:::b", attribute="policy"),
    ])
    return inventory


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "inventory.json"
    save(sample(), path)
    loaded = load(path)
    assert to_json(loaded) == path.read_text()
    assert [r.name for r in loaded.resources] == ["a", "b"]
    assert loaded.get("arn:aws:s3:::b").unknown == ["policy"]
    assert loaded.errors[0].attribute == "policy"


def test_bytes_do_not_depend_on_insertion_order() -> None:
    first = sample()
    second = sample()
    second.resources.reverse()
    assert to_json(first) == to_json(second)


@pytest.mark.parametrize(("mutate", "location"), [
    (lambda d: d.pop("resources"), "$"),
    (lambda d: d["resources"][0].update(name=7), "$.resources[0].name"),
    (lambda d: d["resources"][1].update(tags={"k": ["v"]}), "$.resources[1].tags.k"),
    (lambda d: d["errors"][0].pop("code"), "$.errors[0]"),
    (lambda d: d.update(schema_version=99), "$.schema_version"),
    (lambda d: d.update(format="something-else"), "$.format"),
    (lambda d: d["scopes"][0].update(regions="us-east-1"), "$.scopes[0].regions"),
])
def test_malformed_inventories_name_the_place(mutate, location: str) -> None:
    document = json.loads(to_json(sample()))
    mutate(document)
    with pytest.raises(InputError) as caught:
        parse(json.dumps(document), "inv.json")
    assert caught.value.source == "inv.json"
    assert caught.value.location == location


def test_not_json_names_line_and_column() -> None:
    with pytest.raises(InputError) as caught:
        parse('{"format":\n  nope}', "inv.json")
    assert caught.value.location == "line 2 column 3"


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load(tmp_path / "absent.json")
