"""Whole AWS organizations on a moto server: every account, the OU tree, SCPs and RCPs, account
filters, progress, and a sharded scan merged back into the single scan's findings.

The organization is built here through the real Organizations and STS APIs (moto's
``create_account`` makes member accounts; AssumeRole into one returns credentials for it), and
every expected value comes from how it was built, never from the scanner's output.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from auditor import pipeline
from auditor.access.aws.analyzer import AwsAnalyzer
from auditor.access.query import who_can
from auditor.classify.model import Classification
from auditor.errors import ConfigError
from auditor.executors.local import InProcessExecutor
from auditor.executors.profile_scan import scan_providers
from auditor.inventory import Inventory, Resource
from auditor.inventory.io import load, save, to_json
from auditor.inventory.merge import merge_parts
from auditor.inventory.shard import ShardSpec, write_part
from auditor.report.json_report import JsonRenderer
from auditor.scanners.aws.api import PERMISSIONS
from auditor.scanners.aws.scanner import AwsScanner
from auditor.scanners.aws.sessions import SESSION_POLICY_LIMIT, read_only_session_policy
from auditor.scanners.base import ScanSettings
from auditor.scanners.runner import Progress, report_progress

pytestmark = pytest.mark.emulator

MANAGEMENT = "123456789012"  # moto's default account: the base credentials' account
ENTRY_ROLE = "OrganizationAccountAccessRole"
FROZEN_EPOCH = "1798675200"  # 2027-01-01T00:00:00Z
DENY_S3_DELETE = {"Version": "2012-10-17", "Statement": [
    {"Sid": "NoBucketDeletion", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}
REGION_LOCK = {"Version": "2012-10-17", "Statement": [
    {"Sid": "OnlyUsEast1", "Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
     "Condition": {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}}]}
NO_EXTERNAL_READS = {"Version": "2012-10-17", "Statement": [
    {"Sid": "OrgOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
     "Resource": "*", "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-x"}}}]}
TRUST_EC2 = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@dataclass(slots=True)
class Org:
    endpoint_url: str
    id: str
    root: str
    ous: dict[str, str]  # name -> id
    accounts: dict[str, str]  # name -> id; "management" is the base credentials' account
    policies: dict[str, str] = field(default_factory=dict)  # name -> ARN
    buckets: dict[str, str] = field(default_factory=dict)  # bucket -> account id
    roles: dict[str, str] = field(default_factory=dict)  # role ARN -> account id

    @property
    def active(self) -> set[str]:
        return {account for name, account in self.accounts.items() if name != "closed"}


def member_session(endpoint_url: str, account: str) -> boto3.Session:
    """Credentials for ``account`` from AssumeRole, as the scanner gets them."""
    sts = boto3.client("sts", endpoint_url=endpoint_url)
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ENTRY_ROLE}",
                                  RoleSessionName="test-setup")["Credentials"]
    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"], region_name="us-east-1")


def build_org(endpoint_url: str) -> Org:
    """Root -> ml -> training; accounts: trainer (in training), research (in ml), sandbox (at
    the root), closed (suspended). Each active account holds a bucket and a role; the trainer's
    bucket is public."""
    client = boto3.client("organizations", endpoint_url=endpoint_url)
    org_id = client.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = client.list_roots()["Roots"][0]["Id"]
    for policy_type in ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"):
        client.enable_policy_type(RootId=root, PolicyType=policy_type)
    ml = client.create_organizational_unit(ParentId=root, Name="ml")["OrganizationalUnit"]["Id"]
    training = client.create_organizational_unit(ParentId=ml, Name="training")[
        "OrganizationalUnit"]["Id"]
    org = Org(endpoint_url, org_id, root, {"ml": ml, "training": training},
              {"management": MANAGEMENT})
    for name, parent in (("trainer", training), ("research", ml), ("sandbox", None),
                         ("closed", None)):
        account = client.create_account(Email=f"{name}@example.com", AccountName=name)[
            "CreateAccountStatus"]["AccountId"]
        if parent:
            client.move_account(AccountId=account, SourceParentId=root,
                                DestinationParentId=parent)
        org.accounts[name] = account
    client.close_account(AccountId=org.accounts["closed"])
    for name, kind, document, target in (
            ("deny-bucket-deletion", "SERVICE_CONTROL_POLICY", DENY_S3_DELETE, ml),
            ("region-lock", "SERVICE_CONTROL_POLICY", REGION_LOCK, org.accounts["trainer"]),
            ("no-external-reads", "RESOURCE_CONTROL_POLICY", NO_EXTERNAL_READS, root)):
        policy = client.create_policy(Content=json.dumps(document), Description=name,
                                      Name=name, Type=kind)["Policy"]["PolicySummary"]
        client.attach_policy(PolicyId=policy["Id"], TargetId=target)
        org.policies[name] = policy["Arn"]
    for kind in ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"):
        for policy in client.list_policies(Filter=kind)["Policies"]:
            org.policies.setdefault(policy["Name"], policy["Arn"])
    for name in ("management", "trainer", "research", "sandbox"):
        _seed_account(org, name)
    return org


def _seed_account(org: Org, name: str) -> None:
    account = org.accounts[name]
    session = (boto3.Session(region_name="us-east-1") if name == "management"
               else member_session(org.endpoint_url, account))
    s3 = session.client("s3", endpoint_url=org.endpoint_url)
    bucket = f"{name}-training-data-{account}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="shard-000.parquet", Body=b"rows")
    if name == "trainer":
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    org.buckets[bucket] = account
    iam = session.client("iam", endpoint_url=org.endpoint_url)
    role = iam.create_role(RoleName=f"{name}-pipeline",
                           AssumeRolePolicyDocument=json.dumps(TRUST_EC2))["Role"]["Arn"]
    org.roles[role] = account


@pytest.fixture(scope="module")
def org(fresh_aws_module) -> Org:
    return build_org(fresh_aws_module.endpoint_url)


def org_config(org: Org, **extra: Any) -> dict[str, Any]:
    return {"endpoint_url": org.endpoint_url, "organization": True, "role_name": ENTRY_ROLE,
            **extra}


def scan(config: Mapping[str, Any], settings: ScanSettings | None = None) -> Inventory:
    inventory = Inventory()
    inventory.add(AwsScanner().scan(config, settings or ScanSettings()))
    return inventory


@pytest.fixture(scope="module")
def inventory(org: Org) -> Inventory:
    return scan(org_config(org))


def of_type(inventory: Inventory, kind: str) -> dict[str, Resource]:
    return {resource.id: resource for resource in inventory.of_type(kind)}


def org_account(inventory: Inventory, account: str) -> Resource:
    [found] = [r for r in inventory.of_type("aws.organizations.account") if r.account == account]
    return found


# ---------------------------------------------------------------- every account


def test_every_active_account_is_a_scope(inventory, org) -> None:
    assert {scope.account for scope in inventory.scopes} == org.active
    assert not inventory.errors


def test_each_account_is_scanned_with_its_own_credentials(inventory, org) -> None:
    buckets = of_type(inventory, "aws.s3.bucket")
    assert {bucket.name: bucket.account for bucket in buckets.values()} == org.buckets
    roles = {arn: role.account for arn, role in of_type(inventory, "aws.iam.role").items()}
    # like AWS, moto's CreateAccount makes the role the management account enters by
    entry_roles = {f"arn:aws:iam::{account}:role/{ENTRY_ROLE}": account
                   for account in org.active - {MANAGEMENT}}
    assert roles == org.roles | entry_roles
    callers = {r.account: r.attributes["caller_arn"] for r in inventory.of_type("aws.account")}
    assert set(callers) == org.active
    for account, caller in callers.items():
        if account == MANAGEMENT:  # the base credentials, not a role
            assert ":assumed-role/" not in caller
        else:
            assert caller.startswith(f"arn:aws:sts::{account}:assumed-role/{ENTRY_ROLE}/")
    assert {r.attributes["organization_id"] for r in inventory.of_type("aws.account")} == {
        org.id}


# ---------------------------------------------------------------- the organization


def test_organization_accounts_with_their_place_in_the_tree(inventory, org) -> None:
    accounts = list(inventory.of_type("aws.organizations.account"))
    # every account of the organization, the suspended one too (it is not scanned)
    assert {r.account for r in accounts} == set(org.accounts.values())
    expected_parents = {"trainer": ["Root", "ml", "training"], "research": ["Root", "ml"],
                        "sandbox": ["Root"], "closed": ["Root"], "management": ["Root"]}
    for name, account in org.accounts.items():
        record = org_account(inventory, account)
        assert [p["name"] for p in record.attributes["parents"]] == expected_parents[name]
        assert record.attributes["parents"][0] | {"name": None, "arn": None} == {
            "id": org.root, "type": "ROOT", "name": None, "arn": None}
        assert record.attributes["organization_id"] == org.id
        assert record.attributes["management_account_id"] == MANAGEMENT
        assert record.attributes["is_management_account"] is (name == "management")
        assert record.attributes["status"] == ("SUSPENDED" if name == "closed" else "ACTIVE")
        if name != "management":  # moto names the management account itself
            assert record.name == name
        assert not record.unknown


def levels(record: Resource, attribute: str) -> list[tuple[str, str, set[str]]]:
    return [(level["target_id"], level["target_type"], set(level["policies"]))
            for level in record.attributes[attribute]]


def test_scp_levels_run_from_the_root_through_the_ous_to_the_account(inventory, org) -> None:
    full = org.policies["FullAWSAccess"]  # AWS attaches it to the root, each OU and account
    trainer = org.accounts["trainer"]
    assert levels(org_account(inventory, trainer), "service_control_policies") == [
        (org.root, "ROOT", {full}),
        (org.ous["ml"], "ORGANIZATIONAL_UNIT", {full, org.policies["deny-bucket-deletion"]}),
        (org.ous["training"], "ORGANIZATIONAL_UNIT", {full}),
        (trainer, "ACCOUNT", {full, org.policies["region-lock"]})]
    sandbox = org.accounts["sandbox"]
    assert levels(org_account(inventory, sandbox), "service_control_policies") == [
        (org.root, "ROOT", {full}), (sandbox, "ACCOUNT", {full})]


def test_rcp_levels_and_the_management_account_is_never_governed(inventory, org) -> None:
    full = org.policies["RCPFullAWSAccess"]
    research = org.accounts["research"]
    assert levels(org_account(inventory, research), "resource_control_policies") == [
        (org.root, "ROOT", {full, org.policies["no-external-reads"]}),
        (org.ous["ml"], "ORGANIZATIONAL_UNIT", {full}),
        (research, "ACCOUNT", {full})]
    management = org_account(inventory, MANAGEMENT).attributes
    assert management["service_control_policies"] is None
    assert management["resource_control_policies"] is None


def test_policies_with_their_documents_and_targets(inventory, org) -> None:
    policies = of_type(inventory, "aws.organizations.policy")
    assert set(policies) == set(org.policies.values())
    region_lock = policies[org.policies["region-lock"]]
    assert region_lock.attributes["document"] == REGION_LOCK
    assert region_lock.attributes["policy_type"] == "SERVICE_CONTROL_POLICY"
    assert region_lock.attributes["aws_managed"] is False
    assert [(t["target_id"], t["target_type"]) for t in region_lock.attributes["targets"]] == [
        (org.accounts["trainer"], "ACCOUNT")]
    rcp = policies[org.policies["no-external-reads"]]
    assert rcp.attributes["document"] == NO_EXTERNAL_READS
    assert rcp.attributes["policy_type"] == "RESOURCE_CONTROL_POLICY"
    assert policies[org.policies["FullAWSAccess"]].attributes["aws_managed"] is True


# ---------------------------------------------------------------- guardrails in effective access


def account_bucket(org: Org, name: str) -> str:
    [bucket] = [b for b, account in org.buckets.items() if account == org.accounts[name]]
    return f"arn:aws:s3:::{bucket}"


def answers(inventory: Inventory, bucket: str, action: str) -> dict[str, str]:
    return {g.principal: g.decision for g in who_can(inventory, bucket, action)}


def without_organization(inventory: Inventory) -> Inventory:
    """The same scan as a single account would see it: no Organizations records."""
    found = Inventory()
    found.add([*inventory.scopes, *inventory.errors])
    found.add(r for r in inventory.resources if not r.type.startswith("aws.organizations."))
    return found


def root_of(org: Org, name: str) -> str:
    return f"arn:aws:iam::{org.accounts[name]}:root"


def test_the_ml_ous_scp_keeps_its_accounts_from_deleting_buckets(inventory, org) -> None:
    """deny-bucket-deletion on the ml OU governs research (in ml) and trainer (in ml/training),
    not sandbox, and never the management account."""
    for name in ("research", "trainer"):
        assert answers(inventory, account_bucket(org, name), "s3:DeleteBucket") == {}
        assert answers(without_organization(inventory), account_bucket(org, name),
                       "s3:DeleteBucket") == {root_of(org, name): "allow"}
    for name in ("sandbox", "management"):
        assert answers(inventory, account_bucket(org, name), "s3:DeleteBucket") == {
            root_of(org, name): "allow"}


def test_the_region_lock_lets_requests_to_the_region_through(inventory, org) -> None:
    """region-lock on the trainer account denies outside us-east-1; its bucket is there."""
    assert answers(inventory, account_bucket(org, "trainer"), "s3:PutObject") == {
        root_of(org, "trainer"): "allow"}


def test_the_roots_rcp_governs_member_buckets_for_every_caller(inventory, org) -> None:
    """no-external-reads (aws:PrincipalOrgID must be "o-x", which this organization is not)
    denies s3:GetObject on member accounts' buckets: to the public the trainer's bucket policy
    lets in, to the members' own root users, and to any principal of another account unless
    its organization is o-x. The management account's resources are not governed."""
    trainer = account_bucket(org, "trainer")
    public = answers(without_organization(inventory), trainer, "s3:GetObject")
    assert {"*", "arn:aws:iam::*:root", root_of(org, "sandbox")} <= public.keys()
    [anyone] = who_can(inventory, trainer, "s3:GetObject")
    assert (anyone.principal, anyone.decision) == ("arn:aws:iam::*:root", "conditional")
    assert [c["policy"] for c in anyone.conditions] == [org.policies["no-external-reads"]]
    assert answers(inventory, account_bucket(org, "research"), "s3:GetObject") == {}
    assert answers(inventory, account_bucket(org, "management"), "s3:GetObject") == {
        root_of(org, "management"): "allow"}


def test_levels_that_could_not_be_read_leave_grants_that_may_not_hold(
        inventory, org, tmp_path) -> None:
    """research's levels not collected: its answers are those of no SCP at all, and the
    analysis says which grants the SCPs could remove."""
    save(inventory, tmp_path / "inventory.json")
    damaged = load(tmp_path / "inventory.json")
    record = org_account(damaged, org.accounts["research"])
    record.unknown.append("service_control_policies")
    research = account_bucket(org, "research")
    assert answers(damaged, research, "s3:DeleteBucket") == {root_of(org, "research"): "allow"}
    [asset] = AwsAnalyzer().analyze(damaged, {research: Classification("training-data")})
    assert asset.grants and not asset.unknown
    assert asset.may_not_hold == [
        f"the SCPs of account {org.accounts['research']} are not known ({record.id}: "
        "service_control_policies not collected): they could only deny, so grants to its "
        "principals may not hold"]
    [intact] = AwsAnalyzer().analyze(inventory, {research: Classification("training-data")})
    assert intact.may_not_hold == []


# ---------------------------------------------------------------- choosing accounts


def test_accounts_and_exclude_accounts_choose_members(org) -> None:
    trainer, research, sandbox = (org.accounts[n] for n in ("trainer", "research", "sandbox"))
    outsider = "999999999999"
    found = scan(org_config(org, accounts=[trainer, research, org.accounts["closed"], outsider],
                            exclude_accounts=[research]))
    assert {scope.account for scope in found.scopes} == {trainer}
    assert {b.account for b in found.of_type("aws.s3.bucket")} == {trainer}
    not_members = {(e.account, e.code) for e in found.errors}
    assert not_members == {(org.accounts["closed"], "NotAnActiveMember"),
                           (outsider, "NotAnActiveMember")}
    # the organization's metadata is read whatever accounts are scanned
    assert sandbox in {r.account for r in found.of_type("aws.organizations.account")}


def test_named_accounts_without_the_organization_listing(org) -> None:
    sandbox = org.accounts["sandbox"]
    found = scan({"endpoint_url": org.endpoint_url, "role_name": ENTRY_ROLE,
                  "accounts": [sandbox, MANAGEMENT]})
    assert {scope.account for scope in found.scopes} == {sandbox, MANAGEMENT}
    assert not list(found.of_type("aws.organizations.account"))


@pytest.mark.parametrize(("config", "location"), [
    ({"accounts": ["12345678901"]}, "aws.accounts[0]"),
    ({"exclude_accounts": ["123456789012", "abc"]}, "aws.exclude_accounts[1]"),
    ({"role_name": "no spaces allowed"}, "aws.role_name"),
    ({"role_name": None}, "aws.role_name"),  # members to enter, and no role to enter them
])
def test_bad_organization_settings_are_config_errors(org, config, location) -> None:
    with pytest.raises(ConfigError) as caught:
        list(AwsScanner().scan(org_config(org) | config, ScanSettings()))
    assert caught.value.location == location


def test_the_session_is_read_only_and_fits_in_a_session_policy() -> None:
    policy = read_only_session_policy()
    assert len(policy) <= SESSION_POLICY_LIMIT
    [statement] = json.loads(policy)["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == list(PERMISSIONS)
    assert AwsScanner.entry_permissions == ("sts:AssumeRole",)
    assert "sts:AssumeRole" not in AwsScanner.permissions


# ---------------------------------------------------------------- parallelism and progress


def test_progress_names_accounts_regions_and_services(org) -> None:
    events: list[Progress] = []
    threads: set[int] = set()

    def record(progress: Progress) -> None:
        events.append(progress)
        threads.add(threading.get_ident())

    with report_progress(record):
        found = scan(org_config(org, regions=["us-east-1", "eu-west-1"]),
                     ScanSettings(max_workers=3))
    assert threads == {threading.get_ident()}  # the consumer's thread only
    units = len(org.active) + 1  # every active account, and the organization's metadata
    last = events[-1]
    assert (last.units_submitted, last.units_finished) == (units, units)
    assert last.finished == last.submitted == sum(e.event == "started" for e in events)
    assert {e.account for e in events if e.service == "s3"} == org.active
    assert {e.region for e in events if e.service == "kms"} == {"us-east-1", "eu-west-1"}
    assert {"s3", "iam", "kms", "cloudtrail", "organizations"} <= {e.service for e in events}
    assert all(e.depth == 1 for e in events if e.service == "s3")
    assert all(e.finished <= e.started <= e.submitted for e in events)
    assert {scope.account for scope in found.scopes} == org.active


def without_own_traces(inventory: Inventory) -> Inventory:
    """Entering an account through its role is a use of the role, which AWS (and moto) record
    as the role's last use: the one thing a scan changes. It is set to a stand-in, so that two
    scans of the same organization can be compared byte for byte."""
    for role in inventory.of_type("aws.iam.role"):
        if role.name == ENTRY_ROLE and role.attributes["last_used"]:
            role.attributes["last_used"] = {"date": "set by the scan itself", "region": None}
    return inventory


def test_one_account_at_a_time_gives_the_same_inventory(org) -> None:
    providers = {"aws": org_config(org)}
    parallel = scan_providers(providers, ScanSettings(max_workers=8),
                              executor=InProcessExecutor(max_units=4)).inventory
    sequential = scan_providers(providers, ScanSettings(max_workers=1),
                                executor=InProcessExecutor(max_units=1)).inventory
    assert to_json(without_own_traces(sequential)) == to_json(without_own_traces(parallel))


# ---------------------------------------------------------------- shards


def findings_json(inventory: Inventory) -> str:
    result = pipeline.evaluate(inventory, pipeline.EvaluationOptions())
    return JsonRenderer().render(result)


def test_three_shards_merged_give_the_single_scans_findings(org, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", FROZEN_EPOCH)
    providers = {"aws": org_config(org)}
    single = without_own_traces(scan_providers(providers, ScanSettings()).inventory)
    parts = []
    for index in (1, 2, 3):
        outcome = scan_providers(providers, ScanSettings(), shard=ShardSpec(index, 3))
        assert outcome.shard is not None
        path = tmp_path / f"part-{index}.json"
        write_part(without_own_traces(outcome.inventory), outcome.shard, path)
        parts.append(path)
    merged = merge_parts(list(reversed(parts)))
    save(merged, tmp_path / "merged.json")

    assert to_json(merged) == to_json(single)
    single_findings = findings_json(single)
    assert findings_json(merged) == single_findings
    assert any(finding["status"] == "fail" for finding in json.loads(single_findings)["findings"])


def test_a_shard_scans_only_its_units(org) -> None:
    spec = ShardSpec(2, 3)
    outcome = scan_providers({"aws": org_config(org)}, ScanSettings(), shard=spec)
    assert outcome.shard is not None
    scanned = {scope.account for scope in outcome.inventory.scopes}
    assert {f"aws:{account}" for account in scanned} <= set(outcome.shard.units)
    assert all(spec.owns(unit) for unit in outcome.shard.units)
    assert outcome.shard.planned == len(org.active) + 1


def test_a_scan_without_credentials_for_the_management_account_plans_nothing(
        org, monkeypatch, tmp_path) -> None:
    missing = tmp_path / "empty-credentials"
    missing.write_text("", encoding="utf-8")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(missing))
    records = list(AwsScanner().scan(org_config(org), ScanSettings()))
    assert [(type(r).__name__, r.operation, r.code) for r in records] == [
        ("CollectionError", "GetCallerIdentity", "NoCredentialsError")]
