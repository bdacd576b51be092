"""The GCP scanner plugin (entry point ``auditor.scanners``: ``gcp``).

Profile table ``[profiles.NAME.gcp]``:

* ``organization``, ``folders``, ``projects``: where to start (ids; any of them). Everything
  below is scanned, and every node above is read for the policies it passes down.
* ``storage_endpoint``: a Cloud Storage emulator (``STORAGE_EMULATOR_HOST`` works too).
* ``cai_export``: read a Cloud Asset Inventory export (JSON lines) instead of calling APIs;
  it gives the same inventory.

Live scans use Application Default Credentials with a read-only scope.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError
from auditor.inventory import CollectionError, Resource, Scope
from auditor.scanners.base import Option, ScanSettings
from auditor.scanners.gcp import ids
from auditor.scanners.gcp.operations import PERMISSIONS


def _ids(value: Any) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


class GcpScanner:
    provider = ids.PROVIDER
    options: Mapping[str, Option] = {
        "organization": Option((str, list), "organization id(s) to scan, e.g. \"123456789\"",
                               None, item_kind=str),
        "folders": Option(list, "folder ids to scan", [], item_kind=str),
        "projects": Option(list, "project ids to scan", [], item_kind=str),
        "storage_endpoint": Option(str, "Cloud Storage emulator endpoint (or STORAGE_EMULATOR_HOST)"),
        "cai_export": Option(str, "read this Cloud Asset Inventory export (JSON lines) instead "
                                  "of calling APIs"),
    }
    permissions: tuple[str, ...] = PERMISSIONS

    def scan(self, config: Mapping[str, Any],
             settings: ScanSettings) -> Iterator[Resource | CollectionError | Scope]:
        if config.get("cai_export"):
            from auditor.scanners.gcp.cai import read_export

            yield from read_export(Path(config["cai_export"]), settings)
            return
        organizations, folders, projects = (_ids(config.get(key))
                                            for key in ("organization", "folders", "projects"))
        if not (organizations or folders or projects):
            raise ConfigError("name what to scan: organization, folders, projects, or cai_export",
                              location="gcp")
        # Google client libraries load only when a live scan runs
        from auditor.scanners.gcp.clients import GcpClients
        from auditor.scanners.gcp.live import scan_live

        clients = GcpClients.from_environment(config.get("storage_endpoint"))
        yield from scan_live(clients, settings, organizations=organizations, folders=folders,
                             projects=projects)
