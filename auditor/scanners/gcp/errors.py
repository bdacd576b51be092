"""Turning Google API failures into data.

A failed call (PermissionDenied, NotFound for something that was just listed, quota past
retries, a connection error, even a response this scanner cannot read) makes what it would
have returned *not known*: a ``CollectionError``, and the attribute named in the resource's
``unknown`` list. Nothing here raises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from google.api_core.exceptions import GoogleAPICallError, RetryError

from auditor.inventory import CollectionError
from auditor.scanners.gcp import ids
from auditor.scanners.runner import ErrorClassifier, Task

_MESSAGE_LIMIT = 500
T = TypeVar("T")


def _last_failure(exc: BaseException) -> BaseException:
    """What a call that ran out of retries last failed with: its code says more than
    ``RetryError`` (throttled? unavailable? reset?)."""
    while isinstance(exc, RetryError) and exc.cause is not None:
        exc = exc.cause
    return exc


def error_code(exc: BaseException) -> str:
    """The error's class name: ``PermissionDenied``, ``Forbidden``, ``NotFound``..."""
    return type(_last_failure(exc)).__name__


def error_message(exc: BaseException) -> str:
    if isinstance(exc, RetryError):
        last = _last_failure(exc)
        text = f"gave up after retries ({exc.message}); last failure: " + (
            error_message(last) if last is not exc else "none recorded")
    elif isinstance(exc, GoogleAPICallError):
        text = exc.message or str(exc)
    elif isinstance(exc, OSError):  # a reset or refused connection, a timeout
        text = f"{type(exc).__name__}: {exc}"
    else:
        # not an API answer: a bug or an unexpected response shape; say so plainly
        text = f"unexpected {type(exc).__name__} while reading the response: {exc}"
    return " ".join(str(text).split())[:_MESSAGE_LIMIT]


@dataclass(frozen=True, slots=True)
class ErrorScope:
    """Where a failure happened, so that its CollectionError can be attributed."""

    account: str
    service: str
    region: str | None = None
    resource_id: str | None = None

    def error(self, exc: BaseException, operation: str, attribute: str | None = None) -> CollectionError:
        return CollectionError(provider=ids.PROVIDER, account=self.account, service=self.service,
                               operation=operation, code=error_code(exc), message=error_message(exc),
                               region=self.region, resource_id=self.resource_id, attribute=attribute)


def task_error_classifier() -> ErrorClassifier:
    """The runner's safety net: an exception that escaped a whole task. A task's label starts
    with the project (or hierarchy node) it covers, which becomes the error's account."""

    def classify(task: Task, exc: Exception) -> CollectionError:
        scope = ErrorScope(task.label.split(" ", 1)[0], task.service, task.region, task.resource_id)
        return scope.error(exc, operation=task.label)

    return classify


def guarded(scope: ErrorScope, operation: str, call: Callable[[], T],
            attribute: str | None = None) -> tuple[T | None, CollectionError | None]:
    """``call()``'s value, or the CollectionError it failed with (the one place a failed call
    is caught, so that every collector records failures the same way)."""
    try:
        return call(), None
    except Exception as exc:  # any failure of one call becomes data; the scan goes on
        return None, scope.error(exc, operation, attribute)
