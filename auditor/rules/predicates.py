"""Named predicates: the few tests that need code, usable in any rule file condition.

A predicate is written ``{<name>: <argument>}``, applies to the listed resource types only
(checked when the rule is loaded) and answers true, false or unknown like any condition.
Whole rules that need code are Python rules instead (docs/rules.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditor.rules.aws_cloudtrail import s3_data_events_logged
from auditor.rules.gcp_audit_logs import storage_data_access_logged
from auditor.rules.logic import Trace, Truth
from auditor.scanners.gcp import ids as gcp

if TYPE_CHECKING:
    from auditor.rules.scope import Scope


@dataclass(frozen=True, slots=True)
class Predicate:
    resource_types: tuple[str, ...]
    arguments: tuple[str, ...]
    evaluate: Callable[[Scope, str, Trace], Truth]
    help: str


PREDICATES: dict[str, Predicate] = {
    "s3_data_events_logged": Predicate(
        ("aws.s3.bucket",), ("read", "write"), s3_data_events_logged,
        "a logging CloudTrail trail of the bucket's account and region records every object "
        "read (or write) data event of the bucket"),
    "storage_data_access_logged": Predicate(
        (gcp.PROJECT,), ("read", "write"), storage_data_access_logged,
        "the project's effective audit configuration (its own allow policy and its folders' and "
        "organization's) enables Cloud Storage DATA_READ (or DATA_WRITE) logs, for "
        "storage.googleapis.com or allServices, with no exempted members"),
}
