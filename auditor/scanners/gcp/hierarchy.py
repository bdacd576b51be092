"""The resource hierarchy: organizations, folders and projects, their allow and deny policies,
and the effective public-access-prevention organization policy.

Discovery starts from what the profile names (organizations, folders, projects), walks up to
the organization (a resource inherits every policy above it, so those are needed even when only
a project is audited) and down through folders to every active project. Each node found becomes
a task that reads its policies; each project becomes the tasks that read what it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from urllib.parse import quote

from auditor.inventory import CollectionError, Resource, Scope
from auditor.scanners.gcp import ids, records
from auditor.scanners.gcp.api import policy_request, to_json
from auditor.scanners.gcp.context import Project, ScanContext
from auditor.scanners.gcp.errors import ErrorScope, guarded
from auditor.scanners.runner import Record, Task, TaskContext

SERVICE = "cloudresourcemanager"
SERVICES = ("cloudkms", "cloudresourcemanager", "iam", "storage")
PUBLIC_ACCESS_PREVENTION = "storage.publicAccessPrevention"
_ACTIVE = "ACTIVE"

ProjectTasks = Callable[[ScanContext, Project], Sequence[Task]]
NodeTasks = Callable[[ScanContext, str], Sequence[Task]]


def discovery_task(ctx: ScanContext, organizations: Sequence[str], folders: Sequence[str],
                   projects: Sequence[str], project_tasks: ProjectTasks,
                   organization_tasks: NodeTasks) -> Task:
    def run(task: TaskContext) -> Iterator[Record]:
        walker = _Walker(ctx, task, project_tasks, organization_tasks)
        for organization in organizations:
            yield from walker.subtree(_node_name("organizations", organization))
        for folder in folders:
            yield from walker.subtree(_node_name("folders", folder))
        for project in projects:
            yield from walker.project(project)

    # the label's first word is the account a crash of this task is recorded against
    first = next(iter([*organizations, *folders, *projects]), "gcp")
    return Task(f"{first} discovery", run, service=SERVICE)


def _node_name(plural: str, value: str) -> str:
    return value if value.startswith(f"{plural}/") else f"{plural}/{value}"


class _Walker:
    def __init__(self, ctx: ScanContext, task: TaskContext, project_tasks: ProjectTasks,
                 organization_tasks: NodeTasks):
        self.ctx = ctx
        self.task = task
        self.project_tasks = project_tasks
        self.organization_tasks = organization_tasks
        self.ancestry: dict[str, tuple[str, ...]] = {}  # node -> its ancestors (itself first)
        self.projects: set[str] = set()

    # -- entry points ------------------------------------------------------------------------------
    def subtree(self, name: str) -> Iterator[Record]:
        """An organization or folder, what is above it, and everything below it."""
        yield from self._node(name)
        if name in self.ancestry:
            yield from self._descend(name)

    def project(self, project_id: str) -> Iterator[Record]:
        clients = self.ctx.clients
        data, error = guarded(ErrorScope(project_id, SERVICE), "projects.get", lambda: to_json(
            self.ctx.api.call(SERVICE, "projects.get", clients.projects().get_project,
                              name=f"projects/{project_id}")))
        if error is not None:
            yield error
            # what the project holds may still be readable
            yield from self._project(Project(project_id, None, ()))
            return
        yield from self._listed_project(data)

    # -- walking ------------------------------------------------------------------------------------
    def _node(self, name: str) -> Iterator[Record]:
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
            yield error
            return
        yield from self._found_node(name, data)

    def _found_node(self, name: str, data: dict) -> Iterator[Record]:
        parent = data.get("parent")
        if parent and parent not in self.ancestry:
            yield from self._node(parent)
        # an unreadable parent is still named, so the analyzer can say what it could not see
        above = self.ancestry.get(parent, (parent,)) if parent else ()
        self.ancestry[name] = (name, *above)
        self.task.spawn(node_task(self.ctx, name, data, self.ancestry[name]))
        if name.startswith("organizations/"):
            for task in self.organization_tasks(self.ctx, name):
                self.task.spawn(task)

    def _descend(self, parent: str) -> Iterator[Record]:
        clients, api = self.ctx.clients, self.ctx.api
        scope = ErrorScope(parent, SERVICE)
        listed, error = guarded(scope, "projects.list", lambda: [to_json(p) for p in api.call(
            SERVICE, "projects.list", clients.projects().list_projects, parent=parent)])
        if error is not None:
            yield error
        for data in listed or []:
            if data.get("state", _ACTIVE) == _ACTIVE:
                yield from self._listed_project(data)
        folders, error = guarded(scope, "folders.list", lambda: [to_json(f) for f in api.call(
            SERVICE, "folders.list", clients.folders().list_folders, parent=parent)])
        if error is not None:
            yield error
        for data in folders or []:
            name = data.get("name", "")
            if data.get("state", _ACTIVE) == _ACTIVE and name not in self.ancestry:
                yield from self._found_node(name, data)
                yield from self._descend(name)

    def _listed_project(self, data: dict) -> Iterator[Record]:
        node = data.get("name", "")
        project_id = data.get("projectId", "")
        if project_id in self.projects:
            return
        parent = data.get("parent")
        if parent and parent not in self.ancestry:
            yield from self._node(parent)
        above = self.ancestry.get(parent, (parent,)) if parent else ()
        ancestors = (node, *above)
        self.ancestry[node] = ancestors
        self.task.spawn(node_task(self.ctx, node, data, ancestors))
        yield from self._project(Project(project_id, node.split("/", 1)[1], ancestors))

    def _project(self, project: Project) -> Iterator[Record]:
        if project.project_id in self.projects:
            return
        self.projects.add(project.project_id)
        yield Scope(provider=ids.PROVIDER, account=project.project_id, services=SERVICES)
        for task in self.project_tasks(self.ctx, project):
            self.task.spawn(task)


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
