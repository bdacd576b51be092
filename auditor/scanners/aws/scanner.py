"""The AWS scanner plugin (entry point ``auditor.scanners: aws``).

A ``UnitScanner`` (auditor.executors.base): ``plan`` lists the accounts (and the organization's
metadata) as units, ``unit_tasks`` scans one. ``scan`` runs every unit in this process, which
is what an executor does with them too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from auditor.executors.base import ScanPlan, ScanUnit, max_accounts
from auditor.executors.local import InProcessExecutor
from auditor.executors.units import scan_planned
from auditor.inventory import CollectionError, Resource, Scope
from auditor.scanners.aws import units
from auditor.scanners.aws.api import ENTRY_PERMISSIONS, PERMISSIONS
from auditor.scanners.aws.errors import classify_task_error
from auditor.scanners.aws.options import OPTIONS, AwsOptions
from auditor.scanners.base import Option, ScanSettings
from auditor.scanners.runner import Task


class AwsScanner:
    provider = units.PROVIDER
    options: Mapping[str, Option] = OPTIONS
    permissions: tuple[str, ...] = PERMISSIONS
    # needed besides, by the base identity only, to enter the other accounts it scans
    entry_permissions: tuple[str, ...] = ENTRY_PERMISSIONS

    def plan(self, config: Mapping[str, Any], settings: ScanSettings) -> ScanPlan:
        return units.plan(AwsOptions.from_config(config), settings)

    def unit_tasks(self, config: Mapping[str, Any], settings: ScanSettings,
                   unit: ScanUnit) -> Sequence[Task]:
        return units.unit_tasks(AwsOptions.from_config(config), settings, unit)

    def classify_error(self, task: Task, exc: Exception) -> CollectionError:
        return classify_task_error(task, exc)

    def scan(self, config: Mapping[str, Any],
             settings: ScanSettings) -> Iterator[Resource | CollectionError | Scope]:
        return scan_planned(self, config, settings, InProcessExecutor(max_accounts(settings)))
