"""Ad-hoc access questions (`audit who-can`), answered by whichever analyzer owns the resource."""

from __future__ import annotations

from auditor import plugins
from auditor.access.model import AccessGrant
from auditor.errors import InputError
from auditor.inventory import Inventory


def who_can(inventory: Inventory, resource_ref: str, action: str) -> list[AccessGrant]:
    for analyzer_class in plugins.registry("auditor.analyzers").values():
        analyzer = analyzer_class()
        if analyzer.handles(resource_ref):
            grants = analyzer.who_can(inventory, resource_ref, action)
            return sorted(grants, key=lambda g: (g.decision != "allow", g.principal, g.action))
    raise InputError(f"no analyzer understands the resource {resource_ref!r} "
                     "(expected e.g. arn:aws:s3:::BUCKET or gs://BUCKET)")


def format_grants(grants: list[AccessGrant]) -> str:
    if not grants:
        return "nobody"
    rows = [("PRINCIPAL", "KIND", "HUMAN", "DECISION", "VIA")]
    for grant in grants:
        human = {True: "yes", False: "no", None: "unknown"}[grant.human]
        via = " -> ".join(f"{step.policy}[{step.statement}]" for step in grant.path)
        rows.append((grant.principal, grant.kind, human, grant.decision, via))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join([*(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)),
                                row[4]]).rstrip() for row in rows)
