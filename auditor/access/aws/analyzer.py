"""Who can read, write, delete or administer each S3 bucket, with the proof (``aws`` analyzer).

For one bucket and one access class:

1. **Candidates.** Only principals that could possibly be allowed are asked about: those
   whose identity policies may grant one of the class's actions on the bucket (``GrantIndex``)
   and those the resource side lets in (bucket policy and ACL grants; ``*`` lets in everyone).
2. **S3.** Each candidate's request (``s3:GetObject`` on each sampled object, say) is
   evaluated against its identity policies, boundary and the bucket's resource policy as that
   caller meets it (``s3.BucketSide``: ACLs, Object Ownership, Block Public Access).
3. **KMS.** For an SSE-KMS bucket, reading also needs ``kms:Decrypt`` and writing
   ``kms:GenerateDataKey`` on the key (``kms.KeySide``); both answers must hold.
4. **Role chains.** Whoever can assume a role that has an answer gets it too, with the hops
   in its proof (``principals.reach``).

Access classes: ``read`` = object content (``s3:GetObject``/``GetObjectVersion`` + decrypt);
``write`` = ``s3:PutObject`` (+ ``kms:GenerateDataKey``); ``delete`` = ``s3:DeleteObject`` /
``DeleteObjectVersion``; ``admin`` = the "Permissions management" actions on the bucket and
its objects (bucket policy, ACLs, ownership, public access block: whoever can do it can grant
itself the rest), as ``actions.ACCESS_CLASS_ACTIONS`` lists them. Privilege escalation
(editing IAM, trust or key policies) is not counted here: see ``escalation``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from auditor.access.aws.actions import ACCESS_CLASS_ACTIONS, action_info, actions_for
from auditor.access.aws.context import Evaluations, Outcome, better
from auditor.access.aws.kms import KMS_NEEDS, KeySide, key_side
from auditor.access.aws.principals import (
    PUBLIC,
    Assumptions,
    GrantIndex,
    Principal,
    PrincipalGraph,
    acting_for,
    build_graph,
    candidates,
    reach,
)
from auditor.access.aws.s3 import (
    BLOCKED,
    S3_ARN,
    BucketSide,
    acl_principals,
    bucket_name,
    bucket_side,
    canonical_owners,
)
from auditor.access.model import ACCESS_CLASSES, AccessGrant, AssetAccess, PathStep
from auditor.classify.model import Classification
from auditor.errors import InputError
from auditor.inventory import Inventory

_NOTHING_NEEDED = Outcome("allow")


@dataclass(frozen=True, slots=True)
class Question:
    """One thing to find out about one bucket: which actions, on which resources."""

    access: str  # the access class, or the concrete action for an ad-hoc query
    actions: tuple[str, ...]
    object_key: str | None = None  # a specific object, or None for the sampled ones


class AwsAnalyzer:
    provider = "aws"
    # callers make a new analyzer per question (`audit who-can`): the analysis of the last
    # inventory asked about is kept for all of them, as long as it is the same inventory
    _cached: tuple[Inventory, tuple[int, int], AccessModel] | None = None

    def handles(self, resource_ref: str) -> bool:
        return resource_ref.startswith(S3_ARN)

    def analyze(self, inventory: Inventory,
                classifications: dict[str, Classification]) -> Iterator[AssetAccess]:
        model = self.model(inventory)
        for bucket in sorted(inventory.of_type("aws.s3.bucket"), key=lambda r: r.id):
            classification = classifications.get(bucket.id)
            if classification is not None and classification.sensitive:
                yield model.asset_access(bucket.id)

    def who_can(self, inventory: Inventory, resource_ref: str, action: str) -> list[AccessGrant]:
        return self.model(inventory).who_can(resource_ref, action)

    def model(self, inventory: Inventory) -> AccessModel:
        """The analysis of one inventory, reused while the same inventory is asked about."""
        shape = (len(inventory.resources), len(inventory.errors))
        cached = AwsAnalyzer._cached
        if cached is None or cached[0] is not inventory or cached[1] != shape:
            cached = AwsAnalyzer._cached = (inventory, shape, AccessModel(inventory))
        return cached[2]


class AccessModel:
    """Principals, role assumption and per-bucket resource sides of one inventory."""

    def __init__(self, inventory: Inventory):
        self.inventory = inventory
        self.graph: PrincipalGraph = build_graph(inventory, acl_principals(inventory))
        self.index = GrantIndex(self.graph)
        self.evaluations = Evaluations()
        self.assumptions = Assumptions(self.graph, self.index, self.evaluations)
        self._owners = canonical_owners(inventory)
        self._buckets: dict[str, BucketSide] = {}
        self._keys: dict[str, KeySide | None] = {}
        self._followed: dict[str, bool] = {}
        self._contexts: dict[tuple[str, bool, bool], dict[str, str | list[str]]] = {}
        # a policy that could not be read may grant anything anywhere: every answer says so
        self._graph_unknown = [note for p in self.graph for note in p.unknown]

    # --- public answers -----------------------------------------------------------------

    def asset_access(self, bucket_arn: str) -> AssetAccess:
        side = self.bucket(bucket_arn)
        grants: list[AccessGrant] = []
        for access in ACCESS_CLASSES:
            grants.extend(self.grants(side, question_for(access)))
        return AssetAccess(resource_id=side.arn, grants=grants, unknown=self.unknown(side))

    def who_can(self, resource_ref: str, action: str) -> list[AccessGrant]:
        if not resource_ref.startswith(S3_ARN) or not bucket_name(resource_ref):
            raise InputError(f"not an S3 bucket or object ARN: {resource_ref!r}",
                             location="resource")
        bucket_arn = S3_ARN + bucket_name(resource_ref)
        key = resource_ref[len(bucket_arn) + 1:] if "/" in resource_ref[len(S3_ARN):] else None
        return self.grants(self.bucket(bucket_arn), question_for(action, key))

    def unknown(self, side: BucketSide) -> list[str]:
        notes = list(side.unknown)
        self.key(side)  # resolving the key records what is unknown about it
        notes.extend(f"{e.service} {e.operation} failed ({e.code}): {e.message}"
                     for e in self.inventory.errors_for(side.arn))
        notes.extend(f"{e.service} {e.operation} failed ({e.code}) in account {e.account}: "
                     "principals or policies may be missing"
                     for e in self.inventory.errors
                     if e.provider == "aws" and e.service == "iam" and e.resource_id is None)
        notes.extend(self._graph_unknown)
        return sorted(set(notes))

    # --- the work -----------------------------------------------------------------------

    def bucket(self, bucket_arn: str) -> BucketSide:
        side = self._buckets.get(bucket_arn)
        if side is None:
            resource = self.inventory.get(bucket_arn)
            if resource is None or resource.type != "aws.s3.bucket":
                raise InputError(f"bucket {bucket_arn} is not in the inventory",
                                 location="resource")
            side = self._buckets[bucket_arn] = bucket_side(resource, self.inventory,
                                                           self._owners)
        return side

    def key(self, side: BucketSide) -> KeySide | None:
        if side.arn not in self._keys:
            self._keys[side.arn] = key_side(side.resource, self.inventory, side.unknown)
        return self._keys[side.arn]

    def grants(self, side: BucketSide, question: Question) -> list[AccessGrant]:
        targets = self._targets(side, question)
        holders = {action: self.index.holders([action], targets[action])
                   for action in question.actions}
        admitted = self._admitted(side, set().union(*holders.values()))
        direct: dict[str, Outcome] = {}
        used: dict[str, str] = {}
        for arn in sorted(admitted.keys() | set().union(*holders.values())):
            principal = admitted.get(arn) or self.graph.get(arn)
            if principal is None:
                continue
            actions = [a for a in question.actions if arn in admitted or arn in holders[a]]
            found = self._direct(side, question, principal, targets, actions)
            if found is not None:
                used[arn], direct[arn] = found
        routes = reach(direct, self.assumptions, self._follows)
        grants = [self._grant(question, arn, outcome, used[origin])
                  for arn, (outcome, origin) in routes.items()]
        grants.extend(self._unmapped(side, question, targets))
        return sorted(grants, key=lambda g: (g.principal, g.action))

    def _targets(self, side: BucketSide, question: Question) -> dict[str, list[str]]:
        """Resource ARNs to ask about, per action: the bucket, or objects in it."""
        objects = ([f"{side.arn}/{question.object_key}"] if question.object_key is not None
                   else side.object_arns())
        return {action: objects if on_objects(action) else [side.arn]
                for action in question.actions}

    def _admitted(self, side: BucketSide, delegates: set[str]) -> dict[str, Principal]:
        """Principals the resource side may let in without (or with) an identity grant."""
        chosen: dict[str, Principal] = {}
        for policy in (side.for_signed, side.for_unsigned):
            if policy is not None:
                chosen.update(candidates(self.graph, policy.document, delegates))
        root = self.graph.get(f"arn:aws:iam::{side.account}:root")
        if root is not None:  # the owning account's root user needs no policy at all
            chosen[root.arn] = root
        return chosen

    def _direct(self, side: BucketSide, question: Question, principal: Principal,
                targets: Mapping[str, list[str]], actions: list[str]
                ) -> tuple[str, Outcome] | None:
        """The best answer for the principal acting as itself, and the action it uses."""
        policy = side.policy_for(principal)
        if policy is BLOCKED:
            return None
        policies = principal.policies(policy, "s3")
        context = self._s3_context(side, principal)
        best: Outcome | None = None
        best_action = ""
        for action in actions:
            for resource in targets[action]:
                kms = self._kms(side, principal, action, resource)
                if kms is None:
                    if self._kms_per_bucket(side):
                        break  # the same key answer for every object: no object will do
                    continue
                s3 = principal.ask(self.evaluations, action, resource, side.account, policies,
                                   context)
                if s3 is None:
                    continue
                outcome = Outcome(s3.decision, side.explain(s3.steps), s3.conditions).then(kms)
                if better(best, outcome) is not best:
                    best, best_action = outcome, action
                if best.decision == "allow":
                    return best_action, best
        return (best_action, best) if best is not None else None

    def _kms(self, side: BucketSide, principal: Principal, action: str,
             resource: str) -> Outcome | None:
        """What the bucket's key says about the S3 action (an allow when it needs no key)."""
        kms_action = KMS_NEEDS.get(action)
        key = self.key(side) if kms_action else None
        if key is None or kms_action is None:
            return _NOTHING_NEEDED
        return key.ask(self.evaluations, principal, kms_action, side.arn, resource)

    def _kms_per_bucket(self, side: BucketSide) -> bool:
        key = self.key(side)
        return key is None or key.bucket_key

    def _s3_context(self, side: BucketSide, principal: Principal) -> dict[str, str | list[str]]:
        """The request context S3 adds; one dict per kind of caller, shared by all of them."""
        kind = (side.arn, principal.caller.anonymous, principal.kind == "service")
        found = self._contexts.get(kind)
        if found is not None:
            return found
        context: dict[str, str | list[str]] = {"aws:ResourceAccount": side.account,
                                               "s3:ResourceAccount": side.account}
        if side.resource.region:
            context["aws:RequestedRegion"] = side.resource.region
        if not principal.caller.anonymous:
            context["aws:ViaAWSService"] = "false"
        for tag, value in side.resource.tags.items():
            context[f"s3:BucketTag/{tag}"] = value
        context.update(acting_for(principal, side.account))
        self._contexts[kind] = context
        return context

    def _follows(self, source: str) -> bool:
        found = self._followed.get(source)
        if found is None:
            principal = self.graph.get(source)
            found = self._followed[source] = (principal is not None and source != PUBLIC
                                              and principal.kind != "service")
        return found

    def _grant(self, question: Question, arn: str, outcome: Outcome,
               action: str) -> AccessGrant:
        principal = self.graph.principals[arn]
        return AccessGrant(principal=arn, kind=principal.kind,  # type: ignore[arg-type]
                           human=principal.human, access=question.access, action=action,
                           decision=outcome.decision, conditions=outcome.conditions,
                           path=outcome.steps)

    def _unmapped(self, side: BucketSide, question: Question,
                  targets: Mapping[str, list[str]]) -> Iterable[AccessGrant]:
        """ACL grants to canonical ids or e-mails no principal stands for."""
        found: dict[str, AccessGrant] = {}
        for grant in side.unmapped():
            for action in grant.actions():
                asked = targets.get(action, [])
                # a bucket ACL entry covers every object; an object's covers that object
                if grant.grantee in found or not asked or (
                        grant.on_object and grant.target not in asked):
                    continue
                if KMS_NEEDS.get(action) and self.key(side) is not None:
                    continue  # whether that account may use the key cannot be judged
                step = PathStep(grant.grantee, action, grant.source, grant.label)
                found[grant.grantee] = AccessGrant(
                    principal=grant.grantee, kind="external-account", human=None,
                    access=question.access, action=action, decision="allow", path=(step,))
        return found.values()


def class_actions(access: str) -> tuple[str, ...]:
    """The S3 actions an access class stands for (``actions.ACCESS_CLASS_ACTIONS``)."""
    return ACCESS_CLASS_ACTIONS[access]["s3"]


def question_for(action: str, object_key: str | None = None) -> Question:
    """An access class, or an S3 action or action pattern (``s3:GetObject``, ``s3:Put*``)."""
    if action in ACCESS_CLASSES:
        return Question(action, class_actions(action), object_key)
    found = tuple(a for a in actions_for(action) if on_objects(a) is not None)
    if not found:
        raise InputError(f"cannot answer who can {action!r} on a bucket: give an access class "
                         f"({', '.join(ACCESS_CLASSES)}) or an S3 action such as s3:GetObject",
                         location="action")
    return Question(action, found, object_key)


def on_objects(action: str) -> bool | None:
    """True for an S3 action on objects, False on the bucket, None for neither."""
    info = action_info(action)
    if info is None or not info.name.startswith("s3:"):
        return None
    if "object" in info.resource_types:
        return True
    return False if "bucket" in info.resource_types else None
