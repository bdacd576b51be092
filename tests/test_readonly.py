"""Read-only by proof (tests/readonly_plugin.py): whole scans of AWS (the ML org on the moto
server, and a second account entered through AssumeRole) and GCP (the live scanner against the
recorded gRPC responses and the Cloud Storage emulator of tests/test_gcp_live.py) are recorded
on the wire, and every call must be a read that the policy printed by `audit permissions`
grants.

The recorder is checked too: planted writes and ungranted reads are caught, the scanner's
calls carry the auditor's user agent, and writes by test setup and delivery are not the
auditor's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from click.testing import CliRunner

from auditor import pipeline
from auditor.cli import main
from auditor.config import Profile
from auditor.scanners.aws.clients import AwsClients, session_for_profile
from auditor.scanners.base import ScanSettings
from tests import readonly_plugin as plugin
from tests import test_gcp_live as gcp_live
from tests.conftest import EMULATED_ACCOUNT, TEST_REGION

REPOSITORY = Path(__file__).resolve().parent.parent
ENTRY_ROLE = "AuditReader"
OTHER_ACCOUNT = "111111111111"
# the GCP scanner's tests' Cloud Storage emulator, seeded with the development scenario
storage_emulator = gcp_live.storage_emulator


@pytest.fixture(scope="module")
def aws_calls(seeded_aws_org: Any) -> list[plugin.Call]:
    """Every call of a scan of two accounts: the ML org's, with the base credentials, and
    another one entered through AssumeRole (an empty account: nothing is changed for the
    other tests)."""
    profile = Profile(name="readonly", source="test", scan=ScanSettings(max_workers=4),
                      providers={"aws": {"endpoint_url": seeded_aws_org.endpoint_url,
                                         "regions": [TEST_REGION], "role_name": ENTRY_ROLE,
                                         "accounts": [EMULATED_ACCOUNT, OTHER_ACCOUNT]}})
    with plugin.recording() as recorder:
        inventory = pipeline.scan(profile)
    # the scan reached both accounts, so the record is of a whole scan
    assert {scope.account for scope in inventory.scopes} == {EMULATED_ACCOUNT, OTHER_ACCOUNT}
    assert len(list(inventory.of_type("aws.s3.bucket"))) == len(seeded_aws_org.scenario["buckets"])
    return recorder.calls


@pytest.fixture(scope="module")
def gcp_calls(storage_emulator: str) -> list[plugin.Call]:
    """Every call of a live scan of the recorded project, with the development scenario's
    buckets and objects in the Cloud Storage emulator."""
    with plugin.recording() as recorder:
        scan = gcp_live.live_scan(storage_emulator, gcp_live.RECORDED)
    assert any(resource.type == "gcp.storage.bucket" for resource in scan.inventory.resources)
    return recorder.calls


def operations(calls: list[plugin.Call]) -> set[str]:
    return {call.operation for call in calls if call.reads_cloud}


def test_the_plugin_records_the_whole_suite() -> None:
    assert plugin.is_active(), (
        "tests/readonly_plugin.py is not registered: add pytest_plugins = "
        "[\"tests.readonly_plugin\"] to tests/conftest.py so that every test is checked")


def test_an_aws_scan_of_two_accounts_is_read_only_and_granted(aws_calls: list[plugin.Call]) -> None:
    # the scan touched every service it reads, each through the wire the recorder watches
    assert {"ListBuckets", "GetBucketPolicy", "ListObjectsV2", "GetAccountAuthorizationDetails",
            "ListKeys", "GetKeyPolicy", "DescribeTrails", "DescribeOrganization", "AssumeRole",
            "GetPublicAccessBlock"} <= operations(aws_calls)
    assert plugin.problems(aws_calls) == []


def test_the_scanners_aws_calls_carry_the_auditor_user_agent(aws_calls: list[plugin.Call]) -> None:
    scanner_calls = [call for call in aws_calls if call.reads_cloud]
    assert scanner_calls and all(call.by_auditor for call in scanner_calls)
    assert all(call.origin and call.origin.startswith("scanners/aws/") for call in scanner_calls)


def test_a_gcp_live_scan_is_read_only_and_granted(gcp_calls: list[plugin.Call]) -> None:
    assert {"/google.cloud.resourcemanager.v3.Projects/GetProject",
            "/google.cloud.resourcemanager.v3.Projects/GetIamPolicy",
            "/google.iam.admin.v1.IAM/ListServiceAccounts",
            "/google.cloud.kms.v1.KeyManagementService/ListKeyRings",
            "/google.iam.v1.IAMPolicy/GetIamPolicy",
            "GET /b"} <= operations(gcp_calls)
    storage = {call.permission for call in gcp_calls if call.service == "storage"}
    assert {"storage.buckets.getIamPolicy", "storage.objects.list",
            "storage.objects.getIamPolicy"} <= storage
    assert plugin.problems(gcp_calls) == []


def test_the_printed_policies_grant_every_recorded_call(aws_calls: list[plugin.Call],
                                                        gcp_calls: list[plugin.Call]) -> None:
    runner = CliRunner()
    aws = runner.invoke(main, ["permissions", "--provider", "aws", "--role-name", ENTRY_ROLE])
    gcp = runner.invoke(main, ["permissions", "--provider", "gcp", "--format", "yaml"])
    assert aws.exit_code == 0 and gcp.exit_code == 0, aws.output + gcp.output
    printed = {"aws": {action for statement in json.loads(aws.output)["Statement"]
                       for action in statement["Action"]},
               "gcp": set(yaml.safe_load(gcp.output)["includedPermissions"])}
    needed = {(call.provider, call.permission) for call in aws_calls + gcp_calls
              if call.reads_cloud and call.permission != ""}
    assert needed and all(permission in printed[provider] for provider, permission in needed), \
        sorted(p for p in needed if p[1] not in printed[p[0]])


# -- the recorder catches what it must, and only that ---------------------------------------------
def test_a_write_through_the_auditors_client_factory_is_caught(aws_endpoint: str) -> None:
    with plugin.recording(isolated=True) as recorder:
        client = AwsClients(session_for_profile(None), endpoint_url=aws_endpoint).client("s3")
        stub = Stubber(client)
        stub.activate()
        stub.add_response("create_bucket", {})  # answered locally: nothing reaches the emulator
        client.create_bucket(Bucket="planted-write")
    [call] = recorder.calls
    assert (call.operation, call.by_auditor, call.read_only) == ("CreateBucket", True, False)
    assert plugin.problems(recorder.calls) == [f"not read-only: {call.describe()}"]


def test_writes_by_test_setup_are_recorded_but_not_the_auditors(aws_endpoint: str) -> None:
    with plugin.recording(isolated=True) as recorder:
        client = boto3.client("s3", endpoint_url=aws_endpoint)
        stub = Stubber(client)
        stub.activate()
        stub.add_response("put_object", {})
        client.put_object(Bucket="fixture", Key="k", Body=b"x")
    [call] = recorder.calls
    assert (call.operation, call.by_auditor, call.origin) == ("PutObject", False, None)
    assert plugin.problems(recorder.calls) == []


WRITE_BY_CLOUD_READER = {"not read-only", "not granted"}


@pytest.mark.parametrize(("call", "expected"), [
    (plugin.aws_call("s3", "s3", "PutBucketPolicy", "", "scanners/aws/s3.py"), WRITE_BY_CLOUD_READER),
    (plugin.aws_call("s3", "s3", "GetObject", "auditor/1", "scanners/aws/s3.py"), {"not granted"}),
    (plugin.aws_call("iam", "iam", "DeleteUser", "auditor/1", None), {"not read-only"}),
    (plugin.aws_call("sts", "sts", "AssumeRole", "auditor/1", "scanners/aws/api.py"), set()),
    (plugin.aws_call("s3", "s3", "PutObject", "auditor-deliver", "deliver/s3.py"), set()),
    (plugin.aws_call("iam", "iam", "CreateRole", "auditor-demo-seed/1", "demo/seed.py"), set()),
    (plugin.aws_call("s3", "s3", "PutObject", "", "scanners/aws/log_objects.py"), WRITE_BY_CLOUD_READER),
    (plugin.aws_call("s3", "s3", "GetObject", "auditor/1", "scanners/aws/log_objects.py"), set()),
    (plugin.aws_call("s3", "s3", "ListObjectsV2", "auditor/1", "scanners/aws/log_objects.py"), set()),
    (plugin.aws_call("iam", "iam", "ListUsers", "auditor/1", "scanners/aws/log_objects.py"),
     {"not granted"}),
    (plugin.grpc_call("/google.cloud.resourcemanager.v3.Projects/SetIamPolicy",
                      "projects/p", "scanners/gcp/hierarchy.py"), WRITE_BY_CLOUD_READER),
    (plugin.grpc_call("/google.iam.v1.IAMPolicy/GetIamPolicy",
                      "projects/p/locations/l/keyRings/r/cryptoKeys/k", "scanners/gcp/kms.py"), set()),
    (plugin.grpc_call("/google.iam.admin.v1.IAM/SignBlob", "", "scanners/gcp/iam.py"),
     WRITE_BY_CLOUD_READER),
    (plugin.storage_call("POST", "http://h/storage/v1/b?project=p", "scanners/gcp/storage.py"),
     WRITE_BY_CLOUD_READER),
    (plugin.storage_call("GET", "http://h/storage/v1/b/x/o/a%2Fb.bin", "scanners/gcp/storage.py"),
     {"not granted"}),
    (plugin.storage_call("PUT", "http://h/upload/storage/v1/b/x/o", "deliver/gs.py"), set()),
])
def test_each_kind_of_call_is_judged_by_who_made_it(call: plugin.Call, expected: set[str]) -> None:
    assert {problem.split(":")[0] for problem in plugin.problems([call])} == expected


def test_the_plugin_fails_the_test_that_writes(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(textwrap.dedent("""
        from botocore.stub import Stubber
        from auditor.scanners.aws.clients import AwsClients
        import boto3

        def test_writes():
            client = AwsClients(boto3.session.Session(region_name="us-east-1"),
                                endpoint_url="http://127.0.0.1:9").client("iam")
            with Stubber(client) as stub:
                stub.add_response("delete_user", {})
                client.delete_user(UserName="victim")

        def test_reads():
            client = AwsClients(boto3.session.Session(region_name="us-east-1"),
                                endpoint_url="http://127.0.0.1:9").client("iam")
            with Stubber(client) as stub:
                stub.add_response("list_users", {"Users": []})
                client.list_users()
    """), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.readonly_plugin",
                          "-p", "no:cacheprovider", "-q", str(probe), "--rootdir", str(tmp_path)],
                         cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "k",
                              "AWS_SECRET_ACCESS_KEY": "s", "AWS_CONFIG_FILE": "/dev/null",
                              "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                              "PYTHONPATH": str(REPOSITORY)})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "2 passed, 1 error" in run.stdout  # test_writes passes, then errs at teardown
    assert "ERROR at teardown of test_writes" in run.stdout
    assert "not read-only: aws iam DeleteUser" in run.stdout
