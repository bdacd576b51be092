"""The deliverer plugin contract (entry point group ``auditor.deliverers``).

A deliverer owns some keys of a profile's ``[profiles.NAME.deliver]`` table (``options``) and
is used when its ``enabled_by`` key is set. Stores (a directory, a bucket) run first;
notifiers (email, a webhook) run after them and are told where the run was stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from auditor.scanners.base import Option

if TYPE_CHECKING:
    from auditor.deliver.bundle import RunBundle
    from auditor.deliver.retry import Retry
    from auditor.deliver.secrets import Secrets


class DeliveryError(Exception):
    """A target could not take the run; the message says why and holds no secret."""


class TransientDeliveryError(DeliveryError):
    """A failure worth trying again (a dropped connection, throttling, a 5xx, SMTP 4xx)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(slots=True)
class DeliveryContext:
    retry: Retry
    secrets: Secrets
    # where the stores put this run, for notifiers to point at ("s3://bucket/prefix/STAMP/")
    stored: list[str] = field(default_factory=list)


class Deliverer(Protocol):
    name: str
    options: Mapping[str, Option]
    enabled_by: str
    notifies: bool

    def check(self, settings: Mapping[str, Any]) -> None:
        """Raise ConfigError (location ``deliver.KEY``) for a setting that cannot work."""

    def destination(self, settings: Mapping[str, Any]) -> str:
        """Where it delivers, for people and logs: never a secret."""

    def deliver(self, run: RunBundle, settings: Mapping[str, Any], context: DeliveryContext) -> str:
        """Deliver the run; returns where it now is. Raises DeliveryError when it cannot."""


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    target: str  # the deliverer's name: directory, s3, gs, email, webhook
    destination: str
    ok: bool
    location: str | None = None  # where the run is now, when ok
    error: str | None = None  # why not, when not ok
    retries: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "destination": self.destination, "ok": self.ok,
                "location": self.location, "error": self.error, "retries": self.retries}

    def __str__(self) -> str:
        if self.ok:
            return f"delivered: {self.target}: {self.location}"
        return f"not delivered: {self.target} ({self.destination}): {self.error}"
