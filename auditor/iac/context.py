"""One IaC scan's state: the code model, the profile's settings and every check's verdict.

Checkov calls a check with one resource's attributes and nothing else. Our checks need the
rest of the code (the bucket an ACL belongs to, the key that encrypts it) and the profile's
classification settings, so the scan publishes itself in a context variable for the duration
of the checkov run, and the checks read it there. The check objects themselves stay
stateless; what they conclude is recorded here, where the findings are built from.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

from auditor.classify.ml import classify
from auditor.classify.model import Classification
from auditor.classify.settings import ClassificationSettings
from auditor.iac import s3, values
from auditor.iac.model import Block, Model, looks_like_reference
from auditor.iac.storage import (
    BUCKET_TYPES,
    KMS_KEY_TYPES,
    BucketRef,
    bucket_attribute,
    bucket_name,
    buckets_by_name,
    classify_bucket,
    most_sensitive,
)
from auditor.inventory import Resource

Outcome = Literal["pass", "fail", "error", "not-applicable"]


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    message: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def passed(cls, evidence: Mapping[str, Any] | None = None) -> Verdict:
        return cls("pass", "", evidence or {})

    @classmethod
    def failed(cls, message: str, evidence: Mapping[str, Any] | None = None) -> Verdict:
        return cls("fail", message, evidence or {})

    @classmethod
    def error(cls, message: str, evidence: Mapping[str, Any] | None = None) -> Verdict:
        return cls("error", message, evidence or {})


NOT_APPLICABLE = Verdict("not-applicable")


class IacScan:
    def __init__(self, settings: ClassificationSettings, trusted_accounts: Collection[str] = ()):
        self.settings = settings
        self.trusted_accounts = frozenset(trusted_accounts)
        self.model = Model(())
        # (rule id, file, address) -> the verdict, with the block it is about
        self.verdicts: dict[tuple[str, str, str], tuple[Block, Verdict]] = {}
        self._classifications: dict[tuple[str, str], Classification] = {}
        # indexes over the whole model, built on first use and dropped when blocks are added
        self._names: dict[str, Block] | None = None
        self._companions: dict[tuple[str, str], list[Block]] | None = None
        self._keys: dict[tuple[str, str], Classification | None] | None = None

    def add(self, blocks: Iterable[Block]) -> None:
        """Blocks of one framework's run (each runner adds its own before its checks run)."""
        self.model = Model([*self.model, *blocks])
        self._names = self._companions = self._keys = None

    def record(self, rule_id: str, block: Block, verdict: Verdict) -> None:
        self.verdicts[(rule_id, block.file, block.address)] = (block, verdict)

    # --- buckets -------------------------------------------------------------------------

    def bucket(self, block: Block) -> BucketRef | None:
        """The bucket a bucket block or a companion block is about; None when unknown."""
        if block.type in BUCKET_TYPES:
            return self._ref(block)
        attribute = bucket_attribute(block)
        target = self.model.resolve(block, attribute)
        if target is not None:
            return self._ref(target) if target.type in BUCKET_TYPES else None
        name = values.string(attribute)
        if not name or looks_like_reference(name):
            return None
        if self._names is None:
            self._names = buckets_by_name(self.model)
        named = self._names.get(name)
        if named is not None:
            return self._ref(named)
        live_type = "gcp.storage.bucket" if block.type.startswith("google_") else "aws.s3.bucket"
        return BucketRef(None, name, classify(Resource(id=name, type=live_type, provider="iac",
                                                       account="", name=name), self.settings))

    def _ref(self, block: Block) -> BucketRef:
        if block.key not in self._classifications:
            self._classifications[block.key] = classify_bucket(block, self.settings)
        return BucketRef(block, bucket_name(block) or block.address, self._classifications[block.key])

    def companions(self, bucket: BucketRef, *types: str) -> list[Block]:
        """Blocks of ``types`` that configure ``bucket`` (by reference or by its name)."""
        if bucket.block is None:
            return []
        if self._companions is None:
            self._companions = {}
            for block in self.model:
                if block.type in BUCKET_TYPES or block.kind != "resource":
                    continue
                ref = self.bucket(block) if bucket_attribute(block) is not None else None
                if ref is not None and ref.block is not None:
                    self._companions.setdefault(ref.block.key, []).append(block)
        return [b for b in self._companions.get(bucket.block.key, []) if b.type in types]

    def public_access_block(self, bucket: BucketRef) -> dict[str, Any]:
        """Block Public Access as it applies to ``bucket``: a setting is on when the bucket's
        block or an account-level block in the code turns it on. ``sources`` names them."""
        holders = [b for b in ([bucket.block] if bucket.block else []) if b.framework == "cloudformation"]
        holders += self.companions(bucket, "aws_s3_bucket_public_access_block")
        holders += self.model.of_type("aws_s3_account_public_access_block")
        settings = {name: False for name in s3.BPA_SETTINGS}
        sources = []
        for holder in holders:
            found = s3.public_access_block(holder)
            if found is None:
                continue
            sources.append(holder.address)
            for name, on in found.items():
                settings[name] = settings[name] or on is True
        return {**settings, "sources": sources}

    # --- classification of anything -------------------------------------------------------

    def classification(self, block: Block) -> Classification | None:
        """What the block protects: a bucket's class, its companions', or a key's buckets'."""
        if block.type in BUCKET_TYPES:
            return self._ref(block).classification
        if block.type in KMS_KEY_TYPES or block.type == "google_kms_crypto_key":
            return self.key_classification(block)
        if block.type == "aws_kms_key_policy":
            key = self.model.resolve(block, block.get("key_id"))
            return self.key_classification(key) if key is not None else None
        if bucket_attribute(block) is None:
            return None
        ref = self.bucket(block)
        return ref.classification if ref else None

    def key_classification(self, key: Block) -> Classification | None:
        """The most sensitive bucket that ``key`` encrypts by default, None if it encrypts none."""
        if self._keys is None:
            protected: dict[tuple[str, str], list[tuple[str, Classification]]] = {}
            for holder, key_value in self._encryption_keys():
                target = self.model.resolve(holder, key_value)
                bucket = self.bucket(holder)
                if target is not None and bucket is not None:
                    protected.setdefault(target.key, []).append((bucket.name, bucket.classification))
            self._keys = {k: most_sensitive(v) for k, v in protected.items()}
        return self._keys.get(key.key)

    def _encryption_keys(self) -> Iterator[tuple[Block, Any]]:
        for block in self.model:
            if block.type in ("aws_s3_bucket", "AWS::S3::Bucket",
                              "aws_s3_bucket_server_side_encryption_configuration"):
                for rule in s3.default_encryption(block):
                    yield block, rule.key
            elif block.type == "google_storage_bucket":
                for encryption in values.nested(block.config, "encryption"):
                    yield block, values.first(encryption, "default_kms_key_name")


_CURRENT: ContextVar[IacScan | None] = ContextVar("auditor_iac_scan", default=None)


def current() -> IacScan | None:
    return _CURRENT.get()


@contextmanager
def active(scan: IacScan) -> Iterator[IacScan]:
    token = _CURRENT.set(scan)
    try:
        yield scan
    finally:
        _CURRENT.reset(token)
