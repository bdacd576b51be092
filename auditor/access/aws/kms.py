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
* The RCPs of the key's account govern a customer managed key (not an AWS managed one), and
  the caller's SCPs any request it makes: a grant allows only what they let through too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.access.aws.conditions import ConditionClause
from auditor.access.aws.context import (
    DERIVED_FROM_CALLER,
    ContextValue,
    Evaluations,
    Outcome,
    better,
    both,
)
from auditor.access.aws.evaluator import NamedPolicy, Request, derived_keys
from auditor.access.aws.organization import Guardrails, Levels
from auditor.access.aws.policy import Mode, caller_of, policy_for
from auditor.access.aws.principals import KEPT_AT_MOST, Principal, acting_for, as_list
from auditor.access.aws.variables import RequestValues, Template, Variable
from auditor.access.model import PathStep
from auditor.errors import InputError
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
    rcps: Levels | None = None  # the RCP levels of the key's account
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
            context = self.request_context(principal, encrypted)
            policies = principal.policies(self.policy, "kms", self.rcps)
            by_policy = principal.ask(evaluations, action, self.arn, self.account, policies,
                                      context)
            by_grant = self._by_grant(principal, action, context)
            if by_grant is not None and (policies.scps is not None or policies.rcps is not None):
                by_grant = both(by_grant, evaluations.guardrails(
                    principal.caller, action, self.arn, self.account, policies, context))
            self._answers[key] = better(by_policy, by_grant)
        return self._answers[key]

    def request_context(self, principal: Principal,
                        encrypted: str) -> dict[str, ContextValue]:
        """What S3 adds to the KMS request it sends for the principal."""
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


class KeyAnswers:
    """Key answers shared between the buckets one key encrypts, and between principals.

    S3 sends the object's (or, with an S3 Bucket Key, the bucket's) ARN as encryption context,
    the only part of a KMS request that differs between two buckets of one key. A principal's
    answer is therefore kept per key, and per answer of the conditions that read that context
    (in its own policies or the key policy; ``Null`` on it, say, answers alike everywhere). A
    grant constraint, or a policy variable in a Resource, reading it makes every answer on the
    key one bucket's own.

    A user or role the key side does not name (no Principal entry or grant for it) gets the
    answer of any other of the same kind and account whose own statements taking part in the
    request, and the values they and the key policy read, are the same: the evaluator's own
    memo key (``context.Evaluations``), read here before asking, with the proof renamed.
    """

    def __init__(self, evaluations: Evaluations):
        self.evaluations = evaluations
        self._answers: dict[tuple[Any, ...], Outcome | None] = {}
        self._keys: dict[int, tuple[KeySide, int]] = {}  # KeySide -> its identity's number
        self._identities: dict[tuple[Any, ...], int] = {}
        self._uniform: list[bool] = []
        self._clauses: dict[tuple[Any, ...], tuple[ConditionClause, ...] | None] = {}
        self._plans: dict[tuple[int, str, str], tuple[tuple[Any, ...],
                                                      tuple[ConditionClause, ...]] | None] = {}
        self._values: dict[tuple[int, str, str], tuple[Mapping[str, Any], ...]] = {}
        # answers by what they depend on (``_alike_key``), and the principal they name
        self._alike: dict[tuple[Any, ...], tuple[Outcome | None, str]] = {}

    def ask(self, key: KeySide, principal: Principal, action: str, bucket_arn: str,
            object_arn: str) -> Outcome | None:
        identity = self.identity(key)
        results = self.context_results(key, principal, action, bucket_arn, object_arn)
        if results is None:
            return key.ask(self.evaluations, principal, action, bucket_arn, object_arn)
        cache_key = (identity, principal.arn, action, results)
        found = self._answers.get(cache_key, _UNSET)
        if found is _UNSET:
            if len(self._answers) >= KEPT_AT_MOST:  # bounded memory: found again as needed
                for kept in (self._answers, self._alike, self._plans, self._values):
                    kept.clear()
            encrypted = bucket_arn if key.bucket_key else object_arn
            alike = self._alike_key(key, identity, principal, action, results, encrypted)
            kept = self._alike.get(alike, None) if alike is not None else None
            if kept is not None:
                found = kept[0].asked_by(kept[1], principal.arn) if kept[0] else None
            else:
                found = key.ask(self.evaluations, principal, action, bucket_arn, object_arn)
                if alike is not None:
                    self._alike[alike] = (found, principal.arn)
            self._answers[cache_key] = found
        return found

    def _alike_key(self, key: KeySide, identity: int, principal: Principal, action: str,
                   results: tuple[Any, ...], encrypted: str) -> tuple[Any, ...] | None:
        """What the key's answer for the principal depends on, when the key side does not
        name it: its kind and account, its own statements taking part and the values read
        (``Evaluations.ask`` asks the evaluator once for all alike); None: asked alone."""
        if principal.kind not in ("user", "role") or not principal.audited or not key.enabled \
                or key.policy is None:
            return None
        caller = caller_of(principal.caller.request_arn)
        try:
            parsed = policy_for(key.policy.document, source=key.policy.id)
        except InputError:
            return None
        keys: set[str] = set()
        for statement in parsed.statements:
            if statement.not_principal or (statement.principals is not None and
                                           statement.principals.mode(caller) in _NAMING):
                return None
            keys |= Evaluations.statement_keys(statement)
        if any(str(g.get("grantee_principal")) == principal.arn for g in key.grants):
            return None
        context = key.request_context(principal, encrypted)
        policies = principal.policies(key.policy, "kms", key.rcps)
        own = self.evaluations.own_statements(principal.caller, policies, action, key.arn,
                                              context)
        guard = self.evaluations.guard_key(principal.caller, action, key.arn, key.account,
                                           policies, context)
        if own is None or guard is None or (own[1] | keys) & DERIVED_FROM_CALLER:
            return None
        projected = self.evaluations.project(principal.caller.keys, context,
                                             frozenset(own[1] | keys))
        return (identity, action, results, caller.kind, principal.account, own[0],
                tuple(sorted(projected.items())), guard)

    def context_results(self, key: KeySide, principal: Principal, action: str,
                        bucket_arn: str, object_arn: str) -> tuple[Any, ...] | None:
        """What the encryption context of this request decides: the answers of the conditions
        reading it; None when the answer is this request's own."""
        encrypted = bucket_arn if key.bucket_key else object_arn
        plan = self._plan(key, principal, action, encrypted)
        if plan is None or not plan[1]:
            return plan if plan is None else plan[0]
        open_world, closed = self._request(key, self.identity(key), principal, action,
                                           encrypted)
        return plan[0] + tuple((c.evaluate(open_world), c.evaluate(closed)) for c in plan[1])

    def varies(self, key: KeySide, principal: Principal, action: str) -> bool:
        """Whether the principal's answers on the key may differ between buckets."""
        plan = self._plan(key, principal, action, "")
        return plan is None or bool(plan[1])

    def _plan(self, key: KeySide, principal: Principal, action: str, encrypted: str
              ) -> tuple[tuple[Any, ...], tuple[ConditionClause, ...]] | None:
        """The answers of the conditions reading the encryption context that answer alike for
        any value of it, and those that compare it; None when something else reads it."""
        identity = self.identity(key)
        cache_key = (identity, principal.arn, action)
        if cache_key in self._plans:
            return self._plans[cache_key]
        clauses = self._reading_of(key, identity, principal, action) \
            if self._uniform[identity] else None
        plan: tuple[tuple[Any, ...], tuple[ConditionClause, ...]] | None = None
        if clauses == ():
            plan = ((), ())
        elif clauses is not None:
            # any value stands for every value for the conditions that do not compare it
            open_world, closed = self._request(key, identity, principal, action,
                                               encrypted or key.arn)
            alike = [c for c in clauses
                     if not c.compares_value(open_world) and not c.compares_value(closed)]
            plan = (tuple((c.evaluate(open_world), c.evaluate(closed)) for c in alike),
                    tuple(c for c in clauses if c not in alike))
        self._plans[cache_key] = plan
        return plan

    def identity(self, key: KeySide) -> int:
        """Everything of the key that its answers depend on, but the bucket, numbered."""
        found = self._keys.get(id(key))
        if found is None or found[0] is not key:
            policy = self.evaluations.signature(key.policy.document) if key.policy else None
            grants = json.dumps(key.grants, sort_keys=True, default=str)
            # RCP levels are one object per set of levels (``organization.Guardrails``)
            described = (key.arn, key.account, key.region, key.enabled, key.managed, policy,
                         grants, tuple(sorted(key.tags.items())), id(key.rcps))
            number = self._identities.get(described)
            if number is None:
                number = self._identities[described] = len(self._uniform)
                self._uniform.append(not any(g.get("constraints") for g in key.grants))
            found = self._keys[id(key)] = (key, number)
        return found[1]

    def uniform(self, key: KeySide) -> bool:
        """False when a grant constraint makes the key's answers differ between buckets."""
        return self._uniform[self.identity(key)]

    def _reading_of(self, key: KeySide, identity: int, principal: Principal,
                    action: str) -> tuple[ConditionClause, ...] | None:
        """The conditions reading the encryption context that can decide the request: the
        principal's and the key policy's; None when something else reads it."""
        own = self._statements_reading(principal.own_policies(), action)
        guarded = tuple(p for level in key.rcps or () for p in level)
        keys = self._statements_reading((key.policy, *guarded) if key.policy else guarded,
                                        action)
        return None if own is None or keys is None else own + keys

    def _statements_reading(self, policies: tuple[NamedPolicy, ...],
                            action: str) -> tuple[ConditionClause, ...] | None:
        cache_key = (tuple(id(p.document) for p in policies), action)
        if cache_key in self._clauses:
            return self._clauses[cache_key]
        found: list[ConditionClause] = []
        for policy in policies:
            try:
                parsed = policy_for(policy.document, source=policy.id)
            except InputError:
                self._clauses[cache_key] = None
                return None
            for statement in parsed.statements_for(action.lower()):
                if ENCRYPTION_CONTEXT_KEY not in Evaluations.statement_keys(statement):
                    continue
                if statement.resources is not None and any(
                        ENCRYPTION_CONTEXT_KEY in _variables(t)
                        for t in statement.resources.templated):
                    self._clauses[cache_key] = None
                    return None
                found.extend(c for c in statement.conditions
                             if c.key_lower == ENCRYPTION_CONTEXT_KEY
                             or any(ENCRYPTION_CONTEXT_KEY in _variables(t) for t in c.values))
        # the documents are kept alive by the principals and keys asked about
        self._clauses[cache_key] = tuple(found)
        return self._clauses[cache_key]

    def _request(self, key: KeySide, identity: int, principal: Principal, action: str,
                 encrypted: str) -> tuple[RequestValues, RequestValues]:
        """The request as the evaluator reads it, open world and closed: the same for every
        bucket of the key but for the encryption context."""
        cache_key = (identity, principal.arn, action)
        found = self._values.get(cache_key)
        if found is None:
            context = {**principal.caller.keys, **key.request_context(principal, encrypted)}
            request = Request(principal=principal.caller.request_arn,
                              principal_account=principal.caller.account, action=action,
                              resource=key.arn, resource_account=key.account, open_world=True)
            derived = derived_keys(request, caller_of(principal.caller.request_arn))
            found = self._values[cache_key] = (
                RequestValues.from_context(context, True, derived).values,
                RequestValues.from_context(context, False).values)
        return (RequestValues({**found[0], ENCRYPTION_CONTEXT_KEY: encrypted}, True),
                RequestValues({**found[1], ENCRYPTION_CONTEXT_KEY: encrypted}, False))


_UNSET: Any = object()
ENCRYPTION_CONTEXT_KEY = "kms:encryptioncontext:aws:s3:arn"
_NAMING = (Mode.DIRECT, Mode.ROLE)  # how a Principal element names one principal


def _variables(template: Template) -> set[str]:
    return {p.key for p in template.parts if isinstance(p, Variable)}


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


def key_side(bucket: Resource, inventory: Inventory, unknown: list[str],
             guardrails: Guardrails) -> KeySide | None:
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
        return KeySide(reference, reference, account, key_region, bucket_key, policy=None,
                       rcps=guardrails.rcps_of(account))
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
                   grants=grants, tags=dict(record.tags), enabled=enabled,
                   rcps=None if attrs.get("key_manager") == "AWS"
                   else guardrails.rcps_of(record.account))


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
