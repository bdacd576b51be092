"""Used versus granted: for each training-data or weights asset, who may read it and who did.

A read grant is

* ``used`` when its principal read the asset in the window (with counts, first and last time);
* ``unused`` when it did not: a candidate for removal;
* ``indeterminate`` when the logs cannot tell or removal is not possible: the grant is to a
  group, a domain or anyone authenticated (whose members' reads are logged under their own
  names), the principal reaches the asset through a role that did read it (its reads are
  logged as the role's), or it is the account's root user.

Reads by principals without a known read grant are listed too: the access analysis missed a
path, or the grant was removed since.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from auditor import clock
from auditor.access.model import AccessGrant, AccessMap
from auditor.activity.assets import Assets
from auditor.activity.detections.base import READ_ACTIONS, Window, in_list
from auditor.activity.store import EventStore

# principals that stand for many callers, whose reads the logs attribute to each caller
_COLLECTIVE_KINDS = ("group", "domain")
_COLLECTIVE = ("arn:aws:iam::*:root", "allAuthenticatedUsers")


@dataclass(slots=True)
class Reader:
    principal: str
    reads: int
    bytes: int
    first: str
    last: str
    granted: bool


@dataclass(slots=True)
class GrantUse:
    principal: str
    kind: str
    human: bool | None
    decision: str
    status: str  # used | unused | indeterminate
    reason: str


@dataclass(slots=True)
class AssetUse:
    resource_id: str
    classification: str
    readers: list[Reader] = field(default_factory=list)
    grants: list[GrantUse] = field(default_factory=list)
    # why the list of grants may be incomplete (from the access analysis)
    unknown: list[str] = field(default_factory=list)


@dataclass(slots=True)
class UsageReport:
    window: Window
    assets: list[AssetUse]

    def to_dict(self) -> dict[str, Any]:
        counts = defaultdict(int)
        for asset in self.assets:
            for grant in asset.grants:
                counts[grant.status] += 1
        return {"window": self.window.to_dict(),
                "summary": {"assets": len(self.assets), "grants_used": counts["used"],
                            "grants_unused": counts["unused"],
                            "grants_indeterminate": counts["indeterminate"],
                            "ungranted_readers": sum(not r.granted for a in self.assets
                                                     for r in a.readers)},
                "assets": [asdict(a) for a in self.assets]}


def used_versus_granted(store: EventStore, access: AccessMap, assets: Assets,
                        window: Window) -> UsageReport:
    """Needs the ``win`` view of the window (made by DetectionContext)."""
    sensitive = sorted(r for r in access.assets if assets.sensitive(r))
    reads: dict[str, dict[str, Reader]] = defaultdict(dict)
    for resource, principal, count, size, first, last in store.fetch(f"""
            SELECT resource, principal, count(*), coalesce(sum(bytes), 0), min(time), max(time)
            FROM win WHERE action IN {in_list(READ_ACTIONS)} AND error_code IS NULL
              AND resource IN (SELECT unnest(?::VARCHAR[])) AND principal IS NOT NULL
            GROUP BY resource, principal""", [sensitive]):
        reads[resource][principal] = Reader(principal, count, int(size), clock.isoformat(first),
                                            clock.isoformat(last), granted=False)
    report = []
    for resource_id in sensitive:
        asset = access.assets[resource_id]
        readers = reads.get(resource_id, {})
        grants = _by_principal(asset.who("read"))
        for principal, reader in readers.items():
            reader.granted = principal in grants
        label = assets.classification(resource_id)
        report.append(AssetUse(
            resource_id=resource_id, classification=label.label if label else "unknown",
            readers=sorted(readers.values(), key=lambda r: (-r.reads, r.principal)),
            grants=[_judge(grant, readers) for grant in grants.values()],
            unknown=list(asset.unknown)))
    return UsageReport(window, report)


def _by_principal(grants: list[AccessGrant]) -> dict[str, AccessGrant]:
    """One grant per principal: an unconditional one if there is one."""
    chosen: dict[str, AccessGrant] = {}
    for grant in sorted(grants, key=lambda g: (g.principal, g.decision != "allow", g.action)):
        chosen.setdefault(grant.principal, grant)
    return dict(sorted(chosen.items()))


def _judge(grant: AccessGrant, readers: dict[str, Reader]) -> GrantUse:
    def use(status: str, reason: str) -> GrantUse:
        return GrantUse(grant.principal, grant.kind, grant.human, grant.decision, status, reason)

    reader = readers.get(grant.principal)
    if reader is not None:
        return use("used", f"read {reader.reads} times, last {reader.last}")
    if grant.kind in _COLLECTIVE_KINDS or grant.principal in _COLLECTIVE:
        return use("indeterminate", "its members' reads are logged under their own names")
    if grant.principal.endswith(":root") and grant.kind != "external-account":
        return use("indeterminate", "the account's root user: its access cannot be removed")
    through = sorted({step.principal for step in grant.path} - {grant.principal} & set(readers))
    if through:
        return use("indeterminate", f"reaches it through {', '.join(through)}, which read it; "
                                    f"those reads are logged as the role's")
    return use("unused", "no read in the window: a candidate for removal")

