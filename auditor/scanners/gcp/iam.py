"""IAM: service accounts (with who may act as them, and their keys) and custom roles."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from auditor.scanners.gcp import records
from auditor.scanners.gcp.api import policy_request, to_json
from auditor.scanners.gcp.context import Project, ScanContext
from auditor.scanners.gcp.errors import ErrorScope, guarded
from auditor.scanners.runner import Record, Task, TaskContext

SERVICE = "iam"
_FULL_VIEW = 1  # iam_admin_v1.RoleView.FULL: with includedPermissions


def project_tasks(ctx: ScanContext, project: Project) -> list[Task]:
    return [_service_accounts_task(ctx, project),
            custom_roles_task(ctx, f"projects/{project.project_id}", project.project_id,
                              project.ancestors)]


def organization_tasks(ctx: ScanContext, organization: str) -> list[Task]:
    return [custom_roles_task(ctx, organization, organization, (organization,))]


def _service_accounts_task(ctx: ScanContext, project: Project) -> Task:
    def run(task: TaskContext) -> Iterator[Record]:
        client = ctx.clients.iam()
        listed, error = guarded(ErrorScope(project.project_id, SERVICE), "serviceAccounts.list",
                                lambda: [to_json(a) for a in ctx.api.call(
                                    SERVICE, "serviceAccounts.list", client.list_service_accounts,
                                    name=f"projects/{project.project_id}")])
        if error is not None:
            yield error
        for data in listed or []:
            task.spawn(_service_account_task(ctx, project, data))

    return Task(f"{project.project_id} serviceAccounts.list", run, service=SERVICE)


def _service_account_task(ctx: ScanContext, project: Project, data: dict) -> Task:
    def run(_: TaskContext) -> Iterator[Record]:
        client = ctx.clients.iam()
        account = records.service_account(data, project.ancestors)
        scope = ErrorScope(project.project_id, SERVICE, resource_id=account.id)
        name = data.get("name") or f"projects/{project.project_id}/serviceAccounts/{account.name}"
        policy, error = guarded(scope, "serviceAccounts.getIamPolicy", lambda: to_json(ctx.api.call(
            SERVICE, "serviceAccounts.getIamPolicy", client.get_iam_policy,
            request=policy_request(name))), "iam_policy")
        if error is not None:
            records.mark_unknown(account, "iam_policy")
            yield error
        else:
            records.set_policy(account, policy)
        yield account
        keys, error = guarded(scope, "serviceAccounts.keys.list", lambda: [to_json(k) for k in ctx.api.call(
            SERVICE, "serviceAccounts.keys.list", client.list_service_account_keys, name=name).keys])
        if error is not None:
            yield error
        for key in keys or []:
            yield records.service_account_key(key, project.ancestors)

    return Task(f"{project.project_id} serviceAccount {data.get('email', '')}", run, service=SERVICE)


def custom_roles_task(ctx: ScanContext, parent: str, account: str, ancestors: Sequence[str]) -> Task:
    def run(_: TaskContext) -> Iterator[Record]:
        client = ctx.clients.iam()
        roles, error = guarded(ErrorScope(account, SERVICE), "roles.list", lambda: [
            to_json(r) for r in ctx.api.call(SERVICE, "roles.list", client.list_roles,
                                             request={"parent": parent, "view": _FULL_VIEW,
                                                      "show_deleted": True})])
        if error is not None:
            yield error
        for data in roles or []:
            yield records.role(data, ancestors)

    return Task(f"{account} roles.list", run, service=SERVICE)
