"""The KMS side of an SSE-KMS bucket: which key, and who may use it through S3.

* Reading an SSE-KMS object also needs ``kms:Decrypt`` on the bucket's key; writing needs
  ``kms:GenerateDataKey``; deleting needs nothing from KMS.
* The key policy must allow on its own: by naming the principal (or its account, for another
  account), or by a statement for the key's own account root that delegates to IAM, in which
  case the identity side must allow too. The evaluator applies this (``resource_policy_kind
  "kms"``); this module builds the request as S3 sends it (``kms:ViaService``,
  ``kms:CallerAccount``, the ``aws:s3:arn`` encryption context).
* A KMS grant whose grantee is the principal and whose operations include the action allows
  as well, subject to its encryption-context constraints.
* The AWS managed key ``aws/s3`` (``alias/aws/s3``, or SSE-KMS with no key id) is judged by
  the key policy AWS documents for it, not by what an emulator returns: any principal of the
  key's account may use it through S3, no other account can.
* Anonymous callers never read or write SSE-KMS objects. A disabled key serves nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.access.aws.context import ContextValue, Evaluations, Outcome, better
from auditor.access.aws.evaluator import NamedPolicy
from auditor.access.aws.principals import Principal, acting_for, as_list
from auditor.access.model import PathStep
from auditor.inventory import Inventory, Resource

AWS_MANAGED_S3_ALIAS = "alias/aws/s3"
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
# what each S3 request needs from KMS when the object is SSE-KMS encrypted
KMS_NEEDS: Mapping[str, str] = {
    "s3:GetObject": "kms:Decrypt",
    "s3:GetObjectVersion": "kms:Decrypt",
    "s3:PutObject": "kms:GenerateDataKey",
}


def aws_managed_s3_key_policy(account: str, region: str) -> dict[str, Any]:
    """The key policy AWS documents for the AWS managed key ``aws/s3``."""
    return {
        "Version": "2012-10-17",
        "Id": "auto-s3-2",
        "Statement": [
            {"Sid": "Allow access through S3 for all principals in the account that are "
                    "authorized to use S3",
             "Effect": "Allow", "Principal": {"AWS": "*"},
             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                        "kms:DescribeKey"],
             "Resource": "*",
             "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com",
                                            "kms:CallerAccount": account}}},
            {"Sid": "Allow direct access to key metadata to the account",
             "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
             "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
             "Resource": "*"},
        ],
    }


@dataclass(slots=True)
class KeySide:
    """The key that encrypts a bucket's objects, as an audit can judge it."""

    reference: str  # what the bucket names (an ARN, alias or id), for messages
    arn: str
    account: str
    region: str
    bucket_key: bool
    policy: NamedPolicy | None  # None: the key's policy is not in the inventory
    grants: list[Mapping[str, Any]] = field(default_factory=list)
    tags: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True
    managed: bool = False
    # answers by (principal, action, encryption context), and contexts by caller account
    _answers: dict[tuple[str, str, str], Outcome | None] = field(default_factory=dict)
    _contexts: dict[tuple[str, str | None, bool], dict[str, ContextValue]] = field(
        default_factory=dict)

    def ask(self, evaluations: Evaluations, principal: Principal, action: str,
            bucket_arn: str, object_arn: str) -> Outcome | None:
        if principal.caller.anonymous or not self.enabled:
            return None
        if self.policy is None:
            return Outcome("conditional", conditions=(
                {"policy": f"{self.arn}#key-policy", "statement": "", "effect": "Allow",
                 "condition": {}, "undecided": ["key policy not in the inventory"]},))
        encrypted = bucket_arn if self.bucket_key else object_arn
        key = (principal.arn, action, encrypted)
        if key not in self._answers:
            context = self._context(principal, encrypted)
            by_policy = principal.ask(evaluations, action, self.arn, self.account,
                                      principal.policies(self.policy, "kms"), context)
            self._answers[key] = better(by_policy, self._by_grant(principal, action, context))
        return self._answers[key]

    def _context(self, principal: Principal, encrypted: str) -> dict[str, ContextValue]:
        key = (encrypted, principal.account, principal.kind == "service")
        found = self._contexts.get(key)
        if found is not None:
            return found
        context: dict[str, ContextValue] = {
            "kms:ViaService": f"s3.{self.region}.amazonaws.com",
            "kms:EncryptionContext:aws:s3:arn": encrypted,
            "kms:EncryptionContextKeys": ["aws:s3:arn"],
            "kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "aws:ViaAWSService": "true",
            "aws:ResourceAccount": self.account,
            "aws:RequestedRegion": self.region,
        }
        if principal.account:
            context["kms:CallerAccount"] = principal.account
        for key, value in self.tags.items():
            context[f"aws:ResourceTag/{key}"] = value
        context.update(acting_for(principal, self.account))
        self._contexts[key] = context
        return context

    def _by_grant(self, principal: Principal, action: str,
                  context: Mapping[str, ContextValue]) -> Outcome | None:
        found: Outcome | None = None
        operation = action.split(":", 1)[1]
        for grant in self.grants:
            if str(grant.get("grantee_principal")) != principal.arn:
                continue
            if operation not in [str(o) for o in as_list(grant.get("operations"))]:
                continue
            decision = _constraints_hold(grant.get("constraints"), context)
            if decision is None:
                continue
            step = PathStep(principal.arn, action, f"{self.arn}#grants",
                            str(grant.get("grant_id") or "grant"))
            conditions = () if decision == "allow" else (
                {"policy": step.policy, "statement": step.statement, "effect": "Allow",
                 "condition": dict(grant["constraints"]), "undecided": ["Constraints"]},)
            found = better(found, Outcome(decision, (step,), conditions))
        return found


def _constraints_hold(constraints: Any, context: Mapping[str, ContextValue]) -> str | None:
    """allow / conditional / None (the grant cannot apply to S3's encryption context)."""
    if not constraints:
        return "allow"
    if not isinstance(constraints, Mapping):
        return "conditional"
    actual = {"aws:s3:arn": context.get("kms:EncryptionContext:aws:s3:arn")}
    subset = constraints.get("EncryptionContextSubset")
    equals = constraints.get("EncryptionContextEquals")
    if isinstance(subset, Mapping) and any(actual.get(k) != v for k, v in subset.items()):
        return None
    if isinstance(equals, Mapping) and dict(equals) != actual:
        return None
    return "allow"


def key_side(bucket: Resource, inventory: Inventory, unknown: list[str]) -> KeySide | None:
    """The bucket's default-encryption key, or None when objects are not SSE-KMS."""
    if "encryption" in bucket.unknown:
        unknown.append(f"{bucket.id}: default encryption not collected, KMS not checked")
        return None
    encryption = bucket.attributes.get("encryption")
    if not isinstance(encryption, Mapping) or encryption.get("algorithm") not in KMS_ALGORITHMS:
        return None
    region = bucket.region or "us-east-1"
    reference = str(encryption.get("kms_key_id") or AWS_MANAGED_S3_ALIAS)
    bucket_key = bool(encryption.get("bucket_key_enabled"))
    record = _find_key(inventory, reference, bucket.account, region)
    aliases = [str(a) for a in as_list(record.attributes.get("aliases"))] if record else []
    if reference.endswith(AWS_MANAGED_S3_ALIAS) or AWS_MANAGED_S3_ALIAS in aliases:
        account, key_region = _owner(reference, bucket.account, region)
        arn = record.id if record else f"arn:aws:kms:{key_region}:{account}:{AWS_MANAGED_S3_ALIAS}"
        return KeySide(reference, arn, account, key_region, bucket_key, managed=True,
                       policy=NamedPolicy(f"{arn}#key-policy",
                                          aws_managed_s3_key_policy(account, key_region)))
    if record is None:
        unknown.append(f"{bucket.id}: KMS key {reference} is not in the inventory, "
                       "who may decrypt is unknown")
        account, key_region = _owner(reference, bucket.account, region)
        return KeySide(reference, reference, account, key_region, bucket_key, policy=None)
    attrs = record.attributes
    policy = attrs.get("policy")
    if policy is None or "policy" in record.unknown:
        unknown.append(f"{record.id}: key policy not collected, who may decrypt is unknown")
    grants = [g for g in as_list(attrs.get("grants")) if isinstance(g, Mapping)]
    if "grants" in record.unknown:
        unknown.append(f"{record.id}: KMS grants not collected")
    enabled = attrs.get("enabled") is not False and attrs.get("key_state") in (None, "Enabled")
    return KeySide(reference, record.id, record.account, record.region or region, bucket_key,
                   policy=NamedPolicy(f"{record.id}#key-policy", policy) if policy else None,
                   grants=grants, tags=dict(record.tags), enabled=enabled)


def _owner(reference: str, account: str, region: str) -> tuple[str, str]:
    parts = reference.split(":")
    if reference.startswith("arn:") and len(parts) >= 6:
        return parts[4] or account, parts[3] or region
    return account, region


def _find_key(inventory: Inventory, reference: str, account: str,
              region: str) -> Resource | None:
    """Resolve a key ARN, alias ARN, alias name or key id through the inventory."""
    for key in inventory.of_type("aws.kms.key"):
        attrs = key.attributes
        if reference in (key.id, attrs.get("key_id")):
            return key
        if reference in [str(a) for a in as_list(attrs.get("alias_arns"))]:
            return key
        if (reference.startswith("alias/") and key.account == account
                and (key.region or region) == region
                and reference in [str(a) for a in as_list(attrs.get("aliases"))]):
            return key
    return None
