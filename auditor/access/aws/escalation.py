"""Privilege-escalation edges: principals that can give themselves (or take) more access.

These are *not* counted in who can read or write a bucket (that answer is about access as
configured); they feed findings such as "this user can make itself admin".

The methods are data: DataDog's pathfinding.cloud catalogue (a reduced copy with its LICENSE
and SOURCE beside it; ``load_methods``). A method applies to a principal when every permission
it requires is allowed (or conditionally allowed) by the principal's identity policies,
boundary and the SCPs of its account (``Principal.policies``; IAM takes no RCPs), each on the
resource it acts on:

* ``iam:PassRole`` and the other actions of a pass-role method: the roles that the method's
  service may assume (its service principal is named in their trust policy); the service's
  own actions are asked about on ``*`` (creating a function or job names no resource yet);
* user actions (``CreateAccessKey``, ``Create/UpdateLoginProfile``, ``Attach/PutUserPolicy``):
  every IAM user; role actions (``Attach/PutRolePolicy``, ``UpdateAssumeRolePolicy``): every
  role; group actions (``Attach/PutGroupPolicy``, ``AddUserToGroup``): every group;
  ``CreatePolicyVersion``/``SetDefaultPolicyVersion``: every customer-managed policy. The
  principal itself is a target only of the catalogue's "self-escalation" methods.

A principal allowed a method on ``Resource: "*"`` gets one path with target ``*``: every
target of that method (a deny naming single targets is not subtracted). Grants scoped to
resources are checked target by target.

Methods that need ``sts:AssumeRole`` (``sts-001``, ``iam-014``...) are left out: assuming a
role is the principal graph's own edge, and the rest of such a method is a method of its own.
Actions asked about on ``*`` are matched only by statements whose Resource is ``*``, so a
method granted only on named resources of a service is missed: a known undercount.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from auditor.access.aws.context import Evaluations, Outcome, both
from auditor.access.aws.principals import (
    GrantIndex,
    Principal,
    PrincipalGraph,
    build_graph,
    principal_entries,
    statements,
)
from auditor.access.model import PathStep
from auditor.errors import ConfigError, InputError
from auditor.inventory import Inventory

# where the packaged catalogue lives once shipped (see the module docstring)
PACKAGED_METHODS = ("auditor._data", "privesc/pathfinding_paths.json")
# role assumption is an edge of the principal graph: methods that need it are that edge plus
# a method of their own (iam-014 = iam-009 on a role + assuming it)
SKIPPED_ACTION = "sts:assumerole"

# services whose compute runs as a role, and the service principals those roles trust
SERVICE_PRINCIPALS: Mapping[str, tuple[str, ...]] = {
    "apprunner": ("tasks.apprunner.amazonaws.com", "build.apprunner.amazonaws.com"),
    "bedrock-agentcore": ("bedrock-agentcore.amazonaws.com",),
    "cloudformation": ("cloudformation.amazonaws.com",),
    "codebuild": ("codebuild.amazonaws.com",),
    "datapipeline": ("datapipeline.amazonaws.com", "elasticmapreduce.amazonaws.com"),
    "ec2": ("ec2.amazonaws.com",),
    "ec2-instance-connect": ("ec2.amazonaws.com",),
    "ecs": ("ecs-tasks.amazonaws.com",),
    "glue": ("glue.amazonaws.com",),
    "lambda": ("lambda.amazonaws.com",),
    "sagemaker": ("sagemaker.amazonaws.com",),
    "ssm": ("ec2.amazonaws.com",),
}
_USER_ACTIONS = frozenset({"iam:createaccesskey", "iam:deleteaccesskey",
                           "iam:createloginprofile", "iam:updateloginprofile",
                           "iam:attachuserpolicy", "iam:putuserpolicy"})
_ROLE_ACTIONS = frozenset({"iam:attachrolepolicy", "iam:putrolepolicy",
                           "iam:updateassumerolepolicy", "iam:passrole"})
_GROUP_ACTIONS = frozenset({"iam:attachgrouppolicy", "iam:putgrouppolicy",
                            "iam:addusertogroup"})
_POLICY_ACTIONS = frozenset({"iam:createpolicyversion", "iam:setdefaultpolicyversion"})


@dataclass(frozen=True, slots=True)
class Method:
    id: str
    name: str
    category: str
    required: tuple[str, ...]

    @property
    def services(self) -> tuple[str, ...]:
        """The compute services (not IAM/STS) whose roles this method takes over."""
        names = {a.split(":", 1)[0].lower() for a in self.required}
        return tuple(sorted(names - {"iam", "sts"}))


@dataclass(frozen=True, slots=True)
class EscalationPath:
    principal: str
    method: str  # the catalogue id, e.g. "iam-002"
    name: str
    target: str  # the user, role, group or policy acted on, or "*"
    decision: str  # "allow" or "conditional"
    statements: tuple[PathStep, ...]
    conditions: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"principal": self.principal, "method": self.method, "name": self.name,
                "target": self.target, "decision": self.decision,
                "statements": [s.to_dict() for s in self.statements],
                "conditions": list(self.conditions)}


def load_methods(path: Path | None = None) -> list[Method]:
    """Read a catalogue (``{"paths": [{"id","name","category","required"}]}``)."""
    if path is None:
        packaged = resources.files(PACKAGED_METHODS[0]).joinpath(PACKAGED_METHODS[1])
        if not packaged.is_file():
            raise ConfigError("the privilege-escalation catalogue is not installed "
                              f"({PACKAGED_METHODS[0]}/{PACKAGED_METHODS[1]}); pass a path")
        text, source = packaged.read_text(encoding="utf-8"), str(packaged)
    else:
        try:
            text, source = path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", source=str(path)) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", source=source,
                         location=f"line {exc.lineno}") from None
    paths = document.get("paths") if isinstance(document, Mapping) else None
    if not isinstance(paths, list):
        raise InputError("expected an object with a list \"paths\"", source=source,
                         location="$.paths")
    return [_method(raw, source, f"$.paths[{i}]") for i, raw in enumerate(paths)]


def _method(raw: Any, source: str, where: str) -> Method:
    if not isinstance(raw, Mapping):
        raise InputError("must be an object", source=source, location=where)
    for name in ("id", "name", "category"):
        if not isinstance(raw.get(name), str):
            raise InputError(f"{name} must be a string", source=source, location=f"{where}.{name}")
    required = raw.get("required")
    if (not isinstance(required, list) or not required
            or not all(isinstance(a, str) and ":" in a for a in required)):
        raise InputError("required must be a non-empty list of 'service:Action' names",
                         source=source, location=f"{where}.required")
    return Method(raw["id"], raw["name"], raw["category"], tuple(required))


def escalation_paths(inventory: Inventory, methods: Sequence[Method] | None = None,
                     graph: PrincipalGraph | None = None) -> list[EscalationPath]:
    """Every (principal, method, target) whose required permissions are all allowed.

    A principal allowed a method on ``Resource: "*"`` gets one path with target ``*`` (every
    user, role, group or policy the method acts on), not one per target.
    """
    methods = load_methods() if methods is None else methods
    graph = graph or build_graph(inventory)
    index = GrantIndex(graph)
    targets = _Targets(inventory, graph)
    evaluations = Evaluations()
    found: list[EscalationPath] = []
    for method in methods:
        acted_on = targets.of(method)
        if SKIPPED_ACTION in _lower(method.required) or not acted_on:
            continue
        everywhere = list(_apply(method, "*", graph, index, targets, evaluations))
        found.extend(everywhere)
        done = {path.principal for path in everywhere}
        for target in acted_on:
            if target != "*":
                found.extend(_apply(method, target, graph, index, targets, evaluations,
                                    skip=done))
    return sorted(found, key=lambda p: (p.principal, p.method, p.target))


class _Targets:
    """What each kind of IAM action acts on, read from the inventory once."""

    def __init__(self, inventory: Inventory, graph: PrincipalGraph):
        self.users = sorted(r.id for r in inventory.of_type("aws.iam.user"))
        self.roles = sorted(r.id for r in inventory.of_type("aws.iam.role"))
        self.groups = sorted(r.id for r in inventory.of_type("aws.iam.group"))
        self.policies = sorted(r.id for r in inventory.of_type("aws.iam.policy")
                               if not r.attributes.get("aws_managed"))
        self.account_of = {r.id: r.account for r in inventory.resources}
        self.trusting: dict[str, list[str]] = {}
        for role in graph:
            if role.kind == "role" and role.trust is not None:
                for statement in statements(role.trust.document):
                    for kind, value in principal_entries(statement.get("Principal")):
                        if kind == "Service" and statement.get("Effect") == "Allow":
                            self.trusting.setdefault(value.lower(), []).append(role.arn)

    def of(self, method: Method) -> list[str]:
        kinds = {_target_kind(a) for a in method.required} - {None}
        if "iam:passrole" in _lower(method.required) or (method.services and not kinds):
            return self._service_roles(method)
        for kind, found in (("role", self.roles), ("user", self.users),
                            ("group", self.groups), ("policy", self.policies)):
            if kind in kinds:
                return found
        return ["*"]

    def _service_roles(self, method: Method) -> list[str]:
        if not method.services:
            return self.roles
        names = [p for s in method.services for p in SERVICE_PRINCIPALS.get(s, ())]
        if not names:
            return ["*"]
        return sorted({role for name in names for role in self.trusting.get(name, ())})


def _lower(actions: Iterable[str]) -> set[str]:
    return {a.lower() for a in actions}


def _target_kind(action: str) -> str | None:
    lowered = action.lower()
    if lowered in _USER_ACTIONS:
        return "user"
    if lowered in _ROLE_ACTIONS:
        return "role"
    if lowered in _GROUP_ACTIONS:
        return "group"
    if lowered in _POLICY_ACTIONS:
        return "policy"
    return None


def _resource_for(action: str, target: str) -> str:
    return target if _target_kind(action) is not None else "*"


def _apply(method: Method, target: str, graph: PrincipalGraph, index: GrantIndex,
           targets: _Targets, evaluations: Evaluations,
           skip: set[str] | frozenset[str] = frozenset()) -> Iterable[EscalationPath]:
    resources = {action: _resource_for(action, target) for action in method.required}
    possible: set[str] | None = None
    for action, resource in resources.items():
        holders = (set(index.anywhere([action])) if resource == "*"
                   else index.holders([action], [resource]))
        possible = holders if possible is None else possible & holders
    for arn in sorted((possible or set()) - skip):
        principal = graph.get(arn)
        if principal is None or principal.kind not in ("user", "role"):
            continue
        if arn == target and method.category != "self-escalation":
            continue  # reaching yourself is no escalation
        outcome = _all_allowed(principal, method, resources, targets, evaluations)
        if outcome is not None:
            yield EscalationPath(arn, method.id, method.name, target, outcome.decision,
                                 outcome.steps, outcome.conditions)


def _all_allowed(principal: Principal, method: Method, resources: Mapping[str, str],
                 targets: _Targets, evaluations: Evaluations) -> Outcome | None:
    outcome: Outcome | None = Outcome("allow")
    for action in method.required:
        resource = resources[action]
        account = targets.account_of.get(resource, principal.account)
        outcome = both(outcome, principal.ask(evaluations, action, resource, account,
                                              principal.policies()))
        if outcome is None:
            return None
    return outcome
