"""The one source of "now", so that runs can be reproduced.

``SOURCE_DATE_EPOCH`` (the reproducible-builds convention) freezes time for golden tests and
for re-evaluating an old inventory as of the day it was taken.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime


def now() -> datetime:
    frozen = os.environ.get("SOURCE_DATE_EPOCH")
    if frozen:
        return datetime.fromtimestamp(int(frozen), tz=UTC)
    return datetime.now(tz=UTC).replace(microsecond=0)


def isoformat(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str) -> datetime:
    """Parse an ISO-8601 timestamp as written in inventories; naive times are UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
