"""The one place AWS clients are made: credentials, retries, timeouts and endpoint quirks.

Clients are created lazily, one per (service, region), and shared between worker threads
(botocore clients are thread-safe; sessions are not, hence the locks). Every session the
scanner makes shares one botocore data loader: an organization scan makes a session per
account, and loading the service models again for each would cost about a second of CPU.
"""

from __future__ import annotations

import os
import re
import threading
from functools import cache
from typing import Any
from urllib.parse import urlparse

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, Credentials
from botocore.exceptions import ProfileNotFound
from botocore.loaders import Loader, create_loader

from auditor import __version__
from auditor.errors import ConfigError

# adaptive mode retries throttling with client-side rate limiting; past the last attempt the
# failure is recorded as a collection error by the caller
DEFAULT_RETRY_MODE = "adaptive"
DEFAULT_MAX_ATTEMPTS = 8
RETRY_MODES = ("adaptive", "standard", "legacy")
CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 60
DEFAULT_REGION = "us-east-1"
USER_AGENT = f"auditor/{__version__}"

# hosts of the real AWS partitions; anything else is an emulator or a private endpoint
_AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
_ACCOUNT_HOST_PREFIX = re.compile(r"^(https?://)\d{12}\.")


def strip_account_host_prefix(request: Any, **_: Any) -> None:
    """botocore sends s3control calls to ``ACCOUNT.host``, which does not resolve for a
    local endpoint such as ``127.0.0.1:PORT``."""
    request.url = _ACCOUNT_HOST_PREFIX.sub(r"\1", request.url)


def is_custom_endpoint(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return not host.endswith(_AWS_HOST_SUFFIXES)


Session = boto3.session.Session | botocore.session.Session
# client creation touches the shared loader: one at a time, across all sessions
_CREATION_LOCK = threading.Lock()


@cache
def _shared_loader() -> Loader:
    return create_loader()


def session_for_profile(profile: str | None,
                        credentials: Credentials | None = None) -> botocore.session.Session:
    """A session on the named profile of the AWS shared config (None: the default chain),
    with the profile's own credentials or, when given, ``credentials`` (another account's)."""
    session = botocore.session.Session(profile=profile)
    session.register_component("data_loader", _shared_loader())
    try:
        session.get_scoped_config()
    except ProfileNotFound:
        raise ConfigError(f"AWS profile {profile!r} is not in the AWS shared config",
                          location="aws.profile") from None
    if credentials is not None:
        session.register_component("credential_provider",
                                   CredentialResolver([_Given(credentials)]))
    return session


class _Given(CredentialProvider):
    METHOD = "auditor-assume-role"
    CANONICAL_NAME = "auditor-assume-role"

    def __init__(self, credentials: Credentials):
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


def retries(session: Session) -> dict[str, Any]:
    """How calls are retried: AWS_RETRY_MODE and AWS_MAX_ATTEMPTS (or retry_mode and
    max_attempts in the AWS config profile), as every AWS SDK reads them, else adaptive mode
    and 8 attempts. The explicit Config of the clients would otherwise override the user's
    setting. Attempts count the first one (botocore's "max_attempts" key counts retries)."""
    core = session._session if isinstance(session, boto3.session.Session) else session
    profile = core.get_scoped_config()

    def setting(name: str) -> str | None:
        return os.environ.get(f"AWS_{name.upper()}") or profile.get(name)

    mode = setting("retry_mode") or DEFAULT_RETRY_MODE
    attempts = str(setting("max_attempts") or DEFAULT_MAX_ATTEMPTS)
    if mode not in RETRY_MODES:
        raise ConfigError(f"AWS_RETRY_MODE (or retry_mode) must be one of "
                          f"{', '.join(RETRY_MODES)}, not {mode!r}", location="aws")
    if not attempts.isdigit() or int(attempts) < 1:
        raise ConfigError(f"AWS_MAX_ATTEMPTS (or max_attempts) must be a whole number of at "
                          f"least 1, not {attempts!r}", location="aws")
    return {"mode": mode, "total_max_attempts": int(attempts)}


class AwsClients:
    """Clients on one session, for one endpoint (None: AWS itself)."""

    def __init__(self, session: Session, *, endpoint_url: str | None = None,
                 max_workers: int = 8, user_agent: str = USER_AGENT):
        self._session = session
        self._endpoint_url = endpoint_url
        # the user agent tells the auditor's calls apart in CloudTrail (and in tests)
        self._config = Config(retries=retries(session), connect_timeout=CONNECT_TIMEOUT_SECONDS,
                              user_agent_extra=user_agent,
                              read_timeout=READ_TIMEOUT_SECONDS,
                              # one connection per worker, or urllib3 discards connections
                              max_pool_connections=max(10, max_workers))
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    @property
    def default_region(self) -> str:
        if isinstance(self._session, boto3.session.Session):
            return self._session.region_name or DEFAULT_REGION
        return self._session.get_config_variable("region") or DEFAULT_REGION

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.default_region)
        with self._lock:
            if key not in self._clients:
                with _CREATION_LOCK:
                    self._clients[key] = self._make(*key)
            return self._clients[key]

    def _new_client(self, service: str, region: str, config: Config) -> Any:
        create = (self._session.client if isinstance(self._session, boto3.session.Session)
                  else self._session.create_client)
        return create(service, region_name=region, endpoint_url=self._endpoint_url,
                      config=config)

    def _make(self, service: str, region: str) -> Any:
        client = self._new_client(service, region, self._config)
        # AWS_ENDPOINT_URL (honoured by botocore itself) counts too, so look at the result
        if not is_custom_endpoint(client.meta.endpoint_url):
            return client
        if service == "s3":
            # emulators serve buckets by path, not as BUCKET.host virtual hosts
            client = self._new_client(service, region,
                                      self._config.merge(Config(s3={"addressing_style": "path"})))
        if service == "s3control":
            client.meta.events.register("before-sign.s3-control.*", strip_account_host_prefix)
        return client
