"""Turning AWS response values into inventory values (documents, times, tags, names)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from auditor.clock import isoformat


def policy_document(value: Any) -> Any:
    """A policy document as a parsed JSON object. IAM returns documents URL-encoded on the
    wire (botocore decodes most, not all), S3 and KMS return JSON text."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        # only URL-encoded text reaches here; decoding valid JSON first would corrupt a
        # literal "%" inside it
        return json.loads(unquote(value))


def iso(moment: datetime | str | None) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, str):
        return moment
    return isoformat(moment)


def tag_dict(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """``[{"Key": k, "Value": v}]`` (the AWS shape) as ``{k: v}``."""
    return {str(tag["Key"]): str(tag.get("Value", "")) for tag in tags or ()}


def name_from_arn(arn: str) -> str:
    """``arn:aws:iam::1:policy/path/name`` -> ``name``."""
    return arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def partition_of(arn: str) -> str:
    return arn.split(":")[1] if arn.count(":") >= 5 else "aws"


PUBLIC_ACCESS_BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                             "RestrictPublicBuckets")


def public_access_block(configuration: Mapping[str, Any]) -> dict[str, bool]:
    """The four Block Public Access flags; a flag AWS leaves out is off."""
    return {flag: bool(configuration.get(flag, False)) for flag in PUBLIC_ACCESS_BLOCK_FLAGS}


def attached_policy_arns(attached: Iterable[Mapping[str, Any]] | None) -> list[str]:
    return sorted(policy["PolicyArn"] for policy in attached or ())


def inline_policies(policies: Iterable[Mapping[str, Any]] | None) -> dict[str, Any]:
    return {policy["PolicyName"]: policy_document(policy["PolicyDocument"])
            for policy in policies or ()}


def boundary_arn(detail: Mapping[str, Any]) -> str | None:
    return (detail.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
