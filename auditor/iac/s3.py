"""What S3 resources in code say about ACLs, Block Public Access, encryption, versioning, logging.

Terraform spreads a bucket over companion resources (AWS provider v4+) or keeps it in the
bucket block (v3 and earlier); CloudFormation keeps it in ``AWS::S3::Bucket`` properties.
Each reader takes the block that holds the setting, whatever its form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auditor.iac import values
from auditor.iac.model import Block

BPA_SETTINGS = ("block_public_acls", "ignore_public_acls", "block_public_policy",
                "restrict_public_buckets")
_CFN_BPA = {"block_public_acls": "BlockPublicAcls", "ignore_public_acls": "IgnorePublicAcls",
            "block_public_policy": "BlockPublicPolicy",
            "restrict_public_buckets": "RestrictPublicBuckets"}
PUBLIC_CANNED_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read",
                                "publicread", "publicreadwrite", "authenticatedread"})
PUBLIC_GRANTEE_URIS = ("http://acs.amazonaws.com/groups/global/AllUsers",
                       "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")
# aliases of the AWS managed S3 key: SSE-KMS, but not under a key the customer controls
AWS_MANAGED_KEY_MARKERS = ("alias/aws/s3",)


@dataclass(frozen=True, slots=True)
class DefaultEncryption:
    algorithm: str | None
    key: Any  # the key id, ARN, alias or reference as written; None when not set

    @property
    def customer_managed_key(self) -> bool:
        if self.algorithm not in ("aws:kms", "aws:kms:dsse") or self.key in (None, ""):
            return False
        return not any(marker in str(self.key) for marker in AWS_MANAGED_KEY_MARKERS)

    def to_dict(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "kms_key": self.key}


def public_acl(block: Block) -> str | None:
    """The public canned ACL or grantee a bucket or ``aws_s3_bucket_acl`` block sets, if any."""
    if block.framework == "cloudformation":
        acl = values.string(block.get("AccessControl"))
        return acl if acl and acl.lower() in PUBLIC_CANNED_ACLS else None
    acl = values.string(block.get("acl"))
    if acl and acl.lower() in PUBLIC_CANNED_ACLS:
        return acl
    grants = (values.nested(block.config, "grant")  # aws_s3_bucket (provider v3)
              + values.nested(block.config, "access_control_policy", "grant"))
    for grant in grants:
        uris = values.strings(grant.get("uri")) + [
            uri for grantee in values.nested(grant, "grantee") for uri in values.strings(grantee.get("uri"))]
        for uri in uris:
            if uri in PUBLIC_GRANTEE_URIS:
                permissions = values.strings(grant.get("permission") or grant.get("permissions"))
                return f"{uri.rsplit('/', 1)[-1]}:{','.join(permissions) or '?'}"
    return None


def public_access_block(block: Block) -> dict[str, bool | None] | None:
    """The four settings of a Block Public Access block (a companion, an account-level block,
    or a CloudFormation bucket's PublicAccessBlockConfiguration); None when the block has none."""
    if block.framework == "cloudformation":
        config = block.get("PublicAccessBlockConfiguration")
        if not isinstance(config, Mapping):
            return None
        return {name: values.as_bool(config.get(_CFN_BPA[name])) for name in BPA_SETTINGS}
    if block.type not in ("aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"):
        return None
    return {name: values.as_bool(block.get(name)) for name in BPA_SETTINGS}


def default_encryption(block: Block) -> list[DefaultEncryption]:
    """Default encryption rules of a bucket (inline) or an SSE-configuration companion."""
    if block.framework == "cloudformation":
        config = block.get("BucketEncryption")
        rules = values.nested(config, "ServerSideEncryptionConfiguration", "ServerSideEncryptionByDefault")
        return [DefaultEncryption(values.string(rule.get("SSEAlgorithm")), rule.get("KMSMasterKeyID"))
                for rule in rules]
    path = ("rule", "apply_server_side_encryption_by_default")
    if block.type == "aws_s3_bucket":
        path = ("server_side_encryption_configuration", *path)
    return [DefaultEncryption(values.first(rule, "sse_algorithm"), values.first(rule, "kms_master_key_id"))
            for rule in values.nested(block.config, *path)]


def versioning_enabled(block: Block) -> bool | None:
    """Whether a bucket (inline) or ``aws_s3_bucket_versioning`` block turns versioning on;
    None when the block does not say."""
    if block.framework == "cloudformation":
        config = block.get("VersioningConfiguration")
        return (str(config.get("Status")) == "Enabled") if isinstance(config, Mapping) else None
    if block.type == "aws_s3_bucket_versioning":
        configs = values.nested(block.config, "versioning_configuration")
        return any(str(values.first(c, "status")) == "Enabled" for c in configs)
    settings = [values.as_bool(values.first(c, "enabled"))
                for c in values.nested(block.config, "versioning")]
    return any(settings) if settings else None


def logging_configured(block: Block) -> bool:
    """Whether a bucket block itself sends server access logs somewhere."""
    if block.framework == "cloudformation":
        return isinstance(block.get("LoggingConfiguration"), Mapping)
    return bool(values.nested(block.config, "logging"))


def policy_attribute(block: Block) -> Any:
    """The bucket policy a bucket (provider v3), ``aws_s3_bucket_policy`` or
    ``AWS::S3::BucketPolicy`` block holds; None when it holds none."""
    if block.framework == "cloudformation":
        return block.config.get("PolicyDocument")
    return block.config.get("policy")
