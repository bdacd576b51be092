"""Does CloudTrail record S3 object-level (data) events for every object of a bucket?

The predicate ``{s3_data_events_logged: read|write}`` for aws.s3.bucket. It is code rather
than a condition because event selectors are a small language of their own: basic selectors
(``DataResources`` with ARN prefixes) and advanced selectors (field selectors with Equals,
StartsWith, NotStartsWith...), and only a selector that matches *every* read (or write) of
*every* object in the bucket counts. Anything narrower (one prefix, some event names, one
identity) counts as not logged.

A trail counts when it is logging, belongs to the bucket's account and covers the bucket's
region (multi-region, or homed there). Unknown trail settings, or a trail listing that is
incomplete for the account, make the answer unknown unless another trail proves it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from auditor.inventory import Resource
from auditor.rules.logic import Trace, Truth, any3
from auditor.rules.scope import Scope

TRAIL = "aws.cloudtrail.trail"
S3_OBJECT = "AWS::S3::Object"
_READ_WRITE_TYPES = {"read": ("All", "ReadOnly"), "write": ("All", "WriteOnly")}
_READ_ONLY_VALUE = {"read": "true", "write": "false"}
_TRAIL_SETTINGS = ("is_logging", "is_multi_region", "home_region", "event_selectors",
                   "advanced_event_selectors")


def s3_data_events_logged(scope: Scope, kind: str, trace: Trace) -> Truth:
    bucket = scope.resource
    results: list[Truth] = []
    for trail in scope.context.resources_of(TRAIL):
        if trail.account != bucket.account:
            continue
        logged = _trail_logs(Scope(trail, scope.context), bucket, kind, trace)
        results.append(logged)
        if logged:
            trace.related.append(trail.id)
    gaps = scope.context.listing_gaps(TRAIL, bucket.account)
    trace.unknown.extend(gaps)
    return any3([*results, *([None] if gaps else [])])


def _trail_logs(trail: Scope, bucket: Resource, kind: str, trace: Trace) -> Truth:
    settings: dict[str, Any] = {}
    for name in _TRAIL_SETTINGS:
        found = trail.lookup(name)
        if found.unknown:
            trace.note(trail.resource.id, found.unknown)
            return None
        settings[name] = found.value
    if settings["is_logging"] is not True:
        return False
    if not settings["is_multi_region"] and settings["home_region"] != bucket.region:
        return False
    object_prefix = bucket_object_prefix(bucket)
    advanced = settings["advanced_event_selectors"]
    # a trail uses advanced selectors or basic ones, never both
    if advanced:
        return any(_advanced_covers(selector, object_prefix, kind) for selector in advanced
                   if isinstance(selector, Mapping))
    return any(_basic_covers(selector, object_prefix, kind)
               for selector in settings["event_selectors"] or [] if isinstance(selector, Mapping))


def bucket_object_prefix(bucket: Resource) -> str:
    """``arn:aws:s3:::name/``: the ARN prefix of every object in the bucket."""
    return f"{bucket.id}/"


def _basic_covers(selector: Mapping[str, Any], object_prefix: str, kind: str) -> bool:
    if selector.get("ReadWriteType", "All") not in _READ_WRITE_TYPES[kind]:
        return False
    service_prefix = object_prefix.split(":::", 1)[0]  # arn:aws:s3 (or another partition)
    whole_bucket = {service_prefix, service_prefix + ":::", object_prefix, object_prefix[:-1]}
    return any(resource.get("Type") == S3_OBJECT
               and any(value in whole_bucket for value in resource.get("Values") or [])
               for resource in selector.get("DataResources") or [] if isinstance(resource, Mapping))


def _advanced_covers(selector: Mapping[str, Any], object_prefix: str, kind: str) -> bool:
    fields = {f.get("Field"): f for f in selector.get("FieldSelectors") or []
              if isinstance(f, Mapping)}
    if set(fields) - {"eventCategory", "resources.type", "readOnly", "resources.ARN"}:
        return False  # a filter on names, identities or sources logs only some events
    fixed = (("eventCategory", "Data"), ("resources.type", S3_OBJECT),
             ("readOnly", _READ_ONLY_VALUE[kind]))
    if not all(_admits(fields.get(name), value) for name, value in fixed):
        return False
    if "eventCategory" not in fields or "resources.type" not in fields:
        return False  # data events are only logged when a selector asks for their type
    return _admits_every_object(fields.get("resources.ARN"), object_prefix)


def _admits(field: Mapping[str, Any] | None, value: str) -> bool:
    """Does this field selector let events whose field equals ``value`` through?"""
    if field is None:
        return True
    tests = (("Equals", lambda v: value == v), ("StartsWith", value.startswith),
             ("EndsWith", value.endswith))
    negations = (("NotEquals", lambda v: value == v), ("NotStartsWith", value.startswith),
                 ("NotEndsWith", value.endswith))
    return (all(any(test(v) for v in _values(field, key)) for key, test in tests if key in field)
            and not any(test(v) for key, test in negations for v in _values(field, key)))


def _admits_every_object(field: Mapping[str, Any] | None, object_prefix: str) -> bool:
    """Does this resources.ARN selector let the events of every object in the bucket through?"""
    if field is None:
        return True
    if "Equals" in field or "EndsWith" in field or _values(field, "NotEndsWith"):
        return False  # names particular objects, so not all of them
    if "StartsWith" in field and not any(object_prefix.startswith(v)
                                         for v in _values(field, "StartsWith")):
        return False
    excluded = [*_values(field, "NotStartsWith"), *_values(field, "NotEquals")]
    return not any(v.startswith(object_prefix) or object_prefix.startswith(v) for v in excluded)


def _values(field: Mapping[str, Any], key: str) -> Sequence[str]:
    values = field.get(key) or []
    return [v for v in values if isinstance(v, str)]
