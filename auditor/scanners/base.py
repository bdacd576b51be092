"""The scanner plugin contract.

A scanner is registered under the ``auditor.scanners`` entry point with its provider name
(``aws``, ``gcp``) and owns the ``[profiles.NAME.<provider>]`` table of audit.toml.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from auditor.inventory import CollectionError, Resource, Scope


@dataclass(frozen=True, slots=True)
class Option:
    """One key of a scanner's profile table: its type and what it means."""

    kind: type | tuple[type, ...]
    help: str
    default: Any = None
    item_kind: type | None = None  # for lists: the type of each item


@dataclass(slots=True)
class ScanSettings:
    """Provider-neutral scan settings from the profile's [scan] table."""

    object_sample_size: int = 50
    # object ACLs are read for this many of the sampled objects (each is one API call)
    object_acl_sample_size: int = 10
    max_workers: int = 8  # concurrent API calls per account or project (APIs throttle per account)
    max_accounts: int = 4  # accounts or projects scanned at the same time in this process
    extra: dict[str, Any] = field(default_factory=dict)

    def collection_settings(self) -> dict[str, Any]:
        """The settings that decide what is collected (not how fast): two scans with the same
        ones describe the same cloud the same way, whatever their concurrency."""
        return {key: value for key, value in asdict(self).items() if key not in _CONCURRENCY}


# how many calls or accounts run at once: never changes what a scan collects
_CONCURRENCY = ("max_workers", "max_accounts")


class Scanner(Protocol):
    provider: str
    # key -> Option: validated by config.py, so a scanner receives only known, typed keys
    options: Mapping[str, Option]
    # the read-only API permissions this scanner needs, e.g. "s3:GetBucketPolicy"
    permissions: tuple[str, ...]

    def scan(self, config: Mapping[str, Any],
             settings: ScanSettings) -> Iterator[Resource | CollectionError | Scope]:
        """Yield what was asked for (a Scope per account or project), then resources and
        collection errors as they are found; never raise for a failed call."""
