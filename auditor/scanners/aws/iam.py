"""IAM: one task reads the authorization details (users, groups, roles, managed policies in
one paginated call) page by page, then one task per user reads what that call leaves out
(access keys, MFA devices, login profile)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from auditor.inventory import CollectionError
from auditor.scanners.aws.collect import TAGS, AwsContext, ResourceDraft
from auditor.scanners.aws.values import (
    attached_policy_arns,
    boundary_arn,
    inline_policies,
    iso,
    name_from_arn,
    policy_document,
    tag_dict,
)
from auditor.scanners.runner import Record, Task, TaskContext, without_context

USER = "aws.iam.user"
GROUP = "aws.iam.group"
ROLE = "aws.iam.role"
POLICY = "aws.iam.policy"
ACCESS_KEY = "aws.iam.access_key"


def iam_task(context: AwsContext) -> Task:
    def run(task: TaskContext) -> Iterator[Record]:
        password_use, listing_error = _password_last_used(context)
        if listing_error is not None:
            yield listing_error
        # each page becomes resources before the next is read; only groups wait for the last
        # page, because their members are listed on the users, on any page
        members: dict[str, list[str]] = defaultdict(list)
        groups: list[ResourceDraft] = []
        for page in context.api.pages("iam", "GetAccountAuthorizationDetails"):
            for user in page.get("UserDetailList", []):
                for group in user.get("GroupList", []):
                    members[group].append(user["Arn"])
                task.spawn(Task(label=f"iam user {user['UserName']}",
                                run=without_context(_user, context, user, password_use),
                                service="iam", resource_id=user["Arn"]))
            groups += [_group(context, group) for group in page.get("GroupDetailList", [])]
            for role in page.get("RoleDetailList", []):
                yield from _role(context, role)
            for policy in page.get("Policies", []):
                # AWS-managed policies exist by the thousand; only those in use matter
                if _aws_managed(policy["Arn"]) and not (
                        policy.get("AttachmentCount") or policy.get("PermissionsBoundaryUsageCount")):
                    continue
                yield from _policy(context, policy)
        for group in groups:
            group.attributes["members"] = sorted(members[group.name])
            yield from group.records()

    return Task(label="iam authorization details", run=run, service="iam")


def _aws_managed(policy_arn: str) -> bool:
    return policy_arn.split(":")[4] == "aws"


def _password_last_used(context: AwsContext) -> tuple[dict[str, str | None] | None,
                                                      CollectionError | None]:
    """ListUsers is the only listing with PasswordLastUsed; None when it failed."""
    try:
        return {user["Arn"]: iso(user.get("PasswordLastUsed"))
                for user in context.api.items("iam", "ListUsers", "Users")}, None
    except Exception as exc:  # every user's password_last_used becomes unknown, once
        return None, context.scope("iam").error(exc, "ListUsers", attribute="password_last_used")


def _draft(context: AwsContext, detail: dict[str, Any], kind: str, name_key: str) -> ResourceDraft:
    draft = ResourceDraft(context, id=detail["Arn"], type=kind, name=detail[name_key], region=None)
    draft.set(TAGS, tag_dict(detail.get("Tags")))
    return draft


def _user(context: AwsContext, detail: dict[str, Any],
          password_use: dict[str, str | None] | None) -> Iterator[Record]:
    name = detail["UserName"]
    draft = _draft(context, detail, USER, "UserName")
    draft.attributes.update(
        user_id=detail.get("UserId"), path=detail.get("Path"),
        create_date=iso(detail.get("CreateDate")),
        groups=sorted(detail.get("GroupList", [])),
        attached_policies=attached_policy_arns(detail.get("AttachedManagedPolicies")),
        inline_policies=inline_policies(detail.get("UserPolicyList")),
        permissions_boundary=boundary_arn(detail))
    if password_use is None:
        draft.mark_unknown("password_last_used")  # explained by the ListUsers error
    else:
        draft.attributes["password_last_used"] = password_use.get(detail["Arn"])
    draft.guard("mfa_devices", "ListMFADevices", lambda: sorted(
        device["SerialNumber"]
        for device in context.api.items("iam", "ListMFADevices", "MFADevices", UserName=name)))
    draft.read("login_profile", "GetLoginProfile",
               lambda r: {"create_date": iso(r["LoginProfile"].get("CreateDate"))}, UserName=name)
    keys: list[dict[str, Any]] = []

    def list_keys() -> list[str]:
        keys.extend(sorted(context.api.items("iam", "ListAccessKeys", "AccessKeyMetadata",
                                             UserName=name), key=lambda key: key["AccessKeyId"]))
        return [key["AccessKeyId"] for key in keys]

    draft.guard("access_keys", "ListAccessKeys", list_keys)
    yield from draft.records()
    for key in keys:  # each key is a resource of its own
        yield from _access_key(context, detail, key)


def _access_key(context: AwsContext, user: dict[str, Any],
                key: dict[str, Any]) -> Iterator[Record]:
    key_id = key["AccessKeyId"]
    draft = ResourceDraft(context, id=f"{user['Arn']}/access-key/{key_id}", type=ACCESS_KEY,
                          name=key_id, region=None)
    draft.attributes.update(access_key_id=key_id, user=user["Arn"], user_name=user["UserName"],
                            status=key.get("Status"), create_date=iso(key.get("CreateDate")))
    draft.read("last_used", "GetAccessKeyLastUsed", _key_last_used, AccessKeyId=key_id)
    return draft.records()


def _key_last_used(response: dict[str, Any]) -> dict[str, Any]:
    used = response.get("AccessKeyLastUsed") or {}
    return {"date": iso(used.get("LastUsedDate")), "service": used.get("ServiceName"),
            "region": used.get("Region")}


def _group(context: AwsContext, detail: dict[str, Any]) -> ResourceDraft:
    """A group without its members (set once every user is read)."""
    draft = _draft(context, detail, GROUP, "GroupName")
    draft.attributes.update(
        group_id=detail.get("GroupId"), path=detail.get("Path"),
        attached_policies=attached_policy_arns(detail.get("AttachedManagedPolicies")),
        inline_policies=inline_policies(detail.get("GroupPolicyList")))
    return draft


def _role(context: AwsContext, detail: dict[str, Any]) -> Iterator[Record]:
    draft = _draft(context, detail, ROLE, "RoleName")
    last_used = detail.get("RoleLastUsed") or {}
    path = detail.get("Path") or "/"
    draft.attributes.update(
        role_id=detail.get("RoleId"), path=path, create_date=iso(detail.get("CreateDate")),
        trust_policy=policy_document(detail.get("AssumeRolePolicyDocument")),
        attached_policies=attached_policy_arns(detail.get("AttachedManagedPolicies")),
        inline_policies=inline_policies(detail.get("RolePolicyList")),
        permissions_boundary=boundary_arn(detail),
        last_used=({"date": iso(last_used["LastUsedDate"]), "region": last_used.get("Region")}
                   if last_used.get("LastUsedDate") else None),
        service_linked=path.startswith("/aws-service-role/"))
    return draft.records()


def _policy(context: AwsContext, detail: dict[str, Any]) -> Iterator[Record]:
    arn = detail["Arn"]
    default_version = detail.get("DefaultVersionId")
    document = next((policy_document(version.get("Document"))
                     for version in detail.get("PolicyVersionList", [])
                     if version.get("IsDefaultVersion") or version.get("VersionId") == default_version),
                    None)
    # moto leaves PolicyName and PolicyId out; the name is the last part of the ARN anyway
    draft = ResourceDraft(context, id=arn, type=POLICY,
                          name=detail.get("PolicyName") or name_from_arn(arn), region=None)
    draft.attributes.update(
        policy_id=detail.get("PolicyId"), path=detail.get("Path"),
        default_version_id=default_version, document=document,
        attachment_count=detail.get("AttachmentCount", 0), aws_managed=_aws_managed(arn))
    return draft.records()
