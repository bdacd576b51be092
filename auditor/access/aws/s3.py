"""The resource side of an S3 bucket: bucket policy, ACLs, Object Ownership, Block Public Access.

How they combine, as AWS documents it:

* ACL grants are resource-side grants like bucket-policy statements, so each one is turned
  into an Allow statement appended to the bucket policy and the evaluator sees one resource
  policy (an explicit deny anywhere still wins). Proof steps that cite such a statement are
  rewritten to name the ACL (``arn:aws:s3:::b#bucket-acl``, ``arn:aws:s3:::b/key#object-acl``).
* A bucket ACL ``READ`` lets a grantee *list* the bucket, never read objects; an object ACL
  ``READ`` lets it read that object. Bucket ``WRITE`` lets it put and delete objects.
  ``READ_ACP``/``WRITE_ACP`` read/change the ACL (``WRITE_ACP`` is admin).
* Grantees: ``AllUsers`` is ``*`` (anyone, also unsigned); ``AuthenticatedUsers`` is any
  signed AWS principal of any account; ``LogDelivery`` is ``logging.s3.amazonaws.com``; a
  canonical user id is the account that owns an audited bucket with that owner id, the bucket
  owner's own id adds nothing (the owner's IAM policies decide), any other id (and an e-mail
  grantee) cannot be tied to an account and is reported as ``canonical-user:ID`` / ``email:X``.
* ``BucketOwnerEnforced`` ownership disables every ACL, bucket and object.
* Block Public Access: bucket and account settings combine, most restrictive wins.
  ``IgnorePublicAcls`` drops ``AllUsers``/``AuthenticatedUsers`` grants.
  ``RestrictPublicBuckets`` with a public bucket policy (AWS's meaning of "public", see
  ``is_public_policy``) leaves only AWS service principals and *authorized* principals of
  the bucket owner's account: anonymous and every cross-account access is blocked, and the
  public statements themselves authorize nobody but services (the policy is "neutralised"),
  so a principal of the owner's account needs a grant of its own; denies still apply.
  ``BlockPublicAcls``/``BlockPublicPolicy`` only reject new ACLs and policies.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.access.aws.evaluator import NamedPolicy
from auditor.access.aws.principals import (
    PUBLIC,
    Principal,
    as_list,
    principal_entries,
    statements,
)
from auditor.access.model import PathStep
from auditor.inventory import Inventory, Resource

S3_ARN = "arn:aws:s3:::"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
LOG_DELIVERY_SERVICE = "logging.s3.amazonaws.com"
ANY_OBJECT_KEY = "*"  # stands for "some object" when no object sample was collected

_BUCKET_ACL_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "READ": ("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"),
    "WRITE": ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"),
    "READ_ACP": ("s3:GetBucketAcl",),
    "WRITE_ACP": ("s3:PutBucketAcl",),
}
_OBJECT_ACL_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "READ": ("s3:GetObject", "s3:GetObjectVersion"),
    "READ_ACP": ("s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
    "WRITE_ACP": ("s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
}
_BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                "RestrictPublicBuckets")
# condition keys whose fixed value makes a "*" statement non-public ('The meaning of "public"')
_FIXING_KEYS = frozenset({
    "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceowner", "aws:sourceaccount",
    "aws:sourceip", "aws:userid", "aws:principalorgid", "aws:principalaccount",
    "aws:principalarn", "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:dataaccesspointarn", "s3:dataaccesspointaccount"})
_FIXING_OPERATORS = frozenset({"stringequals", "stringequalsignorecase", "stringlike",
                               "arnequals", "arnlike", "ipaddress"})
_SYNTHETIC_SID = "AuditorAclGrant"
# stands in for a public statement that RestrictPublicBuckets neutralises: matches nothing
_NEUTRALISED: Mapping[str, Any] = {"Effect": "Allow", "Principal": {"Service": "neutralised.invalid"},
                                   "Action": "s3:neutralised", "Resource": "arn:aws:s3:::neutralised"}


def bucket_name(arn: str) -> str:
    return arn[len(S3_ARN):].split("/", 1)[0]


def object_arn(bucket_arn: str, key: str) -> str:
    return f"{bucket_arn}/{key}"


@dataclass(frozen=True, slots=True)
class PublicAccessBlock:
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False


def effective_block(bucket: Resource, account: Resource | None,
                    unknown: list[str]) -> PublicAccessBlock:
    """Bucket and account settings, most restrictive wins; an unread setting counts as off."""
    flags = dict.fromkeys(_BLOCK_FLAGS, False)
    sources = [(bucket, "public_access_block")]
    if account is not None:
        sources.append((account, "s3_public_access_block"))
    for record, attribute in sources:
        if attribute in record.unknown:
            unknown.append(f"{record.id}: {attribute} not collected, assumed off")
            continue
        settings = record.attributes.get(attribute)
        if isinstance(settings, Mapping):
            for flag in _BLOCK_FLAGS:
                flags[flag] = flags[flag] or bool(settings.get(flag))
    return PublicAccessBlock(flags["BlockPublicAcls"], flags["IgnorePublicAcls"],
                             flags["BlockPublicPolicy"], flags["RestrictPublicBuckets"])


def is_public_policy(document: Mapping[str, Any] | None) -> bool:
    """AWS's meaning of a public policy: an Allow that does not pin who by a fixed value."""
    return any(is_public_statement(s) for s in statements(document))


def is_public_statement(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    if "NotPrincipal" in statement:
        return True
    wildcard = any(kind == "AWS" and ("*" in value or "?" in value)
                   for kind, value in principal_entries(statement.get("Principal")))
    return wildcard and not _pins_caller(statement.get("Condition"))


def _pins_caller(condition: Any) -> bool:
    if not isinstance(condition, Mapping):
        return False
    for operator, tests in condition.items():
        if str(operator).lower() not in _FIXING_OPERATORS or not isinstance(tests, Mapping):
            continue
        for key, values in tests.items():
            if str(key).lower() in _FIXING_KEYS and _fixed(str(key).lower(), as_list(values)):
                return True
    return False


def _fixed(key: str, values: list[Any]) -> bool:
    if not values:
        return False
    for value in map(str, values):
        if any(mark in value for mark in ("*", "?", "${")):
            return False
        if key == "aws:userid" and value.upper().startswith("AROA") and value.endswith(":*"):
            return False
        if key == "aws:sourceip" and _too_broad(value):
            return False
    return True


def _too_broad(cidr: str) -> bool:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return True
    return network.prefixlen < (8 if network.version == 4 else 32)


@dataclass(frozen=True, slots=True)
class AclGrant:
    """One ACL entry, resolved: ``grantee`` is a principal id, ``target`` a bucket/object ARN."""

    grantee: str
    permission: str
    target: str
    on_object: bool
    public: bool  # AllUsers / AuthenticatedUsers
    signed_only: bool  # AuthenticatedUsers: not for unsigned requests
    label: str

    @property
    def source(self) -> str:
        return f"{self.target}#{'object-acl' if self.on_object else 'bucket-acl'}"

    def actions(self) -> tuple[str, ...]:
        table = _OBJECT_ACL_ACTIONS if self.on_object else _BUCKET_ACL_ACTIONS
        if self.permission == "FULL_CONTROL":
            return tuple(a for actions in table.values() for a in actions)
        return table.get(self.permission, ())


def acl_grants(bucket: Resource, block: PublicAccessBlock,
               owners: Mapping[str, str], unknown: list[str]) -> list[AclGrant]:
    """Every ACL grant that S3 honours for the bucket and its sampled objects."""
    attrs = bucket.attributes
    if attrs.get("object_ownership") == "BucketOwnerEnforced":
        return []
    for attribute in ("acl", "object_sample"):
        if attribute in bucket.unknown:
            unknown.append(f"{bucket.id}: {attribute} not collected, its ACL grants unknown")
    owner = str(attrs.get("owner_id") or "")
    found = list(_resolve(attrs.get("acl"), bucket.id, False, owner, owners))
    for entry in as_list(attrs.get("object_sample")):
        if isinstance(entry, Mapping) and entry.get("key") is not None:
            target = object_arn(bucket.id, str(entry["key"]))
            found.extend(_resolve(entry.get("acl"), target, True, owner, owners))
    if block.ignore_public_acls:
        found = [g for g in found if not g.public]
    return found


def _resolve(acl: Any, target: str, on_object: bool, owner: str,
             owners: Mapping[str, str]) -> Iterator[AclGrant]:
    if not isinstance(acl, Mapping):
        return
    owner = str(acl.get("owner_id") or owner)
    for raw in as_list(acl.get("grants")):
        if not isinstance(raw, Mapping):
            continue
        permission = str(raw.get("permission") or "")
        grantee_type = raw.get("grantee_type")
        uri = raw.get("grantee_uri")
        if grantee_type == "Group" and uri in (ALL_USERS, AUTHENTICATED_USERS):
            label = "AllUsers" if uri == ALL_USERS else "AuthenticatedUsers"
            yield AclGrant(PUBLIC, permission, target, on_object, True,
                           uri == AUTHENTICATED_USERS, f"{label}:{permission}")
        elif grantee_type == "Group" and uri == LOG_DELIVERY:
            yield AclGrant(LOG_DELIVERY_SERVICE, permission, target, on_object, False, False,
                           f"LogDelivery:{permission}")
        elif grantee_type == "CanonicalUser" and raw.get("grantee_id"):
            grantee_id = str(raw["grantee_id"])
            if grantee_id == owner:
                continue
            account = owners.get(grantee_id)
            grantee = f"arn:aws:iam::{account}:root" if account else f"canonical-user:{grantee_id}"
            yield AclGrant(grantee, permission, target, on_object, False, False,
                           f"CanonicalUser:{grantee_id}:{permission}")
        elif grantee_type == "AmazonCustomerByEmail" and raw.get("grantee_email"):
            email = str(raw["grantee_email"])
            yield AclGrant(f"email:{email}", permission, target, on_object, False, False,
                           f"Email:{email}:{permission}")


def acl_principals(inventory: Inventory) -> set[tuple[str, str]]:
    """Principal entries (as in a Principal element) that ACL grants name: the log-delivery
    service. Canonical users are accounts, known from bucket owners or not at all."""
    uris: set[Any] = set()
    for record in inventory.of_type("aws.s3.bucket"):
        acls = [record.attributes.get("acl")]
        acls += [e.get("acl") for e in as_list(record.attributes.get("object_sample"))
                 if isinstance(e, Mapping)]
        uris.update(g.get("grantee_uri") for acl in acls if isinstance(acl, Mapping)
                    for g in as_list(acl.get("grants")) if isinstance(g, Mapping))
    return {("Service", LOG_DELIVERY_SERVICE)} if LOG_DELIVERY in uris else set()


def canonical_owners(inventory: Inventory) -> dict[str, str]:
    """Canonical user id -> account, learnt from the owners of audited buckets."""
    return {str(b.attributes["owner_id"]): b.account for b in inventory.of_type("aws.s3.bucket")
            if b.attributes.get("owner_id")}


BLOCKED = NamedPolicy("blocked-by-restrict-public-buckets", {})


@dataclass(slots=True)
class BucketSide:
    """Everything on the bucket's side of a request, prepared once per bucket."""

    resource: Resource
    block: PublicAccessBlock
    public_policy: bool
    acl: list[AclGrant]
    keys: tuple[str, ...]
    unknown: list[str] = field(default_factory=list)
    # the resource policy for unsigned and for signed callers (AuthenticatedUsers differs),
    # and for the owner's account when RestrictPublicBuckets neutralises the public statements
    for_unsigned: NamedPolicy | None = None
    for_signed: NamedPolicy | None = None
    for_owner_restricted: NamedPolicy | None = None
    _synthetic: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return self.resource.id

    @property
    def account(self) -> str:
        return self.resource.account

    @property
    def restricted(self) -> bool:
        """RestrictPublicBuckets is on and the policy is public."""
        return self.block.restrict_public_buckets and self.public_policy

    def policy_for(self, principal: Principal) -> NamedPolicy | None:
        """The resource policy this caller meets; ``BLOCKED`` when S3 turns it away first."""
        if self.restricted and principal.kind != "service":
            return self.for_owner_restricted if principal.account == self.account else BLOCKED
        return self.for_unsigned if principal.caller.anonymous else self.for_signed

    @property
    def acl_statements(self) -> bool:
        """True when ACL grants were added to the resource policy as statements."""
        return bool(self._synthetic)

    def unmapped(self) -> list[AclGrant]:
        """ACL grants to grantees no principal stands for (canonical ids, e-mails)."""
        return [g for g in self.acl if g.grantee.startswith(("canonical-user:", "email:"))]

    def explain(self, steps: tuple[PathStep, ...]) -> tuple[PathStep, ...]:
        """Name the ACL, not the merged policy, in steps that cite an ACL grant."""
        return tuple(self._explain(s) for s in steps)

    def _explain(self, step: PathStep) -> PathStep:
        if step.policy == self.policy_id and step.statement in self._synthetic:
            source, label = self._synthetic[step.statement]
            return PathStep(step.principal, step.action, source, label)
        return step

    @property
    def policy_id(self) -> str:
        return f"{self.arn}#bucket-policy"

    def object_arns(self) -> list[str]:
        return [object_arn(self.arn, key) for key in self.keys]


def bucket_side(bucket: Resource, inventory: Inventory,
                owners: Mapping[str, str]) -> BucketSide:
    unknown: list[str] = []
    account = inventory.get(f"arn:aws:iam::{bucket.account}:root")
    block = effective_block(bucket, account, unknown)
    if "policy" in bucket.unknown:
        unknown.append(f"{bucket.id}: bucket policy not collected, its grants and denies "
                       "are unknown")
    policy = bucket.attributes.get("policy")
    grants = acl_grants(bucket, block, owners, unknown)
    side = BucketSide(resource=bucket, block=block, public_policy=is_public_policy(policy),
                      acl=grants, keys=_sample_keys(bucket), unknown=unknown)
    side.for_signed = _merged(side, policy, grants)
    side.for_unsigned = _merged(side, policy, [g for g in grants if not g.signed_only])
    if side.restricted:
        side.for_owner_restricted = _merged(side, policy, grants, without_public=True)
    return side


def _sample_keys(bucket: Resource) -> tuple[str, ...]:
    keys = [str(e["key"]) for e in as_list(bucket.attributes.get("object_sample"))
            if isinstance(e, Mapping) and e.get("key") is not None]
    return tuple(dict.fromkeys(keys)) or (ANY_OBJECT_KEY,)


def _merged(side: BucketSide, policy: Any, grants: list[AclGrant],
            without_public: bool = False) -> NamedPolicy | None:
    own = statements(policy)
    if without_public:
        # keep the statements' indices, which proofs cite: a neutralised one grants nobody
        own = [_NEUTRALISED if is_public_statement(s) else s for s in own]
    added = []
    for grant in grants:
        if grant.grantee.startswith(("canonical-user:", "email:")) or not grant.actions():
            continue
        sid = f"{_SYNTHETIC_SID}{len(side._synthetic)}"
        side._synthetic[sid] = (grant.source, grant.label)
        principal: Any = ("*" if grant.grantee == PUBLIC else
                          {"Service": grant.grantee} if grant.grantee == LOG_DELIVERY_SERVICE
                          else {"AWS": grant.grantee})
        resources = [grant.target] if grant.on_object else [grant.target, f"{grant.target}/*"]
        added.append({"Sid": sid, "Effect": "Allow", "Principal": principal,
                      "Action": list(grant.actions()), "Resource": resources})
    if not own and not added:
        return None
    version = policy.get("Version", "2012-10-17") if isinstance(policy, Mapping) else "2012-10-17"
    if not added and not without_public:
        return NamedPolicy(side.policy_id, policy)
    return NamedPolicy(side.policy_id, {"Version": version, "Statement": [*own, *added]})
