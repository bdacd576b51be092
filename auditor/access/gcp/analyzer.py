"""The GCP access analyzer plugin (entry point ``auditor.analyzers``: ``gcp``).

Access classes on a Cloud Storage bucket, as IAM permissions:

* read: ``storage.objects.get``; write: ``storage.objects.create``; delete: ``storage.objects.delete``
* admin: ``storage.buckets.setIamPolicy`` on the bucket, or ``setIamPolicy`` on its project,
  a folder or the organization above it (whoever can rewrite a policy that applies can grant
  itself the rest). These are never counted as read or write.

Any other permission (``storage.objects.list``...) can be asked for by name through ``who_can``.
"""

from __future__ import annotations

from collections.abc import Iterable

from auditor import clock
from auditor.access.gcp import members
from auditor.access.gcp.effective import AccessEngine, Answer, Route
from auditor.access.gcp.view import IamView
from auditor.access.model import ACCESS_CLASSES, AccessGrant, AssetAccess
from auditor.classify.model import Classification
from auditor.errors import InputError
from auditor.inventory import Inventory, Resource
from auditor.scanners.gcp import ids

ACCESS_PERMISSIONS: dict[str, str] = {
    "read": "storage.objects.get",
    "write": "storage.objects.create",
    "delete": "storage.objects.delete",
    "admin": "storage.buckets.setIamPolicy",
}
# who can rewrite the allow policy of a hierarchy node
NODE_ADMIN_PERMISSIONS = {
    ids.PROJECT: "resourcemanager.projects.setIamPolicy",
    ids.FOLDER: "resourcemanager.folders.setIamPolicy",
    ids.ORGANIZATION: "resourcemanager.organizations.setIamPolicy",
}


class GcpAnalyzer:
    provider = ids.PROVIDER

    def handles(self, resource_ref: str) -> bool:
        return ids.bucket_name(resource_ref) is not None

    def analyze(self, inventory: Inventory,
                classifications: dict[str, Classification]) -> Iterable[AssetAccess]:
        engine = AccessEngine(IamView(inventory, clock.now()))
        for bucket in sorted(inventory.of_type(ids.BUCKET), key=lambda r: r.id):
            classification = classifications.get(bucket.id)
            if classification is None or not classification.sensitive:
                continue
            asset = AssetAccess(bucket.id)
            notes: dict[str, set[str]] = {}
            caveats: set[str] = set()
            for access in ACCESS_CLASSES:
                answer = _answer(engine, bucket, access)
                notes[access] = answer.notes
                caveats |= answer.caveats
                asset.grants.extend(_grants(answer, access))
            # a gap of some access classes only (an object ACL, say) leaves the others decided
            everywhere = set.intersection(*notes.values())
            asset.unknown = sorted(everywhere)
            asset.unknown_for = {access: sorted(found - everywhere)
                                 for access, found in notes.items() if found - everywhere}
            asset.may_not_hold = sorted(caveats)
            yield asset

    def who_can(self, inventory: Inventory, resource_ref: str, action: str) -> list[AccessGrant]:
        name = ids.bucket_name(resource_ref)
        if name is None:
            raise InputError(f"not a Cloud Storage bucket: {resource_ref!r} (expected gs://BUCKET)")
        if action not in ACCESS_PERMISSIONS and "." not in action:
            raise InputError(f"unknown action {action!r}: use read, write, delete, admin or an IAM "
                             "permission such as storage.objects.list")
        bucket = inventory.get(ids.bucket_id(name))
        if bucket is None:
            raise InputError(f"bucket {name!r} is not in the inventory")
        engine = AccessEngine(IamView(inventory, clock.now()))
        return _grants(_answer(engine, bucket, action), action)


def _answer(engine: AccessEngine, bucket: Resource, access: str) -> Answer:
    """Who has ``access`` (a class or a permission) on ``bucket``; for admin, the union of the
    bucket's own policy and every policy above it that could be rewritten."""
    answer = engine.holders(bucket, ACCESS_PERMISSIONS.get(access, access))
    if access != "admin":
        return answer
    chain, _ = engine.view.chain(bucket)
    for node in chain[1:]:
        node_answer = engine.holders(node, NODE_ADMIN_PERMISSIONS[node.type])
        answer.absorb(node_answer)
        for member, route in sorted(node_answer.routes.items()):
            answer.offer(member, route)
    return answer


def _grants(answer: Answer, access: str) -> list[AccessGrant]:
    return [_grant(member, route, access) for member, route in sorted(answer.routes.items())]


def _grant(member: str, route: Route, access: str) -> AccessGrant:
    kind, human = members.describe(member)
    # the permission used at the end of the path is the one on the asset
    action = route.path[-1].action if route.path else ACCESS_PERMISSIONS.get(access, access)
    return AccessGrant(principal=member, kind=kind, human=human, access=access, action=action,
                       decision=route.decision, conditions=route.conditions, path=route.path)
