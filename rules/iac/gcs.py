"""Cloud Storage buckets holding training data or model weights, as Terraform declares them."""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from auditor.iac import values
from auditor.iac.context import IacScan, Verdict
from auditor.iac.model import Block
from auditor.iac.rules import SensitiveBucketRule
from auditor.iac.storage import BucketRef

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
PUBLIC_PREDEFINED_ACLS = ("publicRead", "publicReadWrite", "authenticatedRead")
_IAM_TYPES = ("google_storage_bucket_iam_member", "google_storage_bucket_iam_binding",
              "google_storage_bucket_iam_policy")
_ACL_TYPES = ("google_storage_bucket_acl", "google_storage_default_object_acl")


class SensitiveBucketPublicIam(SensitiveBucketRule):
    id = "iac.gcs.sensitive-bucket-public-iam"
    title = "Training data or model weights bucket granted to allUsers or allAuthenticatedUsers"
    severity = "critical"
    terraform_types = (*_IAM_TYPES, *_ACL_TYPES)
    rationale = ("An IAM member or ACL entry for allUsers or allAuthenticatedUsers opens the bucket to "
                 "anyone on the internet (or anyone with a Google account): the dataset or the "
                 "weights are copied with no trace of who took them.")
    remediation: ClassVar[dict[str, str]] = {
        "text": "Remove the public member; grant named groups or service accounts instead, and set "
                "public_access_prevention = \"enforced\" on the bucket.",
    }
    references = ("https://cloud.google.com/storage/docs/public-access-prevention",)

    def judge(self, block: Block, bucket: BucketRef, scan: IacScan) -> Verdict:
        members = list(_members(block, scan))
        if None in members:
            return Verdict.error(f"the policy data of {block.address} cannot be read from the code, so "
                                 f"public access to the {bucket.describe()} cannot be ruled out")
        public = sorted({m for m in members if m and any(p in m for p in PUBLIC_MEMBERS)})
        if not public:
            return Verdict.passed()
        return Verdict.failed(f"{block.address} grants {', '.join(public)} access to the {bucket.describe()}",
                              {"public_members": public, "role": values.first(block.config, "role")})


def _members(block: Block, scan: IacScan) -> Iterator[str | None]:
    """Every member or ACL entity the block grants; None for policy data that cannot be read."""
    if block.type == "google_storage_bucket_iam_member":
        yield from values.strings(block.config.get("member"))
    elif block.type == "google_storage_bucket_iam_binding":
        yield from values.strings(block.config.get("members"))
    elif block.type == "google_storage_bucket_iam_policy":
        yield from _policy_members(block, scan)
    else:
        yield from values.strings(block.config.get("role_entity"))
        acl = values.string(block.get("predefined_acl"))
        if acl in PUBLIC_PREDEFINED_ACLS:
            yield f"predefined_acl {acl} (allUsers)" if acl != "authenticatedRead" else \
                f"predefined_acl {acl} (allAuthenticatedUsers)"


def _policy_members(block: Block, scan: IacScan) -> Iterator[str | None]:
    """Members of ``policy_data``: checkov's evaluation of a ``data "google_iam_policy"`` (a
    ``binding`` map), IAM policy JSON (``bindings``), or the data block it still refers to."""
    value = block.get("policy_data")
    if isinstance(value, str):
        referred = scan.model.resolve(block, value)
        value = referred.config if referred is not None and referred.type == "google_iam_policy" else \
            _json_or_none(value)
    if not isinstance(value, Mapping):
        yield None
        return
    for binding in values.nested(value, "binding") + values.nested(value, "bindings"):
        yield from values.strings(binding.get("members"))


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


class _BucketSetting(SensitiveBucketRule):
    """A setting of the google_storage_bucket block that a sensitive bucket must have."""

    terraform_types = ("google_storage_bucket",)

    def judge(self, block: Block, bucket: BucketRef, scan: IacScan) -> Verdict:
        problem = self.problem(block)
        if problem is None:
            return Verdict.passed()
        return Verdict.failed(f"{problem} for the {bucket.describe()} ({block.address})")

    @abstractmethod
    def problem(self, block: Block) -> str | None:
        """What is wrong with the setting, None when it is right."""


class SensitiveBucketUniformAccessOff(_BucketSetting):
    id = "iac.gcs.sensitive-bucket-uniform-access-off"
    title = "Training data or model weights bucket without uniform bucket-level access"
    severity = "medium"
    rationale = ("With fine-grained ACLs any object can be made public or shared on its own, out of "
                 "sight of the bucket's IAM policy.")
    remediation: ClassVar[dict[str, str]] = {"text": "Set uniform_bucket_level_access = true."}

    def problem(self, block: Block) -> str | None:
        return None if values.as_bool(block.get("uniform_bucket_level_access")) else \
            "uniform bucket-level access is off"


class SensitiveBucketPublicAccessPreventionOff(_BucketSetting):
    id = "iac.gcs.sensitive-bucket-public-access-prevention-off"
    title = "Training data or model weights bucket without public access prevention enforced"
    severity = "medium"
    rationale = ("Public access prevention is the guard rail that refuses any later grant to allUsers "
                 "or allAuthenticatedUsers; 'inherited' leaves it to the organization policy.")
    remediation: ClassVar[dict[str, str]] = {"text": 'Set public_access_prevention = "enforced".'}

    def problem(self, block: Block) -> str | None:
        setting = values.string(block.get("public_access_prevention"))
        return None if setting == "enforced" else f"public access prevention is {setting or 'not set'}"


class SensitiveBucketNoCmek(_BucketSetting):
    id = "iac.gcs.sensitive-bucket-no-cmek"
    title = "Training data or model weights bucket not encrypted with a customer-managed key"
    severity = "medium"
    rationale = ("Without a Cloud KMS key of your own, reading an object needs no separately granted "
                 "decrypt permission and there is no key to disable in an incident.")
    remediation: ClassVar[dict[str, str]] = {
        "text": "Set encryption { default_kms_key_name = google_kms_crypto_key.KEY.id }.",
    }

    def problem(self, block: Block) -> str | None:
        keys = [values.first(e, "default_kms_key_name") for e in values.nested(block.config, "encryption")]
        return None if any(keys) else "no customer-managed encryption key"


class SensitiveBucketVersioningDisabled(_BucketSetting):
    id = "iac.gcs.sensitive-bucket-versioning-disabled"
    title = "Training data or model weights bucket without object versioning"
    severity = "medium"
    rationale = ("Without versioning an overwrite or a delete is final: poisoned training data or "
                 "tampered weights replace the originals.")
    remediation: ClassVar[dict[str, str]] = {"text": "Set versioning { enabled = true }."}

    def problem(self, block: Block) -> str | None:
        versioning = values.nested(block.config, "versioning")
        enabled = any(values.as_bool(values.first(v, "enabled")) for v in versioning)
        return None if enabled else "versioning is not enabled"
