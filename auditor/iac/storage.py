"""Buckets in code: which blocks are buckets, which configure one, and what they hold.

A bucket is classified exactly as the live audit classifies it (auditor.classify.ml, with the
profile's settings) from what the code says: its tags or labels, its name, and when the name
is not known before apply (``bucket_prefix``, an unresolved variable) the resource's own name
in the code (``aws_s3_bucket.model_weights``, ``WeightsBucket``).

A companion resource (``aws_s3_bucket_acl``, ``aws_s3_bucket_policy``,
``google_storage_bucket_iam_member``, ``AWS::S3::BucketPolicy``...) names its bucket in a
``bucket``/``Bucket`` attribute: by reference (``aws_s3_bucket.x.id``, ``!Ref X``) or by
literal name. It is classified as that bucket is. A KMS key is classified as the most
sensitive bucket it encrypts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from auditor.classify.ml import classify
from auditor.classify.model import MODEL_WEIGHTS, OTHER, TRAINING_DATA, Classification
from auditor.classify.settings import ClassificationSettings
from auditor.iac import values
from auditor.iac.model import Block, Model
from auditor.inventory import Resource

# bucket type in code -> (the live inventory's type, the attribute holding its name, tag attribute)
BUCKET_TYPES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "aws_s3_bucket": ("aws.s3.bucket", ("bucket", "bucket_prefix"), "tags"),
    "google_storage_bucket": ("gcp.storage.bucket", ("name",), "labels"),
    "AWS::S3::Bucket": ("aws.s3.bucket", ("BucketName",), "Tags"),
}
KMS_KEY_TYPES = frozenset({"aws_kms_key", "AWS::KMS::Key"})
_CAMEL_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class BucketRef:
    """The bucket a block is about: its block when the scan has it, else only its name."""

    block: Block | None
    name: str
    classification: Classification

    @property
    def sensitive(self) -> bool:
        return self.classification.sensitive

    def describe(self) -> str:
        """``model-weights bucket acme-weights``: how messages name it."""
        return f"{self.classification.label} bucket {self.name}"


def sensitive_bucket(ref: BucketRef | None) -> BucketRef | None:
    """The bucket when it holds training data or model weights, else None (the rule does not apply)."""
    return ref if ref is not None and ref.sensitive else None


def bucket_name(block: Block) -> str | None:
    """The bucket's name as written (``prefix*`` for a ``bucket_prefix``), when the code sets it."""
    _, name_attributes, _ = BUCKET_TYPES[block.type]
    for attribute in name_attributes:
        name = values.string(block.get(attribute))
        if name:
            return f"{name}*" if attribute == "bucket_prefix" else name
    return None


def classify_bucket(block: Block, settings: ClassificationSettings) -> Classification:
    live_type, _, tag_attribute = BUCKET_TYPES[block.type]
    name = bucket_name(block) or ""
    resource = Resource(id=block.address, type=live_type, provider="iac", account="", name=name,
                        tags=values.tags(block.get(tag_attribute)))
    found = classify(resource, settings)
    if found.label != OTHER:
        return found
    # the name in the code is the author's word for what the bucket is for
    local = _CAMEL_WORD.sub("-", block.name).lower()
    by_local = classify(Resource(id=block.address, type=live_type, provider="iac", account="",
                                 name=local), settings)
    if by_local.label != OTHER:
        return Classification(by_local.label, tuple(f"{reason} (its name in the code, "
                                                      f"{block.address})" for reason in by_local.reasons))
    return found


def most_sensitive(classifications: Iterable[tuple[str, Classification]]) -> Classification | None:
    """Weights over training data over the rest; the reasons say which bucket decided."""
    ranked = sorted(classifications, key=lambda item: ({MODEL_WEIGHTS: 0, TRAINING_DATA: 1}
                                                       .get(item[1].label, 2), item[0]))
    if not ranked:
        return None
    label = ranked[0][1].label
    reasons = tuple(f"protects {address}, classified {c.label}" for address, c in ranked
                    if c.label == label)
    return Classification(label, reasons if label != OTHER else ())


def bucket_attribute(block: Block) -> object:
    return block.get("Bucket") if block.framework == "cloudformation" else block.get("bucket")


def buckets_by_name(model: Model) -> dict[str, Block]:
    found: dict[str, Block] = {}
    for block in model.of_type(*BUCKET_TYPES):
        name = bucket_name(block)
        if name:
            found.setdefault(name, block)
    return found
