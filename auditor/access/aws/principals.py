"""The principal graph: who can send requests, with which policies, and who can become whom.

Principals (ids as in ARCHITECTURE.md):

* every IAM user: its inline and attached policies plus those of its groups, and its
  permissions boundary (groups are not principals: what a group grants is its members');
* every IAM role, as its sessions: role policies and boundary;
* the root user of every audited account (``arn:aws:iam::ACCOUNT:root``);
* every other account, and every principal of another account, named in a bucket, key or
  trust policy (kind ``external-account``): "some principal in that account with whatever
  that account's admins give it", so its identity side is assumed to allow;
* AWS service principals named in those policies (kind ``service``);
* identity providers named in trust policies (``Federated``; kind ``external-account``);
* ``*``, the anonymous public, and ``arn:aws:iam::*:root``, any authenticated principal of any
  account (both kind ``public``).

``human``: a user is human unless its tags say otherwise: tag ``human`` false/no/0, or tag
``type``/``kind``/``principal-type``/``user-type``/``identity-type`` naming a machine
(``service``, ``machine``, ``bot``, ``automation``, ``ci``, ``system``...), or a true-valued
tag ``service-account``/``automation``/``bot``/``machine``. An account's root user is human.
Roles are not human. External, public, service and federated principals: unknown (None).

A role session's ``aws:PrincipalTag/*`` are the role's tags (tags passed when assuming it are
not known to an audit); its ``aws:userid`` is ``ROLEID:<session name>`` with a placeholder name.

Role assumption is an edge ``A -> role``: the role's trust policy must allow ``A`` on its own;
a same-account user or role named directly needs no identity allow (its boundary still
applies), anyone else also needs its identity side to allow ``sts:AssumeRole``. Service
principals get edges too, but ``reach`` does not follow them: the role *is* the workload a
service runs, and is reported itself.
"""

from __future__ import annotations

import heapq
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from auditor.access.aws.context import (
    SESSION_NAME,
    SIGNED_REQUEST_SHAPE,
    UNSIGNED_REQUEST_SHAPE,
    Caller,
    ContextValue,
    Evaluations,
    Outcome,
    as_list,
    pattern_key,
    resource_key,
    statements,
)
from auditor.access.aws.evaluator import NamedPolicy, PolicySet, ResourcePolicyKind
from auditor.access.aws.variables import Glob, glob_from_text
from auditor.inventory import Inventory, Resource

PUBLIC = "*"
ANY_AWS = "arn:aws:iam::*:root"
ASSUMED_IDENTITY_DOCUMENT: Mapping[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "AssumedByTheAudit", "Effect": "Allow", "Action": "*",
                   "Resource": "*"}],
}
ASSUME_ACTIONS = ("sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML")

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_IAM_ARN = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):(root|user/.+|role/.+)$")
_FALSE = frozenset({"false", "no", "0", "n", "off"})
_TRUE = frozenset({"true", "yes", "1", "y", "on"})
_MACHINE = frozenset({"service", "service-account", "serviceaccount", "machine", "bot",
                      "automation", "ci", "cicd", "system", "workload", "application", "app",
                      "pipeline"})
_KIND_TAGS = ("type", "kind", "principal-type", "user-type", "identity-type", "account-type")
_FLAG_TAGS = ("service-account", "serviceaccount", "automation", "bot", "machine")


def is_human(tags: Mapping[str, str]) -> bool:
    """The documented rule (module docstring) for IAM users."""
    lowered = {key.strip().lower(): str(value).strip().lower() for key, value in tags.items()}
    if "human" in lowered:
        return lowered["human"] not in _FALSE
    if any(lowered.get(key) in _MACHINE for key in _KIND_TAGS):
        return False
    return not any(lowered.get(key) in _TRUE for key in _FLAG_TAGS)


# --- policy documents -----------------------------------------------------------------------

def principal_entries(element: Any) -> list[tuple[str, str]]:
    """``(type, value)`` pairs of a Principal/NotPrincipal element; ``"*"`` is ``("AWS", "*")``."""
    if element == "*":
        return [("AWS", "*")]
    if not isinstance(element, Mapping):
        return []
    return [(str(kind), str(value)) for kind, values in element.items()
            for value in as_list(values)]


def aws_principal_id(value: str) -> str:
    """A bare account id means that account's root."""
    return f"arn:aws:iam::{value}:root" if _ACCOUNT_ID.match(value) else value


# --- principals -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, eq=False)
class Principal:
    arn: str
    kind: str
    account: str | None
    human: bool | None
    caller: Caller
    identity: tuple[NamedPolicy, ...] = ()
    boundary: NamedPolicy | None = None
    trust: NamedPolicy | None = None
    audited: bool = False  # a principal of a scanned account: its policies are known
    unknown: tuple[str, ...] = ()

    def policies(self, resource: NamedPolicy | None = None,
                 kind: ResourcePolicyKind = "generic") -> PolicySet:
        return PolicySet(identity=self.identity, resource=resource,
                         resource_policy_kind=kind, boundary=self.boundary)

    def ask(self, evaluations: Evaluations, action: str, resource: str,
            resource_account: str | None, policies: PolicySet,
            extra: Mapping[str, ContextValue] | None = None) -> Outcome | None:
        return evaluations.ask(self.caller, self.arn, action, resource, resource_account,
                               policies, extra)


@dataclass(slots=True)
class PrincipalGraph:
    principals: dict[str, Principal] = field(default_factory=dict)
    org_ids: dict[str, str | None] = field(default_factory=dict)  # audited account -> org
    by_account: dict[str, list[Principal]] = field(default_factory=lambda: defaultdict(list))

    def add(self, principal: Principal) -> None:
        if principal.arn in self.principals:
            return
        self.principals[principal.arn] = principal
        if principal.account:
            self.by_account[principal.account].append(principal)

    def get(self, arn: str) -> Principal | None:
        return self.principals.get(arn)

    def __iter__(self) -> Iterator[Principal]:
        return iter(self.principals.values())

    def named(self, entry_type: str, value: str) -> list[Principal]:
        """The principals a Principal-element entry names itself (``*``: all but services;
        an account's entry is resolved by ``candidates``, which knows who it delegates to)."""
        if entry_type == "AWS" and value == "*":
            # a service is let in by a Service entry, not by "*" (it acts for an account)
            return [p for p in self if p.kind != "service"]
        principal = self.get(aws_principal_id(value) if entry_type == "AWS" else value)
        return [principal] if principal else []


def build_graph(inventory: Inventory,
                named: Iterable[tuple[str, str]] = ()) -> PrincipalGraph:
    """Every principal of the inventory; ``named`` adds Principal-element entries that other
    grants name (``("Service", "logging.s3.amazonaws.com")`` for an S3 ACL, say)."""
    graph = PrincipalGraph()
    audited = _audited_accounts(inventory)
    graph.org_ids = {account: _organization(inventory, account) for account in audited}
    managed = {r.id: r for r in inventory.of_type("aws.iam.policy")}
    groups = {(r.account, r.name): r for r in inventory.of_type("aws.iam.group")}
    for account in sorted(audited):
        graph.add(_root(account, graph.org_ids.get(account)))
    for user in inventory.of_type("aws.iam.user"):
        graph.add(_user(user, managed, groups, graph.org_ids.get(user.account)))
    for role in inventory.of_type("aws.iam.role"):
        graph.add(_role(role, managed, graph.org_ids.get(role.account)))
    for entry_type, value in sorted(_named_in_resource_policies(inventory) | set(named)):
        principal = _named_principal(entry_type, value, audited)
        if principal is not None:
            graph.add(principal)
    graph.add(_public())
    graph.add(_any_aws())
    return graph


def _audited_accounts(inventory: Inventory) -> set[str]:
    accounts = {s.account for s in inventory.scopes if s.provider == "aws"}
    accounts.update(r.account for r in inventory.resources
                    if r.provider == "aws" and _ACCOUNT_ID.match(r.account or ""))
    return {a for a in accounts if _ACCOUNT_ID.match(a or "")}


def _organization(inventory: Inventory, account: str) -> str | None:
    record = inventory.get(f"arn:aws:iam::{account}:root")
    value = record.attributes.get("organization_id") if record else None
    return value if isinstance(value, str) and value else None


def _principal_keys(arn: str, account: str, principal_type: str, org_id: str | None,
                    tags: Mapping[str, str]) -> dict[str, ContextValue]:
    keys: dict[str, ContextValue] = dict(SIGNED_REQUEST_SHAPE)
    keys.update({"aws:PrincipalArn": arn, "aws:PrincipalAccount": account,
                 "aws:PrincipalType": principal_type, "aws:PrincipalIsAWSService": "false"})
    if org_id:
        keys["aws:PrincipalOrgID"] = org_id
    for key, value in tags.items():
        keys[f"aws:PrincipalTag/{key}"] = value
    return keys


def _tag_keys(tags: Mapping[str, str]) -> frozenset[str]:
    return frozenset(f"aws:principaltag/{key.lower()}" for key in tags)


def _root(account: str, org_id: str | None) -> Principal:
    arn = f"arn:aws:iam::{account}:root"
    keys = _principal_keys(arn, account, "Account", org_id, {})
    keys["aws:userid"] = account
    return Principal(arn=arn, kind="user", account=account, human=True, audited=True,
                     caller=Caller(request_arn=arn, account=account, keys=keys))


def _user(resource: Resource, managed: Mapping[str, Resource],
          groups: Mapping[tuple[str, str], Resource], org_id: str | None) -> Principal:
    attrs = resource.attributes
    unknown = [f"{resource.id}: {name} not collected" for name in resource.unknown
               if name in ("inline_policies", "attached_policies", "groups",
                           "permissions_boundary")]
    identity = list(_own_policies(resource, managed, unknown))
    for group_name in as_list(attrs.get("groups")):
        group = groups.get((resource.account, str(group_name)))
        if group is None:
            unknown.append(f"{resource.id}: group {group_name} not collected")
            continue
        unknown.extend(f"{group.id}: {name} not collected" for name in group.unknown
                       if name in ("inline_policies", "attached_policies"))
        identity.extend(_own_policies(group, managed, unknown))
    keys = _principal_keys(resource.id, resource.account, "User", org_id, resource.tags)
    keys["aws:username"] = resource.name
    if attrs.get("user_id"):
        keys["aws:userid"] = str(attrs["user_id"])
    return Principal(
        arn=resource.id, kind="user", account=resource.account, human=is_human(resource.tags),
        identity=tuple(identity), boundary=_boundary(resource, managed, unknown),
        audited=True, unknown=tuple(unknown),
        caller=Caller(request_arn=resource.id, account=resource.account, keys=keys,
                      tag_keys=_tag_keys(resource.tags)))


def _role(resource: Resource, managed: Mapping[str, Resource], org_id: str | None) -> Principal:
    attrs = resource.attributes
    unknown = [f"{resource.id}: {name} not collected" for name in resource.unknown
               if name in ("inline_policies", "attached_policies", "permissions_boundary",
                           "trust_policy")]
    identity = tuple(_own_policies(resource, managed, unknown))
    keys = _principal_keys(resource.id, resource.account, "AssumedRole", org_id, resource.tags)
    if attrs.get("role_id"):
        keys["aws:userid"] = f"{attrs['role_id']}:{SESSION_NAME}"
    trust = attrs.get("trust_policy")
    return Principal(
        arn=resource.id, kind="role", account=resource.account, human=False,
        identity=identity, boundary=_boundary(resource, managed, unknown),
        trust=NamedPolicy(f"{resource.id}#trust-policy", trust) if trust else None,
        audited=True, unknown=tuple(unknown),
        caller=Caller(request_arn=session_arn(resource.account, resource.name),
                      account=resource.account, keys=keys, tag_keys=_tag_keys(resource.tags)))


def session_arn(account: str, role_name: str) -> str:
    return f"arn:aws:sts::{account}:assumed-role/{role_name}/{SESSION_NAME}"


def _own_policies(resource: Resource, managed: Mapping[str, Resource],
                  unknown: list[str]) -> Iterator[NamedPolicy]:
    inline = resource.attributes.get("inline_policies") or {}
    if isinstance(inline, Mapping):
        for name in sorted(inline):
            yield NamedPolicy(f"{resource.id}#inline:{name}", inline[name])
    for arn in as_list(resource.attributes.get("attached_policies")):
        policy = managed.get(str(arn))
        document = policy.attributes.get("document") if policy else None
        if document is None:
            unknown.append(f"{resource.id}: attached policy {arn} not collected")
            continue
        yield NamedPolicy(str(arn), document)


def _boundary(resource: Resource, managed: Mapping[str, Resource],
              unknown: list[str]) -> NamedPolicy | None:
    arn = resource.attributes.get("permissions_boundary")
    if not arn:
        return None
    policy = managed.get(str(arn))
    document = policy.attributes.get("document") if policy else None
    if document is None:
        # without the boundary the answer can only be too generous, never too strict
        unknown.append(f"{resource.id}: permissions boundary {arn} not collected")
        return None
    return NamedPolicy(str(arn), document)


def _named_in_resource_policies(inventory: Inventory) -> set[tuple[str, str]]:
    """Principal entries of bucket, key and trust policies (Allow and Deny alike)."""
    documents: list[Any] = []
    documents.extend(r.attributes.get("policy") for r in inventory.of_type("aws.s3.bucket"))
    documents.extend(r.attributes.get("policy") for r in inventory.of_type("aws.kms.key"))
    documents.extend(r.attributes.get("trust_policy") for r in inventory.of_type("aws.iam.role"))
    named: set[tuple[str, str]] = set()
    for document in documents:
        for statement in statements(document):
            for key in ("Principal", "NotPrincipal"):
                named.update(principal_entries(statement.get(key)))
    for key in inventory.of_type("aws.kms.key"):
        for grant in as_list(key.attributes.get("grants")):
            if isinstance(grant, Mapping) and grant.get("grantee_principal"):
                named.add(_grantee_entry(str(grant["grantee_principal"])))
    return named


def _grantee_entry(grantee: str) -> tuple[str, str]:
    return ("Service", grantee) if grantee.endswith(".amazonaws.com") else ("AWS", grantee)


def _named_principal(entry_type: str, value: str, audited: set[str]) -> Principal | None:
    if entry_type == "Service":
        return service_principal(value)
    if entry_type == "Federated":
        return Principal(arn=value, kind="external-account", account=None, human=None,
                         caller=Caller(request_arn=value, account=None,
                                       keys={"aws:FederatedProvider": value}, tag_keys=None))
    if entry_type != "AWS" or value == "*":
        return None  # CanonicalUser ids cannot be tied to an account from an inventory
    arn = aws_principal_id(value)
    match = _IAM_ARN.match(arn)
    if not match or match.group(1) in audited:
        return None  # audited principals come from IAM; unknown ones do not exist
    return external_principal(arn, match.group(1), match.group(2))


def external_principal(arn: str, account: str, resource: str) -> Principal:
    keys: dict[str, ContextValue] = dict(SIGNED_REQUEST_SHAPE)
    keys.update({"aws:PrincipalAccount": account, "aws:PrincipalIsAWSService": "false"})
    request_arn = arn
    if resource != "root":  # a named principal of that account: its ARN is known
        keys["aws:PrincipalArn"] = arn
        is_role = resource.startswith("role/")
        keys["aws:PrincipalType"] = "AssumedRole" if is_role else "User"
        if is_role:
            request_arn = session_arn(account, resource.rsplit("/", 1)[-1])
    identity = (NamedPolicy(f"{arn}#identity-assumed", ASSUMED_IDENTITY_DOCUMENT),)
    return Principal(arn=arn, kind="external-account", account=account, human=None,
                     identity=identity,
                     caller=Caller(request_arn=request_arn, account=account, keys=keys,
                                   tag_keys=None))


def service_principal(name: str) -> Principal:
    keys: dict[str, ContextValue] = dict(SIGNED_REQUEST_SHAPE)
    keys.update({"aws:PrincipalIsAWSService": "true", "aws:PrincipalServiceName": name})
    return Principal(arn=name, kind="service", account=None, human=None,
                     caller=Caller(request_arn=name, account=None, keys=keys, service=True,
                                   tag_keys=None))


def _public() -> Principal:
    keys: dict[str, ContextValue] = dict(UNSIGNED_REQUEST_SHAPE)
    keys.update({"aws:PrincipalType": "Anonymous", "aws:userid": "anonymous",
                 "aws:PrincipalIsAWSService": "false"})
    return Principal(arn=PUBLIC, kind="public", account=None, human=None,
                     caller=Caller(request_arn=PUBLIC, account=None, keys=keys, anonymous=True))


def _any_aws() -> Principal:
    keys: dict[str, ContextValue] = dict(SIGNED_REQUEST_SHAPE)
    keys["aws:PrincipalIsAWSService"] = "false"
    # no account: only a resource-side grant to everyone can let "any account" in
    return Principal(arn=ANY_AWS, kind="public", account=None, human=None,
                     caller=Caller(request_arn=ANY_AWS, account=None, keys=keys,
                                   tag_keys=None))


# --- a fast, conservative filter in front of the evaluator ----------------------------------

@lru_cache(maxsize=65536)
def _pattern(text: str) -> Glob:
    # a policy variable may expand to anything: here it is a wildcard
    return glob_from_text(_VARIABLE.sub("*", text))


_VARIABLE = re.compile(r"\$\{[^}]*\}")


@dataclass(frozen=True, slots=True, eq=False)
class _AllowStatement:
    actions: tuple[Glob, ...]  # lower-cased patterns
    not_action: bool
    resources: tuple[Glob, ...]
    any_resource: bool  # "*" or NotResource: matches every resource

    def matches_action(self, action_lower: str) -> bool:
        return any(p.matches(action_lower) for p in self.actions) != self.not_action

    def matches_resource(self, resource: str) -> bool:
        return self.any_resource or any(p.matches(resource) for p in self.resources)


def _service_key(pattern: str) -> str | None:
    """The service an action pattern is limited to, or None if it could be any."""
    service = pattern.split(":", 1)[0].lower() if ":" in pattern else "*"
    return None if any(c in service for c in "*?") else service


_Entry = tuple[_AllowStatement, frozenset[str]]
_ANYWHERE = "*"  # index key of statements whose Resource is "*" (or NotResource)


class GrantIndex:
    """Whose identity policies could allow an action on a resource.

    Conservative by construction (boundaries, denies and conditions are ignored; NotAction and
    NotResource match everything), so a principal it leaves out has no identity grant and can
    be skipped without asking the evaluator. Statements are indexed by the service their
    actions name and the literal resource they pin (a bucket name, a role ARN), so a lookup
    only touches statements that can matter.
    """

    def __init__(self, principals: Iterable[Principal]):
        holders: dict[str, set[str]] = defaultdict(set)
        documents: dict[str, Any] = {}
        for principal in principals:
            for policy in principal.identity:
                holders[policy.id].add(principal.arn)
                documents[policy.id] = policy.document
        self._entries: dict[tuple[str | None, str | None], list[_Entry]] = defaultdict(list)
        self._anywhere: dict[tuple[str, ...], frozenset[str]] = {}
        for policy_id, document in documents.items():
            who = frozenset(holders[policy_id])
            for statement in statements(document):
                self._add(statement, who)

    def _add(self, statement: Mapping[str, Any], who: frozenset[str]) -> None:
        if statement.get("Effect") != "Allow":
            return
        not_action = "NotAction" in statement
        not_resource = "NotResource" in statement
        actions = [str(a) for a in as_list(statement.get("NotAction" if not_action else "Action"))]
        resources = ([] if not_resource else [str(r) for r in as_list(statement.get("Resource"))])
        anywhere = not_resource or "*" in resources
        compiled = _AllowStatement(
            actions=tuple(_pattern(a.lower()) for a in actions), not_action=not_action,
            resources=tuple(_pattern(r) for r in resources), any_resource=anywhere)
        services = {None} if not_action else {_service_key(a) for a in actions}
        keys = {_ANYWHERE} if anywhere else {pattern_key(r) for r in resources}
        for service in services:
            for key in keys:
                self._entries[(service, key)].append((compiled, who))

    def anywhere(self, actions: Sequence[str]) -> frozenset[str]:
        """Principals whose identity may allow one of ``actions`` on every resource."""
        key = tuple(actions)
        found = self._anywhere.get(key)
        if found is None:
            found = self._anywhere[key] = frozenset(self._scan(actions, None, (_ANYWHERE,)))
        return found

    def holders(self, actions: Sequence[str], resources: Sequence[str]) -> set[str]:
        """Principals whose identity may allow one of ``actions`` on one of ``resources``."""
        keys = {resource_key(r) for r in resources} | {None}
        return self._scan(actions, resources, keys) | self.anywhere(actions)

    def _scan(self, actions: Sequence[str], resources: Sequence[str] | None,
              keys: Iterable[str | None]) -> set[str]:
        found: set[str] = set()
        lowered = [a.lower() for a in actions]
        services = {a.split(":", 1)[0] for a in lowered} | {None}
        for service in services:
            for key in keys:
                for compiled, who in self._entries.get((service, key), ()):
                    if who <= found:
                        continue
                    if (any(compiled.matches_action(a) for a in lowered)
                            and (resources is None
                                 or any(compiled.matches_resource(r) for r in resources))):
                        found |= who
        return found


def candidates(graph: PrincipalGraph, document: Mapping[str, Any] | None,
               delegates: set[str]) -> dict[str, Principal]:
    """Who a resource policy's Allow statements could let in, for the evaluator to decide.

    A principal named directly, or covered by ``*``, needs no identity grant; a principal
    covered only by its account's entry does (it must be in ``delegates``) unless its
    identity is assumed (another account's principals).
    """
    chosen: dict[str, Principal] = {}
    for statement in statements(document):
        if statement.get("Effect") != "Allow":
            continue
        entries = principal_entries(statement.get("Principal"))
        if "NotPrincipal" in statement:
            entries = [("AWS", "*")]
        for entry_type, value in entries:
            if entry_type == "AWS" and value != "*" and _is_account(value):
                chosen.update((p.arn, p) for p in _account_entry(graph, value, delegates))
            else:
                chosen.update((p.arn, p) for p in graph.named(entry_type, value))
    return chosen


def _account_entry(graph: PrincipalGraph, value: str, delegates: set[str]) -> list[Principal]:
    root = aws_principal_id(value)
    account = root.split(":")[4]
    found = [p for p in graph.by_account.get(account, ()) if not p.audited]
    found += [p for arn in (root, *delegates)
              if (p := graph.get(arn)) is not None and p.account == account]
    return found


# --- role assumption ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AssumeEdge:
    source: str
    outcome: Outcome


@dataclass(frozen=True, slots=True, eq=False)
class EdgeGroup:
    """Assume edges into a role. A shared group serves every role of one account with the
    same trust policy; its proofs name ``trust_policy``, renamed for each role."""

    edges: tuple[AssumeEdge, ...]
    shared: bool = False
    trust_policy: str | None = None


def assume_action(principal: Principal) -> str:
    if ":oidc-provider/" in principal.arn or principal.arn.startswith("cognito-identity"):
        return "sts:AssumeRoleWithWebIdentity"
    if ":saml-provider/" in principal.arn:
        return "sts:AssumeRoleWithSAML"
    return "sts:AssumeRole"


class Assumptions:
    """Who may assume each audited role, worked out the first time someone asks.

    Assumers whose own policies allow assuming any role (``sts:AssumeRole`` on ``*``) answer
    the same for every role with the same trust policy, so those edges are computed once per
    trust policy and shared; the rest are asked about per role.
    """

    def __init__(self, graph: PrincipalGraph, index: GrantIndex, evaluations: Evaluations):
        self.graph = graph
        self.index = index
        self.evaluations = evaluations
        self._into: dict[str, tuple[EdgeGroup, ...]] = {}
        self._shared: dict[tuple[str | None, str], tuple[EdgeGroup, frozenset[str]]] = {}

    def into(self, role_arn: str) -> tuple[EdgeGroup, ...]:
        groups = self._into.get(role_arn)
        if groups is None:
            groups = self._into[role_arn] = self._find(role_arn)
        return groups

    def trust_of(self, role_arn: str) -> str | None:
        role = self.graph.get(role_arn)
        return role.trust.id if role is not None and role.trust is not None else None

    def _find(self, role_arn: str) -> tuple[EdgeGroup, ...]:
        role = self.graph.get(role_arn)
        if role is None or role.kind != "role" or not role.audited or role.trust is None:
            return ()
        shared, decided = self._shared_group(role)
        delegates = self.index.holders(ASSUME_ACTIONS, [role.arn])
        own = [edge for candidate in self._candidates(role, delegates)
               if candidate.arn not in decided and (edge := self._edge(candidate, role))]
        return (shared, EdgeGroup(tuple(own))) if own else (shared,)

    def _shared_group(self, role: Principal) -> tuple[EdgeGroup, frozenset[str]]:
        assert role.trust is not None
        key = (role.account, self.evaluations.signature(role.trust.document))
        found = self._shared.get(key)
        if found is None:
            edges: list[AssumeEdge] = []
            decided: set[str] = set()
            for candidate in self._candidates(role, self.index.anywhere(ASSUME_ACTIONS)):
                action = assume_action(candidate)
                if not self.evaluations.resource_free(candidate.policies(), action):
                    continue  # what it may assume depends on the role: asked per role
                decided.add(candidate.arn)
                edge = self._edge(candidate, role)
                if edge is not None:
                    edges.append(edge)
            found = self._shared[key] = (EdgeGroup(tuple(edges), True, role.trust.id),
                                         frozenset(decided))
        return found

    def _candidates(self, role: Principal, delegates: set[str] | frozenset[str]
                    ) -> list[Principal]:
        assert role.trust is not None
        chosen = candidates(self.graph, role.trust.document, set(delegates))
        chosen.pop(PUBLIC, None)  # STS never serves unsigned callers
        chosen.pop(role.arn, None)
        return [chosen[arn] for arn in sorted(chosen)]

    def _edge(self, candidate: Principal, role: Principal) -> AssumeEdge | None:
        assert role.trust is not None
        keys = dict(_trust_request_keys(role), **acting_for(candidate, role.account))
        outcome = candidate.ask(self.evaluations, assume_action(candidate), role.arn,
                                role.account, candidate.policies(role.trust, "trust"), keys)
        return AssumeEdge(candidate.arn, outcome) if outcome is not None else None


def _is_account(value: str) -> bool:
    match = _IAM_ARN.match(aws_principal_id(value))
    return bool(match and match.group(2) == "root")


def _trust_request_keys(role: Principal) -> dict[str, ContextValue]:
    """The trusted party holds the shared secret the trust policy asks for."""
    keys: dict[str, ContextValue] = {"aws:ResourceAccount": role.account or ""}
    for statement in statements(role.trust.document if role.trust else None):
        for tests in (statement.get("Condition") or {}).values():
            if not isinstance(tests, Mapping):
                continue
            for key, values in tests.items():
                if str(key).lower() == "sts:externalid" and as_list(values):
                    keys.setdefault("sts:ExternalId", str(as_list(values)[0]))
    return keys


def acting_for(principal: Principal, account: str | None) -> dict[str, ContextValue]:
    """A service principal calls on behalf of the account whose resource it touches."""
    if principal.kind != "service" or not account:
        return {}
    return {"aws:SourceAccount": account}


def reach(direct: Mapping[str, Outcome], assumptions: Assumptions,
          follow: Callable[[str], bool]) -> dict[str, tuple[Outcome, str]]:
    """Extend ``direct`` answers to everyone who can become a principal that has one.

    Every principal gets its best route: its own answer when that is an allow, else an
    allow through a chain of role assumptions, else a maybe; among equals, the fewest proof
    steps. Two shortest-path passes (allows first, then anything) backwards along assume
    edges; in each pass a shared edge group is expanded once, from its best target.
    ``follow(source)`` says which assumers are reported (not service principals). Each
    answer comes with the principal whose direct answer it extends.
    """
    best: dict[str, tuple[Outcome, str]] = {arn: (o, arn) for arn, o in direct.items()}
    for allows_only in (True, False):
        # a principal's own allow is final; in the second pass every direct answer is
        locked = {arn for arn, o in direct.items() if o.decision == "allow" or not allows_only}
        heap = [(len(o.steps), arn) for arn, (o, _) in best.items()
                if o.decision == "allow" or not allows_only]
        heapq.heapify(heap)
        settled: set[str] = set()
        expanded: set[int] = set()
        while heap:
            steps, target = heapq.heappop(heap)
            if target in settled:
                continue
            settled.add(target)
            outcome, origin = best[target]
            for group in assumptions.into(target):
                if group.shared:
                    if id(group) in expanded:
                        continue
                    expanded.add(id(group))
                for edge in group.edges:
                    source = edge.source
                    if source in locked or (allows_only and edge.outcome.decision != "allow"):
                        continue
                    total = steps + len(edge.outcome.steps)
                    current = best.get(source)
                    if current is not None and not _improves(current[0], total, allows_only):
                        continue
                    if not follow(source):
                        continue
                    hop = edge.outcome
                    if group.shared and group.trust_policy != assumptions.trust_of(target):
                        hop = hop.renamed(group.trust_policy, assumptions.trust_of(target))
                    best[source] = (hop.then(outcome), origin)
                    heapq.heappush(heap, (total, source))
    return best


def _improves(current: Outcome, steps: int, allows_only: bool) -> bool:
    """Whether a route of ``steps`` (an allow in the first pass, a maybe in the second) is
    better than the answer a principal has."""
    if current.decision == "allow":
        return allows_only and steps < len(current.steps)
    return allows_only or steps < len(current.steps)
