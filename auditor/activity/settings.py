"""The ``[profiles.NAME.activity]`` table: where the logs are, and what counts as unusual.

``ACTIVITY_OPTIONS`` declares every key with its type, help and default, like a scanner's
options, so that config.py checks types and unknown keys. ``parse_activity`` then checks
what types cannot say (a time zone that exists, CIDRs that parse, "09:00-18:00") and raises
ConfigError naming the file and the key.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from auditor.errors import ConfigError
from auditor.scanners.base import Option

GIB = 1024**3
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

SOURCE_OPTIONS: dict[str, Option] = {
    "cloudtrail": Option(list, "CloudTrail logs: folders or files (the AWSLogs/ACCOUNT/CloudTrail/"
                               "REGION/YYYY/MM/DD layout of .json.gz files, JSON arrays or JSON "
                               "lines of records) or s3://bucket/prefix URLs", [], item_kind=str),
    "s3_access_logs": Option(list, "S3 server access logs: folders, files or s3://bucket/prefix URLs",
                             [], item_kind=str),
    "gcs_audit_logs": Option(list, "Cloud Storage Data Access audit logs exported from Cloud Logging "
                                   "as JSON lines of LogEntry: folders or files", [], item_kind=str),
    "aws_profile": Option(str, "AWS shared-config profile used to read s3:// log sources "
                               "(default: the standard credential chain)"),
    "endpoint_url": Option(str, "S3-compatible endpoint for s3:// log sources (an emulator)"),
    "database": Option(str, "DuckDB file holding the events (default: in memory); relative to the "
                            "output directory"),
}

SETTING_OPTIONS: dict[str, Option] = {
    "window": Option(str, "how far back activity is analysed when --since is not given "
                          "(30d, 12h, 2w, 90m)", "30d"),
    "learning_period": Option(str, "start of the window during which principals, addresses and "
                                   "assets seen are taken as known", "7d"),
    "working_hours": Option(str, "reads outside these local hours are off-hours (HH:MM-HH:MM)",
                            "09:00-18:00"),
    "working_days": Option(list, "days with working hours", list(WEEKDAYS[:5]), item_kind=str),
    "time_zone": Option(str, "IANA time zone of the working hours", "UTC"),
    "trusted_cidrs": Option(list, "networks sensitive data is expected to be read from "
                                  "(empty: only new addresses are reported)", [], item_kind=str),
    "exempt_principals": Option(list, "principals (shell patterns such as "
                                      "arn:aws:iam::*:role/trainer) left out of behavioural "
                                      "detections", [], item_kind=str),
    "off_hours_workloads": Option(bool, "also report off-hours reads by roles and service "
                                        "accounts (jobs often run at night)", False),
    "bulk_read_factor": Option((int, float), "a day's reads by one principal of one asset are bulk "
                                             "above this many times the principal's median day", 5),
    "bulk_read_min_bytes": Option(int, "a bulk day reads at least this many bytes, or ...", GIB),
    "bulk_read_min_objects": Option(int, "... at least this many objects (counting repeats)", 500),
    "baseline_min_days": Option(int, "active days a principal needs before its median is a "
                                     "baseline (fewer: only the minimums apply)", 3),
    "kms_spike_factor": Option((int, float), "a day's decrypt calls on a key protecting ML assets "
                                             "are a spike at this many times its median day", 5),
    "kms_spike_min_calls": Option(int, "and at least this many calls", 1000),
    "key_max_addresses": Option(int, "an access key used from more addresses outside the trusted "
                                     "networks than this is reported", 1),
    "key_unused_days": Option(int, "a key unused this long is reported when it reaches ML assets",
                              90),
    "key_max_age_days": Option(int, "a key older than this is overdue for rotation", 90),
    "evidence_events": Option(int, "events kept as evidence in each finding (the count is always "
                                   "given)", 20),
}

ACTIVITY_OPTIONS: dict[str, Option] = {**SOURCE_OPTIONS, **SETTING_OPTIONS}

_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class LogSources:
    cloudtrail: tuple[str, ...] = ()
    s3_access_logs: tuple[str, ...] = ()
    gcs_audit_logs: tuple[str, ...] = ()
    aws_profile: str | None = None
    endpoint_url: str | None = None
    database: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.cloudtrail or self.s3_access_logs or self.gcs_audit_logs)


@dataclass(frozen=True, slots=True)
class ActivitySettings:
    window: timedelta = timedelta(days=30)
    learning_period: timedelta = timedelta(days=7)
    work_start: time = time(9, 0)
    work_end: time = time(18, 0)
    working_days: frozenset[int] = frozenset(range(5))  # Monday = 0, as date.weekday()
    time_zone: str = "UTC"
    trusted_cidrs: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    exempt_principals: tuple[str, ...] = ()
    off_hours_workloads: bool = False
    bulk_read_factor: float = 5.0
    bulk_read_min_bytes: int = GIB
    bulk_read_min_objects: int = 500
    baseline_min_days: int = 3
    kms_spike_factor: float = 5.0
    kms_spike_min_calls: int = 1000
    key_max_addresses: int = 1
    key_unused_days: int = 90
    key_max_age_days: int = 90
    evidence_events: int = 20


def parse_duration(text: str, *, source: str | None = None, location: str | None = None) -> timedelta:
    """``30d``, ``12h``, ``2w`` or ``90m`` as a timedelta."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"{text!r} is not a duration such as 30d, 12h, 2w or 90m",
                          source=source, location=location)
    return timedelta(**{_DURATION_UNITS[match.group(2)]: int(match.group(1))})


def parse_activity(values: Mapping[str, Any], *, source: str | None = None,
                   where: str = "activity") -> tuple[LogSources, ActivitySettings]:
    """Typed sources and settings from a table already checked against ACTIVITY_OPTIONS.

    Keys that are absent take their defaults, so ``parse_activity({})`` gives the defaults.
    """
    def value(key: str) -> Any:
        option = ACTIVITY_OPTIONS[key]
        return values[key] if values.get(key) is not None else option.default

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(message, source=source, location=f"{where}.{key}")

    sources = LogSources(
        cloudtrail=tuple(value("cloudtrail")), s3_access_logs=tuple(value("s3_access_logs")),
        gcs_audit_logs=tuple(value("gcs_audit_logs")), aws_profile=value("aws_profile"),
        endpoint_url=value("endpoint_url"), database=value("database"))
    for key in ("cloudtrail", "s3_access_logs", "gcs_audit_logs"):
        for index, location in enumerate(getattr(sources, key)):
            if not location.strip():
                raise fail(f"{key}[{index}]", "must not be empty")
    for key in ("evidence_events", "baseline_min_days", "bulk_read_min_bytes",
                "bulk_read_min_objects", "kms_spike_min_calls", "key_max_addresses",
                "key_unused_days", "key_max_age_days", "bulk_read_factor", "kms_spike_factor"):
        if value(key) < 0:
            raise fail(key, "must not be negative")
    try:
        zone = value("time_zone")
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail("time_zone", f"unknown time zone {zone!r} (an IANA name such as "
                                f"Europe/Paris)") from None
    start, end = _working_hours(value("working_hours"), fail)
    days = []
    for index, day in enumerate(value("working_days")):
        if day.lower()[:3] not in WEEKDAYS:
            raise fail(f"working_days[{index}]", f"{day!r} is not a day ({', '.join(WEEKDAYS)})")
        days.append(WEEKDAYS.index(day.lower()[:3]))
    networks = []
    for index, cidr in enumerate(value("trusted_cidrs")):
        try:
            networks.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            raise fail(f"trusted_cidrs[{index}]", f"{cidr!r} is not a CIDR range") from None
    durations = {key: parse_duration(value(key), source=source, location=f"{where}.{key}")
                 for key in ("window", "learning_period")}
    settings = ActivitySettings(
        **durations, work_start=start, work_end=end, working_days=frozenset(days),
        time_zone=zone, trusted_cidrs=tuple(networks),
        exempt_principals=tuple(value("exempt_principals")),
        off_hours_workloads=value("off_hours_workloads"),
        bulk_read_factor=float(value("bulk_read_factor")),
        bulk_read_min_bytes=value("bulk_read_min_bytes"),
        bulk_read_min_objects=value("bulk_read_min_objects"),
        baseline_min_days=value("baseline_min_days"),
        kms_spike_factor=float(value("kms_spike_factor")),
        kms_spike_min_calls=value("kms_spike_min_calls"),
        key_max_addresses=value("key_max_addresses"), key_unused_days=value("key_unused_days"),
        key_max_age_days=value("key_max_age_days"), evidence_events=value("evidence_events"))
    return sources, settings


def _working_hours(text: str, fail: Any) -> tuple[time, time]:
    match = _HOURS.match(text.replace(" ", ""))
    if not match:
        raise fail("working_hours", f"{text!r} is not HH:MM-HH:MM")
    hour1, minute1, hour2, minute2 = map(int, match.groups())
    if hour1 > 23 or hour2 > 24 or minute1 > 59 or minute2 > 59 or (hour2 == 24 and minute2):
        raise fail("working_hours", f"{text!r} is not a time range of one day")
    end = time(23, 59, 59, 999999) if hour2 == 24 else time(hour2, minute2)
    if end <= time(hour1, minute1):
        raise fail("working_hours", f"{text!r} ends before it starts (night shifts: use two "
                                    f"profiles or widen the range)")
    return time(hour1, minute1), end
