"""Google API JSON -> inventory ``Resource``s: the one place the GCP inventory shape is made.

The live scanner and the Cloud Asset Inventory reader both hand these functions the JSON
representation of a resource as Google's APIs define it (camelCase keys; CAI's
``resource.data`` is that same representation), so both produce the same inventory. Where
API versions differ (Resource Manager v1 in CAI, v3 live), both spellings are accepted.
docs/inventory-gcp.md describes every attribute made here.

A value of the wrong shape raises ``MalformedRecord`` naming its JSON path; the caller turns it
into an ``InputError`` (a CAI file) or a ``CollectionError`` (a live response).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from auditor import clock
from auditor.inventory import Resource
from auditor.scanners.gcp import ids

NEVER_EXPIRES_YEAR = 9999
_NODE_PLURALS = {"organization": "organizations", "folder": "folders", "project": "projects"}


class MalformedRecord(ValueError):
    def __init__(self, message: str, path: str):
        super().__init__(f"{path}: {message}")
        self.message = message
        self.path = path


# -- value normalization ------------------------------------------------------------------------
def _text(data: Mapping[str, Any], key: str, where: str, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise MalformedRecord(f"missing {key!r}", where)
        return None
    if not isinstance(value, str):
        raise MalformedRecord(f"{key!r} must be a string, not {type(value).__name__}", where)
    return value


def _mapping(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedRecord(f"{key!r} must be an object, not {type(value).__name__}", where)
    return value


def _integer(value: Any, where: str) -> int | None:
    """int64 fields: CAI writes JSON numbers, the JSON API strings; accept both."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MalformedRecord("must be an integer, not a boolean", where)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MalformedRecord(f"must be an integer, not {value!r}", where) from None


def _seconds(value: Any, where: str) -> int | None:
    """A protobuf Duration in JSON (``"7776000s"``) -> whole seconds."""
    if value is None or value == "":
        return None
    text = str(value)
    try:
        return int(float(text[:-1] if text.endswith("s") else text))
    except ValueError:
        raise MalformedRecord(f"not a duration: {value!r}", where) from None


def _time(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedRecord(f"not a timestamp: {value!r}", where)
    try:
        return clock.isoformat(clock.parse(value))
    except ValueError:
        raise MalformedRecord(f"not an RFC 3339 timestamp: {value!r}", where) from None


def _labels(data: Mapping[str, Any], where: str) -> dict[str, str]:
    labels = _mapping(data, "labels", where)
    return {str(k): str(v) for k, v in sorted(labels.items())}


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MalformedRecord("must be a list of strings", where)
    return list(value)


def _segment_after(name: str, marker: str) -> str | None:
    parts = name.split("/")
    return parts[parts.index(marker) + 1] if marker in parts[:-1] else None


# -- policies -------------------------------------------------------------------------------------
def iam_policy(raw: Mapping[str, Any] | None, where: str = "iam_policy") -> dict[str, Any]:
    """An allow policy as the IAM API returns it (version, bindings with conditions, audit
    configs), without its etag, bindings and members sorted. None -> empty policy."""
    if raw is None:
        return {"version": 1, "bindings": []}
    if not isinstance(raw, Mapping):
        raise MalformedRecord("must be an object", where)
    bindings = raw.get("bindings") or []
    if not isinstance(bindings, list):
        raise MalformedRecord("'bindings' must be a list", where)
    normalized = []
    for i, binding in enumerate(bindings):
        at = f"{where}.bindings[{i}]"
        if not isinstance(binding, Mapping):
            raise MalformedRecord("must be an object", at)
        entry: dict[str, Any] = {"role": _text(binding, "role", at, required=True),
                                 "members": sorted(_strings(binding.get("members"), f"{at}.members"))}
        condition = _mapping(binding, "condition", at)
        if condition:
            entry["condition"] = {key: condition[key] for key in ("title", "description", "expression")
                                  if condition.get(key)}
        normalized.append(entry)
    # binding order means nothing to IAM and differs between reads: sort for stable output
    normalized.sort(key=lambda b: (b["role"], (b.get("condition") or {}).get("expression", ""), b["members"]))
    policy: dict[str, Any] = {"version": _integer(raw.get("version"), f"{where}.version") or 1,
                              "bindings": normalized}
    audit_configs = raw.get("auditConfigs") or raw.get("audit_configs")
    if audit_configs:
        policy["auditConfigs"] = audit_configs
    return policy


def deny_policy(raw: Mapping[str, Any], where: str = "deny_policy") -> dict[str, Any]:
    """An IAM v2 deny policy, reduced to what decides access: name and rules."""
    rules = []
    for i, rule in enumerate(raw.get("rules") or []):
        at = f"{where}.rules[{i}]"
        deny = _mapping(rule, "denyRule", at)
        condition = _mapping(deny, "denialCondition", f"{at}.denyRule")
        rules.append({
            "deniedPrincipals": _strings(deny.get("deniedPrincipals"), f"{at}.deniedPrincipals"),
            "exceptionPrincipals": _strings(deny.get("exceptionPrincipals"), f"{at}.exceptionPrincipals"),
            "deniedPermissions": _strings(deny.get("deniedPermissions"), f"{at}.deniedPermissions"),
            "exceptionPermissions": _strings(deny.get("exceptionPermissions"),
                                             f"{at}.exceptionPermissions"),
            "denialCondition": ({key: condition[key] for key in ("title", "description", "expression")
                                 if condition.get(key)} or None),
        })
    return {"name": _text(raw, "name", where, required=True),
            "displayName": _text(raw, "displayName", where), "rules": rules}


def _acl(entries: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(entries, list):
        raise MalformedRecord("must be a list", where)
    normalized = []
    for i, entry in enumerate(entries):
        at = f"{where}[{i}]"
        if not isinstance(entry, Mapping):
            raise MalformedRecord("must be an object", at)
        item = {"entity": _text(entry, "entity", at, required=True),
                "role": _text(entry, "role", at, required=True)}
        for key in ("email", "domain", "entityId"):
            if entry.get(key):
                item[key] = entry[key]
        normalized.append(item)
    return sorted(normalized, key=lambda e: (e["entity"], e["role"]))


# -- resource builders ------------------------------------------------------------------------------
def _resource(resource_id: str, kind: str, account: str, name: str, *, region: str | None = None,
              attributes: dict[str, Any], tags: dict[str, str] | None = None) -> Resource:
    return Resource(id=resource_id, type=kind, provider=ids.PROVIDER, account=account, name=name,
                    region=region, attributes=attributes, tags=tags or {})


def mark_unknown(resource: Resource, *attributes: str) -> None:
    """Record that these attributes could not be collected: null, and named in ``unknown``."""
    for attribute in attributes:
        resource.attributes[attribute] = None
        if attribute not in resource.unknown:
            resource.unknown.append(attribute)
    resource.unknown.sort()


def set_policy(resource: Resource, raw: Mapping[str, Any] | None) -> None:
    resource.attributes["iam_policy"] = iam_policy(raw)


def node_parent(data: Mapping[str, Any], where: str) -> str | None:
    """``parent`` of a folder or project: ``folders/N`` (v2/v3) or ``{type, id}`` (v1)."""
    parent = data.get("parent")
    if parent is None or isinstance(parent, str):
        return parent or None
    if isinstance(parent, Mapping) and parent.get("type") in _NODE_PLURALS and parent.get("id"):
        return f"{_NODE_PLURALS[parent['type']]}/{parent['id']}"
    raise MalformedRecord(f"unrecognised parent {parent!r}", f"{where}.parent")


def organization(data: Mapping[str, Any], where: str = "organization") -> Resource:
    node = _text(data, "name", where, required=True)
    number = data.get("organizationId") or node.split("/")[-1]
    owner = _mapping(data, "owner", where)
    domain = _text(data, "displayName", where)
    return _resource(ids.node_id(node), ids.ORGANIZATION, node, domain or node, attributes={
        "organization_id": str(number),
        "domain": domain,
        "directory_customer_id": data.get("directoryCustomerId") or owner.get("directoryCustomerId"),
        "state": data.get("state") or data.get("lifecycleState"),
        "create_time": _time(data.get("createTime") or data.get("creationTime"), f"{where}.createTime"),
        "ancestors": [node],
    })


def folder(data: Mapping[str, Any], ancestors: Sequence[str], where: str = "folder") -> Resource:
    node = _text(data, "name", where, required=True)
    display = _text(data, "displayName", where)
    return _resource(ids.node_id(node), ids.FOLDER, node, display or node, attributes={
        "folder_id": node.split("/")[-1],
        "display_name": display,
        "parent": node_parent(data, where),
        "state": data.get("state") or data.get("lifecycleState"),
        "create_time": _time(data.get("createTime"), f"{where}.createTime"),
        "ancestors": list(ancestors),
    })


def project(data: Mapping[str, Any], ancestors: Sequence[str], where: str = "project") -> Resource:
    project_id = _text(data, "projectId", where, required=True)
    name = _text(data, "name", where) or ""
    number = data.get("projectNumber") or (name.split("/")[1] if name.startswith("projects/") else None)
    if number is None:
        raise MalformedRecord("missing 'projectNumber'", where)
    number = str(_integer(number, f"{where}.projectNumber"))
    # v1 calls the display name "name"; v3 uses "name" for projects/NUMBER
    display = data.get("displayName") or (name if not name.startswith("projects/") else None)
    return _resource(ids.node_id(f"projects/{number}"), ids.PROJECT, project_id, project_id,
                     tags=_labels(data, where), attributes={
                         "project_id": project_id,
                         "project_number": number,
                         "display_name": display,
                         "parent": node_parent(data, where),
                         "state": data.get("state") or data.get("lifecycleState"),
                         "create_time": _time(data.get("createTime"), f"{where}.createTime"),
                         "ancestors": list(ancestors),
                     })


def bucket(data: Mapping[str, Any], *, project_id: str | None, ancestors: Sequence[str],
           objects: list[dict[str, Any]] | None, truncated: bool = False,
           where: str = "bucket") -> Resource:
    """``objects`` is the sampled object listing ([{"key", "size", ...}]); None = not known."""
    name = _text(data, "name", where, required=True)
    number = _integer(data.get("projectNumber"), f"{where}.projectNumber")
    config = _mapping(data, "iamConfiguration", where)
    uniform = (_mapping(config, "uniformBucketLevelAccess", f"{where}.iamConfiguration")
               or _mapping(config, "bucketPolicyOnly", f"{where}.iamConfiguration"))
    uniform_on = bool(uniform.get("enabled"))
    prevention = config.get("publicAccessPrevention") or "inherited"
    retention = _mapping(data, "retentionPolicy", where)
    period = _integer(retention.get("retentionPeriod"), f"{where}.retentionPolicy.retentionPeriod")
    logging = _mapping(data, "logging", where)
    soft_delete = _mapping(data, "softDeletePolicy", where)
    location = _text(data, "location", where)
    resource = _resource(ids.bucket_id(name), ids.BUCKET, project_id or str(number or ""), name,
                         region=location.lower() if location else None, tags=_labels(data, where),
                         attributes={
        "project_number": str(number) if number is not None else None,
        "project_id": project_id,
        "ancestors": list(ancestors),
        "location": location.lower() if location else None,
        "location_type": data.get("locationType"),
        "storage_class": data.get("storageClass"),
        "time_created": _time(data.get("timeCreated"), f"{where}.timeCreated"),
        "uniform_bucket_level_access": uniform_on,
        "uniform_bucket_level_access_locked_time": _time(uniform.get("lockedTime"),
                                                         f"{where}.iamConfiguration.lockedTime"),
        # "unspecified" is the legacy spelling of "inherited"
        "public_access_prevention": "enforced" if prevention == "enforced" else "inherited",
        "versioning": bool(_mapping(data, "versioning", where).get("enabled")),
        "retention": None if period is None else {
            "period_seconds": period,
            "is_locked": bool(retention.get("isLocked")),
            "effective_time": _time(retention.get("effectiveTime"), f"{where}.retentionPolicy.effectiveTime"),
        },
        "soft_delete_seconds": _integer(soft_delete.get("retentionDurationSeconds"),
                                        f"{where}.softDeletePolicy.retentionDurationSeconds"),
        "logging": {"log_bucket": logging["logBucket"],
                    "log_object_prefix": logging.get("logObjectPrefix") or ""}
        if logging.get("logBucket") else None,
        "default_kms_key": _mapping(data, "encryption", where).get("defaultKmsKeyName") or None,
        "iam_policy": None,
        "acl": None,
        "default_object_acl": None,
        "object_sample": objects,
        "object_sample_truncated": truncated,
    })
    if objects is None:
        mark_unknown(resource, "object_sample")
    if not uniform_on:  # ACLs only apply, and are only returned, when uniform access is off
        for key, attribute in (("acl", "acl"), ("defaultObjectAcl", "default_object_acl")):
            if key in data:
                resource.attributes[attribute] = _acl(data[key], f"{where}.{key}")
            else:
                mark_unknown(resource, attribute)
    return resource


def object_entry(key: str, size: Any = None, acl: Any = None, where: str = "object") -> dict[str, Any]:
    entry: dict[str, Any] = {"key": key, "size": _integer(size, f"{where}.size")}
    if acl is not None:
        entry["acl"] = _acl(acl, f"{where}.acl")
    return entry


def service_account(data: Mapping[str, Any], ancestors: Sequence[str],
                    where: str = "service_account") -> Resource:
    email = _text(data, "email", where, required=True)
    name = _text(data, "name", where) or ""
    project_id = (data.get("projectId") or _segment_after(name, "projects")
                  or email.split("@")[-1].split(".")[0])
    return _resource(ids.service_account_id(project_id, email), ids.SERVICE_ACCOUNT, project_id, email,
                     attributes={
                         "email": email,
                         "unique_id": data.get("uniqueId"),
                         "project_id": project_id,
                         "display_name": data.get("displayName"),
                         "description": data.get("description"),
                         "disabled": bool(data.get("disabled")),
                         "oauth2_client_id": data.get("oauth2ClientId"),
                         "ancestors": list(ancestors),
                         "iam_policy": None,
                     })


def service_account_key(data: Mapping[str, Any], ancestors: Sequence[str],
                        where: str = "service_account_key") -> Resource:
    name = _text(data, "name", where, required=True)  # projects/P/serviceAccounts/EMAIL/keys/ID
    project_id, email, key_id = (_segment_after(name, "projects"), _segment_after(name, "serviceAccounts"),
                                 _segment_after(name, "keys"))
    if not (project_id and email and key_id):
        raise MalformedRecord(f"not a key name: {name!r}", f"{where}.name")
    expires = _time(data.get("validBeforeTime"), f"{where}.validBeforeTime")
    if expires and clock.parse(expires).year >= NEVER_EXPIRES_YEAR:
        expires = None
    return _resource(ids.iam_id(name), ids.SERVICE_ACCOUNT_KEY, project_id, key_id, attributes={
        "key_id": key_id,
        "service_account": email,
        "service_account_id": ids.service_account_id(project_id, email),
        "key_type": data.get("keyType"),
        "key_origin": data.get("keyOrigin"),
        "key_algorithm": data.get("keyAlgorithm"),
        "create_time": _time(data.get("validAfterTime"), f"{where}.validAfterTime"),
        "expire_time": expires,
        "disabled": bool(data.get("disabled")),
        "ancestors": list(ancestors),
    })


def role(data: Mapping[str, Any], ancestors: Sequence[str], where: str = "role") -> Resource:
    name = _text(data, "name", where, required=True)  # projects/P/roles/R or organizations/N/roles/R
    parent = name.split("/roles/")[0]
    account = parent.split("/", 1)[1] if parent.startswith("projects/") else parent
    return _resource(ids.iam_id(name), ids.ROLE, account, name, attributes={
        "role_name": name,
        "title": data.get("title"),
        "description": data.get("description"),
        "stage": data.get("stage"),
        "deleted": bool(data.get("deleted")),
        "included_permissions": sorted(_strings(data.get("includedPermissions"),
                                                f"{where}.includedPermissions")),
        "ancestors": list(ancestors),
    })


def hmac_key(data: Mapping[str, Any], ancestors: Sequence[str], where: str = "hmac_key") -> Resource:
    access_id = _text(data, "accessId", where, required=True)
    project_id = _text(data, "projectId", where, required=True)
    return _resource(ids.hmac_key_id(project_id, access_id), ids.HMAC_KEY, project_id, access_id,
                     attributes={
                         "access_id": access_id,
                         "service_account": data.get("serviceAccountEmail"),
                         "state": data.get("state"),
                         "time_created": _time(data.get("timeCreated"), f"{where}.timeCreated"),
                         "updated": _time(data.get("updated"), f"{where}.updated"),
                         "ancestors": list(ancestors),
                     })


def _kms_location(name: str) -> tuple[str, str | None]:
    return _segment_after(name, "projects") or "", _segment_after(name, "locations")


def key_ring(data: Mapping[str, Any], ancestors: Sequence[str], where: str = "key_ring") -> Resource:
    name = _text(data, "name", where, required=True)
    project_id, location = _kms_location(name)
    return _resource(ids.kms_id(name), ids.KEY_RING, project_id, name.split("/")[-1], region=location,
                     attributes={"create_time": _time(data.get("createTime"), f"{where}.createTime"),
                                 "ancestors": list(ancestors), "iam_policy": None})


def crypto_key(data: Mapping[str, Any], ancestors: Sequence[str], where: str = "crypto_key") -> Resource:
    name = _text(data, "name", where, required=True)
    project_id, location = _kms_location(name)
    primary = _mapping(data, "primary", where)
    template = _mapping(data, "versionTemplate", where)
    return _resource(ids.kms_id(name), ids.CRYPTO_KEY, project_id, name.split("/")[-1], region=location,
                     tags=_labels(data, where), attributes={
        "key_ring": name.split("/cryptoKeys/")[0],
        "purpose": data.get("purpose"),
        "rotation_period_seconds": _seconds(data.get("rotationPeriod"), f"{where}.rotationPeriod"),
        "next_rotation_time": _time(data.get("nextRotationTime"), f"{where}.nextRotationTime"),
        "create_time": _time(data.get("createTime"), f"{where}.createTime"),
        "protection_level": template.get("protectionLevel") or primary.get("protectionLevel"),
        "algorithm": template.get("algorithm") or primary.get("algorithm"),
        "primary": {
            "name": primary.get("name"),
            "state": primary.get("state"),
            "create_time": _time(primary.get("createTime"), f"{where}.primary.createTime"),
        } if primary else None,
        "destroy_scheduled_duration_seconds": _seconds(data.get("destroyScheduledDuration"),
                                                       f"{where}.destroyScheduledDuration"),
        "import_only": bool(data.get("importOnly")),
        "ancestors": list(ancestors),
        "iam_policy": None,
    })
