"""Which resources the logs mention are training data or model weights, and how to name them.

The inventory's classification decides. A bucket the logs name but the inventory does not hold
(another account, a scan that missed it) is classified by its name alone, like the scan
would; when that says nothing, its classification is unknown (None), which the change
detections treat as "may be sensitive" and the behavioural ones as "not known to be".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from auditor.classify.ml import classify
from auditor.classify.model import Classification
from auditor.classify.settings import ClassificationSettings
from auditor.findings import ResourceRef
from auditor.inventory import Inventory, Resource
from auditor.rules.engine import resource_ref

S3_BUCKET_PREFIX = "arn:aws:s3:::"
GCS_BUCKET_PREFIX = "//storage.googleapis.com/projects/_/buckets/"
NOT_IN_INVENTORY = "not in the inventory, classified by its name"


def bucket_type(resource_id: str) -> str | None:
    if resource_id.startswith(S3_BUCKET_PREFIX) and "/" not in resource_id[len(S3_BUCKET_PREFIX):]:
        return "aws.s3.bucket"
    if resource_id.startswith(GCS_BUCKET_PREFIX):
        return "gcp.storage.bucket"
    return None


def bucket_of(reference: str) -> str | None:
    """The bucket id of a bucket or object ARN (``arn:aws:s3:::b/key`` -> ``arn:aws:s3:::b``)."""
    if reference.startswith(S3_BUCKET_PREFIX):
        return S3_BUCKET_PREFIX + reference[len(S3_BUCKET_PREFIX):].split("/", 1)[0]
    return None


class Assets:
    def __init__(self, inventory: Inventory, classifications: Mapping[str, Classification],
                 settings: ClassificationSettings | None = None):
        self.inventory = inventory
        self.classifications = classifications
        self.settings = settings or ClassificationSettings()
        self._guessed: dict[str, Classification | None] = {}

    def in_inventory(self, resource_id: str) -> bool:
        return self.inventory.get(resource_id) is not None

    def classification(self, resource_id: str) -> Classification | None:
        """The inventory's classification; for a bucket outside it, its name's (or None)."""
        if resource_id in self.classifications:
            return self.classifications[resource_id]
        if self.in_inventory(resource_id) or bucket_type(resource_id) is None:
            return None
        if resource_id not in self._guessed:
            guess = classify(self._stub(resource_id), self.settings)
            self._guessed[resource_id] = Classification(
                guess.label, (*guess.reasons, NOT_IN_INVENTORY)) if guess.sensitive else None
        return self._guessed[resource_id]

    def sensitive(self, resource_id: str) -> bool:
        found = self.classification(resource_id)
        return found is not None and found.sensitive

    def maybe_sensitive(self, resource_id: str) -> bool:
        """Sensitive, or a bucket whose classification is unknown."""
        return self.sensitive(resource_id) or (
            not self.in_inventory(resource_id) and self.classification(resource_id) is None)

    def sensitive_among(self, resource_ids: Iterable[str]) -> dict[str, str]:
        return {r: found.label for r in resource_ids
                if (found := self.classification(r)) is not None and found.sensitive}

    def ref(self, resource_id: str, resource_type: str, *, name: str | None = None,
            account: str | None = None, region: str | None = None) -> ResourceRef:
        """The inventory's record of the resource, else what the logs say about it."""
        resource = self.inventory.get(resource_id)
        if resource is not None:
            return resource_ref(resource)
        provider = resource_type.split(".", 1)[0]
        return ResourceRef(id=resource_id, type=resource_type,
                           name=name or _short_name(resource_id), provider=provider,
                           account=account or _account_of(resource_id) or "unknown",
                           region=region)

    def protecting_keys(self) -> dict[str, list[str]]:
        """KMS key ARN -> the sensitive buckets whose default encryption uses it."""
        names: dict[str, str] = {}
        for key in self.inventory.of_type("aws.kms.key"):
            for name in (key.id, key.attributes.get("key_id"), *(key.attributes.get("aliases") or []),
                         *(key.attributes.get("alias_arns") or [])):
                if isinstance(name, str):
                    names.setdefault(f"{key.account}:{key.region}:{name}", key.id)
                    names.setdefault(name, key.id)
        protected: dict[str, list[str]] = defaultdict(list)
        for bucket in self.inventory.of_type("aws.s3.bucket"):
            encryption = bucket.attributes.get("encryption") or {}
            wanted = encryption.get("kms_key_id") if isinstance(encryption, dict) else None
            if not isinstance(wanted, str) or not self.sensitive(bucket.id):
                continue
            key = names.get(f"{bucket.account}:{bucket.region}:{wanted}") or names.get(wanted)
            if key:
                protected[key].append(bucket.id)
        return {key: sorted(buckets) for key, buckets in protected.items()}

    def _stub(self, resource_id: str) -> Resource:
        resource_type = bucket_type(resource_id) or ""
        return Resource(id=resource_id, type=resource_type, provider=resource_type.split(".")[0],
                        account=_account_of(resource_id) or "unknown", name=_short_name(resource_id))


def _short_name(resource_id: str) -> str:
    for prefix in (GCS_BUCKET_PREFIX, S3_BUCKET_PREFIX):
        if resource_id.startswith(prefix):
            return resource_id[len(prefix):]
    return resource_id.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _account_of(resource_id: str) -> str | None:
    parts = resource_id.split(":")
    return parts[4] if resource_id.startswith("arn:") and len(parts) > 5 and parts[4] else None
