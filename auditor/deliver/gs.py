"""Copy each run to gs://BUCKET/PREFIX/STAMP/ with google-cloud-storage.

Application Default Credentials with the read-write storage scope; STORAGE_EMULATOR_HOST
points it at an emulator (with anonymous credentials). Needs the ``gcp`` extra.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from auditor.deliver.base import DeliveryContext, DeliveryError, TransientDeliveryError
from auditor.deliver.bundle import Artifact, RunBundle
from auditor.deliver.settings import GS_OPTIONS, WHERE, bucket_url, object_key

EMULATOR_VARIABLE = "STORAGE_EMULATOR_HOST"
SCOPES = ("https://www.googleapis.com/auth/devstorage.read_write",)
# the client wants a project even when nothing is listed or billed to one
PLACEHOLDER_PROJECT = "auditor-deliver"


def _client() -> Any:
    try:
        import google.auth
        from google.auth.credentials import AnonymousCredentials
        from google.auth.exceptions import DefaultCredentialsError

        from auditor.scanners.gcp.clients import quiet_storage_client
    except ImportError:
        raise DeliveryError("gs:// delivery needs google-cloud-storage "
                            "(a dependency of the auditor: reinstall it)") from None
    emulator = os.environ.get(EMULATOR_VARIABLE)
    if emulator:
        endpoint = emulator if "://" in emulator else f"http://{emulator}"
        return quiet_storage_client(project=PLACEHOLDER_PROJECT,
                                    credentials=AnonymousCredentials(),
                                    client_options={"api_endpoint": endpoint})
    try:
        credentials, project = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError:
        raise DeliveryError("no Google Application Default Credentials (gcloud auth "
                            "application-default login, or GOOGLE_APPLICATION_CREDENTIALS)") from None
    return quiet_storage_client(project=project or PLACEHOLDER_PROJECT, credentials=credentials)


def failure(exc: Exception, what: str) -> DeliveryError:
    from google.api_core import exceptions as api
    from google.auth.exceptions import TransportError
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import Timeout

    transient = (api.TooManyRequests, api.InternalServerError, api.BadGateway,
                 api.ServiceUnavailable, api.GatewayTimeout, TransportError,
                 RequestsConnectionError, Timeout, ConnectionError)
    if isinstance(exc, transient):
        return TransientDeliveryError(f"{what}: {exc}")
    if isinstance(exc, api.GoogleAPICallError):
        return DeliveryError(f"{what}: {exc.code} {exc.message}")
    raise exc


class GcsDeliverer:
    name = "gs"
    options = GS_OPTIONS
    enabled_by = "gs"
    notifies = False

    def check(self, settings: Mapping[str, Any]) -> None:
        bucket_url(settings["gs"], "gs", f"{WHERE}.gs")

    def destination(self, settings: Mapping[str, Any]) -> str:
        return settings["gs"]

    def deliver(self, run: RunBundle, settings: Mapping[str, Any], context: DeliveryContext) -> str:
        bucket_name, prefix = bucket_url(settings["gs"], "gs", f"{WHERE}.gs")
        bucket = _client().bucket(bucket_name)  # no request: uploads say if it is missing
        for artifact in run.files:
            key = object_key(prefix, run.stamp, artifact.name)
            context.retry.call(lambda a=artifact, k=key: _upload(bucket, k, a),
                               f"gs://{bucket_name}/{key}")
        return f"gs://{bucket_name}/{object_key(prefix, run.stamp, '')}/"


def _upload(bucket: Any, key: str, artifact: Artifact) -> None:
    try:
        # retry=None: retries are Retry's; the client still checks the upload's CRC32C
        bucket.blob(key).upload_from_filename(str(artifact.path), content_type=artifact.content_type,
                                              retry=None)
    except Exception as exc:
        raise failure(exc, "upload") from None
