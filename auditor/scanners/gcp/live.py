"""A live scan: discovery of the hierarchy, then every project's storage, IAM and KMS, run as
tasks on the shared runner (bounded concurrency, failures as data)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from auditor.scanners.base import ScanSettings
from auditor.scanners.gcp import iam, kms, storage
from auditor.scanners.gcp.api import GcpApi
from auditor.scanners.gcp.clients import GcpClients
from auditor.scanners.gcp.context import Project, ScanContext
from auditor.scanners.gcp.errors import task_error_classifier
from auditor.scanners.gcp.hierarchy import discovery_task
from auditor.scanners.runner import Record, Task, run_tasks


def _project_tasks(ctx: ScanContext, project: Project) -> list[Task]:
    return [*storage.project_tasks(ctx, project), *iam.project_tasks(ctx, project),
            *kms.project_tasks(ctx, project)]


def scan_live(clients: GcpClients, settings: ScanSettings, *, organizations: Sequence[str] = (),
              folders: Sequence[str] = (), projects: Sequence[str] = (),
              api: GcpApi | None = None) -> Iterator[Record]:
    ctx = ScanContext(api or GcpApi(), clients, settings)
    discovery = discovery_task(ctx, organizations, folders, projects, _project_tasks,
                               iam.organization_tasks)
    yield from run_tasks([discovery], max_workers=max(1, settings.max_workers),
                         classify_error=task_error_classifier())
