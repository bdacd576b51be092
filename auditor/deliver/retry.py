"""Bounded retries with exponential backoff for one delivery operation at a time.

Client libraries' own retries are switched off where deliverers call them, so that this is
the only retry layer: each operation is tried at most ``attempts`` times.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from auditor.deliver.base import DeliveryError, TransientDeliveryError

T = TypeVar("T")
log = logging.getLogger("auditor.deliver")


@dataclass(slots=True)
class Retry:
    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    retries: int = 0  # retries made so far, over every operation

    def delay(self, attempt: int, hint: float | None) -> float:
        backoff = self.base_delay * 2 ** (attempt - 1)
        return min(self.max_delay, max(backoff, hint or 0.0))

    def call(self, operation: Callable[[], T], what: str) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return operation()
            except TransientDeliveryError as exc:
                if attempt == self.attempts:
                    raise DeliveryError(f"{what}: {exc} (gave up after {attempt} attempts)") from None
                wait = self.delay(attempt, exc.retry_after)
                log.info("%s: %s; retrying in %.1fs", what, exc, wait)
                self.retries += 1
                self.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")
