"""The ``[profiles.NAME.aws]`` table, checked beyond its types (config.py checks those)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auditor.errors import ConfigError
from auditor.scanners.base import Option

_ACCOUNT_ID = re.compile(r"^\d{12}$")
# a role name, optionally behind its path: "audit/ReadOnlyAuditor"
_ROLE_NAME = re.compile(r"^[\w+=,.@-]+(/[\w+=,.@-]+)*$")

OPTIONS: Mapping[str, Option] = {
    "profile": Option(str, "named profile of the AWS shared config/credentials files "
                           "(default: the standard credential chain)"),
    "regions": Option(list, "regions whose KMS keys and CloudTrail trails are scanned "
                            "(default: the profile's region, else us-east-1); S3 buckets "
                            "and IAM are account-wide and always scanned",
                      item_kind=str),
    "endpoint_url": Option(str, "AWS-compatible endpoint such as an emulator "
                                "(AWS_ENDPOINT_URL works too)"),
    "organization": Option(bool, "scan every active account of the AWS organization, listed "
                                 "from the management (or a delegated administrator) account "
                                 "the profile's credentials belong to, and read its SCPs and "
                                 "RCPs", False),
    "role_name": Option(str, "role assumed in every other account (e.g. "
                             "OrganizationAccountAccessRole, or an audit role); the session is "
                             "limited to the scanner's read-only permissions"),
    "accounts": Option(list, "12-digit account ids to scan (with organization = true: only "
                             "these members; without: these accounts, entered through "
                             "role_name)", [], item_kind=str),
    "exclude_accounts": Option(list, "12-digit account ids never to scan", [], item_kind=str),
}


@dataclass(frozen=True, slots=True)
class AwsOptions:
    profile: str | None = None
    endpoint_url: str | None = None
    regions: tuple[str, ...] = ()  # empty: the session's default region
    organization: bool = False
    role_name: str | None = None
    accounts: tuple[str, ...] = ()
    exclude_accounts: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AwsOptions:
        role_name = config.get("role_name")
        if role_name is not None and not _ROLE_NAME.match(role_name):
            raise ConfigError(f"not an IAM role name: {role_name!r}", location="aws.role_name")
        return cls(profile=config.get("profile"), endpoint_url=config.get("endpoint_url"),
                   regions=tuple(sorted(set(config.get("regions") or ()))),
                   organization=bool(config.get("organization")), role_name=role_name,
                   accounts=_account_ids(config, "accounts"),
                   exclude_accounts=_account_ids(config, "exclude_accounts"))

    def require_role_name(self) -> str:
        if not self.role_name:
            raise ConfigError("role_name is required to enter accounts other than the one the "
                              "credentials belong to (e.g. OrganizationAccountAccessRole, or "
                              "an audit role)", location="aws.role_name")
        return self.role_name


def _account_ids(config: Mapping[str, Any], key: str) -> tuple[str, ...]:
    values = config.get(key) or ()
    for i, value in enumerate(values):
        if not isinstance(value, str) or not _ACCOUNT_ID.match(value):
            raise ConfigError(f"must be a 12-digit AWS account id, not {value!r}",
                              location=f"aws.{key}[{i}]")
    return tuple(dict.fromkeys(values))  # once each, in the order given
