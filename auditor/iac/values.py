"""Reading attribute values as checkov leaves them.

Terraform attributes arrive wrapped in lists (``bucket = ["x"]``, nested blocks as lists of
dicts, list attributes as a list in a list); booleans may still be strings ("true").
CloudFormation values may be intrinsic functions (``{"Ref": "X"}``, ``{"Fn::Sub": "..."}``).
A value these helpers cannot read is ``None``: the caller decides what unknown means.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_CFN_SUB_NAME = re.compile(r"^\$\{([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?\}$")


def first(config: Mapping[str, Any], key: str) -> Any:
    return single(config.get(key))


def single(value: Any) -> Any:
    """``x`` for ``[x]``, ``None`` for ``[]``, anything else as it is."""
    if isinstance(value, list):
        return value[0] if len(value) == 1 else (value or None)
    return value


def nested(config: Mapping[str, Any] | None, *path: str) -> list[Mapping[str, Any]]:
    """The nested blocks at ``path`` (``rule``, then ``apply_server_side_encryption_by_default``)."""
    level: list[Mapping[str, Any]] = [config] if isinstance(config, Mapping) else []
    for key in path:
        level = [item for parent in level for item in _as_list(parent.get(key))
                 if isinstance(item, Mapping)]
    return level


def strings(value: Any) -> list[str]:
    """Every string in a value, lists flattened (``[["s3:*"]]`` is ``["s3:*"]``)."""
    if isinstance(value, list | tuple):
        return [s for item in value for s in strings(item)]
    if isinstance(value, bool):
        return [str(value).lower()]
    return [str(value)] if isinstance(value, str | int | float) else []


def as_bool(value: Any) -> bool | None:
    value = single(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def string(value: Any) -> str | None:
    value = single(value)
    return value if isinstance(value, str) else None


def tags(value: Any) -> dict[str, str]:
    """Terraform ``tags``/``labels`` maps and CloudFormation ``[{Key, Value}]`` lists."""
    if isinstance(value, list) and value and all(isinstance(i, Mapping) and "Key" in i for i in value):
        return {str(item["Key"]): str(item.get("Value", "")) for item in value}
    value = single(value)
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()
                if not str(k).startswith("__") and isinstance(v, str | int | float | bool)}
    return {}


def cfn_reference(value: Any) -> str | None:
    """The logical id that a CloudFormation value refers to (Ref, GetAtt, a bare Sub)."""
    if isinstance(value, Mapping):
        if isinstance(value.get("Ref"), str):
            return value["Ref"]
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute and isinstance(attribute[0], str):
            return attribute[0]
        if isinstance(attribute, str):
            return attribute.split(".")[0]
        sub = value.get("Fn::Sub")
        if isinstance(sub, str):
            match = _CFN_SUB_NAME.match(sub)
            return match.group(1) if match else None
    return None


def cfn_text(value: Any) -> Any:
    """A CloudFormation value with intrinsics turned into ``${X}`` text, recursively.

    Policy analysis only needs to know whether a value is a literal (``*``, an ARN) or
    depends on another resource; ``${...}`` marks the latter, as in Terraform.
    """
    if isinstance(value, list):
        return [cfn_text(item) for item in value]
    if not isinstance(value, Mapping):
        return value
    if len(value) == 1:
        (function, argument), = value.items()
        if function == "Ref":
            return f"${{{argument}}}"
        if function == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".")
            return "${" + ".".join(str(p) for p in parts) + "}"
        if function == "Fn::Sub":
            return argument[0] if isinstance(argument, list) and argument else argument
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            separator, parts = argument
            texts = [cfn_text(p) for p in _as_list(parts)]
            if all(isinstance(t, str) for t in texts):
                return str(separator).join(texts)
            return "${unresolved}"
        if function.startswith("Fn::"):
            return "${unresolved}"
    return {k: cfn_text(v) for k, v in value.items() if not str(k).startswith("__")}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
