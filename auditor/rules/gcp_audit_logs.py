"""Are Cloud Storage Data Access audit logs on for every read (or write) in a GCP project?

The predicate ``{storage_data_access_logged: read|write}`` for gcp.resourcemanager.project.
It is code rather than a condition because audit configurations merge down the hierarchy: the
project's effective configuration is the union of the ``auditConfigs`` in its own allow
policy and in those of its folders and organization (its ``ancestors``). Reads are logged
when some level enables ``DATA_READ`` (writes: ``DATA_WRITE``) for ``storage.googleapis.com``
or ``allServices``, and no level exempts members from that log type: an exempted member's
reads are not recorded, so not every read is.

A level whose policy was not collected, or that is not in the inventory, makes the answer
unknown: it could exempt members as well as enable logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditor.rules.logic import Trace, Truth
from auditor.rules.scope import Scope
from auditor.scanners.gcp import ids as gcp

SERVICES = ("storage.googleapis.com", "allServices")
LOG_TYPES = {"read": "DATA_READ", "write": "DATA_WRITE"}


def storage_data_access_logged(scope: Scope, kind: str, trace: Trace) -> Truth:
    project = scope.resource
    log_type = LOG_TYPES[kind]
    enabled = exempted = unknown = False
    for node in project.attributes.get("ancestors") or [gcp.node_from_id(project.id)]:
        level = scope.context.inventory.get(gcp.node_id(str(node)))
        if level is None:
            trace.note(project.id, f"{node} is not in the inventory, so its audit configuration "
                                   f"is not known")
            unknown = True
            continue
        found = Scope(level, scope.context).lookup("iam_policy")
        if found.unknown:
            trace.note(level.id, found.unknown)
            unknown = True
            continue
        for config in _configs(found.value, log_type):
            enabled = True
            trace.related.append(level.id)
            if config.get("exemptedMembers"):
                exempted = True
                trace.matches.setdefault("exempted_members", []).extend(config["exemptedMembers"])
    if unknown:
        return None
    return enabled and not exempted


def _configs(policy: Any, log_type: str) -> list[Mapping[str, Any]]:
    """The audit log configurations of ``log_type`` for Cloud Storage in one allow policy."""
    if not isinstance(policy, Mapping):
        return []
    found = []
    for audit in policy.get("auditConfigs") or []:
        if not isinstance(audit, Mapping) or audit.get("service") not in SERVICES:
            continue
        found.extend(config for config in audit.get("auditLogConfigs") or []
                     if isinstance(config, Mapping) and config.get("logType") == log_type)
    return found
