"""AWS policy evaluation, as AWS documents it ('Policy evaluation logic').

CONTRACT (the analyzer and `audit simulate` are written against this; keep it stable):

    result = evaluate(request, policies)

* ``Request``: who asks for what. ``context`` holds the request-context keys whose values are
  known. With ``open_world=False`` (``audit simulate``: the case lists the whole context) a key
  missing from ``context`` is *absent*. With ``open_world=True`` (auditing a real account, where
  source IP, time, MFA, VPC endpoint... are not known in advance) a key missing from
  ``context`` is *unknown*, and a condition that depends on it makes the answer
  ``conditional`` rather than a silent allow or deny.
* ``PolicySet``: every policy that applies, each a ``NamedPolicy`` whose ``id`` names it in
  proofs (``arn:aws:iam::1:policy/x``, ``arn:aws:iam::1:user/bob#inline:weights-read``,
  ``arn:aws:s3:::bucket#bucket-policy``, ``arn:aws:kms:...:key/...#key-policy``,
  ``arn:aws:iam::1:role/r#trust-policy``...).
* ``resource_policy_kind`` decides the documented exceptions: a KMS key policy and a role
  trust policy must allow on their own (IAM policies alone never grant a key or a role
  assumption); an S3 bucket policy does not need to.
* ``Result.decision``: ``allow``, ``implicit-deny``, ``explicit-deny`` or ``conditional``.
  ``allowed_by`` / ``denied_by`` are the statements that decided it (the proof);
  ``conditions`` the condition blocks that could not be decided (for ``conditional``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["allow", "implicit-deny", "explicit-deny", "conditional"]
ResourcePolicyKind = Literal["generic", "s3", "kms", "trust"]


@dataclass(frozen=True, slots=True)
class Request:
    principal: str  # an ARN, "*" (anonymous), a service principal, or an identity-provider ARN
    principal_account: str | None
    action: str
    resource: str
    resource_account: str | None
    context: Mapping[str, str | list[str]] = field(default_factory=dict)
    open_world: bool = False


@dataclass(frozen=True, slots=True)
class NamedPolicy:
    id: str
    document: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PolicySet:
    identity: Sequence[NamedPolicy] = ()
    resource: NamedPolicy | None = None
    resource_policy_kind: ResourcePolicyKind = "generic"
    boundary: NamedPolicy | None = None
    session: NamedPolicy | None = None
    # levels from the organization root down to the account; None = not governed
    scps: Sequence[Sequence[NamedPolicy]] | None = None
    rcps: Sequence[Sequence[NamedPolicy]] | None = None


@dataclass(frozen=True, slots=True)
class StatementRef:
    policy: str  # NamedPolicy.id
    statement: str  # the Sid, or "#<index>" when the statement has none
    effect: Literal["Allow", "Deny"]


@dataclass(frozen=True, slots=True)
class Result:
    decision: Decision
    allowed_by: tuple[StatementRef, ...] = ()
    denied_by: tuple[StatementRef, ...] = ()
    conditions: tuple[dict[str, Any], ...] = ()


def evaluate(request: Request, policies: PolicySet) -> Result:
    raise NotImplementedError("being written: see the module docstring for the contract")
