"""A fault-injecting HTTP proxy on 127.0.0.1, in front of an AWS or Cloud Storage emulator.

It forwards each request to the upstream endpoint, or, for a share of them, answers as a
struggling cloud would: throttling in the shape of the request's protocol (JSON ``400
ThrottlingException``, query ``400 Throttling``, S3 ``503 SlowDown``, Cloud Storage ``429
rateLimitExceeded``), a bare 5xx, or a reset
connection; it can add latency, and it can stop the upstream in the middle of a scan, after
which every connection is reset, as a dead backend behind a load balancer would be.

Deterministic: whether a request is faulted depends only on the seed, the request (method,
path, query, body; not the signature headers, which change with each retry) and how often the
same request was seen before, never on thread timing. Bounded: it serves at most
``max_requests`` requests and stops by itself after ``lifetime`` seconds.

Every request is logged with its operation and user agent, so that a test can check what a
process it cannot instrument (the CLI in a subprocess) sent.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal
from urllib.parse import parse_qs, urlsplit

Fault = Literal["throttle", "server-error", "reset"]
# headers that belong to one connection, not to the message
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
               "trailer", "upgrade", "content-length"}
_SERVER_ERRORS = (500, 502, 503, 504)
_UPSTREAM_TIMEOUT_SECONDS = 30


@dataclass(frozen=True, slots=True)
class FaultPlan:
    seed: int = 0
    throttle: float = 0.0  # share of requests answered with throttling
    server_error: float = 0.0  # share answered with a bare 5xx
    reset: float = 0.0  # share whose connection is reset without an answer
    latency: float = 0.0  # at most this many seconds added to each forwarded request
    stop_upstream_after: int | None = None  # forwarded requests before the upstream stops
    lifetime: float = 300.0
    max_requests: int = 20_000


@dataclass(frozen=True, slots=True)
class Seen:
    """One request the proxy received, and what it did with it."""

    method: str
    path: str
    operation: str  # X-Amz-Target or Action when the protocol names one, else ""
    user_agent: str
    outcome: Literal["forwarded", "throttle", "server-error", "reset", "upstream-down"]


def request_operation(headers: dict[str, str], path: str, body: bytes) -> str:
    """The API operation a JSON or query protocol request names (S3 names none: its
    operation is the method and the path)."""
    target = headers.get("x-amz-target", "")
    if target:
        return target.rpartition(".")[2]
    fields = parse_qs(urlsplit(path).query)
    if "form-urlencoded" in headers.get("content-type", ""):
        fields.update(parse_qs(body.decode("utf-8", "replace")))
    return fields.get("Action", [""])[0]


_GOOGLE_STORAGE_PATHS = ("/storage/", "/upload/storage/", "/download/storage/")


def _throttling(headers: dict[str, str], path: str, operation: str) -> tuple[int, str, bytes]:
    if path.startswith(_GOOGLE_STORAGE_PATHS):
        return 429, "application/json", (b'{"error":{"code":429,"message":"Rate exceeded",'
                                         b'"errors":[{"reason":"rateLimitExceeded"}]}}')
    if headers.get("x-amz-target"):
        return 400, "application/x-amz-json-1.1", \
            b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
    if operation:
        return 400, "text/xml", (b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling"
                                 b"</Code><Message>Rate exceeded</Message></Error>"
                                 b"<RequestId>fault-proxy</RequestId></ErrorResponse>")
    return 503, "application/xml", (b"<Error><Code>SlowDown</Code><Message>Please reduce your "
                                    b"request rate.</Message></Error>")


@dataclass(slots=True)
class _State:
    plan: FaultPlan
    upstream: tuple[str, int]
    stop_upstream: Callable[[], None] | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    repeats: Counter[bytes] = field(default_factory=Counter)
    forwarded: int = 0
    handled: int = 0
    upstream_stopped: bool = False
    log: list[Seen] = field(default_factory=list)

    def draw(self, key: bytes) -> tuple[float, float]:
        """Two numbers in [0, 1): which fault, and how much latency."""
        with self.lock:
            repeat = self.repeats[key]
            self.repeats[key] += 1
        digest = hashlib.sha256(b"%d|%d|" % (self.plan.seed, repeat) + key).digest()
        first, second = struct.unpack(">QQ", digest[:16])
        return first / 2**64, second / 2**64

    def fault(self, chance: float) -> Fault | None:
        plan = self.plan
        for name, share in (("throttle", plan.throttle), ("server-error", plan.server_error),
                            ("reset", plan.reset)):
            if chance < share:
                return name  # type: ignore[return-value]
            chance -= share
        return None

    def count_forward(self) -> bool:
        """Count one forwarded request; False once the upstream is (now) stopped."""
        with self.lock:
            if self.upstream_stopped:
                return False
            limit = self.plan.stop_upstream_after
            if limit is not None and self.forwarded >= limit:
                self.upstream_stopped = True
                stop = self.stop_upstream
            else:
                self.forwarded += 1
                return True
        if stop is not None:
            stop()
        return False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # the log is the Seen records

    def _serve(self) -> None:
        state = self.server.state
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        operation = request_operation(headers, self.path, body)
        with state.lock:
            state.handled += 1
            exhausted = state.handled > state.plan.max_requests
        chance, delay = state.draw(b"|".join((self.command.encode(), self.path.encode(), body)))
        fault = "server-error" if exhausted else state.fault(chance)

        def seen(outcome: str) -> None:
            with state.lock:
                state.log.append(Seen(self.command, self.path, operation,
                                      headers.get("user-agent", ""), outcome))  # type: ignore[arg-type]

        if fault == "reset":
            seen("reset")
            self._reset()
        elif fault == "throttle":
            seen("throttle")
            self._answer(*_throttling(headers, self.path, operation))
        elif fault == "server-error":
            seen("server-error")
            self._answer(_SERVER_ERRORS[int(delay * len(_SERVER_ERRORS))], "text/plain", b"")
        elif not state.count_forward():
            seen("upstream-down")
            self._reset()
        else:
            time.sleep(delay * state.plan.latency)
            seen("forwarded")
            self._forward(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def _answer(self, status: int, content_type: str, payload: bytes,
                headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        headers = headers or [("Content-Type", content_type)]
        for name, value in headers:
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name, _ in headers):
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _reset(self) -> None:
        # SO_LINGER 0: close() sends a TCP RST, as a crashed server's kernel would
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _forward(self, body: bytes) -> None:
        host, port = self.server.state.upstream
        upstream = http.client.HTTPConnection(host, port, timeout=_UPSTREAM_TIMEOUT_SECONDS)
        try:
            upstream.request(self.command, self.path, body=body or None, headers={
                name: value for name, value in self.headers.items()
                if name.lower() not in _HOP_BY_HOP})
            response = upstream.getresponse()
            payload = response.read()
        except OSError:  # the upstream died under this request
            self._reset()
            return
        finally:
            upstream.close()
        # a HEAD answer keeps the length of the body it did not send
        kept = _HOP_BY_HOP - ({"content-length"} if self.command == "HEAD" else set())
        self._answer(response.status, "", payload,
                     [(n, v) for n, v in response.getheaders() if n.lower() not in kept])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: _State):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class FaultProxy:
    """``with FaultProxy(upstream_url, plan) as proxy:`` sends clients to ``proxy.url``."""

    def __init__(self, upstream_url: str, plan: FaultPlan,
                 stop_upstream: Callable[[], None] | None = None):
        parts = urlsplit(upstream_url)
        self._state = _State(plan, (parts.hostname or "127.0.0.1", parts.port or 80),
                             stop_upstream)
        self._server = _Server(self._state)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fault-proxy")
        self._timer = threading.Timer(plan.lifetime, self.stop)
        self._timer.daemon = True
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def log(self) -> list[Seen]:
        with self._state.lock:
            return list(self._state.log)

    @property
    def upstream_stopped(self) -> bool:
        return self._state.upstream_stopped

    def outcomes(self) -> Counter[str]:
        return Counter(seen.outcome for seen in self.log)

    def start(self) -> FaultProxy:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        if not self._stopped.is_set():
            self._stopped.set()
            self._timer.cancel()
            self._server.shutdown()
            self._server.server_close()

    def wait_stopped(self, timeout: float) -> bool:
        """Wait until the proxy has stopped (by itself or by ``stop``); True if it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
