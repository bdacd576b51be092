"""The GCP scanner plugin (entry point ``auditor.scanners``: ``gcp``).

Profile table ``[profiles.NAME.gcp]`` (auditor.scanners.gcp.options):

* ``organization``, ``folders``, ``projects``: where to start (ids; any of them). Everything
  below is scanned, and every node above is read for the policies it passes down.
* ``exclude_folders``, ``exclude_projects``: what discovery leaves out.
* ``storage_endpoint``: a Cloud Storage emulator (``STORAGE_EMULATOR_HOST`` works too).
* ``cai_export``: read a Cloud Asset Inventory export (JSON lines) instead of calling APIs;
  it gives the same inventory.

A ``UnitScanner`` (auditor.executors.base), like the AWS one: ``plan`` discovers the hierarchy
and makes one unit per organization, folder and project, ``unit_tasks`` scans one, so that
projects are sharded and distributed exactly as AWS accounts are. An export is one unit.
Live scans use Application Default Credentials with a read-only scope.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from auditor.errors import AuditorError, ConfigError
from auditor.executors.base import UNKNOWN_ACCOUNT, ScanPlan, ScanUnit, max_accounts
from auditor.executors.local import InProcessExecutor
from auditor.executors.units import WholeProvider, scan_planned, unit_failure
from auditor.inventory import CollectionError, Resource, Scope
from auditor.scanners.base import Option, ScanSettings
from auditor.scanners.gcp import ids
from auditor.scanners.gcp.operations import PERMISSIONS
from auditor.scanners.gcp.options import OPTIONS, GcpOptions, Targets
from auditor.scanners.runner import Record, Task

EXPORT_SERVICE = "cai"


class GcpScanner:
    provider = ids.PROVIDER
    options: Mapping[str, Option] = OPTIONS
    permissions: tuple[str, ...] = PERMISSIONS

    def plan(self, config: Mapping[str, Any], settings: ScanSettings) -> ScanPlan:
        options = GcpOptions.from_config(config)
        if options.cai_export:
            # one local file, read at once: not worth splitting
            return ScanPlan(units=[ScanUnit(self.provider, WholeProvider.UNIT_ID, UNKNOWN_ACCOUNT)])
        if options.targets.empty:
            raise ConfigError("name what to scan: organization, folders, projects, or cai_export",
                              location="gcp")
        # Google client libraries load only when a live scan runs
        from auditor.scanners.gcp.live import plan_live

        return plan_live(_context(options, settings), options.targets)

    def unit_tasks(self, config: Mapping[str, Any], settings: ScanSettings,
                   unit: ScanUnit) -> Sequence[Task]:
        options = GcpOptions.from_config(config)
        if options.cai_export:
            export = Path(options.cai_export)
            return [Task(f"read {export.name}", service=EXPORT_SERVICE,
                         run=lambda _: _read_export(export, settings, options.targets))]
        from auditor.scanners.gcp.live import unit_tasks

        return unit_tasks(_context(options, settings), unit)

    def classify_error(self, task: Task, exc: Exception) -> CollectionError:
        if isinstance(exc, AuditorError):
            raise exc  # a malformed export or bad configuration stops the scan
        if task.service == EXPORT_SERVICE:
            return unit_failure(self.provider, UNKNOWN_ACCOUNT, task, exc)
        from auditor.scanners.gcp.errors import task_error_classifier

        return task_error_classifier()(task, exc)

    def scan(self, config: Mapping[str, Any],
             settings: ScanSettings) -> Iterator[Resource | CollectionError | Scope]:
        return scan_planned(self, config, settings, InProcessExecutor(max_accounts(settings)))


def _context(options: GcpOptions, settings: ScanSettings) -> Any:
    from auditor.scanners.gcp.api import GcpApi
    from auditor.scanners.gcp.clients import shared_clients
    from auditor.scanners.gcp.context import ScanContext

    return ScanContext(GcpApi(), shared_clients(options.storage_endpoint), settings)


def _read_export(path: Path, settings: ScanSettings, targets: Targets) -> Iterator[Record]:
    from auditor.scanners.gcp.cai import read_export

    found = list(read_export(path, settings))
    if not (targets.exclude_folders or targets.exclude_projects):
        return iter(found)
    return iter(without_excluded(found, targets))


def without_excluded(found: list[Record], targets: Targets) -> list[Record]:
    """The records of an export that a live scan with the same exclusions would collect: none
    of an excluded project, or of an excluded folder or anything below it."""
    project_ancestors = {r.account: r.attributes.get("ancestors") or []
                         for r in found if isinstance(r, Resource) and r.type == ids.PROJECT}

    def excluded(record: Record) -> bool:
        if targets.excludes_project(record.account):
            return True
        ancestors = (record.attributes.get("ancestors") or [] if isinstance(record, Resource)
                     else project_ancestors.get(record.account, []))
        return any(targets.excludes_folder(node) for node in ancestors)

    return [record for record in found if not excluded(record)]
