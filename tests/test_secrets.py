"""No leaks: secrets the auditor holds or could reach never appear in anything it writes.

Known secret values are planted in the environment (the AWS secret key and session token the
run uses, an SMTP password and a webhook URL with its token, as delivery reads them) and as
resource content the auditor must never read (an object's body, an IAM access key's secret, a
console password), in an account of the moto server of their own. Then the real CLI runs
(`audit run` with delivery to a directory, a webhook and a mail server, and `audit demo`) and
every artifact is searched: every file it wrote (reports, inventory, the delivered copies, the
history store with its SQLite journal files), its stdout and its stderr, for each secret as
written, base64-encoded and URL-encoded.

The webhook and mail servers are hostile: the webhook answers 400 with the token it was sent
in its reason phrase, the mail server refuses STARTTLS, so both delivery errors are printed.
"""

from __future__ import annotations

import base64
import os
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import quote

import boto3
import pytest

from auditor.inventory.io import load
from tests.conftest import TEST_REGION

pytestmark = pytest.mark.emulator

ACCOUNT = "222233334444"  # an account of its own on the suite's moto server
AUDIT = Path(sys.executable).with_name("audit")
CLI_TIMEOUT_SECONDS = 240
SECRET_KEY = "SecretKey0f9e8d7c6b5a4938271605f4e3d2c1b0aDoNotLeak"
SESSION_TOKEN = "SessionToken+IQoJb3JpZ2luX2VjEDoNotLeak/7f3a9c1e5b2d8f4a6c0e"
SMTP_PASSWORD = "smtp-Pa55word!DoNotLeak-4e1f"
WEBHOOK_PATH = "/services/T0AUDIT/B0AUDIT/xoxbDoNotLeak9q8w7e6r"
OBJECT_BODY = "api_key=sk-live-ObjectBodyDoNotLeak-5c4b3a29"
CONSOLE_PASSWORD = "Console-Pa55word!DoNotLeak-77"


class _EchoingWebhook(BaseHTTPRequestHandler):
    """Refuses every post, quoting the URL's token in the status line."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(400, f"invalid_token {self.path}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class _NoTlsSmtp(socketserver.StreamRequestHandler):
    """Greets, offers STARTTLS, then refuses it: the client never gets to log in."""

    def handle(self) -> None:
        self.wfile.write(b"220 mail.test ESMTP\r\n")
        for line in self.rfile:
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250-mail.test\r\n250 STARTTLS\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"554 5.7.0 no TLS here\r\n")


@dataclass(frozen=True, slots=True)
class Receivers:
    webhook_url: str
    smtp_port: int


@pytest.fixture(scope="module")
def receivers() -> Iterator[Receivers]:
    webhook = HTTPServer(("127.0.0.1", 0), _EchoingWebhook)
    smtp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _NoTlsSmtp)
    smtp.daemon_threads = True
    for server in (webhook, smtp):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Receivers(f"http://127.0.0.1:{webhook.server_address[1]}{WEBHOOK_PATH}",
                        smtp.server_address[1])
    finally:
        for server in (webhook, smtp):
            server.shutdown()
            server.server_close()


@dataclass(frozen=True, slots=True)
class PlantedAccount:
    access_key_id: str  # moto tells the account by the access key id
    user_key_id: str
    user_key_secret: str  # created in the account: the scanner may list its id, never this


@pytest.fixture(scope="module")
def planted(aws_endpoint: str) -> PlantedAccount:
    """An account holding secrets as resource content, entered with AssumeRole by a fixture
    client (the auditor never writes)."""
    sts = boto3.client("sts", endpoint_url=aws_endpoint)
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/setup",
                                  RoleSessionName="plant-secrets")["Credentials"]
    session = boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                            aws_secret_access_key=credentials["SecretAccessKey"],
                            aws_session_token=credentials["SessionToken"], region_name=TEST_REGION)
    s3 = session.client("s3", endpoint_url=aws_endpoint)
    s3.create_bucket(Bucket="secrets-training-data")
    s3.put_object(Bucket="secrets-training-data", Key="train/config.jsonl", Body=OBJECT_BODY.encode())
    iam = session.client("iam", endpoint_url=aws_endpoint)
    iam.create_user(UserName="deployer")
    key = iam.create_access_key(UserName="deployer")["AccessKey"]
    iam.create_login_profile(UserName="deployer", Password=CONSOLE_PASSWORD)
    return PlantedAccount(credentials["AccessKeyId"], key["AccessKeyId"], key["SecretAccessKey"])


@dataclass(frozen=True, slots=True)
class Artifacts:
    workdir: Path
    stdout: str
    stderr: str
    returncode: int

    def leaks(self, secrets: list[str]) -> list[str]:
        """Where each secret appears, in any of its spellings."""
        forms = {form: secret for secret in secrets for form in spellings(secret)}
        places = [("stdout", self.stdout.encode()), ("stderr", self.stderr.encode())]
        places += [(str(path.relative_to(self.workdir)), path.read_bytes())
                   for path in sorted(self.workdir.rglob("*")) if path.is_file()]
        return [f"{name}: {forms[form][:12]}..." for name, content in places
                for form in forms if form in content]


def spellings(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, base64.b64encode(raw), quote(secret, safe="").encode()]


def run_cli(workdir: Path, arguments: list[str], environment: dict[str, str],
            receivers: Receivers) -> Artifacts:
    # what delivery reads (the profile names the variables, never the values)
    delivery = {"AUDIT_SMTP_PASSWORD": SMTP_PASSWORD, "AUDIT_SLACK_WEBHOOK": receivers.webhook_url}
    process = subprocess.run([str(AUDIT), *arguments], cwd=workdir, capture_output=True, text=True,
                             timeout=CLI_TIMEOUT_SECONDS, env={**os.environ, **delivery, **environment})
    return Artifacts(workdir, process.stdout, process.stderr, process.returncode)


def all_secrets(planted: PlantedAccount, receivers: Receivers) -> list[str]:
    return [SECRET_KEY, SESSION_TOKEN, SMTP_PASSWORD, receivers.webhook_url, WEBHOOK_PATH,
            WEBHOOK_PATH.rsplit("/", 1)[1], OBJECT_BODY, CONSOLE_PASSWORD, planted.user_key_secret]


def test_audit_run_leaks_no_secret(planted: PlantedAccount, receivers: Receivers,
                                   aws_endpoint: str, tmp_path: Path) -> None:
    (tmp_path / "audit.toml").write_text(f"""
[profiles.leakcheck]
output_dir = "out"
state = "state/history.sqlite"
[profiles.leakcheck.aws]
endpoint_url = "{aws_endpoint}"
regions = ["{TEST_REGION}"]
[profiles.leakcheck.deliver]
directory = "archive"
webhook_url_env = "AUDIT_SLACK_WEBHOOK"
[profiles.leakcheck.deliver.email]
smtp_host = "127.0.0.1"
smtp_port = {receivers.smtp_port}
username = "audit-bot"
password_env = "AUDIT_SMTP_PASSWORD"
from = "audit-bot@example.com"
to = ["security@example.com"]
""", encoding="utf-8")
    artifacts = run_cli(tmp_path, ["run", "--profile", "leakcheck", "--config", "audit.toml"], {
        "AWS_ACCESS_KEY_ID": planted.access_key_id, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_SESSION_TOKEN": SESSION_TOKEN}, receivers)
    assert artifacts.returncode in (0, 1, 3), artifacts.stderr
    # both hostile receivers were reached and refused, so their errors were printed
    assert "554" in artifacts.stderr, artifacts.stderr
    # the webhook's refusal quoted the token: it was printed, redacted
    assert "HTTP 400 invalid_token [redacted]" in artifacts.stderr, artifacts.stderr
    assert any((tmp_path / "archive").rglob("report.html"))
    # the scan saw the account's secrets' holders, so their absence below means something
    inventory = load(tmp_path / "out" / "inventory.json")
    names = {resource.name for resource in inventory.resources}
    assert {"secrets-training-data", "deployer"} <= names
    assert planted.user_key_id in {resource.name for resource in inventory.resources} | {
        resource.id.rsplit("/", 1)[-1] for resource in inventory.resources}
    assert (tmp_path / "state" / "history.sqlite").is_file()
    assert artifacts.leaks(all_secrets(planted, receivers)) == []


def test_audit_demo_leaks_no_secret(planted: PlantedAccount, receivers: Receivers,
                                    tmp_path: Path) -> None:
    artifacts = run_cli(tmp_path, ["demo", "--output-dir", "demo"], {
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_SESSION_TOKEN": SESSION_TOKEN}, receivers)
    assert artifacts.returncode == 0, artifacts.stderr
    assert (tmp_path / "demo" / "report.html").is_file()
    assert artifacts.leaks(all_secrets(planted, receivers)) == []


@pytest.mark.parametrize("secret", [SECRET_KEY, WEBHOOK_PATH])
def test_the_search_finds_a_planted_leak(tmp_path: Path, secret: str) -> None:
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "report.html").write_bytes(b"<p>" + spellings(secret)[1] + b"</p>")
    artifacts = Artifacts(tmp_path, stdout="", stderr=f"error: {quote(secret, safe='')}",
                          returncode=2)
    assert [leak.split(":")[0] for leak in artifacts.leaks([secret])] == ["stderr",
                                                                         "nested/report.html"]
