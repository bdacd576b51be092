"""A live scan in units: discovery of the hierarchy plans them, then each one is read by tasks
on the shared runner (bounded concurrency, failures as data).

The units are the organizations and folders found (their policies, and an organization's custom
roles) and the projects (the project's policies, storage, IAM and KMS). A unit carries what
discovery read about it as plain data, so that it can be scanned anywhere: the unit key of a
project is ``gcp:PROJECT_ID``, of a node ``gcp:folders/N`` or ``gcp:organizations/N``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from auditor.executors.base import ScanPlan, ScanUnit
from auditor.inventory import Scope
from auditor.scanners.base import ScanSettings
from auditor.scanners.gcp import iam, ids, kms, storage
from auditor.scanners.gcp.api import GcpApi
from auditor.scanners.gcp.clients import GcpClients
from auditor.scanners.gcp.context import Project, ScanContext
from auditor.scanners.gcp.errors import task_error_classifier
from auditor.scanners.gcp.hierarchy import SERVICE, SERVICES, Hierarchy, discover, node_task
from auditor.scanners.gcp.options import Targets
from auditor.scanners.runner import Record, Task, TaskContext, run_tasks

_NODE_KINDS = ("organizations/", "folders/")


def plan_live(ctx: ScanContext, targets: Targets) -> ScanPlan:
    """Discover the hierarchy (listing calls only) and make one unit per node and project."""
    return units_of(discover(ctx, targets))


def units_of(found: Hierarchy) -> ScanPlan:
    plan = ScanPlan(records=list(found.errors))
    for node in found.nodes:
        plan.units.append(ScanUnit(ids.PROVIDER, node.name, node.name,
                                   {"node": node.data, "ancestors": list(node.ancestors)}))
    for item in found.projects:
        project = item.project
        plan.units.append(ScanUnit(ids.PROVIDER, project.project_id, project.project_id, {
            "number": project.number, "ancestors": list(project.ancestors),
            "node": item.node.data if item.node else None}))
    return plan


def unit_tasks(ctx: ScanContext, unit: ScanUnit) -> list[Task]:
    data: dict[str, Any] = dict(unit.data)
    ancestors = tuple(data["ancestors"])
    if unit.id.startswith(_NODE_KINDS):
        tasks = [node_task(ctx, unit.id, data["node"], ancestors)]
        if unit.id.startswith("organizations/"):
            tasks += iam.organization_tasks(ctx, unit.id)
        return tasks
    return [_project_task(ctx, Project(unit.id, data["number"], ancestors), data["node"])]


def _project_task(ctx: ScanContext, project: Project, node: dict[str, Any] | None) -> Task:
    """The scope of a project, then everything read in it, as tasks of their own."""

    def run(task: TaskContext) -> Iterator[Record]:
        yield Scope(provider=ids.PROVIDER, account=project.project_id, services=SERVICES)
        if node is not None:
            task.spawn(node_task(ctx, project.ancestors[0], node, project.ancestors))
        for spawned in _project_tasks(ctx, project):
            task.spawn(spawned)

    # the label's first word is the account a crash of this task is recorded against
    return Task(f"{project.project_id} project", run, service=SERVICE, account=project.project_id)


def _project_tasks(ctx: ScanContext, project: Project) -> list[Task]:
    return [*storage.project_tasks(ctx, project), *iam.project_tasks(ctx, project),
            *kms.project_tasks(ctx, project)]


def scan_live(clients: GcpClients, settings: ScanSettings, *, organizations: Sequence[str] = (),
              folders: Sequence[str] = (), projects: Sequence[str] = (),
              api: GcpApi | None = None) -> Iterator[Record]:
    return scan_targets(clients, settings, Targets(tuple(organizations), tuple(folders),
                                                   tuple(projects)), api=api)


def scan_targets(clients: GcpClients, settings: ScanSettings, targets: Targets, *,
                 api: GcpApi | None = None) -> Iterator[Record]:
    """Plan, then scan every unit on one runner in this process, with the given clients."""
    ctx = ScanContext(api or GcpApi(), clients, settings)
    plan = plan_live(ctx, targets)
    yield from plan.records
    tasks = [task for unit in plan.units for task in unit_tasks(ctx, unit)]
    yield from run_tasks(tasks, max_workers=max(1, settings.max_workers),
                         classify_error=task_error_classifier())
