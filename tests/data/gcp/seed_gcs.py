#!/usr/bin/env python3
# ruff: noqa  (a verbatim copy of the scenario harness /work/shared/scenarios/seed_gcs.py, not project code)
"""Seed the bucket part of a Cloud Asset Inventory scenario into gcp-storage-emulator.

Reads every ``storage.googleapis.com/Bucket`` asset of a CAI export (JSON lines, resource and
iam_policy merged per asset, see GCP.md) and, for each bucket:

  1. creates it (the emulator drops every field sent on create),
  2. patches labels, iamConfiguration (uniform bucket-level access, public access prevention),
     versioning, logging, default KMS key and retention period with ``bucket.patch()``,
  3. saves bucket ACLs / default object ACLs when the scenario lists any,
  4. sets the bucket IAM policy (version 3, conditions kept as written),
  5. uploads a zero-byte object for each name in ``resource.data["x-objects"]``.

Then it reads everything back (``--no-verify`` skips that) and exits 1 on any difference.

It only talks to an emulator: the endpoint comes from ``--endpoint``, ``STORAGE_EMULATOR_HOST``
or ``--start-emulator``, and anything that is not a loopback address is refused.

Examples:
  # start an emulator on a free port, seed, verify, stop it (by PID)
  python seed_gcs.py gcp-ml-org.cai.jsonl --start-emulator
  # seed an emulator you started yourself
  gcp-storage-emulator start -H 127.0.0.1 --port 9023 --in-memory &
  STORAGE_EMULATOR_HOST=http://127.0.0.1:9023 python seed_gcs.py gcp-ml-org.cai.jsonl
  # leave the emulator running for an audit; prints its endpoint and PID
  python seed_gcs.py gcp-ml-org.cai.jsonl --start-emulator --keep-running

Not representable in the emulator (documented in GCP.md): one project number for all buckets,
locked retention policies (isLocked), lockedTime of uniform bucket-level access, and IAM
enforcement (policies are stored, never evaluated).
"""
from __future__ import annotations

import argparse
import json
import mimetypes
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

BUCKET_TYPE = "storage.googleapis.com/Bucket"
OBJECTS_KEY = "x-objects"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


# -- reading the scenario ----------------------------------------------------------------------
def load_buckets(cai_path: Path) -> list[dict]:
    """The bucket assets of a CAI JSON-lines export, in file order."""
    buckets = []
    with cai_path.open() as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                asset = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{cai_path}:{lineno}: not JSON: {exc}") from None
            if asset.get("asset_type") == BUCKET_TYPE:
                if "name" not in asset.get("resource", {}).get("data", {}):
                    raise SystemExit(f"{cai_path}:{lineno}: bucket asset without resource.data.name")
                buckets.append(asset)
    if not buckets:
        raise SystemExit(f"{cai_path}: no {BUCKET_TYPE} assets")
    return buckets


def wanted_bindings(asset: dict) -> list[tuple]:
    """Bindings as comparable tuples: (role, sorted members, condition expression or None)."""
    return normalize(asset.get("iam_policy", {}).get("bindings", []))


def normalize(bindings) -> list[tuple]:
    out = []
    for b in bindings:
        cond = b.get("condition") or None
        out.append((b["role"], tuple(sorted(b.get("members", ()))), cond and cond.get("expression")))
    return sorted(out)


# -- seeding -----------------------------------------------------------------------------------------
def make_client(endpoint: str):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="seed-gcs", credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": endpoint})


def seed_bucket(client, asset: dict) -> None:
    from google.api_core.exceptions import Conflict

    data = asset["resource"]["data"]
    name = data["name"]
    try:
        bucket = client.create_bucket(name)
    except Conflict:  # seeding twice is allowed: patch the existing bucket
        bucket = client.get_bucket(name)

    # The emulator ignores fields on create: set them now, in one patch.
    bucket.labels = data.get("labels") or {}
    cfg = data.get("iamConfiguration") or {}
    bucket.iam_configuration.uniform_bucket_level_access_enabled = bool(
        (cfg.get("uniformBucketLevelAccess") or {}).get("enabled"))
    bucket.iam_configuration.public_access_prevention = cfg.get("publicAccessPrevention", "inherited")
    kms = (data.get("encryption") or {}).get("defaultKmsKeyName")
    if kms:
        bucket.default_kms_key_name = kms
    versioning = data.get("versioning") or {}
    if "enabled" in versioning:
        bucket.versioning_enabled = bool(versioning["enabled"])
    logging = data.get("logging") or {}
    if logging.get("logBucket"):
        bucket.enable_logging(logging["logBucket"], logging.get("logObjectPrefix", ""))
    retention = (data.get("retentionPolicy") or {}).get("retentionPeriod")
    if retention is not None:
        bucket.retention_period = int(retention)
    bucket.patch()

    if data.get("acl"):
        bucket.acl.save(acl=[{"entity": e["entity"], "role": e["role"]} for e in data["acl"]])
    if data.get("defaultObjectAcl"):
        bucket.default_object_acl.save(
            acl=[{"entity": e["entity"], "role": e["role"]} for e in data["defaultObjectAcl"]])

    wanted = asset.get("iam_policy") or {}
    policy = bucket.get_iam_policy(requested_policy_version=3)
    policy.version = wanted.get("version", 1)
    bindings = []
    for b in wanted.get("bindings", []):
        item = {"role": b["role"], "members": set(b["members"])}
        if b.get("condition"):
            item["condition"] = b["condition"]
        bindings.append(item)
    policy.bindings = bindings
    bucket.set_iam_policy(policy)

    for obj in data.get(OBJECTS_KEY, []):
        ctype = mimetypes.guess_type(obj)[0] or "application/octet-stream"
        bucket.blob(obj).upload_from_string(b"", content_type=ctype)


def seed(client, buckets: list[dict]) -> None:
    for asset in buckets:
        seed_bucket(client, asset)


# -- verification ------------------------------------------------------------------------------------
def verify_bucket(client, asset: dict) -> list[str]:
    data = asset["resource"]["data"]
    name = data["name"]
    got = client.get_bucket(name)
    problems = []

    def expect(what, want, have):
        if want != have:
            problems.append(f"{name}: {what}: want {want!r}, emulator has {have!r}")

    cfg = data.get("iamConfiguration") or {}
    expect("labels", data.get("labels") or {}, got.labels)
    expect("uniformBucketLevelAccess.enabled",
           bool((cfg.get("uniformBucketLevelAccess") or {}).get("enabled")),
           bool(got.iam_configuration.uniform_bucket_level_access_enabled))
    expect("publicAccessPrevention", cfg.get("publicAccessPrevention", "inherited"),
           got.iam_configuration.public_access_prevention)
    expect("encryption.defaultKmsKeyName", (data.get("encryption") or {}).get("defaultKmsKeyName"),
           got.default_kms_key_name)
    versioning = data.get("versioning") or {}
    if "enabled" in versioning:
        expect("versioning.enabled", bool(versioning["enabled"]), bool(got.versioning_enabled))
    logging = data.get("logging") or {}
    expect("logging.logBucket", logging.get("logBucket"), (got.get_logging() or {}).get("logBucket"))
    retention = (data.get("retentionPolicy") or {}).get("retentionPeriod")
    expect("retentionPolicy.retentionPeriod", None if retention is None else int(retention), got.retention_period)
    if data.get("acl"):
        want_acl = sorted((e["entity"], e["role"]) for e in data["acl"])
        got.acl.reload()
        expect("acl", want_acl, sorted((e["entity"], e["role"]) for e in got.acl))
    if data.get("defaultObjectAcl"):
        want_dacl = sorted((e["entity"], e["role"]) for e in data["defaultObjectAcl"])
        got.default_object_acl.reload()
        expect("defaultObjectAcl", want_dacl, sorted((e["entity"], e["role"]) for e in got.default_object_acl))

    policy = got.get_iam_policy(requested_policy_version=3)
    expect("iam policy version", (asset.get("iam_policy") or {}).get("version", 1), policy.version)
    expect("iam bindings", wanted_bindings(asset), normalize(policy.bindings))
    expect("objects", sorted(data.get(OBJECTS_KEY, [])), sorted(b.name for b in client.list_blobs(name)))
    return problems


def verify(client, buckets: list[dict]) -> list[str]:
    problems = []
    for asset in buckets:
        problems += verify_bucket(client, asset)
    return problems


# -- emulator process ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emulator_command() -> str:
    here = Path(sys.executable).parent / "gcp-storage-emulator"
    found = str(here) if here.exists() else shutil.which("gcp-storage-emulator")
    if not found:
        raise SystemExit("gcp-storage-emulator not found: pip install gcp-storage-emulator google-cloud-storage")
    return found


def start_emulator(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [emulator_command(), "start", "-H", "127.0.0.1", "--port", str(port), "--in-memory", "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gcp-storage-emulator exited with {proc.returncode} on port {port}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/storage/v1/b", timeout=1):
                return proc
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    stop_emulator(proc)
    raise SystemExit(f"gcp-storage-emulator did not answer on port {port} within 20 s")


def stop_emulator(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def checked_endpoint(endpoint: str) -> str:
    if "://" not in endpoint:
        endpoint = "http://" + endpoint
    host = urlparse(endpoint).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing to seed {endpoint}: only a local emulator (127.0.0.1/localhost) is allowed")
    return endpoint.rstrip("/")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cai", type=Path, help="CAI export, JSON lines (e.g. gcp-ml-org.cai.jsonl)")
    ap.add_argument("--endpoint", help="emulator URL (default: $STORAGE_EMULATOR_HOST)")
    ap.add_argument("--start-emulator", action="store_true", help="start gcp-storage-emulator (in memory) first")
    ap.add_argument("--port", type=int, help="port for --start-emulator (default: a free one)")
    ap.add_argument("--keep-running", action="store_true", help="leave the started emulator running")
    ap.add_argument("--no-verify", action="store_true", help="skip reading everything back")
    args = ap.parse_args(argv)

    buckets = load_buckets(args.cai)
    proc = None
    if args.start_emulator:
        port = args.port or free_port()
        proc = start_emulator(port)
        endpoint = f"http://127.0.0.1:{port}"
    else:
        endpoint = args.endpoint or os.environ.get("STORAGE_EMULATOR_HOST")
        if not endpoint:
            raise SystemExit("no emulator: pass --endpoint, set STORAGE_EMULATOR_HOST, or use --start-emulator")
    endpoint = checked_endpoint(endpoint)
    os.environ["STORAGE_EMULATOR_HOST"] = endpoint

    try:
        client = make_client(endpoint)
        seed(client, buckets)
        problems = [] if args.no_verify else verify(client, buckets)
        for p in problems:
            print("MISMATCH", p)
        objects = sum(len(a["resource"]["data"].get(OBJECTS_KEY, [])) for a in buckets)
        checked = "not verified" if args.no_verify else f"{len(problems)} mismatches"
        print(f"seeded {len(buckets)} buckets, {objects} objects into {endpoint}: {checked}")
        if proc is not None and args.keep_running:
            print(f"emulator left running: STORAGE_EMULATOR_HOST={endpoint} pid={proc.pid}")
            proc = None
        return 1 if problems else 0
    finally:
        if proc is not None:
            stop_emulator(proc)


if __name__ == "__main__":
    sys.exit(main())
