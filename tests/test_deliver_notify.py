"""Email (a local aiosmtpd server) and webhook (a local http.server) delivery: what they say,
retries of transient failures, and secrets that never leave."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.deliver import deliver_run
from auditor.deliver.base import DeliveryOutcome
from auditor.deliver.directory import DirectoryDeliverer
from auditor.deliver.retry import Retry
from auditor.deliver.smtp import EmailDeliverer
from auditor.deliver.webhook import WebhookDeliverer, mrkdwn
from auditor.errors import ConfigError
from auditor.scanners.base import Option
from tests.test_deliver_support import (
    SMTP_PASSWORD,
    SMTP_USER,
    WEBHOOK_TOKEN,
    Hook,
    Mailbox,
    free_port,
    run_directory,
    self_signed_certificate,
    smtp_server,
    webhook_server,
)
from tests.test_report_json import PAYLOADS

pytest.importorskip("aiosmtpd", reason="needs aiosmtpd installed (the test extra), for a local SMTP server")

DELIVERERS = {"email": EmailDeliverer, "webhook": WebhookDeliverer, "directory": DirectoryDeliverer}
PASSWORD_ENV, WEBHOOK_ENV = "TEST_SMTP_PASSWORD", "TEST_WEBHOOK_URL"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return run_directory(tmp_path / "run")


def _no_wait() -> Retry:
    return Retry(sleep=lambda seconds: None)


def _email(port: int, **extra: Any) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": port, "starttls": False,
            "from": "audit@example.com", "to": ["security@example.com", "ml-lead@example.com"],
            **extra}


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def plain_smtp(mailbox: Mailbox) -> Iterator[int]:
    with smtp_server(mailbox) as port:
        yield port


@pytest.fixture
def tls_smtp(mailbox: Mailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    certificate, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))  # the client trusts it, as a CA
    with smtp_server(mailbox, tls=(certificate, key)) as port:
        yield port


# --- email ----------------------------------------------------------------------------------


def test_the_email_summarises_the_run_and_attaches_the_report(run_dir: Path, plain_smtp: int,
                                                              mailbox: Mailbox) -> None:
    [outcome] = deliver_run(run_dir, {"email": _email(plain_smtp)}, deliverers=DELIVERERS,
                            retry=_no_wait)
    assert outcome.ok, outcome.error
    [message] = mailbox.messages
    assert mailbox.envelopes == [("audit@example.com",
                                  ["security@example.com", "ml-lead@example.com"])]
    findings = json.loads((run_dir / "findings.json").read_text(encoding="utf-8"))
    assert message["Subject"] == "audit prod: 6 finding(s): 2 critical, 2 high, 1 medium, 1 info"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    failing = [f for f in findings["findings"] if f["status"] == "fail"]
    for finding in failing:
        assert finding["message"] in text
    assert "scan incomplete: 1 collection error(s)" in text
    # run data is escaped in the HTML part
    assert PAYLOADS[0] not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "report.html"
    assert attachment.get_content().encode() == (run_dir / "report.html").read_bytes()


def test_the_email_points_at_where_the_run_was_stored(run_dir: Path, plain_smtp: int,
                                                      mailbox: Mailbox, tmp_path: Path) -> None:
    outcomes = deliver_run(run_dir, {"email": _email(plain_smtp), "directory": str(tmp_path / "a")},
                           deliverers=DELIVERERS, retry=_no_wait)
    assert [o.target for o in outcomes] == ["directory", "email"]  # stores first
    text = mailbox.messages[0].get_body(("plain",)).get_content()
    assert f"Report: {tmp_path / 'a' / '2024-05-01T100213Z'}" in text


def test_starttls_and_login(run_dir: Path, tls_smtp: int, mailbox: Mailbox,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    email = _email(tls_smtp, starttls=True, username=SMTP_USER, password_env=PASSWORD_ENV)
    [outcome] = deliver_run(run_dir, {"email": email}, deliverers=DELIVERERS, retry=_no_wait)
    assert outcome.ok, outcome.error
    assert mailbox.logins == [(SMTP_USER, SMTP_PASSWORD)] and len(mailbox.messages) == 1


def test_a_wrong_password_is_reported_not_retried(run_dir: Path, tls_smtp: int,
                                                  mailbox: Mailbox,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    email = _email(tls_smtp, starttls=True, username=SMTP_USER, password_env=PASSWORD_ENV)
    [outcome] = deliver_run(run_dir, {"email": email}, deliverers=DELIVERERS, retry=_no_wait)
    assert not outcome.ok and "refused the login (535)" in (outcome.error or "")
    assert outcome.retries == 0 and mailbox.messages == []
    assert "not-the-password" not in str(outcome)


def test_a_password_smtplib_cannot_send_is_reported(run_dir: Path, tls_smtp: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "pässwörd-with-umlauts")
    email = _email(tls_smtp, starttls=True, username=SMTP_USER, password_env=PASSWORD_ENV)
    [outcome] = deliver_run(run_dir, {"email": email}, deliverers=DELIVERERS, retry=_no_wait)
    assert not outcome.ok and "not ASCII" in (outcome.error or "") and outcome.retries == 0
    assert "pässwörd" not in str(outcome)


def test_an_untrusted_certificate_fails_without_sending(run_dir: Path, tls_smtp: int,
                                                        mailbox: Mailbox,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    email = _email(tls_smtp, starttls=True, username=SMTP_USER, password_env=PASSWORD_ENV)
    [outcome] = deliver_run(run_dir, {"email": email}, deliverers=DELIVERERS, retry=_no_wait)
    assert not outcome.ok and "STARTTLS failed" in (outcome.error or "")
    assert mailbox.logins == [] and mailbox.messages == []


def test_a_deferred_message_is_sent_again(run_dir: Path, plain_smtp: int, mailbox: Mailbox) -> None:
    mailbox.replies = ["451 4.3.0 try again later"]
    waits: list[float] = []
    [outcome] = deliver_run(run_dir, {"email": _email(plain_smtp)}, deliverers=DELIVERERS,
                            retry=lambda: Retry(base_delay=2.0, sleep=waits.append))
    assert outcome.ok and outcome.retries == 1 and waits == [2.0]
    assert mailbox.data_commands == 2 and len(mailbox.messages) == 1


def test_a_rejected_message_is_not_sent_again(run_dir: Path, plain_smtp: int,
                                              mailbox: Mailbox) -> None:
    mailbox.replies = ["554 5.6.0 message rejected"]
    [outcome] = deliver_run(run_dir, {"email": _email(plain_smtp)}, deliverers=DELIVERERS,
                            retry=_no_wait)
    assert not outcome.ok and "554" in (outcome.error or "") and mailbox.data_commands == 1


def test_no_server_is_retried_then_reported(run_dir: Path) -> None:
    waits: list[float] = []
    [outcome] = deliver_run(run_dir, {"email": _email(free_port())}, deliverers=DELIVERERS,
                            retry=lambda: Retry(attempts=3, base_delay=1.0, sleep=waits.append))
    assert not outcome.ok and "gave up after 3 attempts" in (outcome.error or "")
    assert waits == [1.0, 2.0]


def test_a_missing_password_variable_fails_that_target(run_dir: Path, tls_smtp: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    email = _email(tls_smtp, starttls=True, username=SMTP_USER, password_env=PASSWORD_ENV)
    [outcome] = deliver_run(run_dir, {"email": email}, deliverers=DELIVERERS, retry=_no_wait)
    assert not outcome.ok and PASSWORD_ENV in (outcome.error or "")


@pytest.mark.parametrize(("change", "location"), [
    ({"to": []}, "deliver.email.to"),
    ({"to": ["nobody"]}, "deliver.email.to[0]"),
    ({"from": "a@b\r\nBcc: x@y"}, "deliver.email.from"),
    ({"smtp_port": 0}, "deliver.email.smtp_port"),
    ({"smtp_port": "25"}, "deliver.email.smtp_port"),
    ({"starttls": 1}, "deliver.email.starttls"),
    ({"username": "u"}, "deliver.email"),
    ({"username": "u", "password_env": "P", "starttls": False}, "deliver.email.starttls"),
    ({"username": "u", "password_env": "hunter2 is my password"}, "deliver.email.password_env"),
    ({"password": "hunter2"}, "deliver.email.password"),
])
def test_bad_email_settings_are_config_errors(run_dir: Path, change: dict[str, Any],
                                              location: str) -> None:
    with pytest.raises(ConfigError) as caught:
        deliver_run(run_dir, {"email": {**_email(25), **change}}, deliverers=DELIVERERS)
    assert caught.value.location == location
    assert "hunter2" not in str(caught.value)


# --- webhook --------------------------------------------------------------------------------


@pytest.fixture
def hook() -> Hook:
    return Hook()


@pytest.fixture
def hook_url(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with webhook_server(hook) as base:
        url = f"{base}/services/{WEBHOOK_TOKEN}"
        monkeypatch.setenv(WEBHOOK_ENV, url)
        yield url


def test_the_webhook_gets_a_slack_message(run_dir: Path, hook: Hook, hook_url: str) -> None:
    [outcome] = deliver_run(run_dir, {"webhook_url_env": WEBHOOK_ENV}, deliverers=DELIVERERS,
                            retry=_no_wait)
    assert outcome.ok and outcome.location == f"webhook ${WEBHOOK_ENV}"
    [body] = hook.bodies
    assert hook.paths == [f"/services/{WEBHOOK_TOKEN}"]
    assert set(body) == {"text", "blocks"} and body["text"].startswith("audit prod: 6 finding(s)")
    assert body["blocks"][0] == {"type": "header", "text": {
        "type": "plain_text", "text": "audit prod: 6 finding(s): 2 critical, 2 high, 1 medium, 1 info"}}
    fields = next(b for b in body["blocks"] if "fields" in b)["fields"]
    assert [f["text"] for f in fields] == ["*critical*\n2", "*high*\n2", "*medium*\n1",
                                           "*low*\n0", "*info*\n1"]
    texts = json.dumps(body)
    # the hostile bucket name is escaped for mrkdwn: no raw < or >, so no link or mention
    assert PAYLOADS[0] not in texts and mrkdwn(PAYLOADS[0]) in texts


def test_a_busy_webhook_is_retried(run_dir: Path, hook: Hook, hook_url: str) -> None:
    hook.statuses = [503, 429]
    [outcome] = deliver_run(run_dir, {"webhook_url_env": WEBHOOK_ENV}, deliverers=DELIVERERS,
                            retry=_no_wait)
    assert outcome.ok and outcome.retries == 2 and len(hook.bodies) == 1


def test_a_refused_webhook_is_not_retried(run_dir: Path, hook: Hook, hook_url: str) -> None:
    hook.statuses = [404]
    [outcome] = deliver_run(run_dir, {"webhook_url_env": WEBHOOK_ENV}, deliverers=DELIVERERS,
                            retry=_no_wait)
    assert not outcome.ok and "HTTP 404" in (outcome.error or "") and outcome.retries == 0


@pytest.mark.parametrize("url", [f"http://hooks.example.com/services/{WEBHOOK_TOKEN}",
                                 f"file:///etc/{WEBHOOK_TOKEN}", f"hooks/{WEBHOOK_TOKEN}"])
def test_a_webhook_url_must_be_https(run_dir: Path, url: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WEBHOOK_ENV, url)
    [outcome] = deliver_run(run_dir, {"webhook_url_env": WEBHOOK_ENV}, deliverers=DELIVERERS)
    assert not outcome.ok and "https://" in (outcome.error or "")
    assert WEBHOOK_TOKEN not in str(outcome) and "hooks.example.com" not in str(outcome)


def test_the_webhook_setting_is_a_variable_name_not_a_url(run_dir: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        deliver_run(run_dir, {"webhook_url_env": f"https://hooks.slack.com/{WEBHOOK_TOKEN}"},
                    deliverers=DELIVERERS)
    assert caught.value.location == "deliver.webhook_url_env"
    assert WEBHOOK_TOKEN not in str(caught.value)


# --- secrets --------------------------------------------------------------------------------


class LeakyDeliverer:
    """A third-party plugin that puts a secret into its exception: the orchestrator removes it."""

    name = "leaky"
    options = {"leaky_env": Option(str, "a variable holding a secret")}
    enabled_by = "leaky_env"
    notifies = True

    def check(self, settings: Any) -> None:
        pass

    def destination(self, settings: Any) -> str:
        return "somewhere"

    def deliver(self, run: Any, settings: Any, context: Any) -> str:
        secret = context.secrets.read(settings["leaky_env"], "deliver.leaky_env")
        raise RuntimeError(f"could not reach https://user:{secret}@example.com")


def test_secrets_never_appear_in_outputs_logs_or_errors(
        run_dir: Path, tmp_path: Path, tls_smtp: int, mailbox: Mailbox, hook: Hook, hook_url: str,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG, logger="auditor")
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    monkeypatch.setenv("LEAKY", SMTP_PASSWORD)
    hook.statuses = [500, 500, 500, 500]  # the webhook fails: its error is reported
    targets = {"email": _email(tls_smtp, starttls=True, username=SMTP_USER,
                               password_env=PASSWORD_ENV),
               "webhook_url_env": WEBHOOK_ENV, "directory": str(tmp_path / "archive"),
               "leaky_env": "LEAKY"}
    outcomes = deliver_run(run_dir, targets, deliverers={**DELIVERERS, "leaky": LeakyDeliverer},
                           retry=_no_wait)
    by_target = {o.target: o for o in outcomes}
    assert by_target["email"].ok and by_target["directory"].ok
    assert not by_target["webhook"].ok and not by_target["leaky"].ok
    assert "[redacted]" in (by_target["leaky"].error or "")
    everything = "\n".join([
        *(str(o) for o in outcomes), *(json.dumps(o.to_dict()) for o in outcomes),
        *(r.getMessage() for r in caplog.records if r.name.startswith("auditor")),
        *capsys.readouterr(),
        *(p.read_text(encoding="utf-8", errors="replace") for p in run_dir.rglob("*")),
        *(p.read_text(encoding="utf-8", errors="replace")
          for p in (tmp_path / "archive").rglob("*") if p.is_file()),
        mailbox.messages[0].as_string(),
    ])
    for secret in (SMTP_PASSWORD, hook_url, WEBHOOK_TOKEN, "xoxb-very-secret"):
        assert secret not in everything, secret


def test_outcomes_read_as_one_line_each() -> None:
    ok = DeliveryOutcome("s3", "s3://b/p", True, "s3://b/p/STAMP/")
    failed = DeliveryOutcome("email", "a@b via h:25", False, error="SMTP 554 no", retries=1)
    assert str(ok) == "delivered: s3: s3://b/p/STAMP/"
    assert str(failed) == "not delivered: email (a@b via h:25): SMTP 554 no"
    assert failed.to_dict()["retries"] == 1
