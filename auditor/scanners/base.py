"""The scanner plugin contract.

A scanner is registered under the ``auditor.scanners`` entry point with its provider name
(``aws``, ``gcp``) and owns the ``[profiles.NAME.<provider>]`` table of audit.toml.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
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
    max_workers: int = 8
    extra: dict[str, Any] = field(default_factory=dict)


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
