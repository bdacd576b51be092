"""Buckets alike (``access.aws.alike``) change no answer: a principal asked about once for a
class of buckets gets on each bucket exactly what it gets asked about on that bucket alone.

Each inventory below puts buckets that look alike next to principals whose own policies,
bucket policies or keys tell them apart in one way (a name pattern, a condition on the
principal's ARN, a tag filling a policy variable, a key condition on the encryption
context...), and every answer of the shared analysis is compared with the analysis that
shares nothing (``AccessModel(grouping=False)``)."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.access.aws.alike import BucketClasses
from auditor.access.aws.analyzer import AccessModel, Question, question_for
from auditor.access.model import ACCESS_CLASSES
from auditor.inventory import Inventory, Resource
from tests.test_access_organization import (
    FULL_RCP,
    FULL_SCP,
    org_inventory,
    org_policy,
    organization,
    rcp,
)
from tests.test_access_rules_grouping import _bench
from tests.test_aws_access import (
    ALL_BLOCKED,
    OTHER,
    account_record,
    allow,
    arn,
    bucket,
    deny,
    doc,
    inventory,
    key_arn,
    kms_key,
    managed_policy,
    role,
    service_trust,
    sse_kms,
    trust,
    user,
)

QUESTIONS = [question_for(a) for a in ACCESS_CLASSES] + [
    question_for("s3:Put*"), question_for("s3:GetObject", "data/part-0.parquet"),
    question_for("s3:GetObject", "other/key")]


def _answers(inv: Inventory, grouping: bool,
             questions: list[Question]) -> dict[tuple[str, Question], list[Any]]:
    model = AccessModel(inv, grouping=grouping)
    return {(record.id, question): model.grants(model.bucket(record.id), question)
            for question in questions
            for record in sorted(inv.of_type("aws.s3.bucket"), key=lambda r: r.id)}


def _compare(inv: Inventory, questions: list[Question] = QUESTIONS) -> AccessModel:
    """Both analyses answer alike; the shared one, returned, shared something."""
    alone = _answers(inv, False, questions)
    assert sum(map(len, alone.values())), "nobody can do anything: the comparison is empty"
    shared = AccessModel(inv)
    differences = [
        f"{where}: {sorted(set(map(repr, found)) ^ set(map(repr, alone[where])))[:2]}"
        for where in alone
        if (found := shared.grants(shared.bucket(where[0]), where[1])) != alone[where]]
    assert differences == []
    assert shared.classes is not None
    classes = {id(c) for c in shared.classes._classes.values() if c.entries}
    assert 0 < len(classes) < len(alone), "no bucket shared a class: nothing was compared"
    return shared


def _buckets(*names: str, **kwargs: Any) -> list[Resource]:
    return [bucket(name, **kwargs) for name in names]


def test_identity_policies_naming_buckets_by_name_pattern_and_object_key() -> None:
    pinned = doc(allow("s3:*", ["arn:aws:s3:::ml-data-1/*", "arn:aws:s3:::ml-data-1"]))
    by_prefix = doc(allow("s3:GetObject", "arn:aws:s3:::ml-data-*/*"))
    by_key = doc(allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::*/data/*"))
    odd = doc(allow("s3:GetObject", "arn:aws:s3:::ml-?ata-2/*"),
              {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::ml-data-3/*"})
    broad = doc(allow("s3:*"), deny("s3:DeleteObject", "arn:aws:s3:::ml-weights-*/*"))
    inv = inventory(
        *_buckets("ml-data-1", "ml-data-2", "ml-data-3", "ml-weights-1", "ml-weights-2"),
        bucket("ml-weights-3", objects=(("other/key", None),)),
        managed_policy("by-prefix", by_prefix), managed_policy("by-key", by_key),
        managed_policy("broad", broad),
        role("pinned", service_trust("lambda.amazonaws.com"), {"p": pinned}),
        role("prefix", service_trust("lambda.amazonaws.com"), attached=[arn("policy", "by-prefix")]),
        role("keyed", service_trust("lambda.amazonaws.com"), attached=[arn("policy", "by-key")]),
        role("odd", service_trust("lambda.amazonaws.com"), {"p": odd}),
        role("admin", trust(arn("role", "prefix")), attached=[arn("policy", "broad")]),
        user("alice", attached=[arn("policy", "broad")]))
    _compare(inv)


def test_bucket_policies_alike_but_for_whom_they_name() -> None:
    def role_read(name: str, reader: str) -> dict[str, Any]:
        return doc(allow("s3:GetObject", f"arn:aws:s3:::{name}/*",
                         Principal={"AWS": arn("role", reader)}))

    def only(name: str, reader: str) -> dict[str, Any]:
        return doc(deny("s3:GetObject", f"arn:aws:s3:::{name}/*", Principal="*",
                        Condition={"ArnNotEquals": {"aws:PrincipalArn": arn("role", reader)}}))

    def tls(name: str) -> dict[str, Any]:
        return doc(deny("s3:*", [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                        Principal="*", Condition={"Bool": {"aws:SecureTransport": "false"}}))

    def tagged(name: str, team: str) -> dict[str, Any]:
        return doc(deny("s3:*", f"arn:aws:s3:::{name}/*", Principal="*",
                        Condition={"StringNotEquals": {"aws:PrincipalTag/team": team}}))

    # the same text on two buckets, with a pattern matching one of them only
    pattern = doc(allow("s3:GetObject", "arn:aws:s3:::p-1*", Principal="*"),
                  allow("s3:GetObject", "arn:aws:s3:::p-*/*", Principal={"AWS": OTHER}))
    reader = doc(allow(["s3:GetObject", "s3:PutObject"]))
    inv = inventory(
        bucket("rr-1", role_read("rr-1", "r1")), bucket("rr-2", role_read("rr-2", "r2")),
        bucket("rr-3", role_read("rr-3", "r3")),
        bucket("only-1", only("only-1", "r1")), bucket("only-2", only("only-2", "r2")),
        bucket("only-3", only("only-3", "r4")),
        bucket("tls-1", tls("tls-1")), bucket("tls-2", tls("tls-2")),
        bucket("tag-1", tagged("tag-1", "ml")), bucket("tag-2", tagged("tag-2", "data")),
        bucket("p-1", pattern), bucket("p-2", pattern),
        bucket("open-1", pattern, block=ALL_BLOCKED), bucket("acl-1", acl="public-read"),
        bucket("acl-2", acl="public-read"),
        managed_policy("reader", reader),
        *[role(f"r{i}", service_trust("lambda.amazonaws.com"), attached=[arn("policy", "reader")],
               tags={"team": "ml" if i % 2 else "data"}) for i in range(1, 6)],
        role("r6", service_trust("lambda.amazonaws.com")),
        role("chain", trust(arn("role", "r1"), arn("role", "r6")),
             attached=[arn("policy", "reader")]),
        user("carol", attached=[arn("policy", "reader")], tags={"team": "ml"}),
        user("dave"))
    _compare(inv)


def test_policy_variables_filled_by_each_principals_own_values() -> None:
    home = doc(allow(["s3:GetObject", "s3:PutObject"],
                     ["arn:aws:s3:::${aws:PrincipalTag/home}/*",
                      "arn:aws:s3:::*-registry-${aws:RequestedRegion}/*"]))
    named = doc(allow("s3:GetObject", "arn:aws:s3:::h-${aws:username}/*"))
    inv = inventory(
        *_buckets("h-alice", "h-bob", "h-carol", "x-registry-us-east-1", "x-registry-eu-west-1",
                  "y-registry-us-east-1"),
        managed_policy("home", home), managed_policy("named", named),
        user("alice", attached=[arn("policy", "home"), arn("policy", "named")],
             tags={"home": "h-bob"}),
        user("bob", attached=[arn("policy", "home"), arn("policy", "named")]),
        user("carol", attached=[arn("policy", "named")]),
        role("tagged", service_trust("ec2.amazonaws.com"), attached=[arn("policy", "home")],
             tags={"home": "h-carol"}))
    _compare(inv)


def test_keys_with_conditions_on_the_encryption_context() -> None:
    def key_policy(*extra: dict[str, Any]) -> dict[str, Any]:
        return doc({"Sid": "Iam", "Effect": "Allow", "Principal": {"AWS": arn("root", "")},
                    "Action": "kms:*", "Resource": "*"}, *extra)

    by_context = key_policy({"Sid": "OnlyData", "Effect": "Deny", "Principal": "*",
                             "Action": "kms:Decrypt", "Resource": "*", "Condition": {
                                 "StringNotLike": {"kms:EncryptionContext:aws:s3:arn":
                                                   "arn:aws:s3:::k-data-*"}}})
    reader = doc(allow(["s3:GetObject", "s3:PutObject"]), allow("kms:Decrypt"))
    scoped = doc(allow("s3:GetObject"),
                 allow("kms:Decrypt", Condition={"ArnLike": {
                     "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::k-data-1*"}}),
                 allow("kms:GenerateDataKey", Condition={"Null": {
                     "kms:EncryptionContext:aws:s3:arn": "false"}}))
    granted = [{"grant_id": "g1", "grantee_principal": arn("role", "granted"),
                "operations": ["Decrypt"],
                "constraints": {"EncryptionContextSubset": {"aws:s3:arn": "arn:aws:s3:::k-g-1"}}}]
    inv = inventory(
        bucket("k-data-1", encryption=sse_kms(key_arn("k1"))),
        bucket("k-data-2", encryption=sse_kms(key_arn("k1"), bucket_key=False)),
        bucket("k-logs-1", encryption=sse_kms(key_arn("k1"))),
        bucket("k-logs-2", encryption=sse_kms(key_arn("k2"))),
        bucket("k-logs-3", encryption=sse_kms(key_arn("k2"), bucket_key=False)),
        bucket("k-g-1", encryption=sse_kms(key_arn("k3"))),
        bucket("k-g-2", encryption=sse_kms(key_arn("k3"))),
        bucket("k-aws-1", encryption=sse_kms(None)), bucket("k-aws-2", encryption=sse_kms(None)),
        kms_key("k1", by_context), kms_key("k2", key_policy()),
        kms_key("k3", key_policy(), grants=granted),
        managed_policy("reader", reader), managed_policy("scoped", scoped),
        role("plain", service_trust("lambda.amazonaws.com"), attached=[arn("policy", "reader")]),
        role("scoped", service_trust("lambda.amazonaws.com"), attached=[arn("policy", "scoped")]),
        role("granted", service_trust("lambda.amazonaws.com"),
             {"p": doc(allow("s3:GetObject"))}),
        role("chain", trust(arn("role", "scoped")), attached=[arn("policy", "reader")]),
        user("erin", attached=[arn("policy", "scoped")]))
    _compare(inv)


def test_principals_of_another_account_and_restricted_public_buckets() -> None:
    partner = doc(allow(["s3:GetObject", "s3:ListBucket"],
                        ["arn:aws:s3:::x-1", "arn:aws:s3:::x-1/*"],
                        Principal={"AWS": f"arn:aws:iam::{OTHER}:root"}))
    partner_2 = doc(allow(["s3:GetObject", "s3:ListBucket"],
                          ["arn:aws:s3:::x-2", "arn:aws:s3:::x-2/*"],
                          Principal={"AWS": f"arn:aws:iam::{OTHER}:root"}))
    public = doc(allow("s3:GetObject", "arn:aws:s3:::pub-1/*", Principal="*"))
    public_2 = doc(allow("s3:GetObject", "arn:aws:s3:::pub-2/*", Principal="*"))
    inv = inventory(
        bucket("x-1", partner), bucket("x-2", partner_2),
        bucket("pub-1", public, block=ALL_BLOCKED), bucket("pub-2", public_2, block=ALL_BLOCKED),
        bucket("pub-3", public_2),
        managed_policy("reader", doc(allow("s3:Get*"))),
        role("r1", trust(f"arn:aws:iam::{OTHER}:root"), attached=[arn("policy", "reader")]),
        user("frank", attached=[arn("policy", "reader")]),
        accounts=[account_record(), account_record(OTHER)])
    _compare(inv)


@pytest.mark.parametrize("org", [False, True], ids=["alone", "in-an-organization"])
def test_the_benchmark_account_shares_answers_between_buckets(org: bool) -> None:
    inv = _bench().build_inventory(roles=400, buckets=60, users=20, seed=7, org=org)
    model = _compare(inv, [question_for("read"), question_for("write"), question_for("delete")])
    assert isinstance(model.classes, BucketClasses)
    # a handful of classes for sixty buckets: the comparison covered shared answers
    assert len(model.classes._classes) <= 20


def _iam_key_policy() -> dict[str, Any]:
    return doc({"Sid": "Iam", "Effect": "Allow", "Principal": {"AWS": arn("root", "")},
                "Action": "kms:*", "Resource": "*"})


def test_a_conditional_key_answer_picks_its_own_best_s3_answer() -> None:
    # without a key the allow of GetObjectVersion wins; with a key that only may allow,
    # every answer is a maybe and the first, shortest one (GetObject) wins
    maybe = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    policy = doc(allow("s3:GetObject", Condition=maybe), allow("s3:GetObjectVersion"),
                 allow("kms:Decrypt", Condition=maybe))
    inv = inventory(
        bucket("c-1", encryption=sse_kms(key_arn("k1"))),
        bucket("c-2", encryption=sse_kms(key_arn("k1"))), bucket("c-3"),
        kms_key("k1", _iam_key_policy()), managed_policy("maybe", policy),
        role("m", service_trust("lambda.amazonaws.com"), attached=[arn("policy", "maybe")]))
    _compare(inv)
    read = {g.principal: g for g in AccessModel(inv).grants(
        AccessModel(inv).bucket("arn:aws:s3:::c-1"), question_for("read"))}
    assert read[arn("role", "m")].action == "s3:GetObject"
    assert read[arn("role", "m")].decision == "conditional"


def test_a_member_is_never_answered_for_its_class_on_a_bucket_it_is_specific_to() -> None:
    # the class's first bucket answers "m" with GetObject (its key k1 allows); on m-2, where
    # m's own policy names the bucket, k2 refuses GetObject: DeleteObject is asked there
    # for m alone (an allow, a maybe elsewhere), and must not become m's answer on m-3
    policy = doc(allow("s3:GetObject"), allow("kms:Decrypt", key_arn("k1")),
                 allow("s3:DeleteObject", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    question = Question("custom", ("s3:GetObject", "s3:DeleteObject"))
    inv = inventory(
        bucket("m-1", encryption=sse_kms(key_arn("k1"))),
        bucket("m-2", encryption=sse_kms(key_arn("k2"))),
        bucket("m-3", encryption=sse_kms(key_arn("k2"))),
        kms_key("k1", _iam_key_policy()), kms_key("k2", _iam_key_policy()),
        managed_policy("get", policy),
        role("m", service_trust("lambda.amazonaws.com"),
             {"delete": doc(allow("s3:DeleteObject", "arn:aws:s3:::m-2/*"))},
             attached=[arn("policy", "get")]),
        role("n", service_trust("lambda.amazonaws.com"), attached=[arn("policy", "get")]))
    _compare(inv, [question])
    model = AccessModel(inv)
    decisions = {name: {g.principal: g.decision for g in model.grants(
        model.bucket(f"arn:aws:s3:::{name}"), question)} for name in ("m-2", "m-3")}
    assert decisions["m-2"][arn("role", "m")] == "allow"
    assert decisions["m-3"][arn("role", "m")] == "conditional"


def test_an_organizations_scps_and_rcps_that_tell_buckets_apart() -> None:
    """SCPs are the principal's own policies: one naming buckets by pattern makes its account's
    principals specific to them; RCPs belong to the bucket's account: which of their
    statements match each object, and the bucket context their conditions read, are part of
    the class (a frozen tag, a region, a name pattern, an object prefix, the encryption key)."""
    scps = [[org_policy("full", FULL_SCP)],
            [org_policy("full", FULL_SCP), org_policy("keep-weights", doc(
                deny("s3:DeleteObject", "arn:aws:s3:::ml-weights-*/*")))],
            [org_policy("full", FULL_SCP), org_policy("region-lock", doc(
                {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
                 "Condition": {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}}))]]
    rcps = [[org_policy("rfull", FULL_RCP, "RCP"), org_policy("private", doc(rcp(
                "Deny", "s3:GetObject", "arn:aws:s3:::*/private/*",
                {"StringNotEquals": {"aws:PrincipalAccount": OTHER}})), "RCP")],
            [org_policy("rfull", FULL_RCP, "RCP"), org_policy("frozen", doc(
                rcp("Deny", "s3:PutObject", condition={
                    "StringEqualsIfExists": {"s3:BucketTag/frozen": "true"}})), "RCP"),
             org_policy("keep-data", doc(rcp("Deny", "s3:DeleteObject", "arn:aws:s3:::ml-data-*/*")),
                        "RCP"),
             org_policy("own-key", doc(rcp("Deny", "kms:Decrypt", key_arn("k2"))), "RCP")]]
    objects = (("data/part-0.parquet", None), ("private/part-1.parquet", None))
    buckets = [bucket(name, objects=objects, ownership="BucketOwnerEnforced", tags=tags,
                      encryption=sse_kms(key_arn(key)) if key else None)
               for name, tags, key in (
                   ("ml-data-1", None, None), ("ml-data-2", None, None),
                   ("ml-weights-1", None, None), ("ml-weights-2", None, None),
                   ("ml-frozen-1", {"frozen": "true"}, None), ("ml-frozen-2", {"frozen": "no"}, None),
                   ("ml-kms-1", None, "k1"), ("ml-kms-2", None, "k2"), ("ml-kms-3", None, "k2"))]
    buckets[1].region = "eu-west-1"
    partner = doc(allow("s3:*", "*", Principal={"AWS": f"arn:aws:iam::{OTHER}:root"}))
    buckets.append(bucket("ml-shared-1", partner, objects=objects))
    buckets.append(bucket("ml-shared-2", partner, objects=objects))
    inv = org_inventory(
        *buckets, kms_key("k1", _iam_key_policy()), kms_key("k2", _iam_key_policy()),
        managed_policy("all", doc(allow(["s3:*", "kms:*"]))),
        user("alice", attached=[arn("policy", "all")]),
        role("worker", service_trust("lambda.amazonaws.com"), attached=[arn("policy", "all")]),
        *organization(scps, rcps))
    _compare(inv, [*QUESTIONS, question_for("s3:DeleteObject")])
