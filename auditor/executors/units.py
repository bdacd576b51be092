"""The one code path that scans units, shared by every executor.

``scan_unit`` runs a unit's tasks on the provider-neutral runner (with the profile's
``max_workers`` bound); ``run_units`` runs many units through an executor, one runner task per
unit, so progress, cancellation and streaming work the same for local and remote units.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from auditor import plugins
from auditor.errors import AuditorError
from auditor.executors.base import (
    UNKNOWN_ACCOUNT,
    Executor,
    ScanPlan,
    ScanUnit,
    UnitJob,
    UnitScanner,
)
from auditor.inventory import CollectionError, Inventory
from auditor.scanners.base import ScanSettings
from auditor.scanners.runner import Record, Task, run_tasks

_MESSAGE_LIMIT = 500


class WholeProvider:
    """A scanner that cannot split its work: its whole scan is one unit, ``PROVIDER:all``."""

    UNIT_ID = "all"

    def __init__(self, scanner: Any):
        self.scanner = scanner
        self.provider: str = scanner.provider

    def plan(self, config: Mapping[str, Any], settings: ScanSettings) -> ScanPlan:
        return ScanPlan(units=[ScanUnit(self.provider, self.UNIT_ID, UNKNOWN_ACCOUNT)])

    def unit_tasks(self, config: Mapping[str, Any], settings: ScanSettings,
                   unit: ScanUnit) -> Sequence[Task]:
        return [Task(label=f"{self.provider} scan", service="scan",
                     run=lambda _: self.scanner.scan(config, settings))]

    def classify_error(self, task: Task, exc: Exception) -> CollectionError:
        if isinstance(exc, AuditorError):
            raise exc  # bad configuration stops the scan, as it would without units
        return unit_failure(self.provider, task.account or UNKNOWN_ACCOUNT, task, exc)


def unit_scanner(provider: str) -> UnitScanner:
    scanner = plugins.get("auditor.scanners", provider)()
    return scanner if isinstance(scanner, UnitScanner) else WholeProvider(scanner)


def unit_failure(provider: str, account: str, task: Task, exc: BaseException) -> CollectionError:
    """A unit, or a task of a scanner without its own classification, failed as a whole."""
    message = " ".join(f"{type(exc).__name__}: {exc}".split())[:_MESSAGE_LIMIT]
    return CollectionError(provider=provider, account=account, service=task.service or "scan",
                           operation=task.label, code=type(exc).__name__, message=message,
                           region=task.region, resource_id=task.resource_id)


def scan_unit(job: UnitJob) -> Iterator[Record]:
    """Scan one unit in this process and stream its records."""
    scanner = unit_scanner(job.provider)
    tasks = scanner.unit_tasks(job.config, job.settings, job.unit)
    yield from run_tasks(tasks, max_workers=max(1, job.settings.max_workers),
                         classify_error=scanner.classify_error)


def collect_unit(job: UnitJob) -> Inventory:
    """Scan one unit and return its inventory (what a remote worker sends back)."""
    inventory = Inventory()
    inventory.add(scan_unit(job))
    return inventory


def run_units(executor: Executor, jobs: Sequence[UnitJob]) -> Iterator[Record]:
    """Scan ``jobs`` through ``executor``, up to ``executor.max_units`` at once, streaming."""

    def classify(task: Task, exc: Exception) -> CollectionError:
        if not executor.unit_failures_are_data:
            raise exc  # units record their own failures: what escapes one is a bug
        job = by_label[task.label]
        return unit_failure(job.provider, job.unit.account, task, exc)

    def run_one(job: UnitJob) -> Any:
        return lambda _: executor.unit_records(job)

    by_label = {f"scan {job.unit.key}": job for job in jobs}
    tasks = [Task(label=label, run=run_one(job), service="scan", account=job.unit.account)
             for label, job in by_label.items()]
    yield from run_tasks(tasks, max_workers=max(1, min(executor.max_units, len(tasks) or 1)),
                         classify_error=classify)


def scan_planned(scanner: UnitScanner, config: Mapping[str, Any], settings: ScanSettings,
                 executor: Executor) -> Iterator[Record]:
    """Plan, then scan every unit: a whole provider scan (the ``Scanner.scan`` contract)."""
    plan = scanner.plan(config, settings)
    yield from plan.records
    yield from run_units(executor, [UnitJob(scanner.provider, config, settings, unit)
                                    for unit in plan.units])
