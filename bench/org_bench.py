"""Benchmark: scanning a whole AWS organization, in parallel and one call at a time.

    .venv/bin/python bench/org_bench.py

An emulated organization (moto, in a child process) of 20 accounts holding 2,000 S3 buckets and
2,000 IAM roles (sizes are flags) is seeded directly, then scanned through a local proxy that
adds 50 ms to every API call, the round trip of a real cloud API. Reported for each run: wall
time, API calls per inventoried resource, and peak memory (the scan runs in a fresh child
process: its peak resident set size, and with --tracemalloc the peak of Python allocations).

Runs:
* parallel: the defaults (``[scan] max_workers`` per account, ``max_accounts`` at a time);
* sequential baseline, in the same run: max_workers = 1, one account at a time;
* Prowler (``prowler aws --services s3 iam kms``) on the same accounts through the same proxy,
  when a ``prowler`` executable is found (--prowler PATH, or on PATH); skipped otherwise.

Everything listens on 127.0.0.1 and stops when the benchmark ends.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency_proxy import start_proxy  # a sibling script, not a package

MANAGEMENT = "123456789012"  # moto's default account: the base credentials' account
ENTRY_ROLE = "OrganizationAccountAccessRole"
REGION = "us-east-1"
SEED_THREADS = 8
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})
READ_DATA = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]})


# --------------------------------------------------------------------------- emulator


def _moto_child(ready: Any, stop: Any) -> None:
    from auditor.demo.server import start_moto

    # moto prints a traceback for every API it does not implement (Prowler calls some)
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the life of this child)
    with start_moto() as moto:
        ready.send(moto.endpoint_url)
        stop.recv()  # until the parent says so, or goes away


@contextmanager
def moto_server() -> Iterator[str]:
    context = multiprocessing.get_context("spawn")
    ready_receive, ready_send = context.Pipe(duplex=False)
    stop_receive, stop_send = context.Pipe(duplex=False)
    process = context.Process(target=_moto_child, args=(ready_send, stop_receive), daemon=True)
    process.start()
    try:
        if not ready_receive.poll(60):
            raise RuntimeError("moto did not start")
        yield ready_receive.recv()
    finally:
        stop_send.send(None)
        process.join(10)
        if process.is_alive():
            process.terminate()


@contextmanager
def fake_credentials() -> Iterator[None]:
    """The emulator's fake credentials and empty AWS config files, for this process and the
    children it starts: nothing from the developer's AWS setup takes part."""
    with tempfile.TemporaryDirectory(prefix="org-bench-aws-") as directory:
        empty = Path(directory) / "empty"
        empty.write_text("", encoding="utf-8")
        saved = dict(os.environ)
        for name in list(os.environ):
            if name.startswith("AWS_"):
                del os.environ[name]
        os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                          AWS_SESSION_TOKEN="testing", AWS_DEFAULT_REGION=REGION,
                          AWS_CONFIG_FILE=str(empty), AWS_SHARED_CREDENTIALS_FILE=str(empty),
                          AWS_EC2_METADATA_DISABLED="true")
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


# --------------------------------------------------------------------------- seeding


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def seed_organization(endpoint_url: str, accounts: int, buckets: int, roles: int) -> list[str]:
    """Create the organization and its resources directly on the emulator (no proxy)."""
    import boto3

    org = boto3.client("organizations", endpoint_url=endpoint_url)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    unit = org.create_organizational_unit(ParentId=root, Name="ml")["OrganizationalUnit"]["Id"]
    ids = [MANAGEMENT]
    for number in range(1, accounts):
        account = org.create_account(Email=f"member-{number}@example.com",
                                     AccountName=f"member-{number}")[
            "CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=unit)
        ids.append(account)
    jobs = [(account, index, bucket_count, role_count) for index, (account, bucket_count,
            role_count) in enumerate(zip(ids, _split(buckets, accounts), _split(roles, accounts),
                                         strict=True))]
    with ThreadPoolExecutor(SEED_THREADS) as pool:
        list(pool.map(lambda job: _seed_account(endpoint_url, *job), jobs))
    return ids


def _account_session(endpoint_url: str, account: str) -> Any:
    import boto3

    if account == MANAGEMENT:
        return boto3.Session(region_name=REGION)
    credentials = boto3.client("sts", endpoint_url=endpoint_url).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{ENTRY_ROLE}",
        RoleSessionName="bench-seed")["Credentials"]
    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"], region_name=REGION)


def _seed_account(endpoint_url: str, account: str, index: int, buckets: int,
                  roles: int) -> None:
    """Buckets with tags; every tenth with a bucket policy and an object; roles with a trust
    policy and an inline policy."""
    session = _account_session(endpoint_url, account)
    s3 = session.client("s3", endpoint_url=endpoint_url)
    for number in range(buckets):
        name = f"bench-{index:02d}-training-data-{number:04d}"
        s3.create_bucket(Bucket=name)
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [
            {"Key": "team", "Value": f"team-{number % 7}"}]})
        if number % 10 == 0:
            s3.put_bucket_policy(Bucket=name, Policy=json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}]}))
            s3.put_object(Bucket=name, Key="part-0000.parquet", Body=b"rows")
    iam = session.client("iam", endpoint_url=endpoint_url)
    for number in range(roles):
        name = f"bench-pipeline-{number:04d}"
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
        iam.put_role_policy(RoleName=name, PolicyName="read-data", PolicyDocument=READ_DATA)


# --------------------------------------------------------------------------- measured runs


@dataclass
class Measurement:
    name: str
    wall_seconds: float
    api_calls: int
    resources: int
    errors: int
    peak_rss_mb: float
    python_peak_mb: float | None = None

    @property
    def calls_per_resource(self) -> float:
        return self.api_calls / self.resources if self.resources else float("nan")


def _scan_child(endpoint_url: str, max_workers: int, max_accounts: int, trace: bool,
                result: Any) -> None:
    import tracemalloc

    from auditor.executors.local import InProcessExecutor
    from auditor.executors.profile_scan import scan_providers
    from auditor.scanners.base import ScanSettings

    if trace:
        tracemalloc.start()
    config = {"endpoint_url": endpoint_url, "organization": True, "role_name": ENTRY_ROLE}
    started = time.perf_counter()
    outcome = scan_providers({"aws": config}, ScanSettings(max_workers=max_workers),
                             executor=InProcessExecutor(max_accounts))
    wall = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    result.send({"wall_seconds": wall, "resources": len(outcome.inventory.resources),
                 "errors": len(outcome.inventory.errors),
                 "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                 "python_peak_mb": peak})


def measure_scan(name: str, proxy: Any, max_workers: int, max_accounts: int,
                 trace: bool = False) -> Measurement:
    """One scan through the proxy, in a fresh process (so that its memory is its own)."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    before = proxy.requests
    process = context.Process(target=_scan_child,
                              args=(proxy.url, max_workers, max_accounts, trace, send))
    process.start()
    outcome = receive.recv()
    process.join()
    return Measurement(name=name, api_calls=proxy.requests - before, **outcome)


def find_prowler(explicit: str | None) -> str | None:
    return explicit if explicit else shutil.which("prowler")


def measure_prowler(prowler: str, proxy: Any, accounts: list[str], parallel: int,
                    resources: int) -> Measurement:
    """``prowler aws --services s3 iam kms`` once per account (Prowler scans one account per
    run; members through the same role), ``parallel`` runs at a time like our scan."""
    before = proxy.requests
    environment = {**os.environ, "AWS_ENDPOINT_URL": proxy.url}

    def run(account: str) -> tuple[int, int]:
        with tempfile.TemporaryDirectory(prefix="prowler-") as output:
            command = [prowler, "aws", "--services", "s3", "iam", "kms", "--region", REGION,
                       "--output-directory", output, "--output-formats", "csv", "--no-banner"]
            if account != MANAGEMENT:
                command += ["--role", f"arn:aws:iam::{account}:role/{ENTRY_ROLE}"]
            process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(process.pid, 0)  # this run's own peak memory
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_maxrss

    started = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        outcomes = list(pool.map(run, accounts))
    wall = time.perf_counter() - started
    failed = sum(1 for code, _ in outcomes if code not in (0, 3))  # 3: checks failed
    return Measurement(name="prowler", wall_seconds=wall, api_calls=proxy.requests - before,
                       resources=resources, errors=failed,
                       peak_rss_mb=max(rss for _, rss in outcomes) / 1024)


# --------------------------------------------------------------------------- report


def report(runs: list[Measurement], setup: dict[str, Any]) -> str:
    lines = [f"organization: {setup['accounts']} accounts, {setup['buckets']} buckets, "
             f"{setup['roles']} roles; +{setup['latency_ms']:g} ms per API call; "
             f"seeded in {setup['seed_seconds']:.0f} s", "",
             f"{'run':<12} {'wall s':>8} {'API calls':>10} {'calls/res':>9} {'resources':>9} "
             f"{'errors':>6} {'peak RSS MB':>11} {'py peak MB':>10}"]
    for run in runs:
        python_peak = f"{run.python_peak_mb:.0f}" if run.python_peak_mb is not None else "-"
        lines.append(f"{run.name:<12} {run.wall_seconds:>8.1f} {run.api_calls:>10} "
                     f"{run.calls_per_resource:>9.2f} {run.resources:>9} {run.errors:>6} "
                     f"{run.peak_rss_mb:>11.0f} {python_peak:>10}")
    by_name = {run.name: run for run in runs}
    if "parallel" in by_name:
        for other in ("sequential", "prowler"):
            if other in by_name:
                ratio = by_name[other].wall_seconds / by_name["parallel"].wall_seconds
                lines.append(f"parallel is {ratio:.1f}x faster than {other}")
    return "\n".join(lines)


def main() -> None:
    from auditor.executors.base import DEFAULT_MAX_ACCOUNTS
    from auditor.scanners.base import ScanSettings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--buckets", type=int, default=2000)
    parser.add_argument("--roles", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--max-workers", type=int, default=ScanSettings().max_workers,
                        help="[scan] max_workers of the parallel run (default: the default)")
    parser.add_argument("--max-accounts", type=int, default=DEFAULT_MAX_ACCOUNTS,
                        help="accounts at a time in the parallel run (default: the default)")
    parser.add_argument("--skip-baseline", action="store_true",
                        help="do not run the sequential baseline (it is the slow part)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also measure the Python allocation peak of the parallel scan "
                             "(a separate run: tracing slows it down)")
    parser.add_argument("--prowler", metavar="PATH", help="prowler executable (default: PATH)")
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the figures here")
    options = parser.parse_args()
    if options.accounts < 1:
        parser.error("--accounts must be at least 1")

    with fake_credentials(), moto_server() as endpoint_url:
        started = time.perf_counter()
        accounts = seed_organization(endpoint_url, options.accounts, options.buckets,
                                     options.roles)
        setup = {"accounts": options.accounts, "buckets": options.buckets,
                 "roles": options.roles, "latency_ms": options.latency_ms,
                 "seed_seconds": time.perf_counter() - started}
        print(f"seeded {options.accounts} accounts in {setup['seed_seconds']:.0f} s; scanning "
              f"through a +{options.latency_ms:g} ms proxy", flush=True)
        proxy = start_proxy(endpoint_url.removeprefix("http://"), delay_ms=options.latency_ms)
        runs: list[Measurement] = []

        def done(run: Measurement) -> None:
            runs.append(run)
            print(f"{run.name}: {run.wall_seconds:.1f} s", flush=True)

        try:
            done(measure_scan("parallel", proxy, options.max_workers, options.max_accounts))
            if options.tracemalloc:
                traced = measure_scan("traced", proxy, options.max_workers,
                                      options.max_accounts, trace=True)
                runs[0].python_peak_mb = traced.python_peak_mb
            if not options.skip_baseline:
                done(measure_scan("sequential", proxy, 1, 1))
            prowler = find_prowler(options.prowler)
            if prowler:
                done(measure_prowler(prowler, proxy, accounts, options.max_accounts,
                                     runs[0].resources))
            else:
                print("prowler not found (give --prowler PATH): the Prowler comparison is "
                      "skipped", flush=True)
        finally:
            proxy.stop()
    print()
    print(report(runs, setup))
    if options.json:
        options.json.write_text(json.dumps({"setup": setup, "runs": [
            asdict(run) | {"calls_per_resource": run.calls_per_resource} for run in runs]},
            indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
