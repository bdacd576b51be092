"""The one JSON layout of every machine-readable output, so equal data gives equal bytes."""

from __future__ import annotations

import json
from typing import Any


def dumps(data: Any) -> str:
    # ensure_ascii=False keeps names readable; the trailing newline keeps diffs and cat tidy
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
