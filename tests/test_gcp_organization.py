"""A whole GCP organization: discovery from the organization through its folders to every
project, include and exclude lists, one scan unit per node and per project, and a sharded scan
merged back into the single scan's findings (the same sharding path as AWS accounts).

The organization is the development scenario's (tests/data/gcp/gcp-ml-org.cai.jsonl): two
folders, three projects. Resource Manager and the other gRPC APIs are the recorded responses
of tests/test_gcp_live.py, with the listings of the whole organization added from the export
(the calls of the two projects that were never recorded fail with NotFound: collection errors,
the same in every scan). Cloud Storage is gcp-storage-emulator seeded from the export, behind a
proxy that lists each project's own buckets (the emulator lists every bucket for any project).
Every expected value comes from the export, never from the scanner's output.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from auditor import pipeline
from auditor.errors import ConfigError
from auditor.executors.profile_scan import scan_providers
from auditor.inventory import Inventory, Resource
from auditor.inventory.io import to_json
from auditor.inventory.merge import merge_parts
from auditor.inventory.shard import ShardSpec, plan_key, write_part
from auditor.report.json_report import JsonRenderer
from auditor.scanners.base import ScanSettings
from auditor.scanners.gcp import clients as gcp_clients
from auditor.scanners.gcp import ids
from auditor.scanners.gcp.clients import GcpClients
from auditor.scanners.gcp.scanner import GcpScanner
from tests.test_gcp_live import EXPORT, RECORDED, ReplayServer, start_replay, storage_emulator

__all__ = ["storage_emulator"]  # a fixture of this module too

ORGANIZATION = "123456789"
FROZEN_EPOCH = "1798675200"  # 2026-12-31T00:00:00Z
_RM = "/google.cloud.resourcemanager.v3"


# -- the organization, as the export describes it --------------------------------------------------
@dataclass(frozen=True, slots=True)
class Org:
    folders: dict[str, dict[str, Any]]  # folders/N -> Resource Manager v3 folder
    projects: dict[str, dict[str, Any]]  # project id -> Resource Manager v3 project
    buckets: dict[str, set[str]]  # project id -> its bucket names

    def project_ids(self, *, without_folders: tuple[str, ...] = (),
                    without: tuple[str, ...] = ()) -> set[str]:
        return {project for project, data in self.projects.items()
                if data["parent"] not in without_folders and project not in without}


def _export_assets() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EXPORT.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def org_from_export() -> Org:
    folders: dict[str, dict[str, Any]] = {}
    projects: dict[str, dict[str, Any]] = {}
    number_to_id: dict[str, str] = {}
    bucket_nodes: list[tuple[str, str]] = []
    for asset in _export_assets():
        data = asset["resource"]["data"]
        if asset["asset_type"].endswith("/Folder"):
            folders[data["name"]] = {"name": data["name"], "parent": data["parent"],
                                     "displayName": data["displayName"], "state": "ACTIVE"}
        elif asset["asset_type"].endswith("/Project"):
            parent = data["parent"]
            projects[data["projectId"]] = {
                "name": f"projects/{data['projectNumber']}", "projectId": data["projectId"],
                "parent": f"{parent['type']}s/{parent['id']}", "displayName": data["name"],
                "state": "ACTIVE", "labels": data.get("labels", {})}
            number_to_id[data["projectNumber"]] = data["projectId"]
        elif asset["asset_type"] == "storage.googleapis.com/Bucket":
            bucket_nodes.append((data["name"], asset["ancestors"][0].split("/")[1]))
    buckets: dict[str, set[str]] = {project: set() for project in projects}
    for name, number in bucket_nodes:
        buckets[number_to_id[number]].add(name)
    return Org(folders, projects, buckets)


def listings(org: Org) -> list[dict[str, Any]]:
    """Recordings of the organization's Resource Manager listings, before the recorded ones
    (the replay answers with the first recording that matches)."""
    recorded = {entry["response"]["projectId"]: entry["response"] for entry in RECORDED
                if entry["method"] == f"{_RM}.Projects/GetProject"}
    projects = {project: recorded.get(project, data) for project, data in org.projects.items()}

    def children(kind: str, parent: str) -> list[dict[str, Any]]:
        items = projects.values() if kind == "projects" else org.folders.values()
        return sorted((item for item in items if item["parent"] == parent),
                      key=lambda item: item["name"])

    parents = [f"organizations/{ORGANIZATION}", *org.folders]
    return [
        *({"method": f"{_RM}.Projects/ListProjects", "request": {"parent": parent},
           "response": {"projects": children("projects", parent)}} for parent in parents),
        *({"method": f"{_RM}.Folders/ListFolders", "request": {"parent": parent},
           "response": {"folders": children("folders", parent)}} for parent in parents),
        *({"method": f"{_RM}.Folders/GetFolder", "request": {"name": name}, "response": data}
          for name, data in org.folders.items()),
        *({"method": f"{_RM}.Projects/GetProject", "request": {"name": f"projects/{project}"},
           "response": data} for project, data in projects.items()),
    ]


# -- Cloud Storage: each project lists its own buckets ---------------------------------------------
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
               "trailer", "upgrade", "content-length", "host"}


def start_bucket_proxy(upstream: str, buckets: dict[str, set[str]]) -> ThreadingHTTPServer:
    """An HTTP proxy in front of the emulator that answers a bucket listing with the
    project's own buckets, as Cloud Storage does, and forwards everything else unchanged."""
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test output is for the tests."""

        def forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            upstream_connection = http.client.HTTPConnection(target.hostname, target.port,
                                                             timeout=30)
            try:
                upstream_connection.request(self.command, self.path, body=body, headers={
                    k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP})
                response = upstream_connection.getresponse()
                status, headers, payload = response.status, response.getheaders(), response.read()
            finally:
                upstream_connection.close()
            url = urlsplit(self.path)
            project = parse_qs(url.query).get("project", [""])[0]
            if self.command == "GET" and url.path == "/storage/v1/b" and status == 200:
                listing = json.loads(payload)
                listing["items"] = [bucket for bucket in listing.get("items", [])
                                    if bucket["name"] in buckets.get(project, set())]
                payload = json.dumps(listing).encode("utf-8")
            self.send_response(status)
            for key, value in headers:
                if key.lower() not in _HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    Thread(target=server.serve_forever, name="bucket-proxy", daemon=True).start()
    return server


# -- the scanner's clients, pointed at the replay and the proxy -----------------------------------
@dataclass(slots=True)
class GcpOrg:
    org: Org
    replay: ReplayServer
    storage_endpoint: str

    def config(self, **extra: Any) -> dict[str, Any]:
        return {"organization": ORGANIZATION, "storage_endpoint": self.storage_endpoint, **extra}


@pytest.fixture(scope="module")
def gcp_org(storage_emulator: str) -> Iterator[GcpOrg]:
    org = org_from_export()
    server, replay = start_replay([*listings(org), *RECORDED])
    proxy = start_bucket_proxy(storage_emulator, org.buckets)
    endpoint = f"http://127.0.0.1:{proxy.server_address[1]}"

    def from_environment(cls: type[GcpClients], storage_endpoint: str | None = None) -> GcpClients:
        # the clients every unit of the scan shares, as with real credentials
        return cls(None, storage_endpoint=storage_endpoint, channel_factory=replay.channel)

    gcp_clients._shared.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(GcpClients, "from_environment", classmethod(from_environment))
            yield GcpOrg(org, replay, endpoint)
    finally:
        gcp_clients._shared.cache_clear()
        proxy.shutdown()
        proxy.server_close()
        server.stop(grace=None)


def scan(config: dict[str, Any]) -> Inventory:
    inventory = Inventory()
    inventory.add(GcpScanner().scan(config, ScanSettings(max_workers=4)))
    inventory.sort()
    return inventory


def buckets_by_project(inventory: Inventory) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for bucket in inventory.of_type(ids.BUCKET):
        found.setdefault(bucket.account, set()).add(bucket.name)
    return found


def nodes(inventory: Inventory) -> set[str]:
    return {ids.node_from_id(r.id) or "" for r in inventory.of_type(*ids.HIERARCHY_TYPES)}


@pytest.fixture(scope="module")
def whole(gcp_org: GcpOrg) -> Inventory:
    return scan(gcp_org.config())


# -- discovery and units ------------------------------------------------------------------------------
def test_the_organization_is_planned_as_one_unit_per_node_and_project(gcp_org) -> None:
    plan = GcpScanner().plan(gcp_org.config(), ScanSettings())
    assert plan.records == []
    assert {unit.key for unit in plan.units} == {
        f"gcp:organizations/{ORGANIZATION}", *(f"gcp:{folder}" for folder in gcp_org.org.folders),
        *(f"gcp:{project}" for project in gcp_org.org.projects)}
    # a unit is plain data: it can be sent to another machine and scanned there
    for unit in plan.units:
        json.dumps(dict(unit.data))


def test_every_project_of_the_organization_is_scanned_with_its_own_buckets(whole, gcp_org) -> None:
    assert {scope.account for scope in whole.scopes} == set(gcp_org.org.projects)
    assert buckets_by_project(whole) == {p: b for p, b in gcp_org.org.buckets.items() if b}
    assert nodes(whole) == {f"organizations/{ORGANIZATION}", *gcp_org.org.folders,
                            *(data["name"] for data in gcp_org.org.projects.values())}
    sandbox = next(r for r in whole.of_type(ids.PROJECT) if r.account == "acme-research-sandbox")
    assert sandbox.attributes["ancestors"] == [
        gcp_org.org.projects["acme-research-sandbox"]["name"], "folders/210000000002",
        f"organizations/{ORGANIZATION}"]


def test_a_project_found_from_the_top_is_scanned_as_when_it_is_named(whole, gcp_org) -> None:
    named = scan({"projects": ["acme-ml-models"], "storage_endpoint": gcp_org.storage_endpoint})

    def of_models(inventory: Inventory) -> list[dict[str, Any]]:
        return [r.to_dict() for r in inventory.resources if r.account == "acme-ml-models"]

    assert of_models(whole) == of_models(named)


# -- include and exclude lists -----------------------------------------------------------------------
def test_exclude_projects_leaves_a_project_out(gcp_org) -> None:
    found = scan(gcp_org.config(exclude_projects=["acme-ml-data"]))
    expected = gcp_org.org.project_ids(without=("acme-ml-data",))
    assert {scope.account for scope in found.scopes} == expected
    assert not [r for r in found.resources if r.account == "acme-ml-data"]
    assert set(buckets_by_project(found)) == {p for p in expected if gcp_org.org.buckets[p]}
    assert "folders/210000000001" in nodes(found)  # still above a scanned project


def test_exclude_folders_leaves_the_subtree_out_without_listing_it(gcp_org) -> None:
    gcp_org.replay.replay.calls.clear()
    found = scan(gcp_org.config(exclude_folders=["folders/210000000002"]))
    expected = gcp_org.org.project_ids(without_folders=("folders/210000000002",))
    assert {scope.account for scope in found.scopes} == expected
    assert "folders/210000000002" not in nodes(found)
    assert not [e for e in found.errors if "210000000002" in e.account]
    parents = {request.get("parent") for method, request in gcp_org.replay.replay.calls
               if method.endswith(("/ListProjects", "/ListFolders"))}
    assert "folders/210000000002" not in parents and "folders/210000000001" in parents


def test_a_named_project_is_scanned_even_in_an_excluded_folder(gcp_org) -> None:
    found = scan(gcp_org.config(exclude_folders=["210000000002"],
                                projects=["acme-research-sandbox"]))
    assert {scope.account for scope in found.scopes} == set(gcp_org.org.projects)
    # its folder is read for the policies it passes down
    assert "folders/210000000002" in nodes(found)


@pytest.mark.parametrize(("config", "location"), [
    ({"exclude_folders": ["ml-platform"]}, "gcp.exclude_folders[0]"),
    ({"exclude_folders": ["210000000001", "folders/"]}, "gcp.exclude_folders[1]"),
    ({"exclude_projects": ["Not A Project"]}, "gcp.exclude_projects[0]"),
])
def test_bad_exclusions_are_config_errors(config, location) -> None:
    with pytest.raises(ConfigError) as caught:
        GcpScanner().plan({"organization": ORGANIZATION, **config}, ScanSettings())
    assert caught.value.location == location


def test_exclusions_apply_to_an_export_as_to_a_live_scan(gcp_org) -> None:
    for exclusion, left_out in (({"exclude_folders": ["210000000002"]}, {"acme-research-sandbox"}),
                                ({"exclude_projects": ["acme-ml-data"]}, {"acme-ml-data"})):
        found = scan({"cai_export": str(EXPORT), **exclusion})
        assert {s.account for s in found.scopes} == set(gcp_org.org.projects) - left_out
        assert not [r for r in found.resources if r.account in left_out]
        assert set(buckets_by_project(found)) == {p for p, b in gcp_org.org.buckets.items()
                                                  if b and p not in left_out}
    folder = scan({"cai_export": str(EXPORT), "exclude_folders": ["210000000002"]})
    assert "folders/210000000002" not in nodes(folder)


# -- shards --------------------------------------------------------------------------------------------
def findings_json(inventory: Inventory) -> str:
    return JsonRenderer().render(pipeline.evaluate(inventory, pipeline.EvaluationOptions()))


def test_three_shards_merged_give_the_single_scans_findings(gcp_org, tmp_path,
                                                            monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", FROZEN_EPOCH)
    providers = {"gcp": gcp_org.config()}
    single = scan_providers(providers, ScanSettings()).inventory
    parts: list[Path] = []
    held: list[set[str]] = []
    for index in (1, 2, 3):
        outcome = scan_providers(providers, ScanSettings(), shard=ShardSpec(index, 3),
                                 profile="gcp-org")
        assert outcome.shard is not None
        assert all(ShardSpec(index, 3).owns(unit) for unit in outcome.shard.units)
        held.append({scope.account for scope in outcome.inventory.scopes})
        parts.append(tmp_path / f"part-{index}.json")
        write_part(outcome.inventory, outcome.shard, parts[-1])
    assert sum(1 for projects in held if projects) >= 2  # the projects really were split
    assert set().union(*held) == set(gcp_org.org.projects)
    merged = merge_parts(parts[::-1])
    assert to_json(merged) == to_json(single)
    findings = findings_json(single)
    assert findings_json(merged) == findings
    assert any(f["status"] == "fail" for f in json.loads(findings)["findings"])


def test_a_failed_listing_is_in_the_shard_that_owns_the_plan(gcp_org, storage_emulator) -> None:
    denied = {"method": f"{_RM}.Folders/ListFolders",
              "request": {"parent": f"organizations/{ORGANIZATION}"},
              "error": {"code": "PERMISSION_DENIED", "message": "caller lacks folders.list"}}
    server, replay = start_replay([denied, *listings(gcp_org.org), *RECORDED])
    gcp_clients._shared.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(GcpClients, "from_environment", classmethod(
                lambda cls, storage_endpoint=None: cls(None, storage_endpoint=storage_endpoint,
                                                       channel_factory=replay.channel)))
            providers = {"gcp": gcp_org.config()}
            single = scan_providers(providers, ScanSettings()).inventory
            outcomes = [scan_providers(providers, ScanSettings(), shard=ShardSpec(i, 2))
                        for i in (1, 2)]
    finally:
        gcp_clients._shared.cache_clear()
        server.stop(grace=None)
    listing_errors = [e for e in single.errors if e.operation == "folders.list"]
    assert [(e.account, e.code) for e in listing_errors] == [
        (f"organizations/{ORGANIZATION}", "PermissionDenied")]
    # without the folders, the organization's own projects (none) are all that is found
    assert not single.scopes
    owner = ShardSpec(1, 2) if ShardSpec(1, 2).owns(plan_key("gcp")) else ShardSpec(2, 2)
    for spec, outcome in zip((ShardSpec(1, 2), ShardSpec(2, 2)), outcomes, strict=True):
        errors = [e for e in outcome.inventory.errors if e.operation == "folders.list"]
        assert errors == (listing_errors if spec == owner else [])


def test_a_gcp_organization_on_dask_equals_the_in_process_scan(gcp_org, whole) -> None:
    distributed = pytest.importorskip("distributed", reason="needs dask[distributed] installed")
    from auditor.executors.factory import executor_for

    with distributed.LocalCluster(processes=False, n_workers=2, threads_per_worker=2,
                                  host="127.0.0.1", protocol="tcp://", dashboard_address=":0",
                                  silence_logs=True) as cluster:
        executor = executor_for("dask://" + cluster.scheduler_address.removeprefix("tcp://"))
        try:
            remote = scan_providers({"gcp": gcp_org.config()}, ScanSettings(max_workers=4),
                                    executor=executor).inventory
        finally:
            executor.close()
    assert to_json(remote) == to_json(whole)
    assert all(isinstance(r, Resource) for r in remote.resources)
