"""The AWS effective-access analyzer: S3 ACLs, Block Public Access, bucket policies, KMS, role
chains, boundaries and open-world conditions, on hand-built inventories (no emulator)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from auditor.access.aws.analyzer import AwsAnalyzer
from auditor.access.model import AccessGrant
from auditor.classify.model import Classification
from auditor.errors import InputError
from auditor.inventory import Inventory, Resource, Scope

ACCOUNT = "111122223333"
OTHER = "444455556666"
REGION = "us-east-1"
OWNER_ID = "c" * 64
DATA = Path(__file__).parent / "data"

# --- builders: resources shaped as docs/inventory.md describes them --------------------------


def arn(kind: str, name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:{kind}/{name}" if kind != "root" else \
        f"arn:aws:iam::{account}:root"


def doc(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def account_record(account: str = ACCOUNT, block: Mapping[str, bool] | None = None,
                   org: str | None = None) -> Resource:
    return Resource(id=arn("root", "", account), type="aws.account", provider="aws",
                    account=account, name=account,
                    attributes={"account_id": account, "s3_public_access_block": block,
                                "organization_id": org, "caller_arn": None})


def managed_policy(name: str, document: Mapping[str, Any], account: str = ACCOUNT) -> Resource:
    return Resource(id=arn("policy", name, account), type="aws.iam.policy", provider="aws",
                    account=account, name=name,
                    attributes={"document": document, "aws_managed": False,
                                "policy_id": f"ANPA{name.upper()}", "path": "/",
                                "default_version_id": "v1", "attachment_count": 1})


def user(name: str, inline: Mapping[str, Any] | None = None, attached: Iterable[str] = (),
         groups: Iterable[str] = (), tags: Mapping[str, str] | None = None,
         boundary: str | None = None, account: str = ACCOUNT) -> Resource:
    return Resource(id=arn("user", name, account), type="aws.iam.user", provider="aws",
                    account=account, name=name, tags=dict(tags or {}),
                    attributes={"user_id": f"AIDA{name.upper()}", "path": "/",
                                "groups": list(groups), "attached_policies": list(attached),
                                "inline_policies": dict(inline or {}),
                                "permissions_boundary": boundary, "mfa_devices": [],
                                "login_profile": None, "password_last_used": None})


def group(name: str, members: Iterable[str], inline: Mapping[str, Any] | None = None,
          attached: Iterable[str] = (), account: str = ACCOUNT) -> Resource:
    return Resource(id=arn("group", name, account), type="aws.iam.group", provider="aws",
                    account=account, name=name,
                    attributes={"group_id": f"AGPA{name.upper()}", "path": "/",
                                "attached_policies": list(attached),
                                "inline_policies": dict(inline or {}),
                                "members": [arn("user", m, account) for m in members]})


def role(name: str, trust: Mapping[str, Any], inline: Mapping[str, Any] | None = None,
         attached: Iterable[str] = (), boundary: str | None = None,
         tags: Mapping[str, str] | None = None, account: str = ACCOUNT) -> Resource:
    return Resource(id=arn("role", name, account), type="aws.iam.role", provider="aws",
                    account=account, name=name, tags=dict(tags or {}),
                    attributes={"role_id": f"AROA{name.upper()}", "path": "/",
                                "trust_policy": trust, "attached_policies": list(attached),
                                "inline_policies": dict(inline or {}),
                                "permissions_boundary": boundary, "last_used": None,
                                "service_linked": False})


def trust(*principals: Any, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "sts:AssumeRole",
                                 "Principal": {"AWS": list(principals)}}
    if condition:
        statement["Condition"] = condition
    return doc(statement)


def service_trust(service: str) -> dict[str, Any]:
    return doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}})


def key_arn(key_id: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:kms:{REGION}:{account}:key/{key_id}"


def kms_key(key_id: str, policy: Mapping[str, Any] | None, aliases: Iterable[str] = (),
            grants: Iterable[Mapping[str, Any]] = (), account: str = ACCOUNT,
            enabled: bool = True) -> Resource:
    aliases = list(aliases)
    return Resource(id=key_arn(key_id, account), type="aws.kms.key", provider="aws",
                    account=account, region=REGION, name=key_id,
                    attributes={"key_id": key_id, "aliases": aliases,
                                "alias_arns": [f"arn:aws:kms:{REGION}:{account}:{a}"
                                               for a in aliases],
                                "policy": policy, "key_manager": "CUSTOMER",
                                "key_state": "Enabled" if enabled else "Disabled",
                                "enabled": enabled, "grants": list(grants),
                                "key_spec": "SYMMETRIC_DEFAULT", "key_usage": "ENCRYPT_DECRYPT"})


def canned_acl(name: str | None, owner: str = OWNER_ID) -> dict[str, Any] | None:
    if name is None:
        return None
    grants = [{"grantee_type": "CanonicalUser", "grantee_id": owner, "grantee_uri": None,
               "grantee_email": None, "permission": "FULL_CONTROL"}]
    group_uri = "http://acs.amazonaws.com/groups/global/"
    extra = {"private": [], "public-read": [("AllUsers", "READ")],
             "public-read-write": [("AllUsers", "READ"), ("AllUsers", "WRITE")],
             "authenticated-read": [("AuthenticatedUsers", "READ")]}[name]
    grants.extend({"grantee_type": "Group", "grantee_id": None,
                   "grantee_uri": group_uri + who, "grantee_email": None, "permission": perm}
                  for who, perm in extra)
    return {"owner_id": owner, "grants": grants}


def bucket(name: str, policy: Mapping[str, Any] | None = None, acl: str = "private",
           ownership: str | None = None, block: Mapping[str, bool] | None = None,
           encryption: Mapping[str, Any] | None = None,
           objects: Iterable[tuple[str, str | None]] = (("data/part-0.parquet", "private"),),
           account: str = ACCOUNT, tags: Mapping[str, str] | None = None,
           owner: str = OWNER_ID) -> Resource:
    enforced = ownership == "BucketOwnerEnforced"
    sample = [{"key": key, "size": 1, "acl": None if enforced else canned_acl(object_acl, owner)}
              for key, object_acl in objects]
    return Resource(id=f"arn:aws:s3:::{name}", type="aws.s3.bucket", provider="aws",
                    account=account, region=REGION, name=name, tags=dict(tags or {}),
                    attributes={"owner_id": owner, "policy": policy,
                                "acl": canned_acl(acl, owner), "public_access_block": block,
                                "object_ownership": ownership,
                                "encryption": encryption or {"algorithm": "AES256",
                                                             "kms_key_id": None,
                                                             "bucket_key_enabled": False},
                                "versioning": {"status": None, "mfa_delete": False},
                                "object_sample": sample, "object_sample_truncated": False})


def sse_kms(key: str | None, bucket_key: bool = True) -> dict[str, Any]:
    return {"algorithm": "aws:kms", "kms_key_id": key, "bucket_key_enabled": bucket_key}


ALL_BLOCKED = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                             "RestrictPublicBuckets"), True)


def inventory(*resources: Resource, accounts: Iterable[Resource] | None = None) -> Inventory:
    built = Inventory()
    built.add(list(accounts) if accounts is not None else [account_record()])
    built.add(resources)
    return built


def who(inv: Inventory, name: str, access: str = "read") -> dict[str, AccessGrant]:
    grants = AwsAnalyzer().who_can(inv, f"arn:aws:s3:::{name}", access)
    return {g.principal: g for g in grants}


def allowed(inv: Inventory, name: str, access: str = "read") -> set[str]:
    return {p for p, g in who(inv, name, access).items() if g.decision == "allow"}


def reader(name: str, bucket_name: str, **user_kwargs: Any) -> Resource:
    return user(name, inline={"read": doc(allow("s3:GetObject", f"arn:aws:s3:::{bucket_name}/*"))},
                **user_kwargs)


ALICE = arn("user", "alice")
BOB = arn("user", "bob")
PARTNER = arn("root", "", OTHER)


# --- the dev scenario, built from its description (its answers are in the file) -------------

def scenario_inventory(scenario: Mapping[str, Any]) -> Inventory:
    """The inventory a scan of the seeded scenario holds, built without an emulator."""
    account, region = scenario["account_id"], scenario["region"]
    key_ids = {k["alias"]: f"{i:08d}-0000-4000-8000-000000000000"
               for i, k in enumerate(scenario["kms_keys"])}

    def resolve(value: Any) -> Any:
        text = json.dumps(value).replace("${ACCOUNT}", account).replace("${REGION}", region)
        text = re.sub(r"\$\{KEY_ARN:([^}]+)\}",
                      lambda m: f"arn:aws:kms:{region}:{account}:key/{key_ids[m.group(1)]}", text)
        return json.loads(text)

    def policy_arn(name: str) -> str:
        return name if name.startswith("arn:") else arn("policy", name, account)

    members: dict[str, list[str]] = {}
    for u in scenario["users"]:
        for g in u.get("groups", []):
            members.setdefault(g, []).append(u["name"])
    resources: list[Resource] = [
        managed_policy(p["name"], resolve(p["document"]), account)
        for p in scenario["managed_policies"]]
    resources += [group(g["name"], members.get(g["name"], []), resolve(g["inline_policies"]),
                        [policy_arn(n) for n in g["managed_policies"]], account)
                  for g in scenario["groups"]]
    resources += [user(u["name"], resolve(u["inline_policies"]),
                       [policy_arn(n) for n in u["managed_policies"]], u["groups"], u["tags"],
                       account=account) for u in scenario["users"]]
    resources += [role(r["name"], resolve(r["trust_policy"]), resolve(r["inline_policies"]),
                       [policy_arn(n) for n in r["managed_policies"]],
                       policy_arn(r["permissions_boundary"]) if r["permissions_boundary"]
                       else None, r["tags"], account) for r in scenario["roles"]]
    resources += [kms_key(key_ids[k["alias"]], resolve(k["policy"]), [k["alias"]],
                          account=account) for k in scenario["kms_keys"]]
    for b in scenario["buckets"]:
        encryption = b["encryption"]
        if encryption and encryption["type"] == "aws:kms":
            alias = encryption.get("key_alias")
            encryption = sse_kms(key_arn(key_ids[alias], account) if alias else None,
                                 bool(encryption.get("bucket_key")))
        elif encryption:
            encryption = {"algorithm": "AES256", "kms_key_id": None,
                          "bucket_key_enabled": False}
        record = bucket(b["name"], resolve(b["policy"]), b["acl"], b["object_ownership"],
                        b["public_access_block"], encryption,
                        [(o["key"], o.get("acl", "private")) for o in b["objects"]],
                        account, b["tags"])
        if b["encryption"] is None:
            record.attributes["encryption"] = None
        resources.append(record)
    return inventory(*resources, accounts=[
        account_record(account, scenario["account_public_access_block"])])


def _scenario() -> dict[str, Any]:
    path = DATA / "aws-ml-org.json"
    if not path.is_file():
        pytest.skip(f"{path} (the dev scenario, copied from shared/scenarios) is missing")
    return json.loads(path.read_text(encoding="utf-8"))


def _check_expectations(scenario: Mapping[str, Any], inv: Inventory) -> list[str]:
    problems = []
    analyzer = AwsAnalyzer()
    for aspect, classes in (("can_read", ("read",)), ("can_write", ("write", "delete"))):
        for name, expected in scenario["expected"][aspect].items():
            grants = [g for access in classes
                      for g in analyzer.who_can(inv, f"arn:aws:s3:::{name}", access)]
            sure = {g.principal for g in grants if g.decision == "allow"}
            anyhow = {g.principal for g in grants}
            problems += [f"{aspect} {name}: {p} missing" for p in expected["must_include"]
                         if p not in sure]
            problems += [f"{aspect} {name}: {p} wrongly present "
                         f"({[g.path for g in grants if g.principal == p][:1]})"
                         for p in expected["must_exclude"] if p in anyhow]
    return problems


def test_dev_scenario_expectations_hold_on_a_hand_built_inventory() -> None:
    scenario = _scenario()
    assert _check_expectations(scenario, scenario_inventory(scenario)) == []


# --- ACLs, Object Ownership and Block Public Access -------------------------------------------

def test_bucket_acl_read_lets_anyone_list_but_not_read_objects() -> None:
    inv = inventory(bucket("b", acl="public-read"))
    assert "*" in allowed(inv, "b", "s3:ListBucket")
    assert "*" not in who(inv, "b", "read")


def test_object_acl_read_lets_anyone_read_that_object_and_the_proof_names_it() -> None:
    inv = inventory(bucket("b", objects=[("secret.bin", "private"), ("weights.pt", "public-read")]))
    grant = who(inv, "b", "read")["*"]
    assert grant.decision == "allow" and grant.kind == "public" and grant.public
    assert [(s.policy, s.statement) for s in grant.path] == [
        ("arn:aws:s3:::b/weights.pt#object-acl", "AllUsers:READ")]
    private = AwsAnalyzer().who_can(inv, "arn:aws:s3:::b/secret.bin", "s3:GetObject")
    assert "*" not in {g.principal for g in private}


def test_bucket_owner_enforced_ownership_disables_every_acl() -> None:
    record = bucket("b", acl="public-read-write", ownership="BucketOwnerEnforced")
    record.attributes["object_sample"][0]["acl"] = canned_acl("public-read")
    inv = inventory(record)
    for access in ("read", "write", "s3:ListBucket"):
        assert "*" not in who(inv, "b", access)


def test_ignore_public_acls_on_the_account_wins_over_an_unset_bucket() -> None:
    inv = inventory(bucket("b", objects=[("w.pt", "public-read")]),
                    accounts=[account_record(block={"IgnorePublicAcls": True})])
    assert "*" not in who(inv, "b", "read")


def test_authenticated_users_means_any_signed_principal_never_anonymous() -> None:
    other = role("partner-reader", trust(PARTNER))  # names the partner account somewhere
    inv = inventory(other, bucket("b", objects=[("w.pt", "authenticated-read")]))
    readers = allowed(inv, "b")
    assert "*" not in who(inv, "b")
    assert {"arn:aws:iam::*:root", PARTNER} <= readers
    assert who(inv, "b")["arn:aws:iam::*:root"].kind == "public"


def test_bucket_acl_write_lets_the_grantee_put_and_delete_but_not_read() -> None:
    inv = inventory(bucket("b", acl="public-read-write"))
    assert "*" in allowed(inv, "b", "write") and "*" in allowed(inv, "b", "delete")
    assert "*" not in who(inv, "b", "read")


PUBLIC_AND_PARTNER = doc(
    {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
     "Resource": "arn:aws:s3:::b/*"},
    {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": PARTNER},
     "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})


@pytest.mark.parametrize("where", ["bucket", "account"])
def test_restrict_public_buckets_blocks_anonymous_and_every_other_account(where: str) -> None:
    block = {"RestrictPublicBuckets": True}
    record = bucket("b", PUBLIC_AND_PARTNER, block=block if where == "bucket" else None)
    accounts = [account_record(block=block if where == "account" else None)]
    inv = inventory(record, reader("alice", "b"), user("bob"), accounts=accounts)
    readers = set(who(inv, "b"))
    assert "*" not in readers and PARTNER not in readers and "arn:aws:iam::*:root" not in readers
    assert ALICE in allowed(inv, "b")  # authorized users of the owning account still read
    assert BOB not in readers  # the neutralised public statement authorizes nobody


def test_without_restrict_public_buckets_the_same_policy_lets_everyone_in() -> None:
    inv = inventory(bucket("b", PUBLIC_AND_PARTNER))
    assert {"*", PARTNER} <= allowed(inv, "b")


ORG_ONLY = doc({"Sid": "OrgOnly", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}})


def test_organization_scoped_wildcard_is_neither_anonymous_nor_public() -> None:
    # RestrictPublicBuckets would block a public policy for the partner: this one is not public
    inv = inventory(bucket("b", ORG_ONLY, block={"RestrictPublicBuckets": True}), user("bob"),
                    role("partner-reader", trust(PARTNER)))
    grants = who(inv, "b")
    assert "*" not in grants  # anonymous requests carry no organization id
    # the audited account's organization is not known, nor the partner's: a maybe, shown
    for principal in (BOB, PARTNER):
        assert grants[principal].decision == "conditional"
        assert grants[principal].conditions[0]["condition"] == {
            "StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}


def test_a_known_organization_decides_principal_org_id() -> None:
    member = inventory(bucket("b", ORG_ONLY), user("bob"),
                       accounts=[account_record(org="o-abc123")])
    stranger = inventory(bucket("b", ORG_ONLY), user("bob"),
                         accounts=[account_record(org="o-other")])
    assert who(member, "b")[BOB].decision == "allow"
    assert BOB not in who(stranger, "b")


# --- bucket policies, identity policies, boundaries, conditions ------------------------------

def test_cross_account_access_needs_both_sides() -> None:
    other = "777788889999"
    own_side = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other}:root"},
                    "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/*"})
    inv = inventory(
        bucket("shared", own_side), bucket("private"),
        reader("carol", "shared", account=other), user("dan", account=other),
        reader("erin", "private", account=other),
        accounts=[account_record(), account_record(other)])
    assert arn("user", "carol", other) in allowed(inv, "shared")  # both sides allow
    assert arn("user", "dan", other) not in who(inv, "shared")  # its own account does not
    assert arn("user", "erin", other) not in who(inv, "private")  # the bucket does not


def test_an_account_named_only_elsewhere_cannot_read() -> None:
    inv = inventory(role("partner-reader", trust(PARTNER)), bucket("b"))
    assert PARTNER not in who(inv, "b")


def test_an_account_granted_by_the_bucket_policy_reads_with_the_proof() -> None:
    policy = doc({"Sid": "PartnerRead", "Effect": "Allow", "Principal": {"AWS": OTHER},
                  "Action": ["s3:GetObject", "s3:ListBucket"],
                  "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]})
    grant = who(inventory(bucket("b", policy)), "b")[PARTNER]
    assert grant.kind == "external-account" and grant.external and grant.human is None
    assert ("arn:aws:s3:::b#bucket-policy", "PartnerRead") in {
        (s.policy, s.statement) for s in grant.path}
    assert PARTNER not in who(inventory(bucket("b", policy)), "b", "write")


def test_an_explicit_deny_in_the_bucket_policy_beats_an_identity_allow() -> None:
    policy = doc({"Effect": "Deny", "Principal": {"AWS": ALICE}, "Action": "s3:*",
                  "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]})
    inv = inventory(bucket("b", policy), reader("alice", "b"), reader("bob", "b"))
    assert ALICE not in who(inv, "b") and BOB in allowed(inv, "b")


def test_not_principal_deny_exempts_exactly_the_listed_principals() -> None:
    policy = doc({"Effect": "Deny", "NotPrincipal": {"AWS": [ALICE, arn("root", "")]},
                  "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]})
    inv = inventory(bucket("b", policy), reader("alice", "b"), reader("bob", "b"),
                    role("analyst", trust(BOB), {"read": doc(allow("s3:GetObject", "*"))}))
    readers = who(inv, "b")
    assert ALICE in readers and arn("root", "") in readers
    assert BOB not in readers and arn("role", "analyst") not in readers


def test_a_permissions_boundary_caps_what_identity_policies_grant() -> None:
    everything = doc(allow("s3:*"))
    inv = inventory(
        managed_policy("no-s3", doc(allow("sagemaker:*"))),
        managed_policy("read-only", doc(allow("s3:GetObject"))), bucket("b"),
        role("capped", service_trust("sagemaker.amazonaws.com"), {"all": everything},
             boundary=arn("policy", "no-s3")),
        role("reader", service_trust("sagemaker.amazonaws.com"), {"all": everything},
             boundary=arn("policy", "read-only")))
    assert arn("role", "capped") not in who(inv, "b")
    assert arn("role", "reader") in allowed(inv, "b")
    assert arn("role", "reader") not in who(inv, "b", "write")


def test_a_tls_only_bucket_reads_as_allowed_over_tls_not_as_a_maybe() -> None:
    tls_only = doc({"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                    "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    grant = who(inventory(bucket("b", tls_only), reader("alice", "b")), "b")[ALICE]
    assert grant.decision == "allow" and grant.conditions == ()


@pytest.mark.parametrize("statement", [
    allow("s3:GetObject", "arn:aws:s3:::b/*",
          Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
    allow("s3:GetObject", "arn:aws:s3:::b/*",
          Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
])
def test_a_condition_unknown_at_audit_time_gives_a_maybe_with_the_condition(statement) -> None:
    grant = who(inventory(bucket("b"), user("alice", {"p": doc(statement)})), "b")[ALICE]
    assert grant.decision == "conditional"
    assert [c["condition"] for c in grant.conditions] == [statement["Condition"]]


def test_a_deny_outside_a_vpc_endpoint_makes_every_grant_a_maybe() -> None:
    policy = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                  "Resource": "arn:aws:s3:::b/*",
                  "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b"}}})
    grant = who(inventory(bucket("b", policy), reader("alice", "b")), "b")[ALICE]
    assert grant.decision == "conditional"
    assert grant.conditions[0]["effect"] == "Deny"


def test_principal_tag_conditions_read_the_principals_own_tags() -> None:
    policy = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                  "Resource": "arn:aws:s3:::b/*",
                  "Condition": {"StringEquals": {"aws:PrincipalTag/team": "ml"}}})
    inv = inventory(bucket("b", policy), user("alice", tags={"team": "ml"}),
                    user("bob", tags={"team": "web"}), user("carol"))
    grants = who(inv, "b")
    assert grants[ALICE].decision == "allow"
    assert BOB not in grants and arn("user", "carol") not in grants  # absent tag: false
    assert "*" not in grants


# --- role assumption ---------------------------------------------------------------------------

def _reads_b() -> dict[str, Any]:
    return {"read": doc(allow("s3:GetObject", "arn:aws:s3:::b/*"))}


def test_a_role_chain_is_followed_with_one_hop_per_step() -> None:
    assume_first = {"hop": doc(allow("sts:AssumeRole", arn("role", "first")))}
    inv = inventory(
        bucket("b"), user("bob", assume_first),
        role("first", trust(BOB), {"hop": doc(allow("sts:AssumeRole", arn("role", "second")))}),
        role("second", trust(arn("role", "first")), _reads_b()))
    grant = who(inv, "b")[BOB]
    assert grant.decision == "allow" and grant.action == "s3:GetObject"
    hops = [(s.principal, s.action) for s in grant.path]
    assert hops.index((BOB, "sts:AssumeRole")) < hops.index(
        (arn("role", "first"), "sts:AssumeRole")) < hops.index(
        (arn("role", "second"), "s3:GetObject"))
    assert (arn("role", "first") + "#trust-policy") in {s.policy for s in grant.path}
    assert (arn("role", "second") + "#trust-policy") in {s.policy for s in grant.path}


def test_a_trust_policy_must_let_the_caller_in() -> None:
    assume_anything = {"any": doc(allow("sts:AssumeRole", "*"))}
    inv = inventory(bucket("b"), user("bob", assume_anything), user("frank", assume_anything),
                    role("reader", trust(BOB), _reads_b()))
    readers = allowed(inv, "b")
    assert BOB in readers and arn("user", "frank") not in who(inv, "b")


def test_trusting_the_account_needs_the_callers_own_allow() -> None:
    inv = inventory(bucket("b"), user("bob", {"a": doc(allow("sts:AssumeRole", "*"))}),
                    user("carol"), role("reader", trust(arn("root", "")), _reads_b()))
    assert BOB in allowed(inv, "b") and arn("user", "carol") not in who(inv, "b")


def test_a_directly_named_user_needs_no_allow_but_its_boundary_must_allow() -> None:
    inv = inventory(
        bucket("b"), managed_policy("no-sts", doc(allow("s3:ListBucket"))), user("bob"),
        user("carol", boundary=arn("policy", "no-sts")),
        role("reader", trust(BOB, arn("user", "carol")), _reads_b()))
    assert BOB in allowed(inv, "b") and arn("user", "carol") not in who(inv, "b")


def test_another_account_reads_through_a_role_it_may_assume_with_its_external_id() -> None:
    inv = inventory(bucket("b"), role("vendor", trust(
        PARTNER, StringEquals={"sts:ExternalId": "shared-secret-7731"}), _reads_b()))
    grant = who(inv, "b")[PARTNER]
    assert grant.decision == "allow" and grant.kind == "external-account"
    assert (grant.path[0].principal, grant.path[0].action) == (PARTNER, "sts:AssumeRole")


def test_service_principals_are_not_reported_through_the_roles_they_run_as() -> None:
    inv = inventory(bucket("b"), role("fn", service_trust("lambda.amazonaws.com"), _reads_b()))
    grants = who(inv, "b")
    assert arn("role", "fn") in grants and "lambda.amazonaws.com" not in grants


# --- KMS ---------------------------------------------------------------------------------------

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
ROOT_DELEGATES = {"Sid": "EnableIamPolicies", "Effect": "Allow",
                  "Principal": {"AWS": arn("root", "")}, "Action": "kms:*", "Resource": "*"}


def _key_statement(principal: str, *actions: str) -> dict[str, Any]:
    return {"Sid": "Use", "Effect": "Allow", "Principal": {"AWS": principal},
            "Action": list(actions), "Resource": "*"}


def _kms_bucket(key: str | None = key_arn(KEY_ID), policy: Mapping[str, Any] | None = None
                ) -> Resource:
    return bucket("b", policy, encryption=sse_kms(key))


def _s3_and(*kms_actions: str) -> dict[str, Any]:
    statements = [allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "arn:aws:s3:::b/*")]
    if kms_actions:
        statements.append(allow(list(kms_actions), key_arn(KEY_ID)))
    return {"p": doc(*statements)}


def test_a_key_policy_that_delegates_to_iam_needs_the_identity_allow_too() -> None:
    inv = inventory(_kms_bucket(), kms_key(KEY_ID, doc(ROOT_DELEGATES)),
                    user("alice", _s3_and("kms:Decrypt")), user("bob", _s3_and()))
    grant = who(inv, "b")[ALICE]
    assert grant.decision == "allow"
    assert (f"{key_arn(KEY_ID)}#key-policy", "EnableIamPolicies") in {
        (s.policy, s.statement) for s in grant.path if s.action == "kms:Decrypt"}
    assert BOB not in who(inv, "b")


def test_a_key_policy_naming_the_principal_needs_no_identity_allow() -> None:
    inv = inventory(_kms_bucket(), kms_key(KEY_ID, doc(_key_statement(ALICE, "kms:Decrypt"))),
                    user("alice", _s3_and()))
    assert ALICE in allowed(inv, "b")


def test_without_a_root_statement_iam_cannot_grant_the_key_but_delete_needs_no_key() -> None:
    inv = inventory(_kms_bucket(), kms_key(KEY_ID, doc(_key_statement(arn("role", "x"),
                                                                     "kms:Decrypt"))),
                    user("alice", _s3_and("kms:*")))
    assert ALICE not in who(inv, "b") and ALICE not in who(inv, "b", "write")
    assert ALICE in allowed(inv, "b", "delete")
    assert arn("root", "") not in who(inv, "b")  # not even the root user


def test_write_needs_generate_data_key_and_read_needs_decrypt() -> None:
    inv = inventory(_kms_bucket(), kms_key(KEY_ID, doc(ROOT_DELEGATES)),
                    user("alice", _s3_and("kms:Decrypt")),
                    user("bob", _s3_and("kms:GenerateDataKey")))
    assert ALICE in allowed(inv, "b") and ALICE not in who(inv, "b", "write")
    assert BOB in allowed(inv, "b", "write") and BOB not in who(inv, "b")


def test_a_kms_grant_lets_its_grantee_decrypt() -> None:
    grant = {"grant_id": "g-1", "grantee_principal": ALICE, "retiring_principal": None,
             "operations": ["Decrypt"], "constraints": None}
    inv = inventory(_kms_bucket(), kms_key(KEY_ID, doc(ROOT_DELEGATES), grants=[grant]),
                    user("alice", _s3_and()))
    found = who(inv, "b")[ALICE]
    assert (f"{key_arn(KEY_ID)}#grants", "g-1") in {(s.policy, s.statement) for s in found.path}


def test_the_aws_managed_s3_key_serves_its_own_account_only() -> None:
    partner = doc({"Effect": "Allow", "Principal": {"AWS": PARTNER},
                   "Action": ["s3:GetObject", "s3:DeleteObject"], "Resource": "arn:aws:s3:::b/*"})
    # an emulator reports aws/s3 with a generic root-only policy: the documented one applies
    moto_like = kms_key(KEY_ID, doc(ROOT_DELEGATES), aliases=["alias/aws/s3"])
    for inv in (inventory(_kms_bucket(None, partner), user("alice", _s3_and())),
                inventory(_kms_bucket("alias/aws/s3", partner), moto_like,
                          user("alice", _s3_and()))):
        assert ALICE in allowed(inv, "b")  # no kms permission needed in IAM
        assert PARTNER not in who(inv, "b")  # kms:CallerAccount is not the key's account
        assert PARTNER in allowed(inv, "b", "delete")


@pytest.mark.parametrize("reference", ["alias/release",
                                       f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/release", KEY_ID])
def test_a_key_named_by_alias_or_id_is_found_in_the_inventory(reference: str) -> None:
    inv = inventory(_kms_bucket(reference), user("alice", _s3_and()),
                    kms_key(KEY_ID, doc(_key_statement(ALICE, "kms:Decrypt")),
                            aliases=["alias/release"]))
    assert ALICE in allowed(inv, "b")


def test_a_key_missing_from_the_inventory_gives_a_maybe_and_a_note() -> None:
    missing = f"arn:aws:kms:{REGION}:{OTHER}:key/{KEY_ID}"
    inv = inventory(_kms_bucket(missing), user("alice", _s3_and("kms:Decrypt")))
    assert who(inv, "b")[ALICE].decision == "conditional"
    access = AwsAnalyzer().model(inv).asset_access("arn:aws:s3:::b")
    assert any(missing in note for note in access.unknown)


def test_anonymous_callers_never_read_sse_kms_objects() -> None:
    everyone = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::b/*"})
    key_for_all = doc(ROOT_DELEGATES, _key_statement("*", "kms:Decrypt"))
    inv = inventory(_kms_bucket(policy=everyone), kms_key(KEY_ID, key_for_all))
    grants = who(inv, "b")
    assert "*" not in grants and grants["arn:aws:iam::*:root"].decision == "allow"


def test_a_disabled_key_serves_nobody() -> None:
    inv = inventory(_kms_bucket(), kms_key(KEY_ID, doc(ROOT_DELEGATES), enabled=False),
                    user("alice", _s3_and("kms:Decrypt")))
    assert who(inv, "b") == {}


# --- the analyzer's interface ------------------------------------------------------------------

def test_analyze_answers_every_access_class_for_sensitive_buckets_only() -> None:
    admin = {"admin": doc(allow("s3:*"))}
    inv = inventory(bucket("weights"), bucket("logs"), user("alice", admin))
    classes = {"arn:aws:s3:::weights": Classification("model-weights", ("tag",)),
               "arn:aws:s3:::logs": Classification("other")}
    assets = list(AwsAnalyzer().analyze(inv, classes))
    assert [a.resource_id for a in assets] == ["arn:aws:s3:::weights"]
    access = assets[0]
    for access_class, action in (("read", "s3:GetObject"), ("write", "s3:PutObject"),
                                 ("delete", "s3:DeleteObject"), ("admin", None)):
        alice = [g for g in access.who(access_class) if g.principal == ALICE]
        assert len(alice) == 1 and alice[0].human is True
        assert action is None or alice[0].action == action


def test_handles_only_s3_references() -> None:
    analyzer = AwsAnalyzer()
    assert analyzer.provider == "aws"
    assert analyzer.handles("arn:aws:s3:::b") and analyzer.handles("arn:aws:s3:::b/k")
    assert not analyzer.handles("gs://b") and not analyzer.handles(arn("role", "r"))


@pytest.mark.parametrize(("ref", "action"), [
    ("gs://b", "read"), ("arn:aws:s3:::missing", "read"), ("arn:aws:s3:::b", "kms:Decrypt"),
    ("arn:aws:s3:::b", "s3:NoSuchAction"), ("arn:aws:s3:::b", "peek")])
def test_who_can_rejects_what_it_cannot_answer(ref: str, action: str) -> None:
    with pytest.raises(InputError):
        AwsAnalyzer().who_can(inventory(bucket("b")), ref, action)


def test_who_can_answers_a_concrete_action_on_one_object() -> None:
    policy = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                  "Resource": "arn:aws:s3:::b/public/*"})
    inv = inventory(bucket("b", policy, objects=[("public/a.txt", "private")]))
    analyzer = AwsAnalyzer()
    public = analyzer.who_can(inv, "arn:aws:s3:::b/public/a.txt", "s3:GetObject")
    private = analyzer.who_can(inv, "arn:aws:s3:::b/private/w.pt", "s3:GetObject")
    assert "*" in {g.principal for g in public} and "*" not in {g.principal for g in private}


def test_what_could_not_be_collected_is_reported_with_the_answer() -> None:
    record = bucket("b")
    record.attributes["policy"] = None
    record.unknown = ["policy"]
    access = AwsAnalyzer().model(inventory(record)).asset_access("arn:aws:s3:::b")
    assert any("bucket policy not collected" in note for note in access.unknown)


def test_the_admin_class_is_whoever_can_change_the_buckets_policy_or_acls() -> None:
    inv = inventory(bucket("b"), user("alice", {"p": doc(allow("s3:PutBucketPolicy",
                                                               "arn:aws:s3:::b"))}),
                    reader("bob", "b"))
    admins = who(inv, "b", "admin")
    assert admins[ALICE].action == "s3:PutBucketPolicy" and BOB not in admins


def test_service_principals_granted_by_policy_or_log_delivery_acl_can_write() -> None:
    log_delivery = doc({"Sid": "Logs", "Effect": "Allow",
                        "Principal": {"Service": "delivery.logs.amazonaws.com"},
                        "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}})
    record = bucket("b", log_delivery)
    record.attributes["acl"]["grants"].append(
        {"grantee_type": "Group", "grantee_id": None, "grantee_email": None,
         "grantee_uri": "http://acs.amazonaws.com/groups/s3/LogDelivery", "permission": "WRITE"})
    writers = who(inventory(record), "b", "write")
    for service in ("delivery.logs.amazonaws.com", "logging.s3.amazonaws.com"):
        assert writers[service].decision == "allow" and writers[service].kind == "service"


def test_acl_grants_to_other_canonical_users() -> None:
    known, unknown = "a" * 64, "f" * 64
    other = "777788889999"
    record = bucket("b", objects=[("w.pt", "private")])
    record.attributes["object_sample"][0]["acl"]["grants"] += [
        {"grantee_type": "CanonicalUser", "grantee_id": grantee, "grantee_uri": None,
         "grantee_email": None, "permission": "READ"} for grantee in (known, unknown)]
    inv = inventory(record, bucket("theirs", account=other, owner=known),
                    accounts=[account_record(), account_record(other)])
    readers = who(inv, "b")
    # an audited account whose buckets it owns: its root user; else the id itself
    assert readers[arn("root", "", other)].decision == "allow"
    assert readers[f"canonical-user:{unknown}"].kind == "external-account"


def test_who_is_human() -> None:
    inv = inventory(bucket("b"), reader("alice", "b"),
                    reader("ci", "b", tags={"human": "false"}),
                    role("job", service_trust("glue.amazonaws.com"), _reads_b()))
    grants = who(inv, "b")
    assert grants[ALICE].human is True and grants[arn("user", "ci")].human is False
    assert grants[arn("role", "job")].human is False


def test_the_root_user_of_the_owning_account_needs_no_policy() -> None:
    grant = who(inventory(bucket("b")), "b")[arn("root", "")]
    assert grant.decision == "allow" and grant.path[0].policy == arn("root", "")


@pytest.mark.emulator
def test_dev_scenario_expectations_hold_on_a_scan_of_the_seeded_org(seeded_aws_org: Any) -> None:
    from auditor.scanners.aws.scanner import AwsScanner
    from auditor.scanners.base import ScanSettings

    config = {"endpoint_url": seeded_aws_org.endpoint_url,
              "regions": [seeded_aws_org.scenario["region"]]}
    scanned = Inventory()
    for item in AwsScanner().scan(config, ScanSettings()):
        if isinstance(item, Scope):
            scanned.scopes.append(item)
        else:
            scanned.add([item])
    assert _check_expectations(seeded_aws_org.scenario, scanned) == []


def test_bucket_tags_are_known_to_conditions() -> None:
    by_tag = {"p": doc(allow("s3:GetObject", "*",
                             Condition={"StringEquals": {"s3:BucketTag/team": "ml"}}))}
    inv = inventory(bucket("ml-data", tags={"team": "ml"}), bucket("web", tags={"team": "web"}),
                    user("alice", by_tag))
    assert ALICE in allowed(inv, "ml-data") and ALICE not in who(inv, "web")
