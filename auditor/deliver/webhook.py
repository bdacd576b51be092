"""Post a summary of the run to a Slack-compatible webhook: {"text": ..., "blocks": [...]}.

The URL carries a token, so the profile names the environment variable that holds it
(``webhook_url_env``) and the URL is never printed, logged or stored. Run data is escaped
for Slack's mrkdwn (& < >), so a bucket name cannot mention @channel or hide a link.
"""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from auditor.deliver.base import DeliveryContext, DeliveryError, TransientDeliveryError
from auditor.deliver.bundle import RunBundle
from auditor.deliver.notice import Notice, build_notice
from auditor.deliver.settings import WEBHOOK_OPTIONS, WHERE, env_name
from auditor.findings import SEVERITIES

TIMEOUT = 30
LOCATION = f"{WHERE}.webhook_url_env"
# Slack's limits: header text 150, section text 3000 characters
HEADER_LIMIT, SECTION_LIMIT = 150, 3000


def mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    # a backtick inside would end the code span early
    return f"`{mrkdwn(text).replace('`', chr(0x2018))}`"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def payload(notice: Notice) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(notice.title, HEADER_LIMIT)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(notice.scan_line)}},
    ]
    if notice.by_severity:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{s}*\n{notice.by_severity.get(s, 0)}"} for s in SEVERITIES]})
    if notice.worst:
        lines = [f"\u2022 *{mrkdwn(f.severity)}* {code(f.rule_id)} on {code(f.resource)}: "
                 f"{mrkdwn(f.message)}" for f in notice.worst]
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": _clip("*Worst failing findings*\n" + "\n".join(lines),
                                            SECTION_LIMIT)}})
    if notice.locations:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(
            "*Report*\n" + "\n".join(code(location) for location in notice.locations),
            SECTION_LIMIT)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn(
        f"profile {notice.profile} \u00b7 finished {notice.finished_at}")}]})
    return {"text": mrkdwn(notice.text()), "blocks": blocks}


def _checked_url(url: str, variable: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return url
    host = parts.hostname or ""
    loopback = host == "localhost" or _is_loopback(host)
    if parts.scheme == "http" and loopback:
        return url
    # the message names the variable, never the URL
    raise DeliveryError(f"the URL in {variable} must be https:// (http:// only to this machine)")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookDeliverer:
    name = "webhook"
    options = WEBHOOK_OPTIONS
    enabled_by = "webhook_url_env"
    notifies = True

    def check(self, settings: Mapping[str, Any]) -> None:
        env_name(settings["webhook_url_env"], LOCATION)

    def destination(self, settings: Mapping[str, Any]) -> str:
        return f"the webhook in ${settings['webhook_url_env']}"

    def deliver(self, run: RunBundle, settings: Mapping[str, Any], context: DeliveryContext) -> str:
        variable = settings["webhook_url_env"]
        url = _checked_url(context.secrets.read_url(variable, LOCATION), variable)
        body = json.dumps(payload(build_notice(run, context.stored)), ensure_ascii=False).encode()
        context.retry.call(lambda: _post(url, body), f"webhook ${variable}")
        return f"webhook ${variable}"


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code} {exc.reason}"
        if exc.code == 429 or exc.code >= 500:
            raise TransientDeliveryError(reason, retry_after=_seconds(exc.headers.get("Retry-After"))) \
                from None
        raise DeliveryError(reason) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransientDeliveryError(f"connection: {reason}") from None


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None  # an HTTP date; the backoff is long enough
