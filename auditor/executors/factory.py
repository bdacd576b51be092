"""The executor named on the command line (``--executor``)."""

from __future__ import annotations

from auditor.errors import ConfigError
from auditor.executors.base import DEFAULT_MAX_ACCOUNTS, Executor
from auditor.executors.local import InProcessExecutor

LOCAL = "local"


def executor_for(spec: str | None, max_units: int = DEFAULT_MAX_ACCOUNTS) -> Executor:
    """``None`` or ``local``: this process; ``dask://HOST:PORT``: a Dask cluster."""
    if spec in (None, "", LOCAL):
        return InProcessExecutor(max_units)
    if spec.startswith("dask://"):
        from auditor.executors.dask_cluster import DaskExecutor

        return DaskExecutor(spec)
    raise ConfigError(f"unknown executor {spec!r} (use {LOCAL} or dask://HOST:PORT)",
                      location="--executor")
