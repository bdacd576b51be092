"""The three-valued CEL evaluator behind IAM Conditions: decided at the audit time where time
decides, unknown (None) where the request or the object name would decide."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditor.access.gcp.cel import NamePrefix, evaluate, parse

NOW = datetime(2026, 11, 26, tzinfo=UTC)
BUCKET = "projects/_/buckets/acme-ml-curated-corpus"
ANY_OBJECT = {"request": {"time": NOW},
              "resource": {"type": "storage.googleapis.com/Object", "service": "storage.googleapis.com",
                           "name": NamePrefix(f"{BUCKET}/objects/")}}
THE_BUCKET = {"request": {"time": NOW},
              "resource": {"type": "storage.googleapis.com/Bucket", "service": "storage.googleapis.com",
                           "name": BUCKET}}


@pytest.mark.parametrize(("expression", "on_objects", "on_bucket"), [
    # plain string prefix: a shorter prefix covers every object, and other buckets' names too
    ('resource.name.startsWith("projects/_/buckets/acme-ml-curated")', True, True),
    ('resource.name.startsWith("projects/_/buckets/acme-ml-curated-corpus/objects/")', True, False),
    # a longer prefix admits some objects of the bucket, not all of them
    ('resource.name.startsWith("projects/_/buckets/acme-ml-curated-corpus/objects/train/")', None, False),
    ('resource.name.startsWith("projects/_/buckets/other")', False, False),
    ('resource.name.endsWith(".parquet")', None, False),
    ('resource.name == "projects/_/buckets/acme-ml-curated-corpus/objects/a.txt"', None, False),
    ('resource.name == "projects/_/buckets/other/objects/a.txt"', False, False),
    ('resource.name != "projects/_/buckets/other/objects/a.txt"', True, True),
    # resource type: object permissions are checked against objects, listing against the bucket
    ('resource.type == "storage.googleapis.com/Bucket"', False, True),
    ('resource.type == "storage.googleapis.com/Object"', True, False),
    ('resource.service == "storage.googleapis.com"', True, True),
    # Kleene logic: a decided side decides
    ('resource.type == "storage.googleapis.com/Bucket" && resource.name.endsWith(".txt")', False, False),
    ('resource.type == "storage.googleapis.com/Object" || resource.name.endsWith(".txt")', True, False),
    ('!(resource.type == "storage.googleapis.com/Bucket")', True, False),
    # time is the audit time
    ('request.time < timestamp("2026-06-30T00:00:00Z")', False, False),
    ('request.time < timestamp("2027-01-01T00:00:00.000Z")', True, True),
    ("request.time > timestamp('2026-11-25T00:00:00Z') + duration('86400s')", False, False),
    ("request.time >= timestamp('2026-11-25T00:00:00Z') + duration('23h59m')", True, True),
    ('request.time.getFullYear("Europe/Berlin") == 2026', True, True),
    # recurring schedules and request facts are not known in advance
    ('request.time.getHours("Europe/Berlin") >= 9', None, None),
    ('request.time.getDayOfWeek() < 5', None, None),
    ('"10.0.0.1" == origin.ip', None, None),
    ('resource.matchTag("123456789/env", "prod")', None, None),
    ('api.getAttribute("iam.googleapis.com/modifiedGrantsByRole", []).hasOnly(["roles/viewer"])',
     None, None),
    # the rest of the grammar
    ('resource.type in ["storage.googleapis.com/Object", "x"]', True, False),
    ("resource.name.startsWith('projects/_/buckets/acme') ? true : false", True, True),
    ('size("abc") == 3 && "abc".size() == 3 && int("7") == 7', True, True),
    (r'"a\"b".contains("\"")', True, True),
    ('r"\\d".size() == 2', True, True),
])
def test_conditions(expression: str, on_objects: bool | None, on_bucket: bool | None) -> None:
    assert evaluate(expression, ANY_OBJECT) is on_objects
    assert evaluate(expression, THE_BUCKET) is on_bucket


@pytest.mark.parametrize("expression", ["resource.name.startsWith(", "a &&", "1 +* 2", "'unterminated",
                                        "request.time < ", ""])
def test_what_cannot_be_parsed_is_unknown_never_true_or_false(expression: str) -> None:
    assert evaluate(expression, ANY_OBJECT) is None


def test_a_non_boolean_result_is_unknown() -> None:
    assert evaluate('"text"', ANY_OBJECT) is None
    assert evaluate("1 + 2", ANY_OBJECT) is None


def test_operator_precedence() -> None:
    assert parse("a || b && c") == ("binary", "||", ("ident", "a"),
                                    ("binary", "&&", ("ident", "b"), ("ident", "c")))
    assert parse("!a.b") == ("unary", "!", ("select", ("ident", "a"), "b"))
    assert evaluate("true || false && false", {}) is True
    assert evaluate("(true || false) && false", {}) is False
    assert evaluate("1 + 2 * 3 == 7", {}) is True
