"""Three-valued logic: a condition is true, false, or unknown (``None``) when it depends on
data that could not be collected. Unknown is never read as false: it makes a rule's outcome
``error`` unless the known facts already decide the answer (Kleene's strong logic)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from auditor.access.model import AccessGrant

Truth = bool | None


def all3(values: Iterable[Truth]) -> Truth:
    """False as soon as one value is false; else unknown if any is; else true."""
    unknown = False
    for value in values:
        if value is False:
            return False
        unknown = unknown or value is None
    return None if unknown else True


def any3(values: Iterable[Truth]) -> Truth:
    """True as soon as one value is true; else unknown if any is; else false."""
    unknown = False
    for value in values:
        if value is True:
            return True
        unknown = unknown or value is None
    return None if unknown else False


def not3(value: Truth) -> Truth:
    return None if value is None else not value


@dataclass(slots=True)
class Trace:
    """What an evaluation touched: the reasons for unknowns and the proof of a failure."""

    subject: str  # the id of the resource being judged
    unknown: list[str] = field(default_factory=list)
    grants: list[AccessGrant] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    # list attribute path -> the items that satisfied an `each ... any` test
    matches: dict[str, list[Any]] = field(default_factory=dict)
    # why grants that proved a failure might not hold after all (a deny policy not collected)
    caveats: list[str] = field(default_factory=list)

    def note(self, resource_id: str, reason: str) -> None:
        """Record why something is unknown; reasons about other resources name them."""
        self.unknown.append(reason if resource_id == self.subject else f"{resource_id}: {reason}")
