"""Building one resource attribute by attribute, so that one failed call costs one attribute.

``ResourceDraft.read`` (one API call) and ``ResourceDraft.guard`` (any collection step) are the
single place where a failure becomes a ``CollectionError`` plus an ``unknown`` entry, and a
"not configured" answer becomes ``null``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from auditor.inventory import CollectionError, Resource
from auditor.scanners.aws.api import AwsApi
from auditor.scanners.aws.errors import ErrorScope, is_not_configured
from auditor.scanners.base import ScanSettings

# not attributes: read like them, stored in Resource.tags and Resource.region
TAGS = "tags"
REGION = "region"


@dataclass(frozen=True, slots=True)
class AwsContext:
    """What every AWS collection step needs to know about the scan."""

    api: AwsApi
    account: str
    partition: str
    regions: tuple[str, ...]
    settings: ScanSettings

    def scope(self, service: str, region: str | None = None,
              resource_id: str | None = None) -> ErrorScope:
        return ErrorScope(self.account, service, region, resource_id)


@dataclass(slots=True)
class ResourceDraft:
    context: AwsContext
    id: str
    type: str
    name: str
    region: str | None  # the resource's region: calls about it go there
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    errors: list[CollectionError] = field(default_factory=list)
    # the account the resource describes, when not the scanned one (an organization's member
    # accounts, read from its management account)
    account: str | None = None

    @property
    def service(self) -> str:
        return self.type.split(".")[1]

    def read(self, names: str | tuple[str, ...], operation: str,
             parse: Callable[[dict[str, Any]], Any], *, absent: Any = None,
             service: str | None = None, **params: Any) -> bool:
        """Set ``names`` from one call; ``parse`` returns one value per name (a tuple for
        several). Returns False when the call failed."""
        service = service or self.service

        def produce() -> Any:
            return parse(self.context.api.call(service, operation, region=self.region,
                                               **params))

        return self.guard(names, operation, produce, absent=absent, service=service)

    def guard(self, names: str | tuple[str, ...], operation: str, produce: Callable[[], Any],
              *, absent: Any = None, service: str | None = None) -> bool:
        names = (names,) if isinstance(names, str) else names
        try:
            value = produce()
        except Exception as exc:  # every failure of one attribute is data, never a crash
            if not is_not_configured(exc, operation):
                self.fail(names, exc, operation, service=service)
                return False
            value = absent
        if value is None:
            value = (None,) * len(names) if len(names) > 1 else None
        values = (value,) if len(names) == 1 else value
        for name, item in zip(names, values, strict=True):
            self.set(name, item)
        return True

    def set(self, name: str, value: Any) -> None:
        if name == TAGS:
            self.tags = value or {}
        elif name == REGION:
            self.region = value
        else:
            self.attributes[name] = value

    def fail(self, names: tuple[str, ...], exc: BaseException, operation: str, *,
             service: str | None = None) -> None:
        """``names`` could not be collected: null, listed as unknown, explained by an error."""
        self.mark_unknown(*names)
        self.note_failure(names, exc, operation, service=service)

    def mark_unknown(self, *names: str) -> None:
        """Null and unknown, when the error that explains it is recorded once elsewhere (a
        listing that failed for a whole region or account)."""
        for name in names:
            if name not in (TAGS, REGION):
                self.attributes[name] = None
            if name not in self.unknown:
                self.unknown.append(name)

    def note_failure(self, names: tuple[str, ...], exc: BaseException, operation: str, *,
                     service: str | None = None, detail: str = "") -> None:
        """Record a failure without touching attribute values (for a part of an attribute)."""
        self.unknown.extend(name for name in names if name not in self.unknown)
        scope = replace(self.context.scope(self.service, self.region, self.id),
                        service=service or self.service)
        error = scope.error(exc, operation, attribute=names[0])
        if detail:
            error = replace(error, message=f"{error.message} ({detail})")
        self.errors.append(error)

    def records(self) -> Iterator[Resource | CollectionError]:
        yield Resource(id=self.id, type=self.type, provider="aws",
                       account=self.account or self.context.account,
                       name=self.name, region=self.region, attributes=self.attributes,
                       tags=dict(sorted(self.tags.items())), unknown=sorted(self.unknown))
        yield from self.errors
