"""The least-privilege grant a scan needs, built from what the scanner plugins declare.

``audit permissions --provider aws|gcp`` prints it: an AWS IAM policy document, or a GCP custom
role for ``gcloud iam roles create ROLE_ID --organization ORG --file FILE``. Nothing is written
here by hand: a scanner's ``permissions`` (its table of allowed operations) is the single
source, so a scanner that starts calling a new operation changes the printed grant with it, and
the read-only test of the suite (tests/readonly_plugin.py) proves that every call the scanners
make is covered by it.

The AWS scanner declares one more permission apart, ``entry_permissions`` (``sts:AssumeRole``):
only the identity that enters the other accounts of an organization needs it, and only on the
role it enters, so it is added when that role is named. Likewise ``audit activity`` reading
logs from ``s3://`` prefixes needs ``auditor.scanners.aws.log_objects.S3_LOG_PERMISSIONS`` on those
prefixes only, added when they are named.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from auditor import plugins
from auditor.bucket_urls import split_bucket_url

SCANNERS = "auditor.scanners"
AWS_POLICY_VERSION = "2012-10-17"
READ_ONLY_SID = "AuditorReadOnly"
ENTRY_SID = "AuditorEnterAccounts"
LOGS_SID = "AuditorReadLogs"
ROLE_TITLE = "Auditor (read-only)"
ROLE_DESCRIPTION = ("Read-only access for the auditor: lists and reads configuration and "
                    "IAM policies, never object content, never a change.")
FORMATS = ("json", "yaml")

@dataclass(frozen=True, slots=True)
class Needs:
    """What one provider's grant is made of."""

    permissions: Sequence[str]  # on every resource
    entry: Sequence[str]  # on the entered role only
    entry_role: str | None
    log_buckets: Sequence[tuple[str, str]]  # (bucket, key prefix) of s3:// log locations


Builder = Callable[[Needs], dict[str, Any]]


def least_privilege_policy(provider: str, *, entry_role: str | None = None,
                           log_locations: Sequence[str] = ()) -> dict[str, Any]:
    """The grant a scan of ``provider`` needs: an AWS policy document, a GCP custom role, or
    for a third-party scanner plugin ``{"provider", "permissions"}``.

    ``entry_role`` (AWS organization scans: the role name, with its path, entered in every
    other account) adds the scanner's entry permissions on that role only; ``log_locations``
    (``s3://BUCKET/PREFIX`` log sources of ``audit activity``) add reading those prefixes.
    """
    scanner = plugins.get(SCANNERS, provider)
    needs = Needs(sorted(set(scanner.permissions)),
                  sorted(set(getattr(scanner, "entry_permissions", ()))), entry_role,
                  sorted({split for url in log_locations
                          if (split := split_bucket_url(url, "s3")) is not None}))
    return _BUILDERS.get(provider, _generic(provider))(needs)


def policy_permissions(document: dict[str, Any]) -> set[str]:
    """Every permission a document returned by ``least_privilege_policy`` grants."""
    if "Statement" in document:
        return {action for statement in document["Statement"] for action in statement["Action"]}
    return set(document.get("includedPermissions") or document.get("permissions") or ())


def format_document(document: dict[str, Any], output_format: str = "json") -> str:
    if output_format == "yaml":
        return yaml.safe_dump(document, sort_keys=False, default_flow_style=False).rstrip("\n")
    return json.dumps(document, indent=2)


def _aws_policy(needs: Needs) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [{"Sid": READ_ONLY_SID, "Effect": "Allow",
                                         "Action": list(needs.permissions), "Resource": "*"}]
    if needs.entry_role and needs.entry:
        # the account is left open: the role has the same name in every account it enters
        statements.append({"Sid": ENTRY_SID, "Effect": "Allow", "Action": list(needs.entry),
                           "Resource": f"arn:aws:iam::*:role/{needs.entry_role.strip('/')}"})
    if needs.log_buckets:
        from auditor.scanners.aws.log_objects import S3_LOG_PERMISSIONS

        # listing is granted on the bucket, reading on the keys under the prefix
        resources = sorted({f"arn:aws:s3:::{bucket}" for bucket, _ in needs.log_buckets}
                           | {f"arn:aws:s3:::{bucket}/{prefix}*"
                              for bucket, prefix in needs.log_buckets})
        statements.append({"Sid": LOGS_SID, "Effect": "Allow",
                           "Action": sorted(S3_LOG_PERMISSIONS), "Resource": resources})
    return {"Version": AWS_POLICY_VERSION, "Statement": statements}


def _gcp_role(needs: Needs) -> dict[str, Any]:
    return {"title": ROLE_TITLE, "description": ROLE_DESCRIPTION, "stage": "GA",
            "includedPermissions": list(needs.permissions)}


def _generic(provider: str) -> Builder:
    def build(needs: Needs) -> dict[str, Any]:
        return {"provider": provider, "permissions": sorted({*needs.permissions, *needs.entry})}
    return build


# how each cloud spells a grant; a scanner plugin of another provider gets the generic list
_BUILDERS: dict[str, Builder] = {"aws": _aws_policy, "gcp": _gcp_role}
