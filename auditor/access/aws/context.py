"""Asking the policy evaluator one question the way an audit sees the world.

An audit asks "may this principal ever do X?" before any request is made, so most of the
request context is unknown. The evaluator is called open-world (``Request.open_world``): a
condition on a key missing from the context makes the answer ``conditional``, shown with the
condition. This module decides which keys are *known* at audit time, which are *absent* for a
kind of caller, and which stay unknown:

* **Known about the caller:** ``aws:PrincipalArn``, ``aws:PrincipalAccount``,
  ``aws:PrincipalType``, ``aws:username`` / ``aws:userid``, ``aws:PrincipalTag/*`` (from the
  user's or role's tags), ``aws:PrincipalIsAWSService``, ``aws:PrincipalOrgID`` (when the
  account's organization is known), ``aws:PrincipalServiceName`` and ``aws:SourceAccount`` for
  a service principal acting for the resource's account.
* **Known about the resource:** ``aws:ResourceAccount``, ``s3:ResourceAccount``,
  ``s3:BucketTag/*``, ``aws:RequestedRegion``, and for KMS use through S3 ``kms:ViaService``,
  ``kms:CallerAccount`` and the S3 encryption context.
* **The known-good request shape.** Keys whose value the caller freely chooses and that say
  *how* a request is made, not *who* makes it, take the value a well-behaved client sends:
  TLS (``aws:SecureTransport`` true, ``s3:TlsVersion`` 1.3), Signature V4 in the header, and
  the ``sts:ExternalId`` a trust policy asks for (a shared secret held by the trusted party).
  So a TLS-only bucket policy reads as "allowed over TLS", not "conditional for everyone".
* **Absent:** keys AWS never sends for that kind of caller (no ``aws:PrincipalOrgID`` or
  ``aws:PrincipalArn`` on an anonymous request, no ``aws:SourceAccount`` on a call by an IAM
  user, no ``aws:PrincipalTag/x`` for a principal without tag ``x``). The contract has no way
  to say "absent" in an open-world request, so when every undecided condition depends only on
  absent keys the question is asked again closed-world, where a missing key is absent.
* **Unknown** (answers stay ``conditional``): everything that restricts *who or where* and is
  only known per request: ``aws:SourceIp``, ``aws:SourceVpc(e)``, MFA, time, session tags,
  request headers such as ``s3:x-amz-server-side-encryption``, ``aws:SourceArn``...
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from auditor.access.aws import evaluator
from auditor.access.aws.evaluator import NamedPolicy, PolicySet, Request, Result, StatementRef
from auditor.access.aws.policy import caller_of, policy_for
from auditor.access.aws.variables import Glob, RequestValues, Variable, glob_from_text
from auditor.access.model import PathStep
from auditor.errors import InputError

ContextValue = str | list[str]
# the request context as policy variables read it, built only when one needs it
RequestSource = Callable[[], RequestValues]

# the request shape of a well-behaved client (see the module docstring)
SIGNED_REQUEST_SHAPE: Mapping[str, str] = {
    "aws:SecureTransport": "true",
    "s3:TlsVersion": "1.3",
    "s3:signatureversion": "AWS4-HMAC-SHA256",
    "s3:authType": "REST-HEADER",
}
UNSIGNED_REQUEST_SHAPE: Mapping[str, str] = {
    "aws:SecureTransport": "true",
    "s3:TlsVersion": "1.3",
}
# a role session's name is chosen by the caller; this one only fills aws:userid "ROLEID:name"
SESSION_NAME = "audit-session"

# keys that only requests made by an AWS service on someone's behalf carry
_SERVICE_ONLY_KEYS = ("aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid",
                      "aws:sourceorgpaths", "aws:principalservicename",
                      "aws:principalservicenameslist")
# keys that describe an authenticated caller; an anonymous request carries none of them
_CALLER_KEYS = ("aws:principalarn", "aws:principalaccount", "aws:principalorgid",
                "aws:principalorgpaths", "aws:username", "aws:sourceidentity",
                "aws:multifactorauthpresent", "aws:multifactorauthage", "aws:tokenissuetime",
                "aws:federatedprovider", "aws:viaawsservice", "aws:calledvia",
                "aws:calledviafirst", "aws:calledvialast", "s3:signatureversion", "s3:authtype",
                "s3:signatureage", "s3:x-amz-content-sha256")
_PRINCIPAL_TAG = "aws:principaltag/"


@dataclass(frozen=True, slots=True)
class Caller:
    """What an audit knows about who sends a request (see ``principals.Principal``)."""

    request_arn: str  # the ARN the request carries (a role session for a role)
    account: str | None  # None: no identity side (anonymous, service, identity provider)
    keys: Mapping[str, ContextValue] = field(default_factory=dict)
    anonymous: bool = False
    service: bool = False
    # lower-cased aws:PrincipalTag/* keys the caller has; None: its tags are not known
    tag_keys: frozenset[str] | None = frozenset()

    def is_absent(self, key: str) -> bool:
        """True when AWS never sends ``key`` for this caller, whatever the request."""
        key = key.lower()
        if any(known.lower() == key for known in self.keys):
            return False
        if self.anonymous:
            return (key in _CALLER_KEYS or key in _SERVICE_ONLY_KEYS
                    or key.startswith(_PRINCIPAL_TAG))
        if key.startswith(_PRINCIPAL_TAG):
            return self.tag_keys is not None and key not in self.tag_keys
        return not self.service and key in _SERVICE_ONLY_KEYS


@dataclass(frozen=True, slots=True)
class Outcome:
    """A yes (``allow``) or a maybe (``conditional``) with its proof; ``None`` means no."""

    decision: Literal["allow", "conditional"]
    steps: tuple[PathStep, ...] = ()
    conditions: tuple[dict[str, Any], ...] = ()

    def then(self, other: Outcome) -> Outcome:
        """Both are needed (S3 and KMS; assume a role, then act as it)."""
        decision = "allow" if self.decision == other.decision == "allow" else "conditional"
        return Outcome(decision, self.steps + other.steps,
                       _unique(self.conditions + other.conditions))

    def renamed(self, old: str | None, new: str | None) -> Outcome:
        """The same answer with policy ``old`` called ``new`` (a shared trust policy)."""
        steps = tuple(PathStep(s.principal, s.action, new, s.statement)
                      if s.policy == old and new else s for s in self.steps)
        conditions = tuple({**c, "policy": new} if c.get("policy") == old else c
                           for c in self.conditions)
        return Outcome(self.decision, steps, conditions)

    def asked_by(self, old: str, new: str) -> Outcome:
        """The same answer for principal ``new``, whose request is ``old``'s but for who sends
        it: the proof names ``new``."""
        steps = tuple(PathStep(new, s.action, s.policy, s.statement) if s.principal == old
                      else s for s in self.steps)
        return Outcome(self.decision, steps, self.conditions)

    @property
    def rank(self) -> tuple[int, int]:
        return (0 if self.decision == "allow" else 1, len(self.steps))


def both(first: Outcome | None, second: Outcome | None) -> Outcome | None:
    if first is None or second is None:
        return None
    return first.then(second)


def better(first: Outcome | None, second: Outcome | None) -> Outcome | None:
    """Either is enough: keep an allow over a maybe, then the shorter proof."""
    if first is None:
        return second
    if second is None:
        return first
    return second if second.rank < first.rank else first


@dataclass(frozen=True, slots=True)
class _Relevant:
    """The statements that can take part in deciding one request, and what they read."""

    statements: tuple[Any, ...]  # hashable ids of the statements
    keys: frozenset[str]  # context keys their conditions and policy variables read
    names_caller: bool  # a resource-policy statement matched the caller by its Principal


_MemoEntry = tuple[Result, str | None]
_UNSET: Any = object()
# what SCPs and RCPs say when they let a request through: nothing to add to its proof
ALLOWED = Outcome("allow")
Levels = Sequence[Sequence[NamedPolicy]]
_NOTHING: tuple[tuple[Any, ...], frozenset[str]] = ((), frozenset())
# keys the evaluator fills in from the caller's ARN when the context does not give them
DERIVED_FROM_CALLER = frozenset({"aws:principalarn", "aws:username", "aws:userid",
                                  "aws:principalisawsservice", "aws:principalservicename"})


@dataclass(slots=True, eq=False)
class _ByAction:
    """One document's statements that match one action, sorted by the resources they match:
    every resource, resources of one literal place (a bucket, a role), or a pattern."""

    document: Any  # kept alive: it is identified by id()
    name: Any  # how the memo key names the document
    undecidable: bool = False
    anywhere: list[Any] = field(default_factory=list)
    pinned: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    wild: list[Any] = field(default_factory=list)
    # Resource patterns with policy variables: whether they match depends on the request
    templated: list[Any] = field(default_factory=list)
    keys: dict[int, frozenset[str]] = field(default_factory=dict)
    constant: tuple[tuple[Any, ...], frozenset[str]] | None = None
    placement: Placement | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one policy's statements for one action can match, by ``resource_key`` (the
    bucket, for S3): a statement on every resource matches everywhere alike and is not here."""

    pinned: frozenset[str]  # places its Resource patterns name literally
    patterns: tuple[Glob, ...]  # patterns of places (``place_pattern``)
    loose: tuple[Any, ...]  # statements that may match in any place: asked per resource
    templated: tuple[Any, ...]  # statements with policy variables in a Resource: per request
    keys: frozenset[str]  # context keys the statements for the action read


def statements(document: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """A document's statements as a list (``Statement`` may be one object)."""
    if not isinstance(document, Mapping):
        return []
    raw = document.get("Statement", [])
    items = [raw] if isinstance(raw, Mapping) else raw if isinstance(raw, list) else []
    return [item if isinstance(item, Mapping) else {} for item in items]


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


_S3 = "arn:aws:s3:::"


def resource_key(resource: str) -> str:
    """Where a resource lives, for indexing: its bucket for S3, else the ARN itself."""
    if resource.startswith(_S3):
        return "s3:" + resource[len(_S3):].split("/", 1)[0]
    return resource


def pattern_key(pattern: str) -> str | None:
    """The ``resource_key`` every match of a Resource pattern has, or None if it varies."""
    if pattern.startswith(_S3):
        bucket = pattern[len(_S3):].split("/", 1)[0]
        return None if any(c in bucket for c in "*?$") else f"s3:{bucket}"
    return None if any(c in pattern for c in "*?$") else pattern


_VARIABLE = re.compile(r"\$\{[^}]*\}")
_S3_PATTERN = re.compile(r"^arn:(?:aws[\w-]*|\*):s3:::")


def place_pattern(pattern: str) -> Glob | None:
    """A Resource pattern as a pattern of ``resource_key``s it can match (a policy variable
    read as ``*``); None when it may match anything."""
    text = _VARIABLE.sub("*", pattern)
    s3 = _S3_PATTERN.match(text)
    if s3 is not None:
        rest = text[s3.end():]
        # a wildcard in the bucket name may run on into the object key: only the text
        # before it pins the bucket
        cut = min((i for i in (rest.find("*"), rest.find("?"), rest.find("/")) if i >= 0),
                  default=len(rest))
        if cut < len(rest) and rest[cut] == "/":
            return glob_from_text("s3:" + rest[:cut])
        return glob_from_text("s3:" + rest[:cut] + ("*" if cut < len(rest) else "")) \
            if cut else None
    if text.startswith("arn:") and not text.startswith(("arn:*", "arn:aws:s3", "arn:aws-")):
        return glob_from_text(text)
    return None


_NO_VALUES = RequestValues({}, open_world=True)  # resources without policy variables read none


class Evaluations:
    """Asks the evaluator, and remembers answers by what actually decides them.

    The evaluator's answer depends only on the statements that match the request's action,
    resource and caller, on the context keys those statements read, and on who the caller
    is when a resource policy names it or a condition reads it. That *relevant* part of a
    request is the memo key, so principals holding the same managed policy share an answer,
    an answer on one object holds for every object the same statements cover, and roles
    with the same trust policy share their assumers' answers. Statements are matched with
    the evaluator's own parsed policies, so the key never misses what the evaluator reads.
    Documents are keyed by identity (the caller keeps them alive), resource policies by
    content; the proof names each request's own principal and resource policy.
    """

    def __init__(self) -> None:
        self._memo: dict[tuple[Any, ...], _MemoEntry] = {}
        self._content: dict[int, tuple[Any, str]] = {}
        self._lowered: dict[int, tuple[Mapping[str, ContextValue], dict[str, str]]] = {}
        self._by_action: dict[tuple[int, str, bool], _ByAction] = {}
        self._own: dict[tuple[int, int, int, str], tuple[Any, _Relevant]] = {}
        self._levels: dict[tuple[int, int, str], tuple[Any, Any, _Relevant]] = {}
        self._guarded: dict[tuple[Any, ...], Outcome | None] = {}
        self.asked = 0  # evaluator calls, for tests and benchmarks

    def ask(self, caller: Caller, principal: str, action: str, resource: str,
            resource_account: str | None, policies: PolicySet,
            extra: Mapping[str, ContextValue] | None = None) -> Outcome | None:
        """Evaluate one request; ``principal`` is the id that proof steps name.

        SCPs and RCPs are asked apart (``guardrails``): their levels are shared by every
        principal, or every resource, of an account, and ``evaluator.guardrails`` says how
        the two answers make the evaluator's."""
        guard: Outcome | None = ALLOWED
        if policies.scps is not None or policies.rcps is not None:
            guard = self.guardrails(caller, action, resource, resource_account, policies, extra)
            if guard is None:
                return None
            policies = without_guardrails(policies)
        found = self._ask(caller, principal, action, resource, resource_account, policies, extra)
        return found if found is None or guard is ALLOWED else found.then(guard)

    def _ask(self, caller: Caller, principal: str, action: str, resource: str,
             resource_account: str | None, policies: PolicySet,
             extra: Mapping[str, ContextValue] | None) -> Outcome | None:
        action_lower = action.lower()

        def values() -> RequestValues:
            return RequestValues.from_context({**caller.keys, **(extra or {})}, open_world=True)

        relevant = self._relevant(caller, policies, action_lower, resource, values)
        if relevant is None:  # a policy variable the context does not fill: ask as given
            context = {**caller.keys, **(extra or {})}
            result = self._evaluate(caller, action, resource, resource_account, policies,
                                    context)
            return to_outcome(result, principal, action)
        projected = self.project(caller.keys, extra, relevant.keys)
        # who asks matters only through its kind (root, user, role...), its account, how
        # resource policies name it and the context keys read (in the key), unless a
        # NotPrincipal lists it or a condition reads a key the evaluator derives from it
        who: Any = (caller.request_arn
                    if relevant.names_caller or relevant.keys & DERIVED_FROM_CALLER
                    else caller_of(caller.request_arn).kind)
        key = (who, caller.account, action_lower, resource_account,
               policies.resource_policy_kind, relevant.statements,
               tuple(sorted(projected.items())))
        named = policies.resource.id if policies.resource else None
        entry = self._memo.get(key)
        if entry is None:
            result = self._evaluate(caller, action, resource, resource_account, policies,
                                    projected)
            entry = self._memo[key] = (result, named)
        result, cached_name = entry
        if cached_name != named:
            result = _renamed(result, cached_name, named)
        return to_outcome(result, principal, action)

    def guardrails(self, caller: Caller, action: str, resource: str,
                   resource_account: str | None, policies: PolicySet,
                   extra: Mapping[str, ContextValue] | None = None) -> Outcome | None:
        """What the SCPs and RCPs of ``policies`` let through: ``ALLOWED`` (they never grant,
        so a proof cites none of their Allow statements), a maybe whose conditions are those
        that could still deny, or None. Remembered like ``ask``, by the statements of each
        level that take part and what they read."""
        keyed = self._guard_key(caller, action.lower(), resource, resource_account, policies,
                                extra)
        key = keyed[0] if keyed is not None else None
        if key is not None:
            found = self._guarded.get(key, _UNSET)
            if found is not _UNSET:
                return found  # type: ignore[no-any-return]
        # a remembered answer is asked with only the keys it depends on, as ``ask`` does
        context = self.project(caller.keys, extra, keyed[1]) if keyed is not None else \
            {**caller.keys, **(extra or {})}
        result = self._evaluate(caller, action, resource, resource_account, policies, context,
                                evaluator.guardrails)
        if result.decision == "allow":
            answer: Outcome | None = ALLOWED
        elif result.decision == "conditional":
            answer = Outcome("conditional", conditions=_unique(result.conditions))
        else:
            answer = None
        if key is not None:
            self._guarded[key] = answer
        return answer

    def guard_key(self, caller: Caller, action: str, resource: str,
                  resource_account: str | None, policies: PolicySet,
                  extra: Mapping[str, ContextValue] | None = None) -> tuple[Any, ...] | None:
        """What ``guardrails`` answers by: ``()`` when no SCP or RCP applies, None when the
        answer is the request's own."""
        if (policies.scps is None or not caller.account) and policies.rcps is None:
            return ()
        keyed = self._guard_key(caller, action.lower(), resource, resource_account, policies,
                                extra)
        return None if keyed is None else keyed[0]

    def _guard_key(self, caller: Caller, action_lower: str, resource: str,
                   resource_account: str | None, policies: PolicySet,
                   extra: Mapping[str, ContextValue] | None
                   ) -> tuple[tuple[Any, ...], frozenset[str]] | None:
        """``guardrails``'s memo key, and the context keys it reads."""
        def values() -> RequestValues:
            return RequestValues.from_context({**caller.keys, **(extra or {})}, open_world=True)

        # the evaluator applies SCPs only to a caller of an account
        scps = policies.scps if caller.account else None
        relevant = self._levels_relevant(scps, policies.rcps, action_lower, resource, values)
        if relevant is None:
            return None
        projected = self.project(caller.keys, extra, relevant.keys)
        # the evaluator derives a key from who asks only when the context does not give it
        who: Any = (caller.request_arn
                    if relevant.names_caller or (relevant.keys & DERIVED_FROM_CALLER)
                    - projected.keys() else caller_of(caller.request_arn).kind)
        # a boundary matters to a Deny with NotPrincipal only (it names the caller)
        bounded = relevant.names_caller and policies.boundary is not None
        return ((who, caller.account, caller.tag_keys is None, bounded, action_lower,
                 resource_account, relevant.statements, tuple(sorted(projected.items()))),
                relevant.keys)

    def _levels_relevant(self, scps: Levels | None, rcps: Levels | None, action_lower: str,
                         resource: str, values: RequestSource) -> _Relevant | None:
        """The statements of each SCP and RCP level that match the request, by level (a level
        where none does still denies), and what they read. Levels of statements that do not
        name a resource answer alike everywhere: remembered."""
        cache_key = (id(scps), id(rcps), action_lower)
        cached = self._levels.get(cache_key)
        if cached is not None and cached[0] is scps and cached[1] is rcps:
            return cached[2]
        ids: list[Any] = []
        keys: set[str] = set()
        names_caller = False
        constant = True
        for kind, levels in (("SCP", scps), ("RCP", rcps)):
            for depth, level in enumerate(levels or ()):
                chosen: list[Any] = []
                for policy in level:
                    found = self.matching(policy, action_lower, resource, values=values)
                    if found is None:
                        return None
                    constant = constant and self._sorted(policy, action_lower,
                                                         False).constant is not None
                    chosen.extend(found[0])
                    keys |= found[1]
                    names_caller = names_caller or _names_some(policy, found[0])
                ids.append((kind, depth, tuple(chosen)))
        answer = _Relevant(tuple(ids), frozenset(keys), names_caller)
        if constant:  # the levels are kept alive by the organization's ``Guardrails``
            self._levels[cache_key] = (scps, rcps, answer)
        return answer

    def own_statements(self, caller: Caller, policies: PolicySet, action: str, resource: str,
                       extra: Mapping[str, ContextValue] | None = None
                       ) -> tuple[tuple[Any, ...], frozenset[str]] | None:
        """The caller's identity, boundary and session statements that take part in the
        request, and the keys they read, as ``ask`` reads them; None when undecidable."""
        def values() -> RequestValues:
            return RequestValues.from_context({**caller.keys, **(extra or {})}, open_world=True)

        found = self._own_side(policies, action.lower(), resource, values)
        return None if found is None else (found.statements, found.keys)

    def resource_free(self, policies: PolicySet, action: str) -> bool:
        """True when no identity, boundary, SCP or RCP statement for ``action`` names a
        resource, so that the caller answers the same for every resource of an account."""
        action_lower = action.lower()
        for policy in (*policies.identity, policies.boundary, *guardrail_policies(policies)):
            if policy is None:
                continue
            try:
                found = policy_for(policy.document, source=policy.id).statements_for(action_lower)
            except InputError:
                return False
            for statement in found:
                matcher = statement.resources
                if matcher is not None and (statement.not_resource or not matcher.everything):
                    return False
        return True

    def _evaluate(self, caller: Caller, action: str, resource: str,
                  resource_account: str | None, policies: PolicySet,
                  context: Mapping[str, ContextValue],
                  judge: Callable[[Request, PolicySet], Result] = evaluator.evaluate) -> Result:
        request = Request(principal=caller.request_arn, principal_account=caller.account,
                          action=action, resource=resource, resource_account=resource_account,
                          context=context, open_world=True)
        self.asked += 1
        try:
            result = judge(request, policies)
            if result.decision == "conditional" and _only_absent_keys(caller, result.conditions):
                self.asked += 1
                result = judge(_closed(request), policies)
        except InputError as error:
            # a policy AWS would not have accepted: unknown, never a silent allow or deny
            return Result("conditional", conditions=(
                {"policy": error.source or "", "statement": error.location or "",
                 "effect": "Allow", "condition": {}, "undecided": [error.message]},))
        return result

    def _relevant(self, caller: Caller, policies: PolicySet, action_lower: str,
                  resource: str, values: RequestSource | None = None) -> _Relevant | None:
        own = self._own_side(policies, action_lower, resource, values)
        if own is None or policies.resource is None:
            return own
        ids: list[Any] = list(own.statements)
        keys: set[str] = set(own.keys)
        names_caller = False
        who = caller_of(caller.request_arn)
        if policies.resource is not None:
            found = self.matching(policy := policies.resource, action_lower, resource,
                                  by_content=True, values=values)
            if found is None:
                return None
            keys |= found[1]  # the policy variables of its Resource elements
            parsed = policy_for(policy.document, source=policy.id)
            for index in found[0]:
                statement = parsed.statements[index[1]]
                if statement.principals is None:
                    continue  # names nobody: grants or denies nobody
                if statement.not_principal:
                    names_caller = True  # who is exempt depends on exactly who asks
                    mode = None
                else:
                    mode = statement.principals.mode(who)
                    if mode is None:
                        continue
                ids.append(("R", index, mode))
                keys |= self.statement_keys(statement)
        return _Relevant(tuple(ids), frozenset(keys), names_caller)

    def _own_side(self, policies: PolicySet, action_lower: str, resource: str,
                  values: RequestSource | None = None) -> _Relevant | None:
        """The caller's identity, boundary and session statements for the request. When none
        of them names a resource, that is the same for every resource: remembered."""
        cache_key = (id(policies.identity), id(policies.boundary), id(policies.session),
                     action_lower)
        cached = self._own.get(cache_key)
        if cached is not None and cached[0] is policies.identity:
            return cached[1]
        ids: list[Any] = []
        keys: set[str] = set()
        constant = True
        layers = [("I", p) for p in policies.identity]
        layers += [(name, p) for name, p in (("B", policies.boundary), ("S", policies.session))
                   if p is not None]
        for layer, policy in layers:
            found = self.matching(policy, action_lower, resource, values=values)
            if found is None:
                return None
            constant = constant and self._sorted(policy, action_lower,
                                                 False).constant is not None
            if layer == "I":
                ids.extend(("I", index) for index in found[0])
            else:  # present with no matching statement still denies: the layer is in the key
                ids.append((layer, found[0]))
            keys |= found[1]
        answer = _Relevant(tuple(ids), frozenset(keys), False)
        if constant:
            # the boundary and session objects are kept alive by the principal, like identity
            self._own[cache_key] = (policies.identity, answer)
        return answer

    def matching(self, policy: NamedPolicy, action_lower: str, resource: str,
                 by_content: bool = False, values: RequestSource | None = None
                 ) -> tuple[tuple[Any, ...], frozenset[str]] | None:
        """The statements of one policy that match the action and resource (or may: a policy
        variable in a Resource that the request context, ``values``, built on demand, does not
        fill), and the keys they read: for identity policies their conditions', for every
        policy the variables of its Resource elements. None for a policy the evaluator
        rejects, or with policy variables in a Resource and no ``values``."""
        found = self._sorted(policy, action_lower, by_content)
        if found.undecidable:
            return None
        if found.constant is not None:
            return found.constant
        chosen = list(found.anywhere)
        chosen.extend(s for s in found.pinned.get(resource_key(resource), ())
                      if s.matches_resource(resource, _NO_VALUES))
        chosen.extend(s for s in found.wild if s.matches_resource(resource, _NO_VALUES))
        keys: set[str] = set()
        if found.templated:
            if values is None:
                return None
            request = values()
            # a statement whose match this context cannot decide may apply: it is in the key;
            # the variables of them all are read, to decide them again the same way
            chosen.extend(s for s in found.templated
                          if s.matches_resource(resource, request) is not False)
            for statement in found.templated:
                keys |= found.keys[statement.index]
        if not chosen and not keys:
            return _NOTHING
        if not by_content:
            for statement in chosen:
                keys |= found.keys[statement.index]
        return (tuple((found.name, s.index) for s in chosen), frozenset(keys))

    def placement(self, policy: NamedPolicy, action_lower: str) -> Placement | None:
        """Where the statements of one policy for the action can match (``Placement``); None
        for a policy the evaluator rejects."""
        found = self._sorted(policy, action_lower, False)
        if found.undecidable:
            return None
        if found.placement is None:
            raw = statements(policy.document)
            patterns: list[Glob] = []
            loose: list[Any] = []
            for statement in found.wild:
                places = [None] if statement.not_resource else [
                    place_pattern(str(p)) for p in as_list(raw[statement.index].get("Resource"))]
                if None in places:
                    loose.append(statement)
                else:
                    patterns.extend(p for p in places if p is not None)
            found.placement = Placement(frozenset(found.pinned), tuple(patterns), tuple(loose),
                                        tuple(found.templated),
                                        frozenset().union(*found.keys.values()))
        return found.placement

    def _sorted(self, policy: NamedPolicy, action_lower: str, by_content: bool) -> _ByAction:
        # a document read by content names its statements, and reads its keys, otherwise
        cache_key = (id(policy.document), action_lower, by_content)
        found = self._by_action.get(cache_key)
        if found is None or found.document is not policy.document:
            found = self._by_action[cache_key] = self._sort_statements(policy, action_lower,
                                                                       by_content)
        return found

    def _sort_statements(self, policy: NamedPolicy, action_lower: str,
                         by_content: bool) -> _ByAction:
        """One document's statements for one action, by the resources they can match."""
        try:
            parsed = policy_for(policy.document, source=policy.id)
        except InputError:
            return _ByAction(policy.document, None, undecidable=True)  # the evaluator says why
        raw = statements(policy.document)
        name = self.signature(policy.document) if by_content else id(policy.document)
        sorted_ = _ByAction(policy.document, name)
        pinned: dict[str, list[Any]] = {}
        for statement in parsed.statements_for(action_lower):
            sorted_.keys[statement.index] = frozenset(self.statement_keys(statement))
            matcher = statement.resources
            if matcher is None or (matcher.everything and not statement.not_resource):
                sorted_.anywhere.append(statement)
                continue
            if matcher.templated:
                sorted_.templated.append(statement)
                continue
            patterns = as_list(raw[statement.index].get("Resource"))
            places = {pattern_key(str(p)) for p in patterns}
            if statement.not_resource or None in places:
                sorted_.wild.append(statement)
            else:
                for place in places:
                    pinned.setdefault(str(place), []).append(statement)
        sorted_.pinned = {place: tuple(found) for place, found in pinned.items()}
        if not sorted_.pinned and not sorted_.wild and not sorted_.templated:
            chosen = sorted_.anywhere
            keys = frozenset().union(*(sorted_.keys[s.index] for s in chosen)) \
                if not by_content else frozenset()
            sorted_.constant = (tuple((name, s.index) for s in chosen), keys)
        return sorted_

    @staticmethod
    def statement_keys(statement: Any) -> set[str]:
        """The context keys a parsed statement reads: its conditions' keys and the policy
        variables in its condition values and Resource elements."""
        keys: set[str] = set()
        templates = [t for clause in statement.conditions for t in clause.values]
        for clause in statement.conditions:
            keys.add(clause.key_lower)
        if statement.resources is not None:
            templates.extend(statement.resources.templated)
        for template in templates:
            keys.update(p.key for p in template.parts if isinstance(p, Variable))
        return keys

    def project(self, known: Mapping[str, ContextValue],
                 extra: Mapping[str, ContextValue] | None,
                 wanted: frozenset[str]) -> dict[str, ContextValue | tuple[str, ...]]:
        """The context restricted to ``wanted`` (lower-cased) keys, hashable."""
        if not wanted:
            return {}
        projected: dict[str, Any] = {}
        entry = self._lowered.get(id(known))
        if entry is None or entry[0] is not known:  # a caller's keys: asked about again
            entry = self._lowered[id(known)] = (known, {k.lower(): k for k in known})
        sources = [(entry[1], known), ({k.lower(): k for k in extra or {}}, extra or {})]
        for names, source in sources:
            for key in wanted & names.keys():
                value = source[names[key]]
                projected[key] = value if isinstance(value, str) else tuple(value)
        return projected

    def signature(self, document: Any) -> str:
        """A document's content, for telling equal policies apart from the same one."""
        entry = self._content.get(id(document))
        if entry is None or entry[0] is not document:
            entry = (document, json.dumps(document, sort_keys=True, default=str))
            self._content[id(document)] = entry
        return entry[1]


def without_guardrails(policies: PolicySet) -> PolicySet:
    return PolicySet(identity=policies.identity, resource=policies.resource,
                     resource_policy_kind=policies.resource_policy_kind,
                     boundary=policies.boundary, session=policies.session)


def guardrail_policies(policies: PolicySet) -> tuple[NamedPolicy, ...]:
    """Every SCP and RCP of every level of ``policies``."""
    return tuple(p for levels in (policies.scps, policies.rcps) for level in levels or ()
                 for p in level)


def _names_some(policy: NamedPolicy, chosen: tuple[Any, ...]) -> bool:
    """Whether a chosen statement of an SCP or RCP applies to some callers only (a Principal
    other than ``*``, a NotPrincipal): the answer is then each caller's own."""
    if not chosen:
        return False
    parsed = policy_for(policy.document, source=policy.id)
    for _name, index in chosen:
        statement = parsed.statements[index]
        if statement.principals is not None and (statement.not_principal
                                                 or not statement.principals.everyone):
            return True
    return False


def _renamed(result: Result, old: str | None, new: str | None) -> Result:
    """A shared answer with the resource policy's id changed to this request's."""
    def ref(r: StatementRef) -> StatementRef:
        return StatementRef(new, r.statement, r.effect) if r.policy == old and new else r

    return Result(result.decision, tuple(map(ref, result.allowed_by)),
                  tuple(map(ref, result.denied_by)),
                  tuple({**c, "policy": new} if c.get("policy") == old else c
                        for c in result.conditions))


ROOT_USER_STATEMENT = "the root user of its own account"


def to_outcome(result: Result, principal: str, action: str) -> Outcome | None:
    if result.decision not in ("allow", "conditional"):
        return None
    steps = tuple([PathStep(principal, action, ref.policy, ref.statement)
                   for ref in result.allowed_by])
    if not steps and principal.endswith(":root"):
        # 'Policy evaluation logic': the root user needs no policy in its own account
        steps = (PathStep(principal, action, principal, ROOT_USER_STATEMENT),)
    conditions = _unique(result.conditions) if result.decision == "conditional" else ()
    return Outcome(result.decision, steps, conditions)


def undecided_keys(conditions: Iterable[Mapping[str, Any]]) -> set[str] | None:
    """The context keys an evaluator's undecided conditions wait for, lower-cased; None when
    something else is undecided (a Resource with a policy variable)."""
    keys: set[str] = set()
    for condition in conditions:
        for item in condition.get("undecided", ()):
            _operator, _, key = str(item).partition(" ")
            if not key:
                return None
            keys.add(key.lower())
    return keys


def _only_absent_keys(caller: Caller, conditions: tuple[dict[str, Any], ...]) -> bool:
    keys = undecided_keys(conditions)
    return bool(keys) and all(caller.is_absent(key) for key in keys)


def _closed(request: Request) -> Request:
    return Request(principal=request.principal, principal_account=request.principal_account,
                   action=request.action, resource=request.resource,
                   resource_account=request.resource_account, context=request.context,
                   open_world=False)


def _unique(blocks: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
    seen: list[dict[str, Any]] = []
    for block in blocks:
        if block not in seen:
            seen.append(block)
    return tuple(seen)
