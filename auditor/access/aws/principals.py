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

Organization guardrails (``organization``): a principal of a member account carries the SCP
levels of its account (``Principal.scps``; not a service-linked role), and a request to a
resource of a member account carries that account's RCP levels, given by whoever asks about
the resource (``Principal.policies``), except for a service-linked role.

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
from dataclasses import dataclass, field, replace
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
from auditor.access.aws.organization import (
    NO_GUARDRAILS,
    ORGANIZATIONS_TYPES,
    Guardrails,
    Levels,
    read_guardrails,
)
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
    scps: Levels | None = None  # the SCP levels of its account, when they govern it
    service_linked: bool = False  # governed by neither SCPs nor RCPs

    def policies(self, resource: NamedPolicy | None = None,
                 kind: ResourcePolicyKind = "generic",
                 rcps: Levels | None = None) -> PolicySet:
        """What decides a request of this principal to a resource with policy ``resource``,
        in an account with RCP levels ``rcps``."""
        return PolicySet(identity=self.identity, resource=resource,
                         resource_policy_kind=kind, boundary=self.boundary, scps=self.scps,
                         rcps=None if self.service_linked else rcps)

    def own_policies(self) -> tuple[NamedPolicy, ...]:
        """Its identity policies, boundary and SCPs: every policy of its own side."""
        boundary = (self.boundary,) if self.boundary is not None else ()
        return (*self.identity, *boundary, *(p for level in self.scps or () for p in level))

    def ask(self, evaluations: Evaluations, action: str, resource: str,
            resource_account: str | None, policies: PolicySet,
            extra: Mapping[str, ContextValue] | None = None) -> Outcome | None:
        return evaluations.ask(self.caller, self.arn, action, resource, resource_account,
                               policies, extra)


@dataclass(slots=True)
class PrincipalGraph:
    principals: dict[str, Principal] = field(default_factory=dict)
    org_ids: dict[str, str | None] = field(default_factory=dict)  # audited account -> org
    guardrails: Guardrails = NO_GUARDRAILS
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
    guardrails = read_guardrails(inventory)
    graph = PrincipalGraph(guardrails=guardrails)
    audited = _audited_accounts(inventory)
    graph.org_ids = {account: _organization(inventory, account)
                     or guardrails.org_ids.get(account) for account in audited}
    managed = {r.id: r for r in inventory.of_type("aws.iam.policy")}
    groups = {(r.account, r.name): r for r in inventory.of_type("aws.iam.group")}

    def add(principal: Principal | None) -> None:
        if principal is not None:
            graph.add(_governed(principal, guardrails))

    for account in sorted(audited):
        add(_root(account, graph.org_ids.get(account)))
    for user in inventory.of_type("aws.iam.user"):
        add(_user(user, managed, groups, graph.org_ids.get(user.account)))
    for role in inventory.of_type("aws.iam.role"):
        add(_role(role, managed, graph.org_ids.get(role.account)))
    for entry_type, value in sorted(_named_in_resource_policies(inventory) | set(named)):
        add(_named_principal(entry_type, value, audited, guardrails.org_ids))
    graph.add(_public())
    graph.add(_any_aws())
    return graph


def _governed(principal: Principal, guardrails: Guardrails) -> Principal:
    """The principal with the SCP levels of its account, if they govern it."""
    levels = None if principal.service_linked else guardrails.scps_of(principal.account)
    return principal if levels is None else replace(principal, scps=levels)


def _audited_accounts(inventory: Inventory) -> set[str]:
    accounts = {s.account for s in inventory.scopes if s.provider == "aws"}
    # the organization's records name every member account, scanned or not
    accounts.update(r.account for r in inventory.resources
                    if r.provider == "aws" and _ACCOUNT_ID.match(r.account or "")
                    and not r.type.startswith(ORGANIZATIONS_TYPES))
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
    service_linked = attrs.get("service_linked") is True or str(
        attrs.get("path") or "").startswith("/aws-service-role/")
    return Principal(
        arn=resource.id, kind="role", account=resource.account, human=False,
        identity=identity, boundary=_boundary(resource, managed, unknown),
        trust=NamedPolicy(f"{resource.id}#trust-policy", trust) if trust else None,
        audited=True, unknown=tuple(unknown), service_linked=service_linked,
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


def _named_principal(entry_type: str, value: str, audited: set[str],
                     org_ids: Mapping[str, str]) -> Principal | None:
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
    return external_principal(arn, match.group(1), match.group(2), org_ids.get(match.group(1)))


def external_principal(arn: str, account: str, resource: str,
                       org_id: str | None = None) -> Principal:
    """A principal of an account that was not scanned (``org_id``: its organization, when
    the inventory lists the account as a member)."""
    keys: dict[str, ContextValue] = dict(SIGNED_REQUEST_SHAPE)
    keys.update({"aws:PrincipalAccount": account, "aws:PrincipalIsAWSService": "false"})
    if org_id:
        keys["aws:PrincipalOrgID"] = org_id
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


class AllowStatement:
    """An identity-policy Allow as ``GrantIndex`` reads it (a policy variable is a wildcard);
    its patterns are compiled the first time they are read, most never are."""

    __slots__ = ("_actions", "_resources", "action_texts", "any_resource", "not_action",
                 "patterns", "services")

    def __init__(self, action_texts: tuple[str, ...], not_action: bool,
                 patterns: tuple[str, ...], any_resource: bool):
        self.action_texts = action_texts  # lower-cased
        self.not_action = not_action
        self.patterns = patterns  # the Resource patterns as written
        self.any_resource = any_resource  # "*" or NotResource: matches every resource
        # where it is filed: the services its actions name
        self.services: frozenset[str | None] = frozenset(
            {None} if not_action else {_service_key(a) for a in action_texts})
        self._actions: tuple[Glob, ...] | None = None
        self._resources: tuple[Glob, ...] | None = None

    @property
    def actions(self) -> tuple[Glob, ...]:
        if self._actions is None:
            self._actions = tuple(_pattern(a) for a in self.action_texts)
        return self._actions

    @property
    def resources(self) -> tuple[Glob, ...]:
        if self._resources is None:
            self._resources = tuple(_pattern(r) for r in self.patterns)
        return self._resources

    def matches_action(self, action_lower: str) -> bool:
        return any(p.matches(action_lower) for p in self.actions) != self.not_action

    def found_for(self, action_lower: str) -> bool:
        """Whether the index finds it for the action: filed under the service the action
        names (or under none), and matching it."""
        service = action_lower.split(":", 1)[0]
        return ((service in self.services or None in self.services)
                and self.matches_action(action_lower))

    def matches_resource(self, resource: str) -> bool:
        return self.any_resource or any(p.matches(resource) for p in self.resources)


def _service_key(pattern: str) -> str | None:
    """The service an action pattern is limited to, or None if it could be any."""
    service = pattern.split(":", 1)[0].lower() if ":" in pattern else "*"
    return None if any(c in service for c in "*?") else service


_Entry = tuple[AllowStatement, frozenset[str]]
_ANYWHERE = "*"  # index key of statements whose Resource is "*" (or NotResource)


def _compile_allow(statement: Mapping[str, Any]) -> AllowStatement | None:
    if statement.get("Effect") != "Allow":
        return None
    not_action = "NotAction" in statement
    not_resource = "NotResource" in statement
    actions = [str(a) for a in as_list(statement.get("NotAction" if not_action else "Action"))]
    resources = ([] if not_resource else [str(r) for r in as_list(statement.get("Resource"))])
    return AllowStatement(tuple(a.lower() for a in actions), not_action, tuple(resources),
                          not_resource or "*" in resources)


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
        # each policy id is read from one document, the last one seen, by both lookups
        self._compiled: dict[str, tuple[AllowStatement, ...]] = {}
        for policy_id, document in documents.items():
            who = frozenset(holders[policy_id])
            compiled = self._compiled[policy_id] = tuple(
                c for c in map(_compile_allow, statements(document)) if c is not None)
            for statement in compiled:
                self._add(statement, who)

    def _add(self, compiled: AllowStatement, who: frozenset[str]) -> None:
        keys = {_ANYWHERE} if compiled.any_resource else {pattern_key(r) for r in
                                                          compiled.patterns}
        for service in compiled.services:
            for key in keys:
                self._entries[(service, key)].append((compiled, who))

    def statements_of(self, policy: NamedPolicy) -> tuple[AllowStatement, ...]:
        """The Allow statements the index reads for one identity policy."""
        return self._compiled.get(policy.id, ())

    def holds(self, principal: Principal, action: str, resources: Sequence[str]) -> bool:
        """Whether ``principal`` is among ``holders([action], resources)``, asked alone (a
        statement is found under the service its actions name, and the index files a Resource
        pattern under the only bucket it can match, so the lookup keys need no test)."""
        lowered = action.lower()
        return any(compiled.found_for(lowered)
                   and (compiled.any_resource
                        or any(compiled.matches_resource(r) for r in resources))
                   for policy in principal.identity
                   for compiled in self._compiled.get(policy.id, ()))

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


@dataclass(frozen=True, slots=True)
class Admission:
    """Who a resource policy's Allow statements could let in, for the evaluator to decide.

    A principal named directly, or covered by ``*``, needs no identity grant; a principal
    covered only by its account's entry does (it must be a *delegate*: its identity may
    grant) unless its identity is assumed (another account's principals).
    """

    everyone: bool  # an ("AWS", "*") entry, or a NotPrincipal
    accounts: frozenset[str]  # account entries, as root ARNs
    named: frozenset[tuple[str, str]]  # any other entry

    @classmethod
    def of(cls, document: Mapping[str, Any] | None) -> Admission:
        everyone = False
        accounts: set[str] = set()
        named: set[tuple[str, str]] = set()
        for statement in statements(document):
            if statement.get("Effect") != "Allow":
                continue
            entries = principal_entries(statement.get("Principal"))
            if "NotPrincipal" in statement:
                entries = [("AWS", "*")]
            for entry_type, value in entries:
                if entry_type == "AWS" and value == "*":
                    everyone = True
                elif entry_type == "AWS" and _is_account(value):
                    accounts.add(aws_principal_id(value))
                else:
                    named.add((entry_type, value))
        return cls(everyone, frozenset(accounts), frozenset(named))

    def members(self, graph: PrincipalGraph, delegates: set[str]) -> dict[str, Principal]:
        chosen: dict[str, Principal] = {}
        if self.everyone:
            chosen.update((p.arn, p) for p in graph.named("AWS", "*"))
        for root in self.accounts:
            account = root.split(":")[4]
            chosen.update((p.arn, p) for p in graph.by_account.get(account, ())
                          if not p.audited)
            chosen.update((p.arn, p) for arn in (root, *delegates)
                          if (p := graph.get(arn)) is not None and p.account == account)
        for entry_type, value in self.named:
            chosen.update((p.arn, p) for p in graph.named(entry_type, value))
        return chosen

    def admits(self, graph: PrincipalGraph, principal: Principal, delegate: bool) -> bool:
        """Whether ``principal`` is among ``members``; ``delegate``: it is a delegate."""
        if self.everyone and principal.kind != "service":
            return True
        for root in self.accounts:
            if principal.account == root.split(":")[4] and (
                    not principal.audited or delegate or principal.arn == root):
                return True
        return any(principal in graph.named(entry_type, value)
                   for entry_type, value in self.named)


def candidates(graph: PrincipalGraph, document: Mapping[str, Any] | None,
               delegates: set[str]) -> dict[str, Principal]:
    """``Admission.members`` of one document."""
    return Admission.of(document).members(graph, delegates)


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


KEPT_AT_MOST = 500_000  # answers remembered by identity; past it they are made again
_Edge = tuple[str, Outcome, int]
_Followed = tuple[EdgeGroup, tuple[_Edge, ...], tuple[_Edge, ...]]


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
        self._shared: dict[tuple[str | None, bool, str], tuple[EdgeGroup, frozenset[str]]] = {}
        self._follow: Callable[[str], bool] | None = None
        self._chains: dict[tuple[int, int], tuple[Outcome, Outcome, Outcome]] = {}
        self._renames: dict[tuple[int, str | None], tuple[Outcome, Outcome]] = {}
        self._followed: dict[str, tuple[_Followed, ...]] = {}

    def into(self, role_arn: str) -> tuple[EdgeGroup, ...]:
        groups = self._into.get(role_arn)
        if groups is None:
            groups = self._into[role_arn] = self._find(role_arn)
        return groups

    def chained(self, hop: Outcome, outcome: Outcome) -> Outcome:
        """``hop.then(outcome)``, the same object each time it is asked again (the grants made
        of it are made once)."""
        cache_key = (id(hop), id(outcome))
        found = self._chains.get(cache_key)
        if found is None or found[0] is not hop or found[1] is not outcome:
            if len(self._chains) >= KEPT_AT_MOST:
                self._chains.clear()
            found = self._chains[cache_key] = (hop, outcome, hop.then(outcome))
        return found[2]

    def renamed(self, hop: Outcome, old: str | None, new: str | None) -> Outcome:
        """``hop.renamed(old, new)``, the same object each time."""
        cache_key = (id(hop), new)
        found = self._renames.get(cache_key)
        if found is None or found[0] is not hop:
            found = self._renames[cache_key] = (hop, hop.renamed(old, new))
        return found[1]

    def followed(self, follow: Callable[[str], bool]) -> dict[str, tuple[_Followed, ...]]:
        """``into`` keeping only the edges from principals ``follow`` reports, each group
        with its allowing edges and all of them, as (source, outcome, proof length); a
        principal without any such edge has none. Filled in by ``follow_into``."""
        if self._follow is not follow:
            self._follow, self._followed = follow, {}
        return self._followed

    def follow_into(self, arn: str) -> tuple[_Followed, ...]:
        follow = self._follow
        assert follow is not None
        found = self._followed[arn] = tuple(
            (group, tuple(e for e in edges if e[1].decision == "allow"), edges)
            for group in self.into(arn)
            if (edges := tuple((e.source, e.outcome, len(e.outcome.steps))
                               for e in group.edges if follow(e.source))))
        return found

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
        # what the role's account's RCPs say depends on the account, and on the role (``_rcps``)
        key = (role.account, role.service_linked, self.evaluations.signature(role.trust.document))
        found = self._shared.get(key)
        if found is None:
            edges: list[AssumeEdge] = []
            decided: set[str] = set()
            rcps = self._rcps(role)
            for candidate in self._candidates(role, self.index.anywhere(ASSUME_ACTIONS)):
                action = assume_action(candidate)
                if not self.evaluations.resource_free(candidate.policies(None, "trust", rcps),
                                                      action):
                    continue  # what it may assume depends on the role: asked per role
                decided.add(candidate.arn)
                edge = self._edge(candidate, role)
                if edge is not None:
                    edges.append(edge)
            found = self._shared[key] = (EdgeGroup(tuple(edges), True, role.trust.id),
                                         frozenset(decided))
        return found

    def _rcps(self, role: Principal) -> Levels | None:
        """The RCPs on assuming the role: its account's, but for a service-linked role, which
        RCPs do not keep its service from assuming."""
        return None if role.service_linked else self.graph.guardrails.rcps_of(role.account)

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
        policies = candidate.policies(role.trust, "trust", self._rcps(role))
        outcome = candidate.ask(self.evaluations, assume_action(candidate), role.arn,
                                role.account, policies, keys)
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
    return service_keys(account) if principal.kind == "service" else {}


def service_keys(account: str | None) -> dict[str, ContextValue]:
    """The keys of a request a service sends on behalf of ``account``."""
    return {"aws:SourceAccount": account} if account else {}


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
    # a principal nobody reported can assume expands nothing: it never enters the heap
    known = assumptions.followed(follow)

    def into(arn: str) -> tuple[_Followed, ...]:
        found = known.get(arn)
        return assumptions.follow_into(arn) if found is None else found

    pop, push, current_of = heapq.heappop, heapq.heappush, best.get
    expanding = dict.fromkeys(arn for arn in best if into(arn))  # those with an answer
    for allows_only in (True, False):
        # a principal's own allow is final; in the second pass every direct answer is
        locked = {arn for arn, o in direct.items() if o.decision == "allow" or not allows_only}
        heap = [(len(o.steps), arn) for arn in expanding
                if (o := best[arn][0]).decision == "allow" or not allows_only]
        heapq.heapify(heap)
        settled: set[str] = set()
        expanded: set[int] = set()
        while heap:
            steps, target = pop(heap)
            if target in settled:
                continue
            settled.add(target)
            outcome, origin = best[target]
            trust: Any = _UNSET
            for group, allowing, every in into(target):
                if group.shared:
                    if id(group) in expanded:
                        continue
                    expanded.add(id(group))
                for source, hop, length in (allowing if allows_only else every):
                    if source in locked:
                        continue
                    total = steps + length
                    current = current_of(source)
                    if current is not None and not _improves(current[0], total, allows_only):
                        continue
                    if group.shared:
                        if trust is _UNSET:
                            trust = assumptions.trust_of(target)
                        if group.trust_policy != trust:
                            hop = assumptions.renamed(hop, group.trust_policy, trust)
                    best[source] = (assumptions.chained(hop, outcome), origin)
                    if known.get(source) or into(source):
                        expanding[source] = None
                        push(heap, (total, source))
    return best


_UNSET: Any = object()


def _improves(current: Outcome, steps: int, allows_only: bool) -> bool:
    """Whether a route of ``steps`` (an allow in the first pass, a maybe in the second) is
    better than the answer a principal has."""
    if current.decision == "allow":
        return allows_only and steps < len(current.steps)
    return allows_only or steps < len(current.steps)
