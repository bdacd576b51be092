"""Sensitive assets and who can reach them: the view shared by access.json and report.html."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from auditor.access.model import ACCESS_CLASSES, AccessClass, AccessGrant
from auditor.classify.model import Classification
from auditor.errors import InputError
from auditor.findings import ResourceRef
from auditor.inventory import Resource

if TYPE_CHECKING:
    from auditor.run import RunResult

# Unknown is not pass: a sensitive asset nobody analyzed must not read as "nobody has access".
NOT_ANALYZED = "access to this resource was not analyzed"


def resource_ref(resource: Resource) -> ResourceRef:
    """How reports name a resource; ``aliases`` (KMS keys) let readers recognise a key."""
    aliases = resource.attributes.get("aliases") or ()
    return ResourceRef(id=resource.id, type=resource.type, name=resource.name,
                       provider=resource.provider, account=resource.account,
                       region=resource.region, aliases=tuple(aliases))


def _grant_order(grant: AccessGrant) -> tuple[str, str, str, str]:
    # the analyzer's order is not part of its contract; the output's order must be
    rest = json.dumps([list(grant.conditions), [s.to_dict() for s in grant.path]], sort_keys=True)
    return (grant.principal, grant.action, grant.decision, rest)


@dataclass(frozen=True, slots=True)
class BlastRadius:
    """How many distinct principals reach an asset, and of which sort."""

    by_access: dict[str, int]
    principals: int
    human: int
    external: int
    public: int


@dataclass(frozen=True, slots=True)
class SensitiveAsset:
    resource: ResourceRef
    tags: dict[str, str]
    classification: Classification
    grants: tuple[AccessGrant, ...]
    # why the answer may be incomplete; empty when the analysis saw everything it needed
    unknown: tuple[str, ...]

    @property
    def access_classes(self) -> tuple[str, ...]:
        """The four access classes always, then any concrete action an analyzer reported."""
        extra = sorted({g.access for g in self.grants} - set(ACCESS_CLASSES))
        return (*ACCESS_CLASSES, *extra)

    def who(self, access: AccessClass) -> list[AccessGrant]:
        return [g for g in self.grants if g.access == access]

    def blast_radius(self) -> BlastRadius:
        def distinct(grants: list[AccessGrant] | tuple[AccessGrant, ...]) -> int:
            return len({g.principal for g in grants})

        return BlastRadius(
            by_access={access: distinct(self.who(access)) for access in self.access_classes},
            principals=distinct(self.grants),
            human=distinct([g for g in self.grants if g.human]),
            external=distinct([g for g in self.grants if g.external]),
            public=distinct([g for g in self.grants if g.public]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource.to_dict(),
            "classification": self.classification.to_dict(),
            "access": {access: [g.to_dict() for g in self.who(access)]
                       for access in self.access_classes},
            "unknown": list(self.unknown),
        }


def sensitive_assets(result: RunResult) -> list[SensitiveAsset]:
    """Every asset classified as training data or model weights, ordered by resource id."""
    assets = []
    for resource_id, classification in sorted(result.classifications.items()):
        if not classification.sensitive:
            continue
        resource = result.inventory.get(resource_id)
        if resource is None:
            raise InputError("a classified resource is not in the inventory",
                             location=f"classifications[{resource_id!r}]")
        analysis = result.access.for_resource(resource_id)
        grants = sorted(analysis.grants, key=_grant_order) if analysis else []
        unknown = analysis.all_unknown() if analysis else [NOT_ANALYZED]
        assets.append(SensitiveAsset(resource=resource_ref(resource), tags=dict(resource.tags),
                                     classification=classification, grants=tuple(grants),
                                     unknown=tuple(unknown)))
    return assets
