"""Every AWS API operation the scanner may call, with the IAM action it needs, and the one
way to call them (plain or paginated).

The table is the single source of the scanner's ``permissions`` and its read-only guarantee:
an operation that is not listed here cannot be called. The one exception is ``AssumeRole``,
which has its own method: it changes nothing in any account, but IAM classes it as a write, so
it is declared apart (``ENTRY_PERMISSIONS``), needed only by the identity that enters the
other accounts of an organization.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore import xform_name

from auditor.scanners.aws.clients import AwsClients

# (botocore service name, API operation) -> IAM action that authorizes it
OPERATIONS: dict[tuple[str, str], str] = {
    ("sts", "GetCallerIdentity"): "sts:GetCallerIdentity",
    ("organizations", "DescribeOrganization"): "organizations:DescribeOrganization",
    ("organizations", "ListAccounts"): "organizations:ListAccounts",
    ("organizations", "ListRoots"): "organizations:ListRoots",
    ("organizations", "ListOrganizationalUnitsForParent"):
        "organizations:ListOrganizationalUnitsForParent",
    ("organizations", "ListParents"): "organizations:ListParents",
    ("organizations", "ListPolicies"): "organizations:ListPolicies",
    ("organizations", "DescribePolicy"): "organizations:DescribePolicy",
    ("organizations", "ListTargetsForPolicy"): "organizations:ListTargetsForPolicy",
    ("s3control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "GetBucketLocation"): "s3:GetBucketLocation",
    ("s3", "GetBucketPolicy"): "s3:GetBucketPolicy",
    ("s3", "GetBucketAcl"): "s3:GetBucketAcl",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "GetBucketOwnershipControls"): "s3:GetBucketOwnershipControls",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "GetBucketVersioning"): "s3:GetBucketVersioning",
    ("s3", "GetObjectLockConfiguration"): "s3:GetBucketObjectLockConfiguration",
    ("s3", "GetBucketLogging"): "s3:GetBucketLogging",
    ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration",
    ("s3", "GetBucketTagging"): "s3:GetBucketTagging",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "GetObjectAcl"): "s3:GetObjectAcl",
    ("iam", "GetAccountAuthorizationDetails"): "iam:GetAccountAuthorizationDetails",
    ("iam", "ListUsers"): "iam:ListUsers",
    ("iam", "ListAccessKeys"): "iam:ListAccessKeys",
    ("iam", "GetAccessKeyLastUsed"): "iam:GetAccessKeyLastUsed",
    ("iam", "ListMFADevices"): "iam:ListMFADevices",
    ("iam", "GetLoginProfile"): "iam:GetLoginProfile",
    ("kms", "ListKeys"): "kms:ListKeys",
    ("kms", "ListAliases"): "kms:ListAliases",
    ("kms", "DescribeKey"): "kms:DescribeKey",
    ("kms", "GetKeyPolicy"): "kms:GetKeyPolicy",
    ("kms", "GetKeyRotationStatus"): "kms:GetKeyRotationStatus",
    ("kms", "ListGrants"): "kms:ListGrants",
    ("cloudtrail", "DescribeTrails"): "cloudtrail:DescribeTrails",
    ("cloudtrail", "GetTrailStatus"): "cloudtrail:GetTrailStatus",
    ("cloudtrail", "GetEventSelectors"): "cloudtrail:GetEventSelectors",
}

PERMISSIONS: tuple[str, ...] = tuple(sorted(set(OPERATIONS.values())))
ENTRY_PERMISSIONS: tuple[str, ...] = ("sts:AssumeRole",)


class AwsApi:
    def __init__(self, clients: AwsClients):
        self.clients = clients

    def call(self, service: str, operation: str, *, region: str | None = None,
             **params: Any) -> dict[str, Any]:
        client = self.clients.client(service, region)
        return getattr(client, self._method(service, operation))(**params)

    def pages(self, service: str, operation: str, *, region: str | None = None,
              limit: int | None = None, page_size: int | None = None,
              **params: Any) -> Iterator[dict[str, Any]]:
        """The response pages of a paginated operation, at most ``limit`` items in all."""
        client = self.clients.client(service, region)
        paginator = client.get_paginator(self._method(service, operation))
        pagination = {key: value for key, value in
                      (("MaxItems", limit), ("PageSize", page_size)) if value is not None}
        if pagination:
            params["PaginationConfig"] = pagination
        yield from paginator.paginate(**params)

    def items(self, service: str, operation: str, key: str, *, region: str | None = None,
              limit: int | None = None, page_size: int | None = None,
              **params: Any) -> Iterator[Any]:
        """The items under ``key`` of every page, one at a time."""
        for page in self.pages(service, operation, region=region, limit=limit,
                               page_size=page_size, **params):
            yield from page.get(key, [])

    def assume_role(self, role_arn: str, session_name: str, policy: str) -> dict[str, Any]:
        """Temporary credentials for ``role_arn``, limited by the session ``policy``."""
        return self.clients.client("sts").assume_role(RoleArn=role_arn,
                                                      RoleSessionName=session_name, Policy=policy)

    @staticmethod
    def _method(service: str, operation: str) -> str:
        if (service, operation) not in OPERATIONS:
            # a programming error, not a cloud failure: the table is the read-only allow-list
            raise LookupError(f"{service}:{operation} is not a declared scanner operation")
        return xform_name(operation)
