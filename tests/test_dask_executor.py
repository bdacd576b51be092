"""Executors: scanning an organization's accounts on a Dask cluster gives what the in-process
executor gives, through the same scanning code; a unit lost on a worker costs that unit only.

The cluster is a dask.distributed LocalCluster on 127.0.0.1 (threads in this process, so the
workers see the moto server and the test credentials, as real workers see their own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from auditor.errors import ConfigError
from auditor.executors.base import ScanUnit, UnitJob
from auditor.executors.factory import executor_for
from auditor.executors.local import InProcessExecutor
from auditor.executors.profile_scan import scan_providers
from auditor.executors.units import run_units
from auditor.inventory import CollectionError, Resource, Scope
from auditor.inventory.io import to_json
from auditor.scanners.base import ScanSettings
from tests.test_aws_organization import MANAGEMENT, Org, build_org, org_config, without_own_traces

distributed = pytest.importorskip("distributed", reason="needs dask[distributed] installed")
pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def cluster_url() -> Iterator[str]:
    with distributed.LocalCluster(processes=False, n_workers=2, threads_per_worker=2,
                                  host="127.0.0.1", protocol="tcp://", dashboard_address=":0",
                                  silence_logs=True) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        yield "dask://" + address.removeprefix("tcp://")


@pytest.fixture(scope="module")
def org(fresh_aws_module) -> Org:
    return build_org(fresh_aws_module.endpoint_url)


def test_an_organization_scanned_on_dask_equals_the_in_process_scan(org, cluster_url) -> None:
    providers = {"aws": org_config(org)}
    executor = executor_for(cluster_url)
    try:
        assert executor.max_units == 4  # every worker thread of the cluster
        remote = scan_providers(providers, ScanSettings(), executor=executor).inventory
    finally:
        executor.close()
    local = scan_providers(providers, ScanSettings(), executor=InProcessExecutor()).inventory
    assert {scope.account for scope in remote.scopes} == org.active
    assert to_json(without_own_traces(remote)) == to_json(without_own_traces(local))


def test_a_unit_that_fails_on_a_worker_is_an_error_and_the_others_go_on(org, cluster_url) -> None:
    settings = ScanSettings()
    good = UnitJob("aws", org_config(org), settings,
                   ScanUnit("aws", MANAGEMENT, MANAGEMENT, {"partition": "aws", "role_arn": None}))
    member = org.accounts["sandbox"]
    # a profile this worker does not have: the unit cannot even start there
    lost = UnitJob("aws", org_config(org, profile="absent-on-worker"), settings,
                   ScanUnit("aws", member, member, {"partition": "aws", "role_arn": None}))
    executor = executor_for(cluster_url)
    try:
        records = list(run_units(executor, [good, lost]))
    finally:
        executor.close()
    errors = [r for r in records if isinstance(r, CollectionError)]
    assert [(e.account, e.service, e.code) for e in errors] == [(member, "scan", "ConfigError")]
    assert "absent-on-worker" in errors[0].message
    assert [s.account for s in records if isinstance(s, Scope)] == [MANAGEMENT]
    assert any(isinstance(r, Resource) and r.type == "aws.s3.bucket" for r in records)


def test_in_process_a_unit_failure_is_a_bug_and_surfaces(org) -> None:
    lost = UnitJob("aws", org_config(org, profile="absent"), ScanSettings(),
                   ScanUnit("aws", MANAGEMENT, MANAGEMENT, {"partition": "aws", "role_arn": None}))
    with pytest.raises(ConfigError, match="absent"):
        list(run_units(InProcessExecutor(), [lost]))


@pytest.mark.parametrize("url", ["dask://127.0.0.1", "tcp://127.0.0.1:8786", "dask://:8786",
                                 "dask://host:port", "dask://127.0.0.1:8786/path", "spark://x:1"])
def test_a_bad_executor_is_a_config_error(url) -> None:
    with pytest.raises(ConfigError) as caught:
        executor_for(url)
    assert caught.value.location == "--executor"


def test_an_unreachable_scheduler_is_a_config_error() -> None:
    from auditor.executors.dask_cluster import DaskExecutor

    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        DaskExecutor("dask://127.0.0.1:9", connect_timeout=1)


def test_the_default_executor_is_in_process() -> None:
    assert isinstance(executor_for(None), InProcessExecutor)
    assert executor_for("local", max_units=2).max_units == 2
