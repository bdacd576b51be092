"""Cloud Storage: buckets (settings, IAM policy, ACLs, a sample of object names) and HMAC keys.

Buckets are listed with ``projection=full`` so that ACLs come with them when uniform
bucket-level access is off; a listing that leaves them out (the caller lacks
``storage.buckets.getIamPolicy``) is recorded as not known, never as "no ACL".
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from auditor.inventory import CollectionError
from auditor.scanners.gcp import ids, records
from auditor.scanners.gcp.context import Project, ScanContext
from auditor.scanners.gcp.errors import ErrorScope, guarded
from auditor.scanners.runner import Record, Task, TaskContext

SERVICE = "storage"


def project_tasks(ctx: ScanContext, project: Project) -> list[Task]:
    return [_buckets_task(ctx, project), _hmac_keys_task(ctx, project)]


def _buckets_task(ctx: ScanContext, project: Project) -> Task:
    def run(task: TaskContext) -> Iterator[Record]:
        client = ctx.clients.storage()
        # the listing's bucket resources as the JSON API returned them
        listed, error = guarded(ErrorScope(project.project_id, SERVICE), "buckets.list", lambda: [
            bucket._properties for bucket in ctx.api.call(
                SERVICE, "buckets.list", client.list_buckets, project=project.project_id,
                projection="full")])
        if error is not None:
            yield error
        for data in listed or []:
            task.spawn(_bucket_task(ctx, project, data))

    return Task(f"{project.project_id} buckets.list", run, service=SERVICE)


def _bucket_task(ctx: ScanContext, project: Project, data: dict[str, Any]) -> Task:
    name = data.get("name", "")
    resource_id = ids.bucket_id(name)

    def run(_: TaskContext) -> Iterator[Record]:
        location = (data.get("location") or "").lower() or None
        scope = ErrorScope(project.project_id, SERVICE, location, resource_id)
        uniform = ((data.get("iamConfiguration") or {}).get("uniformBucketLevelAccess") or {})
        objects, truncated, errors = _object_sample(ctx, name, not uniform.get("enabled"), scope)
        yield from errors
        number = data.get("projectNumber")
        ancestors = project.ancestors or ((f"projects/{number}",) if number else ())
        resource = records.bucket(data, project_id=project.project_id, ancestors=ancestors,
                                  objects=objects, truncated=truncated)
        for attribute in ("acl", "default_object_acl"):
            if attribute in resource.unknown:
                yield CollectionError(
                    provider=ids.PROVIDER, account=project.project_id, service=SERVICE,
                    operation="buckets.list", code="NotReturned", region=location,
                    resource_id=resource_id, attribute=attribute,
                    message="the bucket listing did not include ACLs (reading them needs "
                            "storage.buckets.getIamPolicy)")
        client = ctx.clients.storage()
        policy, error = guarded(scope, "buckets.getIamPolicy", lambda: ctx.api.call(
            SERVICE, "buckets.getIamPolicy", client.bucket(name).get_iam_policy,
            requested_policy_version=3).to_api_repr(), "iam_policy")
        if error is not None:
            records.mark_unknown(resource, "iam_policy")
            yield error
        else:
            records.set_policy(resource, policy)
        yield resource

    return Task(f"{project.project_id} bucket {name}", run, service=SERVICE, resource_id=resource_id)


def _object_sample(ctx: ScanContext, bucket: str, read_acls: bool, scope: ErrorScope
                   ) -> tuple[list[dict[str, Any]] | None, bool, list[CollectionError]]:
    """Up to ``object_sample_size`` objects (and, with uniform access off, the ACLs of the first
    ``object_acl_sample_size``); None when the listing failed."""
    limit = ctx.settings.object_sample_size
    client = ctx.clients.storage()
    blobs, error = guarded(scope, "objects.list", lambda: list(islice(ctx.api.call(
        SERVICE, "objects.list", client.list_blobs, bucket, max_results=limit + 1), limit + 1)),
        "object_sample")
    if error is not None:
        return None, False, [error]
    errors: list[CollectionError] = []
    sample = []
    for position, blob in enumerate(blobs[:limit]):
        acl = None
        if read_acls and position < ctx.settings.object_acl_sample_size:
            def read(blob: Any = blob) -> list[dict[str, Any]]:
                ctx.api.call(SERVICE, "objectAccessControls.list", blob.acl.reload)
                return [dict(entry) for entry in blob.acl]
            acl, failure = guarded(scope, "objectAccessControls.list", read, "object_sample")
            if failure is not None:
                errors.append(failure)
        sample.append(records.object_entry(blob.name, blob.size, acl))
    return sample, len(blobs) > limit, errors


def _hmac_keys_task(ctx: ScanContext, project: Project) -> Task:
    def run(_: TaskContext) -> Iterator[Record]:
        client = ctx.clients.storage()
        keys, error = guarded(ErrorScope(project.project_id, SERVICE), "projects.hmacKeys.list",
                              lambda: [key._properties for key in ctx.api.call(
                                  SERVICE, "projects.hmacKeys.list", client.list_hmac_keys,
                                  project_id=project.project_id)])
        if error is not None:
            yield error
        for data in keys or []:
            yield records.hmac_key(data, project.ancestors)

    return Task(f"{project.project_id} hmacKeys.list", run, service=SERVICE)
