"""The shapes every provider's access analyzer returns.

Rules and reports read these and nothing provider-specific: a principal is an id string
(an AWS ARN, ``arn:aws:iam::ACCOUNT:root`` for another account, a GCP member, or ``*`` /
``allUsers`` / ``allAuthenticatedUsers`` for the public).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

AccessClass = str  # "read", "write", "delete", "admin", or a concrete action for ad-hoc queries
ACCESS_CLASSES: tuple[str, ...] = ("read", "write", "delete", "admin")
PrincipalKind = Literal["user", "role", "group", "external-account", "service", "public",
                        "service-account", "domain"]
Decision = Literal["allow", "conditional"]
PUBLIC_PRINCIPALS = frozenset({"*", "allUsers", "allAuthenticatedUsers"})


@dataclass(frozen=True, slots=True)
class PathStep:
    """One hop of a proof: ``principal`` may do ``action`` because ``statement`` of ``policy`` says so."""

    principal: str
    action: str
    policy: str
    statement: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class AccessGrant:
    principal: str
    kind: PrincipalKind
    human: bool | None
    access: AccessClass
    action: str
    decision: Decision
    conditions: tuple[dict[str, Any], ...] = ()
    path: tuple[PathStep, ...] = ()

    @property
    def public(self) -> bool:
        return self.kind == "public"

    @property
    def external(self) -> bool:
        return self.kind in ("external-account", "domain") or self.principal in PUBLIC_PRINCIPALS

    def to_dict(self) -> dict[str, Any]:
        return {"principal": self.principal, "kind": self.kind, "human": self.human,
                "access": self.access, "action": self.action, "decision": self.decision,
                "conditions": list(self.conditions), "path": [s.to_dict() for s in self.path]}


@dataclass(slots=True)
class AssetAccess:
    """Everything known about who can touch one asset."""

    resource_id: str
    grants: list[AccessGrant] = field(default_factory=list)
    # why more principals than listed may have access (a policy that was not collected, say)
    unknown: list[str] = field(default_factory=list)
    # why some listed grants may not hold (a deny policy that was not collected): these
    # cannot add principals, so "nobody" answers stay certain
    may_not_hold: list[str] = field(default_factory=list)
    # gaps that can add principals for some access classes only (object ACLs that could not
    # be read grant reads and ACL changes, never writes or deletes): access class -> why
    unknown_for: dict[str, list[str]] = field(default_factory=dict)

    def who(self, access: AccessClass) -> list[AccessGrant]:
        return [g for g in self.grants if g.access == access]

    def unknown_about(self, access: AccessClass) -> list[str]:
        """Why more principals than listed may have ``access``."""
        return [*self.unknown, *self.unknown_for.get(access, ())]

    def all_unknown(self) -> list[str]:
        """Every gap, whatever access it concerns (for reports)."""
        return sorted({*self.unknown, *(why for notes in self.unknown_for.values()
                                        for why in notes)})


@dataclass(slots=True)
class AccessMap:
    assets: dict[str, AssetAccess] = field(default_factory=dict)

    def for_resource(self, resource_id: str) -> AssetAccess | None:
        return self.assets.get(resource_id)
