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
5. **Organization guardrails.** Each request is also asked of the SCPs of the caller's account
   and the RCPs of the account of the bucket, key or role it touches (``organization``);
   they never grant, so proofs cite them only through conditions that could still deny. An
   account whose levels are not known leaves them out, and ``AssetAccess.may_not_hold`` says
   which grants they could remove.

Buckets alike (``alike``): a principal whose own policies do not name a bucket gets the same
answer on every bucket of the bucket's class (the same resource side but for the bucket's
name, the same account and objects named alike), so it is asked about once per class and per
key; only principals specific to a bucket are asked about on it.

Access classes: ``read`` = object content (``s3:GetObject``/``GetObjectVersion`` + decrypt);
``write`` = ``s3:PutObject`` (+ ``kms:GenerateDataKey``); ``delete`` = ``s3:DeleteObject`` /
``DeleteObjectVersion``; ``admin`` = the "Permissions management" actions on the bucket and
its objects (bucket policy, ACLs, ownership, public access block: whoever can do it can grant
itself the rest), as ``actions.ACCESS_CLASS_ACTIONS`` lists them. Privilege escalation
(editing IAM, trust or key policies) is not counted here: see ``escalation``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from operator import attrgetter
from typing import Any

from auditor.access.aws.actions import ACCESS_CLASS_ACTIONS, action_info, actions_for
from auditor.access.aws.alike import (
    NOT_KEPT,
    PLACEHOLDER_POLICY,
    BucketClasses,
    BucketView,
    Entry,
    Sheet,
    as_given,
    as_kept,
    keep,
)
from auditor.access.aws.context import Evaluations, Outcome, better
from auditor.access.aws.evaluator import PolicySet
from auditor.access.aws.kms import KMS_NEEDS, KeyAnswers, KeySide, key_side
from auditor.access.aws.policy import caller_of
from auditor.access.aws.principals import (
    ANY_AWS,
    KEPT_AT_MOST,
    PUBLIC,
    Admission,
    Assumptions,
    GrantIndex,
    Principal,
    PrincipalGraph,
    build_graph,
    reach,
    service_keys,
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
from auditor.inventory import CollectionError, Inventory

_NOTHING_NEEDED = Outcome("allow")
_UNSET: Any = object()
_PER_BUCKET: Any = object()  # a kept answer that differs between buckets of the class's key
_BY_PRINCIPAL = attrgetter("principal", "action")
# the S3 answer for one action and object (its index among the targets) of one principal
S3Part = Callable[[str, int, str], Outcome | None]


@dataclass(frozen=True, slots=True)
class Question:
    """One thing to find out about one bucket: which actions, on which resources."""

    access: str  # the access class, or the concrete action for an ad-hoc query
    actions: tuple[str, ...]
    object_key: str | None = None  # a specific object, or None for the sampled ones


# object ACLs grant READ (s3:GetObject), READ_ACP and WRITE_ACP (s3:PutObjectAcl, an admin
# action), never a write or a delete of the object: what their collection failures can hide
OBJECT_ACL_OPERATIONS = frozenset({"GetObjectAcl"})
OBJECT_ACL_ACCESS = ("read", "admin")


def _failed(error: CollectionError) -> str:
    return f"{error.service} {error.operation} failed ({error.code}): {error.message}"


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

    def __init__(self, inventory: Inventory, grouping: bool = True):
        """``grouping=False`` asks about every principal on its own (for comparisons)."""
        self.inventory = inventory
        self.graph: PrincipalGraph = build_graph(inventory, acl_principals(inventory))
        self.index = GrantIndex(self.graph)
        self.evaluations = Evaluations()
        self.assumptions = Assumptions(self.graph, self.index, self.evaluations)
        self._owners = canonical_owners(inventory)
        self._buckets: dict[str, BucketSide] = {}
        self._keys: dict[str, KeySide | None] = {}
        self._followed: dict[str, bool] = {}
        self._follow = self._follows  # one function, so that ``reach`` keeps what it reads
        self._contexts: dict[tuple[str, bool, bool], dict[str, str | list[str]]] = {}
        self._admissions: dict[int, tuple[Any, Admission]] = {}
        self._grants: dict[tuple[int, str, str], tuple[Outcome, AccessGrant]] = {}
        self.key_answers = KeyAnswers(self.evaluations) if grouping else None
        self.classes = BucketClasses(self.graph, self.index, self.evaluations,
                                     self.key_answers) if self.key_answers else None
        # a policy that could not be read may grant anything anywhere: every answer says so
        self._graph_unknown = [note for p in self.graph for note in p.unknown]

    # --- public answers -----------------------------------------------------------------

    def asset_access(self, bucket_arn: str) -> AssetAccess:
        side = self.bucket(bucket_arn)
        grants: list[AccessGrant] = []
        for access in ACCESS_CLASSES:
            grants.extend(self.grants(side, question_for(access)))
        return AssetAccess(resource_id=side.arn, grants=grants, unknown=self.unknown(side),
                           may_not_hold=self.may_not_hold(side, grants),
                           unknown_for=self.unknown_for(side))

    def who_can(self, resource_ref: str, action: str) -> list[AccessGrant]:
        if not resource_ref.startswith(S3_ARN) or not bucket_name(resource_ref):
            raise InputError(f"not an S3 bucket or object ARN: {resource_ref!r}",
                             location="resource")
        bucket_arn = S3_ARN + bucket_name(resource_ref)
        key = resource_ref[len(bucket_arn) + 1:] if "/" in resource_ref[len(S3_ARN):] else None
        return self.grants(self.bucket(bucket_arn), question_for(action, key))

    def unknown(self, side: BucketSide) -> list[str]:
        """Gaps that may add principals for every access class."""
        notes = list(side.unknown)
        self.key(side)  # resolving the key records what is unknown about it
        notes.extend(_failed(e) for e in self.inventory.errors_for(side.arn)
                     if e.operation not in OBJECT_ACL_OPERATIONS)
        notes.extend(f"{e.service} {e.operation} failed ({e.code}) in account {e.account}: "
                     "principals or policies may be missing"
                     for e in self.inventory.errors
                     if e.provider == "aws" and e.service == "iam" and e.resource_id is None)
        notes.extend(self._graph_unknown)
        return sorted(set(notes))

    def unknown_for(self, side: BucketSide) -> dict[str, list[str]]:
        """Gaps that may add principals for some access classes only: an object ACL that could
        not be read may grant reads and ACL changes, never writes or deletes."""
        notes = sorted({_failed(e) for e in self.inventory.errors_for(side.arn)
                        if e.operation in OBJECT_ACL_OPERATIONS})
        return {access: notes for access in OBJECT_ACL_ACCESS} if notes else {}

    def may_not_hold(self, side: BucketSide, grants: Iterable[AccessGrant]) -> list[str]:
        """The guardrails not known that could remove some of ``grants``: the SCPs of an
        account whose principal takes a step of a proof, the RCPs of the bucket's account,
        of its key's and of a role's that a proof assumes."""
        guardrails = self.graph.guardrails
        if not guardrails.scp_gaps and not guardrails.rcp_gaps:
            return []
        notes: set[str | None] = set()
        grants = list(grants)
        if grants:
            key = self.key(side)
            notes.add(guardrails.rcp_gap(side.account))
            if key is not None and not key.managed:
                notes.add(guardrails.rcp_gap(key.account))
        for grant in grants:
            for step in grant.path:
                notes.add(guardrails.scp_gap(caller_of(step.principal).account))
                if step.action.lower().startswith("sts:assumerole"):
                    notes.add(guardrails.rcp_gap(caller_of(step.policy.split("#")[0]).account))
            notes.add(guardrails.scp_gap(caller_of(grant.principal).account))
        return sorted(note for note in notes if note is not None)

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
            self._keys[side.arn] = key_side(side.resource, self.inventory, side.unknown,
                                            self.graph.guardrails)
        return self._keys[side.arn]

    def grants(self, side: BucketSide, question: Question) -> list[AccessGrant]:
        targets = self._targets(side, question)
        direct, used = self._answers(side, question, targets)
        routes = reach(direct, self.assumptions, self._follow)
        grants = [self._grant(question, arn, outcome, used[origin])
                  for arn, (outcome, origin) in routes.items()]
        grants.extend(self._unmapped(side, question, targets))
        return sorted(grants, key=_BY_PRINCIPAL)

    def _targets(self, side: BucketSide, question: Question) -> dict[str, list[str]]:
        """Resource ARNs to ask about, per action: the bucket, or objects in it."""
        objects = ([f"{side.arn}/{question.object_key}"] if question.object_key is not None
                   else side.object_arns())
        return {action: objects if on_objects(action) else [side.arn]
                for action in question.actions}

    # --- who is asked, and what ------------------------------------------------------------

    def _answers(self, side: BucketSide, question: Question, targets: Mapping[str, list[str]]
                 ) -> tuple[dict[str, Outcome], dict[str, str]]:
        """Each principal's best answer acting as itself, and the action it uses: kept for
        the bucket's class where the principal is not specific to the bucket (``alike``)."""
        classes = self.classes
        view = classes.view(side, self.key(side), question.actions, targets,
                            self._context_for(side, False, False)) \
            if classes is not None else None
        if classes is None or view is None:
            return _answered((principal.arn, self._direct(side, principal, targets, actions))
                             for principal, actions in self._candidates(side, question, targets))
        cls = view.cls
        if cls.unknown is None:  # the class's first bucket: its candidates as usual
            found = []
            for principal, actions in self._candidates(side, question, targets):
                if principal.arn in view.specific:
                    found.append((principal.arn, self._direct(side, principal, targets,
                                                              actions)))
                else:
                    entry = classes.add(cls, principal.arn, actions)
                    found.append((principal.arn, self._kept(side, view, principal, entry,
                                                            targets)))
            cls.unknown = set(view.specific)
            return _answered(found)
        direct, used = self._from_sheet(side, view, targets)
        # specific principals, and those the class has not yet seen as members
        for arn in sorted(view.specific | cls.unknown):
            principal = self.graph.principals[arn]
            actions = self._candidacy(side, question, targets, principal)
            if arn in view.specific:
                answer = self._direct(side, principal, targets, actions) if actions else None
            else:
                cls.unknown.discard(arn)
                if not actions:
                    continue
                entry = classes.add(cls, arn, actions)
                answer = self._kept(side, view, principal, entry, targets)
            if answer is not None:
                used[arn], direct[arn] = answer
        return direct, used

    def _candidates(self, side: BucketSide, question: Question,
                    targets: Mapping[str, list[str]]) -> list[tuple[Principal, list[str]]]:
        """The principals to ask about, and the actions to ask each: whose identity may grant
        (``GrantIndex``) and whom the resource side may let in."""
        holders = {action: self.index.holders([action], targets[action])
                   for action in question.actions}
        admitted = self._admitted(side, set().union(*holders.values()))
        found = []
        for arn in sorted(admitted.keys() | set().union(*holders.values())):
            principal = admitted.get(arn) or self.graph.get(arn)
            if principal is not None:
                found.append((principal, [a for a in question.actions
                                          if arn in admitted or arn in holders[a]]))
        return found

    def _candidacy(self, side: BucketSide, question: Question,
                   targets: Mapping[str, list[str]], principal: Principal) -> list[str]:
        """What ``_candidates`` asks one principal (nothing: it is not a candidate)."""
        held = [a for a in question.actions if self.index.holds(principal, a, targets[a])]
        if principal.arn == f"arn:aws:iam::{side.account}:root" or any(
                self._admission(policy).admits(self.graph, principal, bool(held))
                for policy in (side.for_signed, side.for_unsigned) if policy is not None):
            return list(question.actions)
        return held

    def _admitted(self, side: BucketSide, delegates: set[str]) -> dict[str, Principal]:
        """Principals the resource side may let in without (or with) an identity grant."""
        chosen: dict[str, Principal] = {}
        for policy in (side.for_signed, side.for_unsigned):
            if policy is not None:
                chosen.update(self._admission(policy).members(self.graph, delegates))
        root = self.graph.get(f"arn:aws:iam::{side.account}:root")
        if root is not None:  # the owning account's root user needs no policy at all
            chosen[root.arn] = root
        return chosen

    def _admission(self, policy: Any) -> Admission:
        found = self._admissions.get(id(policy.document))
        if found is None or found[0] is not policy.document:
            found = self._admissions[id(policy.document)] = (policy.document,
                                                             Admission.of(policy.document))
        return found[1]

    # --- the answers -------------------------------------------------------------------------

    def _direct(self, side: BucketSide, principal: Principal, targets: Mapping[str, list[str]],
                actions: list[str]) -> tuple[str, Outcome] | None:
        """The best answer for the principal acting as itself, and the action it uses."""
        if side.policy_for(principal) is BLOCKED:
            return None
        return self._each(side, principal, targets, actions, self._s3_part(side, principal))

    def _s3_part(self, side: BucketSide, principal: Principal) -> S3Part:
        """The evaluator's S3 answers for the principal, as the bucket explains them."""
        policies = principal.policies(side.policy_for(principal), "s3",
                                      self.graph.guardrails.rcps_of(side.account))
        context = self._s3_context(side, principal)

        def ask(action: str, _index: int, resource: str) -> Outcome | None:
            found = principal.ask(self.evaluations, action, resource, side.account, policies,
                                  context)
            return None if found is None else Outcome(found.decision, side.explain(found.steps),
                                                      found.conditions)
        return ask

    def _each(self, side: BucketSide, principal: Principal, targets: Mapping[str, list[str]],
              actions: list[str], s3: S3Part, keyless: bool = False
              ) -> tuple[str, Outcome] | None:
        """The best of the answers for each action and resource in turn, S3 and KMS both
        (``keyless``: as if the bucket had no key)."""
        best: Outcome | None = None
        best_action = ""
        for action in actions:
            for index, resource in enumerate(targets[action]):
                found = s3(action, index, resource)
                if found is None:
                    continue
                kms = _NOTHING_NEEDED if keyless else self._kms(side, principal, action,
                                                                resource)
                if kms is None:
                    if self._kms_per_bucket(side):
                        break  # the same key answer for every object: no object will do
                    continue
                outcome = found.then(kms)
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
        if self.key_answers is not None:
            return self.key_answers.ask(key, principal, kms_action, side.arn, resource)
        return key.ask(self.evaluations, principal, kms_action, side.arn, resource)

    def _kms_per_bucket(self, side: BucketSide) -> bool:
        key = self.key(side)
        return key is None or key.bucket_key

    def _from_sheet(self, side: BucketSide, view: BucketView, targets: Mapping[str, list[str]]
                    ) -> tuple[dict[str, Outcome], dict[str, str]]:
        """``_kept`` for every member of the class but the specific ones, from the class's
        sheet for the bucket's key, brought up to date with the members added since."""
        cls, specific = view.cls, view.specific
        if view.answers_key is NOT_KEPT:
            return _answered((arn, self._kept(side, view, self.graph.principals[arn], entry,
                                              targets))
                             for arn, entry in cls.entries.items() if arn not in specific)
        sheet = cls.sheets.get(view.answers_key)
        if sheet is None:
            sheet = cls.sheets[view.answers_key] = Sheet()
        if sheet.pending or sheet.read < len(cls.entries):
            self._write(side, view, sheet, targets)
        direct, used = dict(sheet.direct), dict(sheet.used)
        for arn in specific:
            if arn in direct:
                del direct[arn], used[arn]
        for arn in sheet.citing:
            if arn in direct:
                direct[arn] = direct[arn].renamed(PLACEHOLDER_POLICY, side.policy_id)
        for arn in sheet.per_bucket:
            if arn not in specific and (answer := self._kept(
                    side, view, self.graph.principals[arn], cls.entries[arn],
                    targets)) is not None:
                used[arn], direct[arn] = answer
        return direct, used

    def _write(self, side: BucketSide, view: BucketView, sheet: Sheet,
               targets: Mapping[str, list[str]]) -> None:
        """Add the class's new members to its sheet (not on a bucket they are specific to:
        their class answer is asked on another)."""
        cls = view.cls
        added = list(islice(cls.entries, sheet.read, None))
        sheet.read = len(cls.entries)
        waiting, sheet.pending = sheet.pending + added, []
        for arn in waiting:
            if arn in view.specific:
                sheet.pending.append(arn)
                continue
            principal, entry = self.graph.principals[arn], cls.entries[arn]
            kept = self._keyless(side, principal, entry, targets) \
                if view.answers_key is None else self._with_key(side, view, principal, entry,
                                                                targets)
            if kept is _PER_BUCKET:
                sheet.per_bucket.append(arn)
            elif kept is not None:
                sheet.used[arn], sheet.direct[arn], citing = kept
                if citing:
                    sheet.citing.append(arn)

    def _kept(self, side: BucketSide, view: BucketView, principal: Principal, entry: Entry,
              targets: Mapping[str, list[str]]) -> tuple[str, Outcome] | None:
        """``_direct`` for a principal of the bucket's class, from what the class keeps: its
        answer without a key, and per key unless its key answers differ between buckets."""
        if view.answers_key is None:
            found = self._keyless(side, principal, entry, targets)
        elif view.answers_key is NOT_KEPT:
            found = keep(self._kept_answer(side, principal, entry, targets, keyless=False))
        else:
            found = self._with_key(side, view, principal, entry, targets)
            if found is _PER_BUCKET:
                found = self._decided(side, view, principal, entry, targets)
        return as_given(found, side.policy_id)

    def _decided(self, side: BucketSide, view: BucketView, principal: Principal, entry: Entry,
                 targets: Mapping[str, list[str]]) -> tuple[str, Outcome, bool] | None:
        """The answer of a principal whose key answers depend on the bucket through the
        conditions that read it: kept per answer of those conditions."""
        key = self.key(side)
        assert self.key_answers is not None and key is not None
        decided = tuple(self.key_answers.context_results(key, principal, KMS_NEEDS[a],
                                                         side.arn, t)
                        for a in entry.actions if a in KMS_NEEDS for t in targets[a])
        answers_key = (view.answers_key, decided) if None not in decided else NOT_KEPT
        found = entry.answers.get(answers_key, _UNSET) if answers_key is not NOT_KEPT \
            else _UNSET
        if found is _UNSET:
            found = keep(self._kept_answer(side, principal, entry, targets, keyless=False))
            if answers_key is not NOT_KEPT:
                entry.answers[answers_key] = found
        return found  # type: ignore[no-any-return]

    def _with_key(self, side: BucketSide, view: BucketView, principal: Principal, entry: Entry,
                  targets: Mapping[str, list[str]]) -> Any:
        """The kept answer on the bucket's key, or ``_PER_BUCKET``."""
        found = entry.answers.get(view.answers_key, _UNSET)
        if found is _UNSET:
            found = self._keyed(side, principal, entry, targets)
            if found is not _PER_BUCKET:
                entry.answers[view.answers_key] = found
        return found

    def _keyless(self, side: BucketSide, principal: Principal, entry: Entry,
                 targets: Mapping[str, list[str]]) -> tuple[str, Outcome, bool] | None:
        found = entry.answers.get(None, _UNSET)
        if found is _UNSET:
            found = entry.answers[None] = keep(self._kept_answer(side, principal, entry, targets,
                                                                 keyless=True))
        return found

    def _keyed(self, side: BucketSide, principal: Principal, entry: Entry,
               targets: Mapping[str, list[str]]) -> tuple[str, Outcome, bool] | None:
        """The answer with a key that answers alike for every object: when every action
        needs the same key action and the key allows, the best S3 answer is the one found
        without a key (the key adds the same steps to each), then the key's."""
        needs = entry.needs
        if len(needs) == 1 and None not in needs:
            keyless = self._keyless(side, principal, entry, targets)
            if keyless is None:
                return None  # no S3 answer: no key answer needed
            if self._varies(side, principal, entry):
                return _PER_BUCKET
            action = entry.actions[0]
            kms = self._kms(side, principal, action, targets[action][0])
            if kms is None:
                return None
            if kms.decision == "allow":
                return keyless[0], keyless[1].then(kms), keyless[2]
        elif self._varies(side, principal, entry):
            return _PER_BUCKET
        return keep(self._kept_answer(side, principal, entry, targets, keyless=False))

    def _varies(self, side: BucketSide, principal: Principal, entry: Entry) -> bool:
        """Whether the principal's key answers may differ between buckets of the key."""
        key = self.key(side)
        assert self.key_answers is not None and key is not None
        return any(self.key_answers.varies(key, principal, need)
                   for need in entry.needs if need is not None)

    def _kept_answer(self, side: BucketSide, principal: Principal, entry: Entry,
                     targets: Mapping[str, list[str]], keyless: bool
                     ) -> tuple[str, Outcome] | None:
        if side.policy_for(principal) is BLOCKED:
            return None
        ask = self._s3_part(side, principal)

        def s3(action: str, index: int, resource: str) -> Outcome | None:
            found = entry.parts.get((action, index), _UNSET)
            if found is _UNSET:
                found = entry.parts[(action, index)] = as_kept(ask(action, index, resource),
                                                               side.policy_id)
            return found

        return self._each(side, principal, targets, entry.actions, s3, keyless)

    def _s3_context(self, side: BucketSide, principal: Principal) -> dict[str, str | list[str]]:
        """The request context S3 adds; one dict per kind of caller, shared by all of them."""
        return self._context_for(side, principal.caller.anonymous, principal.kind == "service")

    def _context_for(self, side: BucketSide, anonymous: bool,
                     service: bool) -> dict[str, str | list[str]]:
        kind = (side.arn, anonymous, service)
        found = self._contexts.get(kind)
        if found is not None:
            return found
        context: dict[str, str | list[str]] = {"aws:ResourceAccount": side.account,
                                               "s3:ResourceAccount": side.account}
        if side.resource.region:
            context["aws:RequestedRegion"] = side.resource.region
        if not anonymous:
            context["aws:ViaAWSService"] = "false"
        for tag, value in side.resource.tags.items():
            context[f"s3:BucketTag/{tag}"] = value
        if service:
            context.update(service_keys(side.account))
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
        # answers kept for a class (and routes through them) are the same objects on every
        # bucket of the class: so are their grants, made once
        cache_key = (id(outcome), question.access, action)
        found = self._grants.get(cache_key)
        if found is not None and found[0] is outcome:
            return found[1]
        principal = self.graph.principals[arn]
        grant = AccessGrant(principal=arn, kind=principal.kind,  # type: ignore[arg-type]
                            human=principal.human, access=question.access, action=action,
                            decision=outcome.decision, conditions=outcome.conditions,
                            path=outcome.steps)
        if len(self._grants) >= KEPT_AT_MOST:
            self._grants.clear()
        self._grants[cache_key] = (outcome, grant)
        return grant

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
                guard = self._unmapped_guard(side, action, grant.target if grant.on_object
                                             else asked[0])
                if guard is None:
                    continue
                step = PathStep(grant.grantee, action, grant.source, grant.label)
                found[grant.grantee] = AccessGrant(
                    principal=grant.grantee, kind="external-account", human=None,
                    access=question.access, action=action, decision=guard.decision,
                    conditions=guard.conditions, path=(step,))
        return found.values()

    def _unmapped_guard(self, side: BucketSide, action: str, resource: str) -> Outcome | None:
        """What the bucket account's RCPs say to a grantee no principal stands for: what
        they say to any principal of any account."""
        rcps = self.graph.guardrails.rcps_of(side.account)
        anyone = self.graph.get(ANY_AWS)
        if rcps is None or anyone is None:
            return _NOTHING_NEEDED
        return self.evaluations.guardrails(anyone.caller, action, resource, side.account,
                                           PolicySet(rcps=rcps), self._s3_context(side, anyone))


def _answered(found: Iterable[tuple[str, tuple[str, Outcome] | None]]
              ) -> tuple[dict[str, Outcome], dict[str, str]]:
    direct: dict[str, Outcome] = {}
    used: dict[str, str] = {}
    for arn, answer in found:
        if answer is not None:
            used[arn], direct[arn] = answer
    return direct, used


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
