"""Scanning every provider of a profile: plan each one, keep the units of this shard (all of
them without sharding), and run them through an executor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from auditor.executors.base import Executor, ScanPlan, UnitJob, max_accounts
from auditor.executors.local import InProcessExecutor
from auditor.executors.units import run_units, unit_scanner
from auditor.inventory import Inventory
from auditor.inventory.shard import ShardSection, ShardSpec, plan_digest, plan_key
from auditor.scanners.base import ScanSettings

Log = Callable[[str], None]


@dataclass(slots=True)
class ScanOutcome:
    inventory: Inventory
    shard: ShardSection | None = None  # set for a partial (sharded) scan


def scan_providers(providers: Mapping[str, Mapping[str, Any]], settings: ScanSettings, *,
                   executor: Executor | None = None, shard: ShardSpec | None = None,
                   log: Log | None = None, profile: str | None = None) -> ScanOutcome:
    """Scan ``providers`` (provider -> its profile table). Planning runs here, whatever the
    executor; with ``shard``, only the units (and planning records) that shard owns.
    ``profile`` names the scan in a partial inventory, so that parts of different profiles
    are not merged."""
    own_executor = executor is None
    executor = executor or InProcessExecutor(max_accounts(settings))
    try:
        plans: dict[str, ScanPlan] = {}
        for provider, config in providers.items():
            if log:
                log(f"planning {provider}: listing accounts or projects")
            plans[provider] = unit_scanner(provider).plan(config, settings)
        keys = [unit.key for plan in plans.values() for unit in plan.units]
        if len(set(keys)) != len(keys):
            raise ValueError(f"a scanner planned the same unit twice: {sorted(keys)}")
        inventory = Inventory()
        scanned: list[str] = []
        for provider, plan in plans.items():
            jobs = _jobs(provider, providers[provider], settings, plan, shard)
            if log:
                log(f"scanning {provider}: {len(jobs)} of {len(plan.units)} units"
                    + (f" (shard {shard})" if shard else ""))
            if shard is None or shard.owns(plan_key(provider)):
                inventory.add(plan.records)
            inventory.add(run_units(executor, jobs))
            scanned += [job.unit.key for job in jobs]
    finally:
        if own_executor:
            executor.close()
    inventory.sort()
    # what decides the data, besides the units: the provider tables and the sample sizes
    decisive = {"providers": providers, "scan": settings.collection_settings()}
    section = (ShardSection(shard.index, shard.count, plan_digest(keys, decisive), len(keys),
                            tuple(sorted(scanned)), profile) if shard else None)
    return ScanOutcome(inventory, section)


def _jobs(provider: str, config: Mapping[str, Any], settings: ScanSettings, plan: ScanPlan,
          shard: ShardSpec | None) -> list[UnitJob]:
    return [UnitJob(provider, config, settings, unit) for unit in plan.units
            if shard is None or shard.owns(unit.key)]
