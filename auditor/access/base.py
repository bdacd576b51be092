"""The access-analyzer plugin contract (entry point group ``auditor.analyzers``).

One analyzer per provider. Rules and reports consume only what it returns (auditor.access.model).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from auditor.access.model import AccessGrant, AssetAccess
from auditor.classify.model import Classification
from auditor.inventory import Inventory


class Analyzer(Protocol):
    provider: str

    def handles(self, resource_ref: str) -> bool:
        """True for resource ids this analyzer answers for (``arn:aws:s3:::b``, ``gs://b``...)."""

    def analyze(self, inventory: Inventory,
                classifications: dict[str, Classification]) -> Iterable[AssetAccess]:
        """Who can read, write, delete and administer each sensitive asset of this provider."""

    def who_can(self, inventory: Inventory, resource_ref: str, action: str) -> list[AccessGrant]:
        """Every principal that may perform ``action`` (an access class or a concrete action)."""
