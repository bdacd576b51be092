"""The one place Google clients are made: credentials, endpoints, transports.

Application Default Credentials, with the read-only cloud-platform scope so that the token
itself cannot change anything. Cloud Storage goes to an emulator when ``storage_endpoint`` (or
``STORAGE_EMULATOR_HOST``) says so, with anonymous credentials. The gRPC clients
(Resource Manager, IAM, KMS, Org Policy) can be given a channel factory instead, which is how
tests point the real client libraries at a local server replaying recorded responses.

Clients are created lazily and shared between worker threads (gRPC clients are thread-safe);
Cloud Storage clients hold a requests session, so each thread gets its own.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any

import google.auth
from google.api_core.client_info import ClientInfo
from google.api_core.gapic_v1.client_info import ClientInfo as GrpcClientInfo
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import DefaultCredentialsError

from auditor import __version__
from auditor.errors import ConfigError

READ_ONLY_SCOPES = ("https://www.googleapis.com/auth/cloud-platform.read-only",)
EMULATOR_VARIABLE = "STORAGE_EMULATOR_HOST"
# Cloud Storage needs a project name even when none is billed (emulator, listing by bucket)
_PLACEHOLDER_PROJECT = "auditor-scan"
# every request names the auditor, so that audit logs and proxies can tell its reads apart
USER_AGENT = f"auditor/{__version__}"

ChannelFactory = Callable[[str], Any]  # API host -> grpc.Channel


def application_default_credentials() -> Credentials:
    try:
        credentials, _ = google.auth.default(scopes=READ_ONLY_SCOPES)
    except DefaultCredentialsError as exc:
        raise ConfigError("no Google Application Default Credentials: run `gcloud auth "
                          "application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, or "
                          f"read a CAI export with cai_export ({exc})", location="gcp") from None
    return credentials


def quiet_storage_client(**arguments: Any) -> Any:
    """A Cloud Storage client that sends only the requests it is asked to send.

    google-cloud-storage 3.x fetches bucket metadata for tracing in daemon threads of its own:
    calls nobody asked for, outside our retries and timeouts, still running after a scan.
    None turns that cache off (the library checks it before each use)."""
    from google.cloud import storage

    client = storage.Client(**arguments)
    if hasattr(client, "_bucket_metadata_cache"):
        client._bucket_metadata_cache = None
    return client


class GcpClients:
    def __init__(self, credentials: Credentials | None, *, storage_endpoint: str | None = None,
                 channel_factory: ChannelFactory | None = None):
        self._credentials = credentials
        self._storage_endpoint = storage_endpoint or os.environ.get(EMULATOR_VARIABLE) or None
        self._channel_factory = channel_factory
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    @classmethod
    def from_environment(cls, storage_endpoint: str | None = None) -> GcpClients:
        return cls(application_default_credentials(), storage_endpoint=storage_endpoint)

    # -- Cloud Storage (JSON API over HTTP) ------------------------------------------------------------
    def storage(self) -> Any:
        client = getattr(self._local, "storage", None)
        if client is None:
            if self._storage_endpoint:
                endpoint = self._storage_endpoint
                if "://" not in endpoint:
                    endpoint = "http://" + endpoint
                client = quiet_storage_client(project=_PLACEHOLDER_PROJECT,
                                              credentials=AnonymousCredentials(),
                                              client_options={"api_endpoint": endpoint},
                                              client_info=ClientInfo(user_agent=USER_AGENT))
            else:
                client = quiet_storage_client(project=_PLACEHOLDER_PROJECT,
                                              credentials=self._credentials,
                                              client_info=ClientInfo(user_agent=USER_AGENT))
            self._local.storage = client
        return client

    # -- gRPC APIs ------------------------------------------------------------------------------------
    def projects(self) -> Any:
        from google.cloud import resourcemanager_v3
        return self._grpc("projects", resourcemanager_v3.ProjectsClient)

    def folders(self) -> Any:
        from google.cloud import resourcemanager_v3
        return self._grpc("folders", resourcemanager_v3.FoldersClient)

    def organizations(self) -> Any:
        from google.cloud import resourcemanager_v3
        return self._grpc("organizations", resourcemanager_v3.OrganizationsClient)

    def iam(self) -> Any:
        from google.cloud import iam_admin_v1
        return self._grpc("iam", iam_admin_v1.IAMClient)

    def deny_policies(self) -> Any:
        from google.cloud import iam_v2
        return self._grpc("deny_policies", iam_v2.PoliciesClient)

    def kms(self) -> Any:
        from google.cloud import kms_v1
        return self._grpc("kms", kms_v1.KeyManagementServiceClient)

    def org_policy(self) -> Any:
        from google.cloud import orgpolicy_v2
        return self._grpc("org_policy", orgpolicy_v2.OrgPolicyClient)

    def _grpc(self, key: str, client_class: Any) -> Any:
        with self._lock:
            if key not in self._clients:
                info = GrpcClientInfo(user_agent=USER_AGENT)
                if self._channel_factory is not None:
                    transport_class = client_class.get_transport_class("grpc")
                    channel = self._channel_factory(client_class.DEFAULT_ENDPOINT)
                    self._clients[key] = client_class(
                        transport=transport_class(channel=channel, client_info=info))
                else:
                    self._clients[key] = client_class(credentials=self._credentials,
                                                      client_info=info)
            return self._clients[key]


def shared_clients(storage_endpoint: str | None = None) -> GcpClients:
    """The clients of this process for ``storage_endpoint`` (else STORAGE_EMULATOR_HOST): every
    unit of a scan (a project, a folder) shares one set of credentials and connections."""
    return _shared(storage_endpoint or os.environ.get(EMULATOR_VARIABLE) or None)


@functools.cache
def _shared(storage_endpoint: str | None) -> GcpClients:
    return GcpClients.from_environment(storage_endpoint)
