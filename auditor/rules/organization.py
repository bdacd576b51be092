"""Is a principal outside the organization that owns a resource?

The access test ``who: outside-organization`` counts named principals that do not belong to
the resource's organization (the public is ``who: public``, not counted here). Whether a
principal belongs is a question of how each cloud names identities, so it is answered here,
once per provider, from the inventory alone:

* AWS: a principal of another account (``AccessGrant.external``): the analyzer names other
  accounts ``arn:aws:iam::ACCOUNT:root``, and an account's membership of the same AWS
  Organization is not known from the outside.
* GCP: the organization is the ``organizations/N`` at the end of the resource's
  ``ancestors``, and its domain is that organization's ``domain`` (docs/inventory-gcp.md).
  ``user:``, ``group:`` and ``domain:`` members belong when their domain is the
  organization's (or a subdomain of it); service accounts when the project they live in is
  one of the organization's projects in the inventory (Google's service agents, named by
  project number, likewise); convenience members (``projectEditor:P``...) and federated
  identities (``principal://``, ``principalSet://``, whose pools the organization configures)
  belong. A service account of a project that is not in the inventory is unknown.

Answers are three-valued: ``None`` when the organization, its domain or the project of a
service account is not known.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from auditor.access.model import AccessGrant
from auditor.inventory import Resource
from auditor.rules.context import EvaluationContext
from auditor.rules.logic import Trace, Truth
from auditor.rules.resource_types import provider_of
from auditor.scanners.gcp import ids as gcp

# a Google service agent or default account, named by its project's number or id
_AGENT = re.compile(r"^(?:service-)?(\d+)(?:-compute)?@[a-z0-9.-]*gserviceaccount\.com$")
_APPSPOT = re.compile(r"^([a-z][a-z0-9-]*)@appspot\.gserviceaccount\.com$")
_PROJECT_ACCOUNT = re.compile(r"^[^@]+@([a-z][a-z0-9-]*)\.iam\.gserviceaccount\.com$")
_WORKLOAD_IDENTITY = re.compile(r"^([a-z][a-z0-9-]*)\.svc\.id\.goog\[")
_INSIDE_PREFIXES = ("projectOwner:", "projectEditor:", "projectViewer:", "principal://",
                    "principalSet://")


def outside_organization(grant: AccessGrant, resource: Resource, context: EvaluationContext,
                         trace: Trace) -> Truth:
    if grant.public:
        return False
    judge = _JUDGES.get(provider_of(resource.type))
    return judge(grant, resource, context, trace) if judge else None


def _aws(grant: AccessGrant, resource: Resource, context: EvaluationContext,
         trace: Trace) -> Truth:
    return grant.external


def _gcp(grant: AccessGrant, resource: Resource, context: EvaluationContext,
         trace: Trace) -> Truth:
    member = grant.principal
    if member.startswith(_INSIDE_PREFIXES):
        return False
    organization = _organization(resource, context, trace)
    kind, _, identity = member.partition(":")
    if kind == "serviceAccount":
        return _account_outside(identity.lower(), organization, context, trace, resource)
    if kind == "domain":
        domain: str | None = identity.lower()
    elif kind in ("user", "group") and "@" in identity:
        domain = identity.rsplit("@", 1)[1].lower()
    else:
        return False  # deleted: members grant nothing; other forms name no identity domain
    if organization is None:
        return None
    internal = organization.attributes.get("domain")
    if not isinstance(internal, str) or not internal:
        trace.note(resource.id, f"the domain of {organization.id} is not known")
        return None
    internal = internal.lower()
    return not (domain == internal or domain.endswith("." + internal))


def _organization(resource: Resource, context: EvaluationContext, trace: Trace) -> Resource | None:
    ancestors = resource.attributes.get("ancestors") or []
    nodes = [a for a in ancestors if isinstance(a, str) and a.startswith("organizations/")]
    if not nodes:
        trace.note(resource.id, "its organization is not known (no organizations/ ancestor)")
        return None
    organization = context.inventory.get(gcp.node_id(nodes[-1]))
    if organization is None:
        trace.note(resource.id, f"its organization {nodes[-1]} is not in the inventory")
    return organization


def _account_outside(email: str, organization: Resource | None, context: EvaluationContext,
                     trace: Trace, resource: Resource) -> Truth:
    project = _project_of_account(email, context)
    if project is None:
        trace.note(resource.id, f"the project of service account {email} is not in the inventory")
        return None
    if organization is None:
        return None
    ancestors = project.attributes.get("ancestors") or []
    return gcp.node_from_id(organization.id) not in ancestors


def _project_of_account(email: str, context: EvaluationContext) -> Resource | None:
    for pattern, attribute in ((_AGENT, "project_number"), (_APPSPOT, "project_id"),
                               (_PROJECT_ACCOUNT, "project_id"), (_WORKLOAD_IDENTITY, "project_id")):
        match = pattern.match(email)
        if match:
            wanted = match.group(1)
            return next((p for p in context.resources_of(gcp.PROJECT)
                         if p.attributes.get(attribute) == wanted), None)
    return None


_JUDGES: dict[str, Callable[[AccessGrant, Resource, EvaluationContext, Trace], Truth]] = {
    "aws": _aws,
    "gcp": _gcp,
}
