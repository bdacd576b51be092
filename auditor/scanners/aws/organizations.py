"""AWS Organizations: the member accounts (listed when the scan is planned), where each sits in
the tree of organizational units, and the service and resource control policies on the way.

From the management account (or a delegated administrator): ``ListRoots`` and
``ListOrganizationalUnitsForParent`` walk the tree, ``ListPolicies`` + ``ListTargetsForPolicy``
say where each SCP and RCP is attached, then one task per policy reads its document
(``DescribePolicy``) and one task per account finds its parent (``ListParents``) and writes its
policy levels, root -> OUs -> account, the shape access evaluation takes (docs/inventory.md).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.inventory import CollectionError
from auditor.scanners.aws.api import AwsApi
from auditor.scanners.aws.collect import AwsContext, ResourceDraft
from auditor.scanners.aws.values import iso, policy_document
from auditor.scanners.runner import Record, Task, TaskContext, without_context

ACCOUNT = "aws.organizations.account"
POLICY = "aws.organizations.policy"
SERVICE = "organizations"
ACTIVE = "ACTIVE"
SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"
# policy type -> the account attribute holding its levels
LEVEL_ATTRIBUTES = {SCP: "service_control_policies", RCP: "resource_control_policies"}
PARENTS = "parents"


@dataclass(frozen=True, slots=True)
class Organization:
    """What planning learns: the organization and every account in it (any status)."""

    id: str
    management_account: str
    accounts: tuple[dict[str, Any], ...]  # account summaries, JSON-like (see summary())

    def to_data(self) -> dict[str, Any]:
        return {"organization_id": self.id, "management_account": self.management_account,
                "accounts": [dict(account) for account in self.accounts]}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Organization:
        return cls(data["organization_id"], data["management_account"],
                   tuple(data["accounts"]))


def list_organization(api: AwsApi) -> Organization:
    """DescribeOrganization and ListAccounts; raises when either fails."""
    described = api.call(SERVICE, "DescribeOrganization")["Organization"]
    accounts = tuple(summary(account)
                     for account in api.items(SERVICE, "ListAccounts", "Accounts"))
    return Organization(described["Id"], described["MasterAccountId"], accounts)


def summary(account: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": account["Id"], "arn": account["Arn"], "name": account.get("Name") or "",
            "email": account.get("Email"),
            # State replaces the deprecated Status (which lacks the newer values)
            "status": account.get("State") or account.get("Status"),
            "joined_method": account.get("JoinedMethod"),
            "joined_timestamp": iso(account.get("JoinedTimestamp"))}


# --- the tree ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tree:
    listed: bool = True  # False: ListRoots failed, nothing is known
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> node, with "parent"
    enabled: dict[str, set[str]] = field(default_factory=dict)  # root id -> enabled types

    def path(self, parent_id: str) -> list[dict[str, Any]] | None:
        """The nodes from the root down to ``parent_id``; None when part of it is unknown."""
        chain: list[dict[str, Any]] = []
        current: str | None = parent_id
        while current is not None:
            node = self.nodes.get(current)
            if node is None:
                return None
            chain.append(node)
            current = node["parent"]
        return chain[::-1]

    def enabled_anywhere(self, policy_type: str) -> bool:
        return any(policy_type in types for types in self.enabled.values())


def _walk_tree(context: AwsContext) -> tuple[_Tree, list[CollectionError]]:
    api, tree = context.api, _Tree()
    try:
        roots = list(api.items(SERVICE, "ListRoots", "Roots"))
    except Exception as exc:  # nothing can be placed: every account's levels are unknown
        tree.listed = False
        return tree, [context.scope(SERVICE).error(exc, "ListRoots")]
    errors: list[CollectionError] = []
    pending: deque[str] = deque()
    for root in roots:
        tree.nodes[root["Id"]] = _node(root, "ROOT", None)
        tree.enabled[root["Id"]] = {kind["Type"] for kind in root.get("PolicyTypes", [])
                                    if kind.get("Status") == "ENABLED"}
        pending.append(root["Id"])
    while pending:
        parent = pending.popleft()
        try:
            children = list(api.items(SERVICE, "ListOrganizationalUnitsForParent",
                                      "OrganizationalUnits", ParentId=parent))
        except Exception as exc:  # accounts below this parent cannot be placed
            errors.append(context.scope(SERVICE, resource_id=tree.nodes[parent]["arn"])
                          .error(exc, "ListOrganizationalUnitsForParent"))
            continue
        for unit in children:
            tree.nodes[unit["Id"]] = _node(unit, "ORGANIZATIONAL_UNIT", parent)
            pending.append(unit["Id"])
    return tree, errors


def _node(raw: Mapping[str, Any], kind: str, parent: str | None) -> dict[str, Any]:
    return {"id": raw["Id"], "type": kind, "name": raw.get("Name"), "arn": raw.get("Arn"),
            "parent": parent}


# --- where policies are attached ---------------------------------------------------------------


@dataclass(slots=True)
class _Attachments:
    """The policies of one type and their targets."""

    policy_type: str
    listed: bool = True  # False: ListPolicies failed
    policies: list[dict[str, Any]] = field(default_factory=list)
    targets: dict[str, list[dict[str, Any]] | Exception] = field(default_factory=dict)
    by_target: dict[str, list[str]] = field(default_factory=dict)  # target id -> policy ARNs

    @property
    def complete(self) -> bool:
        return self.listed and not any(isinstance(found, Exception)
                                       for found in self.targets.values())


def _attachments(context: AwsContext, policy_type: str) -> tuple[_Attachments, list[Record]]:
    found = _Attachments(policy_type)
    try:
        found.policies = list(context.api.items(SERVICE, "ListPolicies", "Policies",
                                                Filter=policy_type))
    except Exception as exc:
        found.listed = False
        return found, [context.scope(SERVICE).error(exc, "ListPolicies")]
    for policy in found.policies:
        try:
            targets = [_target(target) for target in context.api.items(
                SERVICE, "ListTargetsForPolicy", "Targets", PolicyId=policy["Id"])]
        except Exception as exc:  # recorded on the policy's own resource
            found.targets[policy["Id"]] = exc
            continue
        found.targets[policy["Id"]] = sorted(targets, key=lambda target: target["target_id"])
        for target in targets:
            found.by_target.setdefault(target["target_id"], []).append(policy["Arn"])
    return found, []


def _target(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {"target_id": raw["TargetId"], "target_type": raw.get("Type"),
            "name": raw.get("Name"), "arn": raw.get("Arn")}


# --- tasks -------------------------------------------------------------------------------------


def organization_task(context: AwsContext, organization: Organization) -> Task:
    def run(task: TaskContext) -> Iterator[Record]:
        tree, errors = _walk_tree(context)
        yield from errors
        kinds: list[_Attachments] = []
        for policy_type in LEVEL_ATTRIBUTES:
            attachments, records = _attachments(context, policy_type)
            yield from records
            kinds.append(attachments)
        for attachments in kinds:
            for policy in attachments.policies:
                task.spawn(Task(label=f"organizations policy {policy['Name']}",
                                run=without_context(_policy, context, policy,
                                                    attachments.targets[policy["Id"]]),
                                service=SERVICE, resource_id=policy["Arn"]))
        for account in organization.accounts:
            task.spawn(Task(label=f"organizations account {account['id']}",
                            run=without_context(_account, context, organization, account, tree,
                                                kinds),
                            service=SERVICE, resource_id=account["arn"]))

    return Task(label="organizations structure", run=run, service=SERVICE)


def _policy(context: AwsContext, policy: Mapping[str, Any],
            targets: list[dict[str, Any]] | Exception) -> Iterator[Record]:
    draft = ResourceDraft(context, id=policy["Arn"], type=POLICY, name=policy["Name"],
                          region=None)
    draft.attributes.update(policy_id=policy["Id"], policy_type=policy.get("Type"),
                            description=policy.get("Description"),
                            aws_managed=bool(policy.get("AwsManaged")))
    draft.read("document", "DescribePolicy",
               lambda r: policy_document(r["Policy"]["Content"]), PolicyId=policy["Id"])
    if isinstance(targets, Exception):
        draft.fail(("targets",), targets, "ListTargetsForPolicy")
    else:
        draft.attributes["targets"] = targets
    return draft.records()


def _account(context: AwsContext, organization: Organization, account: Mapping[str, Any],
             tree: _Tree, kinds: Sequence[_Attachments]) -> Iterator[Record]:
    account_id = account["id"]
    draft = ResourceDraft(context, id=account["arn"], type=ACCOUNT, name=account["name"],
                          region=None, account=account_id)
    is_management = account_id == organization.management_account
    draft.attributes.update(
        account_id=account_id, email=account["email"], status=account["status"],
        joined_method=account["joined_method"], joined_timestamp=account["joined_timestamp"],
        organization_id=organization.id, management_account_id=organization.management_account,
        is_management_account=is_management)
    path = _path(context, draft, account_id, tree)
    for attachments in kinds:
        name = LEVEL_ATTRIBUTES[attachments.policy_type]
        if is_management or (tree.listed
                             and not tree.enabled_anywhere(attachments.policy_type)):
            # SCPs and RCPs never apply in the management account, nor when not enabled
            draft.attributes[name] = None
        elif path is None or not attachments.complete:
            draft.mark_unknown(name)  # explained by the listing that failed
        elif attachments.policy_type not in tree.enabled.get(path[0]["id"], set()):
            draft.attributes[name] = None
        else:
            targets = [*((node["id"], node["type"]) for node in path), (account_id, "ACCOUNT")]
            draft.attributes[name] = [
                {"target_id": target_id, "target_type": target_type,
                 "policies": sorted(attachments.by_target.get(target_id, []))}
                for target_id, target_type in targets]
    return draft.records()


def _path(context: AwsContext, draft: ResourceDraft, account_id: str,
          tree: _Tree) -> list[dict[str, Any]] | None:
    """The account's parents, root first; None (and unknown) when they cannot be known."""
    try:
        parents = list(context.api.items(SERVICE, "ListParents", "Parents", ChildId=account_id))
    except Exception as exc:  # the policy levels become unknown too, explained by this error
        draft.fail((PARENTS,), exc, "ListParents")
        return None
    path = tree.path(parents[0]["Id"]) if parents else None
    if path is None:
        draft.mark_unknown(PARENTS)  # explained by the tree listing that failed
        return None
    draft.attributes[PARENTS] = [{key: node[key] for key in ("id", "type", "name", "arn")}
                                 for node in path]
    return path
