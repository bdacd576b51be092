"""Secrets for delivery come from environment variables named in the profile, never from the
file itself; every value read is remembered so that no message can carry it out."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from auditor.deliver.base import DeliveryError

REDACTED = "[redacted]"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# shorter fragments would redact ordinary words
MIN_FRAGMENT = 6


class Secrets:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self._values: set[str] = set()

    def read(self, variable: str, where: str) -> str:
        value = self._environ.get(variable, "")
        if not value:
            raise DeliveryError(f"the environment variable {variable} ({where}) is not set")
        self._values.add(value)
        return value

    def read_url(self, variable: str, where: str) -> str:
        """A URL whose path or query is a credential (webhooks): each part is a secret too."""
        url = self.read(variable, where)
        parts = urlsplit(url)
        for fragment in (parts.path, parts.query, parts.netloc.rpartition("@")[0],
                         f"{parts.path}?{parts.query}"):
            if len(fragment) >= MIN_FRAGMENT:
                self._values.add(fragment)
        return url

    def redact(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return text
