"""The access analyzer's shortcuts change no answer: answers kept for a class of buckets and
shared between principals (``access.aws.alike``, ``kms.KeyAnswers``) are exactly what each
principal gets asked about on each bucket on its own, and the evaluator memo, also for
policies with variables in their Resource elements, answers as the evaluator does. Checked
on the benchmark's synthetic account (managed policies from the AWS corpus, role chains,
bucket policies, KMS keys) and on hand-built corner cases (more in test_access_alike)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from auditor.access.aws.analyzer import AccessModel, question_for
from auditor.access.aws.context import Evaluations, to_outcome
from auditor.access.model import ACCESS_CLASSES
from auditor.inventory import Inventory
from tests.test_aws_access import (
    ALICE,
    OTHER,
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

BENCH = Path(__file__).parent.parent / "bench" / "access_bench.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("access_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("access_bench", module)
    spec.loader.exec_module(module)
    return module


def _answers(inv: Inventory, grouping: bool) -> dict[tuple[str, str], list[Any]]:
    model = AccessModel(inv, grouping=grouping)
    return {(record.id, access): model.grants(model.bucket(record.id), question_for(access))
            for record in sorted(inv.of_type("aws.s3.bucket"), key=lambda r: r.id)
            for access in ACCESS_CLASSES}


def _differences(inv: Inventory) -> list[str]:
    grouped, alone = _answers(inv, True), _answers(inv, False)
    assert sum(map(len, alone.values())), "nobody can do anything: the comparison is empty"
    return [f"{where}: {sorted(set(map(repr, grouped[where])) ^ set(map(repr, found)))[:2]}"
            for where, found in alone.items() if grouped[where] != found]


@pytest.mark.parametrize("seed", [3, 11])
def test_classes_answer_as_each_principal_would_on_the_synthetic_account(seed: int) -> None:
    inv = _bench().build_inventory(roles=300, buckets=50, users=20, seed=seed)
    assert _differences(inv) == []


def _corner_cases() -> Inventory:
    tagged = arn("policy", "tagged-home")
    home = doc(allow("s3:GetObject", "arn:aws:s3:::${aws:PrincipalTag/home}/*"),
               allow("kms:Decrypt", "*"))
    shared = arn("policy", "shared-read")
    tls_only = doc(deny("s3:*", ["arn:aws:s3:::tls-a/*", "arn:aws:s3:::tls-a"], Principal="*",
                        Condition={"Bool": {"aws:SecureTransport": "false"}}))
    tls_only_b = doc(deny("s3:*", ["arn:aws:s3:::tls-b/*", "arn:aws:s3:::tls-b"], Principal="*",
                          Condition={"Bool": {"aws:SecureTransport": "false"}}))
    only_r1 = doc(deny("s3:GetObject", "arn:aws:s3:::only-r1/*", Principal="*",
                       Condition={"ArnNotEquals": {"aws:PrincipalArn": arn("role", "r1")}}))
    by_tag = doc(deny("s3:GetObject", "arn:aws:s3:::by-tag/*", Principal="*",
                      Condition={"StringNotEquals": {"aws:PrincipalTag/team": "ml"}}))
    key_policy = doc({"Sid": "Iam", "Effect": "Allow", "Principal": {"AWS": arn("root", "")},
                      "Action": "kms:*", "Resource": "*"},
                     {"Sid": "R2", "Effect": "Allow", "Principal": {"AWS": arn("role", "r2")},
                      "Action": "kms:Decrypt", "Resource": "*"})
    everyone_in = doc(allow("s3:GetObject", "arn:aws:s3:::open/*", Principal="*"))
    roles = [role(f"r{i}", service_trust("lambda.amazonaws.com"), attached=[shared],
                  tags={"team": "ml"} if i % 2 else {}) for i in range(1, 7)]
    return inventory(
        managed_policy("shared-read", doc(allow(["s3:GetObject", "s3:PutObject"]))),
        managed_policy("tagged-home", home),
        bucket("tls-a", tls_only), bucket("tls-b", tls_only_b), bucket("only-r1", only_r1),
        bucket("by-tag", by_tag), bucket("open", everyone_in),
        bucket("home", encryption=sse_kms(key_arn("k1"))), bucket("acl", acl="public-read"),
        kms_key("k1", key_policy),
        *roles,
        role("chained", trust(arn("role", "r1")), attached=[shared]),
        role("partner", trust(f"arn:aws:iam::{OTHER}:root"), attached=[shared]),
        user("alice", attached=[tagged], tags={"home": "home"}),
        user("bob", attached=[tagged]), user("carol", attached=[tagged], tags={"home": "tls-a"}),
        user("dave", attached=[shared]), user("erin", attached=[shared]))


def test_classes_answer_as_each_principal_would_in_corner_cases() -> None:
    # conditions on a principal's own ARN and tags, the same TLS policy on two buckets, a key
    # policy naming one role of a class, policy variables in Resource elements, ACLs, roots
    inv = _corner_cases()
    assert _differences(inv) == []
    read = {g.principal for g in AccessModel(inv).grants(
        AccessModel(inv).bucket("arn:aws:s3:::only-r1"), question_for("read"))}
    assert arn("role", "r1") in read and arn("role", "r3") not in read


def test_the_memo_answers_as_the_evaluator_with_variables_in_resources() -> None:
    """With or without the tag a Resource names, memoised answers equal direct ones."""
    inv = _corner_cases()
    model = AccessModel(inv)
    shared = Evaluations()
    compared = 0
    for name in ("home", "tls-a", "by-tag"):
        side = model.bucket(f"arn:aws:s3:::{name}")
        for principal in model.graph:
            policy = side.policy_for(principal)
            if policy is not None and policy.id.startswith("blocked"):
                continue
            policies = principal.policies(policy, "s3")
            context = model._s3_context(side, principal)
            for resource in side.object_arns():
                memoised = principal.ask(shared, "s3:GetObject", resource, side.account,
                                         policies, context)
                direct = Evaluations()._evaluate(principal.caller, "s3:GetObject", resource,
                                                 side.account, policies,
                                                 {**principal.caller.keys, **context})
                assert memoised == to_outcome(direct, principal.arn, "s3:GetObject"), (
                    principal.arn, resource)
                compared += 1
    assert compared > 30
    # the variable is filled from the caller's tag: alice's home matches, carol's is another
    # bucket, bob has no tag (the evaluator leaves that Resource undecided)
    home = {g.principal: g.decision for g in model.grants(model.bucket("arn:aws:s3:::home"),
                                                          question_for("s3:GetObject"))}
    assert home[ALICE] == "allow" and home[arn("user", "bob")] == "conditional"
    assert arn("user", "carol") not in home
