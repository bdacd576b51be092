"""S3 buckets: one task lists them, then one task per bucket reads its configuration."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.inventory import CollectionError, Resource
from auditor.scanners.aws.collect import REGION, TAGS, AwsContext, ResourceDraft
from auditor.scanners.aws.values import iso, policy_document, public_access_block, tag_dict
from auditor.scanners.runner import Task, TaskContext, without_context

BUCKET = "aws.s3.bucket"
# the part of object_sample that can be unknown on its own (see docs/inventory.md)
OBJECT_ACL = "object_sample.acl"
# GetBucketLocation answers for the two regions that predate location constraints
_LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}
# ListObjectsV2 returns at most this many keys per page
_MAX_PAGE = 1000


def bucket_listing_task(context: AwsContext) -> Task:
    def run(task: TaskContext) -> Iterator[Resource | CollectionError]:
        for page in context.api.pages("s3", "ListBuckets"):
            owner_id = (page.get("Owner") or {}).get("ID")
            for bucket in page.get("Buckets", []):
                arn = bucket_arn(context, bucket["Name"])
                task.spawn(Task(label=f"s3 bucket {bucket['Name']}",
                                run=without_context(scan_bucket, context, bucket, owner_id),
                                service="s3", resource_id=arn))
        return iter(())

    return Task(label="s3 list buckets", run=run, service="s3")


def bucket_arn(context: AwsContext, name: str) -> str:
    return f"arn:{context.partition}:s3:::{name}"


def scan_bucket(context: AwsContext, bucket: dict[str, Any],
                owner_id: str | None) -> Iterator[Resource | CollectionError]:
    """One bucket: every attribute of docs/inventory.md, each from its own call."""
    name = bucket["Name"]
    draft = ResourceDraft(context, id=bucket_arn(context, name), type=BUCKET, name=name,
                          region=None)
    draft.attributes.update(creation_date=iso(bucket.get("CreationDate")), owner_id=owner_id)
    # the region first: every other call about the bucket goes to it
    located = draft.read(REGION, "GetBucketLocation",
                         lambda r: _LEGACY_LOCATIONS.get(r.get("LocationConstraint"),
                                                         r.get("LocationConstraint")),
                         Bucket=name)
    if not located and draft.errors[-1].code == "NoSuchBucket":
        return iter(())  # deleted since it was listed: there is nothing left to audit
    draft.read("policy", "GetBucketPolicy", lambda r: policy_document(r["Policy"]), Bucket=name)
    draft.read("acl", "GetBucketAcl", access_control_list, Bucket=name)
    draft.read("public_access_block", "GetPublicAccessBlock",
               lambda r: public_access_block(r["PublicAccessBlockConfiguration"]), Bucket=name)
    draft.read("object_ownership", "GetBucketOwnershipControls",
               lambda r: r["OwnershipControls"]["Rules"][0]["ObjectOwnership"], Bucket=name)
    draft.read("encryption", "GetBucketEncryption", default_encryption, Bucket=name)
    draft.read("versioning", "GetBucketVersioning",
               lambda r: {"status": r.get("Status"), "mfa_delete": r.get("MFADelete") == "Enabled"},
               Bucket=name)
    draft.read("object_lock", "GetObjectLockConfiguration", object_lock_config, Bucket=name)
    draft.read("logging", "GetBucketLogging", access_logging, Bucket=name)
    draft.read("replication", "GetBucketReplication", replication_config, Bucket=name)
    draft.read(TAGS, "GetBucketTagging", lambda r: tag_dict(r.get("TagSet")), absent={},
               Bucket=name)
    _sample_objects(draft, name)
    return draft.records()


def _sample_objects(draft: ResourceDraft, bucket: str) -> None:
    api, settings = draft.context.api, draft.context.settings
    size = max(0, settings.object_sample_size)

    def listing() -> tuple[list[dict[str, Any]], bool]:
        # one key more than the sample tells whether the bucket holds more
        found = list(api.items("s3", "ListObjectsV2", "Contents", region=draft.region,
                               limit=size + 1, page_size=min(size + 1, _MAX_PAGE), Bucket=bucket))
        sample = [{"key": item["Key"], "size": item.get("Size", 0), "acl": None}
                  for item in found[:size]]
        return sample, len(found) > size

    if not draft.guard(("object_sample", "object_sample_truncated"), "ListObjectsV2", listing):
        return
    if draft.attributes.get("object_ownership") == "BucketOwnerEnforced":
        return  # ACLs are disabled: they grant nothing and are not read
    sampled = draft.attributes["object_sample"][:max(0, settings.object_acl_sample_size)]
    for number, item in enumerate(sampled):
        try:
            response = api.call("s3", "GetObjectAcl", region=draft.region, Bucket=bucket,
                                Key=item["key"])
            item["acl"] = access_control_list(response)
        except Exception as exc:  # an object ACL we cannot read is unknown, never "private"
            # the same denial almost surely applies to the rest: stop spending calls on it
            skipped = len(sampled) - number - 1
            draft.note_failure((OBJECT_ACL,), exc, "GetObjectAcl",
                               detail=f"object {item['key']!r}; the ACLs of {skipped} more "
                                      f"sampled objects were not requested")
            return


def access_control_list(response: dict[str, Any]) -> dict[str, Any]:
    grants = []
    for grant in response.get("Grants", []):
        grantee = grant.get("Grantee", {})
        grants.append({"grantee_type": grantee.get("Type"), "grantee_id": grantee.get("ID"),
                       "grantee_uri": grantee.get("URI"),
                       "grantee_email": grantee.get("EmailAddress"),
                       "permission": grant.get("Permission")})
    grants.sort(key=lambda g: tuple(g[key] or "" for key in (
        "grantee_type", "grantee_id", "grantee_uri", "grantee_email", "permission")))
    return {"owner_id": (response.get("Owner") or {}).get("ID"), "grants": grants}


def default_encryption(response: dict[str, Any]) -> dict[str, Any] | None:
    for rule in response["ServerSideEncryptionConfiguration"].get("Rules", []):
        default = rule.get("ApplyServerSideEncryptionByDefault")
        if default:
            return {"algorithm": default.get("SSEAlgorithm"),
                    "kms_key_id": default.get("KMSMasterKeyID"),
                    "bucket_key_enabled": bool(rule.get("BucketKeyEnabled", False))}
    return None


def object_lock_config(response: dict[str, Any]) -> dict[str, Any]:
    configuration = response["ObjectLockConfiguration"]
    retention = (configuration.get("Rule") or {}).get("DefaultRetention") or {}
    return {"enabled": configuration.get("ObjectLockEnabled") == "Enabled",
            "mode": retention.get("Mode"), "days": retention.get("Days"),
            "years": retention.get("Years")}


def access_logging(response: dict[str, Any]) -> dict[str, Any] | None:
    enabled = response.get("LoggingEnabled")
    if not enabled:
        return None
    return {"target_bucket": enabled["TargetBucket"],
            "target_prefix": enabled.get("TargetPrefix", "")}


def replication_config(response: dict[str, Any]) -> dict[str, Any]:
    configuration = response["ReplicationConfiguration"]
    # rule order is kept: it is AWS's (priority) order, not an accident
    return {"role": configuration.get("Role"),
            "rules": [{"id": rule.get("ID"), "status": rule.get("Status"),
                       "destination_bucket": (rule.get("Destination") or {}).get("Bucket"),
                       "destination_account": (rule.get("Destination") or {}).get("Account")}
                      for rule in configuration.get("Rules", [])]}
