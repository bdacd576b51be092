"""The resource hierarchy: organizations, folders and projects, their allow and deny policies,
and the effective public-access-prevention organization policy.

Discovery starts from what the profile names (organizations, folders, projects), walks up to
the organization (a resource inherits every policy above it, so those are needed even when only
a project is audited) and down through folders to every active project, leaving out the
excluded folders (with everything below them) and projects. It makes listing calls only and
returns what it found: the nodes whose policies are read, the projects whose contents are read,
and the errors of the listing. Reading them is the scan (auditor.scanners.gcp.live), one unit
per node and per project, so that a scan can be split across machines.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from auditor.inventory import CollectionError, Resource
from auditor.scanners.gcp import ids, records
from auditor.scanners.gcp.api import policy_request, to_json
from auditor.scanners.gcp.context import Project, ScanContext
from auditor.scanners.gcp.errors import ErrorScope, guarded
from auditor.scanners.gcp.options import Targets
from auditor.scanners.runner import Record, Task, TaskContext

SERVICE = "cloudresourcemanager"
SERVICES = ("cloudkms", "cloudresourcemanager", "iam", "storage")
PUBLIC_ACCESS_PREVENTION = "storage.publicAccessPrevention"
_ACTIVE = "ACTIVE"


@dataclass(frozen=True, slots=True)
class Node:
    """An organization, folder or project found by discovery, as the API returned it."""

    name: str  # organizations/N, folders/N, projects/NUMBER
    data: dict[str, Any]
    ancestors: tuple[str, ...]  # itself first, then up to the organization


@dataclass(frozen=True, slots=True)
class FoundProject:
    project: Project
    node: Node | None  # None when the project itself could not be read


@dataclass(slots=True)
class Hierarchy:
    nodes: list[Node] = field(default_factory=list)  # organizations and folders
    projects: list[FoundProject] = field(default_factory=list)
    errors: list[CollectionError] = field(default_factory=list)


def discover(ctx: ScanContext, targets: Targets) -> Hierarchy:
    walker = _Walker(ctx, targets)
    for organization in targets.organizations:
        walker.subtree(_node_name("organizations", organization))
    for folder in targets.folders:
        walker.subtree(_node_name("folders", folder))
    for project in targets.projects:
        walker.project(project)
    return walker.found


def _node_name(plural: str, value: str) -> str:
    return value if value.startswith(f"{plural}/") else f"{plural}/{value}"


class _Walker:
    def __init__(self, ctx: ScanContext, targets: Targets):
        self.ctx = ctx
        self.targets = targets
        self.found = Hierarchy()
        self.ancestry: dict[str, tuple[str, ...]] = {}  # node -> its ancestors (itself first)
        self.projects: set[str] = set()

    # -- entry points ------------------------------------------------------------------------------
    def subtree(self, name: str) -> None:
        """An organization or folder, what is above it, and everything below it."""
        if self.targets.excludes_folder(name):
            return
        self._node(name)
        if name in self.ancestry:
            self._descend(name)

    def project(self, project_id: str) -> None:
        """A project named in the profile, wherever it lives (unless excluded by its id)."""
        if project_id in self.projects or self.targets.excludes_project(project_id):
            return
        clients = self.ctx.clients
        data, error = guarded(ErrorScope(project_id, SERVICE), "projects.get", lambda: to_json(
            self.ctx.api.call(SERVICE, "projects.get", clients.projects().get_project,
                              name=f"projects/{project_id}")))
        if error is not None:
            self.found.errors.append(error)
            # what the project holds may still be readable
            self._add_project(Project(project_id, None, ()), None)
            return
        self._listed_project(data)

    # -- walking ------------------------------------------------------------------------------------
    def _node(self, name: str) -> None:
        """Read a folder or organization and everything above it, once."""
        if name in self.ancestry:
            return
        if name.startswith("folders/"):
            operation, method = "folders.get", self.ctx.clients.folders().get_folder
        else:
            operation, method = "organizations.get", self.ctx.clients.organizations().get_organization
        data, error = guarded(ErrorScope(name, SERVICE), operation,
                              lambda: to_json(self.ctx.api.call(SERVICE, operation, method, name=name)))
        if error is not None:
            self.found.errors.append(error)
            return
        self._found_node(name, data)

    def _above(self, data: dict[str, Any]) -> tuple[str, ...]:
        parent = data.get("parent")
        if parent and parent not in self.ancestry:
            self._node(parent)
        # an unreadable parent is still named, so the analyzer can say what it could not see
        return self.ancestry.get(parent, (parent,)) if parent else ()

    def _found_node(self, name: str, data: dict[str, Any]) -> None:
        self.ancestry[name] = (name, *self._above(data))
        self.found.nodes.append(Node(name, data, self.ancestry[name]))

    def _descend(self, parent: str) -> None:
        clients, api = self.ctx.clients, self.ctx.api
        scope = ErrorScope(parent, SERVICE)
        listed, error = guarded(scope, "projects.list", lambda: [to_json(p) for p in api.call(
            SERVICE, "projects.list", clients.projects().list_projects, parent=parent)])
        if error is not None:
            self.found.errors.append(error)
        for data in listed or []:
            if (data.get("state", _ACTIVE) == _ACTIVE
                    and not self.targets.excludes_project(data.get("projectId", ""))):
                self._listed_project(data)
        folders, error = guarded(scope, "folders.list", lambda: [to_json(f) for f in api.call(
            SERVICE, "folders.list", clients.folders().list_folders, parent=parent)])
        if error is not None:
            self.found.errors.append(error)
        for data in folders or []:
            name = data.get("name", "")
            if (data.get("state", _ACTIVE) == _ACTIVE and name not in self.ancestry
                    and not self.targets.excludes_folder(name)):
                self._found_node(name, data)
                self._descend(name)

    def _listed_project(self, data: dict[str, Any]) -> None:
        node = data.get("name", "")
        project_id = data.get("projectId", "")
        if project_id in self.projects:
            return
        ancestors = (node, *self._above(data))
        self.ancestry[node] = ancestors
        self._add_project(Project(project_id, node.split("/", 1)[1], ancestors),
                          Node(node, data, ancestors))

    def _add_project(self, project: Project, node: Node | None) -> None:
        self.projects.add(project.project_id)
        self.found.projects.append(FoundProject(project, node))


# -- one node: its record and policies ------------------------------------------------------------------
def node_task(ctx: ScanContext, name: str, data: dict, ancestors: Sequence[str]) -> Task:
    kind = name.split("/", 1)[0]
    account = data.get("projectId") or name

    def run(_: TaskContext) -> Iterator[Record]:
        resource = {"organizations": lambda: records.organization(data),
                    "folders": lambda: records.folder(data, ancestors),
                    "projects": lambda: records.project(data, ancestors)}[kind]()
        scope = ErrorScope(account, SERVICE, resource_id=resource.id)
        yield from _allow_policy(ctx, kind, name, resource, scope)
        yield from _deny_policies(ctx, name, resource, scope)
        yield from _public_access_prevention(ctx, name, resource, scope)
        yield resource

    return Task(f"{account} {kind}.getIamPolicy", run, service=SERVICE, resource_id=ids.node_id(name))


def _allow_policy(ctx: ScanContext, kind: str, name: str, resource: Resource,
                  scope: ErrorScope) -> Iterator[CollectionError]:
    client = getattr(ctx.clients, kind)()  # organizations(), folders() or projects()
    operation = f"{kind}.getIamPolicy"
    policy, error = guarded(scope, operation, lambda: to_json(ctx.api.call(
        SERVICE, operation, client.get_iam_policy, request=policy_request(name))), "iam_policy")
    if error is not None:
        records.mark_unknown(resource, "iam_policy")
        yield error
    else:
        records.set_policy(resource, policy)


def _deny_policies(ctx: ScanContext, name: str, resource: Resource,
                   scope: ErrorScope) -> Iterator[CollectionError]:
    client = ctx.clients.deny_policies()
    attachment = quote(f"cloudresourcemanager.googleapis.com/{name}", safe="")
    parent = f"policies/{attachment}/denypolicies"

    def read() -> list[dict]:
        # the listing leaves the rules out: read each policy
        listed = ctx.api.call("iam", "policies.listPolicies", client.list_policies, parent=parent)
        return [records.deny_policy(to_json(ctx.api.call("iam", "policies.get", client.get_policy,
                                                         name=policy.name)))
                for policy in listed]

    policies, error = guarded(ErrorScope(scope.account, "iam", None, scope.resource_id),
                              "policies.listPolicies", read, "deny_policies")
    if error is not None:
        records.mark_unknown(resource, "deny_policies")
        yield error
    else:
        resource.attributes["deny_policies"] = policies


def _public_access_prevention(ctx: ScanContext, name: str, resource: Resource,
                              scope: ErrorScope) -> Iterator[CollectionError]:
    client = ctx.clients.org_policy()

    def read() -> bool:
        policy = to_json(ctx.api.call("orgpolicy", "policies.getEffectivePolicy",
                                      client.get_effective_policy,
                                      name=f"{name}/policies/{PUBLIC_ACCESS_PREVENTION}"))
        # a boolean constraint's effective policy has one rule; no rule means the default (off)
        return any(rule.get("enforce") is True for rule in (policy.get("spec") or {}).get("rules") or [])

    enforced, error = guarded(ErrorScope(scope.account, "orgpolicy", None, scope.resource_id),
                              "policies.getEffectivePolicy", read, "public_access_prevention_enforced")
    if error is not None:
        records.mark_unknown(resource, "public_access_prevention_enforced")
        yield error
    else:
        resource.attributes["public_access_prevention_enforced"] = enforced
