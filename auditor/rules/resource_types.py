"""The resource types rules may name, and how other resources refer to each of them.

The attribute names follow docs/inventory.md (AWS) and docs/inventory-gcp.md (GCP); the GCP
type names themselves are written once, in auditor/scanners/gcp/ids.py (a module of plain
strings that imports no Google client). A rule naming a type that is not here is a RuleError,
so that a typo cannot make a rule silently match nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.scanners.gcp import ids as gcp


@dataclass(frozen=True, slots=True)
class ResourceType:
    # the scan service that lists it: the name in Scope.services and CollectionError.service
    service: str
    # attributes (besides ``id`` and ``name``) whose values other resources use to name it
    identifiers: tuple[str, ...] = ()
    # the attribute holding other names people know it by (ResourceRef.aliases in findings)
    aliases: str | None = None
    # what its id is made of besides a name other resources use: a GCP bucket's
    # ``default_kms_key`` holds ``projects/P/.../cryptoKeys/K``, its id is that after the prefix
    id_prefix: str = ""
    # how access grants name the resource when it acts as a principal: a message template
    # (auditor/rules/template.py) over its own fields; None when it is not a principal
    principal: str | None = None


RESOURCE_TYPES: dict[str, ResourceType] = {
    "aws.account": ResourceType("sts", identifiers=("account_id",)),
    "aws.s3.bucket": ResourceType("s3"),
    "aws.iam.user": ResourceType("iam", principal="{id}"),
    "aws.iam.group": ResourceType("iam"),
    "aws.iam.role": ResourceType("iam", principal="{id}"),
    "aws.iam.policy": ResourceType("iam"),
    "aws.iam.access_key": ResourceType("iam", identifiers=("access_key_id",)),
    "aws.kms.key": ResourceType("kms", identifiers=("key_id", "aliases", "alias_arns"),
                                aliases="alias_arns"),
    "aws.cloudtrail.trail": ResourceType("cloudtrail"),
    gcp.ORGANIZATION: ResourceType("cloudresourcemanager", identifiers=("organization_id",),
                                   id_prefix="//cloudresourcemanager.googleapis.com/"),
    gcp.FOLDER: ResourceType("cloudresourcemanager", identifiers=("folder_id",),
                             id_prefix="//cloudresourcemanager.googleapis.com/"),
    gcp.PROJECT: ResourceType("cloudresourcemanager", identifiers=("project_number",),
                              id_prefix="//cloudresourcemanager.googleapis.com/"),
    gcp.BUCKET: ResourceType("storage", id_prefix="//storage.googleapis.com/projects/_/buckets/"),
    gcp.HMAC_KEY: ResourceType("storage", identifiers=("access_id",)),
    gcp.SERVICE_ACCOUNT: ResourceType("iam", identifiers=("email", "unique_id"),
                                      principal="serviceAccount:{email}"),
    gcp.SERVICE_ACCOUNT_KEY: ResourceType("iam", identifiers=("key_id",),
                                          id_prefix="//iam.googleapis.com/"),
    gcp.ROLE: ResourceType("iam", identifiers=("role_name",)),
    gcp.KEY_RING: ResourceType("cloudkms", id_prefix="//cloudkms.googleapis.com/"),
    gcp.CRYPTO_KEY: ResourceType("cloudkms", id_prefix="//cloudkms.googleapis.com/"),
}


def provider_of(resource_type: str) -> str:
    return resource_type.split(".", 1)[0]
