"""Mail a summary of the run (HTML and text) with report.html attached, over SMTP.

STARTTLS is on by default and verified against the system's CAs (SSL_CERT_FILE and
SSL_CERT_DIR are honoured); logging in without it is refused, since it would send the
password in clear. The password comes from the environment variable ``password_env`` names.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from auditor import clock
from auditor.deliver.base import DeliveryContext, DeliveryError, TransientDeliveryError
from auditor.deliver.bundle import REPORT, RunBundle
from auditor.deliver.notice import Notice, build_notice
from auditor.deliver.settings import EMAIL_OPTIONS, EMAIL_TABLE_OPTIONS, WHERE, env_name, typed
from auditor.errors import ConfigError
from auditor.findings import SEVERITIES
from auditor.report.templating import environment

ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")
TIMEOUT = 60
WHERE_EMAIL = f"{WHERE}.email"


def email_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The [deliver.email] table, typed and checked; ConfigError names the key."""
    raw = settings["email"]
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table", location=WHERE_EMAIL)
    email = typed(raw, EMAIL_TABLE_OPTIONS, WHERE_EMAIL)
    for key in ("smtp_host", "from"):
        if not email[key]:
            raise ConfigError("is required", location=f"{WHERE_EMAIL}.{key}")
    if not email["to"]:
        raise ConfigError("must name at least one recipient", location=f"{WHERE_EMAIL}.to")
    for index, address in enumerate([email["from"], *email["to"]]):
        if not ADDRESS.match(address):
            place = "from" if index == 0 else f"to[{index - 1}]"
            raise ConfigError(f"{address!r} is not an email address", location=f"{WHERE_EMAIL}.{place}")
    if not 0 < email["smtp_port"] < 65536:
        raise ConfigError("must be a TCP port (1-65535)", location=f"{WHERE_EMAIL}.smtp_port")
    if bool(email["username"]) != bool(email["password_env"]):
        raise ConfigError("username and password_env go together", location=WHERE_EMAIL)
    if email["password_env"] is not None:
        env_name(email["password_env"], f"{WHERE_EMAIL}.password_env")
        if not email["starttls"]:
            raise ConfigError("logging in without starttls would send the password in clear",
                              location=f"{WHERE_EMAIL}.starttls")
    return email


def compose(run: RunBundle, notice: Notice, email: Mapping[str, Any]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = notice.title
    message["From"] = email["from"]
    message["To"] = ", ".join(email["to"])
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid(domain=email["from"].rpartition("@")[2])
    report = run.artifact(REPORT)
    message.set_content(notice.text())
    html = environment().get_template("email.html.j2").render(
        notice=notice, severities=SEVERITIES, attached=REPORT if report else None)
    message.add_alternative(html, subtype="html")
    if report is not None:
        # base64: the report's long lines of embedded data would break SMTP's line limit
        message.add_attachment(report.path.read_text(encoding="utf-8"), subtype="html",
                               charset="utf-8", cte="base64", filename=REPORT)
    return message


def failure(exc: Exception) -> DeliveryError:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(f"the SMTP server refused the login ({exc.smtp_code})")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = {address: code for address, (code, _) in exc.recipients.items()}
        refused = ", ".join(f"{a} ({c})" for a, c in sorted(codes.items()))
        if all(400 <= c < 500 for c in codes.values()):
            return TransientDeliveryError(f"recipients deferred: {refused}")
        return DeliveryError(f"recipients refused: {refused}")
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        if 400 <= exc.smtp_code < 500:
            return TransientDeliveryError(f"SMTP {exc.smtp_code} {text}")
        return DeliveryError(f"SMTP {exc.smtp_code} {text}")
    if isinstance(exc, UnicodeEncodeError):
        return DeliveryError("the SMTP username or password is not ASCII, which smtplib's "
                             "AUTH cannot send")
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(f"STARTTLS failed: {exc.reason or exc}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"the server does not support it: {exc}")
    if isinstance(exc, (smtplib.SMTPServerDisconnected, socket.timeout, OSError)):
        return TransientDeliveryError(f"connection: {exc}")
    raise exc


class EmailDeliverer:
    name = "email"
    options = EMAIL_OPTIONS
    enabled_by = "email"
    notifies = True

    def check(self, settings: Mapping[str, Any]) -> None:
        email_settings(settings)

    def destination(self, settings: Mapping[str, Any]) -> str:
        email = email_settings(settings)
        return f"{', '.join(email['to'])} via {email['smtp_host']}:{email['smtp_port']}"

    def deliver(self, run: RunBundle, settings: Mapping[str, Any], context: DeliveryContext) -> str:
        email = email_settings(settings)
        password = (context.secrets.read(email["password_env"], f"{WHERE_EMAIL}.password_env")
                    if email["password_env"] else None)
        message = compose(run, build_notice(run, context.stored), email)
        context.retry.call(lambda: _send(email, password, message),
                           f"SMTP {email['smtp_host']}:{email['smtp_port']}")
        return f"email to {', '.join(email['to'])}"


def _send(email: Mapping[str, Any], password: str | None, message: EmailMessage) -> None:
    try:
        with smtplib.SMTP(email["smtp_host"], email["smtp_port"], timeout=TIMEOUT) as smtp:
            smtp.ehlo()
            if email["starttls"]:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if password is not None:
                smtp.login(email["username"], password)
            refused = smtp.send_message(message)
    except Exception as exc:
        raise failure(exc) from None
    if refused:  # some recipients took it: sending again would give them a second copy
        raise DeliveryError("recipients refused: " + ", ".join(sorted(refused)))
