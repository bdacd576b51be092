"""The resource types rules may name, and how other resources refer to each of them.

The attribute names follow docs/inventory.md. A rule naming a type that is not here is a
RuleError, so that a typo cannot make a rule silently match nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ResourceType:
    # the scan service that lists it: the name in Scope.services and CollectionError.service
    service: str
    # attributes (besides ``id`` and ``name``) whose values other resources use to name it
    identifiers: tuple[str, ...] = ()
    # the attribute holding other names people know it by (ResourceRef.aliases in findings)
    aliases: str | None = None


RESOURCE_TYPES: dict[str, ResourceType] = {
    "aws.account": ResourceType("sts", identifiers=("account_id",)),
    "aws.s3.bucket": ResourceType("s3"),
    "aws.iam.user": ResourceType("iam"),
    "aws.iam.group": ResourceType("iam"),
    "aws.iam.role": ResourceType("iam"),
    "aws.iam.policy": ResourceType("iam"),
    "aws.iam.access_key": ResourceType("iam", identifiers=("access_key_id",)),
    "aws.kms.key": ResourceType("kms", identifiers=("key_id", "aliases", "alias_arns"),
                                aliases="alias_arns"),
    "aws.cloudtrail.trail": ResourceType("cloudtrail"),
}


def provider_of(resource_type: str) -> str:
    return resource_type.split(".", 1)[0]
