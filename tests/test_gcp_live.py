"""The live GCP scanner through the real Google client libraries.

* Cloud Storage: gcp-storage-emulator, started in this process on 127.0.0.1, seeded with the
  development scenario's buckets by the scenario's own seed_gcs.py (create, then patch: the
  emulator drops fields sent on create).
* Resource Manager, IAM, KMS and Org Policy have no emulator: a local gRPC server replays
  recorded responses (tests/data/gcp/api/) to the real gRPC clients, and fails any call it
  has no recording for.

What the live scan collects must be what the CAI reader reads from the same organization.
"""

from __future__ import annotations

import importlib.util
import json
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.cloud import iam_admin_v1, iam_v2, kms_v1, orgpolicy_v2, resourcemanager_v3
from google.cloud.location import locations_pb2
from google.iam.v1 import iam_policy_pb2, policy_pb2
from google.protobuf import json_format
from google.protobuf.message import Message

from auditor.access.gcp.analyzer import GcpAnalyzer
from auditor.errors import ConfigError
from auditor.inventory import CollectionError, Inventory, Resource, Scope
from auditor.inventory.io import to_json
from auditor.scanners.base import ScanSettings
from auditor.scanners.gcp import ids
from auditor.scanners.gcp.api import GcpApi
from auditor.scanners.gcp.cai import read_export
from auditor.scanners.gcp.clients import GcpClients
from auditor.scanners.gcp.live import scan_live
from auditor.scanners.gcp.operations import PERMISSIONS
from auditor.scanners.gcp.scanner import GcpScanner

DATA = Path(__file__).parent / "data" / "gcp"
EXPORT = DATA / "gcp-ml-org.cai.jsonl"
RECORDED = json.loads((DATA / "api" / "acme-ml-models.json").read_text(encoding="utf-8"))["interactions"]
EXPECTED = json.loads((DATA / "gcp-ml-org.expected.json").read_text(encoding="utf-8"))
PROJECT = "acme-ml-models"
PROJECT_NODE = "projects/310000000002"
REFERENCE_TIME = "1795651200"  # 2026-11-26T00:00:00Z

_RM = "google.cloud.resourcemanager.v3"
_KMS = "google.cloud.kms.v1.KeyManagementService"
# gRPC method -> (request message, response message), from the client libraries themselves
METHODS: dict[str, tuple[Any, Any]] = {
    f"/{_RM}.Projects/GetProject": (resourcemanager_v3.GetProjectRequest, resourcemanager_v3.Project),
    f"/{_RM}.Projects/ListProjects": (resourcemanager_v3.ListProjectsRequest,
                                      resourcemanager_v3.ListProjectsResponse),
    f"/{_RM}.Folders/GetFolder": (resourcemanager_v3.GetFolderRequest, resourcemanager_v3.Folder),
    f"/{_RM}.Folders/ListFolders": (resourcemanager_v3.ListFoldersRequest,
                                    resourcemanager_v3.ListFoldersResponse),
    f"/{_RM}.Organizations/GetOrganization": (resourcemanager_v3.GetOrganizationRequest,
                                              resourcemanager_v3.Organization),
    **{f"/{_RM}.{service}/GetIamPolicy": (iam_policy_pb2.GetIamPolicyRequest, policy_pb2.Policy)
       for service in ("Projects", "Folders", "Organizations")},
    "/google.iam.v2.Policies/ListPolicies": (iam_v2.ListPoliciesRequest, iam_v2.ListPoliciesResponse),
    "/google.iam.v2.Policies/GetPolicy": (iam_v2.GetPolicyRequest, iam_v2.Policy),
    "/google.cloud.orgpolicy.v2.OrgPolicy/GetEffectivePolicy": (orgpolicy_v2.GetEffectivePolicyRequest,
                                                                orgpolicy_v2.Policy),
    "/google.iam.admin.v1.IAM/ListRoles": (iam_admin_v1.ListRolesRequest, iam_admin_v1.ListRolesResponse),
    "/google.iam.admin.v1.IAM/ListServiceAccounts": (iam_admin_v1.ListServiceAccountsRequest,
                                                     iam_admin_v1.ListServiceAccountsResponse),
    "/google.iam.admin.v1.IAM/GetIamPolicy": (iam_policy_pb2.GetIamPolicyRequest, policy_pb2.Policy),
    "/google.iam.admin.v1.IAM/ListServiceAccountKeys": (iam_admin_v1.ListServiceAccountKeysRequest,
                                                        iam_admin_v1.ListServiceAccountKeysResponse),
    "/google.cloud.location.Locations/ListLocations": (locations_pb2.ListLocationsRequest,
                                                       locations_pb2.ListLocationsResponse),
    f"/{_KMS}/ListKeyRings": (kms_v1.ListKeyRingsRequest, kms_v1.ListKeyRingsResponse),
    f"/{_KMS}/ListCryptoKeys": (kms_v1.ListCryptoKeysRequest, kms_v1.ListCryptoKeysResponse),
    # KMS serves allow policies through the IAMPolicy mixin
    "/google.iam.v1.IAMPolicy/GetIamPolicy": (iam_policy_pb2.GetIamPolicyRequest, policy_pb2.Policy),
}


# -- the replay server ------------------------------------------------------------------------------
def _is_raw(message_class: Any) -> bool:
    return isinstance(message_class, type) and issubclass(message_class, Message)


def _message_json(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message if isinstance(message, Message) else type(message).pb(message))


def _message(message_class: Any, document: dict[str, Any]) -> Any:
    if _is_raw(message_class):
        return json_format.ParseDict(document, message_class())
    return message_class.from_json(json.dumps(document))


def _covers(recorded: Any, actual: Any) -> bool:
    if isinstance(recorded, dict):
        return isinstance(actual, dict) and all(_covers(v, actual.get(k)) for k, v in recorded.items())
    return recorded == actual


@dataclass
class Replay:
    """A gRPC server answering each call with the first recording whose method matches and whose
    request is contained in the call's request."""

    interactions: list[dict[str, Any]]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def handler(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if details.method not in METHODS:
            return None  # UNIMPLEMENTED
        request_class, response_class = METHODS[details.method]

        def answer(request: Any, context: grpc.ServicerContext) -> Any:
            actual = _message_json(request)
            self.calls.append((details.method, actual))
            for entry in self.interactions:
                if entry["method"] == details.method and _covers(entry["request"], actual):
                    if "error" in entry:
                        context.abort(getattr(grpc.StatusCode, entry["error"]["code"]),
                                      entry["error"]["message"])
                    return _message(response_class, entry["response"])
            context.abort(grpc.StatusCode.NOT_FOUND, f"no recording for {details.method} {actual}")

        serialize = (lambda m: m.SerializeToString()) if _is_raw(response_class) else response_class.serialize
        deserialize = request_class.FromString if _is_raw(request_class) else request_class.deserialize
        return grpc.unary_unary_rpc_method_handler(answer, request_deserializer=deserialize,
                                                   response_serializer=serialize)


class _GenericHandler(grpc.GenericRpcHandler):
    def __init__(self, replay: Replay):
        self.replay = replay

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        return self.replay.handler(handler_call_details)


@dataclass
class ReplayServer:
    replay: Replay
    address: str

    def channel(self, _host: str) -> grpc.Channel:
        return grpc.insecure_channel(self.address)


def start_replay(interactions: list[dict[str, Any]]) -> tuple[grpc.Server, ReplayServer]:
    replay = Replay(interactions)
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((_GenericHandler(replay),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, ReplayServer(replay, f"127.0.0.1:{port}")


# -- the storage emulator ------------------------------------------------------------------------------
def _seed_module() -> Any:
    spec = importlib.util.spec_from_file_location("seed_gcs", DATA / "seed_gcs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class StorageEmulator:
    endpoint: str
    stop: Callable[[], None]


@contextmanager
def seeded_storage_emulator() -> Iterator[StorageEmulator]:
    """A gcp-storage-emulator of its own on 127.0.0.1, holding the scenario's buckets."""
    from gcp_storage_emulator.server import create_server

    port = _free_port()
    server = create_server("127.0.0.1", port, in_memory=True, project_number="310000000002")
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            server.stop()

    try:
        with pytest.MonkeyPatch.context() as patch:
            # the seeding client uploads objects through the emulator only when told so
            patch.setenv("STORAGE_EMULATOR_HOST", endpoint)
            seed = _seed_module()
            buckets = seed.load_buckets(EXPORT)
            client = seed.make_client(endpoint)
            seed.seed(client, buckets)
            assert seed.verify(client, buckets) == []
        yield StorageEmulator(endpoint, stop)
    finally:
        stop()


@pytest.fixture(scope="module")
def storage_emulator() -> Iterator[str]:
    with seeded_storage_emulator() as emulator:
        yield emulator.endpoint


# -- a live scan ----------------------------------------------------------------------------------------
@dataclass
class LiveScan:
    inventory: Inventory
    calls: list[tuple[str, dict[str, Any]]]


def live_scan(storage_endpoint: str, interactions: list[dict[str, Any]],
              settings: ScanSettings | None = None, **targets: list[str]) -> LiveScan:
    """A live scan of ``targets`` (organizations, folders, projects; by default the project)."""
    server, replay = start_replay(interactions)
    try:
        clients = GcpClients(None, storage_endpoint=storage_endpoint, channel_factory=replay.channel)
        inventory = Inventory()
        inventory.add(scan_live(clients, settings or ScanSettings(max_workers=4),
                                api=GcpApi(retry_deadline=2, timeout=10),
                                **(targets or {"projects": [PROJECT]})))
        inventory.sort()
        return LiveScan(inventory, replay.replay.calls)
    finally:
        server.stop(grace=None)


@pytest.fixture(scope="module")
def scanned(storage_emulator: str) -> LiveScan:
    return live_scan(storage_emulator, RECORDED)


@pytest.fixture(scope="module")
def from_export() -> Inventory:
    inventory = Inventory()
    inventory.add(read_export(EXPORT, ScanSettings()))
    return inventory


def test_the_scan_covers_the_project_and_records_what_failed(scanned: LiveScan) -> None:
    assert scanned.inventory.scopes == [Scope("gcp", PROJECT, services=(
        "cloudkms", "cloudresourcemanager", "iam", "storage"))]
    # gcp-storage-emulator has no HMAC key API: the one failure, recorded, not raised
    [error] = scanned.inventory.errors
    assert (error.account, error.service, error.operation) == (PROJECT, "storage", "projects.hmacKeys.list")
    assert error.code == "NotFound"


def test_only_read_only_methods_were_called(scanned: LiveScan) -> None:
    called = {method.rsplit("/", 1)[1] for method, _ in scanned.calls}
    assert called and all(name.startswith(("Get", "List")) for name in called)
    policy_reads = [request for method, request in scanned.calls if method.endswith("/GetIamPolicy")]
    assert policy_reads and all(r["options"]["requestedPolicyVersion"] == 3 for r in policy_reads)
    assert all(p.split(".", 1)[0] in {"resourcemanager", "iam", "storage", "cloudkms", "orgpolicy"}
               for p in PERMISSIONS)


LIVE_ONLY = ("deny_policies", "public_access_prevention_enforced")


def _comparable(resource: Resource) -> dict[str, Any]:
    data = resource.to_dict()
    data["attributes"] = {k: v for k, v in data["attributes"].items() if k not in LIVE_ONLY}
    data["unknown"] = [u for u in data["unknown"] if u not in LIVE_ONLY]
    return data


NON_STORAGE = (ids.ORGANIZATION, ids.FOLDER, ids.PROJECT, ids.SERVICE_ACCOUNT, ids.SERVICE_ACCOUNT_KEY,
               ids.ROLE, ids.KEY_RING, ids.CRYPTO_KEY)


def test_the_live_inventory_is_the_cai_inventory(scanned: LiveScan, from_export: Inventory) -> None:
    live = [r for r in scanned.inventory.resources if r.type in NON_STORAGE]
    assert {r.type for r in live} == set(NON_STORAGE)
    for resource in live:
        expected = from_export.get(resource.id)
        assert expected is not None, resource.id
        assert _comparable(resource) == _comparable(expected)


def test_scanning_from_the_organization_finds_the_same_project(scanned: LiveScan,
                                                               storage_emulator: str) -> None:
    from_top = live_scan(storage_emulator, RECORDED, organizations=["123456789"])
    assert [s.account for s in from_top.inventory.scopes] == [PROJECT]
    assert to_json(from_top.inventory) == to_json(scanned.inventory)
    listed = {(method.rsplit("/", 1)[1], request["parent"]) for method, request in from_top.calls
              if method.endswith(("/ListProjects", "/ListFolders"))}
    assert listed == {("ListProjects", "organizations/123456789"), ("ListFolders", "organizations/123456789"),
                      ("ListProjects", "folders/210000000001"), ("ListFolders", "folders/210000000001")}


def test_live_only_facts_are_collected(scanned: LiveScan) -> None:
    project = scanned.inventory.get(ids.node_id(PROJECT_NODE))
    organization = scanned.inventory.get(ids.node_id("organizations/123456789"))
    assert project.attributes["public_access_prevention_enforced"] is True
    assert organization.attributes["public_access_prevention_enforced"] is False
    assert project.attributes["deny_policies"] == []
    [deny] = organization.attributes["deny_policies"]
    assert deny["rules"][0]["deniedPermissions"] == ["storage.googleapis.com/objects.delete"]
    assert all(not r.unknown for r in scanned.inventory.of_type(*ids.HIERARCHY_TYPES))


SEEDED = ("uniform_bucket_level_access", "public_access_prevention", "versioning", "logging",
          "default_kms_key")


@pytest.mark.parametrize("name", list(EXPECTED["classification"]))
def test_buckets_hold_what_was_put_in_the_emulator(scanned: LiveScan, from_export: Inventory,
                                                   name: str) -> None:
    live = scanned.inventory.get(ids.bucket_id(name))
    seeded = from_export.get(ids.bucket_id(name))
    assert live is not None and live.unknown == []
    assert live.tags == seeded.tags
    for attribute in SEEDED:
        assert live.attributes[attribute] == seeded.attributes[attribute], attribute
    period = (seeded.attributes["retention"] or {}).get("period_seconds")
    assert (live.attributes["retention"] or {}).get("period_seconds") == period  # a string in the JSON API
    assert live.attributes["iam_policy"] == seeded.attributes["iam_policy"]
    for acl in ("acl", "default_object_acl"):
        assert _entries(live.attributes[acl]) == _entries(seeded.attributes[acl])
    assert sorted(o["key"] for o in live.attributes["object_sample"]) == sorted(
        o["key"] for o in seeded.attributes["object_sample"])
    assert all(o["size"] == 0 for o in live.attributes["object_sample"])
    # object ACLs are sampled only where ACLs apply
    assert all(("acl" in o) == (not live.attributes["uniform_bucket_level_access"])
               for o in live.attributes["object_sample"])


def _entries(acl: list[dict[str, Any]] | None) -> set[tuple[str, str]] | None:
    return None if acl is None else {(e["entity"], e["role"]) for e in acl}


def test_object_sampling_is_bounded(storage_emulator: str) -> None:
    scan = live_scan(storage_emulator, RECORDED, ScanSettings(object_sample_size=1, object_acl_sample_size=0,
                                                              max_workers=2))
    prod = scan.inventory.get(ids.bucket_id("acme-ml-weights-prod")).attributes
    assert len(prod["object_sample"]) == 1 and prod["object_sample_truncated"] is True
    legacy = scan.inventory.get(ids.bucket_id("acme-ml-legacy-checkpoints")).attributes
    assert all("acl" not in o for o in legacy["object_sample"])


def test_access_answers_from_a_live_scan(scanned: LiveScan, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", REFERENCE_TIME)
    analyzer = GcpAnalyzer()
    for bucket in ("acme-ml-weights-prod", "acme-ml-weights-serving", "acme-ml-weights-mirror",
                   "acme-ml-legacy-checkpoints", "acme-ml-public-checkpoints"):  # acme-ml-models' own
        for key, access in (("can_read", "read"), ("can_write", "write")):
            expected = EXPECTED[key].get(bucket)
            if expected is None:
                continue
            grants = analyzer.who_can(scanned.inventory, f"gs://{bucket}", access)
            allowed = {g.principal for g in grants if g.decision == "allow"}
            # the recorded organization policy enforces public access prevention on the project
            assert set(expected["must_include"]) - allowed <= {"allUsers"}
            assert not set(expected["must_exclude"]) & allowed
    public = analyzer.who_can(scanned.inventory, "gs://acme-ml-public-checkpoints", "read")
    assert "allUsers" not in {g.principal for g in public}
    # the organization's deny policy keeps object deletion for ml-platform-admins alone
    deleters = {g.principal: g.decision for g in analyzer.who_can(scanned.inventory,
                                                                  "gs://acme-ml-weights-prod", "delete")}
    assert deleters["group:ml-platform-admins@acme-ml.example"] == "allow"
    # sa-trainer could be in the exempted group: not known, so not allowed outright
    assert deleters["serviceAccount:sa-trainer@acme-ml-models.iam.gserviceaccount.com"] == "conditional"


def test_failed_calls_become_unknown_attributes_and_errors(storage_emulator: str) -> None:
    denied = [{"method": f"/{_RM}.Folders/GetIamPolicy", "request": {},
               "error": {"code": "PERMISSION_DENIED", "message": "caller lacks getIamPolicy"}},
              {"method": "/google.iam.admin.v1.IAM/ListServiceAccounts", "request": {},
               "error": {"code": "PERMISSION_DENIED", "message": "caller lacks serviceAccounts.list"}}]
    scan = live_scan(storage_emulator, denied + RECORDED)
    folder = scan.inventory.get(ids.node_id("folders/210000000001"))
    assert folder.attributes["iam_policy"] is None and "iam_policy" in folder.unknown
    errors = {(e.operation, e.code, e.resource_id, e.attribute) for e in scan.inventory.errors}
    assert ("folders.getIamPolicy", "PermissionDenied", folder.id, "iam_policy") in errors
    assert ("serviceAccounts.list", "PermissionDenied", None, None) in errors
    assert not list(scan.inventory.of_type(ids.SERVICE_ACCOUNT))
    assert all(isinstance(e, CollectionError) and e.message for e in scan.inventory.errors)
    # what could not be seen is said, not taken for "nobody"
    notes = GcpAnalyzer().analyze(scan.inventory, {ids.bucket_id("acme-ml-weights-prod"): _weights()})
    [asset] = list(notes)
    assert any(folder.id in note and "not collected" in note for note in asset.unknown)


def _weights() -> Any:
    from auditor.classify.model import Classification

    return Classification("model-weights")


def test_an_unreachable_api_is_recorded_not_raised(storage_emulator: str) -> None:
    scan = live_scan(storage_emulator, [])  # every gRPC call fails: nothing recorded
    assert scan.inventory.scopes and scan.inventory.errors
    assert {e.code for e in scan.inventory.errors if e.service != "storage"} == {"NotFound"}
    assert list(scan.inventory.of_type(ids.BUCKET))  # storage still scanned


def test_the_plugin_declares_its_options_and_permissions() -> None:
    scanner = GcpScanner()
    assert scanner.provider == "gcp"
    assert set(scanner.options) == {"organization", "folders", "projects", "exclude_folders",
                                    "exclude_projects", "storage_endpoint", "cai_export"}
    assert "storage.buckets.getIamPolicy" in scanner.permissions
    writes = (".setIamPolicy", ".create", ".delete", ".update")
    assert all(not p.endswith(writes) for p in scanner.permissions)
    with pytest.raises(ConfigError, match="name what to scan"):
        list(scanner.scan({}, ScanSettings()))


def test_no_credentials_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "absent.json"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    with pytest.raises(ConfigError, match="Application Default Credentials"):
        list(GcpScanner().scan({"projects": [PROJECT]}, ScanSettings()))


def test_the_role_refresh_script_reads_the_iam_api_page_by_page(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("refresh_gcp_roles",
                                                  Path(__file__).resolve().parent.parent / "scripts"
                                                  / "refresh_gcp_roles.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    method = "/google.iam.admin.v1.IAM/ListRoles"
    server, replay = start_replay([
        {"method": method, "request": {"pageToken": "page-2"},
         "response": {"roles": [{"name": "roles/x.gone", "includedPermissions": ["x.a.get"],
                                 "deleted": True}]}},
        {"method": method, "request": {"view": "FULL"},
         "response": {"roles": [{"name": "roles/x.reader", "includedPermissions": ["x.a.get", "x.a.list"]}],
                      "nextPageToken": "page-2"}}])
    try:
        transport = iam_admin_v1.IAMClient.get_transport_class("grpc")(channel=replay.channel(""))
        roles, source = script.roles_from_api(iam_admin_v1.IAMClient(transport=transport))
    finally:
        server.stop(grace=None)
    assert roles == {"roles/x.reader": ["x.a.get", "x.a.list"]}
    assert [request.get("parent") for _, request in replay.replay.calls] == [None, None]
    script.write_data(tmp_path, roles, source)
    assert "IAM API" in (tmp_path / "SOURCE.txt").read_text(encoding="utf-8")
