"""The AWS principal graph: who the principals are, with which policies, who can become whom,
the conservative grant index, the evaluator memo, and privilege-escalation edges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.access.aws.context import Evaluations, Outcome
from auditor.access.aws.escalation import Method, escalation_paths, load_methods
from auditor.access.aws.principals import (
    ANY_AWS,
    PUBLIC,
    Assumptions,
    GrantIndex,
    build_graph,
    is_human,
    reach,
)
from auditor.access.model import PathStep
from auditor.errors import InputError
from tests.test_aws_access import (
    ACCOUNT,
    ALICE,
    BOB,
    OTHER,
    PARTNER,
    allow,
    arn,
    bucket,
    doc,
    group,
    inventory,
    kms_key,
    managed_policy,
    role,
    service_trust,
    trust,
    user,
)

CATALOGUE = Path(__file__).parent.parent / "auditor" / "_data" / "privesc" / "pathfinding_paths.json"


# --- who the principals are --------------------------------------------------------------------

@pytest.mark.parametrize(("tags", "human"), [
    ({}, True), ({"team": "ml"}, True), ({"human": "false"}, False), ({"Human": "No"}, False),
    ({"human": "true", "type": "service"}, True), ({"type": "service"}, False),
    ({"principal-type": "Bot"}, False), ({"automation": "true"}, False),
    ({"automation": "false"}, True), ({"kind": "person"}, True)])
def test_users_are_human_unless_their_tags_say_otherwise(tags: dict[str, str],
                                                        human: bool) -> None:
    assert is_human(tags) is human


def test_a_users_identity_is_its_own_and_its_groups_policies() -> None:
    inv = inventory(
        managed_policy("read", doc(allow("s3:GetObject"))),
        managed_policy("boundary", doc(allow("s3:*"))),
        group("ml", ["alice"], {"g-inline": doc(allow("s3:ListBucket"))}, [arn("policy", "read")]),
        user("alice", {"own": doc(allow("kms:Decrypt"))}, groups=["ml"],
             boundary=arn("policy", "boundary")))
    alice = build_graph(inv).get(ALICE)
    assert alice is not None and alice.kind == "user" and alice.audited
    assert [p.id for p in alice.identity] == [
        f"{ALICE}#inline:own", f"{arn('group', 'ml')}#inline:g-inline", arn("policy", "read")]
    assert alice.boundary is not None and alice.boundary.id == arn("policy", "boundary")
    assert alice.unknown == ()


def test_policies_that_were_not_collected_are_noted_not_dropped_silently() -> None:
    inv = inventory(user("alice", attached=[arn("policy", "gone")], groups=["nowhere"],
                         boundary=arn("policy", "gone-too")))
    unknown = " ".join(build_graph(inv).get(ALICE).unknown)  # type: ignore[union-attr]
    for missing in (arn("policy", "gone"), "nowhere", arn("policy", "gone-too")):
        assert missing in unknown


def test_roles_are_their_sessions_and_are_not_human() -> None:
    role_record = role("trainer", service_trust("sagemaker.amazonaws.com"))
    trainer = build_graph(inventory(role_record)).get(arn("role", "trainer"))
    assert trainer is not None and trainer.kind == "role" and trainer.human is False
    assert trainer.caller.request_arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/trainer/")
    assert trainer.trust is not None and trainer.trust.id == f"{arn('role', 'trainer')}#trust-policy"


def test_principals_named_in_resource_policies_join_the_graph() -> None:
    bucket_policy = doc({"Effect": "Allow", "Principal": {"AWS": OTHER},
                         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    key_policy = doc({"Effect": "Allow", "Resource": "*", "Action": "kms:Decrypt",
                      "Principal": {"AWS": "arn:aws:iam::999988887777:role/partner-etl"}})
    oidc = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    federated = doc({"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                     "Principal": {"Federated": oidc}})
    grant = {"grant_id": "g", "grantee_principal": "arn:aws:iam::222233334444:root",
             "operations": ["Decrypt"], "retiring_principal": None, "constraints": None}
    graph = build_graph(inventory(bucket("b", bucket_policy), kms_key("k", key_policy,
                                                                      grants=[grant]),
                                  role("ci", federated), role("fn", service_trust(
                                      "lambda.amazonaws.com"))))
    kinds = {p.arn: (p.kind, p.human) for p in graph}
    assert kinds[PARTNER] == ("external-account", None)
    assert kinds["arn:aws:iam::999988887777:role/partner-etl"] == ("external-account", None)
    assert kinds["arn:aws:iam::222233334444:root"] == ("external-account", None)
    assert kinds[oidc] == ("external-account", None)
    assert kinds["lambda.amazonaws.com"] == ("service", None)
    assert kinds[PUBLIC] == kinds[ANY_AWS] == ("public", None)
    assert kinds[arn("root", "")] == ("user", True)
    # another account's principal: its own admins decide, assumed to allow
    assert [p.id for p in graph.get(PARTNER).identity] == [  # type: ignore[union-attr]
        f"{PARTNER}#identity-assumed"]


# --- the grant index -------------------------------------------------------------------------

def test_the_grant_index_is_a_conservative_filter() -> None:
    inv = inventory(
        user("pinned", {"p": doc(allow("s3:GetObject", "arn:aws:s3:::b/*"))}),
        user("elsewhere", {"p": doc(allow("s3:GetObject", "arn:aws:s3:::c/*"))}),
        user("wild", {"p": doc(allow("s3:Get*", "arn:aws:s3:::b*"))}),
        user("variable", {"p": doc(allow("s3:GetObject", "arn:aws:s3:::${aws:username}/*"))}),
        user("not-action", {"p": doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})}),
        user("not-resource", {"p": doc({"Effect": "Allow", "Action": "s3:GetObject",
                                        "NotResource": "arn:aws:s3:::b/*"})}),
        user("other-action", {"p": doc(allow("s3:PutObject", "*"))}),
        user("denied", {"p": doc({"Effect": "Deny", "Action": "s3:*", "Resource": "*"})}))
    index = GrantIndex(build_graph(inv))
    found = {p.rsplit("/", 1)[-1] for p in index.holders(["s3:GetObject"], ["arn:aws:s3:::b/k"])}
    assert found == {"pinned", "wild", "variable", "not-action", "not-resource"}
    assert {p.rsplit("/", 1)[-1] for p in index.anywhere(["s3:PutObject"])} == {
        "not-action", "other-action"}


# --- the evaluator memo ----------------------------------------------------------------------

def test_principals_with_the_same_relevant_statements_share_one_evaluation() -> None:
    shared = arn("policy", "team-read")
    inv = inventory(managed_policy("team-read", doc(allow("s3:GetObject", "arn:aws:s3:::b/*"))),
                    *[user(f"u{i}", {"own": doc(allow("logs:*"))}, attached=[shared])
                      for i in range(5)],
                    user("tagged", {"own": doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Condition={
                        "StringEquals": {"aws:PrincipalTag/team": "ml"}}))}, tags={"team": "ml"}))
    graph = build_graph(inv)
    evaluations = Evaluations()
    answers = {}
    for i in range(5):
        principal = graph.get(arn("user", f"u{i}"))
        for key in ("a", "b"):
            answers[(i, key)] = principal.ask(  # type: ignore[union-attr]
                evaluations, "s3:GetObject", f"arn:aws:s3:::b/{key}", ACCOUNT,
                principal.policies())  # type: ignore[union-attr]
    assert evaluations.asked == 1
    assert {o.decision for o in answers.values()} == {"allow"}
    assert answers[(3, "a")].steps == (PathStep(arn("user", "u3"), "s3:GetObject", shared, "#0"),)
    tagged = graph.get(arn("user", "tagged"))
    outcome = tagged.ask(evaluations, "s3:GetObject", "arn:aws:s3:::b/a",  # type: ignore[union-attr]
                         ACCOUNT, tagged.policies())  # type: ignore[union-attr]
    assert outcome is not None and outcome.decision == "allow" and evaluations.asked == 2


# --- role assumption and reach ---------------------------------------------------------------

def _assumptions(*resources: Any) -> Assumptions:
    graph = build_graph(inventory(*resources))
    return Assumptions(graph, GrantIndex(graph), Evaluations())


def test_roles_with_the_same_trust_policy_share_their_assumers_with_the_right_proof() -> None:
    account_trust = trust(arn("root", ""))
    assumptions = _assumptions(
        user("admin", {"p": doc(allow("sts:AssumeRole", "*"))}),
        user("bob", {"p": doc(allow("sts:AssumeRole", arn("role", "r2")))}),
        role("r1", account_trust), role("r2", json.loads(json.dumps(account_trust))))
    first, second = assumptions.into(arn("role", "r1")), assumptions.into(arn("role", "r2"))
    assert first[0] is second[0] and first[0].shared  # computed once
    assert {e.source for e in first[0].edges} == {arn("user", "admin"), arn("root", "")}
    assert [e.source for g in second[1:] for e in g.edges] == [BOB]  # asked for r2 only
    assert len(first) == 1
    routes = reach({arn("role", "r2"): Outcome("allow", (PathStep(arn("role", "r2"), "s3:GetObject",
                                                                 "p", "s"),))},
                   assumptions, lambda source: True)
    admin_route = routes[arn("user", "admin")][0]
    assert f"{arn('role', 'r2')}#trust-policy" in {s.policy for s in admin_route.steps}
    assert f"{arn('role', 'r1')}#trust-policy" not in {s.policy for s in admin_route.steps}


def _step(principal: str, action: str = "s3:GetObject") -> PathStep:
    return PathStep(principal, action, "policy", "statement")


def test_reach_prefers_an_allow_then_the_shortest_route_and_survives_cycles() -> None:
    assume = {"p": doc(allow("sts:AssumeRole", "*"))}
    assumptions = _assumptions(
        user("bob", assume),
        role("a", trust(BOB, arn("role", "b")), assume),
        role("b", trust(arn("role", "a")), assume),
        role("c", trust(BOB), assume))
    direct = {arn("role", "b"): Outcome("allow", (_step(arn("role", "b")),)),
              arn("role", "c"): Outcome("conditional", (_step(arn("role", "c")),), ({"x": 1},))}
    routes = reach(direct, assumptions, lambda source: True)
    bob, origin = routes[BOB]
    assert origin == arn("role", "b") and bob.decision == "allow"  # via a, not the maybe via c
    assert bob.steps[0].principal == BOB
    assert routes[arn("role", "a")][0].decision == "allow"
    skipped = reach(direct, assumptions, lambda source: source != BOB)
    assert BOB not in skipped


def test_a_principals_own_allow_is_kept_over_a_chain() -> None:
    assumptions = _assumptions(user("bob", {"p": doc(allow("sts:AssumeRole", "*"))}),
                               role("a", trust(BOB)))
    own = Outcome("allow", (_step(BOB), _step(BOB), _step(BOB)))
    routes = reach({BOB: own, arn("role", "a"): Outcome("allow", (_step(arn("role", "a")),))},
                   assumptions, lambda source: True)
    assert routes[BOB] == (own, BOB)


# --- privilege escalation ------------------------------------------------------------------

@pytest.fixture(scope="module")
def methods() -> list[Method]:
    return load_methods(CATALOGUE)


def _paths(methods: list[Method], *resources: Any) -> set[tuple[str, str, str]]:
    found = escalation_paths(inventory(*resources), methods)
    return {(p.principal.rsplit("/", 1)[-1], p.method, p.target.rsplit("/", 1)[-1])
            for p in found}


def test_the_catalogue_loads_with_its_licence_and_source(methods: list[Method]) -> None:
    assert len(methods) == 65 and {m.category for m in methods} == {
        "new-passrole", "existing-passrole", "self-escalation", "principal-access"}
    assert (CATALOGUE.parent / "LICENSE").is_file() and (CATALOGUE.parent / "SOURCE.txt").is_file()


def test_creating_access_keys_for_other_users(methods: list[Method]) -> None:
    paths = _paths(methods, user("alice", {"p": doc(allow("iam:CreateAccessKey",
                                                          arn("user", "*")))}),
                   user("bob"), user("carol"))
    keys = {(p, t) for p, m, t in paths if m == "iam-002"}
    assert keys == {("alice", "bob"), ("alice", "carol")}  # not herself


def test_passing_a_role_to_a_new_function(methods: list[Method]) -> None:
    create = allow(["lambda:CreateFunction", "lambda:InvokeFunction"], "*")
    paths = _paths(methods,
                   user("dev", {"p": doc(allow("iam:PassRole", arn("role", "fn-admin")), create)}),
                   user("ops", {"p": doc(allow("iam:PassRole", "*"), create)}),
                   role("fn-admin", service_trust("lambda.amazonaws.com")),
                   role("trainer", service_trust("sagemaker.amazonaws.com")))
    lambda_paths = {(p, t) for p, m, t in paths if m == "lambda-001"}
    # a grant on "*" is one path to every role the service may assume
    assert lambda_paths == {("dev", "fn-admin"), ("ops", "*")}


def test_rewriting_a_trust_policy_and_attaching_policies_to_oneself(methods: list[Method]) -> None:
    paths = _paths(methods,
                   user("ops", {"p": doc(allow("iam:UpdateAssumeRolePolicy",
                                               arn("role", "prod")))}),
                   user("self", {"p": doc(allow("iam:AttachUserPolicy", arn("user", "self")))}),
                   user("nobody", {"p": doc(allow("s3:GetObject", "*"))}),
                   role("prod", service_trust("ec2.amazonaws.com")),
                   role("dev", service_trust("ec2.amazonaws.com")))
    assert ("ops", "iam-012", "prod") in paths and ("ops", "iam-012", "dev") not in paths
    assert ("self", "iam-008", "self") in paths
    assert not any(p == "nobody" for p, _, _ in paths)
    assert not any(m in ("sts-001", "iam-014") for _, m, _ in paths)  # the graph's own edges


def test_an_explicit_deny_removes_the_escalation(methods: list[Method]) -> None:
    denied = {"p": doc(allow("iam:CreateAccessKey", "*"),
                       {"Effect": "Deny", "Action": "iam:*", "Resource": "*"})}
    assert _paths(methods, user("alice", denied), user("bob")) == set()


@pytest.mark.parametrize(("content", "where"), [
    ("not json", "line 1"), ('{"paths": {}}', "$.paths"),
    ('{"paths": [{"id": "x", "name": "x", "category": "c", "required": []}]}',
     "$.paths[0].required")])
def test_a_malformed_catalogue_is_reported_with_its_place(tmp_path: Path, content: str,
                                                         where: str) -> None:
    path = tmp_path / "methods.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as error:
        load_methods(path)
    assert error.value.location == where and error.value.source == str(path)


def test_a_grant_on_every_resource_is_one_path_with_its_proof(methods: list[Method]) -> None:
    paths = escalation_paths(inventory(user("alice", {"p": doc(allow("iam:CreateLoginProfile"))}),
                                       user("bob"), user("carol")), methods)
    assert [(p.principal, p.method, p.target, p.decision) for p in paths] == [
        (ALICE, "iam-004", "*", "allow")]
    assert paths[0].statements[0].policy == f"{ALICE}#inline:p"
    assert paths[0].to_dict()["statements"][0]["action"] == "iam:CreateLoginProfile"


def test_the_memo_never_changes_an_answer() -> None:
    """Every memoised answer equals the evaluator's on the full request, on the dev scenario's
    principals, buckets, objects and keys (shared keys, denies, NotPrincipal, conditions)."""
    from auditor.access.aws.analyzer import AwsAnalyzer
    from auditor.access.aws.context import to_outcome
    from tests.test_aws_access import _scenario, scenario_inventory

    inv = scenario_inventory(_scenario())
    model = AwsAnalyzer().model(inv)
    shared, compared = Evaluations(), 0
    for record in inv.of_type("aws.s3.bucket"):
        side = model.bucket(record.id)
        for principal in model.graph:
            policy = side.policy_for(principal)
            if policy is not None and policy.id.startswith("blocked"):
                continue
            policies = principal.policies(policy, "s3")
            context = model._s3_context(side, principal)
            for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
                for resource in side.object_arns()[:2]:
                    memoised = principal.ask(shared, action, resource, side.account, policies,
                                             context)
                    direct = Evaluations()._evaluate(principal.caller, action, resource,
                                                     side.account, policies,
                                                     {**principal.caller.keys, **context})
                    assert memoised == to_outcome(direct, principal.arn, action), (
                        principal.arn, action, resource)
                    compared += 1
    assert compared > 1000 and shared.asked < compared / 4
