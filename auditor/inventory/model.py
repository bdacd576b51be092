"""Inventory records.

A ``Resource`` is provider-neutral: rules, access analysis and reports only look at its
``type`` (``<provider>.<service>.<kind>``, see docs/inventory.md) and its ``attributes``.
Whatever a scanner could not collect is named in ``Resource.unknown`` and explained by a
``CollectionError``, so that nothing downstream mistakes missing data for a pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1


@dataclass(slots=True)
class Resource:
    id: str
    type: str
    provider: str
    account: str
    name: str
    region: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # attribute names whose collection failed; rules that read them report ERROR, not PASS
    unknown: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CollectionError:
    provider: str
    account: str
    service: str
    operation: str
    code: str
    message: str
    region: str | None = None
    resource_id: str | None = None
    attribute: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Scope:
    """One unit of what was asked for: an account or project, with its regions and services."""

    provider: str
    account: str
    regions: tuple[str, ...] = ()
    services: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "account": self.account,
                "regions": list(self.regions), "services": list(self.services)}


@dataclass(slots=True)
class Inventory:
    resources: list[Resource] = field(default_factory=list)
    errors: list[CollectionError] = field(default_factory=list)
    scopes: list[Scope] = field(default_factory=list)
    _index: dict[str, Resource] | None = field(default=None, repr=False, compare=False)

    def add(self, items: Iterable[Resource | CollectionError | Scope]) -> None:
        for item in items:
            if isinstance(item, Resource):
                self.resources.append(item)
            elif isinstance(item, CollectionError):
                self.errors.append(item)
            else:
                self.scopes.append(item)
        self._index = None

    def merge(self, other: Inventory) -> None:
        self.add([*other.scopes, *other.resources, *other.errors])

    def get(self, resource_id: str) -> Resource | None:
        if self._index is None:
            self._index = {r.id: r for r in self.resources}
        return self._index.get(resource_id)

    def of_type(self, *types: str) -> Iterator[Resource]:
        return (r for r in self.resources if r.type in types)

    def errors_for(self, resource_id: str) -> list[CollectionError]:
        return [e for e in self.errors if e.resource_id == resource_id]

    def sort(self) -> None:
        """Put records in a canonical order so that the same cloud gives the same bytes."""
        # one id can be held by several accounts (an AWS-managed policy in use in each): the
        # account breaks the tie, so the order never depends on which account finished first
        self.resources.sort(key=lambda r: (r.type, r.id, r.account))
        self.errors.sort(key=lambda e: (e.provider, e.account, e.region or "", e.service,
                                        e.operation, e.resource_id or "", e.attribute or "", e.code))
        self.scopes.sort(key=lambda s: (s.provider, s.account))
        self._index = None
