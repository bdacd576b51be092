"""Organization guardrails in effective access: SCPs of the caller's account and RCPs of the
resource's account, on hand-built inventories (no emulator).

Who is governed is spelled out test by test from AWS's documentation ('Service control
policies', 'Resource control policies'); the property test at the end checks the analyzer,
with its memo and its bucket classes, against the evaluator asked about each request with
every policy that applies (what ``audit simulate`` does), on random small organizations."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest

from auditor.access.aws.analyzer import AccessModel, AwsAnalyzer, Question, question_for
from auditor.access.aws.context import Evaluations
from auditor.access.aws.escalation import escalation_paths, load_methods
from auditor.access.aws.evaluator import NamedPolicy, PolicySet
from auditor.access.aws.kms import KMS_NEEDS
from auditor.access.aws.organization import NO_GUARDRAILS, read_guardrails
from auditor.access.aws.principals import build_graph, principal_entries, statements
from auditor.access.aws.s3 import BLOCKED
from auditor.classify.model import Classification
from auditor.inventory import Inventory, Resource, Scope
from tests.test_aws_access import (
    ACCOUNT,
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
    role,
    service_trust,
    sse_kms,
    trust,
    user,
    who,
)

ORG = "o-a1b2c3d4e5"
MANAGEMENT = "999900001111"
SIBLING = "222233334444"  # another member account
ROOT_ID = "r-ab12"

FULL_SCP = doc(allow("*"))
FULL_RCP = doc({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})


def rcp(effect: str, action: str | list[str], resource: str | list[str] = "*",
        condition: Mapping[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect, "Principal": "*", "Action": action,
                                 "Resource": resource}
    if condition:
        statement["Condition"] = dict(condition)
    return statement


def public_read(name: str) -> dict[str, Any]:
    return doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{name}/*"})


# --- builders: aws.organizations.* records as docs/inventory.md describes them ---------------


def org_policy(name: str, document: Mapping[str, Any], kind: str = "SCP") -> Resource:
    folder = "service_control_policy" if kind == "SCP" else "resource_control_policy"
    return Resource(
        id=f"arn:aws:organizations::{MANAGEMENT}:policy/{ORG}/{folder}/p-{name}",
        type="aws.organizations.policy", provider="aws", account=MANAGEMENT, name=name,
        attributes={"policy_id": f"p-{name}", "description": name, "aws_managed": False,
                    "policy_type": ("SERVICE_CONTROL_POLICY" if kind == "SCP"
                                    else "RESOURCE_CONTROL_POLICY"),
                    "document": document, "targets": []})


def org_account(account: str, scps: Sequence[Sequence[Resource]] | None,
                rcps: Sequence[Sequence[Resource]] | None,
                unknown: Iterable[str] = ()) -> Resource:
    def levels(found: Sequence[Sequence[Resource]] | None) -> list[dict[str, Any]] | None:
        if found is None:
            return None
        return [{"target_id": ROOT_ID if depth == 0 else f"ou-{depth}",
                 "target_type": "ROOT" if depth == 0 else "ORGANIZATIONAL_UNIT",
                 "policies": sorted(p.id for p in level)} for depth, level in enumerate(found)]

    return Resource(
        id=f"arn:aws:organizations::{MANAGEMENT}:account/{ORG}/{account}",
        type="aws.organizations.account", provider="aws", account=account, name=account,
        attributes={"account_id": account, "email": f"{account}@example.com",
                    "status": "ACTIVE", "organization_id": ORG,
                    "management_account_id": MANAGEMENT,
                    "is_management_account": account == MANAGEMENT,
                    "parents": [{"id": ROOT_ID, "type": "ROOT", "name": "Root", "arn": None}],
                    "service_control_policies": levels(scps),
                    "resource_control_policies": levels(rcps)},
        unknown=list(unknown))


def organization(member_scps: Sequence[Sequence[Resource]] | None = None,
                 member_rcps: Sequence[Sequence[Resource]] | None = None,
                 members: Iterable[str] = (ACCOUNT,),
                 unknown: Iterable[str] = ()) -> list[Resource]:
    """The organization's records: the members governed by the given levels (the full-access
    policies alone by default), the management account by nothing."""
    full_scp, full_rcp = org_policy("full", FULL_SCP), org_policy("rfull", FULL_RCP, "RCP")
    scps = member_scps if member_scps is not None else [[full_scp]]
    rcps = member_rcps if member_rcps is not None else [[full_rcp]]
    policies = {p.id: p for levels in (scps, rcps) for level in levels for p in level}
    policies.update({full_scp.id: full_scp, full_rcp.id: full_rcp})
    accounts = [org_account(m, scps, rcps, unknown) for m in members]
    return [*policies.values(), *accounts, org_account(MANAGEMENT, None, None)]


def org_inventory(*resources: Resource, accounts: Iterable[str] = (ACCOUNT,)) -> Inventory:
    return inventory(*resources, accounts=[account_record(a, org=ORG) for a in accounts])


def decisions(inv: Inventory, name: str, access: str = "read") -> dict[str, str]:
    return {p: g.decision for p, g in who(inv, name, access).items()}


ALICE = arn("user", "alice")
ROOT = arn("root", "")
ADMIN = {"admin": doc(allow("*"))}
PARTNER_ROOT = arn("root", "", OTHER)
MANAGER = arn("user", "manager", MANAGEMENT)


# --- SCPs -------------------------------------------------------------------------------------


def test_an_scp_deny_removes_member_principals_not_the_management_accounts() -> None:
    """'SCPs don't affect users or roles in the management account'; they govern every
    principal of a member account, its root user too. A principal of the management account
    granted by the bucket policy keeps its access to the member's bucket."""
    no_reads = org_policy("no-reads", doc(deny("s3:GetObject*")))
    policy = doc({"Effect": "Allow", "Principal": {"AWS": MANAGER}, "Action": "s3:GetObject",
                  "Resource": "arn:aws:s3:::data/*"})
    inv = org_inventory(user("alice", inline=ADMIN), user("manager", inline=ADMIN,
                                                          account=MANAGEMENT),
                        bucket("data", policy=policy),
                        *organization([[org_policy("full", FULL_SCP)], [no_reads]]),
                        accounts=(ACCOUNT, MANAGEMENT))
    assert decisions(inv, "data") == {MANAGER: "allow"}
    without = org_inventory(user("alice", inline=ADMIN), user("manager", inline=ADMIN,
                                                              account=MANAGEMENT),
                            bucket("data", policy=policy), accounts=(ACCOUNT, MANAGEMENT))
    assert decisions(without, "data") == {ALICE: "allow", ROOT: "allow", MANAGER: "allow"}


def test_every_level_must_allow_an_allow_list_in_an_ou_limits_its_accounts() -> None:
    """'SCP evaluation': an action is allowed only if every level from the root to the
    account allows it. An OU allowing reads only removes writes, whatever IAM grants."""
    reads_only = org_policy("reads-only", doc(allow(["s3:Get*", "s3:List*"])))
    inv = org_inventory(user("alice", inline=ADMIN), bucket("data"),
                        *organization([[org_policy("full", FULL_SCP)], [reads_only],
                                       [org_policy("full", FULL_SCP)]]))
    assert decisions(inv, "data", "read") == {ALICE: "allow", ROOT: "allow"}
    assert decisions(inv, "data", "write") == {}
    assert decisions(inv, "data", "s3:GetObjectVersion") == {ALICE: "allow", ROOT: "allow"}


def test_scps_leave_service_linked_roles_services_and_anonymous_callers_alone() -> None:
    """'SCPs don't affect service-linked roles', nor AWS service principals, nor anonymous
    callers: none of them is a principal of the member account governed."""
    everything = org_policy("deny-all", doc(deny("s3:*")))
    linked = role("AWSServiceRoleForReplication", service_trust("s3.amazonaws.com"),
                  inline=ADMIN)
    linked.attributes.update(path="/aws-service-role/s3.amazonaws.com/", service_linked=True)
    policy = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                  "Resource": "arn:aws:s3:::data/*"},
                 {"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
                  "Action": "s3:PutObject", "Resource": "arn:aws:s3:::data/*"})
    resources = [user("alice", inline=ADMIN), linked, bucket("data", policy=policy)]
    inv = org_inventory(*resources, *organization([[org_policy("full", FULL_SCP), everything]]))
    for access in ("read", "write"):
        before = decisions(org_inventory(*resources, *organization()), "data", access)
        assert {linked.id, ALICE, ROOT} <= before.keys()
        # only the member account's own users and root user lose their access
        assert decisions(inv, "data", access) == {
            p: d for p, d in before.items() if p not in (ALICE, ROOT)}
    assert {"*", "logging.s3.amazonaws.com"} <= decisions(inv, "data", "s3:*").keys()


def test_scps_of_the_assumer_and_of_the_role_both_apply_to_a_chain() -> None:
    """Assuming a role is a request of the assumer (its account's SCPs); what the role then
    does is a request of the role (its own account's SCPs)."""
    reader = role("reader", trust(ALICE), inline={"r": doc(allow("s3:GetObject"))})
    alice = user("alice", inline={"assume": doc(allow("sts:AssumeRole"))})
    no_assume = org_policy("no-assume", doc(deny("sts:AssumeRole")))
    open_org = org_inventory(alice, reader, bucket("data"), *organization())
    assert decisions(open_org, "data") == {ALICE: "allow", reader.id: "allow", ROOT: "allow"}
    closed = org_inventory(alice, reader, bucket("data"),
                           *organization([[org_policy("full", FULL_SCP), no_assume]]))
    assert decisions(closed, "data") == {reader.id: "allow", ROOT: "allow"}


# --- RCPs -------------------------------------------------------------------------------------


PERIMETER = rcp("Deny", "s3:*", condition={
    "StringNotEqualsIfExists": {"aws:PrincipalAccount": [ACCOUNT, SIBLING, MANAGEMENT]},
    "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}})


def test_an_rcp_denies_other_accounts_and_anonymous_callers_a_bucket_policy_lets_in() -> None:
    """'RCP evaluation': RCPs govern every request to a member account's resources, from
    principals outside the organization and anonymous ones too; AWS service principals are
    governed as well (the perimeter exempts them by its own condition)."""
    policy = doc({"Effect": "Allow", "Principal": {"AWS": [PARTNER_ROOT, "*"]},
                  "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::data/*"},
                 {"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
                  "Action": "s3:PutObject", "Resource": "arn:aws:s3:::data/*"})
    resources = [user("alice", inline=ADMIN), bucket("data", policy=policy)]
    inv = org_inventory(*resources, *organization(None, [[org_policy("rfull", FULL_RCP, "RCP"),
                                                          org_policy("perimeter", doc(PERIMETER),
                                                                     "RCP")]]))
    # any principal of any account may be one of the organization's; the perimeter exempts
    # AWS services, let in by their own statement (and by "*")
    kept = {ALICE: "allow", ROOT: "allow", "arn:aws:iam::*:root": "conditional",
            "logging.s3.amazonaws.com": "allow"}
    assert decisions(inv, "data", "read") == kept
    assert decisions(inv, "data", "write") == kept
    without = decisions(org_inventory(*resources, *organization()), "data", "read")
    assert {PARTNER_ROOT, "*", "arn:aws:iam::*:root"} <= without.keys()


def test_rcps_never_govern_the_management_accounts_resources() -> None:
    """'RCPs don't affect resources in the management account'."""
    deny_reads = org_policy("deny-reads", doc(rcp("Deny", "s3:GetObject")), "RCP")
    inv = org_inventory(user("manager", inline=ADMIN, account=MANAGEMENT),
                        bucket("mgmt-data", policy=public_read("mgmt-data"), account=MANAGEMENT),
                        user("alice", inline=ADMIN), bucket("data", policy=public_read("data")),
                        *organization(None, [[org_policy("rfull", FULL_RCP, "RCP"),
                                              deny_reads]]),
                        accounts=(ACCOUNT, MANAGEMENT))
    assert decisions(inv, "data", "s3:GetObject") == {}
    assert set(decisions(inv, "mgmt-data", "s3:GetObject")) == {
        "*", "arn:aws:iam::*:root", MANAGER, arn("root", "", MANAGEMENT), ALICE, ROOT}


def test_an_rcp_with_a_condition_the_audit_cannot_decide_makes_grants_conditional() -> None:
    """An RCP Deny that may apply leaves a maybe, shown with the RCP's condition; its Allow
    statements never appear in a proof (they grant nothing)."""
    tls = org_policy("from-vpc", doc(rcp("Deny", "s3:GetObject*", condition={
        "StringNotEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"}})), "RCP")
    inv = org_inventory(user("alice", inline=ADMIN), bucket("data"),
                        *organization(None, [[org_policy("rfull", FULL_RCP, "RCP"), tls]]))
    grant = who(inv, "data")[ALICE]
    assert grant.decision == "conditional"
    assert [c["policy"] for c in grant.conditions] == [tls.id]
    assert [s.policy for s in grant.path] == [f"{ALICE}#inline:admin"]


def test_rcps_govern_customer_managed_keys_and_kms_grants_too() -> None:
    """Reading an SSE-KMS object is also a request to the key: its account's RCPs govern it,
    whether the key policy or a KMS grant allows."""
    deny_decrypt = org_policy("deny-decrypt", doc(rcp("Deny", "kms:Decrypt", condition={
        "StringNotEquals": {"aws:PrincipalArn": ALICE}})), "RCP")
    key = kms_key("k1", doc({"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*",
                             "Resource": "*"}),
                  grants=[{"grant_id": "g1", "grantee_principal": arn("user", "bob"),
                           "operations": ["Decrypt"], "constraints": None}])
    # carol's own side is alice's: only who she is tells their key answers apart
    resources = [user("alice", inline=ADMIN), user("carol", inline=ADMIN),
                 user("bob", inline={"s3": doc(allow("s3:*"))}),
                 key, bucket("data", encryption=sse_kms(key_arn("k1")))]
    open_org = org_inventory(*resources, *organization())
    assert set(decisions(open_org, "data")) == {ALICE, arn("user", "carol"), arn("user", "bob"),
                                                ROOT}
    inv = org_inventory(*resources, *organization(None, [[org_policy("rfull", FULL_RCP, "RCP"),
                                                          deny_decrypt]]))
    assert decisions(inv, "data") == {ALICE: "allow"}


def test_an_rcp_on_the_roles_account_governs_assuming_it() -> None:
    """STS supports RCPs: assuming a role of a member account is governed by its account's
    RCPs, for callers of other accounts too."""
    reader = role("reader", trust(PARTNER_ROOT), inline={"r": doc(allow("s3:GetObject"))})
    no_outside = org_policy("no-outside", doc(rcp("Deny", "sts:AssumeRole", condition={
        "StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}})), "RCP")
    open_org = org_inventory(reader, bucket("data"), *organization())
    assert decisions(open_org, "data") == {PARTNER_ROOT: "allow", reader.id: "allow",
                                           ROOT: "allow"}
    closed = org_inventory(reader, bucket("data"), *organization(None, [[
        org_policy("rfull", FULL_RCP, "RCP"), no_outside]]))
    assert decisions(closed, "data") == {reader.id: "allow", ROOT: "allow"}


def test_an_rcp_naming_some_roles_tells_apart_roles_that_trust_alike() -> None:
    """Roles with one trust policy share who may assume them, unless a statement that takes
    part names roles: here an RCP keeps the partner out of the admin roles only."""
    reads = {"r": doc(allow("s3:GetObject"))}
    roles = [role(name, trust(PARTNER_ROOT), inline=reads) for name in ("reader", "admin-1")]
    admins = org_policy("admins-inside", doc(rcp(
        "Deny", "sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/admin-*",
        {"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}})), "RCP")
    inv = org_inventory(*roles, bucket("data"), *organization(None, [[
        org_policy("rfull", FULL_RCP, "RCP"), admins]]))
    [via] = [g for g in who(inv, "data").values() if g.principal == PARTNER_ROOT]
    assert [s.principal for s in via.path] == [PARTNER_ROOT, roles[0].id]
    model = AccessModel(inv)
    assert [e.source for g in model.assumptions.into(roles[1].id) for e in g.edges] == []
    assert [e.source for g in model.assumptions.into(roles[0].id) for e in g.edges] == [
        PARTNER_ROOT]


def test_rcps_govern_acl_grantees_no_principal_stands_for() -> None:
    """An ACL grant to a canonical user the inventory cannot tie to an account is read as
    "some principal of some account": what the RCPs say to any principal of any account."""
    stranger = "f" * 64

    def readers(rcps: list[list[Resource]]) -> dict[str, str]:
        record = bucket("data", objects=[("w.pt", "private")])
        record.attributes["object_sample"][0]["acl"]["grants"].append(
            {"grantee_type": "CanonicalUser", "grantee_id": stranger, "grantee_uri": None,
             "grantee_email": None, "permission": "READ"})
        return decisions(org_inventory(record, *organization(None, rcps)), "data")

    full = org_policy("rfull", FULL_RCP, "RCP")
    perimeter = org_policy("perimeter", doc(rcp("Deny", "s3:*", condition={
        "StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG}})), "RCP")
    no_reads = org_policy("no-reads", doc(rcp("Deny", "s3:GetObject*")), "RCP")
    assert readers([[full]])[f"canonical-user:{stranger}"] == "allow"
    assert readers([[full, perimeter]])[f"canonical-user:{stranger}"] == "conditional"
    assert f"canonical-user:{stranger}" not in readers([[full, no_reads]])


def test_scps_remove_privilege_escalation_paths_of_member_principals() -> None:
    """Escalation methods are requests of the principal: its account's SCPs govern them."""
    methods = load_methods()
    resources = [user("alice", inline={"p": doc(allow("iam:CreateLoginProfile"))}), user("bob")]
    open_org = escalation_paths(org_inventory(*resources, *organization()), methods)
    assert [(p.principal, p.method) for p in open_org] == [(ALICE, "iam-004")]
    no_logins = org_policy("no-logins", doc(deny("iam:CreateLoginProfile")))
    closed = org_inventory(*resources, *organization([[org_policy("full", FULL_SCP),
                                                       no_logins]]))
    assert escalation_paths(closed, methods) == []


# --- what is not known, and what there is not ---------------------------------------------------


def analyzed(inv: Inventory, name: str = "data") -> Any:
    [asset] = AwsAnalyzer().analyze(inv, {f"arn:aws:s3:::{name}": Classification("training-data")})
    return asset


@pytest.mark.parametrize("gap", ["service_control_policies", "document"])
def test_levels_not_known_leave_grants_that_may_not_hold(gap: str) -> None:
    """Unknown levels are left out (SCPs only remove), and every grant they could remove is
    named in ``may_not_hold``, never in ``unknown`` (they cannot add anyone)."""
    def analyzed_with(known: bool) -> Any:
        deny_all = org_policy("deny-all", doc(deny("*")))
        records = organization([[org_policy("full", FULL_SCP), deny_all]],
                               unknown=[gap] if gap != "document" and not known else ())
        if gap == "document" and not known:
            deny_all.unknown.append("document")
            deny_all.attributes["document"] = None
        return analyzed(org_inventory(user("alice", inline=ADMIN), bucket("data"), *records))

    asset = analyzed_with(known=False)
    assert {g.principal for g in asset.grants} == {ALICE, ROOT}
    assert asset.unknown == []
    [note] = asset.may_not_hold
    assert f"SCPs of account {ACCOUNT}" in note and "may not hold" in note
    known = analyzed_with(known=True)
    assert (known.grants, known.may_not_hold) == ([], [])


def test_rcps_not_known_are_named_for_the_buckets_account() -> None:
    records = organization(unknown=["resource_control_policies"])
    asset = analyzed(org_inventory(user("alice", inline=ADMIN), bucket("data"), *records))
    assert [n for n in asset.may_not_hold if "RCPs of account" in n] == [
        f"the RCPs of account {ACCOUNT} are not known "
        f"({records[-2].id}: resource_control_policies not collected): they could only deny, "
        "so grants on its resources may not hold"]
    assert not any("SCPs" in n for n in asset.may_not_hold)


def test_without_organizations_data_nothing_is_governed() -> None:
    """A single-account scan lists no organization: no guardrails, no gaps, the answers of
    before (the golden files hold that for the dev scenario)."""
    inv = inventory(user("alice", inline=ADMIN), bucket("data"))
    assert read_guardrails(inv) is NO_GUARDRAILS
    assert all(p.scps is None for p in build_graph(inv))
    assert analyzed(inv).may_not_hold == []


def test_member_accounts_that_were_not_scanned_are_not_audited() -> None:
    """The organization lists accounts it did not scan: a principal of one named in a bucket
    policy is another account's principal (its identity side assumed), governed by that
    account's SCPs, with its organization known."""
    policy = doc({"Effect": "Allow", "Principal": {"AWS": arn("role", "etl", SIBLING)},
                  "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"})
    records = organization(members=(ACCOUNT, SIBLING))
    graph = build_graph(org_inventory(bucket("data", policy=policy), *records))
    etl = graph.get(arn("role", "etl", SIBLING))
    assert etl is not None and etl.kind == "external-account" and etl.scps is not None
    assert etl.caller.keys["aws:PrincipalOrgID"] == ORG
    assert graph.get(arn("root", "", SIBLING)) is None  # not an audited account


# --- the analyzer answers what the evaluator answers, on random organizations --------------------

_SCPS = {
    "deny-deletes": doc(deny("s3:DeleteObject*")),
    "deny-secret-reads": doc(deny("s3:GetObject", "arn:aws:s3:::secret-*/*")),
    "region-lock": doc({"Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
                        "Condition": {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}}),
    "reads-only": doc(allow(["s3:Get*", "s3:List*", "kms:Decrypt", "sts:AssumeRole"])),
    "no-interns": doc(deny("s3:*", Condition={"StringEquals": {"aws:PrincipalTag/team":
                                                               "intern"}})),
}
_RCPS = {
    "perimeter": doc(rcp("Deny", ["s3:GetObject", "s3:PutObject"], condition={
        "StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG},
        "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}})),
    "keep-data": doc(rcp("Deny", "s3:DeleteObject", "arn:aws:s3:::data-*/*")),
    "private-prefix": doc(rcp("Deny", "s3:GetObject", "arn:aws:s3:::*/private/*",
                              {"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}})),
    "own-keys": doc(rcp("Deny", "kms:Decrypt",
                        condition={"StringNotEquals": {"kms:CallerAccount": [ACCOUNT,
                                                                             SIBLING]}})),
    "frozen": doc(rcp("Deny", "s3:PutObject",
                      condition={"StringEquals": {"s3:BucketTag/frozen": "true"}})),
}
_IDENTITY = [doc(allow("s3:*")), doc(allow("s3:GetObject", "arn:aws:s3:::data-*/*")),
             doc(allow(["s3:*", "kms:Decrypt"])), doc(allow(["s3:PutObject", "s3:DeleteObject"]))]
_QUESTIONS = [question_for(a) for a in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                                         "read", "write", "delete")]
_MEMBERS = (ACCOUNT, SIBLING)
_ALL = (ACCOUNT, SIBLING, MANAGEMENT)


def random_organization(rng: random.Random) -> tuple[Inventory, dict[str, Any]]:
    """A small organization: two members with random SCP and RCP levels, its management
    account, buckets and users in each, and a partner outside. Identity and bucket policies
    have no conditions, so that what is undecided is the guardrails' alone."""
    full_scp, full_rcp = org_policy("full", FULL_SCP), org_policy("rfull", FULL_RCP, "RCP")
    scp_records = {name: org_policy(name, document) for name, document in _SCPS.items()}
    rcp_records = {name: org_policy(name, document, "RCP") for name, document in _RCPS.items()}

    def levels(full: Resource, pool: Mapping[str, Resource], depth: int) -> list[list[Resource]]:
        found = []
        for _ in range(depth):
            level = [full] if rng.random() < 0.85 else []
            level += rng.sample(sorted(pool.values(), key=lambda r: r.id), rng.randint(0, 2))
            found.append(level or [full])
        return found

    governed = {account: (levels(full_scp, scp_records, rng.randint(1, 3)),
                          levels(full_rcp, rcp_records, rng.randint(1, 3)))
                for account in _MEMBERS}
    records: list[Resource] = [full_scp, full_rcp, *scp_records.values(), *rcp_records.values(),
                               org_account(MANAGEMENT, None, None)]
    records += [org_account(a, *governed[a]) for a in _MEMBERS]
    resources: list[Resource] = []
    for account in _ALL:
        for index in range(2):
            tags = {"team": "intern"} if rng.random() < 0.2 else {}
            resources.append(user(f"u{index}", inline={"p": rng.choice(_IDENTITY)}, tags=tags,
                                  account=account))
        key = f"key-{account}"
        resources.append(kms_key(key, doc({"Effect": "Allow",
                                           "Principal": {"AWS": [arn("root", "", account),
                                                                 PARTNER_ROOT]},
                                           "Action": "kms:*", "Resource": "*"}),
                                 account=account))
        for name in ("data", "secret"):
            bucket_name = f"{name}-{account}-{rng.randint(0, 9)}"
            grants = [{"Effect": "Allow", "Principal": {"AWS": rng.choice(
                [PARTNER_ROOT, "*", arn("root", "", SIBLING)])},
                       "Action": rng.choice(["s3:GetObject", "s3:*"]),
                       "Resource": f"arn:aws:s3:::{bucket_name}/*"}] if rng.random() < 0.6 else []
            if rng.random() < 0.3:
                grants.append({"Effect": "Allow",
                               "Principal": {"Service": "logging.s3.amazonaws.com"},
                               "Action": "s3:PutObject",
                               "Resource": f"arn:aws:s3:::{bucket_name}/*"})
            resources.append(bucket(
                bucket_name, policy=doc(*grants) if grants else None, account=account,
                ownership="BucketOwnerEnforced",
                objects=[("public/a.parquet", None), ("private/b.parquet", None)],
                encryption=sse_kms(key_arn(key, account)) if rng.random() < 0.4 else None,
                tags={"frozen": "true"} if rng.random() < 0.3 else None))
    linked = role("AWSServiceRoleForS3", service_trust("s3.amazonaws.com"),
                  inline={"p": doc(allow(["s3:*", "kms:Decrypt"]))})
    linked.attributes.update(path="/aws-service-role/s3.amazonaws.com/", service_linked=True)
    resources.append(linked)
    inv = Inventory()
    inv.add([Scope("aws", a, ("us-east-1",), ()) for a in _ALL])
    inv.add([account_record(a, org=ORG) for a in _ALL])
    inv.add([*resources, *records])
    for resource in inv.of_type("aws.s3.bucket"):
        resource.region = rng.choice(["us-east-1", "us-east-1", "eu-west-1"])
    spec = {"scps": {a: _named(governed[a][0]) for a in _MEMBERS},
            "rcps": {a: _named(governed[a][1]) for a in _MEMBERS}}
    return inv, spec


def _named(levels: list[list[Resource]]) -> list[list[NamedPolicy]]:
    return [[NamedPolicy(r.id, r.attributes["document"]) for r in level] for level in levels]


def expected(model: AccessModel, spec: Mapping[str, Any], bucket_id: str,
             question: Question) -> dict[str, str]:
    """Each principal's best decision, asking the evaluator about every request with every
    policy that applies as the module docstring of ``organization`` says, nothing shared."""
    side = model.bucket(bucket_id)
    key = model.key(side)
    found: dict[str, str] = {}
    named = {value for statement in statements(side.resource.attributes.get("policy"))
             for kind, value in principal_entries(statement.get("Principal"))
             if kind == "Service"}
    for principal in model.graph:
        if principal.kind == "service" and principal.arn not in named:
            continue  # a service acts where a Service entry lets it in (``principals``)
        linked = principal.service_linked
        scps = spec["scps"].get(principal.account) if not linked else None
        best = None
        for action in question.actions:
            for target in model._targets(side, question)[action]:
                policy = side.policy_for(principal)
                if policy is BLOCKED:
                    continue
                s3 = _decide(principal, action, target, side.account, PolicySet(
                    identity=principal.identity, resource=policy, resource_policy_kind="s3",
                    boundary=principal.boundary, scps=scps,
                    rcps=None if linked else spec["rcps"].get(side.account)),
                    model._s3_context(side, principal))
                kms_action = KMS_NEEDS.get(action)
                kms = "allow"
                if s3 and kms_action and key is not None:
                    kms = None if principal.caller.anonymous else _decide(
                        principal, kms_action, key.arn, key.account, PolicySet(
                            identity=principal.identity, resource=key.policy,
                            resource_policy_kind="kms", boundary=principal.boundary, scps=scps,
                            rcps=None if linked else spec["rcps"].get(key.account)),
                        key.request_context(principal, side.arn if key.bucket_key else target))
                decision = None if not s3 or not kms else (
                    "allow" if s3 == kms == "allow" else "conditional")
                if decision == "allow" or (decision and best is None):
                    best = decision
        if best:
            found[principal.arn] = best
    return found


def _decide(principal: Any, action: str, resource: str, account: str, policies: PolicySet,
            extra: Mapping[str, Any]) -> str | None:
    result = Evaluations()._evaluate(principal.caller, action, resource, account, policies,
                                     {**principal.caller.keys, **extra})
    return result.decision if result.decision in ("allow", "conditional") else None


@pytest.mark.parametrize("seed", range(12))
def test_the_analyzer_answers_as_the_evaluator_with_every_policy(seed: int) -> None:
    rng = random.Random(seed)
    inv, spec = random_organization(rng)
    shared, alone = AccessModel(inv), AccessModel(inv, grouping=False)
    buckets = sorted(r.id for r in inv.of_type("aws.s3.bucket"))
    compared = 0
    for question in _QUESTIONS:
        for bucket_id in buckets:
            want = expected(alone, spec, bucket_id, question)
            for model in (shared, alone):
                got = {g.principal: g.decision
                       for g in model.grants(model.bucket(bucket_id), question)}
                assert got == want, (seed, bucket_id, question.access)
            compared += len(want)
    assert compared, "nobody can do anything: the comparison is empty"
