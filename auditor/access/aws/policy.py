"""IAM policy documents parsed once into an immutable, pre-compiled form.

``parse_policy`` checks the IAM JSON grammar ('IAM JSON policy element reference') and raises
``InputError`` naming the JSON path (``Statement[2].Condition.StringEquals``) for anything
malformed. The result answers "which statements could apply to this action" from a per-action
cache, so evaluating one policy against many requests does not re-read the document.

The module also knows who a request comes from (``Caller``) and how a ``Principal`` element
names it (``Mode``): the distinction between a grant to a user, a role, a session or an
account is what 'Policy evaluation logic' turns on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache
from typing import Any, Literal

from auditor.access.aws.conditions import ConditionClause, Tri, parse_condition_block, tri_any
from auditor.access.aws.variables import (
    NO_VALUE,
    UNKNOWN,
    VARIABLES_VERSION,
    Glob,
    RequestValues,
    Template,
    glob_from_chunks,
    glob_from_text,
    parse_template,
    substitute,
)
from auditor.errors import InputError

Effect = Literal["Allow", "Deny"]
_VERSIONS = frozenset({"2012-10-17", "2008-10-17"})
_POLICY_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
                             "Principal", "NotPrincipal", "Condition"})
_PRINCIPAL_KINDS = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})


# --- who is asking -----------------------------------------------------------------------------

class Mode(IntEnum):
    """How a Principal element names the caller; a lower value needs fewer other permissions."""

    DIRECT = 0  # the exact user, session, root user, service or identity provider
    EVERYONE = 1  # "*" (or NotPrincipal not listing the caller)
    ROLE = 2  # the role whose session is calling
    ACCOUNT = 3  # the caller's account: delegates to the account's own IAM policies


CallerKind = Literal["user", "role", "role-session", "federated-user", "root", "anonymous",
                     "service", "identity-provider", "other"]

_IAM_ARN = re.compile(r"^arn:[^:]*:(iam|sts)::(\d{12}):(.+)$")
_ROLE_ARN = re.compile(r"^arn:[^:]*:iam::(\d{12}):role/(?:.*/)?([^/]+)$")
_ROOT_ARN = re.compile(r"^arn:[^:]*:iam::(\d{12}):root$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")


@dataclass(frozen=True, slots=True)
class Caller:
    principal: str
    kind: CallerKind
    account: str | None  # the account named in the principal's ARN
    role_name: str | None  # for a role or a role session
    exact: frozenset[str]  # Principal "AWS" values that name exactly this caller

    @property
    def can_have_boundary(self) -> bool:
        """An IAM user or role, or a session of one: what a permissions boundary can limit."""
        return self.kind in ("user", "role", "role-session", "federated-user")


@lru_cache(maxsize=65536)
def caller_of(principal: str) -> Caller:
    if principal == "*":
        return Caller(principal, "anonymous", None, None, frozenset())
    if _ACCOUNT_ID.match(principal):
        principal = f"arn:aws:iam::{principal}:root"
    match = _IAM_ARN.match(principal)
    if match is None:
        kind: CallerKind = "service" if principal.endswith(".amazonaws.com") else "other"
        return Caller(principal, kind, None, None, frozenset({principal}))
    service, account, resource = match.groups()
    exact = frozenset({principal})
    if service == "iam" and resource == "root":
        return Caller(principal, "root", account, None, exact | {account})
    if service == "iam" and resource.startswith("user/"):
        return Caller(principal, "user", account, None, exact)
    if service == "iam" and resource.startswith("role/"):
        return Caller(principal, "role", account, resource.rsplit("/", 1)[-1], exact)
    if service == "sts" and resource.startswith("assumed-role/"):
        parts = resource.split("/")
        role = parts[1] if len(parts) >= 3 else None
        return Caller(principal, "role-session", account, role, exact)
    if service == "sts" and resource.startswith("federated-user/"):
        return Caller(principal, "federated-user", account, None, exact)
    if service == "iam" and resource.startswith(("oidc-provider/", "saml-provider/")):
        return Caller(principal, "identity-provider", None, None, exact)
    return Caller(principal, "other", account, None, exact)


@dataclass(frozen=True, slots=True)
class PrincipalMatcher:
    everyone: bool
    exact: frozenset[str]  # AWS values compared as written
    roles: frozenset[tuple[str, str]]  # (account, role name) from role ARNs
    accounts: frozenset[str]  # from account ids and account-root ARNs
    services: frozenset[str]  # lower-cased
    federated: frozenset[str]

    def mode(self, caller: Caller) -> Mode | None:
        """How this element names the caller (the way needing fewest other permissions first),
        or None when it does not."""
        if caller.exact & self.exact:
            return Mode.DIRECT
        if caller.kind in ("service", "other") and caller.principal.lower() in self.services:
            return Mode.DIRECT
        if caller.principal in self.federated:
            return Mode.DIRECT
        if self.everyone:
            return Mode.EVERYONE
        if caller.role_name is not None and (caller.account, caller.role_name) in self.roles:
            return Mode.ROLE
        if caller.account is not None and caller.account in self.accounts:
            return Mode.DIRECT if caller.kind == "root" else Mode.ACCOUNT
        return None

    def lists(self, caller: Caller) -> bool:
        """NotPrincipal: the caller is exempt only when listed by its exact identity."""
        return self.mode(caller) in (Mode.DIRECT, Mode.EVERYONE)


def _parse_principal(element: Any, path: str) -> PrincipalMatcher:
    if element == "*":
        return PrincipalMatcher(True, frozenset(), frozenset(), frozenset(), frozenset(),
                                frozenset())
    if not isinstance(element, Mapping):
        raise InputError('must be "*" or an object such as {"AWS": [...]}', location=path)
    everyone = False
    exact: set[str] = set()
    roles: set[tuple[str, str]] = set()
    accounts: set[str] = set()
    services: set[str] = set()
    federated: set[str] = set()
    for kind, values in element.items():
        where = f"{path}.{kind}"
        if kind not in _PRINCIPAL_KINDS:
            raise InputError(f"unknown principal type {kind!r} (expected one of "
                             f"{', '.join(sorted(_PRINCIPAL_KINDS))})", location=where)
        for value in _strings(values, where):
            if kind == "AWS":
                everyone |= value == "*"
                exact.add(value)
                role = _ROLE_ARN.match(value)
                if role:
                    roles.add((role.group(1), role.group(2)))
                account = _ACCOUNT_ID.match(value) or _ROOT_ARN.match(value)
                if account:
                    accounts.add(account.group(1) if account.groups() else value)
            elif kind == "Service":
                everyone |= value == "*"
                services.add(value.lower())
            elif kind == "Federated":
                everyone |= value == "*"
                federated.add(value)
    return PrincipalMatcher(everyone, frozenset(exact), frozenset(roles), frozenset(accounts),
                            frozenset(services), frozenset(federated))


# --- actions and resources --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ActionMatcher:
    """Action names are case-insensitive: patterns and requests are compared lower-cased."""

    everything: bool
    exact: frozenset[str]
    patterns: tuple[Glob, ...]

    def matches(self, action_lower: str) -> bool:
        if self.everything or action_lower in self.exact:
            return True
        return any(pattern.matches(action_lower) for pattern in self.patterns)


def _parse_actions(element: Any, path: str) -> ActionMatcher:
    everything = False
    exact: set[str] = set()
    patterns: list[Glob] = []
    for value in _strings(element, path):
        lowered = value.lower()
        if lowered == "*":
            everything = True
        elif ":" not in lowered:
            raise InputError(f"action {value!r} must look like 'service:Action'", location=path)
        elif "*" in lowered or "?" in lowered:
            patterns.append(glob_from_text(lowered))
        else:
            exact.add(lowered)
    return ActionMatcher(everything, frozenset(exact), tuple(patterns))


@dataclass(frozen=True, slots=True)
class ResourceMatcher:
    """ARN patterns: case-sensitive, '*' spans '/' and ':', '?' is one character.

    A request for resource "*" (an action without resource-level ARNs) is matched only by a
    policy Resource of exactly "*".
    """

    everything: bool
    exact: frozenset[str]
    wildcards: tuple[Glob, ...]
    templated: tuple[Template, ...]  # patterns with policy variables

    def match(self, resource: str, request: RequestValues) -> Tri:
        if self.everything:
            return True
        if resource == "*":
            return False
        if resource in self.exact:
            return True
        for glob in self.wildcards:
            if glob.matches(resource):
                return True
        if not self.templated:
            return False
        return tri_any(self._match_template(template, resource, request)
                       for template in self.templated)

    @staticmethod
    def _match_template(template: Template, resource: str, request: RequestValues) -> Tri:
        chunks = substitute(template, request)
        if chunks is UNKNOWN:
            return None
        if chunks is NO_VALUE:
            return False  # a variable without a value matches nothing
        assert isinstance(chunks, tuple)
        return glob_from_chunks(chunks).matches(resource)


def _parse_resources(element: Any, path: str, variables_enabled: bool) -> ResourceMatcher:
    everything = False
    exact: set[str] = set()
    wildcards: list[Glob] = []
    templated: list[Template] = []
    for value in _strings(element, path):
        if value == "*":
            everything = True
            continue
        template = parse_template(value, variables_enabled)
        if not template.is_plain:
            templated.append(template)
            continue
        glob = glob_from_text(value)
        if glob.exact is not None:
            exact.add(glob.exact)
        else:
            wildcards.append(glob)
    return ResourceMatcher(everything, frozenset(exact), tuple(wildcards), tuple(templated))


def _strings(element: Any, path: str) -> tuple[str, ...]:
    """A string or a non-empty list of strings, as the grammar allows for most elements."""
    if isinstance(element, str):
        return (element,)
    if isinstance(element, list) and element:
        for index, item in enumerate(element):
            if not isinstance(item, str):
                raise InputError("must be a string", location=f"{path}[{index}]")
        return tuple(element)
    raise InputError("must be a string or a non-empty list of strings", location=path)


# --- statements and policies ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Statement:
    index: int
    label: str  # the Sid, or "#<index>" when there is none
    effect: Effect
    actions: ActionMatcher
    not_action: bool
    resources: ResourceMatcher | None  # None: no Resource element (trust policies)
    not_resource: bool
    principals: PrincipalMatcher | None  # None: no Principal element (identity policies, SCPs)
    not_principal: bool
    conditions: tuple[ConditionClause, ...]
    condition_block: Mapping[str, Any] | None

    def matches_action(self, action_lower: str) -> bool:
        return self.actions.matches(action_lower) != self.not_action

    def matches_resource(self, resource: str, request: RequestValues) -> Tri:
        if self.resources is None:
            return True
        found = self.resources.match(resource, request)
        return (None if found is None else not found) if self.not_resource else found


_ACTION_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Policy:
    version: str | None
    statements: tuple[Statement, ...]
    # memo: lower-cased action -> statements whose Action/NotAction covers it
    _by_action: dict[str, tuple[Statement, ...]] = field(default_factory=dict, compare=False,
                                                         repr=False)

    def statements_for(self, action_lower: str) -> tuple[Statement, ...]:
        found = self._by_action.get(action_lower)
        if found is None:
            found = tuple(s for s in self.statements if s.matches_action(action_lower))
            if len(self._by_action) >= _ACTION_CACHE_LIMIT:
                self._by_action.clear()
            self._by_action[action_lower] = found
        return found


def parse_policy(document: Any, *, source: str | None = None) -> Policy:
    """Parse and check one policy document; ``InputError`` names ``source`` and the JSON path."""
    try:
        return _parse_document(document)
    except InputError as error:
        raise InputError(error.message, source=source, location=error.location) from None
    except RecursionError:
        raise InputError("policy document is nested too deeply", source=source) from None


def _parse_document(document: Any) -> Policy:
    if not isinstance(document, Mapping):
        raise InputError("policy document must be a JSON object")
    unknown = [key for key in document if key not in _POLICY_KEYS]
    if unknown:
        raise InputError(f"unknown policy element {unknown[0]!r}", location=str(unknown[0]))
    version = document.get("Version")
    if version is not None and (not isinstance(version, str) or version not in _VERSIONS):
        raise InputError(f"unknown policy language version {version!r}", location="Version")
    if "Id" in document and not isinstance(document["Id"], str):
        raise InputError("must be a string", location="Id")
    if "Statement" not in document:
        raise InputError("policy document has no Statement element", location="Statement")
    raw = document["Statement"]
    variables_enabled = version == VARIABLES_VERSION
    if isinstance(raw, Mapping):
        statements = (_parse_statement(raw, 0, "Statement", variables_enabled),)
    elif isinstance(raw, list):
        statements = tuple(_parse_statement(item, index, f"Statement[{index}]", variables_enabled)
                           for index, item in enumerate(raw))
    else:
        raise InputError("Statement must be an object or a list of objects", location="Statement")
    return Policy(version, statements)


def _parse_statement(raw: Any, index: int, path: str, variables_enabled: bool) -> Statement:
    if not isinstance(raw, Mapping):
        raise InputError("statement must be an object", location=path)
    for key in raw:
        if key not in _STATEMENT_KEYS:
            raise InputError(f"unknown statement element {key!r}", location=f"{path}.{key}")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise InputError("Sid must be a string", location=f"{path}.Sid")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise InputError(f'Effect must be "Allow" or "Deny", not {effect!r}',
                         location=f"{path}.Effect")
    action_key = _exactly_one(raw, "Action", "NotAction", path, required=True)
    resource_key = _exactly_one(raw, "Resource", "NotResource", path, required=False)
    principal_key = _exactly_one(raw, "Principal", "NotPrincipal", path, required=False)
    assert action_key is not None
    actions = _parse_actions(raw[action_key], f"{path}.{action_key}")
    resources = (None if resource_key is None else
                 _parse_resources(raw[resource_key], f"{path}.{resource_key}", variables_enabled))
    principals = (None if principal_key is None else
                  _parse_principal(raw[principal_key], f"{path}.{principal_key}"))
    block = raw.get("Condition")
    conditions = (() if block is None else
                  parse_condition_block(block, f"{path}.Condition",
                                        variables_enabled=variables_enabled))
    return Statement(
        index=index, label=sid if sid else f"#{index}", effect=effect, actions=actions,
        not_action=action_key == "NotAction", resources=resources,
        not_resource=resource_key == "NotResource", principals=principals,
        not_principal=principal_key == "NotPrincipal", conditions=conditions,
        condition_block=block if conditions else None)


def _exactly_one(raw: Mapping[str, Any], name: str, negated: str, path: str, *,
                 required: bool) -> str | None:
    if name in raw and negated in raw:
        raise InputError(f"a statement cannot have both {name} and {negated}",
                         location=f"{path}.{negated}")
    if name in raw:
        return name
    if negated in raw:
        return negated
    if required:
        raise InputError(f"statement needs {name} or {negated}", location=path)
    return None


# --- parsing each document once ---------------------------------------------------------------

_PARSED: dict[int, tuple[Any, Policy]] = {}
_PARSED_LIMIT = 65536


def policy_for(document: Any, *, source: str | None = None) -> Policy:
    """``parse_policy`` memoised on the document object (documents are treated as immutable)."""
    if isinstance(document, Policy):
        return document
    entry = _PARSED.get(id(document))
    if entry is not None and entry[0] is document:
        return entry[1]
    policy = parse_policy(document, source=source)
    if len(_PARSED) >= _PARSED_LIMIT:
        _PARSED.clear()
    # keep the document alive with its parse, so its id cannot be reused by another object
    _PARSED[id(document)] = (document, policy)
    return policy
