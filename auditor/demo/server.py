"""An in-process moto server on 127.0.0.1 (``audit demo`` and the test suite).

moto keeps its state in process-wide backends: every server started in one process shares
it, and ``reset`` clears it for all of them.
"""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from auditor.demo.seed import FAKE_SECRET, require_emulator_endpoint
from auditor.errors import ConfigError

HOST = "127.0.0.1"
_MOTO_API_TIMEOUT_SECONDS = 30


@dataclass(slots=True)
class MotoHandle:
    endpoint_url: str
    _server: Any

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> MotoHandle:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def start_moto(port: int = 0) -> MotoHandle:
    """Start moto on 127.0.0.1 (a free port unless one is given); stop it with ``.stop()``
    or use the handle as a context manager."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise ConfigError("the demo needs moto: pip install 'auditor[demo]'") from None
    # werkzeug logs every request to stderr; the demo's output is its report
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    return MotoHandle(endpoint_url=f"http://{host}:{bound_port}", _server=server)


@contextmanager
def emulator_credentials(account_id: str = "123456789012") -> Iterator[None]:
    """Fake credentials in the environment while scanning an emulator (``audit demo``): the
    scanner uses the standard credential chain, and a developer's real credentials must
    neither be needed nor sent to an emulator. The previous environment is restored."""
    fake = {"AWS_ACCESS_KEY_ID": account_id, "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
            "AWS_SESSION_TOKEN": FAKE_SECRET}
    hidden = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")
    saved = {name: os.environ.get(name) for name in (*fake, *hidden)}
    os.environ.update(fake)
    for name in hidden:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def reset(endpoint_url: str) -> None:
    """Empty the moto server at ``endpoint_url`` (all accounts, all services)."""
    _moto_api(endpoint_url, "reset", b"")


def enforce_iam(endpoint_url: str, enforced: bool) -> None:
    """Make moto check every request against the caller's IAM policies (off by default), so
    that a scan with limited credentials meets real AccessDenied answers."""
    # moto enforces IAM after this many unauthenticated requests: 0 = from now on
    _moto_api(endpoint_url, "reset-auth", b"0" if enforced else b"inf")


def _moto_api(endpoint_url: str, action: str, body: bytes) -> None:
    url = f"{require_emulator_endpoint(endpoint_url).rstrip('/')}/moto-api/{action}"
    # text/plain: moto reads the raw body, which a form content type would swallow
    request = urllib.request.Request(url, method="POST", data=body,
                                     headers={"Content-Type": "text/plain"})
    try:
        with urllib.request.urlopen(request, timeout=_MOTO_API_TIMEOUT_SECONDS) as response:
            response.read()
    except urllib.error.URLError as exc:
        raise ConfigError(f"moto API {action} failed at {endpoint_url}: {exc}") from None
