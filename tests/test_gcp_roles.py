"""The bundled predefined-role data and its refresh script, and the role catalog."""

from __future__ import annotations

import importlib.util
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from auditor.access.gcp.role_data import DATA_FILE, DATA_PACKAGE, decode, encode, predefined_roles
from auditor.access.gcp.roles import RoleCatalog
from auditor.errors import InputError
from auditor.inventory import Resource
from auditor.scanners.gcp import ids

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "refresh_gcp_roles.py"


def refresh_script() -> Any:
    spec = importlib.util.spec_from_file_location("refresh_gcp_roles", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_data_ships_with_its_licence_and_source() -> None:
    folder = resources.files(DATA_PACKAGE)
    assert folder.joinpath(DATA_FILE).is_file()
    assert "MIT License" in folder.joinpath("LICENSE").read_text(encoding="utf-8")
    assert "iam-dataset" in folder.joinpath("SOURCE.txt").read_text(encoding="utf-8")


# facts of the role data that GCP access answers rest on (GCP.md, section 2)
@pytest.mark.parametrize(("role", "has", "lacks"), [
    ("roles/owner", ["iam.serviceAccountKeys.create", "iam.serviceAccounts.actAs",
                     "resourcemanager.projects.setIamPolicy"],
     ["storage.objects.get", "storage.objects.create"]),
    ("roles/editor", ["iam.serviceAccountKeys.create", "iam.serviceAccounts.actAs"],
     ["storage.objects.get", "storage.objects.create"]),
    ("roles/viewer", [], ["storage.objects.get", "iam.serviceAccounts.actAs"]),
    ("roles/iam.securityReviewer", ["storage.objects.list"], ["storage.objects.get"]),
    ("roles/storage.legacyObjectReader", ["storage.objects.get"], ["storage.objects.list"]),
    ("roles/storage.legacyBucketReader", ["storage.objects.list"], ["storage.objects.get"]),
    ("roles/storage.legacyBucketOwner", ["storage.buckets.setIamPolicy", "storage.objects.create"],
     ["storage.objects.get"]),
    ("roles/storage.objectCreator", ["storage.objects.create"], ["storage.objects.get"]),
    ("roles/iam.workloadIdentityUser", ["iam.serviceAccounts.getAccessToken"], []),
    ("roles/iam.serviceAccountUser", ["iam.serviceAccounts.actAs"], ["iam.serviceAccounts.getAccessToken"]),
    ("roles/cloudkms.cryptoKeyDecrypter", ["cloudkms.cryptoKeyVersions.useToDecrypt"],
     ["storage.objects.get"]),
])
def test_role_facts(role: str, has: list[str], lacks: list[str]) -> None:
    permissions = predefined_roles()[role]
    assert set(has) <= permissions
    assert not set(lacks) & permissions


def test_encoding_round_trips_and_is_deterministic() -> None:
    roles = {"roles/b": ["z.y.x", "a.b.c"], "roles/a": ["a.b.c"], "roles/empty": []}
    data = encode(roles, {"origin": "test"})
    assert data == encode(dict(reversed(roles.items())), {"origin": "test"})
    assert decode(data, "x") == {name: frozenset(perms) for name, perms in roles.items()}


def test_corrupt_data_is_an_input_error() -> None:
    with pytest.raises(InputError, match="not gzipped JSON"):
        decode(b"not gzip", "roles.json.gz")


def test_the_catalog_prefers_collected_custom_roles_and_knows_what_it_does_not_know() -> None:
    def role(name: str, **attributes: Any) -> Resource:
        return Resource(id=ids.iam_id(name), type=ids.ROLE, provider="gcp", account="p", name=name,
                        attributes={"role_name": name, "included_permissions": ["storage.objects.get"],
                                    **attributes})

    catalog = RoleCatalog.from_resources([role("projects/p/roles/r"),
                                          role("projects/p/roles/d", deleted=True),
                                          role("projects/p/roles/off", stage="DISABLED")])
    assert catalog.grants("projects/p/roles/r", "storage.objects.get") is True
    assert catalog.grants("projects/p/roles/d", "storage.objects.get") is False
    assert catalog.grants("projects/p/roles/off", "storage.objects.get") is False
    assert catalog.grants("projects/p/roles/never-seen", "storage.objects.get") is None
    assert catalog.grants("roles/storage.objectViewer", "storage.objects.get") is True


def test_the_refresh_script_reads_an_iam_dataset_snapshot(tmp_path: Path) -> None:
    snapshot = tmp_path / "roles"
    snapshot.mkdir()
    for name, perms, deleted in (("roles/x.reader", ["x.things.get"], False),
                                 ("roles/x.gone", ["x.things.get"], True)):
        (snapshot / f"{name.split('/')[1]}.json").write_text(json.dumps(
            {"name": name, "includedPermissions": perms, "deleted": deleted}), encoding="utf-8")
    (tmp_path / "LICENSE").write_text("MIT License\n", encoding="utf-8")
    output = tmp_path / "out"
    output.mkdir()
    script = refresh_script()
    assert script.main(["--from-iam-dataset", str(snapshot), "--commit", "abc", "--output", str(output)]) == 0
    first = (output / DATA_FILE).read_bytes()
    assert decode(first, "out") == {"roles/x.reader": frozenset({"x.things.get"})}
    assert "commit: abc" in (output / "SOURCE.txt").read_text(encoding="utf-8")
    assert (output / "LICENSE").read_text(encoding="utf-8") == "MIT License\n"
    script.main(["--from-iam-dataset", str(snapshot), "--commit", "abc", "--output", str(output)])
    assert (output / DATA_FILE).read_bytes() == first
