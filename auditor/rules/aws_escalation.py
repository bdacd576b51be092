"""Privilege escalation that ends at training data or model weights (Python rules).

``aws.iam.user-escalation-to-sensitive-data`` and ``aws.iam.role-escalation-to-sensitive-data``
judge every IAM user and role. A principal fails once for each privilege-escalation path it
has (``auditor.access.aws.escalation``: the method, its target and the policy statements that
allow it) when escalating would put training data or model weights in its reach that it
cannot reach now.

What an escalation puts in reach is taken as an administrator's: the principal is analyzed
again with an identity that allows everything and no permissions boundary, and everything in
the account that resource policies still keep from it (a bucket-policy deny, a key policy that
does not delegate to IAM, Block Public Access) stays out of reach. That is an upper bound for
methods that take over one other principal (an access key for one user, a role passed to one
function), which may reach less. "Now" is the access map of the run: every read, write or
delete grant the principal holds, directly or through roles it can assume. A principal that
already reaches every sensitive bucket its escalation would (an administrator) passes.

A principal whose own policies were not all collected cannot be cleared: without a path the
verdict is an error. Registered through the ``auditor.rules`` entry point group (``rules``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from auditor.access.aws.analyzer import AccessModel, question_for
from auditor.access.aws.escalation import EscalationPath, escalation_paths
from auditor.access.aws.principals import build_graph
from auditor.access.model import AccessGrant
from auditor.inventory import Inventory, Resource
from auditor.rules.context import EvaluationContext
from auditor.rules.fixtures import make_fixture
from auditor.rules.model import Fixture, Remediation, Verdict

BUCKET = "aws.s3.bucket"
# the access a data owner cares about; "admin" on a bucket follows from an administrator's
# identity anyway and is not what makes the data reachable
DATA_ACCESS = ("read", "write", "delete")
ESCALATED_POLICY = "administrator-after-escalation"
ESCALATED_DOCUMENT: Mapping[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "AdministratorAfterEscalation", "Effect": "Allow", "Action": "*",
                   "Resource": "*"}],
}
# the identity attributes replaced when a principal is analyzed as an administrator
_IDENTITY_ATTRIBUTES = ("inline_policies", "attached_policies", "permissions_boundary", "groups")


@dataclass(frozen=True, slots=True)
class Reach:
    """One sensitive bucket an escalation would put in a principal's reach."""

    bucket: Resource
    classification: str
    gains: tuple[str, ...]  # access classes it does not have now
    grants: tuple[AccessGrant, ...]  # how it would have them, as an administrator

    def to_dict(self, path: EscalationPath) -> dict[str, Any]:
        return {"bucket": self.bucket.id, "name": self.bucket.name,
                "classification": self.classification, "gains": list(self.gains),
                "grants": [_after(path, g).to_dict() for g in self.grants]}


@dataclass(frozen=True, slots=True)
class Escalations:
    """The escalation paths of every principal, and what each would gain, for one run."""

    paths: Mapping[str, Sequence[EscalationPath]]
    gains: Mapping[str, Sequence[Reach]]
    incomplete: Mapping[str, Sequence[str]]  # principal -> why its policies are not all known


# one analysis per evaluation (rules are asked about one resource at a time)
_ANALYSES: WeakKeyDictionary[EvaluationContext, Escalations] = WeakKeyDictionary()


def escalations(context: EvaluationContext) -> Escalations:
    found = _ANALYSES.get(context)
    if found is None:
        found = _ANALYSES[context] = analyze_escalations(context)
    return found


def analyze_escalations(context: EvaluationContext) -> Escalations:
    inventory = context.inventory
    graph = build_graph(inventory)
    paths: dict[str, list[EscalationPath]] = defaultdict(list)
    for path in escalation_paths(inventory, graph=graph):
        paths[path.principal].append(path)
    incomplete = {p.arn: p.unknown for p in graph if p.audited and p.unknown}
    sensitive = [b for b in context.resources_of(BUCKET)
                 if _label(context, b) is not None and context.access_for(b.id) is not None]
    gains: dict[str, list[Reach]] = defaultdict(list)
    if paths and sensitive:
        model = AccessModel(as_administrators(inventory, paths.keys()))
        for bucket in sensitive:
            for arn, reach in _gains(context, model, bucket, paths.keys()).items():
                gains[arn].append(reach)
    return Escalations(dict(paths), dict(gains), incomplete)


def as_administrators(inventory: Inventory, principals: Iterable[str]) -> Inventory:
    """The inventory with each of ``principals`` (users, roles) allowed everything."""
    chosen = set(principals)
    resources = [_administrator(r) if r.id in chosen else r for r in inventory.resources]
    return Inventory(resources=resources, errors=list(inventory.errors),
                     scopes=list(inventory.scopes))


def _administrator(resource: Resource) -> Resource:
    attributes = dict(resource.attributes)
    # a document of its own: the analysis tells policies apart by the document object
    attributes.update(inline_policies={ESCALATED_POLICY: copy.deepcopy(ESCALATED_DOCUMENT)},
                      attached_policies=[], permissions_boundary=None)
    if resource.type == "aws.iam.user":
        attributes["groups"] = []
    unknown = [name for name in resource.unknown if name not in _IDENTITY_ATTRIBUTES]
    return dataclasses.replace(resource, attributes=attributes, unknown=unknown)


def _gains(context: EvaluationContext, model: AccessModel, bucket: Resource,
           principals: Iterable[str]) -> dict[str, Reach]:
    current = context.access_for(bucket.id)
    assert current is not None
    held = {(g.principal, g.access) for g in current.grants}
    wanted = set(principals)
    new: dict[str, dict[str, AccessGrant]] = defaultdict(dict)
    side = model.bucket(bucket.id)
    for access in DATA_ACCESS:
        for grant in model.grants(side, question_for(access)):
            if grant.principal in wanted and (grant.principal, access) not in held:
                new[grant.principal].setdefault(access, grant)
    label = _label(context, bucket) or ""
    return {arn: Reach(bucket, label, tuple(a for a in DATA_ACCESS if a in by_access),
                       tuple(by_access[a] for a in DATA_ACCESS if a in by_access))
            for arn, by_access in new.items()}


def _label(context: EvaluationContext, bucket: Resource) -> str | None:
    found = context.classification(bucket.id)
    return found.label if found is not None and found.sensitive else None


def _after(path: EscalationPath, grant: AccessGrant) -> AccessGrant:
    """The escalated grant with the escalation's own statements at the head of its proof."""
    decision = "allow" if path.decision == grant.decision == "allow" else "conditional"
    return dataclasses.replace(grant, decision=decision,
                               conditions=path.conditions + grant.conditions,
                               path=path.statements + grant.path)


# --- the rules ----------------------------------------------------------------------------

REMEDIATION = Remediation(
    text=("Remove the permissions the escalation path needs (the statements in the evidence), "
          "or scope them: iam:PassRole to the roles the principal must pass with an "
          "iam:PassedToService condition, IAM write actions to nothing or to resources it "
          "owns, and a permissions boundary on principals that may create users, roles or "
          "policies. Keep the sensitive buckets behind a bucket-policy deny and a key policy "
          "that names their readers, which no escalation in IAM undoes."),
    cli=("aws iam detach-role-policy --role-name ROLE --policy-arn POLICY_ARN && "
         "aws iam put-role-permissions-boundary --role-name ROLE "
         "--permissions-boundary BOUNDARY_POLICY_ARN"),
    terraform=('data "aws_iam_policy_document" "pass_only_the_training_role" {\n'
               '  statement {\n'
               '    actions   = ["iam:PassRole"]\n'
               '    resources = [aws_iam_role.training.arn]\n'
               '    condition {\n'
               '      test     = "StringEquals"\n'
               '      variable = "iam:PassedToService"\n'
               '      values   = ["sagemaker.amazonaws.com"]\n'
               '    }\n'
               '  }\n'
               '}\n'))
REFERENCES = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html",
)
RATIONALE = (
    "A principal that can give itself more permissions (attach a policy to itself, create an "
    "access key for another user, pass a powerful role to a function it creates) has those "
    "permissions in all but name: a stolen key or a compromised workload goes from there to "
    "the training data and model weights. Who-can-read lists do not show it, because the "
    "grant does not exist yet.")


@dataclass(frozen=True, slots=True, eq=False)
class EscalationToSensitiveData:
    id: str
    title: str
    resource_type: str
    fixtures: tuple[Fixture, ...]
    severity: str = "high"
    source: str = "entry point 'aws-escalation' (auditor.rules.aws_escalation)"
    remediation: Remediation = REMEDIATION
    references: tuple[str, ...] = REFERENCES
    rationale: str = RATIONALE

    def evaluate(self, resource: Resource, context: EvaluationContext) -> list[Verdict]:
        found = escalations(context)
        paths = found.paths.get(resource.id, ())
        reach = sorted(found.gains.get(resource.id, ()), key=lambda r: r.bucket.id)
        if not paths:
            unknown = found.incomplete.get(resource.id)
            if unknown:
                return [Verdict("error", f"could not be decided for {resource.name}: "
                                         f"{'; '.join(unknown)}", {"unknown": list(unknown)})]
            return [Verdict("pass")]
        if not reach:
            return [Verdict("pass")]
        return [self._failure(resource, path, reach) for path in paths]

    @staticmethod
    def _failure(resource: Resource, path: EscalationPath, reach: list[Reach]) -> Verdict:
        target = "any target" if path.target == "*" else path.target
        condition = " (if its conditions hold)" if path.decision != "allow" else ""
        buckets = ", ".join(f"{r.bucket.name} ({', '.join(r.gains)})" for r in reach)
        message = (f"{resource.name} can escalate its privileges by {path.method} "
                   f"({path.name}) on {target}{condition}, which would let it reach "
                   f"training data or model weights it cannot reach now: {buckets}")
        evidence = {"escalation": path.to_dict(), "reach": [r.to_dict(path) for r in reach],
                    "related": [r.bucket.id for r in reach]}
        return Verdict("fail", message, evidence, discriminator=f"{path.method} {path.target}")


def rules() -> list[EscalationToSensitiveData]:
    """The entry point: one rule for IAM users, one for roles."""
    return [
        EscalationToSensitiveData(
            id="aws.iam.user-escalation-to-sensitive-data",
            title="IAM user can escalate its privileges to reach training data or model weights",
            resource_type="aws.iam.user", fixtures=_fixtures(_user)),
        EscalationToSensitiveData(
            id="aws.iam.role-escalation-to-sensitive-data",
            title="IAM role can escalate its privileges to reach training data or model weights",
            resource_type="aws.iam.role", fixtures=_fixtures(_role)),
    ]


# --- fixtures -----------------------------------------------------------------------------

_ACCOUNT = "111122223333"
_WEIGHTS = "arn:aws:s3:::acme-foundation-weights"
_KEY = f"arn:aws:kms:us-east-1:{_ACCOUNT}:key/0000-release"
_SERVING = f"arn:aws:iam::{_ACCOUNT}:role/serving"


def _document(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(actions: str | list[str], resources: str | list[str] = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def _user(name: str, policy: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"id": f"arn:aws:iam::{_ACCOUNT}:user/{name}", "type": "aws.iam.user",
            "account": _ACCOUNT, "name": name,
            "attributes": {"user_id": f"AIDA{name.upper()}", "path": "/",
                           "create_date": "2024-01-01T00:00:00Z", "groups": [],
                           "attached_policies": [],
                           "inline_policies": {"own": policy} if policy else {},
                           "permissions_boundary": None, "mfa_devices": [],
                           "login_profile": None, "password_last_used": None}}


def _role(name: str, policy: Mapping[str, Any] | None = None,
          service: str = "lambda.amazonaws.com") -> dict[str, Any]:
    trust = _document({"Effect": "Allow", "Action": "sts:AssumeRole",
                       "Principal": {"Service": service}})
    return {"id": f"arn:aws:iam::{_ACCOUNT}:role/{name}", "type": "aws.iam.role",
            "account": _ACCOUNT, "name": name,
            "attributes": {"role_id": f"AROA{name.upper()}", "path": "/",
                           "trust_policy": trust, "attached_policies": [],
                           "inline_policies": {"own": policy} if policy else {},
                           "permissions_boundary": None, "last_used": None,
                           "service_linked": False}}


def _account() -> dict[str, Any]:
    return {"id": f"arn:aws:iam::{_ACCOUNT}:root", "type": "aws.account", "account": _ACCOUNT,
            "name": _ACCOUNT, "attributes": {"account_id": _ACCOUNT, "caller_arn": None,
                                             "s3_public_access_block": None,
                                             "organization_id": None}}


def _bucket(policy: Mapping[str, Any] | None = None, key: str | None = None) -> dict[str, Any]:
    encryption = ({"algorithm": "aws:kms", "kms_key_id": key, "bucket_key_enabled": True}
                  if key else {"algorithm": "AES256", "kms_key_id": None,
                               "bucket_key_enabled": False})
    return {"id": _WEIGHTS, "type": BUCKET, "account": _ACCOUNT, "region": "us-east-1",
            "name": "acme-foundation-weights", "tags": {"ml-asset": "model-weights"},
            "attributes": {"owner_id": "c0ffee", "policy": policy, "acl": None,
                           "public_access_block": None,
                           "object_ownership": "BucketOwnerEnforced", "encryption": encryption,
                           "versioning": {"status": "Enabled", "mfa_delete": False},
                           "object_sample": [{"key": "base/model.safetensors", "size": 1,
                                              "acl": None}],
                           "object_sample_truncated": False}}


def _release_key() -> dict[str, Any]:
    """A key that only the serving role may use: its policy does not delegate to IAM."""
    policy = _document({"Sid": "ServingOnly", "Effect": "Allow",
                        "Principal": {"AWS": _SERVING},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"})
    return {"id": _KEY, "type": "aws.kms.key", "account": _ACCOUNT, "region": "us-east-1",
            "name": "0000-release",
            "attributes": {"key_id": "0000-release", "aliases": [], "alias_arns": [],
                           "policy": policy, "key_manager": "CUSTOMER", "key_state": "Enabled",
                           "enabled": True, "grants": [], "rotation_enabled": True,
                           "key_spec": "SYMMETRIC_DEFAULT", "key_usage": "ENCRYPT_DECRYPT"}}


# only the serving role may touch the weights: a deny on everyone else, administrators too
_ONLY_SERVING = _document({
    "Sid": "OnlyServing", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
    "Resource": [_WEIGHTS, f"{_WEIGHTS}/*"],
    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": _SERVING}}})


def _fixtures(subject: Any) -> tuple[Fixture, ...]:
    """The same situations for a user and for a role (``subject`` builds the one judged)."""
    attach_to_self = _document(_allow(["iam:AttachUserPolicy", "iam:AttachRolePolicy",
                                       "iam:PutUserPolicy", "iam:PutRolePolicy"], "*"))
    pass_role = _document(_allow("iam:PassRole", "*"),
                          _allow(["lambda:CreateFunction", "lambda:InvokeFunction"], "*"))
    cases: list[tuple[str, str, list[dict[str, Any]]]] = [
        ("pass", "no escalation path: it only reads one bucket",
         [subject("reader", _document(_allow("s3:GetObject", f"{_WEIGHTS}/*"))), _bucket(),
          _account()]),
        ("pass", "an administrator already reaches everything an escalation would",
         [subject("admin", _document(_allow("*"))), _bucket(), _account()]),
        ("pass", "it can attach policies to itself, but the bucket policy denies everyone but "
                 "the serving role",
         [subject("ops", attach_to_self), _bucket(_ONLY_SERVING), _account(),
          _role("serving")]),
        ("fail", "it can attach any policy to itself, and then read and overwrite the weights",
         [subject("ops", attach_to_self), _bucket(), _account()]),
        ("fail", "it can pass any role to a new Lambda function: deleting the weights needs no "
                 "key, although only the serving role may decrypt them",
         [subject("deployer", pass_role), _bucket(key=_KEY), _account(), _release_key(),
          _role("serving")]),
    ]
    unreadable = subject("ops")
    unreadable["unknown"] = ["inline_policies"]
    error = [{"service": "iam", "operation": "GetAccountAuthorizationDetails",
              "code": "AccessDenied", "resource_id": unreadable["id"],
              "attribute": "inline_policies"}]
    cases.append(("error", "its inline policies could not be read",
                  [unreadable, _bucket(), _account()]))
    counted: dict[str, int] = defaultdict(int)
    fixtures = []
    for expected, description, resources in cases:
        fixtures.append(make_fixture(expected, resources, error if expected == "error" else (),
                                     description=description, index=counted[expected],
                                     source=__name__))
        counted[expected] += 1
    return tuple(fixtures)
