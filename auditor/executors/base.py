"""Scan units and executors: how a scan is split up, and the interface of what runs the parts.

A *unit* is a part of a provider's scope that can be scanned on its own, anywhere: an AWS
account, an AWS organization's metadata, a GCP project. A scanner that can split its work
implements ``UnitScanner``: ``plan`` lists the units (cheap listing calls), ``unit_tasks``
gives the runner tasks that scan one unit. Units and jobs are plain picklable data without
secrets: a remote worker rebuilds clients from its own credentials.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from auditor.inventory import CollectionError
from auditor.scanners.base import ScanSettings
from auditor.scanners.runner import Record, Task

# accounts (or projects) scanned at the same time in this process, each with its own
# [scan] max_workers bound, which is per account because cloud APIs throttle per account
DEFAULT_MAX_ACCOUNTS = ScanSettings().max_accounts
# the account of a collection error when it is not known (docs/inventory.md)
UNKNOWN_ACCOUNT = "unknown"


@dataclass(frozen=True, slots=True)
class ScanUnit:
    provider: str
    id: str  # unique within the provider: "123456789012", "organization", a project id
    account: str  # the account or project that the unit's collection errors are charged to
    # what the scanner needs to scan the unit (JSON-like data, never credentials)
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """Unique across providers; what shards are computed from."""
        return f"{self.provider}:{self.id}"


@dataclass(slots=True)
class ScanPlan:
    units: list[ScanUnit] = field(default_factory=list)
    # what planning itself found: collection errors of the listing calls
    records: list[Record] = field(default_factory=list)


@runtime_checkable
class UnitScanner(Protocol):
    provider: str

    def plan(self, config: Mapping[str, Any], settings: ScanSettings) -> ScanPlan:
        """List the units to scan; failures are records of the plan, never exceptions (bad
        configuration raises ConfigError)."""

    def unit_tasks(self, config: Mapping[str, Any], settings: ScanSettings,
                   unit: ScanUnit) -> Sequence[Task]:
        """The runner tasks that scan one unit; the first record they yield is its Scope."""

    def classify_error(self, task: Task, exc: Exception) -> CollectionError:
        """The collection error for an exception that escaped one of the unit's tasks."""


@dataclass(frozen=True, slots=True)
class UnitJob:
    """Everything needed to scan one unit, wherever that happens."""

    provider: str
    config: Mapping[str, Any]
    settings: ScanSettings
    unit: ScanUnit


class Executor(Protocol):
    """Runs the scan of one unit (here, or elsewhere and waits for it); ``run_units`` runs up
    to ``max_units`` of them at once and streams their records."""

    max_units: int
    # True: an exception escaping a whole unit is an operational failure (a lost worker)
    # recorded as a collection error; False: it can only be a bug, and surfaces
    unit_failures_are_data: bool

    def unit_records(self, job: UnitJob) -> Iterable[Record]: ...

    def close(self) -> None: ...


def max_accounts(settings: ScanSettings) -> int:
    """``[scan] max_accounts``: units scanned at once in this process."""
    return max(1, settings.max_accounts)
