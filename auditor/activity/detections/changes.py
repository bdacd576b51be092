"""Configuration changes seen in the logs that open ML assets or blind the audit trail."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from auditor.access.aws.s3 import is_public_policy
from auditor.activity.assets import bucket_type
from auditor.activity.detections.base import (
    Detection,
    DetectionContext,
    Result,
    event_record,
    one_of,
    request_of,
)
from auditor.findings import ResourceRef
from auditor.rules.model import Remediation

_PUBLIC_GROUPS = ("acs.amazonaws.com/groups/global/AllUsers",
                  "acs.amazonaws.com/groups/global/AuthenticatedUsers")
_PUBLIC_CANNED_ACLS = ("public-read", "public-read-write", "authenticated-read")
_ACL_FIELDS = ("AccessControlPolicy", "x-amz-grant-read", "x-amz-grant-read-acp",
               "x-amz-grant-write", "x-amz-grant-write-acp", "x-amz-grant-full-control")
_BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
_PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
_ACCOUNT_WIDE = ("s3:PutAccountPublicAccessBlock", "s3:DeleteAccountPublicAccessBlock")
# the S3 Control names: account-wide unless a bucket is named
_EITHER_LEVEL = ("s3:PutPublicAccessBlock", "s3:DeletePublicAccessBlock")

MADE_PUBLIC = Detection(
    id="ml.sensitive-bucket-made-public",
    title="Training data or model weights were made public",
    severity="critical", resource_types=("aws.s3.bucket", "gcp.storage.bucket", "aws.account"),
    rationale="A bucket policy or ACL that lets anyone in, or Block Public Access switched off, "
              "is the change that precedes most ML data leaks; the log shows who made it and "
              "when. Buckets outside the inventory are reported too, since nothing says they "
              "are harmless.",
    remediation=Remediation(
        text="Revert the change (restore Block Public Access, remove the public statement or "
             "grant), then ask the person who made it why.",
        cli="aws s3api put-public-access-block --bucket BUCKET --public-access-block-configuration "
            "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"),
    references=("https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html",
                "https://cloud.google.com/storage/docs/public-access-prevention"))

KEY_FOR_OTHER_USER = Detection(
    id="aws.iam.access-key-created-for-other-user",
    title="An access key was created for another IAM user",
    severity="high", resource_types=("aws.iam.user",),
    rationale="Creating a key for someone else gives the caller that user's permissions, "
              "including its reach into training data and weights, with a credential the user "
              "does not know about: a classic persistence and escalation step.",
    remediation=Remediation(
        text="Confirm with the user and the caller. If unexpected, deactivate and delete the key "
             "and review what it was used for.",
        cli="aws iam list-access-keys --user-name USER\n"
            "aws iam update-access-key --user-name USER --access-key-id AKID --status Inactive"),
    references=("https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccessKey.html",
                "https://attack.mitre.org/techniques/T1098/001/"))

LOGGING_DISABLED = Detection(
    id="aws.cloudtrail.logging-disabled",
    title="CloudTrail logging was stopped, deleted or narrowed",
    severity="high", resource_types=("aws.cloudtrail.trail",),
    rationale="Stopping or deleting a trail, or changing it so that it no longer records "
              "management or S3 data events, hides whatever is done next, such as copying the "
              "training data or the weights.",
    remediation=Remediation(
        text="Restore the trail (start logging, restore its event selectors), then review what "
             "happened while it was off, using the remaining logs.",
        cli="aws cloudtrail start-logging --name TRAIL"),
    references=("https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html",
                "https://attack.mitre.org/techniques/T1562/008/"))


def _events(context: DetectionContext, actions: tuple[str, ...]) -> list[dict[str, Any]]:
    """Successful calls of ``actions`` in the window, each with its evidence record."""
    rows = context.store.rows(
        f"SELECT e.*, f.name AS file FROM win AS e JOIN log_files AS f USING (file_id) "
        f"WHERE e.error_code IS NULL AND {one_of('e.action', actions)} "
        f"ORDER BY e.time, f.name, e.line, e.event_id")
    for row in rows:
        row["request"] = request_of(row.get("detail"))
    return rows


def _one_event(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**extra, "count": 1, "events": [event_record(row)]}


def _discriminator(row: dict[str, Any]) -> str:
    return row.get("event_id") or f"{row['file']}:{row.get('line')}"


# -- made public --------------------------------------------------------------------------------

def _public_policy(request: dict[str, Any]) -> str | None:
    policy = request.get("bucketPolicy")
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except (ValueError, RecursionError):
            return None
    if isinstance(policy, dict) and is_public_policy(policy):
        return "a bucket policy that lets anyone in"
    return None


def _public_acl(request: dict[str, Any]) -> str | None:
    canned = request.get("x-amz-acl")
    for value in canned if isinstance(canned, list) else [canned]:
        if value in _PUBLIC_CANNED_ACLS:
            return f"the canned ACL {value}"
    grants = json.dumps([request.get(name) for name in _ACL_FIELDS])
    groups = [group.rsplit("/", 1)[-1] for group in _PUBLIC_GROUPS if group in grants]
    return f"an ACL granting {' and '.join(groups)}" if groups else None


def _blocks_off(request: dict[str, Any]) -> str | None:
    settings = request.get("PublicAccessBlockConfiguration")
    if not isinstance(settings, dict):
        return None
    off = [flag for flag in _BLOCK_FLAGS if str(settings.get(flag)).lower() == "false"]
    return f"Block Public Access turned off: {', '.join(off)}" if off else None


def _public_binding(request: dict[str, Any]) -> str | None:
    deltas = (request.get("policyDelta") or {}).get("bindingDeltas") or []
    added = [f"{d.get('role')} to {d.get('member')}" for d in deltas if isinstance(d, dict)
             and d.get("action") == "ADD" and d.get("member") in _PUBLIC_MEMBERS]
    return f"an IAM binding of {', '.join(added)}" if added else None


_PUBLIC_CHANGES: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "s3:PutBucketPolicy": _public_policy,
    "s3:PutBucketAcl": _public_acl,
    "s3:PutBucketPublicAccessBlock": _blocks_off,
    "s3:PutPublicAccessBlock": _blocks_off,
    "s3:PutAccountPublicAccessBlock": _blocks_off,
    "s3:DeleteBucketPublicAccessBlock": lambda _: "Block Public Access configuration deleted",
    "s3:DeletePublicAccessBlock": lambda _: "Block Public Access configuration deleted",
    "s3:DeleteAccountPublicAccessBlock": lambda _: "Block Public Access configuration deleted",
    "storage.setIamPermissions": _public_binding,
}


def made_public(context: DetectionContext) -> Result:
    rows = _events(context, tuple(_PUBLIC_CHANGES))
    findings = []
    for row in rows:
        change = _PUBLIC_CHANGES[row["action"]](row["request"])
        target = _public_target(context, row)
        if change is None or target is None:
            continue
        if target.type == "aws.account":
            what = (f"account {target.account} (which holds training data or weights, or is not "
                    f"in the inventory)")
        else:
            found = context.assets.classification(target.id)
            label = found.label if found else "not in the inventory: classification unknown"
            what = f"{target.name} ({label})"
        message = f"{row['principal']} made {what} public at {event_record(row)['time']}: {change}"
        findings.append(MADE_PUBLIC.finding(target, message, _one_event(row, change=change),
                                            discriminator=_discriminator(row), context=context))
    return Result(len(rows), findings)


def _public_target(context: DetectionContext, row: dict[str, Any]) -> ResourceRef | None:
    """The bucket (or account) the change exposes, when it may hold ML assets."""
    account = row.get("account") or "unknown"
    resource = row.get("resource")
    if row["action"] in _ACCOUNT_WIDE or (not resource and row["action"] in _EITHER_LEVEL):
        if any(context.assets.sensitive(b.id) for b in context.inventory.resources
               if b.account == account) or not any(s.account == account for s in context.inventory.scopes):
            return context.assets.ref(f"arn:aws:iam::{account}:root", "aws.account", name=account,
                                      account=account)
        return None
    if not resource or bucket_type(resource) is None or not context.assets.maybe_sensitive(resource):
        return None
    return context.assets.ref(resource, bucket_type(resource) or "aws.s3.bucket",
                              account=row.get("account"), region=row.get("region"))


# -- keys created for someone else --------------------------------------------------------------

def key_for_other_user(context: DetectionContext) -> Result:
    rows = _events(context, ("iam:CreateAccessKey",))
    findings = []
    for row in rows:
        target = row["request"].get("userName")
        caller = row["principal"] or ""
        own_name = caller.rsplit("/", 1)[-1] if row.get("principal_type") == "IAMUser" else None
        if not target or target == own_name:
            continue
        account = row.get("account") or "unknown"
        user = next((u for u in context.inventory.of_type("aws.iam.user")
                     if u.name == target and u.account == account), None)
        ref = context.assets.ref(user.id if user else f"arn:aws:iam::{account}:user/{target}",
                                 "aws.iam.user", name=target, account=account)
        message = (f"{caller} ({row.get('principal_type')}) created an access key for user {target} "
                   f"at {event_record(row)['time']} from {row.get('source_ip') or 'an unknown address'}")
        findings.append(KEY_FOR_OTHER_USER.finding(ref, message, _one_event(row, caller=caller,
                                                                             user=target),
                                                   discriminator=_discriminator(row), context=context))
    return Result(len(rows), findings)


# -- logging stopped ---------------------------------------------------------------------------

def _true(value: Any, default: bool) -> bool:
    return default if value is None else str(value).lower() == "true"


@dataclass(frozen=True, slots=True)
class Coverage:
    """What a trail's event selectors record."""

    management: bool
    s3_data: bool


def _field(item: Any, name: str) -> Any:
    """``name`` in request parameters (camelCase) or in a Describe answer (PascalCase)."""
    if not isinstance(item, dict):
        return None
    return item.get(name, item.get(name[:1].upper() + name[1:]))


def coverage(basic: Any, advanced: Any) -> Coverage | None:
    if not isinstance(basic, list) and not isinstance(advanced, list):
        return None
    management = s3_data = False
    for selector in basic if isinstance(basic, list) else []:
        if not isinstance(selector, dict):
            continue
        management = management or _true(_field(selector, "includeManagementEvents"), True)
        s3_data = s3_data or any(_field(r, "type") == "AWS::S3::Object" and _field(r, "values")
                                 for r in _field(selector, "dataResources") or [])
    for selector in advanced if isinstance(advanced, list) else []:
        fields = {str(_field(f, "field")): _field(f, "equals") or []
                  for f in _field(selector, "fieldSelectors") or []}
        management = management or "Management" in fields.get("eventCategory", [])
        s3_data = s3_data or ("Data" in fields.get("eventCategory", [])
                              and "AWS::S3::Object" in fields.get("resources.type", []))
    return Coverage(management, s3_data)


def _selector_gaps(new: Coverage | None, before: Coverage | None) -> list[str]:
    """What the new selectors stop recording. Trails that never recorded S3 data events are
    common (they cost money), so their absence is only a gap when they were recorded before:
    by an earlier call in the window, or in the inventory's copy of the trail."""
    if new is None:
        return []
    gaps = []
    if not new.management and (before is None or before.management):
        gaps.append("management events are no longer recorded")
    if not new.s3_data and before is not None and before.s3_data:
        gaps.append("S3 object-level (data) events are no longer recorded")
    return gaps


def _update_gaps(request: dict[str, Any], trail: Any) -> list[str]:
    gaps = []
    if not _true(request.get("isMultiRegionTrail"), True):
        gaps.append("the trail no longer covers every region")
    if not _true(request.get("includeGlobalServiceEvents"), True):
        gaps.append("global service events (IAM, STS) are no longer recorded")
    if not _true(request.get("enableLogFileValidation"), True):
        gaps.append("log file validation is off")
    bucket = request.get("s3BucketName")
    if bucket and (trail is None or trail.attributes.get("s3_bucket_name") != bucket):
        gaps.append(f"logs now go to bucket {bucket}")
    return gaps


def logging_disabled(context: DetectionContext) -> Result:
    rows = _events(context, ("cloudtrail:StopLogging", "cloudtrail:DeleteTrail",
                             "cloudtrail:UpdateTrail", "cloudtrail:PutEventSelectors"))
    recorded = {trail.id: coverage(trail.attributes.get("event_selectors"),
                                   trail.attributes.get("advanced_event_selectors"))
                for trail in context.inventory.of_type("aws.cloudtrail.trail")}
    findings = []
    for row in rows:  # in time order, so that each change is judged against the one before
        trail_id = row.get("resource") or "unknown trail"
        trail = context.inventory.get(trail_id)
        if row["action"] == "cloudtrail:StopLogging":
            gaps = ["logging was stopped"]
        elif row["action"] == "cloudtrail:DeleteTrail":
            gaps = ["the trail was deleted"]
        elif row["action"] == "cloudtrail:UpdateTrail":
            gaps = _update_gaps(row["request"], trail)
        else:
            new = coverage(row["request"].get("eventSelectors"), row["request"].get("advancedEventSelectors"))
            gaps = _selector_gaps(new, recorded.get(trail_id))
            recorded[trail_id] = new or recorded.get(trail_id)
        if not gaps:
            continue
        ref = context.assets.ref(trail_id, "aws.cloudtrail.trail", name=trail_id.rsplit("/", 1)[-1],
                                 account=row.get("account"), region=row.get("region"))
        message = (f"{row['principal']} called {row['action'].split(':', 1)[1]} on {ref.name} at "
                   f"{event_record(row)['time']}: {'; '.join(gaps)}")
        findings.append(LOGGING_DISABLED.finding(ref, message, _one_event(row, changes=gaps),
                                                 discriminator=_discriminator(row), context=context))
    return Result(len(rows), findings)


DETECTIONS = (
    (MADE_PUBLIC, made_public),
    (KEY_FOR_OTHER_USER, key_for_other_user),
    (LOGGING_DISABLED, logging_disabled),
)
