"""KMS keys: per region, one task lists keys and aliases, then one task per key."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from auditor.scanners.aws.collect import AwsContext, ResourceDraft
from auditor.scanners.aws.values import iso, policy_document
from auditor.scanners.runner import Record, Task, TaskContext, without_context

KEY = "aws.kms.key"
# automatic rotation exists only for symmetric encryption keys with key material from KMS
_ROTATABLE_SPEC = "SYMMETRIC_DEFAULT"
_ROTATABLE_ORIGIN = "AWS_KMS"

# alias name and ARN, per key id; None when the aliases could not be listed
Aliases = dict[str, list[tuple[str, str]]] | None


def kms_region_task(context: AwsContext, region: str) -> Task:
    def run(task: TaskContext) -> Iterator[Record]:
        aliases: Aliases
        try:
            aliases = _aliases_by_key(context, region)
        except Exception as exc:  # each key's aliases become unknown, explained once here
            aliases = None
            yield context.scope("kms", region).error(exc, "ListAliases", attribute="aliases")
        for key in context.api.items("kms", "ListKeys", "Keys", region=region):
            task.spawn(Task(label=f"kms key {region} {key['KeyId']}",
                            run=without_context(scan_key, context, region, key, aliases),
                            service="kms", region=region, resource_id=key["KeyArn"]))

    return Task(label=f"kms list keys {region}", run=run, service="kms", region=region)


def _aliases_by_key(context: AwsContext, region: str) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for alias in context.api.items("kms", "ListAliases", "Aliases", region=region):
        # AWS-managed aliases (alias/aws/s3...) have no key until a service first uses them
        if alias.get("TargetKeyId"):
            found[alias["TargetKeyId"]].append((alias["AliasName"], alias["AliasArn"]))
    return found


def scan_key(context: AwsContext, region: str, key: dict[str, Any],
             aliases: Aliases) -> Iterator[Record]:
    key_id, arn = key["KeyId"], key["KeyArn"]
    names = sorted(aliases.get(key_id, [])) if aliases is not None else []
    draft = ResourceDraft(context, id=arn, type=KEY, name=names[0][0] if names else key_id,
                          region=region)
    draft.attributes["key_id"] = key_id
    _set_aliases(draft, names, known=aliases is not None)
    described = draft.read(("description", "key_manager", "key_state", "key_spec", "key_usage",
                            "enabled", "creation_date", "origin"),
                           "DescribeKey", _metadata, KeyId=arn)
    draft.read("policy", "GetKeyPolicy", lambda r: policy_document(r["Policy"]), KeyId=arn,
               PolicyName="default")
    if described and not _rotatable(draft.attributes):
        draft.attributes["rotation_enabled"] = None  # rotation does not apply to this key
    else:
        draft.read("rotation_enabled", "GetKeyRotationStatus",
                   lambda r: bool(r["KeyRotationEnabled"]), KeyId=arn)
    draft.guard("grants", "ListGrants", lambda: sorted(
        (_grant(grant) for grant in context.api.items("kms", "ListGrants", "Grants",
                                                      region=region, KeyId=arn)),
        key=lambda grant: grant["grant_id"] or ""))
    return draft.records()


def _set_aliases(draft: ResourceDraft, names: list[tuple[str, str]], *, known: bool) -> None:
    if known:
        draft.attributes["aliases"] = [name for name, _ in names]
        draft.attributes["alias_arns"] = [alias_arn for _, alias_arn in names]
    else:
        draft.mark_unknown("aliases", "alias_arns")  # explained by the ListAliases error


def _rotatable(attributes: dict[str, Any]) -> bool:
    return (attributes.get("key_spec") == _ROTATABLE_SPEC
            and attributes.get("origin") == _ROTATABLE_ORIGIN)


def _metadata(response: dict[str, Any]) -> tuple[Any, ...]:
    meta = response["KeyMetadata"]
    return (meta.get("Description"), meta.get("KeyManager"), meta.get("KeyState"),
            meta.get("KeySpec") or meta.get("CustomerMasterKeySpec"), meta.get("KeyUsage"),
            bool(meta.get("Enabled")), iso(meta.get("CreationDate")), meta.get("Origin"))


def _grant(grant: dict[str, Any]) -> dict[str, Any]:
    return {"grant_id": grant.get("GrantId"), "grantee_principal": grant.get("GranteePrincipal"),
            "retiring_principal": grant.get("RetiringPrincipal"),
            "operations": sorted(grant.get("Operations", [])),
            "constraints": grant.get("Constraints")}
