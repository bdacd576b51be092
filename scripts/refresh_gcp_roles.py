#!/usr/bin/env python3
"""Refresh the bundled GCP predefined-role data (auditor/_data/gcp_roles/roles.json.gz).

Two sources:

  # from the IAM API (read-only: roles.list with view=FULL), with Application Default Credentials
  python scripts/refresh_gcp_roles.py
  # from an iam-dataset snapshot (https://github.com/iann0036/iam-dataset, MIT): its
  # role_permissions.json, or a folder of per-role JSON files (gcp/roles/*.json)
  python scripts/refresh_gcp_roles.py --from-iam-dataset PATH --commit SHA

It writes roles.json.gz and SOURCE.txt (and, from iam-dataset, copies LICENSE when it sits
beside PATH). Deleted roles are dropped. The output is byte-identical for identical roles.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from auditor import clock
from auditor.access.gcp.role_data import DATA_FILE, encode
from auditor.io import write_atomic

TARGET = Path(__file__).resolve().parent.parent / "auditor" / "_data" / "gcp_roles"


def roles_from_api(client: Any | None = None) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Every predefined role (roles.list without a parent), read-only."""
    from google.cloud import iam_admin_v1

    client = client or iam_admin_v1.IAMClient()
    request = iam_admin_v1.ListRolesRequest(view=iam_admin_v1.RoleView.FULL, page_size=1000)
    roles = {role.name: list(role.included_permissions)
             for role in client.list_roles(request=request) if not role.deleted}
    source = {"origin": "IAM API roles.list (view=FULL)", "retrieved": clock.isoformat(clock.now())}
    return roles, source


def _iam_dataset_records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if path.is_dir():
        for file in sorted(path.glob("*.json")):
            record = json.loads(file.read_text(encoding="utf-8"))
            yield record["name"], record
        return
    document = json.loads(path.read_text(encoding="utf-8"))
    for name, value in document.items():
        # role_permissions.json holds either {name: [perms]} or {name: {includedPermissions...}}
        yield name, value if isinstance(value, dict) else {"includedPermissions": value}


def roles_from_iam_dataset(path: Path, commit: str | None) -> tuple[dict[str, list[str]], dict[str, Any]]:
    roles = {name: list(record.get("includedPermissions", []))
             for name, record in _iam_dataset_records(path) if not record.get("deleted")}
    source = {"origin": "https://github.com/iann0036/iam-dataset (MIT), gcp/roles",
              "commit": commit or "unknown"}
    return roles, source


def source_text(source: dict[str, Any], count: int) -> str:
    lines = [f"{key}: {value}" for key, value in sorted(source.items())]
    lines.append(f"roles: {count} (deleted roles dropped)")
    lines.append(f"format: see auditor/access/gcp/role_data.py; written by scripts/{Path(__file__).name}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from-iam-dataset", type=Path, metavar="PATH",
                        help="role_permissions.json or a folder of per-role JSON files")
    parser.add_argument("--commit", help="the iam-dataset commit the snapshot comes from")
    parser.add_argument("--output", type=Path, default=TARGET, help="target folder")
    args = parser.parse_args(argv)

    if args.from_iam_dataset:
        roles, source = roles_from_iam_dataset(args.from_iam_dataset, args.commit)
        license_file = args.from_iam_dataset.parent / "LICENSE"
        if license_file.is_file():
            shutil.copyfile(license_file, args.output / "LICENSE")
    else:
        roles, source = roles_from_api()
    if not roles:
        print("no roles found: nothing written", file=sys.stderr)
        return 1
    write_data(args.output, roles, source)
    print(f"wrote {len(roles)} roles to {args.output / DATA_FILE}")
    return 0


def write_data(output: Path, roles: dict[str, list[str]], source: dict[str, Any]) -> None:
    for name, content in ((DATA_FILE, encode(roles, source)),
                          ("SOURCE.txt", source_text(source, len(roles)))):
        write_atomic(output / name, content)
        (output / name).chmod(0o644)  # package data: readable by everyone who installs it


if __name__ == "__main__":
    sys.exit(main())
