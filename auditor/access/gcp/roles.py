"""Role -> permissions: the bundled predefined roles plus the custom roles a scan found.

Custom roles are named ``projects/P/roles/R`` or ``organizations/N/roles/R``, which is what
bindings reference. A deleted or disabled custom role grants nothing (its bindings stay in
policies but are inactive). A role found nowhere is *unknown*: ``permissions`` returns None so
that the caller can say so instead of treating it as empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from auditor.access.gcp.role_data import predefined_roles
from auditor.inventory import Resource
from auditor.scanners.gcp import ids

# stages in which a custom role's bindings are inactive
_INACTIVE_STAGES = frozenset({"DISABLED"})


class RoleCatalog:
    def __init__(self, custom: Mapping[str, frozenset[str]] | None = None,
                 predefined: Mapping[str, frozenset[str]] | None = None):
        self._predefined = predefined if predefined is not None else predefined_roles()
        self._custom = dict(custom or {})

    @classmethod
    def from_resources(cls, resources: Iterable[Resource]) -> RoleCatalog:
        custom = {}
        for role in resources:
            if role.type != ids.ROLE:
                continue
            attributes = role.attributes
            active = not attributes.get("deleted") and attributes.get("stage") not in _INACTIVE_STAGES
            custom[attributes["role_name"]] = (frozenset(attributes.get("included_permissions") or ())
                                               if active else frozenset())
        return cls(custom)

    def permissions(self, role: str) -> frozenset[str] | None:
        if role in self._custom:
            return self._custom[role]
        return self._predefined.get(role)

    def grants(self, role: str, permission: str) -> bool | None:
        """Whether ``role`` includes ``permission``; None when the role is unknown."""
        permissions = self.permissions(role)
        return None if permissions is None else permission in permissions
