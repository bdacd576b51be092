"""Turning AWS failures into data.

Two kinds of error answers exist. "Not configured" answers (no bucket policy, no default
encryption, no login profile...) are facts: the attribute is ``null`` and nothing is unknown.
Everything else (AccessDenied, throttling past retries, NotImplemented, connection errors,
even a bug while parsing a response) means the attribute is *not known*: it becomes a
``CollectionError`` and the attribute is named in the resource's ``unknown`` list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from auditor.executors.base import UNKNOWN_ACCOUNT
from auditor.inventory import CollectionError
from auditor.scanners.runner import Task

# per operation, the error codes that mean "this optional configuration does not exist";
# per operation because the same code elsewhere (NoSuchEntity for a user that vanished
# mid-scan) is a real failure
NOT_CONFIGURED: dict[str, frozenset[str]] = {
    "GetBucketPolicy": frozenset({"NoSuchBucketPolicy"}),
    "GetBucketEncryption": frozenset({"ServerSideEncryptionConfigurationNotFoundError"}),
    "GetPublicAccessBlock": frozenset({"NoSuchPublicAccessBlockConfiguration"}),
    "GetBucketOwnershipControls": frozenset({"OwnershipControlsNotFoundError"}),
    "GetBucketTagging": frozenset({"NoSuchTagSet"}),
    "GetObjectLockConfiguration": frozenset({"ObjectLockConfigurationNotFoundError"}),
    "GetBucketReplication": frozenset({"ReplicationConfigurationNotFoundError"}),
    "GetLoginProfile": frozenset({"NoSuchEntity"}),
    "DescribeOrganization": frozenset({"AWSOrganizationsNotInUseException"}),
}

_MESSAGE_LIMIT = 500
_EMBEDDED_XML_ERROR = re.compile(r"<Code>([^<]+)</Code>\s*<Message>([^<]*)</Message>")


def _client_error(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or exc)
    # an XML error body where botocore expected JSON (some emulators and proxies): botocore
    # reports only the HTTP status, with the body as the message
    embedded = _EMBEDDED_XML_ERROR.search(message)
    if embedded and (not code or code.isdigit()):
        code, message = embedded.group(1), embedded.group(2)
    # S3 answers some requests with a bare status and no body
    return code or (f"HTTP{status}" if status else "ClientError"), message


def error_code(exc: BaseException) -> str:
    return _client_error(exc)[0] if isinstance(exc, ClientError) else type(exc).__name__


def is_not_configured(exc: BaseException, operation: str) -> bool:
    return (isinstance(exc, ClientError)
            and error_code(exc) in NOT_CONFIGURED.get(operation, frozenset()))


def error_message(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        text = _client_error(exc)[1]
    elif isinstance(exc, BotoCoreError):
        text = str(exc)
    else:
        # not an AWS answer: a bug or an unexpected response shape; say so plainly
        text = f"unexpected {type(exc).__name__} while reading the response: {exc}"
    return " ".join(text.split())[:_MESSAGE_LIMIT]


@dataclass(frozen=True, slots=True)
class ErrorScope:
    """Where a failure happened, so that its CollectionError can be attributed."""

    account: str
    service: str
    region: str | None = None
    resource_id: str | None = None

    def error(self, exc: BaseException, operation: str,
              attribute: str | None = None) -> CollectionError:
        if isinstance(exc, ClientError) and exc.operation_name:
            operation = exc.operation_name
        return CollectionError(provider="aws", account=self.account, service=self.service,
                               operation=operation, code=error_code(exc),
                               message=error_message(exc), region=self.region,
                               resource_id=self.resource_id, attribute=attribute)


def classify_task_error(task: Task, exc: Exception) -> CollectionError:
    """The runner's safety net: an exception that escaped a whole task (of any account: each
    task knows its account)."""
    scope = ErrorScope(task.account or UNKNOWN_ACCOUNT, task.service, task.region,
                       task.resource_id)
    return scope.error(exc, operation=task.label)
