"""Rule fixtures: small inventories that a rule must judge as its author says.

A fixture is a list of resources in the inventory.json shape (docs/inventory.md) whose FIRST
resource is the one under test; the others are context (the account, IAM users, KMS keys...).
Optional collection errors exercise the ``error`` outcome. Fixtures are evaluated as of
``FIXTURE_NOW`` so that ages ("older than 90 days") do not drift with the calendar.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from auditor.access.model import AccessMap
from auditor.classify.model import Classification
from auditor.inventory.io import FORMAT
from auditor.inventory.io import parse as parse_inventory
from auditor.inventory.model import SCHEMA_VERSION
from auditor.rules.context import EvaluationContext
from auditor.rules.engine import resource_status
from auditor.rules.model import EXPECTATIONS, Fixture, Rule
from auditor.rules.resource_types import provider_of

FIXTURE_NOW = datetime(2025, 6, 1, tzinfo=UTC)
RESOURCE_REQUIRED = ("id", "type", "account", "name")
RESOURCE_OPTIONAL = ("provider", "region", "attributes", "tags", "unknown")
ERROR_REQUIRED = ("service", "operation", "code")
ERROR_OPTIONAL = ("provider", "account", "region", "message", "resource_id", "attribute")


def make_fixture(expected: str, resources: Sequence[Mapping[str, Any]],
                 errors: Sequence[Mapping[str, Any]] = (), *, description: str = "",
                 index: int = 0, line: int = 0, source: str = "<fixture>") -> Fixture:
    """A fixture from plain data; raises InputError (with a JSON path) when it is malformed.

    Resource fields default as in a fresh scan: ``provider`` from the type, no region, no
    attributes, tags or unknowns. Error fields default to the first resource's provider and
    account; ``message`` to the code. The inventory covers every service of each account.
    """
    if expected not in EXPECTATIONS:
        raise ValueError(f"expected must be one of {', '.join(EXPECTATIONS)}")
    resource_docs = [{"provider": provider_of(str(r.get("type", ""))), "region": None,
                      "attributes": {}, "tags": {}, "unknown": [], **r} for r in resources]
    subject = resource_docs[0] if resource_docs else {}
    error_docs = [{"provider": subject.get("provider"), "account": subject.get("account"),
                   "region": None, "message": e.get("code"), "resource_id": None,
                   "attribute": None, **e} for e in errors]
    accounts = sorted({(str(r.get("provider")), str(r.get("account"))) for r in resource_docs})
    scopes = [{"provider": provider, "account": account, "services": [],
               "regions": sorted({r["region"] for r in resource_docs if r.get("account") == account
                                  and isinstance(r.get("region"), str)})}
              for provider, account in accounts]
    document = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "scopes": scopes,
                "resources": resource_docs, "errors": error_docs}
    inventory = parse_inventory(json.dumps(document), source)
    return Fixture(expected=expected, index=index, description=description, inventory=inventory,
                   subject_id=str(subject.get("id")), line=line)


def fixture_outcome(rule: Rule, fixture: Fixture, classifications: Mapping[str, Classification],
                    access: AccessMap, now: datetime = FIXTURE_NOW) -> str:
    """How ``rule`` judges the fixture's first resource: one of EXPECTATIONS."""
    context = EvaluationContext(fixture.inventory, classifications, access, now)
    subject = fixture.inventory.get(fixture.subject_id)
    if subject is None:
        raise ValueError(f"fixture {fixture.name} of {rule.id} lost its subject")
    return resource_status(rule.evaluate(subject, context))
