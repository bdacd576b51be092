"""The one way the GCP scanner calls a Google API: a declared read-only operation
(auditor.scanners.gcp.operations), with retries and a timeout."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import requests
from google.api_core import exceptions as core_exceptions
from google.api_core.retry import Retry, if_exception_type
from google.protobuf import json_format
from google.protobuf.message import Message

from auditor.scanners.gcp.operations import OPERATIONS

# transient failures are retried with exponential back-off; past the deadline the failure is
# recorded as a collection error by the caller
TRANSIENT = (core_exceptions.TooManyRequests, core_exceptions.ResourceExhausted,
             core_exceptions.ServiceUnavailable, core_exceptions.InternalServerError,
             core_exceptions.DeadlineExceeded, core_exceptions.Aborted,
             core_exceptions.BadGateway, core_exceptions.GatewayTimeout, ConnectionError,
             requests.exceptions.ConnectionError)
RETRY_DEADLINE_SECONDS = 120.0
CALL_TIMEOUT_SECONDS = 60.0


class GcpApi:
    def __init__(self, *, retry_deadline: float = RETRY_DEADLINE_SECONDS,
                 timeout: float = CALL_TIMEOUT_SECONDS):
        self.retry = Retry(predicate=if_exception_type(*TRANSIENT), initial=1.0, maximum=30.0,
                           multiplier=2.0, timeout=retry_deadline)
        self.timeout = timeout

    def call(self, service: str, operation: str, method: Callable[..., Any], *args: Any,
             **kwargs: Any) -> Any:
        """``method(*args, **kwargs)`` with retries; later pages of a returned pager or iterator
        are fetched with the same retry policy."""
        if (service, operation) not in OPERATIONS:
            raise LookupError(f"{service}:{operation} is not a declared scanner operation")
        return method(*args, retry=self.retry, timeout=self.timeout, **kwargs)


def to_json(message: Any) -> dict[str, Any]:
    """A protobuf or proto-plus message as the JSON its REST API returns (camelCase keys)."""
    raw = message if isinstance(message, Message) else type(message).pb(message)
    return json_format.MessageToDict(raw)


def policy_request(resource: str) -> Mapping[str, Any]:
    """A getIamPolicy request that asks for conditions (policy version 3)."""
    return {"resource": resource, "options": {"requested_policy_version": 3}}
