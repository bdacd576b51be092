"""Trustworthy under faults: the real CLI (`audit run` in a subprocess) scans the ML org
through tests/fault_proxy.py, which throttles, fails, resets and slows a share of the calls,
or stops the emulator in the middle of the scan.

The scan must finish, and its answer must stay honest (tests/honesty.py), judged against a scan
of the same org without faults; and

* every collection error is in the coverage section of findings.json and in the history
  store's record of the run (complete = 0);
* the exit code says incomplete: 3, or 1 when a failing finding reaches the gate (cli.py);
* no traceback and no "internal error" reaches the user;
* and, seen at the proxy, every request of the auditor was a read.

Retries are cut to 2 attempts in standard mode (AWS_MAX_ATTEMPTS, AWS_RETRY_MODE), so that a
faulted call fails in a second instead of after minutes of back-off, and throttling does not
slow the whole scan down to a request a second as adaptive mode (the default) rightly would;
how failures become data does not depend on the mode. Fault decisions come from a fixed seed.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auditor import pipeline
from auditor.config import Profile
from auditor.demo.server import MotoHandle, start_moto
from auditor.findings import severity_rank
from auditor.inventory import Inventory
from auditor.inventory.io import load
from auditor.scanners.aws.clients import AwsClients, session_for_profile
from auditor.scanners.base import ScanSettings
from tests.conftest import TEST_REGION
from tests.fault_proxy import FaultPlan, FaultProxy, Seen
from tests.honesty import Baseline, assert_no_silent_pass, assert_unknowns_explained

pytestmark = pytest.mark.emulator

SEED = 20261126
RETRIES = {"AWS_MAX_ATTEMPTS": "2", "AWS_RETRY_MODE": "standard"}
PROFILE = "faulty"
WORKERS = 8
TRANSIENT_FAULTS = FaultPlan(seed=SEED, throttle=0.12, server_error=0.08, reset=0.05,
                             latency=0.02)
AUDIT = Path(sys.executable).with_name("audit")
READ_OPERATIONS = re.compile(r"^(List|Get|Describe|Head|Lookup)[A-Z]|^AssumeRole$")
CLI_TIMEOUT_SECONDS = 240


def retries_follow_the_environment() -> bool:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in RETRIES.items():
            patch.setenv(name, value)
        client = AwsClients(session_for_profile(None), endpoint_url="http://127.0.0.1:9").client("sts")
    return client.meta.config.retries == {"mode": RETRIES["AWS_RETRY_MODE"],
                                          "total_max_attempts": int(RETRIES["AWS_MAX_ATTEMPTS"])}


def profile(endpoint_url: str) -> Profile:
    return Profile(name=PROFILE, source="test", scan=ScanSettings(max_workers=WORKERS),
                   providers={"aws": {"endpoint_url": endpoint_url, "regions": [TEST_REGION]}})


@pytest.fixture(scope="module")
def baseline(seeded_aws_org: Any) -> Baseline:
    """The same org scanned without faults, through the proxy (to count its requests)."""
    with FaultProxy(seeded_aws_org.endpoint_url, FaultPlan(seed=SEED)) as proxy:
        inventory = pipeline.scan(profile(proxy.url))
        requests = len(proxy.log)
    result = pipeline.evaluate(inventory, pipeline.EvaluationOptions(profile=PROFILE))
    assert not inventory.errors or all(e.operation == "GetObjectAcl" for e in inventory.errors)
    return Baseline.of(inventory, result, requests)


@pytest.fixture
def upstream(seeded_aws_org: Any) -> Iterator[MotoHandle]:
    """A moto server of its own in front of the org's state (moto's state is process-wide),
    so that stopping it leaves the suite's emulator running."""
    server = start_moto()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True, slots=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    output: Path
    state: Path

    def json(self, name: str) -> Any:
        return json.loads((self.output / name).read_text(encoding="utf-8"))


def audit_run(workdir: Path, endpoint_url: str) -> CliRun:
    config = workdir / "audit.toml"
    config.write_text(f"""
[profiles.{PROFILE}]
output_dir = "out"
state = "state/history.sqlite"
[profiles.{PROFILE}.aws]
endpoint_url = "{endpoint_url}"
regions = ["{TEST_REGION}"]
[profiles.{PROFILE}.scan]
max_workers = {WORKERS}
""", encoding="utf-8")
    environment = {**os.environ, **RETRIES}
    environment.pop("AUDITOR_DEBUG", None)  # the user's view: no tracebacks asked for
    process = subprocess.run([str(AUDIT), "run", "--profile", PROFILE, "--config", str(config)],
                             cwd=workdir, env=environment, capture_output=True, text=True,
                             timeout=CLI_TIMEOUT_SECONDS)
    return CliRun(process.returncode, process.stdout, process.stderr, workdir / "out",
                  workdir / "state" / "history.sqlite")


def assert_honest(run: CliRun, baseline: Baseline) -> Inventory:
    """The checks of the module docstring; returns the faulted run's inventory."""
    said = run.stdout + run.stderr
    assert "Traceback" not in said and "internal error" not in said, said
    inventory = load(run.output / "inventory.json")
    findings = run.json("findings.json")
    assert inventory.errors, "the faults made nothing unknown: the test proves nothing"
    assert "incomplete:" in run.stderr

    gate = severity_rank(findings["run"]["fail_on"])
    at_gate = any(f["status"] == "fail" and severity_rank(f["severity"]) >= gate
                  for f in findings["findings"])
    assert run.returncode == (pipeline.EXIT_FINDINGS if at_gate else pipeline.EXIT_INCOMPLETE), said

    coverage = findings["run"]["coverage"]
    assert coverage["complete"] is False
    assert sorted(json.dumps(e, sort_keys=True) for e in coverage["collection_errors"]) == \
        sorted(json.dumps(e.to_dict(), sort_keys=True) for e in inventory.errors)
    with sqlite3.connect(run.state) as db:
        assert db.execute("SELECT complete FROM runs").fetchall() == [(0,)]

    assert_unknowns_explained(inventory)
    assert_no_silent_pass(baseline, inventory,
                          {(f["rule_id"], f["resource"]["id"]) for f in findings["findings"]
                           if f["status"] in ("fail", "error")},
                          {rule["rule_id"]: rule["status"] for rule in findings["rules"]})
    return inventory


def assert_reads_only(log: list[Seen]) -> None:
    auditor_requests = [seen for seen in log if "auditor/" in seen.user_agent]
    assert auditor_requests, "the auditor's user agent was not seen: the check proves nothing"
    writes = [seen for seen in auditor_requests
              if not (READ_OPERATIONS.match(seen.operation) if seen.operation
                      else seen.method in ("GET", "HEAD"))]
    assert writes == []


def test_throttling_errors_resets_and_latency_leave_an_honest_incomplete_report(
        upstream: MotoHandle, baseline: Baseline, tmp_path: Path) -> None:
    with FaultProxy(upstream.endpoint_url, TRANSIENT_FAULTS) as proxy:
        run = audit_run(tmp_path, proxy.url)
        outcomes = proxy.outcomes()
    assert all(outcomes[kind] for kind in ("forwarded", "throttle", "server-error", "reset"))
    inventory = assert_honest(run, baseline)
    assert {e.code for e in inventory.errors} & {"Throttling", "ThrottlingException", "SlowDown"}
    assert_reads_only(proxy.log)


def test_the_emulator_stopped_mid_scan_leaves_an_honest_incomplete_report(
        upstream: MotoHandle, baseline: Baseline, tmp_path: Path) -> None:
    plan = FaultPlan(seed=SEED, stop_upstream_after=baseline.requests * 2 // 3)
    with FaultProxy(upstream.endpoint_url, plan, stop_upstream=upstream.stop) as proxy:
        run = audit_run(tmp_path, proxy.url)
    assert proxy.upstream_stopped and proxy.outcomes()["upstream-down"]
    inventory = assert_honest(run, baseline)
    # a third of the scan is gone: far more than a few unlucky calls
    assert len(inventory.errors) >= 5
    assert_reads_only(proxy.log)


def test_aws_retries_follow_the_aws_settings() -> None:
    assert retries_follow_the_environment(), (
        "auditor/scanners/aws/clients.py ignores AWS_MAX_ATTEMPTS and AWS_RETRY_MODE: users "
        "cannot tune retries, and the faulted scans here would take minutes")


# -- the proxy itself -----------------------------------------------------------------------------
def _send(url: str, count: int) -> list[str]:
    answers = []
    for i in range(count):
        try:
            with urllib.request.urlopen(f"{url}/moto-api/?n={i % 7}", timeout=10) as response:
                answers.append(str(response.status))
        except urllib.error.HTTPError as error:
            answers.append(str(error.code))
        except OSError:
            answers.append("reset")
    return answers


def test_the_proxy_faults_the_same_requests_for_the_same_seed(aws_endpoint: str) -> None:
    plan = FaultPlan(seed=SEED, throttle=0.2, server_error=0.2, reset=0.2)
    runs = []
    for _ in range(2):
        with FaultProxy(aws_endpoint, plan) as proxy:
            runs.append(_send(proxy.url, 40))
    assert runs[0] == runs[1]
    assert {"200", "503", "reset"} <= set(runs[0])
    with FaultProxy(aws_endpoint, FaultPlan(seed=SEED + 1, throttle=0.2, server_error=0.2,
                                            reset=0.2)) as proxy:
        assert _send(proxy.url, 40) != runs[0]


def test_the_proxy_stops_by_itself(aws_endpoint: str) -> None:
    with FaultProxy(aws_endpoint, FaultPlan(lifetime=0.3)) as proxy:
        assert _send(proxy.url, 1) == ["200"]
        assert proxy.wait_stopped(timeout=5)  # the timer shut the server down
        assert _send(proxy.url, 1) == ["reset"]
