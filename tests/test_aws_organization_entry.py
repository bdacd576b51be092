"""A member account that cannot be entered is a collection error, and the rest of the
organization is still scanned; an organization that cannot be listed leaves the named accounts.

moto checks IAM policies once enforcement is on: the scan runs as a management-account user
whose policy denies sts:AssumeRole into one member's role, a real AccessDenied answer.
"""

from __future__ import annotations

import json

import boto3
import pytest

from auditor.demo.server import enforce_iam
from auditor.inventory import Inventory
from auditor.scanners.aws.scanner import AwsScanner
from auditor.scanners.base import ScanSettings
from tests.conftest import key_as_profile
from tests.test_aws_organization import (
    ENTRY_ROLE,
    MANAGEMENT,
    build_org,
    member_session,
    org_config,
)

pytestmark = pytest.mark.emulator


@pytest.mark.usefixtures("moto_iam_enforcement")
def test_an_account_that_cannot_be_entered_is_an_error_and_the_rest_go_on(
        fresh_aws, tmp_path, monkeypatch) -> None:
    org = build_org(fresh_aws.endpoint_url)
    barred = org.accounts["sandbox"]
    for account in org.active - {MANAGEMENT}:
        # moto's entry role has no permissions of its own (AWS attaches AdministratorAccess)
        member_session(fresh_aws.endpoint_url, account).client(
            "iam", endpoint_url=fresh_aws.endpoint_url).put_role_policy(
            RoleName=ENTRY_ROLE, PolicyName="admin", PolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    iam = boto3.client("iam", endpoint_url=fresh_aws.endpoint_url)
    iam.create_user(UserName="org-auditor")
    iam.put_user_policy(UserName="org-auditor", PolicyName="scan",
                        PolicyDocument=allow_all_but("sts:AssumeRole",
                                                     f"arn:aws:iam::{barred}:role/*"))
    key_as_profile(iam, "org-auditor", "org-auditor", tmp_path, monkeypatch)

    inventory = enforced_scan(fresh_aws.endpoint_url, org_config(org, profile="org-auditor"))

    # the barred account was asked for: it is a scope, with the error that explains why it
    # holds nothing
    assert {scope.account for scope in inventory.scopes} == org.active
    assert [(e.account, e.service, e.operation, e.code, e.resource_id)
            for e in inventory.errors] == [(barred, "sts", "AssumeRole", "AccessDenied", None)]
    scanned = {bucket.account for bucket in inventory.of_type("aws.s3.bucket")}
    assert scanned == org.active - {barred}
    callers = {r.account: r.attributes["caller_arn"] for r in inventory.of_type("aws.account")}
    assert callers[MANAGEMENT] == f"arn:aws:iam::{MANAGEMENT}:user/org-auditor"
    assert callers[org.accounts["trainer"]].startswith(
        f"arn:aws:sts::{org.accounts['trainer']}:assumed-role/{ENTRY_ROLE}/")

    # without the organization's listing, the named accounts are still scanned
    iam.put_user_policy(UserName="org-auditor", PolicyName="scan",
                        PolicyDocument=allow_all_but("organizations:ListAccounts", "*"))
    named = org.accounts["research"]
    inventory = enforced_scan(fresh_aws.endpoint_url,
                              org_config(org, profile="org-auditor", accounts=[named]))
    assert [(e.account, e.service, e.operation, e.code) for e in inventory.errors] == [
        (MANAGEMENT, "organizations", "ListAccounts", "AccessDenied")]
    assert {scope.account for scope in inventory.scopes} == {named}
    assert not list(inventory.of_type("aws.organizations.account"))


def allow_all_but(action: str, resource: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": action, "Resource": resource}]})


def enforced_scan(endpoint_url: str, config: dict) -> Inventory:
    enforce_iam(endpoint_url, True)
    try:
        inventory = Inventory()
        inventory.add(AwsScanner().scan(config, ScanSettings()))
        return inventory
    finally:
        enforce_iam(endpoint_url, False)
