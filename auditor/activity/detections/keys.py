"""Access keys and KMS keys: where they were used from, whether they are still needed, and
bursts of decryption with the keys that protect ML assets."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from auditor.activity.assets import bucket_of
from auditor.activity.detections.base import (
    Detection,
    DetectionContext,
    Result,
    day_of,
    joined,
    utc_day,
)
from auditor.activity.usage import KMS_USE, KeyStatus
from auditor.findings import ResourceRef
from auditor.rules.model import Remediation

KEYS = ("aws.iam.access_key", "gcp.iam.service_account_key")
_AWS_KEYS_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html"
_GCP_KEYS_DOC = "https://cloud.google.com/iam/docs/best-practices-for-managing-service-account-keys"

KEY_ADDRESSES = Detection(
    id="ml.access-key-multiple-addresses",
    title="One access key was used from several addresses outside the trusted networks",
    severity="medium", resource_types=KEYS,
    rationale="A key lives on one machine or in one pipeline. The same key calling from several "
              "addresses means it was copied, and a copied key is the usual way into training "
              "data and weights.",
    remediation=Remediation(
        text="Find out which of the addresses are yours. If one is not, deactivate the key, "
             "issue a new one, and review what the key did from that address.",
        cli="aws iam update-access-key --user-name USER --access-key-id AKID --status Inactive"),
    references=(_AWS_KEYS_DOC, _GCP_KEYS_DOC))

UNUSED_KEY = Detection(
    id="ml.unused-key-reaches-sensitive-data",
    title="An unused access key can still reach training data or model weights",
    severity="medium", resource_types=KEYS,
    rationale="A key nobody uses is a secret nobody watches: it can sit in an old laptop or "
              "repository, and it still opens the ML assets its owner can read.",
    remediation=Remediation(
        text="Deactivate the key, wait for complaints, then delete it.",
        cli="aws iam update-access-key --user-name USER --access-key-id AKID --status Inactive\n"
            "gcloud iam service-accounts keys disable KEY_ID --iam-account SA_EMAIL"),
    references=(_AWS_KEYS_DOC, _GCP_KEYS_DOC))

OVERDUE_KEY = Detection(
    id="ml.overdue-key-reaches-sensitive-data",
    title="An access key that reaches training data or model weights is overdue for rotation",
    severity="medium", resource_types=KEYS,
    rationale="The older a long-lived key, the more places it has been copied to. Keys that "
              "open ML assets should be rotated on schedule, or replaced by short-lived "
              "credentials (roles, workload identity).",
    remediation=Remediation(
        text="Create a new key, move its users to it, deactivate the old one, then delete it; "
             "better, replace the key with a role or workload identity federation.",
        cli="aws iam create-access-key --user-name USER\n"
            "gcloud iam service-accounts keys create key.json --iam-account SA_EMAIL"),
    references=(_AWS_KEYS_DOC, _GCP_KEYS_DOC))

KMS_SPIKE = Detection(
    id="aws.kms.sensitive-key-decrypt-spike",
    title="A KMS key that protects training data or model weights decrypted far more than usual",
    severity="high", resource_types=("aws.kms.key",),
    rationale="Every read of an SSE-KMS object is a kms:Decrypt call. A day with many times the "
              "key's usual decryptions is a bulk read of the data it protects, whoever made it, "
              "even when the S3 data events are not logged.",
    remediation=Remediation(
        text="Look at which principals made the calls (in the evidence) and whether they were "
             "expected; if not, revoke their access and, if needed, disable the key's grants.",
        cli="aws kms list-grants --key-id KEY_ARN"),
    references=("https://docs.aws.amazon.com/kms/latest/developerguide/logging-using-cloudtrail.html",
                "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"))


_SAME_KEY_AND_ADDRESS = "t.access_key_id = r.access_key_id AND t.ip = r.source_ip"


def key_addresses(context: DetectionContext) -> Result:
    rows = context.access_key_rows()
    flagged: dict[str, tuple[str, str | None, list[str], list[str]]] = {}
    for row in rows:
        outside = sorted({ip for ip in row["addresses"] or [] if context.untrusted_address(ip)})
        if len(outside) > context.settings.key_max_addresses:
            flagged[row["access_key_id"]] = (row["provider"], row["account"], row["principals"] or [],
                                             outside)
    if not flagged:
        return Result(len(rows), [])
    context.table("spread_keys", ("access_key_id", "ip"),
                  [(key, ip) for key, (_, _, _, ips) in flagged.items() for ip in ips])
    # the first use from each outside address
    evidence = context.evidence(
        f"(SELECT * FROM {joined('win', 'spread_keys', _SAME_KEY_AND_ADDRESS)} AS used "
        f"QUALIFY row_number() OVER (PARTITION BY access_key_id, source_ip "
        f"ORDER BY time, file_id, line, event_id) = 1)", "TRUE", [], ("e.access_key_id",))
    findings = []
    for key, (provider, account, principals, addresses) in sorted(flagged.items()):
        message = (f"access key {key} of {', '.join(principals) or 'an unknown principal'} was used "
                   f"from {len(addresses)} addresses outside the trusted networks: "
                   f"{', '.join(addresses)}")
        found = evidence.get((key,), {"count": 0, "events": []})
        findings.append(KEY_ADDRESSES.finding(
            _key_ref(context, key, provider, account, principals), message,
            {"access_key_id": key, "principals": principals, "addresses": addresses,
             "first_use_per_address": found["events"]},
            context=context))
    return Result(len(rows), findings)


def _key_ref(context: DetectionContext, key: str, provider: str, account: str | None,
             principals: list[str]) -> ResourceRef:
    if provider == "gcp":
        return context.assets.ref(key, "gcp.iam.service_account_key", name=key.rsplit("/", 1)[-1])
    for resource in context.inventory.of_type("aws.iam.access_key"):
        if resource.attributes.get("access_key_id") == key:
            return context.assets.ref(resource.id, resource.type)
    users = [p for p in principals if ":user/" in p]
    if len(users) == 1:
        prefix, name = users[0].split(":user/", 1)
        resource_id = f"{prefix}:user/{name.rsplit('/', 1)[-1]}/access-key/{key}"
    else:  # a session's temporary key belongs to no user
        resource_id = key
    return context.assets.ref(resource_id, "aws.iam.access_key", name=key, account=account)


def _key_findings(context: DetectionContext, detection: Detection, statuses: list[KeyStatus],
                  overdue: bool) -> Result:
    settings = context.settings
    candidates = [s for s in statuses if s.active and s.reach]
    findings = []
    for status in candidates:
        reach = ", ".join(f"{r['resource_id']} ({r['classification']}: {'/'.join(r['access'])})"
                          for r in status.reach)
        if overdue and status.age_days is not None and status.age_days >= settings.key_max_age_days:
            message = (f"key {status.key_id} of {status.owner} is {status.age_days} days old "
                       f"(rotate after {settings.key_max_age_days}) and reaches {reach}")
        elif (not overdue and status.idle_days is not None
              and status.idle_days >= settings.key_unused_days):
            message = (f"key {status.key_id} of {status.owner} has not been used for "
                       f"{status.idle_days} days ({status.idle_note}) and reaches {reach}")
        else:
            continue
        evidence: dict[str, Any] = {field: getattr(status, field) for field in (
            "key_id", "owner", "created", "age_days", "last_used", "last_used_source",
            "idle_since", "idle_days", "idle_note", "reach")}
        findings.append(detection.finding(context.assets.ref(status.resource_id, status.resource_type),
                                          message, evidence, context=context))
    return Result(len(candidates), findings)


def unused_keys(context: DetectionContext) -> Result:
    return _key_findings(context, UNUSED_KEY, context.key_statuses(), overdue=False)


def overdue_keys(context: DetectionContext) -> Result:
    return _key_findings(context, OVERDUE_KEY, context.key_statuses(), overdue=True)


def protected_by(context: DetectionContext) -> dict[str, list[str]]:
    """KMS key -> sensitive buckets it protects: the buckets' default encryption, and the
    encryption context of decryptions S3 made for object reads."""
    protects: dict[str, set[str]] = defaultdict(set)
    for key, buckets in context.assets.protecting_keys().items():
        protects[key].update(buckets)
    for key, served in context.store.fetch(
            "SELECT DISTINCT resource, context_resource FROM win WHERE action LIKE 'kms:%' "
            "AND resource IS NOT NULL AND context_resource IS NOT NULL"):
        bucket = bucket_of(served)
        if bucket and context.assets.sensitive(bucket):
            protects[key].add(bucket)
    return {key: sorted(buckets) for key, buckets in protects.items()}


def kms_spike(context: DetectionContext) -> Result:
    settings = context.settings
    protects = protected_by(context)
    context.table("protecting_keys", ("resource",), [(k,) for k in protects])
    use = f"{KMS_USE} AND error_code IS NULL"
    rows = context.store.rows(f"""
        WITH days AS (
            SELECT resource, {utc_day('time')} AS day, count(*) AS calls FROM win
            WHERE {use} AND resource IN (SELECT resource FROM protecting_keys)
            GROUP BY resource, day)
        SELECT d.*,
            (SELECT count(*) FROM days AS o
                WHERE o.resource = d.resource AND o.day <> d.day) AS other_days,
            (SELECT median(o.calls) FROM days AS o
                WHERE o.resource = d.resource AND o.day <> d.day) AS median_calls
        FROM days AS d ORDER BY resource, day""")
    spikes = [r for r in rows if r["other_days"] >= settings.baseline_min_days
              and r["calls"] >= settings.kms_spike_min_calls
              and r["calls"] > settings.kms_spike_factor * (r["median_calls"] or 0)]
    findings = []
    for spike in spikes:
        day = day_of(spike["day"]).isoformat()
        where = f"e.resource = ? AND {utc_day('e.time')} = ? AND {use}"
        found = context.evidence("win", where, [spike["resource"], spike["day"]], ("e.resource",))
        callers = context.store.fetch(
            f"SELECT principal, count(*) FROM win AS e WHERE {where} GROUP BY principal "
            f"ORDER BY count(*) DESC, principal", [spike["resource"], spike["day"]])
        message = (f"{spike['calls']} decrypt and data-key calls on {day}, {spike['median_calls']:g} "
                   f"on a usual day ({spike['other_days']} other days); the key protects "
                   f"{', '.join(protects[spike['resource']])}")
        findings.append(KMS_SPIKE.finding(
            context.assets.ref(spike["resource"], "aws.kms.key"), message,
            {"day": day, "calls": spike["calls"], "median_calls": spike["median_calls"],
             "other_days": spike["other_days"], "protects": protects[spike["resource"]],
             "callers": [{"principal": p, "calls": n} for p, n in callers],
             **found[(spike["resource"],)]},
            discriminator=day, context=context))
    return Result(len(rows), findings)


DETECTIONS = (
    (KEY_ADDRESSES, key_addresses),
    (UNUSED_KEY, unused_keys),
    (OVERDUE_KEY, overdue_keys),
    (KMS_SPIKE, kms_spike),
)
