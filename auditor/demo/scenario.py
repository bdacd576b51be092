"""Scenario files: an emulated account described as JSON (format in the shared scenarios
README), loaded and checked before anything is sent to an endpoint.

Mistakes are ``InputError``s naming the scenario and the JSON path, never a ``KeyError``
halfway through seeding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from auditor.errors import InputError

DEMO_SCENARIO = "aws-ml-org.json"

CANNED_BUCKET_ACLS = ("private", "public-read", "public-read-write", "authenticated-read")
OBJECT_OWNERSHIP = ("ObjectWriter", "BucketOwnerPreferred", "BucketOwnerEnforced")
ENCRYPTION_TYPES = ("AES256", "aws:kms")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)(?::([^}]*))?\}")


def demo_scenario() -> dict[str, Any]:
    """The development scenario shipped with the package (an ML org, 14 buckets)."""
    text = resources.files("auditor.demo").joinpath(DEMO_SCENARIO).read_text(encoding="utf-8")
    return parse_scenario(text, f"auditor.demo/{DEMO_SCENARIO}")


def load_scenario(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read scenario: {exc.strerror}", source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", source=str(path)) from None
    return parse_scenario(text, str(path))


def parse_scenario(text: str, source: str) -> dict[str, Any]:
    try:
        scenario = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", source=source,
                         location=f"line {exc.lineno} column {exc.colno}") from None
    check_scenario(scenario, source)
    return scenario


def scenario_source(scenario: Mapping[str, Any]) -> str:
    return f"scenario {scenario.get('name', '?')}"


def check_scenario(scenario: Any, source: str) -> None:
    """Check what seeding relies on; the ``expected`` answers are not the seeder's business."""
    _Checker(source).scenario(scenario)


class _Checker:
    def __init__(self, source: str):
        self.source = source

    def fail(self, message: str, where: str) -> InputError:
        return InputError(message, source=self.source, location=where)

    def kind(self, value: Any, expected: type | tuple[type, ...], where: str) -> Any:
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            names = (expected.__name__ if isinstance(expected, type)
                     else " or ".join(k.__name__ for k in expected))
            raise self.fail(f"expected {names}, found {type(value).__name__}", where)
        return value

    def required(self, entry: Mapping[str, Any], key: str, expected: type, where: str) -> Any:
        if key not in entry:
            raise self.fail(f"missing field {key!r}", where)
        return self.kind(entry[key], expected, f"{where}.{key}")

    def optional(self, entry: Mapping[str, Any], key: str, expected: type | tuple[type, ...],
                 where: str) -> Any:
        value = entry.get(key)
        return None if value is None else self.kind(value, expected, f"{where}.{key}")

    def one_of(self, value: Any, allowed: tuple[str, ...], where: str) -> None:
        if value not in allowed:
            raise self.fail(f"{value!r} is not one of {', '.join(allowed)}", where)

    def entries(self, scenario: Mapping[str, Any], key: str,
                check: Callable[[dict[str, Any], str], None]) -> None:
        for i, entry in enumerate(self.optional(scenario, key, list, "$") or []):
            where = f"$.{key}[{i}]"
            check(self.kind(entry, dict, where), where)

    def scenario(self, scenario: Any) -> None:
        self.kind(scenario, dict, "$")
        account = self.required(scenario, "account_id", str, "$")
        if not _ACCOUNT_ID.match(account):
            raise self.fail(f"account_id must be 12 digits, not {account!r}", "$.account_id")
        self.required(scenario, "region", str, "$")
        self.optional(scenario, "account_public_access_block", dict, "$")
        self.entries(scenario, "oidc_providers",
                     lambda entry, where: self.required(entry, "url", str, where))
        self.entries(scenario, "managed_policies", self.managed_policy)
        self.entries(scenario, "groups", self.principal)
        self.entries(scenario, "users", self.user)
        self.entries(scenario, "roles", self.role)
        self.entries(scenario, "kms_keys", self.key)
        aliases = {key.get("alias") for key in scenario.get("kms_keys") or []}
        self.entries(scenario, "buckets", lambda entry, where: self.bucket(entry, where, aliases))

    def managed_policy(self, entry: dict[str, Any], where: str) -> None:
        self.required(entry, "name", str, where)
        self.required(entry, "document", dict, where)

    def principal(self, entry: dict[str, Any], where: str) -> None:
        """What groups, users and roles have in common."""
        self.required(entry, "name", str, where)
        self.optional(entry, "managed_policies", list, where)
        self.optional(entry, "inline_policies", dict, where)
        self.optional(entry, "tags", dict, where)

    def role(self, entry: dict[str, Any], where: str) -> None:
        self.principal(entry, where)
        self.required(entry, "trust_policy", dict, where)
        self.optional(entry, "permissions_boundary", str, where)

    def user(self, entry: dict[str, Any], where: str) -> None:
        self.principal(entry, where)
        if entry.get("permissions_boundary"):
            raise self.fail("user permissions boundaries are not supported (moto does not "
                            "implement them); put boundaries on roles only",
                            f"{where}.permissions_boundary")
        self.optional(entry, "groups", list, where)
        self.optional(entry, "access_keys", int, where)

    def key(self, entry: dict[str, Any], where: str) -> None:
        alias = self.required(entry, "alias", str, where)
        if not alias.startswith("alias/") or alias.startswith("alias/aws/"):
            raise self.fail(f"alias must start with 'alias/' and not 'alias/aws/': {alias!r}",
                            f"{where}.alias")
        self.optional(entry, "policy", dict, where)

    def bucket(self, entry: dict[str, Any], where: str, aliases: set[Any]) -> None:
        self.required(entry, "name", str, where)
        self.one_of(entry.get("acl", "private"), CANNED_BUCKET_ACLS, f"{where}.acl")
        if entry.get("object_ownership") is not None:
            self.one_of(entry["object_ownership"], OBJECT_OWNERSHIP, f"{where}.object_ownership")
        self.optional(entry, "policy", dict, where)
        self.optional(entry, "public_access_block", dict, where)
        self.optional(entry, "tags", dict, where)
        encryption = self.optional(entry, "encryption", dict, where)
        if encryption is not None:
            self.one_of(encryption.get("type"), ENCRYPTION_TYPES, f"{where}.encryption.type")
            alias = encryption.get("key_alias")
            if alias is not None and alias not in aliases:
                raise self.fail(f"key {alias!r} is not in kms_keys", f"{where}.encryption.key_alias")
        for i, item in enumerate(self.optional(entry, "objects", list, where) or []):
            self.required(self.kind(item, dict, f"{where}.objects[{i}]"), "key", str,
                          f"{where}.objects[{i}]")


def resolve_placeholders(value: Any, substitutions: Mapping[str, str], key_arns: Mapping[str, str],
                         source: str, where: str = "$") -> Any:
    """Replace ``${ACCOUNT}``, ``${REGION}`` and ``${KEY_ARN:alias/name}`` in every string."""
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            name, argument = match.group(1), match.group(2)
            if name == "KEY_ARN":
                if argument not in key_arns:
                    raise InputError(f"${{KEY_ARN:{argument}}} names a key that is not in "
                                     f"kms_keys", source=source, location=where)
                return key_arns[argument]
            if name in substitutions and argument is None:
                return substitutions[name]
            raise InputError(f"unknown placeholder {match.group(0)}", source=source,
                             location=where)

        return _PLACEHOLDER.sub(substitute, value)
    if isinstance(value, list):
        return [resolve_placeholders(item, substitutions, key_arns, source, f"{where}[{i}]")
                for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: resolve_placeholders(item, substitutions, key_arns, source, f"{where}.{key}")
                for key, item in value.items()}
    return value
