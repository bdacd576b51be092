"""Cloud KMS: key rings and crypto keys in every location, with their IAM policies and rotation."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.inventory import CollectionError, Resource
from auditor.scanners.gcp import records
from auditor.scanners.gcp.api import policy_request, to_json
from auditor.scanners.gcp.context import Project, ScanContext
from auditor.scanners.gcp.errors import ErrorScope, guarded
from auditor.scanners.runner import Record, Task, TaskContext

SERVICE = "cloudkms"


def project_tasks(ctx: ScanContext, project: Project) -> list[Task]:
    return [_locations_task(ctx, project)]


def _locations_task(ctx: ScanContext, project: Project) -> Task:
    def run(task: TaskContext) -> Iterator[Record]:
        client = ctx.clients.kms()

        def locations() -> list[str]:
            found, token = [], ""
            while True:  # the locations mixin returns raw pages
                page = ctx.api.call(SERVICE, "locations.list", client.list_locations,
                                    request={"name": f"projects/{project.project_id}", "page_token": token})
                found += [location.location_id for location in page.locations]
                token = page.next_page_token
                if not token:
                    return found

        listed, error = guarded(ErrorScope(project.project_id, SERVICE), "locations.list", locations)
        if error is not None:
            yield error
        for location in listed or []:
            task.spawn(_key_rings_task(ctx, project, location))

    return Task(f"{project.project_id} locations.list", run, service=SERVICE)


def _key_rings_task(ctx: ScanContext, project: Project, location: str) -> Task:
    def run(_: TaskContext) -> Iterator[Record]:
        client = ctx.clients.kms()
        scope = ErrorScope(project.project_id, SERVICE, location)
        rings, error = guarded(scope, "keyRings.list", lambda: [to_json(r) for r in ctx.api.call(
            SERVICE, "keyRings.list", client.list_key_rings,
            parent=f"projects/{project.project_id}/locations/{location}")])
        if error is not None:
            yield error
        for data in rings or []:
            ring = records.key_ring(data, project.ancestors)
            yield from _with_policy(ctx, ring, data["name"], "keyRings.getIamPolicy", scope)
            keys, error = guarded(scope, "cryptoKeys.list", lambda name=data["name"]: [
                to_json(k) for k in ctx.api.call(SERVICE, "cryptoKeys.list", client.list_crypto_keys,
                                                 parent=name)])
            if error is not None:
                yield error
            for key_data in keys or []:
                key = records.crypto_key(key_data, project.ancestors)
                yield from _with_policy(ctx, key, key_data["name"], "cryptoKeys.getIamPolicy", scope)

    return Task(f"{project.project_id} keyRings.list {location}", run, service=SERVICE, region=location)


def _with_policy(ctx: ScanContext, resource: Resource, name: str, operation: str,
                 scope: ErrorScope) -> Iterator[Resource | CollectionError]:
    client = ctx.clients.kms()
    policy, error = guarded(ErrorScope(scope.account, SERVICE, scope.region, resource.id), operation,
                            lambda: to_json(ctx.api.call(SERVICE, operation, client.get_iam_policy,
                                                         request=policy_request(name))), "iam_policy")
    if error is not None:
        records.mark_unknown(resource, "iam_policy")
        yield error
    else:
        records.set_policy(resource, policy)
    yield resource
