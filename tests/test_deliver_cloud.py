"""Delivery to s3:// (the moto server of tests/conftest.py) and gs:// (gcp-storage-emulator,
started here), through the real boto3 and google-cloud-storage clients."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from auditor.deliver import deliver_run
from auditor.deliver.base import DeliveryError, TransientDeliveryError
from auditor.deliver.directory import DirectoryDeliverer
from auditor.deliver.gs import GcsDeliverer
from auditor.deliver.retry import Retry
from auditor.deliver.s3 import S3Deliverer
from auditor.deliver.s3 import failure as s3_failure
from auditor.errors import ConfigError
from tests.test_deliver_support import gcs_emulator, run_directory

STAMP = "2024-05-01T100213Z"
BUCKET = "acme-audit-reports"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return run_directory(tmp_path / "run")


def _no_wait() -> Retry:
    return Retry(sleep=lambda seconds: None)


def _manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))


# --- S3 -------------------------------------------------------------------------------------


@pytest.fixture
def s3(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A bucket on the shared emulator, removed afterwards so that scans elsewhere never see it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", aws_endpoint)
    client = boto3.client("s3", endpoint_url=aws_endpoint)
    client.create_bucket(Bucket=BUCKET)
    try:
        yield client
    finally:
        for listed in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=listed["Key"])
        client.delete_bucket(Bucket=BUCKET)


@pytest.mark.emulator
def test_a_run_is_copied_to_s3_under_its_stamp(run_dir: Path, s3: Any) -> None:
    [outcome] = deliver_run(run_dir, {"s3": f"s3://{BUCKET}/audits/prod/"},
                            deliverers={"s3": S3Deliverer}, retry=_no_wait)
    assert outcome.ok, outcome.error
    assert outcome.location == f"s3://{BUCKET}/audits/prod/{STAMP}/"
    manifest = _manifest(run_dir)
    listed = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    keys = sorted(o["Key"] for o in listed)
    names = sorted([a["name"] for a in manifest["artifacts"]] + ["manifest.json"])
    assert keys == [f"audits/prod/{STAMP}/{name}" for name in names]
    for artifact in manifest["artifacts"]:
        stored = s3.get_object(Bucket=BUCKET, Key=f"audits/prod/{STAMP}/{artifact['name']}")
        assert hashlib.sha256(stored["Body"].read()).hexdigest() == artifact["sha256"]
        assert stored["Metadata"]["sha256"] == artifact["sha256"]
    report = s3.head_object(Bucket=BUCKET, Key=f"audits/prod/{STAMP}/report.html")
    assert report["ContentType"].startswith("text/html")


@pytest.mark.emulator
def test_a_missing_bucket_fails_that_target_only(run_dir: Path, s3: Any, tmp_path: Path) -> None:
    outcomes = deliver_run(run_dir, {"s3": "s3://no-such-bucket-here/x",
                                     "directory": str(tmp_path / "archive")},
                           deliverers={"s3": S3Deliverer, "directory": DirectoryDeliverer},
                           retry=_no_wait)
    by_target = {o.target: o for o in outcomes}
    assert by_target["directory"].ok
    assert not by_target["s3"].ok and "NoSuchBucket" in (by_target["s3"].error or "")
    assert by_target["s3"].retries == 0  # a missing bucket is not worth retrying


def test_an_unreachable_endpoint_is_retried_then_reported(run_dir: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_deliver_support import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    waits: list[float] = []
    [outcome] = deliver_run(run_dir, {"s3": f"s3://{BUCKET}"}, deliverers={"s3": S3Deliverer},
                            retry=lambda: Retry(attempts=3, base_delay=0.5, sleep=waits.append))
    assert not outcome.ok and "gave up after 3 attempts" in (outcome.error or "")
    assert waits == [0.5, 1.0] and outcome.retries == 2


def _client_error(code: str, status: int) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "m"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")


@pytest.mark.parametrize(("code", "status", "transient"), [
    ("SlowDown", 503, True), ("InternalError", 500, True), ("Whatever", 502, True),
    ("AccessDenied", 403, False), ("NoSuchBucket", 404, False),
])
def test_which_s3_errors_are_retried(code: str, status: int, transient: bool) -> None:
    error = s3_failure(_client_error(code, status), "PutObject")
    assert isinstance(error, DeliveryError) and code in str(error)
    assert isinstance(error, TransientDeliveryError) is transient


@pytest.mark.parametrize("url", ["s3:/bucket", "https://bucket/x", "s3://", "s3://Bad_Bucket/x",
                                 "s3://ab"])
def test_a_malformed_s3_url_is_a_config_error(run_dir: Path, url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        deliver_run(run_dir, {"s3": url}, deliverers={"s3": S3Deliverer})
    assert caught.value.location == "deliver.s3"


# --- GCS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gcs_endpoint() -> Iterator[str]:
    pytest.importorskip("google.cloud.storage", reason="needs google-cloud-storage installed")
    pytest.importorskip("gcp_storage_emulator", reason="needs gcp-storage-emulator installed")
    with gcs_emulator() as endpoint:
        yield endpoint


@pytest.fixture
def gcs(gcs_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_endpoint)
    client = storage.Client(project="test", credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": gcs_endpoint})
    if client.lookup_bucket(BUCKET) is None:
        client.create_bucket(BUCKET)
    return client


def test_a_run_is_copied_to_gcs_under_its_stamp(run_dir: Path, gcs: Any) -> None:
    [outcome] = deliver_run(run_dir, {"gs": f"gs://{BUCKET}/prod"},
                            deliverers={"gs": GcsDeliverer}, retry=_no_wait)
    assert outcome.ok, outcome.error
    assert outcome.location == f"gs://{BUCKET}/prod/{STAMP}/"
    manifest = _manifest(run_dir)
    blobs = {b.name: b for b in gcs.list_blobs(BUCKET, prefix=f"prod/{STAMP}/")}
    names = [a["name"] for a in manifest["artifacts"]] + ["manifest.json"]
    assert sorted(blobs) == sorted(f"prod/{STAMP}/{name}" for name in names)
    for artifact in manifest["artifacts"]:
        data = gcs.bucket(BUCKET).blob(f"prod/{STAMP}/{artifact['name']}").download_as_bytes()
        assert hashlib.sha256(data).hexdigest() == artifact["sha256"]


def test_a_missing_gcs_bucket_is_a_failed_outcome(run_dir: Path, gcs: Any) -> None:
    [outcome] = deliver_run(run_dir, {"gs": "gs://no-such-bucket-here"},
                            deliverers={"gs": GcsDeliverer}, retry=_no_wait)
    assert not outcome.ok and "404" in (outcome.error or "") and outcome.retries == 0
