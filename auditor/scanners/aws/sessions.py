"""Entering an account: the base credentials for the account they belong to, a read-only
AssumeRole session for every other account.

The assumed session carries an inline session policy allowing exactly the scanner's read-only
permissions, so even an administrative role such as OrganizationAccountAccessRole can only
read. Its credentials refresh themselves (another AssumeRole) before they expire, so that a
long scan of a large account never runs on expired credentials.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.credentials import RefreshableCredentials

from auditor.scanners.aws.api import PERMISSIONS, AwsApi
from auditor.scanners.aws.clients import AwsClients, session_for_profile
from auditor.scanners.aws.options import AwsOptions
from auditor.scanners.aws.values import iso
from auditor.scanners.base import ScanSettings

SESSION_NAME = "auditor-scan"
# what AWS accepts for an inline session policy, in characters of its JSON text
SESSION_POLICY_LIMIT = 2048


def read_only_session_policy() -> str:
    statement = {"Effect": "Allow", "Action": list(PERMISSIONS), "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]},
                      separators=(",", ":"))


def role_arn(partition: str, account: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account}:role/{role_name}"


def base_api(options: AwsOptions, settings: ScanSettings) -> AwsApi:
    """The API with the profile's own credentials."""
    return AwsApi(AwsClients(session_for_profile(options.profile),
                             endpoint_url=options.endpoint_url,
                             max_workers=settings.max_workers))


@dataclass(frozen=True, slots=True)
class Entered:
    api: AwsApi
    caller_arn: str  # the identity the account is scanned as


def assume(base: AwsApi, options: AwsOptions, settings: ScanSettings,
           target_role: str) -> Entered:
    """Enter another account through ``target_role``; raises (AccessDenied...) when it cannot."""
    policy = read_only_session_policy()

    def fetch() -> dict[str, Any]:
        return base.assume_role(target_role, SESSION_NAME, policy)

    first = fetch()
    credentials = RefreshableCredentials.create_from_metadata(
        metadata=_metadata(first), refresh_using=_refresher(fetch),
        method="auditor-assume-role")
    clients = AwsClients(session_for_profile(options.profile, credentials),
                         endpoint_url=options.endpoint_url, max_workers=settings.max_workers)
    return Entered(AwsApi(clients), first["AssumedRoleUser"]["Arn"])


def _refresher(fetch: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    return lambda: _metadata(fetch())


def _metadata(response: dict[str, Any]) -> dict[str, Any]:
    credentials = response["Credentials"]
    return {"access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": iso(credentials["Expiration"])}
