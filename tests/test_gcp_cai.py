"""The Cloud Asset Inventory reader: the development scenario's export read into an inventory,
independent of line order, strict about malformed lines, lenient about unknown asset types."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from auditor.errors import InputError
from auditor.inventory import Inventory, Resource
from auditor.inventory.io import parse, to_json
from auditor.scanners.base import ScanSettings
from auditor.scanners.gcp import ids
from auditor.scanners.gcp.cai import read_export
from auditor.scanners.gcp.scanner import GcpScanner

DATA = Path(__file__).parent / "data" / "gcp"
EXPORT = DATA / "gcp-ml-org.cai.jsonl"
# the inventory type each CAI asset type becomes
TYPES = {
    "cloudresourcemanager.googleapis.com/Organization": ids.ORGANIZATION,
    "cloudresourcemanager.googleapis.com/Folder": ids.FOLDER,
    "cloudresourcemanager.googleapis.com/Project": ids.PROJECT,
    "iam.googleapis.com/Role": ids.ROLE,
    "iam.googleapis.com/ServiceAccount": ids.SERVICE_ACCOUNT,
    "iam.googleapis.com/ServiceAccountKey": ids.SERVICE_ACCOUNT_KEY,
    "cloudkms.googleapis.com/KeyRing": ids.KEY_RING,
    "cloudkms.googleapis.com/CryptoKey": ids.CRYPTO_KEY,
    "storage.googleapis.com/Bucket": ids.BUCKET,
}


def assets() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EXPORT.read_text(encoding="utf-8").splitlines() if line.strip()]


def write(tmp_path: Path, lines: list[Any], name: str = "export.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
                    encoding="utf-8")
    return path


def read(path: Path, settings: ScanSettings | None = None) -> Inventory:
    inventory = Inventory()
    inventory.add(read_export(path, settings or ScanSettings()))
    inventory.sort()
    return inventory


def by_name(inventory: Inventory, kind: str, name: str) -> Resource:
    found = [r for r in inventory.of_type(kind) if r.name == name]
    assert len(found) == 1, f"{kind} {name}: {found}"
    return found[0]


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return read(EXPORT)


def test_every_asset_becomes_one_resource_of_its_type(inventory: Inventory) -> None:
    assert Counter(r.type for r in inventory.resources) == Counter(TYPES[a["asset_type"]] for a in assets())
    assert all(r.provider == "gcp" for r in inventory.resources)
    assert len({r.id for r in inventory.resources}) == len(inventory.resources)


def test_one_scope_per_project(inventory: Inventory) -> None:
    projects = {a["resource"]["data"]["projectId"] for a in assets()
                if a["asset_type"].endswith("/Project")}
    assert {s.account for s in inventory.scopes} == projects
    assert all(s.provider == "gcp" and "storage" in s.services for s in inventory.scopes)


def test_buckets_carry_the_settings_rules_need(inventory: Inventory) -> None:
    prod = by_name(inventory, ids.BUCKET, "acme-ml-weights-prod")
    assert prod.id == "//storage.googleapis.com/projects/_/buckets/acme-ml-weights-prod"
    assert prod.account == "acme-ml-models"
    assert prod.region == "us-central1"
    assert prod.tags == {"ml-asset": "model-weights", "env": "prod", "model": "atlas-7b"}
    attributes = prod.attributes
    assert attributes["uniform_bucket_level_access"] is True
    assert attributes["public_access_prevention"] == "enforced"
    assert attributes["versioning"] is True
    assert attributes["retention"] == {"period_seconds": 2592000, "is_locked": False,
                                       "effective_time": "2023-07-07T10:00:00Z"}
    assert attributes["logging"] == {"log_bucket": "acme-ml-audit-logs", "log_object_prefix": "weights-prod/"}
    assert attributes["default_kms_key"] == ("projects/acme-ml-models/locations/us-central1/keyRings/"
                                             "ml-weights/cryptoKeys/weights-cmek")
    assert attributes["acl"] is None and attributes["default_object_acl"] is None  # uniform access
    assert attributes["ancestors"] == ["projects/310000000002", "folders/210000000001",
                                       "organizations/123456789"]
    assert [o["key"] for o in attributes["object_sample"]][:1] == [
        "atlas-7b/v3/model-00001-of-00003.safetensors"]
    assert prod.unknown == []

    audit_logs = by_name(inventory, ids.BUCKET, "acme-ml-audit-logs").attributes
    assert audit_logs["retention"]["is_locked"] is True
    assert audit_logs["retention"]["period_seconds"] == 31536000  # a JSON number in CAI
    assert audit_logs["logging"] is None


def test_acls_are_kept_when_uniform_access_is_off(inventory: Inventory) -> None:
    legacy = by_name(inventory, ids.BUCKET, "acme-ml-legacy-checkpoints").attributes
    assert legacy["uniform_bucket_level_access"] is False
    assert {(e["entity"], e["role"]) for e in legacy["acl"]} == {
        ("project-owners-310000000002", "OWNER"), ("project-editors-310000000002", "OWNER"),
        ("project-viewers-310000000002", "READER")}
    assert len(legacy["default_object_acl"]) == 3


def test_policies_keep_conditions_and_audit_configs(inventory: Inventory) -> None:
    corpus = by_name(inventory, ids.BUCKET, "acme-ml-curated-corpus").attributes["iam_policy"]
    assert corpus["version"] == 3
    conditioned = [b for b in corpus["bindings"] if "condition" in b]
    assert conditioned == [{"role": "roles/storage.objectViewer",
                            "members": ["user:intern.sam@acme-ml.example"],
                            "condition": {"title": "summer-internship",
                                          "description": "Access for the 2026 summer internship",
                                          "expression": 'request.time < timestamp("2026-06-30T00:00:00Z")'}}]
    organization = by_name(inventory, ids.ORGANIZATION, "acme-ml.example")
    assert organization.attributes["iam_policy"]["auditConfigs"][0]["service"] == "storage.googleapis.com"
    assert organization.attributes["directory_customer_id"] == "C02k7x9qa"


def test_what_a_cai_export_cannot_hold_is_unknown_not_empty(inventory: Inventory) -> None:
    for node in inventory.of_type(*ids.HIERARCHY_TYPES):
        assert node.attributes["deny_policies"] is None
        assert node.attributes["public_access_prevention_enforced"] is None
        assert set(node.unknown) == {"deny_policies", "public_access_prevention_enforced"}


def test_service_accounts_and_keys_are_named_by_email(inventory: Inventory) -> None:
    account = by_name(inventory, ids.SERVICE_ACCOUNT, "sa-batch-infer@acme-ml-models.iam.gserviceaccount.com")
    assert account.id.endswith("/serviceAccounts/sa-batch-infer@acme-ml-models.iam.gserviceaccount.com")
    assert account.attributes["unique_id"] == "104187640238211905522"
    assert account.attributes["iam_policy"]["bindings"][0]["role"] == "roles/iam.serviceAccountUser"
    old = by_name(inventory, ids.SERVICE_ACCOUNT_KEY, "c94d23ca20e5df7a7dd989c2e9ecb823d1e9d586")
    assert old.attributes["key_type"] == "USER_MANAGED"
    assert old.attributes["create_time"] == "2025-03-10T09:14:22Z"
    assert old.attributes["expire_time"] is None  # 9999-12-31: never expires
    assert old.attributes["service_account_id"] == account.id
    rotated = by_name(inventory, ids.SERVICE_ACCOUNT_KEY, "519f86d5aa2bcd3929daff01b67c1f3de37e859f")
    assert rotated.attributes["key_type"] == "SYSTEM_MANAGED"
    assert rotated.attributes["expire_time"] == "2028-11-13T03:00:00Z"


def test_kms_keys_and_custom_roles(inventory: Inventory) -> None:
    weights = by_name(inventory, ids.CRYPTO_KEY, "weights-cmek").attributes
    assert weights["rotation_period_seconds"] == 90 * 86400
    assert weights["next_rotation_time"] == "2027-01-20T12:01:00Z"
    assert {b["role"] for b in weights["iam_policy"]["bindings"]} == {
        "roles/cloudkms.cryptoKeyEncrypterDecrypter", "roles/cloudkms.cryptoKeyDecrypter"}
    assert by_name(inventory, ids.CRYPTO_KEY, "corpus-cmek").attributes["rotation_period_seconds"] is None
    ring = by_name(inventory, ids.KEY_RING, "ml-data")
    assert ring.attributes["iam_policy"] == {"version": 1, "bindings": []}  # no allow policy in the export
    role = by_name(inventory, ids.ROLE, "projects/acme-ml-models/roles/weightsReader")
    assert "storage.objects.get" in role.attributes["included_permissions"]
    assert role.account == "acme-ml-models"


def test_line_order_and_split_content_types_do_not_matter(tmp_path: Path, inventory: Inventory) -> None:
    lines = []
    for asset in reversed(assets()):
        policy = asset.pop("iam_policy", None)
        lines.append(asset)
        if policy is not None:  # the iam-policy content type on a line of its own, first
            lines.insert(0, {"name": asset["name"], "asset_type": asset["asset_type"],
                             "iam_policy": policy, "ancestors": asset["ancestors"]})
    assert to_json(read(write(tmp_path, lines))) == to_json(inventory)


def test_unknown_asset_types_and_blank_lines_are_skipped(tmp_path: Path, inventory: Inventory) -> None:
    instance = {"name": "//compute.googleapis.com/projects/acme-ml-data/zones/us-central1-a/instances/vm",
                "asset_type": "compute.googleapis.com/Instance", "resource": {"data": {"name": "vm"}}}
    lines = [instance, "", *assets(), "   "]
    assert to_json(read(write(tmp_path, lines))) == to_json(inventory)


def test_the_inventory_survives_a_round_trip(inventory: Inventory) -> None:
    assert parse(to_json(inventory), "inventory.json").resources == inventory.resources


@pytest.mark.parametrize(("line", "place"), [
    ("{not json", "line 2"),
    ("[1, 2]", "line 2 $"),
    ({"asset_type": "storage.googleapis.com/Bucket"}, "line 2 $.name"),
    ({"name": "//storage.googleapis.com/b"}, "line 2 $.asset_type"),
    ({"name": "//storage.googleapis.com/b", "asset_type": "storage.googleapis.com/Bucket",
      "resource": {"data": "b"}}, "line 2 $.resource"),
    ({"name": "//storage.googleapis.com/b", "asset_type": "storage.googleapis.com/Bucket",
      "resource": {"data": {"labels": {}}}}, "line 2 $.resource.data"),
    ({"name": "//storage.googleapis.com/b", "asset_type": "storage.googleapis.com/Bucket",
      "resource": {"data": {"name": "b", "retentionPolicy": {"retentionPeriod": "soon"}}}},
     "line 2 $.resource.data.retentionPolicy.retentionPeriod"),
    ({"name": "//storage.googleapis.com/b", "asset_type": "storage.googleapis.com/Bucket",
      "resource": {"data": {"name": "b"}}, "iam_policy": {"bindings": {"role": "x"}}}, "line 2 $.iam_policy"),
    ({"name": "//storage.googleapis.com/b", "asset_type": "storage.googleapis.com/Bucket",
      "iam_policy": {"bindings": []}}, "line 2 $.resource"),
    ({"name": "//storage.googleapis.com/b", "asset_type": "storage.googleapis.com/Bucket",
      "resource": {"data": {"name": "b"}}, "ancestors": "projects/1"}, "line 2 $.ancestors"),
])
def test_a_malformed_line_names_the_file_and_the_line(tmp_path: Path, line: Any, place: str) -> None:
    path = write(tmp_path, [assets()[0], line])
    with pytest.raises(InputError) as caught:
        read(path)
    assert caught.value.source == str(path)
    assert caught.value.location.startswith(place), caught.value.location


def test_the_same_asset_twice_with_different_data_is_an_error(tmp_path: Path) -> None:
    first = assets()[-1]
    second = json.loads(json.dumps(first))
    second["resource"]["data"]["labels"] = {"changed": "yes"}
    with pytest.raises(InputError, match="already has a different data") as caught:
        read(write(tmp_path, [first, second]))
    assert caught.value.location == "line 2"


def test_a_missing_export_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read(tmp_path / "absent.jsonl")


def test_object_names_are_sampled_up_to_the_setting(tmp_path: Path) -> None:
    inventory = read(EXPORT, ScanSettings(object_sample_size=1))
    prod = by_name(inventory, ids.BUCKET, "acme-ml-weights-prod").attributes
    assert len(prod["object_sample"]) == 1 and prod["object_sample_truncated"] is True
    bucket = {"name": "//storage.googleapis.com/plain", "asset_type": "storage.googleapis.com/Bucket",
              "resource": {"data": {"name": "plain"}}}
    plain = by_name(read(write(tmp_path, [bucket])), ids.BUCKET, "plain")
    assert plain.attributes["object_sample"] is None and "object_sample" in plain.unknown


def test_org_policy_content_decides_public_access_prevention(tmp_path: Path) -> None:
    lines = assets()
    for asset in lines:
        if asset["asset_type"].endswith("/Organization"):
            asset["org_policy"] = [{"constraint": "constraints/storage.publicAccessPrevention",
                                    "booleanPolicy": {"enforced": True}}]
        if asset["name"].endswith("projects/310000000003"):
            asset["org_policy"] = [{"constraint": "constraints/storage.publicAccessPrevention",
                                    "restoreDefault": {}}]
    inventory = read(write(tmp_path, lines))
    enforced = {r.name: r.attributes["public_access_prevention_enforced"]
                for r in inventory.of_type(ids.PROJECT)}
    assert enforced == {"acme-ml-data": True, "acme-ml-models": True, "acme-research-sandbox": False}
    assert all("public_access_prevention_enforced" not in r.unknown
               for r in inventory.of_type(*ids.HIERARCHY_TYPES))


def test_the_scanner_plugin_reads_an_export_when_configured(inventory: Inventory) -> None:
    scanned = Inventory()
    scanned.add(GcpScanner().scan({"cai_export": str(EXPORT)}, ScanSettings()))
    scanned.sort()
    assert to_json(scanned) == to_json(inventory)
