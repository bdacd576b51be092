"""The AWS scanner against a moto server seeded with the scenario org.

Expected values come from the scenario file (tests/data/aws-ml-org.json), never from the
scanner's own output.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from policy_sentry.querying.actions import get_action_data

from auditor import plugins
from auditor.demo.scenario import demo_scenario, load_scenario
from auditor.demo.seed import seed
from auditor.demo.server import emulator_credentials, enforce_iam
from auditor.errors import ConfigError, InputError
from auditor.inventory import Inventory, Resource, Scope
from auditor.inventory.io import to_json
from auditor.scanners.aws.api import AwsApi
from auditor.scanners.aws.clients import AwsClients, session_for_profile
from auditor.scanners.aws.scanner import AwsScanner
from auditor.scanners.base import ScanSettings
from tests.conftest import key_as_profile

pytestmark = pytest.mark.emulator

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
PUBLIC_GROUPS = {ALL_USERS, "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"}
SECOND_REGION = "eu-west-1"
DATA = Path(__file__).parent / "data"


# ---------------------------------------------------------------- helpers


def scan(config: Mapping[str, Any], settings: ScanSettings | None = None) -> Inventory:
    inventory = Inventory()
    inventory.add(plugins.get("auditor.scanners", "aws")().scan(config, settings or ScanSettings()))
    return inventory


def expand(value: Any, scenario: Mapping[str, Any], key_arns: Mapping[str, str]) -> Any:
    """The scenario's placeholders, resolved the way its README defines them."""
    text = json.dumps(value)
    text = text.replace("${ACCOUNT}", scenario["account_id"]).replace("${REGION}",
                                                                     scenario["region"])
    text = re.sub(r"\$\{KEY_ARN:([^}]+)\}", lambda m: key_arns[m.group(1)], text)
    return json.loads(text)


def the(inventory: Inventory, resource_id: str) -> Resource:
    found = inventory.get(resource_id)
    assert found is not None, f"{resource_id} missing from the inventory"
    return found


def bucket(inventory: Inventory, name: str) -> Resource:
    return the(inventory, f"arn:aws:s3:::{name}")


def iam_arn(scenario: Mapping[str, Any], kind: str, name: str) -> str:
    return f"arn:aws:iam::{scenario['account_id']}:{kind}/{name}"


def public_grants(acl: Mapping[str, Any]) -> set[tuple[str, str]]:
    return {(g["grantee_uri"], g["permission"]) for g in acl["grants"]
            if g["grantee_uri"] in PUBLIC_GROUPS}


def has_deny(policy: Mapping[str, Any] | None) -> bool:
    return any(s.get("Effect") == "Deny" for s in (policy or {}).get("Statement", []))


def key_by_alias(inventory: Inventory, alias: str) -> Resource:
    keys = [k for k in inventory.of_type("aws.kms.key") if alias in k.attributes["aliases"]]
    assert len(keys) == 1, f"{alias}: {len(keys)} keys"
    return keys[0]


def key_named_by(inventory: Inventory, reference: str) -> Resource:
    """The key a bucket's KMSMasterKeyID names (key ARN, key id, alias or alias ARN)."""
    for key in inventory.of_type("aws.kms.key"):
        names = {key.id, key.attributes["key_id"], *key.attributes["aliases"],
                 *key.attributes["alias_arns"]}
        if reference in names:
            return key
    raise AssertionError(f"no scanned KMS key is named {reference!r}")


# ---------------------------------------------------------------- the seeded org


@pytest.fixture(scope="module")
def scenario(seeded_aws_org) -> dict[str, Any]:
    return seeded_aws_org.scenario


@pytest.fixture(scope="module")
def org_scan(seeded_aws_org) -> tuple[Inventory, dict[str, str]]:
    # key ids are random per seeding: keep the ARNs of the seeding that was scanned
    key_arns = dict(seeded_aws_org.summary.key_arns)
    return scan({"endpoint_url": seeded_aws_org.endpoint_url,
                 "regions": [seeded_aws_org.scenario["region"], SECOND_REGION]}), key_arns


@pytest.fixture(scope="module")
def inventory(org_scan) -> Inventory:
    return org_scan[0]


@pytest.fixture(scope="module")
def key_arns(org_scan) -> dict[str, str]:
    return org_scan[1]


def test_scope_names_the_account_and_regions(inventory, scenario) -> None:
    assert [s.to_dict() for s in inventory.scopes] == [{
        "provider": "aws", "account": scenario["account_id"],
        "regions": sorted([scenario["region"], SECOND_REGION]),
        "services": ["cloudtrail", "iam", "kms", "organizations", "s3", "sts"]}]


def test_account_record(inventory, scenario) -> None:
    account = the(inventory, f"arn:aws:iam::{scenario['account_id']}:root")
    assert account.attributes["account_id"] == scenario["account_id"]
    assert account.attributes["caller_arn"].split(":")[4] == scenario["account_id"]
    assert account.attributes["s3_public_access_block"] == scenario["account_public_access_block"]
    # moto's account is in no organization: not configured, not unknown
    assert account.attributes["organization_id"] is None
    assert account.unknown == []


def test_every_bucket_with_its_configuration(inventory, scenario, key_arns) -> None:
    scanned = {b.name for b in inventory.of_type("aws.s3.bucket")}
    assert scanned == {b["name"] for b in scenario["buckets"]}
    for spec in scenario["buckets"]:
        found = bucket(inventory, spec["name"])
        attributes = found.attributes
        assert found.region == scenario["region"]
        assert found.tags == {k: str(v) for k, v in (spec.get("tags") or {}).items()}
        expected_policy = expand(spec["policy"], scenario, key_arns) if spec.get("policy") else None
        assert attributes["policy"] == expected_policy, spec["name"]
        assert attributes["object_ownership"] == spec.get("object_ownership"), spec["name"]
        assert attributes["public_access_block"] == spec.get("public_access_block"), spec["name"]
        assert attributes["versioning"] == {
            "status": "Enabled" if spec.get("versioning") else None, "mfa_delete": False}
        if spec.get("logging_target"):
            assert attributes["logging"] == {
                "target_bucket": spec["logging_target"],
                "target_prefix": spec.get("logging_prefix", f"{spec['name']}/")}
        else:
            assert attributes["logging"] is None
        assert attributes["object_lock"] is None
        assert attributes["replication"] is None
        assert attributes["acl"]["owner_id"]
        assert attributes["creation_date"].endswith("Z")


def test_public_read_bucket_acls_grant_all_users(inventory, scenario) -> None:
    public = [b for b in scenario["buckets"] if b.get("acl", "private") == "public-read"]
    assert public, "the scenario has a public-read bucket"
    for spec in scenario["buckets"]:
        grants = public_grants(bucket(inventory, spec["name"]).attributes["acl"])
        if spec in public:
            assert grants == {(ALL_USERS, "READ")}, spec["name"]
        elif spec.get("acl", "private") == "private":
            assert grants == set(), spec["name"]


def test_encryption_and_its_key_through_aliases(inventory, scenario) -> None:
    for spec in scenario["buckets"]:
        encryption = bucket(inventory, spec["name"]).attributes["encryption"]
        wanted = spec.get("encryption")
        if wanted is None:
            assert encryption is None, spec["name"]
            continue
        assert encryption["algorithm"] == wanted["type"], spec["name"]
        if wanted.get("key_alias"):
            key = key_named_by(inventory, encryption["kms_key_id"])
            assert wanted["key_alias"] in key.attributes["aliases"], spec["name"]
            assert encryption["bucket_key_enabled"] == bool(wanted.get("bucket_key"))
        else:  # SSE-S3, or SSE-KMS with the AWS-managed aws/s3 key
            assert encryption["kms_key_id"] is None, spec["name"]


def test_object_samples_hold_the_scenario_objects(inventory, scenario) -> None:
    log_targets = {b["logging_target"] for b in scenario["buckets"] if b.get("logging_target")}
    for spec in scenario["buckets"]:
        attributes = bucket(inventory, spec["name"]).attributes
        keys = {item["key"] for item in attributes["object_sample"]}
        wanted = {item["key"] for item in spec.get("objects", [])}
        if spec["name"] in log_targets:
            # moto really writes access logs into the target as buckets are read
            assert wanted <= keys, spec["name"]
        else:
            assert keys == wanted, spec["name"]
            assert attributes["object_sample_truncated"] is False


def test_object_acls_as_seeded(inventory, scenario) -> None:
    acl_sample_size = ScanSettings().object_acl_sample_size
    checked = 0
    for spec in scenario["buckets"]:
        if has_deny(spec.get("policy")):
            continue  # see test_deny_policy_buckets_make_object_acls_unknown
        seeded_acls = {item["key"]: item.get("acl") for item in spec.get("objects", [])}
        sample = bucket(inventory, spec["name"]).attributes["object_sample"]
        for position, item in enumerate(sample):
            if spec.get("object_ownership") == "BucketOwnerEnforced" or position >= acl_sample_size:
                assert item["acl"] is None  # ACLs disabled, or beyond the ACL sample
                continue
            if item["key"] not in seeded_acls:
                continue  # an access log moto wrote
            wanted = {(ALL_USERS, "READ")} if seeded_acls[item["key"]] == "public-read" else set()
            assert public_grants(item["acl"]) == wanted, (spec["name"], item["key"])
            checked += 1
    public_objects = sum(item.get("acl") == "public-read"
                         for spec in scenario["buckets"] for item in spec.get("objects", []))
    assert public_objects and checked > public_objects


def test_deny_policy_buckets_make_object_acls_unknown(inventory, scenario) -> None:
    # moto answers 403 to object calls on any bucket whose policy has a Deny statement
    denied = {spec["name"] for spec in scenario["buckets"]
              if has_deny(spec.get("policy")) and spec.get("objects")
              and spec.get("object_ownership") != "BucketOwnerEnforced"}
    assert denied, "the scenario has Deny-policy buckets with objects"
    for name in denied:
        found = bucket(inventory, name)
        assert "object_sample.acl" in found.unknown
        assert all(item["acl"] is None for item in found.attributes["object_sample"])
        assert found.attributes["object_sample"], "keys are still listed"
        [error] = inventory.errors_for(found.id)
        assert (error.service, error.operation, error.attribute) == (
            "s3", "GetObjectAcl", "object_sample.acl")
    # and nothing else failed anywhere in the scan
    assert {e.resource_id for e in inventory.errors} == {f"arn:aws:s3:::{n}" for n in denied}
    assert all(not r.unknown for r in inventory.resources if r.name not in denied)


def test_users_with_groups_policies_mfa_and_access_keys(inventory, scenario, key_arns) -> None:
    assert {u.name for u in inventory.of_type("aws.iam.user")} == {
        u["name"] for u in scenario["users"]}
    for spec in scenario["users"]:
        arn = iam_arn(scenario, "user", spec["name"])
        user = the(inventory, arn)
        attributes = user.attributes
        assert attributes["groups"] == sorted(spec.get("groups", []))
        assert attributes["attached_policies"] == sorted(
            iam_arn(scenario, "policy", p) for p in spec.get("managed_policies", []))
        assert attributes["inline_policies"] == expand(spec.get("inline_policies", {}),
                                                       scenario, key_arns)
        assert attributes["permissions_boundary"] is None
        assert attributes["mfa_devices"] == []
        assert attributes["login_profile"] is None
        assert user.tags == spec.get("tags", {})
        keys = [k for k in inventory.of_type("aws.iam.access_key") if k.attributes["user"] == arn]
        assert len(keys) == spec.get("access_keys", 0), spec["name"]
        assert attributes["access_keys"] == sorted(k.attributes["access_key_id"] for k in keys)
        for key in keys:
            assert key.id == f"{arn}/access-key/{key.attributes['access_key_id']}"
            assert key.attributes["status"] == "Active"
            assert key.attributes["last_used"]["date"] is None


def test_groups_with_members(inventory, scenario) -> None:
    for spec in scenario["groups"]:
        group = the(inventory, iam_arn(scenario, "group", spec["name"]))
        assert group.attributes["members"] == sorted(
            iam_arn(scenario, "user", u["name"]) for u in scenario["users"]
            if spec["name"] in u.get("groups", []))
        assert group.attributes["attached_policies"] == sorted(
            iam_arn(scenario, "policy", p) for p in spec.get("managed_policies", []))


def test_roles_with_trust_policies_and_boundaries(inventory, scenario, key_arns) -> None:
    assert {r.name for r in inventory.of_type("aws.iam.role")} == {
        r["name"] for r in scenario["roles"]}
    bounded = 0
    for spec in scenario["roles"]:
        role = the(inventory, iam_arn(scenario, "role", spec["name"]))
        attributes = role.attributes
        assert attributes["trust_policy"] == expand(spec["trust_policy"], scenario, key_arns)
        boundary = spec.get("permissions_boundary")
        assert attributes["permissions_boundary"] == (
            iam_arn(scenario, "policy", boundary) if boundary else None)
        bounded += bool(boundary)
        assert attributes["attached_policies"] == sorted(
            iam_arn(scenario, "policy", p) for p in spec.get("managed_policies", []))
        assert attributes["inline_policies"] == expand(spec.get("inline_policies", {}),
                                                       scenario, key_arns)
        assert attributes["service_linked"] is False
        assert role.tags == spec.get("tags", {})
    assert bounded, "the scenario has a role with a permissions boundary"


def test_managed_policies_named_from_their_arn(inventory, scenario, key_arns) -> None:
    for spec in scenario["managed_policies"]:
        policy = the(inventory, iam_arn(scenario, "policy", spec["name"]))
        assert policy.name == spec["name"]
        assert policy.attributes["document"] == expand(spec["document"], scenario, key_arns)
        assert policy.attributes["aws_managed"] is False


def test_kms_keys_with_aliases_rotation_and_policies(inventory, scenario, key_arns) -> None:
    for spec in scenario["kms_keys"]:
        key = key_by_alias(inventory, spec["alias"])
        assert key.id == key_arns[spec["alias"]]
        assert key.name == spec["alias"]
        assert key.region == scenario["region"]
        assert key.attributes["rotation_enabled"] is bool(spec.get("rotation"))
        assert key.attributes["policy"] == expand(spec["policy"], scenario, key_arns)
        assert key.attributes["description"] == spec["description"]
        assert key.attributes["key_spec"] == "SYMMETRIC_DEFAULT"
        assert key.attributes["grants"] == []


def test_no_trails_and_nothing_from_the_empty_second_region(inventory) -> None:
    assert list(inventory.of_type("aws.cloudtrail.trail")) == []
    assert {r.region for r in inventory.of_type("aws.kms.key")} == {"us-east-1"}


# ---------------------------------------------------------------- configuration


def test_the_endpoint_can_come_from_aws_endpoint_url(seeded_aws_org, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", seeded_aws_org.endpoint_url)
    stream = plugins.get("auditor.scanners", "aws")().scan({}, ScanSettings())
    try:
        first = next(stream)
        assert isinstance(first, Scope)
        # the default region is the session's (AWS_DEFAULT_REGION in the test environment)
        assert first.regions == ("us-east-1",)
        assert any(isinstance(r, Resource) and r.type == "aws.s3.bucket" for r in stream)
    finally:
        stream.close()  # stops the scan's workers early


def test_an_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no-such-profile"):
        list(AwsScanner().scan({"profile": "no-such-profile"}, ScanSettings()))


def test_permissions_are_read_only_iam_actions() -> None:
    assert AwsScanner.permissions == tuple(sorted(set(AwsScanner.permissions)))
    for permission in AwsScanner.permissions:
        service, action = permission.split(":")
        levels = {entry["access_level"] for entry in get_action_data(service, action)[service]}
        assert levels <= {"Read", "List"}, permission


def test_operations_outside_the_declared_table_cannot_be_called(aws_endpoint) -> None:
    api = AwsApi(AwsClients(session_for_profile(None), endpoint_url=aws_endpoint))
    with pytest.raises(LookupError, match="s3:PutObject"):
        api.call("s3", "PutObject", Bucket="b", Key="k", Body=b"")


# ---------------------------------------------------------------- the seeder


def test_the_packaged_demo_scenario_is_the_test_scenario() -> None:
    assert demo_scenario() == load_scenario(DATA / "aws-ml-org.json")


@pytest.mark.parametrize("endpoint", ["", "https://s3.us-east-1.amazonaws.com", "ftp://x"])
def test_the_seeder_refuses_anything_but_an_emulator(endpoint, aws_ml_org_scenario) -> None:
    with pytest.raises(ConfigError):
        seed(aws_ml_org_scenario, endpoint)


def test_the_seeder_rejects_user_boundaries_naming_the_place(aws_ml_org_scenario) -> None:
    scenario = copy.deepcopy(aws_ml_org_scenario)
    scenario["users"][1]["permissions_boundary"] = "ml-training-boundary"
    with pytest.raises(InputError) as caught:
        seed(scenario, "http://127.0.0.1:9")
    assert caught.value.location == "$.users[1].permissions_boundary"


def test_emulator_credentials_are_fake_and_temporary(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKING")
    monkeypatch.setenv("AWS_PROFILE", "production")
    with emulator_credentials("123456789012"):
        assert os.environ["AWS_ACCESS_KEY_ID"] == "123456789012"
        assert "AWS_PROFILE" not in os.environ
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAREALLOOKING"
    assert os.environ["AWS_PROFILE"] == "production"


def test_a_malformed_scenario_file_names_the_line(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"account_id": "1",\n "region": }', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    assert caught.value.source == str(path)
    assert caught.value.location.startswith("line 2")


# ---------------------------------------------------------------- own emulator state


def small_org(account: str, region: str) -> dict[str, Any]:
    root = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*", "Resource": "*"}
    return {
        "name": "denied-calls", "account_id": account, "region": region,
        "users": [{"name": "limited-auditor", "inline_policies": {"scan": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                          {"Effect": "Deny", "Action": ["s3:GetBucketPolicy",
                                                        "kms:GetKeyPolicy"],
                           "Resource": "*"}]}}}],
        "kms_keys": [{"alias": "alias/denied-test", "description": "test key",
                      "policy": {"Version": "2012-10-17", "Statement": [root]}}],
        "buckets": [{"name": "denied-test-bucket", "tags": {"team": "t"},
                     "policy": {"Version": "2012-10-17", "Statement": [{
                         "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::denied-test-bucket/*"}]},
                     "objects": [{"key": "a.parquet"}]}],
    }


@pytest.mark.usefixtures("moto_iam_enforcement")
def test_denied_calls_become_collection_errors_and_the_scan_goes_on(
        fresh_aws, aws_ml_org_scenario, tmp_path, monkeypatch) -> None:
    account, region = aws_ml_org_scenario["account_id"], aws_ml_org_scenario["region"]
    fresh_aws.seed(small_org(account, region))
    iam = boto3.client("iam", endpoint_url=fresh_aws.endpoint_url)
    key_as_profile(iam, "limited-auditor", "limited", tmp_path, monkeypatch)

    enforce_iam(fresh_aws.endpoint_url, True)
    try:
        inventory = scan({"profile": "limited", "endpoint_url": fresh_aws.endpoint_url})
    finally:
        enforce_iam(fresh_aws.endpoint_url, False)

    assert inventory.scopes[0].account == account
    found = bucket(inventory, "denied-test-bucket")
    assert found.unknown == ["policy"]
    assert found.attributes["policy"] is None
    assert found.tags == {"team": "t"}  # the other calls about the bucket went on
    assert [item["key"] for item in found.attributes["object_sample"]] == ["a.parquet"]
    key = key_by_alias(inventory, "alias/denied-test")
    assert key.unknown == ["policy"]
    assert key.attributes["rotation_enabled"] is False
    failures = {(e.resource_id, e.service, e.operation, e.code, e.attribute)
                for e in inventory.errors}
    assert failures == {
        (found.id, "s3", "GetBucketPolicy", "AccessDenied", "policy"),
        (key.id, "kms", "GetKeyPolicy", "AccessDenied", "policy")}
    assert the(inventory, iam_arn({"account_id": account}, "user", "limited-auditor"))


@pytest.mark.usefixtures("moto_iam_enforcement")
def test_credentials_the_endpoint_rejects_yield_one_error_not_a_crash(aws_emulator) -> None:
    # with IAM enforced, moto knows no access key "testing": the first call is refused
    enforce_iam(aws_emulator.endpoint_url, True)
    try:
        records = list(AwsScanner().scan({"endpoint_url": aws_emulator.endpoint_url},
                                         ScanSettings()))
    finally:
        enforce_iam(aws_emulator.endpoint_url, False)
    assert [(type(r).__name__, r.service, r.operation, r.code) for r in records] == [
        ("CollectionError", "sts", "GetCallerIdentity", "InvalidClientTokenId")]


def test_two_scans_of_one_account_are_byte_identical(fresh_aws, aws_ml_org_scenario) -> None:
    scenario = copy.deepcopy(aws_ml_org_scenario)
    for spec in scenario["buckets"]:
        # moto writes a new access-log object into the target on every request, as AWS
        # would: the log bucket would really differ between two scans
        spec["logging_target"] = None
    fresh_aws.seed(scenario)
    trail_bucket = scenario["buckets"][0]["name"]
    cloudtrail = boto3.client("cloudtrail", endpoint_url=fresh_aws.endpoint_url)
    cloudtrail.create_trail(Name="org-audit", S3BucketName=trail_bucket,
                            IsMultiRegionTrail=True, EnableLogFileValidation=True)
    cloudtrail.start_logging(Name="org-audit")
    config = {"endpoint_url": fresh_aws.endpoint_url, "regions": ["us-east-1", SECOND_REGION]}

    first, second = scan(config), scan(config)

    assert to_json(first) == to_json(second)
    assert len(list(first.of_type("aws.s3.bucket"))) == len(scenario["buckets"])
    [trail] = first.of_type("aws.cloudtrail.trail")  # a multi-region trail, reported once
    assert trail.region == "us-east-1"
    assert trail.attributes["is_multi_region"] is True
    assert trail.attributes["is_logging"] is True
    assert trail.attributes["log_file_validation"] is True
    assert trail.attributes["s3_bucket_name"] == trail_bucket
