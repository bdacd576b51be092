"""The parts of an inventory that GCP access depends on, indexed once.

The resource hierarchy (organization -> folders -> project) comes from each resource's
``ancestors`` attribute (nearest first); a node missing from the inventory is reported, not
assumed empty. ``condition_resource`` says what IAM Conditions see as ``resource`` when a
permission is checked: Cloud Storage checks object permissions against the object (any object
of the bucket: a ``NamePrefix``) and bucket permissions against the bucket.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditor.access.gcp.cel import NamePrefix, request_variables
from auditor.access.gcp.roles import RoleCatalog
from auditor.inventory import Inventory, Resource
from auditor.scanners.gcp import ids

STORAGE_SERVICE = "storage.googleapis.com"


@dataclass(frozen=True, slots=True)
class Binding:
    role: str
    members: tuple[str, ...]
    condition: dict[str, Any] | None
    policy: str  # the id of the resource whose allow policy holds the binding


class IamView:
    def __init__(self, inventory: Inventory, now: datetime):
        self.inventory = inventory
        self.roles = RoleCatalog.from_resources(inventory.resources)
        self.request = request_variables(now)
        self.nodes: dict[str, Resource] = {}
        self.projects: dict[str, Resource] = {}  # by project id and by number
        self.service_accounts: dict[str, Resource] = {}  # by lower-case e-mail
        self.buckets: dict[str, Resource] = {}
        self.organization_domains: dict[str, str] = {}  # directory customer id -> domain
        for resource in inventory.resources:
            self._index(resource)

    def _index(self, resource: Resource) -> None:
        attributes = resource.attributes
        if resource.type in ids.HIERARCHY_TYPES:
            node = ids.node_from_id(resource.id)
            if node:
                self.nodes[node] = resource
        if resource.type == ids.PROJECT:
            for key in (attributes.get("project_id"), attributes.get("project_number")):
                if key:
                    self.projects[str(key)] = resource
        elif resource.type == ids.ORGANIZATION and attributes.get("directory_customer_id"):
            self.organization_domains[attributes["directory_customer_id"]] = attributes.get("domain") or ""
        elif resource.type == ids.SERVICE_ACCOUNT and attributes.get("email"):
            self.service_accounts[attributes["email"].lower()] = resource
        elif resource.type == ids.BUCKET:
            self.buckets[resource.name] = resource

    def project(self, id_or_number: str) -> Resource | None:
        return self.projects.get(id_or_number)

    def ancestors(self, resource: Resource) -> list[str]:
        """Hierarchy nodes above ``resource`` (itself first for a node), nearest first. Where a
        recorded list stops short of an organization, the nodes' ``parent`` links continue it."""
        found = list(resource.attributes.get("ancestors") or [])
        if not found and resource.attributes.get("project_id"):
            project = self.project(resource.attributes["project_id"])
            if project is not None:
                found = list(project.attributes.get("ancestors") or [])
        while found and not found[-1].startswith("organizations/"):
            node = self.nodes.get(found[-1])
            parent = node.attributes.get("parent") if node is not None else None
            if not parent or parent in found:
                break
            found.append(parent)
        return found

    def chain(self, resource: Resource) -> tuple[list[Resource], list[str]]:
        """``resource`` and the hierarchy nodes whose policies it inherits, nearest first, and
        the names of ancestors that are not in the inventory."""
        chain, missing = [resource], []
        for node in self.ancestors(resource):
            found = self.nodes.get(node)
            if found is resource:
                continue
            if found is None:
                missing.append(node)
            else:
                chain.append(found)
        return chain, missing

    @staticmethod
    def bindings(resource: Resource) -> list[Binding]:
        policy = resource.attributes.get("iam_policy") or {}
        return [Binding(b["role"], tuple(b.get("members") or ()), b.get("condition"), resource.id)
                for b in policy.get("bindings") or []]

    def condition_variables(self, target: Resource, permission: str) -> dict[str, Any]:
        return {"request": self.request, "resource": condition_resource(target, permission)}


def condition_resource(target: Resource, permission: str) -> dict[str, Any]:
    """What ``resource.*`` holds in an IAM Condition when ``permission`` is checked on ``target``;
    attributes left out are unknown (services that do not support resource attributes)."""
    if target.type == ids.BUCKET:
        bucket = f"projects/_/buckets/{target.name}"
        if permission.startswith("storage.objects.") and permission != "storage.objects.list":
            return {"service": STORAGE_SERVICE, "type": f"{STORAGE_SERVICE}/Object",
                    "name": NamePrefix(f"{bucket}/objects/")}
        if permission.startswith(("storage.buckets.", "storage.objects.")):
            return {"service": STORAGE_SERVICE, "type": f"{STORAGE_SERVICE}/Bucket", "name": bucket}
        return {}
    if target.type == ids.PROJECT:
        return {"service": "cloudresourcemanager.googleapis.com",
                "type": "cloudresourcemanager.googleapis.com/Project",
                "name": f"projects/{target.attributes.get('project_number')}"}
    return {}


def policy_not_collected(resources: Iterable[Resource], missing: Iterable[str]) -> list[str]:
    """Notes for the allow policies an answer depends on but could not see."""
    notes = [f"the IAM policy of {r.id} was not collected" for r in resources
             if "iam_policy" in r.unknown]
    notes += [f"{node} is not in the inventory, so the IAM policies it and the nodes above it "
              "pass down are not known" for node in missing]
    return notes
