"""Benchmark: who can read every sensitive bucket of a large synthetic AWS account.

    .venv/bin/python bench/access_bench.py

A synthetic account is built directly as an Inventory (no emulator), from a fixed seed:

* 5,000 IAM roles (``--roles``). Each has 1 to 4 AWS managed policies drawn at random from the
  managed-policy corpus (tests/data/aws-managed-policies: 1,600+ real documents, from
  ``AdministratorAccess`` and ``ReadOnlyAccess`` to narrow service policies); one in five also
  has an inline policy reading or writing a few named buckets; one in ten a permissions
  boundary. Trust policies: a compute service (Lambda, EC2, SageMaker, Glue, ECS, CodeBuild),
  another role of the account (role chains), the account root, a partner account with an
  ExternalId, or a GitHub OIDC provider.
* 100 IAM users (``--users``) in 5 groups with managed policies, some allowed to assume roles.
* 1,000 S3 buckets (``--buckets``), all classified sensitive by tags (training data or model
  weights), 3 sampled objects each. One in three has a bucket policy (TLS-only deny, a named
  role reader, a partner account reader, or a deny on everyone but one role); two in five are
  SSE-KMS with one of 50 keys whose key policies either delegate to IAM or name roles only;
  one in four blocks all public access.

With ``org`` (the **who-can-read-org** row), the account is a member of an AWS Organization
whose guardrails every request also meets: SCPs ``FullAWSAccess`` at the root, at an OU and
at the account, a deny on deleting model weights at the OU and a region lock at the account;
RCPs ``RCPFullAWSAccess`` at each level and, at the root, a data perimeter (S3, KMS and STS
only for principals of the organization or AWS services).

Measured, each in a fresh child process (so that caches and peak memory are its own):

1. **who-can-read**: ``AwsAnalyzer.who_can(inventory, bucket, "read")`` for every sensitive
   bucket, including building the principal graph and index. Target: under 10 s and 1 GiB;
   the same for **who-can-read-org**, the account in its organization.
2. **analyze**: ``pipeline.analyze(inventory)``: classification and all four access classes
   (read, write, delete, admin) of every sensitive bucket.
3. **baselines**, in the same run: the same who-can-read on a 10x smaller account (500 roles,
   100 buckets); the analysis that shares nothing between buckets or principals
   (``AccessModel(grouping=False)``: every candidate asked about on each bucket on its own),
   on 50 buckets and extrapolated; and the naive approach: ``evaluator.evaluate`` for every
   (principal, bucket) pair (``s3:GetObject`` on one object, identity + bucket policy +
   boundary, no KMS and no role chains, so it undercounts the naive cost), timed on a sample
   of buckets and extrapolated to all of them.

Reported: wall time, CPU time (wall time counts what other processes on the machine take),
peak resident set size of the child (``ru_maxrss``) and how much of it the phase adds to the
built inventory ("+ phase"), grants found, evaluator calls; with ``--tracemalloc`` also the
peak of Python allocations during the phase (slower). Exit status 1 when the who-can-read
target is missed.

Measured on the shared 2-core development machine (another job busy on one core, load 2-3),
this account: who-can-read 5.5 s wall (5.5 s CPU), 171 MiB peak (in its organization, in
another run: 4.9 s against 4.3 s alone, 176 MiB); analyze 10.5 s, 327 MiB;
sharing nothing ~66 s (12x); the naive per-pair evaluation ~190 s (34x). Before buckets alike
(``access.aws.alike``) the same who-can-read took 21-46 s CPU and 214-224 MiB.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import sys
import time
import tracemalloc
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "aws-managed-policies" / "managed_policies_documents.json"
ACCOUNT = "111122223333"
PARTNER = "444455556666"
MANAGEMENT = "999988887777"
ORG_ID = "o-bench12345"
REGION = "us-east-1"
OWNER_ID = "c" * 64
KEYS = 50
GROUPS = 5
SERVICES = ("lambda.amazonaws.com", "ec2.amazonaws.com", "sagemaker.amazonaws.com",
            "glue.amazonaws.com", "ecs-tasks.amazonaws.com", "codebuild.amazonaws.com")
OIDC = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
NAIVE_SAMPLE_BUCKETS = 5
ALONE_SAMPLE_BUCKETS = 50
TARGET_SECONDS = 10.0
TARGET_BYTES = 1 << 30


# --------------------------------------------------------------------------- the account


def _doc(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _iam_arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:{kind}/{name}"


def build_inventory(roles: int, buckets: int, users: int, seed: int, org: bool = False) -> Any:
    """The synthetic account (module docstring); the same arguments give the same inventory."""
    from auditor.inventory import Inventory, Resource, Scope

    rng = random.Random(seed)
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    names = sorted(name for name, entry in corpus.items()
                   if isinstance(entry.get("document"), Mapping) and not entry.get("malformed"))
    bucket_names = [f"ml-{'weights' if i % 2 else 'data'}-{i:04d}" for i in range(buckets)]
    role_names = [f"role-{i:05d}" for i in range(roles)]
    resources: list[Any] = [Resource(
        id=f"arn:aws:iam::{ACCOUNT}:root", type="aws.account", provider="aws", account=ACCOUNT,
        name=ACCOUNT, attributes={"account_id": ACCOUNT, "s3_public_access_block": None,
                                  "organization_id": ORG_ID if org else None,
                                  "caller_arn": None})]
    if org:
        resources.extend(_organization())
    attached: set[str] = set()

    def some_managed(low: int, high: int) -> list[str]:
        chosen = rng.sample(names, rng.randint(low, high))
        attached.update(chosen)
        return [corpus[n]["arn"] for n in chosen]

    def bucket_grants(actions: list[str]) -> dict[str, Any]:
        targets = rng.sample(bucket_names, min(3, len(bucket_names)))
        return _doc({"Effect": "Allow", "Action": actions,
                     "Resource": [f"arn:aws:s3:::{b}/*" for b in targets]})

    boundary = _iam_arn("policy", "workload-boundary")
    resources.append(_policy(boundary, "workload-boundary", _doc(
        {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "kms:Decrypt", "logs:*"],
         "Resource": "*"}), aws_managed=False))
    for index, name in enumerate(role_names):
        inline: dict[str, Any] = {}
        if rng.random() < 0.2:
            inline["buckets"] = bucket_grants(rng.choice(
                [["s3:GetObject"], ["s3:GetObject", "s3:PutObject"], ["s3:*"]]))
        if rng.random() < 0.05:
            inline["assume"] = _doc({"Effect": "Allow", "Action": "sts:AssumeRole",
                                     "Resource": _iam_arn("role", rng.choice(role_names))})
        resources.append(Resource(
            id=_iam_arn("role", name), type="aws.iam.role", provider="aws", account=ACCOUNT,
            name=name, tags={"team": rng.choice(("ml", "data", "platform", "serving"))},
            attributes={"role_id": f"AROA{index:016d}", "path": "/",
                        "trust_policy": _trust(rng, role_names, index),
                        "attached_policies": some_managed(1, 4), "inline_policies": inline,
                        "permissions_boundary": boundary if rng.random() < 0.1 else None,
                        "last_used": None, "service_linked": False}))
    group_names = [f"group-{i}" for i in range(GROUPS)]
    members: dict[str, list[str]] = {g: [] for g in group_names}
    for index in range(users):
        name = f"user-{index:04d}"
        group = rng.choice(group_names)
        members[group].append(_iam_arn("user", name))
        inline = {"assume": _doc({"Effect": "Allow", "Action": "sts:AssumeRole",
                                  "Resource": "*"})} if rng.random() < 0.1 else {}
        resources.append(Resource(
            id=_iam_arn("user", name), type="aws.iam.user", provider="aws", account=ACCOUNT,
            name=name, tags={} if rng.random() < 0.8 else {"automation": "true"},
            attributes={"user_id": f"AIDA{index:016d}", "path": "/", "groups": [group],
                        "attached_policies": some_managed(0, 2), "inline_policies": inline,
                        "permissions_boundary": None, "mfa_devices": [], "login_profile": None,
                        "password_last_used": None}))
    for index, name in enumerate(group_names):
        resources.append(Resource(
            id=_iam_arn("group", name), type="aws.iam.group", provider="aws", account=ACCOUNT,
            name=name, attributes={"group_id": f"AGPA{index:016d}", "path": "/",
                                   "attached_policies": some_managed(1, 3),
                                   "inline_policies": {}, "members": members[name]}))
    for name in sorted(attached):
        entry = corpus[name]
        resources.append(_policy(entry["arn"], name, entry["document"], aws_managed=True))
    key_arns = [f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{i:08d}-0000-4000-8000-000000000000"
                for i in range(KEYS)]
    resources.extend(_key(rng, key_arn, role_names) for key_arn in key_arns)
    resources.extend(_bucket(rng, name, role_names, key_arns) for name in bucket_names)
    inventory = Inventory()
    inventory.add([Scope("aws", ACCOUNT, (REGION,), ())])
    inventory.add(resources)
    return inventory


def _organization() -> list[Any]:
    """The account's organization (module docstring): its policies and account records."""
    from auditor.inventory import Resource

    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    policies = {
        "FullAWSAccess": ("SCP", _doc(everything)),
        "RCPFullAWSAccess": ("RCP", _doc({**everything, "Principal": "*"})),
        "keep-weights": ("SCP", _doc({"Effect": "Deny", "Action": "s3:DeleteObject*",
                                      "Resource": "arn:aws:s3:::ml-weights-*/*"})),
        "region-lock": ("SCP", _doc({"Effect": "Deny", "NotAction": ["iam:*", "sts:*"],
                                     "Resource": "*", "Condition": {"StringNotEquals": {
                                         "aws:RequestedRegion": [REGION, "eu-west-1"]}}})),
        "perimeter": ("RCP", _doc({"Effect": "Deny", "Principal": "*",
                                   "Action": ["s3:*", "kms:*", "sts:AssumeRole"],
                                   "Resource": "*", "Condition": {
                                       "StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG_ID},
                                       "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}})),
    }
    arns = {name: f"arn:aws:organizations::{MANAGEMENT}:policy/{ORG_ID}/"
                  f"{'service' if kind == 'SCP' else 'resource'}_control_policy/p-{name.lower()}"
            for name, (kind, _document) in policies.items()}
    records: list[Any] = [Resource(
        id=arns[name], type="aws.organizations.policy", provider="aws", account=MANAGEMENT,
        name=name, attributes={"policy_id": f"p-{name.lower()}", "description": name,
                               "aws_managed": name.endswith("FullAWSAccess"), "document": document,
                               "policy_type": ("SERVICE_CONTROL_POLICY" if kind == "SCP"
                                               else "RESOURCE_CONTROL_POLICY"), "targets": []})
        for name, (kind, document) in policies.items()]
    targets = [("r-root", "ROOT"), ("ou-ml", "ORGANIZATIONAL_UNIT"), (ACCOUNT, "ACCOUNT")]

    def levels(*names: tuple[str, ...]) -> list[dict[str, Any]]:
        return [{"target_id": target, "target_type": kind, "policies": sorted(arns[n] for n in level)}
                for (target, kind), level in zip(targets, names, strict=True)]

    for account, member in ((ACCOUNT, True), (MANAGEMENT, False)):
        records.append(Resource(
            id=f"arn:aws:organizations::{MANAGEMENT}:account/{ORG_ID}/{account}",
            type="aws.organizations.account", provider="aws", account=account, name=account,
            attributes={"account_id": account, "organization_id": ORG_ID,
                        "management_account_id": MANAGEMENT, "is_management_account": not member,
                        "status": "ACTIVE", "parents": [],
                        "service_control_policies": levels(
                            ("FullAWSAccess",), ("FullAWSAccess", "keep-weights"),
                            ("FullAWSAccess", "region-lock")) if member else None,
                        "resource_control_policies": levels(
                            ("RCPFullAWSAccess", "perimeter"), ("RCPFullAWSAccess",),
                            ("RCPFullAWSAccess",)) if member else None}))
    return records


def _policy(arn: str, name: str, document: Mapping[str, Any], aws_managed: bool) -> Any:
    from auditor.inventory import Resource

    return Resource(id=arn, type="aws.iam.policy", provider="aws", account=ACCOUNT, name=name,
                    attributes={"document": document, "aws_managed": aws_managed,
                                "policy_id": f"ANPA{zlib.crc32(name.encode()):016d}", "path": "/",
                                "default_version_id": "v1", "attachment_count": 1})


def _trust(rng: random.Random, role_names: list[str], index: int) -> dict[str, Any]:
    kind = rng.random()
    if kind < 0.55:
        principal: dict[str, Any] = {"Service": rng.choice(SERVICES)}
    elif kind < 0.75 and index:
        principal = {"AWS": _iam_arn("role", role_names[rng.randrange(index)])}
    elif kind < 0.85:
        principal = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    elif kind < 0.95:
        return _doc({"Effect": "Allow", "Action": "sts:AssumeRole",
                     "Principal": {"AWS": f"arn:aws:iam::{PARTNER}:root"},
                     "Condition": {"StringEquals": {"sts:ExternalId": f"ext-{index}"}}})
    else:
        return _doc({"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                     "Principal": {"Federated": OIDC},
                     "Condition": {"StringLike": {
                         "token.actions.githubusercontent.com:sub": "repo:acme/*"}}})
    return _doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal})


def _key(rng: random.Random, key_arn: str, role_names: list[str]) -> Any:
    from auditor.inventory import Resource

    users = [_iam_arn("role", r) for r in rng.sample(role_names, min(3, len(role_names)))]
    statements: list[dict[str, Any]] = []
    if rng.random() < 0.7:  # the default key policy: IAM policies decide
        statements.append({"Sid": "EnableIamPolicies", "Effect": "Allow",
                           "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                           "Action": "kms:*", "Resource": "*"})
    statements.append({"Sid": "KeyUsers", "Effect": "Allow", "Principal": {"AWS": users},
                       "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                       "Resource": "*"})
    key_id = key_arn.rsplit("/", 1)[1]
    return Resource(id=key_arn, type="aws.kms.key", provider="aws", account=ACCOUNT,
                    region=REGION, name=key_id,
                    attributes={"key_id": key_id, "aliases": [], "alias_arns": [],
                                "policy": _doc(*statements), "key_manager": "CUSTOMER",
                                "key_state": "Enabled", "enabled": True, "grants": [],
                                "rotation_enabled": True, "key_spec": "SYMMETRIC_DEFAULT",
                                "key_usage": "ENCRYPT_DECRYPT"})


def _bucket(rng: random.Random, name: str, role_names: list[str], key_arns: list[str]) -> Any:
    from auditor.inventory import Resource

    arn = f"arn:aws:s3:::{name}"
    everything = [arn, f"{arn}/*"]
    reader = _iam_arn("role", rng.choice(role_names))
    policy: dict[str, Any] | None = None
    kind = rng.random()
    if kind < 0.1:
        policy = _doc({"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                       "Resource": everything,
                       "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    elif kind < 0.2:
        policy = _doc({"Sid": "RoleRead", "Effect": "Allow", "Principal": {"AWS": reader},
                       "Action": "s3:GetObject", "Resource": f"{arn}/*"})
    elif kind < 0.27:
        policy = _doc({"Sid": "PartnerRead", "Effect": "Allow",
                       "Principal": {"AWS": f"arn:aws:iam::{PARTNER}:root"},
                       "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": everything})
    elif kind < 0.33:
        policy = _doc({"Sid": "OnlyTheReader", "Effect": "Deny", "Principal": "*",
                       "Action": "s3:GetObject", "Resource": f"{arn}/*",
                       "Condition": {"ArnNotEquals": {"aws:PrincipalArn": reader}}})
    encryption: dict[str, Any] = {"algorithm": "AES256", "kms_key_id": None,
                                  "bucket_key_enabled": False}
    if rng.random() < 0.4:
        encryption = {"algorithm": "aws:kms", "kms_key_id": rng.choice(key_arns),
                      "bucket_key_enabled": rng.random() < 0.7}
    block = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                           "RestrictPublicBuckets"), True) if rng.random() < 0.25 else None
    private = {"owner_id": OWNER_ID, "grants": [
        {"grantee_type": "CanonicalUser", "grantee_id": OWNER_ID, "grantee_uri": None,
         "grantee_email": None, "permission": "FULL_CONTROL"}]}
    weights = "weights" in name
    keys = ([f"v{i}/model-0000{i}.safetensors" for i in range(3)] if weights
            else [f"shards/part-{i:05d}.parquet" for i in range(3)])
    tag = {"ml-asset": "model-weights"} if weights else {"data-classification": "training-data"}
    return Resource(id=arn, type="aws.s3.bucket", provider="aws", account=ACCOUNT,
                    region=REGION, name=name, tags=tag,
                    attributes={"owner_id": OWNER_ID, "policy": policy, "acl": private,
                                "public_access_block": block,
                                "object_ownership": "BucketOwnerEnforced",
                                "encryption": encryption,
                                "versioning": {"status": "Enabled", "mfa_delete": False},
                                "object_sample": [{"key": k, "size": 1, "acl": None}
                                                  for k in keys],
                                "object_sample_truncated": False})


# --------------------------------------------------------------------------- the phases


def who_can_read(inventory: Any) -> dict[str, int]:
    from auditor.access.aws.analyzer import AwsAnalyzer
    from auditor.classify.ml import classify_inventory

    sensitive = sorted(rid for rid, c in classify_inventory(inventory).items() if c.sensitive)
    analyzer = AwsAnalyzer()
    grants = sum(len(analyzer.who_can(inventory, rid, "read")) for rid in sensitive)
    model = analyzer.model(inventory)
    return {"buckets": len(sensitive), "grants": grants,
            "principals": len(model.graph.principals), "evaluations": model.evaluations.asked}


def full_analysis(inventory: Any) -> dict[str, int]:
    from auditor.access.aws.analyzer import AwsAnalyzer
    from auditor.pipeline import analyze

    _classifications, access = analyze(inventory)
    model = AwsAnalyzer().model(inventory)
    return {"buckets": len(access.assets),
            "grants": sum(len(a.grants) for a in access.assets.values()),
            "principals": len(model.graph.principals), "evaluations": model.evaluations.asked}


def alone_sample(inventory: Any) -> dict[str, int]:
    """who-can-read on a sample of buckets, every principal asked about on each bucket on its
    own (``AccessModel(grouping=False)``: no bucket classes, no key answers shared)."""
    from auditor.access.aws.analyzer import AccessModel, question_for
    from auditor.classify.ml import classify_inventory

    sensitive = sorted(rid for rid, c in classify_inventory(inventory).items() if c.sensitive)
    sample = sensitive[:: max(1, len(sensitive) // ALONE_SAMPLE_BUCKETS)][:ALONE_SAMPLE_BUCKETS]
    model = AccessModel(inventory, grouping=False)
    grants = sum(len(model.grants(model.bucket(rid), question_for("read"))) for rid in sample)
    return {"buckets": len(sample), "of_buckets": len(sensitive), "grants": grants,
            "principals": len(model.graph.principals), "evaluations": model.evaluations.asked}


def naive_sample(inventory: Any) -> dict[str, int]:
    """evaluator.evaluate for every principal on a sample of buckets (module docstring)."""
    from auditor.access.aws.evaluator import NamedPolicy, Request, evaluate
    from auditor.access.aws.principals import build_graph

    graph = build_graph(inventory)
    buckets = sorted(inventory.of_type("aws.s3.bucket"), key=lambda r: r.id)
    sample = buckets[:: max(1, len(buckets) // NAIVE_SAMPLE_BUCKETS)][:NAIVE_SAMPLE_BUCKETS]
    calls = allowed = 0
    for bucket in sample:
        document = bucket.attributes.get("policy")
        policy = NamedPolicy(f"{bucket.id}#policy", document) if document else None
        key = bucket.attributes["object_sample"][0]["key"]
        for principal in graph:
            request = Request(principal=principal.caller.request_arn,
                              principal_account=principal.caller.account,
                              action="s3:GetObject", resource=f"{bucket.id}/{key}",
                              resource_account=bucket.account, context=principal.caller.keys,
                              open_world=True)
            result = evaluate(request, principal.policies(policy, "s3"))
            calls += 1
            allowed += result.decision in ("allow", "conditional")
    return {"buckets": len(sample), "of_buckets": len(buckets), "grants": allowed,
            "principals": len(graph.principals), "evaluations": calls}


PHASES: dict[str, Callable[[Any], dict[str, int]]] = {
    "who-can-read": who_can_read, "who-can-read-org": who_can_read, "analyze": full_analysis,
    "alone-sample": alone_sample, "naive-sample": naive_sample}
ORG_SUFFIX = "-org"  # the phase, on the account in its organization


@dataclass(frozen=True, slots=True)
class Measurement:
    phase: str
    roles: int
    buckets: int
    seconds: float
    cpu_seconds: float
    peak_rss: int  # bytes, the whole child process
    inventory_rss: int  # bytes, once the inventory is built (before the phase)
    traced_peak: int | None  # bytes of Python allocations during the phase (--tracemalloc)
    counts: dict[str, int]


def _rss() -> int:
    # ru_maxrss is in KiB on Linux (bytes on macOS)
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def measure(phase: str, roles: int, buckets: int, users: int, seed: int,
            trace: bool) -> Measurement:
    """One phase on a freshly built account; meant to run in a fresh child process."""
    sys.path.insert(0, str(ROOT))
    inventory = build_inventory(roles, buckets, users, seed, org=phase.endswith(ORG_SUFFIX))
    inventory_rss = _rss()
    if trace:
        tracemalloc.start()
    wall, cpu = time.perf_counter(), time.process_time()
    counts = PHASES[phase](inventory)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    traced = tracemalloc.get_traced_memory()[1] if trace else None
    return Measurement(phase, roles, buckets, wall, cpu, _rss(), inventory_rss, traced, counts)


def in_child(phase: str, roles: int, buckets: int, users: int, seed: int,
             trace: bool) -> Measurement:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(measure, phase, roles, buckets, users, seed, trace).result()


# --------------------------------------------------------------------------- report


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / (1 << 20):,.0f} MiB"


def _row(m: Measurement, note: str = "") -> str:
    return (f"{m.phase:<16} {m.roles:>6} {m.buckets:>6} {m.seconds:>9.2f} {m.cpu_seconds:>9.2f} "
            f"{_mib(m.peak_rss):>10} {_mib(m.peak_rss - m.inventory_rss):>10} "
            f"{_mib(m.traced_peak):>10} {m.counts['grants']:>9,} {m.counts['evaluations']:>11,}"
            f"  {note}").rstrip()


def _all_of(sample: Measurement) -> float:
    """A sampled phase's time extrapolated to all buckets."""
    return sample.seconds * sample.counts["of_buckets"] / sample.counts["buckets"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roles", type=int, default=5000)
    parser.add_argument("--buckets", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20241126)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also trace Python allocations (slower)")
    parser.add_argument("--json", type=Path, help="also write the measurements to this file")
    args = parser.parse_args(argv)
    small = (max(1, args.roles // 10), max(1, args.buckets // 10), max(1, args.users // 10))
    runs = [("who-can-read", args.roles, args.buckets, args.users),
            ("who-can-read-org", args.roles, args.buckets, args.users),
            ("analyze", args.roles, args.buckets, args.users),
            ("who-can-read", *small),
            ("alone-sample", args.roles, args.buckets, args.users),
            ("naive-sample", args.roles, args.buckets, args.users)]
    print(f"synthetic account: {args.roles} roles, {args.users} users, {args.buckets} sensitive "
          f"buckets, seed {args.seed}; each row in a fresh process")
    print(f"{'phase':<16} {'roles':>6} {'bkts':>6} {'wall s':>9} {'cpu s':>9} {'peak RSS':>10} "
          f"{'+ phase':>10} {'traced':>10} {'grants':>9} {'evaluations':>11}")
    results: list[Measurement] = []
    for phase, roles, buckets, users in runs:
        found = in_child(phase, roles, buckets, users, args.seed, args.tracemalloc)
        results.append(found)
        note = ""
        if phase.endswith("-sample"):
            note = (f"sample of {found.counts['buckets']} buckets; all "
                    f"{found.counts['of_buckets']}: ~{_all_of(found):,.0f} s")
        print(_row(found, note), flush=True)
    read, org, full, small_read, alone, naive = results
    print()
    print(f"who-can-read vs every principal asked about on each bucket on its own "
          f"(extrapolated): {_all_of(alone) / read.seconds:,.1f}x faster")
    print(f"who-can-read vs naive evaluation of every pair (extrapolated): "
          f"{_all_of(naive) / read.seconds:,.1f}x faster")
    print(f"who-can-read at 10x the size: {read.seconds / small_read.seconds:,.1f}x the time, "
          f"{read.peak_rss / small_read.peak_rss:,.1f}x the peak memory")
    print(f"analyze (4 access classes) vs who-can-read: {full.seconds / read.seconds:,.1f}x "
          f"the time, {full.peak_rss / read.peak_rss:,.1f}x the peak memory")
    print(f"who-can-read in an organization (SCPs and RCPs) vs alone: "
          f"{org.seconds / read.seconds:,.1f}x the time, "
          f"{org.peak_rss / read.peak_rss:,.1f}x the peak memory")
    ok = all(m.seconds < TARGET_SECONDS and m.peak_rss < TARGET_BYTES for m in (read, org))
    print(f"target (who-can-read, alone and in an organization, under {TARGET_SECONDS:.0f} s "
          f"and 1 GiB): {'met' if ok else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps([asdict(m) for m in results], indent=2) + "\n",
                             encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
