"""Trustworthy under faults, for GCP: the live scanner reads Cloud Storage through
tests/fault_proxy.py in front of gcp-storage-emulator, which throttles (429), fails (5xx),
resets and slows a share of the calls, or stops the emulator in the middle of the scan. The
other APIs answer from recordings (tests/test_gcp_live.py).

The scan must finish and stay honest (tests/honesty.py) against a scan without faults, the
run must say it is incomplete, and every request the proxy saw must be a read sent by the
auditor. Retries are cut to a 2-second deadline so that a faulted call fails fast.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from auditor import pipeline
from auditor.inventory import CollectionError, Inventory
from auditor.run import RunResult
from auditor.scanners.base import ScanSettings
from auditor.scanners.gcp.clients import USER_AGENT
from tests import readonly_plugin as readonly
from tests.fault_proxy import FaultPlan, FaultProxy, Seen
from tests.honesty import Baseline, assert_no_silent_pass, assert_unknowns_explained
from tests.test_gcp_live import (
    RECORDED,
    StorageEmulator,
    live_scan,
    seeded_storage_emulator,
)

pytestmark = pytest.mark.emulator

SEED = 20261126
TRANSIENT_FAULTS = FaultPlan(seed=SEED, throttle=0.15, server_error=0.10, reset=0.05,
                             latency=0.02)
# the replayed gRPC APIs are not behind the proxy: their scopes are whole
SETTINGS = ScanSettings(max_workers=4)
# gcp-storage-emulator has no HMAC key API: that listing fails without faults too
UNEMULATED = "projects.hmacKeys.list"
# long enough for a background fetch queued at the end of a scan to reach the proxy
LATE_REQUEST_WAIT_SECONDS = 1.5


def _storage_errors(inventory: Inventory) -> list[CollectionError]:
    return [e for e in inventory.errors if e.service == "storage" and e.operation != UNEMULATED]


def _evaluate(inventory: Inventory) -> RunResult:
    return pipeline.evaluate(inventory, pipeline.EvaluationOptions(profile="faulty-gcp"))


@pytest.fixture(scope="module")
def baseline() -> Iterator[Baseline]:
    with seeded_storage_emulator() as emulator, \
            FaultProxy(emulator.endpoint, FaultPlan(seed=SEED)) as proxy:
        inventory = live_scan(proxy.url, RECORDED, SETTINGS).inventory
        requests = len(proxy.log)
    assert _storage_errors(inventory) == []
    yield Baseline.of(inventory, _evaluate(inventory), requests)


@pytest.fixture
def emulator() -> Iterator[StorageEmulator]:
    with seeded_storage_emulator() as emulator:
        yield emulator


def assert_honest(inventory: Inventory, baseline: Baseline) -> RunResult:
    assert _storage_errors(inventory), "the faults made nothing unknown: the test proves nothing"
    result = _evaluate(inventory)
    assert result.incomplete and result.coverage()["complete"] is False
    assert pipeline.exit_code(result) in (pipeline.EXIT_FINDINGS, pipeline.EXIT_INCOMPLETE)
    assert_unknowns_explained(inventory)
    assert_no_silent_pass(baseline, inventory,
                          {(f.rule_id, f.resource.id) for f in result.findings
                           if f.status in ("fail", "error")},
                          {o.rule_id: o.status for o in result.rules})
    return result


def assert_reads_by_the_auditor(log: list[Seen]) -> None:
    assert log, "the proxy saw nothing: the check proves nothing"
    assert {seen.method for seen in log} <= {"GET", "HEAD"}
    assert all(seen.user_agent.startswith(USER_AGENT) or f" {USER_AGENT}" in seen.user_agent
               for seen in log), {seen.user_agent for seen in log}


def test_throttling_errors_resets_and_latency_leave_an_honest_incomplete_scan(
        emulator: StorageEmulator, baseline: Baseline) -> None:
    with FaultProxy(emulator.endpoint, TRANSIENT_FAULTS) as proxy:
        inventory = live_scan(proxy.url, RECORDED, SETTINGS).inventory
        outcomes = proxy.outcomes()
    assert all(outcomes[kind] for kind in ("forwarded", "throttle", "server-error", "reset"))
    assert_honest(inventory, baseline)
    # a call that ran out of retries is reported by what it last failed with
    codes = {e.code for e in _storage_errors(inventory)}
    assert "RetryError" not in codes
    assert codes & {"TooManyRequests", "ServiceUnavailable", "InternalServerError",
                    "BadGateway", "GatewayTimeout", "ConnectionError"}, codes
    assert_reads_by_the_auditor(proxy.log)


def test_the_emulator_stopped_mid_scan_leaves_an_honest_incomplete_scan(
        emulator: StorageEmulator, baseline: Baseline) -> None:
    plan = FaultPlan(seed=SEED, stop_upstream_after=baseline.requests // 2)
    with FaultProxy(emulator.endpoint, plan, stop_upstream=emulator.stop) as proxy:
        inventory = live_scan(proxy.url, RECORDED, SETTINGS).inventory
    assert proxy.upstream_stopped and proxy.outcomes()["upstream-down"]
    assert_honest(inventory, baseline)
    assert_reads_by_the_auditor(proxy.log)


def test_every_request_is_the_scanners_and_none_comes_after_the_scan(
        emulator: StorageEmulator) -> None:
    """The storage library can fetch bucket metadata in threads of its own (for tracing): calls
    nobody asked for, outside the scanner's retries and timeouts, unseen by the read-only
    proof (no scanner frame on their stack), and still running after the scan returns."""
    with FaultProxy(emulator.endpoint, FaultPlan(seed=SEED)) as proxy, \
            readonly.recording() as recorder:
        live_scan(proxy.url, RECORDED, SETTINGS)
        sent = len(proxy.log)
        time.sleep(LATE_REQUEST_WAIT_SECONDS)
        late = proxy.log[sent:]
    by_scanner = [c for c in recorder.calls if c.service == "storage" and c.reads_cloud]
    assert late == []
    assert sent == len(by_scanner), sorted(seen.path for seen in proxy.log)
