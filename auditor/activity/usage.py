"""Key usage: when each access key and KMS key was last used, by whom, and what it can reach.

* ``access_key_use``: per access key id seen in the window (AWS access keys, GCP
  service-account keys): principals, first and last use, calls, failures, addresses.
* ``kms_key_use``: per KMS key and principal: decrypt and data-key calls, first and last.
* ``key_statuses``: every access key of the inventory (``aws.iam.access_key``, user-managed
  ``gcp.iam.service_account_key``) with its age, its last use (the inventory's last-used date
  and the logs, whichever is later), how long it has been idle, and the training data and
  weights its owner can reach according to the access analysis.

How long a key has been idle is only known from an authoritative source: AWS's last-used date
in the inventory; for GCP keys, the Cloud Storage audit logs of the window (use through other
Google APIs is not visible there, which the status says).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from auditor import clock
from auditor.access.model import AccessMap
from auditor.activity.assets import Assets
from auditor.activity.store import EventStore
from auditor.inventory import Inventory, Resource

ADDRESSES_SHOWN = 20
# successful calls that use a KMS key's material for data: decryption, data keys, re-encryption
KMS_USE = ("(action IN ('kms:Decrypt', 'kms:Encrypt') OR action LIKE 'kms:GenerateDataKey%' "
           "OR action LIKE 'kms:ReEncrypt%')")
GCP_OWNER_PREFIX = "serviceAccount:"


@dataclass(slots=True)
class AccessKeyUse:
    access_key_id: str
    provider: str
    principals: list[str]
    first_seen: str
    last_seen: str
    calls: int
    failed: int
    addresses: list[str]
    address_count: int


@dataclass(slots=True)
class KmsKeyUse:
    key: str
    principal: str
    decrypt: int
    generate_data_key: int
    other: int
    first_seen: str
    last_seen: str


@dataclass(slots=True)
class KeyStatus:
    resource_id: str
    resource_type: str
    key_id: str
    owner: str
    active: bool
    created: str | None
    age_days: int | None
    last_used: str | None
    # where last_used comes from: "inventory", "logs", or None (never used)
    last_used_source: str | None
    # the key is known unused since then (its last use, or its creation, or the window start)
    idle_since: str | None
    idle_days: int | None
    idle_note: str
    reach: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class KeyUsage:
    access_keys: list[AccessKeyUse]
    kms_keys: list[KmsKeyUse]
    keys: list[KeyStatus]

    def to_dict(self) -> dict[str, Any]:
        return {"access_keys": [asdict(k) for k in self.access_keys],
                "kms_keys": [asdict(k) for k in self.kms_keys],
                "keys": [asdict(k) for k in self.keys]}


def access_key_rows(store: EventStore) -> list[dict[str, Any]]:
    """Per access key in the window view ``win``: its provider, account, principals, first and
    last use, calls, failures and addresses (all of them, sorted). Key usage and the key
    detections both read these, so they are asked for once."""
    return store.rows("""
        SELECT access_key_id, any_value(provider) AS provider, any_value(account) AS account,
               list(DISTINCT principal ORDER BY principal) FILTER (WHERE principal IS NOT NULL) AS principals,
               min(time) AS first_seen, max(time) AS last_seen, count(*) AS calls,
               count(*) FILTER (WHERE error_code IS NOT NULL) AS failed,
               list(DISTINCT source_ip ORDER BY source_ip) FILTER (WHERE source_ip IS NOT NULL) AS addresses
        FROM win WHERE access_key_id IS NOT NULL GROUP BY access_key_id ORDER BY access_key_id""")


def access_key_use(rows: list[dict[str, Any]]) -> list[AccessKeyUse]:
    """``access_key_rows`` as reported."""
    return [AccessKeyUse(
        access_key_id=r["access_key_id"], provider=r["provider"], principals=r["principals"] or [],
        first_seen=clock.isoformat(r["first_seen"]), last_seen=clock.isoformat(r["last_seen"]),
        calls=r["calls"], failed=r["failed"], addresses=(r["addresses"] or [])[:ADDRESSES_SHOWN],
        address_count=len(r["addresses"] or [])) for r in rows]


def kms_key_use(store: EventStore) -> list[KmsKeyUse]:
    """Per KMS key and principal, successful cryptographic calls in ``win``."""
    rows = store.rows(f"""
        SELECT resource AS key, principal,
               count(*) FILTER (WHERE action = 'kms:Decrypt') AS decrypt,
               count(*) FILTER (WHERE action LIKE 'kms:GenerateDataKey%') AS generate_data_key,
               count(*) FILTER (WHERE action <> 'kms:Decrypt'
                                AND action NOT LIKE 'kms:GenerateDataKey%') AS other,
               min(time) AS first_seen, max(time) AS last_seen
        FROM win WHERE {KMS_USE} AND error_code IS NULL AND resource IS NOT NULL
        GROUP BY resource, principal ORDER BY resource, principal""")
    return [KmsKeyUse(key=r["key"], principal=r["principal"] or "unknown", decrypt=r["decrypt"],
                      generate_data_key=r["generate_data_key"], other=r["other"],
                      first_seen=clock.isoformat(r["first_seen"]),
                      last_seen=clock.isoformat(r["last_seen"])) for r in rows]


def key_statuses(inventory: Inventory, access: AccessMap | None, assets: Assets,
                 uses: list[AccessKeyUse], now: datetime, window_start: datetime,
                 gcs_logs_read: bool) -> list[KeyStatus]:
    last_seen = {u.access_key_id: clock.parse(u.last_seen) for u in uses}
    reach = _sensitive_reach(access, assets)
    statuses = []
    for key in inventory.of_type("aws.iam.access_key"):
        owner = str(key.attributes.get("user") or "")
        statuses.append(_aws_status(key, owner, last_seen.get(str(key.attributes.get("access_key_id"))),
                                    now, reach.get(owner, [])))
    for key in inventory.of_type("gcp.iam.service_account_key"):
        if key.attributes.get("key_type") == "SYSTEM_MANAGED":
            continue  # Google holds and rotates these; nobody can leak them
        owner = GCP_OWNER_PREFIX + str(key.attributes.get("service_account") or "").lower()
        statuses.append(_gcp_status(key, owner, last_seen.get(key.id), now, window_start,
                                    gcs_logs_read, reach.get(owner, [])))
    return sorted(statuses, key=lambda s: s.resource_id)


def _aws_status(key: Resource, owner: str, in_logs: datetime | None, now: datetime,
                reach: list[dict[str, Any]]) -> KeyStatus:
    created = _time(key.attributes.get("create_date"))
    record = key.attributes.get("last_used")
    known = "last_used" not in key.unknown and isinstance(record, dict)
    in_inventory = _time(record.get("date")) if known and isinstance(record, dict) else None
    last_used, source = _latest((in_inventory, "inventory"), (in_logs, "logs"))
    if last_used is not None:
        idle_since, note = last_used, f"last used {clock.isoformat(last_used)} ({source})"
    elif known:
        idle_since, note = created, "never used (AWS's last-used record)"
    else:
        idle_since, note = None, "last use unknown: the inventory has no last-used record"
    return _status(key, owner, key.attributes.get("status") == "Active", created, last_used,
                   source, idle_since, note, now, reach)


def _gcp_status(key: Resource, owner: str, in_logs: datetime | None, now: datetime,
                window_start: datetime, gcs_logs_read: bool,
                reach: list[dict[str, Any]]) -> KeyStatus:
    created = _time(key.attributes.get("create_time"))
    expires = _time(key.attributes.get("expire_time"))
    active = not key.attributes.get("disabled") and (expires is None or expires > now)
    if in_logs is not None:
        idle_since, note = in_logs, f"last seen in the Cloud Storage audit logs {clock.isoformat(in_logs)}"
    elif gcs_logs_read:
        idle_since = max(window_start, created) if created else window_start
        note = (f"not seen in the Cloud Storage audit logs since {clock.isoformat(idle_since)} "
                f"(use of other Google APIs is not in those logs)")
    else:
        idle_since, note = None, "last use unknown: no Cloud Storage audit logs were read"
    return _status(key, owner, active, created, in_logs, "logs" if in_logs else None, idle_since,
                   note, now, reach)


def _status(key: Resource, owner: str, active: bool, created: datetime | None,
            last_used: datetime | None, source: str | None, idle_since: datetime | None,
            note: str, now: datetime, reach: list[dict[str, Any]]) -> KeyStatus:
    return KeyStatus(
        resource_id=key.id, resource_type=key.type,
        key_id=str(key.attributes.get("access_key_id") or key.attributes.get("key_id") or key.name),
        owner=owner, active=active, created=_iso(created),
        age_days=(now - created).days if created else None,
        last_used=_iso(last_used), last_used_source=source, idle_since=_iso(idle_since),
        idle_days=(now - idle_since).days if idle_since else None, idle_note=note, reach=reach)


def _sensitive_reach(access: AccessMap | None, assets: Assets) -> dict[str, list[dict[str, Any]]]:
    """principal -> the training data and weights it can touch, with how."""
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for resource_id, asset in sorted((access.assets if access else {}).items()):
        if not assets.sensitive(resource_id):
            continue
        for grant in asset.grants:
            found[grant.principal][resource_id].add(grant.access)
    return {principal: [{"resource_id": resource_id,
                         "classification": assets.classification(resource_id).label,  # type: ignore[union-attr]
                         "access": sorted(classes)}
                        for resource_id, classes in sorted(by_asset.items())]
            for principal, by_asset in found.items()}


def _latest(*candidates: tuple[datetime | None, str]) -> tuple[datetime | None, str | None]:
    known = [(moment, source) for moment, source in candidates if moment is not None]
    return max(known) if known else (None, None)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return clock.parse(value)
    except ValueError:
        return None


def _iso(moment: datetime | None) -> str | None:
    return clock.isoformat(moment) if moment else None
