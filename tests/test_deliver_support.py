"""Local servers for the delivery tests (this module holds no tests): an SMTP server
(aiosmtpd, optionally with STARTTLS and a login), a webhook receiver (http.server), a GCS
emulator (gcp-storage-emulator), all on 127.0.0.1, and a real run directory to deliver."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from auditor.pipeline import write_outputs
from tests.test_report_json import build_result

SMTP_USER, SMTP_PASSWORD = "audit-bot", "s3cret-smtp-password-42"
WEBHOOK_TOKEN = "T0KEN/B0T/xoxb-very-secret-webhook-token"


def run_directory(path: Path) -> Path:
    """The files `audit run` leaves: findings.json, report.html, access.json, inventory.json."""
    write_outputs(build_result(), path)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- SMTP -----------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What the SMTP server received; ``replies`` scripts its answers to DATA, first to last."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    data_commands: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_commands += 1
        if self.replies:
            reply = self.replies.pop(0)
            if not reply.startswith("250"):
                return reply
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        # handled=False: the server answers (235 or 535) itself
        return AuthResult(success=(login, password) == (SMTP_USER, SMTP_PASSWORD), handled=False)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@contextmanager
def smtp_server(mailbox: Mailbox, tls: tuple[Path, Path] | None = None) -> Iterator[int]:
    """An SMTP server on 127.0.0.1; with ``tls`` it requires STARTTLS and a login."""
    from aiosmtpd.controller import Controller

    options: dict[str, Any] = {}
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*map(str, tls))
        options = {"tls_context": context, "require_starttls": True, "auth_required": True,
                   "authenticator": mailbox.authenticate}
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


# --- webhook --------------------------------------------------------------------------------


@dataclass
class Hook:
    """What the webhook receiver got; ``statuses`` scripts its answers, first to last."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


@contextmanager
def webhook_server(hook: Hook) -> Iterator[str]:
    """Yields the base URL http://127.0.0.1:PORT of a receiver that records JSON posts."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            status = hook.statuses.pop(0) if hook.statuses else 200
            if status == 200:
                hook.bodies.append(json.loads(body))
                hook.paths.append(self.path)
            self.send_response(status)
            if status in (429, 503):
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"no")

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --- GCS ------------------------------------------------------------------------------------


@contextmanager
def gcs_emulator() -> Iterator[str]:
    """gcp-storage-emulator in this process, in memory; yields its endpoint URL."""
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
