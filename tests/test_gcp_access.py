"""GCP effective access: the development scenario's expectations, then each GCP rule on its own
small organization (written as CAI lines and read by the real reader)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.access.gcp.analyzer import GcpAnalyzer
from auditor.access.model import AccessGrant, PathStep
from auditor.classify.ml import classify_inventory
from auditor.classify.model import Classification
from auditor.errors import InputError
from auditor.inventory import Inventory
from auditor.scanners.base import ScanSettings
from auditor.scanners.gcp import ids
from auditor.scanners.gcp.cai import read_export

DATA = Path(__file__).parent / "data" / "gcp"
EXPORT = DATA / "gcp-ml-org.cai.jsonl"
EXPECTED = json.loads((DATA / "gcp-ml-org.expected.json").read_text(encoding="utf-8"))
REFERENCE_TIME = 1795651200  # 2026-11-26T00:00:00Z, the scenario's reference time
LATER_TIME = 1811462400  # 2027-05-28: answers must still hold
ACCESS = {"can_read": "read", "can_write": "write"}


@pytest.fixture(autouse=True)
def _audit_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(REFERENCE_TIME))


def load(path: Path) -> Inventory:
    inventory = Inventory()
    inventory.add(read_export(path, ScanSettings()))
    return inventory


@pytest.fixture(scope="module")
def scenario() -> Inventory:
    return load(EXPORT)


def allowed(grants: list[AccessGrant]) -> set[str]:
    return {g.principal for g in grants if g.decision == "allow"}


def by_principal(grants: list[AccessGrant]) -> dict[str, AccessGrant]:
    return {g.principal: g for g in grants}


# -- the development scenario -------------------------------------------------------------------------
def test_classification_matches_the_expectations(scenario: Inventory) -> None:
    labels = {ids.bucket_name(k): v.label for k, v in classify_inventory(scenario).items()}
    assert labels == EXPECTED["classification"]


CASES = [(key, bucket) for key in ACCESS for bucket in EXPECTED[key]]


@pytest.mark.parametrize("audit_time", [REFERENCE_TIME, LATER_TIME])
@pytest.mark.parametrize(("key", "bucket"), CASES, ids=[f"{k}-{b}" for k, b in CASES])
def test_who_can_matches_the_expectations(scenario: Inventory, monkeypatch: pytest.MonkeyPatch,
                                          key: str, bucket: str, audit_time: int) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(audit_time))
    expected = EXPECTED[key][bucket]
    principals = allowed(GcpAnalyzer().who_can(scenario, f"gs://{bucket}", ACCESS[key]))
    assert set(expected["must_include"]) - principals == set()
    assert set(expected["must_exclude"]) & principals == set()


def test_impersonation_is_shown_as_a_path(scenario: Inventory) -> None:
    dana = by_principal(GcpAnalyzer().who_can(scenario, "gs://acme-ml-curated-corpus", "read"))[
        "user:dana@acme-ml.example"]
    sa_eval = "serviceAccount:sa-eval@acme-ml-data.iam.gserviceaccount.com"
    assert dana.kind == "user" and dana.human is True and dana.action == "storage.objects.get"
    assert dana.path == (
        PathStep("user:dana@acme-ml.example", "iam.serviceAccounts.getAccessToken",
                 ids.service_account_id("acme-ml-data", sa_eval.split(":")[1]),
                 "roles/iam.serviceAccountTokenCreator"),
        PathStep(sa_eval, "storage.objects.get", ids.bucket_id("acme-ml-curated-corpus"),
                 "roles/storage.objectViewer"))


def test_convenience_members_resolve_to_the_projects_basic_role_holders(scenario: Inventory) -> None:
    grants = by_principal(GcpAnalyzer().who_can(scenario, "gs://rs-scratch-7f3a", "read"))
    assert grants["user:eve@acme-ml.example"].path == (
        PathStep("user:eve@acme-ml.example", "projectEditor:acme-research-sandbox",
                 ids.node_id("projects/310000000003"), "roles/editor"),
        PathStep("projectEditor:acme-research-sandbox", "storage.objects.get",
                 ids.bucket_id("rs-scratch-7f3a"), "roles/storage.legacyObjectOwner"))
    assert grants["projectViewer:acme-research-sandbox"].kind == "group"


def test_inherited_grants_name_the_policy_that_holds_them(scenario: Inventory) -> None:
    grants = by_principal(GcpAnalyzer().who_can(scenario, "gs://acme-ml-weights-prod", "read"))
    assert grants["group:ml-platform-admins@acme-ml.example"].path == (
        PathStep("group:ml-platform-admins@acme-ml.example", "storage.objects.get",
                 ids.node_id("folders/210000000001"), "roles/storage.admin"),)


def test_listing_is_not_reading(scenario: Inventory) -> None:
    analyzer = GcpAnalyzer()
    auditors = "group:security-audit@acme-ml.example"
    listers = analyzer.who_can(scenario, "gs://acme-ml-weights-prod", "storage.objects.list")
    assert auditors in allowed(listers)
    assert auditors not in allowed(analyzer.who_can(scenario, "gs://acme-ml-weights-prod", "read"))


def test_expired_conditions_grant_nothing_and_admin_is_separate(scenario: Inventory) -> None:
    analyzer = GcpAnalyzer()
    corpus = by_principal(analyzer.who_can(scenario, "gs://acme-ml-curated-corpus", "read"))
    assert "user:intern.sam@acme-ml.example" not in corpus
    admins = allowed(analyzer.who_can(scenario, "gs://acme-ml-weights-prod", "admin"))
    assert admins == {"group:gcp-org-admins@acme-ml.example", "group:ml-platform-admins@acme-ml.example"}


def test_analyze_covers_every_sensitive_bucket_with_every_access_class(scenario: Inventory) -> None:
    classifications = classify_inventory(scenario)
    assets = {a.resource_id: a for a in GcpAnalyzer().analyze(scenario, classifications)}
    assert set(assets) == {k for k, v in classifications.items() if v.sensitive}
    legacy = assets[ids.bucket_id("acme-ml-legacy-checkpoints")]
    assert {g.access for g in legacy.grants} == {"read", "write", "delete", "admin"}
    # object ACLs not read can grant reads, never writes or deletes: only reads are undecided
    assert legacy.unknown == []
    assert any("uniform bucket-level access is off" in note
               for note in legacy.unknown_about("read"))
    assert legacy.unknown_about("write") == legacy.unknown_about("delete") == []
    public = assets[ids.bucket_id("acme-ml-public-checkpoints")]
    assert any("storage.publicAccessPrevention was not collected" in note for note in public.may_not_hold)
    assert any(g.principal == "allUsers" and g.public and g.access == "read" for g in public.grants)


@pytest.mark.parametrize("reference", ["gs://acme-ml-raw-ingest", "gs://acme-ml-raw-ingest/raw/x.jsonl",
                                       "//storage.googleapis.com/acme-ml-raw-ingest",
                                       "//storage.googleapis.com/projects/_/buckets/acme-ml-raw-ingest"])
def test_every_bucket_reference_form_is_understood(scenario: Inventory, reference: str) -> None:
    analyzer = GcpAnalyzer()
    assert analyzer.handles(reference)
    assert "domain:acme-ml.example" in allowed(analyzer.who_can(scenario, reference, "read"))


def test_bad_questions_are_input_errors(scenario: Inventory) -> None:
    analyzer = GcpAnalyzer()
    assert not analyzer.handles("arn:aws:s3:::bucket")
    with pytest.raises(InputError, match="not in the inventory"):
        analyzer.who_can(scenario, "gs://no-such-bucket", "read")
    with pytest.raises(InputError, match="unknown action"):
        analyzer.who_can(scenario, "gs://acme-ml-raw-ingest", "steal")


# -- each rule on a small organization ------------------------------------------------------------------
ORG = "organizations/1"
PROJECT_NUMBER = "11"
PROJECT_ID = "p"
ANCESTORS = [f"projects/{PROJECT_NUMBER}", ORG]


def policy(*bindings: tuple[str, list[str]] | tuple[str, list[str], str]) -> dict[str, Any]:
    out = []
    for binding in bindings:
        item: dict[str, Any] = {"role": binding[0], "members": binding[1]}
        if len(binding) == 3:
            item["condition"] = {"title": "t", "expression": binding[2]}
        out.append(item)
    return {"version": 3, "bindings": out}


def asset(name: str, asset_type: str, data: dict[str, Any], iam: dict[str, Any] | None = None,
          ancestors: list[str] | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {"name": name, "asset_type": asset_type, "resource": {"data": data},
                            "ancestors": ancestors if ancestors is not None else ANCESTORS}
    if iam is not None:
        line["iam_policy"] = iam
    return line


def organization(iam: dict[str, Any] | None = None) -> dict[str, Any]:
    return asset(f"//cloudresourcemanager.googleapis.com/{ORG}",
                 "cloudresourcemanager.googleapis.com/Organization",
                 {"name": ORG, "displayName": "corp.example", "owner": {"directoryCustomerId": "C1"}},
                 iam, [ORG])


def project(iam: dict[str, Any] | None = None) -> dict[str, Any]:
    return asset(f"//cloudresourcemanager.googleapis.com/projects/{PROJECT_NUMBER}",
                 "cloudresourcemanager.googleapis.com/Project",
                 {"projectId": PROJECT_ID, "projectNumber": PROJECT_NUMBER,
                  "parent": {"type": "organization", "id": "1"}}, iam)


def bucket(name: str, iam: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
    body = {"name": name, "projectNumber": int(PROJECT_NUMBER),
            "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": True},
                                 "publicAccessPrevention": "inherited"}, **data}
    return asset(f"//storage.googleapis.com/{name}", "storage.googleapis.com/Bucket", body, iam)


def account(email: str, iam: dict[str, Any] | None = None, disabled: bool = False) -> dict[str, Any]:
    return asset(f"//iam.googleapis.com/projects/{PROJECT_ID}/serviceAccounts/{email.split('@')[0]}",
                 "iam.googleapis.com/ServiceAccount",
                 {"email": email, "projectId": PROJECT_ID, "disabled": disabled}, iam)


def custom_role(name: str, permissions: list[str], **data: Any) -> dict[str, Any]:
    return asset(f"//iam.googleapis.com/{name}", "iam.googleapis.com/Role",
                 {"name": name, "includedPermissions": permissions, **data})


def org_of(tmp_path: Path, *lines: dict[str, Any]) -> Inventory:
    path = tmp_path / "org.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    return load(path)


def who(inventory: Inventory, action: str = "read", name: str = "b") -> dict[str, AccessGrant]:
    return by_principal(GcpAnalyzer().who_can(inventory, f"gs://{name}", action))


S1 = "s1@p.iam.gserviceaccount.com"
S2 = "s2@p.iam.gserviceaccount.com"


def test_impersonation_is_transitive(tmp_path: Path) -> None:
    inventory = org_of(
        tmp_path, organization(), project(),
        bucket("b", policy(("roles/storage.objectViewer", [f"serviceAccount:{S2}"]))),
        account(S2, policy(("roles/iam.serviceAccountTokenCreator", [f"serviceAccount:{S1}"]))),
        account(S1, policy(("roles/iam.workloadIdentityUser", ["user:m@corp.example"]))))
    grants = who(inventory)
    assert grants["user:m@corp.example"].decision == "allow"
    assert [(s.principal, s.action) for s in grants["user:m@corp.example"].path] == [
        ("user:m@corp.example", "iam.serviceAccounts.getAccessToken"),
        (f"serviceAccount:{S1}", "iam.serviceAccounts.getAccessToken"),
        (f"serviceAccount:{S2}", "storage.objects.get")]
    assert grants[f"serviceAccount:{S1}"].decision == "allow"


def test_project_editors_act_as_the_projects_service_accounts(tmp_path: Path) -> None:
    inventory = org_of(tmp_path, organization(),
                       project(policy(("roles/editor", ["user:ed@corp.example"]),
                                      ("roles/viewer", ["user:vi@corp.example"]))),
                       bucket("b", policy(("roles/storage.objectViewer", [f"serviceAccount:{S1}"]))),
                       account(S1))
    grants = who(inventory)
    assert grants["user:ed@corp.example"].path[0].policy == ids.node_id(f"projects/{PROJECT_NUMBER}")
    assert "user:vi@corp.example" not in grants


def test_a_disabled_account_only_conditionally_reaches_data(tmp_path: Path) -> None:
    inventory = org_of(tmp_path, organization(), project(),
                       bucket("b", policy(("roles/storage.objectViewer", [f"serviceAccount:{S1}"]))),
                       account(S1, policy(("roles/iam.serviceAccountUser", ["user:m@corp.example"])),
                               disabled=True))
    grants = who(inventory)
    assert grants[f"serviceAccount:{S1}"].decision == "conditional"
    assert grants["user:m@corp.example"].decision == "conditional"


def test_undecidable_conditions_are_conditional_and_shown(tmp_path: Path) -> None:
    prefix = 'resource.name.startsWith("projects/_/buckets/b/objects/public/")'
    inventory = org_of(tmp_path, organization(), project(), bucket("b", policy(
        ("roles/storage.objectViewer", ["user:some@corp.example"], prefix),
        ("roles/storage.objectViewer", ["user:all@corp.example"],
         'resource.name.startsWith("projects/_/buckets/b")'),
        ("roles/storage.objectViewer", ["user:list@corp.example"],
         'resource.type == "storage.googleapis.com/Bucket"'),
        ("roles/storage.objectViewer", ["user:later@corp.example"],
         'request.time > timestamp("2030-01-01T00:00:00Z")'))))
    grants = who(inventory)
    assert grants["user:some@corp.example"].decision == "conditional"
    assert grants["user:some@corp.example"].conditions[0]["expression"] == prefix
    assert grants["user:all@corp.example"].decision == "allow"
    assert "user:list@corp.example" not in grants
    assert "user:later@corp.example" not in grants
    assert "user:list@corp.example" in allowed(
        GcpAnalyzer().who_can(inventory, "gs://b", "storage.objects.list"))


def test_public_access_prevention_on_the_bucket_or_by_org_policy(tmp_path: Path) -> None:
    public = policy(("roles/storage.objectViewer",
                     ["allUsers", "allAuthenticatedUsers", "domain:corp.example"]))
    enforced = bucket("e", public, iamConfiguration={"uniformBucketLevelAccess": {"enabled": True},
                                                     "publicAccessPrevention": "enforced"})
    inherited = bucket("i", public, iamConfiguration={"uniformBucketLevelAccess": {"enabled": True},
                                                      "publicAccessPrevention": "unspecified"})
    inventory = org_of(tmp_path, organization(), project(), enforced, inherited)
    assert set(who(inventory, name="e")) == {"domain:corp.example"}
    assert {"allUsers", "allAuthenticatedUsers"} <= set(who(inventory, name="i"))
    assert who(inventory, name="i")["allUsers"].kind == "public"

    org_with_policy = organization()
    org_with_policy["org_policy"] = [{"constraint": "constraints/storage.publicAccessPrevention",
                                      "booleanPolicy": {"enforced": True}}]
    inventory = org_of(tmp_path, org_with_policy, project(), inherited)
    assert set(who(inventory, name="i")) == {"domain:corp.example"}


def test_deleted_members_grant_nothing(tmp_path: Path) -> None:
    inventory = org_of(tmp_path, organization(), project(), bucket("b", policy(
        ("roles/storage.objectViewer",
         ["deleted:user:gone@corp.example?uid=123", "user:here@corp.example"]))))
    assert set(who(inventory)) == {"user:here@corp.example"}


def test_custom_roles_expand_and_disabled_or_deleted_ones_grant_nothing(tmp_path: Path) -> None:
    inventory = org_of(
        tmp_path, organization(), project(),
        custom_role("projects/p/roles/reader", ["storage.objects.get"]),
        custom_role("organizations/1/roles/gone", ["storage.objects.get"], deleted=True),
        custom_role("projects/p/roles/off", ["storage.objects.get"], stage="DISABLED"),
        bucket("b", policy(("projects/p/roles/reader", ["user:a@corp.example"]),
                           ("organizations/1/roles/gone", ["user:b@corp.example"]),
                           ("projects/p/roles/off", ["user:c@corp.example"]))))
    assert set(who(inventory)) == {"user:a@corp.example"}


def test_a_role_nobody_knows_is_conditional_and_said(tmp_path: Path) -> None:
    inventory = org_of(tmp_path, organization(), project(), bucket("b", policy(
        ("projects/p/roles/neverCollected", ["user:a@corp.example"]))))
    assert who(inventory)["user:a@corp.example"].decision == "conditional"
    [asset_access] = GcpAnalyzer().analyze(inventory, {ids.bucket_id("b"): Classification("training-data")})
    assert any("neverCollected" in note for note in asset_access.unknown)


def test_uniform_access_off_reads_acls(tmp_path: Path) -> None:
    legacy = {"uniformBucketLevelAccess": {"enabled": False}, "publicAccessPrevention": "inherited"}
    inventory = org_of(
        tmp_path, organization(), project(policy(("roles/viewer", ["group:viewers@corp.example"]))),
        bucket("b", policy(), iamConfiguration=legacy,
               acl=[{"entity": "group-writers@corp.example", "role": "WRITER"},
                    {"entity": "user-lister@corp.example", "role": "READER"}],
               defaultObjectAcl=[{"entity": f"project-viewers-{PROJECT_NUMBER}", "role": "READER"},
                                 {"entity": "allUsers", "role": "READER"}]))
    readers = who(inventory)
    assert {"group:viewers@corp.example", f"projectViewer:{PROJECT_ID}", "allUsers"} <= set(readers)
    assert "user:lister@corp.example" not in readers  # a bucket READER lists, it does not read
    assert "group:writers@corp.example" in who(inventory, "write")
    assert "group:writers@corp.example" in who(inventory, "delete")


def test_deny_policies_remove_or_cast_doubt(tmp_path: Path) -> None:
    readers = policy(("roles/storage.objectViewer", ["user:a@corp.example", "user:b@corp.example",
                                                      "group:g@corp.example"]))
    inventory = org_of(tmp_path, organization(), project(), bucket("b", readers))
    [node] = [r for r in inventory.resources if r.type == ids.PROJECT]
    node.unknown.remove("deny_policies")
    node.attributes["deny_policies"] = [{"name": "policies/x/denypolicies/d", "rules": [
        {"deniedPrincipals": ["principal://goog/subject/a@corp.example"],
         "deniedPermissions": ["storage.googleapis.com/objects.*"], "exceptionPrincipals": [],
         "exceptionPermissions": [], "denialCondition": None},
        {"deniedPrincipals": ["principalSet://goog/group/g@corp.example"],
         "deniedPermissions": ["storage.googleapis.com/objects.get"], "exceptionPrincipals": [],
         "exceptionPermissions": [], "denialCondition": None}]}]
    grants = who(inventory)
    assert "user:a@corp.example" not in grants
    assert "group:g@corp.example" not in grants
    # b may be in group g: not known, so not silently kept as allowed
    assert grants["user:b@corp.example"].decision == "conditional"


def test_admin_counts_whoever_can_rewrite_a_policy_above(tmp_path: Path) -> None:
    org_admin = policy(("roles/resourcemanager.organizationAdmin", ["user:root@corp.example"]))
    inventory = org_of(tmp_path, organization(org_admin),
                       project(policy(("roles/owner", ["user:own@corp.example"]))),
                       bucket("b", policy(("roles/storage.legacyBucketOwner", ["user:lbo@corp.example"]))))
    admins = who(inventory, "admin")
    rewriters = {"user:root@corp.example", "user:own@corp.example", "user:lbo@corp.example"}
    assert rewriters <= set(admins)
    assert admins["user:own@corp.example"].action == "resourcemanager.projects.setIamPolicy"
    assert not rewriters & set(who(inventory))


def test_inheritance_follows_parent_links_when_ancestors_are_not_recorded(tmp_path: Path) -> None:
    folder = asset("//cloudresourcemanager.googleapis.com/folders/5",
                   "cloudresourcemanager.googleapis.com/Folder", {"name": "folders/5", "parent": ORG},
                   policy(("roles/storage.objectViewer", ["group:folder-readers@corp.example"])), [])
    lonely_project = project()
    lonely_project["resource"]["data"]["parent"] = {"type": "folder", "id": "5"}
    lonely_project["ancestors"] = []
    lonely_bucket = bucket("b")
    lonely_bucket["ancestors"] = []
    org_readers = policy(("roles/storage.objectViewer", ["group:org@corp.example"]))
    inventory = org_of(tmp_path, organization(org_readers), folder, lonely_project, lonely_bucket)
    assert {"group:folder-readers@corp.example", "group:org@corp.example"} <= set(who(inventory))
