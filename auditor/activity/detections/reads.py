"""Who read training data or weights, how much, when and from where."""

from __future__ import annotations

from statistics import median
from typing import Any

from auditor import clock
from auditor.activity.assets import bucket_type
from auditor.activity.detections.base import (
    LIST_ACTIONS,
    READ_ACTIONS,
    Detection,
    DetectionContext,
    Result,
    day_of,
    human_bytes,
    joined,
    one_of,
    timestamp_sql,
    utc_day,
)
from auditor.activity.sql import sql_string
from auditor.findings import ResourceRef
from auditor.rules.model import Remediation

BUCKETS = ("aws.s3.bucket", "gcp.storage.bucket")
_S3_LOGGING = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html"
_GCS_AUDIT = "https://cloud.google.com/storage/docs/audit-logging"

BULK_READ = Detection(
    id="ml.bulk-read-above-baseline",
    title="A principal read far more training data or model weights in a day than it usually does",
    severity="high", resource_types=BUCKETS,
    rationale="Copying a model or a dataset out shows as one principal reading many objects or "
              "bytes in a short time. Jobs read the same assets every day at a similar rate, "
              "so a day far above the principal's own median (or a large first day) is how "
              "exfiltration with valid credentials looks.",
    remediation=Remediation(
        text="Ask the owner of the principal whether the reads were expected. If not, revoke "
             "its sessions and keys, and check where the data went (the source addresses in "
             "the evidence)."),
    references=(_S3_LOGGING, _GCS_AUDIT))

FIRST_ACCESS = Detection(
    id="ml.first-time-sensitive-access",
    title="A principal accessed training data or model weights for the first time",
    severity="medium", resource_types=BUCKETS,
    rationale="After the learning period, the principals that use an ML asset are known. A new "
              "one is either a new job or person (expected, and worth a look) or stolen or "
              "newly granted access being tried.",
    remediation=Remediation(
        text="Confirm with the asset's owner that the principal should use it; if not, remove "
             "its access (see who can read it in the access report)."),
    references=(_S3_LOGGING, _GCS_AUDIT))

OFF_HOURS = Detection(
    id="ml.sensitive-read-off-hours",
    title="A person read training data or model weights outside working hours",
    severity="medium", resource_types=BUCKETS,
    rationale="People read ML assets during their working hours; reads by a person's "
              "credentials at night or at the weekend are a sign that someone else holds them.",
    remediation=Remediation(
        text="Check with the person. If they did not do it, disable their keys and sessions. "
             "Adjust working_hours, working_days and time_zone if the team works other hours."),
    references=(_S3_LOGGING, _GCS_AUDIT))

UNTRUSTED_NETWORK = Detection(
    id="ml.sensitive-read-untrusted-network",
    title="Training data or model weights were read from outside the trusted networks",
    severity="high", resource_types=BUCKETS,
    rationale="Credentials that leave the company's networks and workloads can be used from "
              "anywhere; a read of an ML asset from an address outside the configured trusted "
              "ranges is either an unlisted network or stolen credentials.",
    remediation=Remediation(
        text="Find out whose network the address is. Restrict the bucket to the trusted "
             "networks with a policy condition (aws:SourceIp / aws:SourceVpce, or VPC Service "
             "Controls on GCP).",
        cli='aws s3api put-bucket-policy --bucket BUCKET --policy file://deny-outside-vpce.json'),
    references=("https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies-vpc-endpoint.html",
                "https://cloud.google.com/vpc-service-controls/docs/overview"))

NEW_ADDRESS = Detection(
    id="ml.sensitive-read-new-address",
    title="A principal read training data or model weights from an address it never used before",
    severity="medium", resource_types=BUCKETS,
    rationale="A principal's addresses are stable (a job's subnet, a person's office). A read "
              "from an address it did not use during the learning period, outside the trusted "
              "networks, can be the same credentials in someone else's hands.",
    remediation=Remediation(
        text="Check whether the principal moved (new runner, travel). If not, revoke its "
             "sessions and keys."),
    references=(_S3_LOGGING, _GCS_AUDIT))

ANONYMOUS_READ = Detection(
    id="ml.anonymous-sensitive-read",
    title="Anyone on the internet read or listed training data or model weights",
    severity="critical", resource_types=BUCKETS,
    rationale="An anonymous request that succeeds means the asset is public, and the logs show "
              "it was actually used: the data or the model has been copied by someone unknown.",
    remediation=Remediation(
        text="Block public access now, then find which policy or ACL let it through (the "
             "access report shows the path) and treat the data as disclosed.",
        cli="aws s3api put-public-access-block --bucket BUCKET --public-access-block-configuration "
            "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"),
    references=("https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html",
                "https://cloud.google.com/storage/docs/public-access-prevention"))


# the events of a flagged (principal, resource) pair, and their evidence per pair
_SAME_PAIR = "t.principal = r.principal AND t.resource = r.resource"
_PAIR = ("e.principal", "e.resource")


def _pair_evidence(context: DetectionContext, relation: str, name: str,
                   pairs: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The events of each flagged (principal, resource) pair in ``relation``, as evidence."""
    return context.matching_evidence(relation, name, ("principal", "resource"),
                                     [(p["principal"], p["resource"]) for p in pairs], _SAME_PAIR, _PAIR)


def _bucket(context: DetectionContext, resource: str) -> ResourceRef:
    return context.assets.ref(resource, bucket_type(resource) or "aws.s3.bucket")


def _label(context: DetectionContext, resource: str) -> str:
    return context.sensitive.get(resource, "ML assets")


def bulk_read(context: DetectionContext) -> Result:
    settings = context.settings
    rows = context.store.rows(f"""
        SELECT principal, resource, {utc_day('time')} AS day, sum(coalesce(bytes, 0)) AS bytes,
               count(*) AS objects
        FROM sensitive_reads GROUP BY principal, resource, day ORDER BY principal, resource, day""")
    days: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        days.setdefault((row["principal"], row["resource"]), []).append(row)
    for row in rows:
        # the principal's usual day on this asset: the median of its other active days
        others = [o for o in days[(row["principal"], row["resource"])] if o["day"] != row["day"]]
        row["other_days"] = len(others)
        row["median_bytes"] = median(o["bytes"] for o in others) if others else None
        row["median_objects"] = median(o["objects"] for o in others) if others else None
    flagged = []
    for row in rows:
        baseline = row["other_days"] >= settings.baseline_min_days
        factor = settings.bulk_read_factor
        by_bytes = row["bytes"] >= settings.bulk_read_min_bytes and (
            not baseline or row["bytes"] > factor * (row["median_bytes"] or 0))
        by_objects = row["objects"] >= settings.bulk_read_min_objects and (
            not baseline or row["objects"] > factor * (row["median_objects"] or 0))
        if by_bytes or by_objects:
            flagged.append({**row, "baseline": baseline, "day_number": row["day"],
                            "day": day_of(row["day"]).isoformat()})
    if not flagged:
        return Result(len(rows), [])
    evidence = context.matching_evidence(
        "sensitive_reads", "bulk_flagged", ("principal", "resource", "day BIGINT"),
        [(r["principal"], r["resource"], r["day_number"]) for r in flagged],
        f"{_SAME_PAIR} AND t.day = {utc_day('r.time')}", (*_PAIR, utc_day("e.time")))
    findings = []
    for row in flagged:
        usual = (f"{row['other_days']} other days in the window: median "
                 f"{human_bytes(row['median_bytes'])}, {row['median_objects']:g} objects"
                 if row["baseline"] else
                 f"no baseline: {row['other_days']} other active days, fewer than "
                 f"{settings.baseline_min_days}")
        message = (f"{row['principal']} read {row['objects']} objects ({human_bytes(row['bytes'])}) of "
                   f"{_label(context, row['resource'])} from {_bucket(context, row['resource']).name} "
                   f"on {row['day']} ({usual})")
        stats = {key: row[key] for key in ("principal", "day", "bytes", "objects", "other_days",
                                           "median_bytes", "median_objects", "baseline")}
        findings.append(BULK_READ.finding(
            _bucket(context, row["resource"]), message,
            {**stats, **evidence[(row["principal"], row["resource"], row["day_number"])]},
            discriminator=f"{row['principal']}|{row['day']}", context=context))
    return Result(len(rows), findings)


def first_access(context: DetectionContext) -> Result:
    if context.learning_end >= context.window.end:
        return Result(0, [])
    pairs = context.store.rows("""
        SELECT principal, resource, min(time) AS first_seen FROM sensitive_access
        GROUP BY principal, resource ORDER BY principal, resource""")
    new = [p for p in pairs if p["first_seen"] >= context.learning_end]
    if not new:
        return Result(len(pairs), [])
    evidence = _pair_evidence(context, "sensitive_access", "first_seen", new)
    findings = []
    for pair in new:
        bucket = _bucket(context, pair["resource"])
        message = (f"{pair['principal']} accessed {bucket.name} ({_label(context, pair['resource'])}) "
                   f"for the first time at {clock.isoformat(pair['first_seen'])}; it did not during "
                   f"the learning period {clock.isoformat(context.observed_start)} to "
                   f"{clock.isoformat(context.learning_end)}")
        findings.append(FIRST_ACCESS.finding(
            bucket, message, {"principal": pair["principal"],
                              "first_seen": clock.isoformat(pair["first_seen"]),
                              **evidence[(pair["principal"], pair["resource"])]},
            discriminator=pair["principal"], context=context))
    return Result(len(pairs), findings)


def _minute(column: str) -> str:
    return f"(epoch_us({column}) // 60000000)"


def off_hours(context: DetectionContext) -> Result:
    settings = context.settings
    # local time goes through the time-zone library: judge each minute once, not each read
    local = f"timezone({sql_string(settings.time_zone)}, to_timestamp(minute * 60))"
    days = ", ".join(str(day + 1) for day in sorted(settings.working_days)) or "0"
    # (two statements: DuckDB would push the filter below the DISTINCT, into every read)
    context.store.execute(f"CREATE OR REPLACE TEMP TABLE read_minutes AS "
                          f"SELECT DISTINCT {_minute('time')} AS minute FROM sensitive_reads")
    context.store.execute(f"""CREATE OR REPLACE TEMP TABLE off_minutes AS
        SELECT minute FROM read_minutes
        WHERE NOT (isodow({local}) IN ({days})
                   AND CAST({local} AS TIME) >= TIME '{settings.work_start.isoformat()}'
                   AND CAST({local} AS TIME) < TIME '{settings.work_end.isoformat()}')""")
    outside = joined("sensitive_reads", "off_minutes", f"t.minute = {_minute('r.time')}")
    pairs = context.store.rows("""
        SELECT principal, any_value(principal_type) AS principal_type, resource
        FROM sensitive_reads GROUP BY principal, resource ORDER BY principal, resource""")
    counts = {(p, r): n for p, r, n in context.store.fetch(
        f"SELECT principal, resource, count(*) FROM {outside} GROUP BY principal, resource")}
    flagged = [{**p, "outside": counts[(p["principal"], p["resource"])]} for p in pairs
               if (p["principal"], p["resource"]) in counts and (
                   settings.off_hours_workloads or context.is_person(p["principal"], p["principal_type"]))]
    if not flagged:
        return Result(len(pairs), [])
    evidence = _pair_evidence(context, outside, "off_hours", flagged)
    hours = f"{settings.work_start:%H:%M}-{settings.work_end:%H:%M} {settings.time_zone}"
    findings = []
    for pair in flagged:
        bucket = _bucket(context, pair["resource"])
        message = (f"{pair['principal']} read {bucket.name} ({_label(context, pair['resource'])}) "
                   f"{pair['outside']} times outside working hours ({hours}, working days "
                   f"{_day_names(settings.working_days)})")
        findings.append(OFF_HOURS.finding(
            bucket, message, {"principal": pair["principal"], "working_hours": hours,
                              **evidence[(pair["principal"], pair["resource"])]},
            discriminator=pair["principal"], context=context))
    return Result(len(pairs), findings)


def untrusted_network(context: DetectionContext) -> Result:
    if not context.settings.trusted_cidrs:
        return Result(0, [])
    rows = context.store.fetch("SELECT DISTINCT principal, resource, source_ip FROM sensitive_reads")
    untrusted = sorted({ip for _, _, ip in rows if context.untrusted_address(ip)})
    pairs = len({(p, r) for p, r, _ in rows})
    if not untrusted:
        return Result(pairs, [])
    context.table("untrusted_ips", ("ip",), [(ip,) for ip in untrusted])
    evidence = context.evidence("sensitive_reads", "e.source_ip IN (SELECT ip FROM untrusted_ips)",
                                [], ("e.principal", "e.resource"))
    addresses = _addresses_by_pair(rows, set(untrusted))
    trusted = ", ".join(str(n) for n in context.settings.trusted_cidrs)
    findings = []
    for (principal, resource), found in sorted(evidence.items()):
        bucket = _bucket(context, resource)
        message = (f"{principal} read {bucket.name} ({_label(context, resource)}) {found['count']} "
                   f"times from {', '.join(addresses[(principal, resource)])}, outside the "
                   f"trusted networks ({trusted})")
        findings.append(UNTRUSTED_NETWORK.finding(
            bucket, message, {"principal": principal, "addresses": addresses[(principal, resource)],
                              **found},
            discriminator=principal, context=context))
    return Result(pairs, findings)


def new_address(context: DetectionContext) -> Result:
    if context.learning_end >= context.window.end:
        return Result(0, [])
    learned = timestamp_sql(context.learning_end)
    known: dict[str, set[str]] = {}
    for principal, ip in context.store.fetch(
            f"SELECT DISTINCT principal, source_ip FROM win "
            f"WHERE time < {learned} AND principal IS NOT NULL"):
        known.setdefault(principal, set()).add(str(context.untrusted_address(ip) or ip))
    rows = context.store.fetch(
        f"SELECT DISTINCT principal, resource, source_ip FROM sensitive_reads WHERE time >= {learned}")
    fresh = sorted({(p, ip) for p, _, ip in rows
                    if p in known and (address := context.untrusted_address(ip)) and address not in known[p]})
    evaluated = len({(p, r) for p, r, _ in rows if p in known})
    if not fresh:
        return Result(evaluated, [])
    evidence = context.matching_evidence(
        "sensitive_reads", "new_addresses", ("principal", "ip"), fresh,
        "t.principal = r.principal AND t.ip = r.source_ip", _PAIR, where=f"e.time >= {learned}")
    findings = []
    for (principal, resource), found in sorted(evidence.items()):
        bucket = _bucket(context, resource)
        addresses = sorted({event["source_ip"] for event in found["events"]})
        message = (f"{principal} read {bucket.name} ({_label(context, resource)}) from "
                   f"{', '.join(addresses)}, which it did not use during the learning period "
                   f"(it used {_some(sorted(known[principal])) or 'no address'})")
        findings.append(NEW_ADDRESS.finding(
            bucket, message, {"principal": principal, "known_addresses": sorted(known[principal]),
                              **found},
            discriminator=principal, context=context))
    return Result(evaluated, findings)


def anonymous_read(context: DetectionContext) -> Result:
    actions = one_of("e.action", READ_ACTIONS + LIST_ACTIONS)
    where = f"e.principal_type = 'Anonymous' AND e.error_code IS NULL AND {actions}"
    evidence = context.evidence("(SELECT * FROM win JOIN sensitive USING (resource))", where, [],
                                ("e.resource",))
    findings = []
    for (resource,), found in sorted(evidence.items()):
        bucket = _bucket(context, resource)
        counts = context.store.fetch(f"SELECT action, count(*) FROM win AS e WHERE resource = ? "
                                     f"AND {where} GROUP BY action ORDER BY action", [resource])
        message = (f"anonymous callers read or listed {bucket.name} ({_label(context, resource)}): "
                   + ", ".join(f"{count} {action}" for action, count in counts))
        findings.append(ANONYMOUS_READ.finding(bucket, message, dict(found), context=context))
    return Result(len(context.sensitive), findings)


def _addresses_by_pair(rows: list[tuple[Any, ...]], wanted: set[str]) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], set[str]] = {}
    for principal, resource, ip in rows:
        if ip in wanted:
            found.setdefault((principal, resource), set()).add(ip)
    return {pair: sorted(ips) for pair, ips in found.items()}


def _some(items: list[str], shown: int = 10) -> str:
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def _day_names(days: frozenset[int]) -> str:
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    return ", ".join(names[d] for d in sorted(days)) or "none"


DETECTIONS = (
    (BULK_READ, bulk_read),
    (FIRST_ACCESS, first_access),
    (OFF_HOURS, off_hours),
    (UNTRUSTED_NETWORK, untrusted_network),
    (NEW_ADDRESS, new_address),
    (ANONYMOUS_READ, anonymous_read),
)
