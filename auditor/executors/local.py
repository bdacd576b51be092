"""The default executor: units run in this process, ``max_units`` at a time, each on its own
bounded thread pool."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.executors.base import DEFAULT_MAX_ACCOUNTS, UnitJob
from auditor.executors.units import scan_unit
from auditor.scanners.runner import Record


class InProcessExecutor:
    unit_failures_are_data = False

    def __init__(self, max_units: int = DEFAULT_MAX_ACCOUNTS):
        if max_units < 1:
            raise ValueError(f"max_units must be at least 1, not {max_units}")
        self.max_units = max_units

    def unit_records(self, job: UnitJob) -> Iterator[Record]:
        return scan_unit(job)

    def close(self) -> None:
        """Nothing to release: the units' thread pools end with their scans."""
