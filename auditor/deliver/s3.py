"""Copy each run to s3://BUCKET/PREFIX/STAMP/ with boto3 put_object.

The only place the product writes to a cloud, and only for delivery. Credentials come from
the standard AWS chain; AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) points it at an emulator.
Each object carries its SHA-256 (ChecksumSHA256), which S3 verifies on arrival.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from auditor.deliver.base import DeliveryContext, DeliveryError, TransientDeliveryError
from auditor.deliver.bundle import Artifact, RunBundle
from auditor.deliver.settings import S3_OPTIONS, WHERE, bucket_url, object_key

TRANSIENT_CODES = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout",
                             "Throttling", "ThrottlingException", "RequestLimitExceeded"})


def _client() -> Any:
    import boto3
    from botocore.config import Config

    # one attempt per call: retries are Retry's (auditor/deliver/retry.py)
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=120,
                    user_agent_extra="auditor-deliver")
    return boto3.session.Session().client("s3", config=config)


def failure(exc: Exception, what: str) -> DeliveryError:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "?"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        message = f"{what}: {code}: {error.get('Message', '')}".rstrip(": ")
        if code in TRANSIENT_CODES or status >= 500 or status == 429:
            return TransientDeliveryError(message)
        return DeliveryError(message)
    if isinstance(exc, NoCredentialsError):
        return DeliveryError(f"{what}: no AWS credentials (profile, environment or instance role)")
    if isinstance(exc, BotoCoreError):
        # connection refused, timeouts, dropped connections: the network, not the request
        return TransientDeliveryError(f"{what}: {exc}")
    raise exc


class S3Deliverer:
    name = "s3"
    options = S3_OPTIONS
    enabled_by = "s3"
    notifies = False

    def check(self, settings: Mapping[str, Any]) -> None:
        bucket_url(settings["s3"], "s3", f"{WHERE}.s3")

    def destination(self, settings: Mapping[str, Any]) -> str:
        return settings["s3"]

    def deliver(self, run: RunBundle, settings: Mapping[str, Any], context: DeliveryContext) -> str:
        bucket, prefix = bucket_url(settings["s3"], "s3", f"{WHERE}.s3")
        client = _client()
        for artifact in run.files:
            key = object_key(prefix, run.stamp, artifact.name)
            context.retry.call(lambda a=artifact, k=key: _put(client, bucket, k, a),
                               f"s3://{bucket}/{key}")
        return f"s3://{bucket}/{object_key(prefix, run.stamp, '')}/"


def _put(client: Any, bucket: str, key: str, artifact: Artifact) -> None:
    checksum = base64.b64encode(bytes.fromhex(artifact.sha256)).decode("ascii")
    try:
        with artifact.path.open("rb") as body:
            client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=artifact.content_type,
                              ChecksumSHA256=checksum, Metadata={"sha256": artifact.sha256})
    except Exception as exc:
        raise failure(exc, "PutObject") from None
