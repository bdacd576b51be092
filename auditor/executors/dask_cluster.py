"""Units on a Dask distributed cluster (``--executor dask://HOST:PORT``).

Each unit is one Dask task running ``collect_unit`` on a worker, which returns the unit's
inventory. Workers need the auditor installed and their own cloud credentials (the same
profile or environment as here): jobs carry configuration, never secrets. At most
``max_units`` units are in flight (by default, every worker thread of the cluster busy).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from auditor.errors import ConfigError
from auditor.executors.base import UnitJob
from auditor.executors.units import collect_unit
from auditor.scanners.runner import Record

SCHEME = "dask"
CONNECT_TIMEOUT_SECONDS = 30


def scheduler_address(url: str) -> str:
    """``dask://HOST:PORT`` -> ``tcp://HOST:PORT``."""
    parsed = urlparse(url)
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme != SCHEME or not parsed.hostname or port is None or parsed.path not in ("", "/"):
        raise ConfigError(f"expected dask://HOST:PORT, not {url!r}", location="--executor")
    host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
    return f"tcp://{host}:{port}"


class DaskExecutor:
    unit_failures_are_data = True  # a lost worker costs its unit, not the scan

    def __init__(self, url: str, max_units: int | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT_SECONDS):
        address = scheduler_address(url)
        try:
            from distributed import Client
        except ImportError:
            raise ConfigError("--executor dask:// needs Dask: pip install 'dask[distributed]'",
                              location="--executor") from None
        try:
            self._client: Any = Client(address, timeout=connect_timeout,
                                       set_as_default=False)
        except OSError as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}",
                              location="--executor") from None
        self.max_units = max_units or max(1, sum(self._client.nthreads().values()))

    def unit_records(self, job: UnitJob) -> Iterator[Record]:
        # a unique key: Dask would otherwise reuse the result of an earlier, identical job
        future = self._client.submit(collect_unit, job, pure=False,
                                     key=f"auditor-{job.unit.key}-{uuid.uuid4().hex}")
        try:
            inventory = future.result()
        finally:
            future.release()
        yield from inventory.scopes
        yield from inventory.resources
        yield from inventory.errors

    def close(self) -> None:
        self._client.close()
