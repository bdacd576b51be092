"""Build a scenario on an AWS-compatible emulator (moto server, LocalStack).

This is the only code in the project that writes to an AWS API, and it refuses to talk to
anything but an explicit, non-AWS endpoint: it can never seed a real account. It uses fake
credentials of its own, whatever the environment holds.

Seeding is idempotent: users, roles, keys and buckets that exist are reused and updated, and
access keys are topped up to the requested count. For exact ground truth seed a fresh (reset)
emulator. The order of steps follows the scenario README, because AWS (and moto) reject or
mis-record some settings in another order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from auditor import __version__
from auditor.demo.scenario import check_scenario, resolve_placeholders, scenario_source
from auditor.errors import AuditorError, ConfigError
from auditor.scanners.aws.clients import AwsClients, is_custom_endpoint
from auditor.scanners.aws.errors import error_code

# not secret and not real: an emulator accepts any; LocalStack picks the account from a
# 12-digit access key id, so the scenario's account id is used as the key id
FAKE_SECRET = "testing"
USER_AGENT = f"auditor-demo-seed/{__version__}"
_ROLE_REFERENCE = re.compile(r":role/([\w+=,.@-]+)")
# IAM keeps at most 5 versions of a policy: old ones beyond this leave no room for the new one
_MAX_OLD_POLICY_VERSIONS = 3


class SeedError(AuditorError):
    """The emulator rejected a seeding step."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class SeedSummary:
    scenario: str
    endpoint_url: str
    account_id: str
    region: str
    buckets: int
    objects: int
    users: int
    roles: int
    groups: int
    managed_policies: int
    kms_keys: int
    new_access_keys: int
    account_public_access_block: bool
    # alias name -> key ARN: key ids are random, scenarios name keys by alias
    key_arns: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return (f"seeded {self.scenario} into {self.endpoint_url} (account {self.account_id}, "
                f"{self.region}): {self.buckets} buckets, {self.objects} objects, "
                f"{self.users} users, {self.roles} roles, {self.groups} groups, "
                f"{self.managed_policies} managed policies, {self.kms_keys} KMS keys, "
                f"{self.new_access_keys} new access keys, account public access block "
                f"{'set' if self.account_public_access_block else 'none'}")


def require_emulator_endpoint(endpoint_url: str | None) -> str:
    """The endpoint, if it is an explicit non-AWS http(s) URL; never real AWS."""
    if not endpoint_url:
        raise ConfigError("an emulator endpoint URL is required (e.g. http://127.0.0.1:5000); "
                          "refusing to seed without one, so that real AWS is never touched")
    parsed = urlparse(endpoint_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"not an http(s) endpoint URL: {endpoint_url!r}")
    if not is_custom_endpoint(endpoint_url):
        raise ConfigError(f"{endpoint_url} is a real AWS endpoint; the seeder only writes to "
                          f"emulators")
    return endpoint_url


def seed(scenario: Mapping[str, Any], endpoint_url: str) -> SeedSummary:
    """Build ``scenario`` on the emulator at ``endpoint_url``."""
    endpoint_url = require_emulator_endpoint(endpoint_url)
    source = scenario_source(scenario)
    check_scenario(scenario, source)
    seeder = _Seeder(scenario, endpoint_url, source)
    try:
        return seeder.run()
    except ClientError as exc:
        raise SeedError(f"seeding into {endpoint_url} failed: {exc}", source=source) from exc
    except BotoCoreError as exc:  # the endpoint is down or not an AWS emulator
        raise SeedError(f"cannot reach {endpoint_url}: {exc}", source=source) from exc


class _Seeder:
    def __init__(self, scenario: Mapping[str, Any], endpoint_url: str, source: str):
        self.scenario = scenario
        self.source = source
        self.account: str = scenario["account_id"]
        self.region: str = scenario["region"]
        self.endpoint_url = endpoint_url
        session = boto3.session.Session(aws_access_key_id=self.account,
                                        aws_secret_access_key=FAKE_SECRET,
                                        aws_session_token=FAKE_SECRET, region_name=self.region)
        clients = AwsClients(session, endpoint_url=endpoint_url, user_agent=USER_AGENT)
        self.sts, self.iam, self.kms, self.s3, self.s3control = (
            clients.client(service) for service in ("sts", "iam", "kms", "s3", "s3control"))
        self.key_arns: dict[str, str] = {}
        self.objects = 0
        self.new_access_keys = 0

    def items(self, key: str) -> list[dict[str, Any]]:
        return list(self.scenario.get(key) or [])

    # ------------------------------------------------------------------ helpers
    def resolve(self, value: Any, where: str) -> Any:
        return resolve_placeholders(value, {"ACCOUNT": self.account, "REGION": self.region},
                                    self.key_arns, self.source, where)

    def document(self, value: Any, where: str) -> str:
        return json.dumps(self.resolve(value, where))

    def policy_arn(self, name: str) -> str:
        return name if name.startswith("arn:") else f"arn:aws:iam::{self.account}:policy/{name}"

    @staticmethod
    def tag_list(tags: Mapping[str, Any] | None) -> list[dict[str, str]]:
        return [{"Key": key, "Value": str(value)} for key, value in (tags or {}).items()]

    @staticmethod
    def tolerate(codes: set[str], call: Callable[..., Any], **params: Any) -> Any:
        """Make the call; an error with one of ``codes`` means "already so" and is fine."""
        try:
            return call(**params)
        except ClientError as exc:
            if error_code(exc) in codes:
                return None
            raise

    # ------------------------------------------------------------------ steps
    def run(self) -> SeedSummary:
        self.check_account()
        # a re-run must not be blocked by the account-level Block* settings of the last run
        self.tolerate({"NoSuchPublicAccessBlockConfiguration"},
                      self.s3control.delete_public_access_block, AccountId=self.account)
        self.create_keys()           # first, so that ${KEY_ARN:...} resolves in IAM policies
        self.create_oidc_providers()
        self.create_managed_policies()
        self.create_groups()
        self.create_users()
        self.create_roles()
        self.finish_keys()           # key policies name users and roles: after IAM
        for i, bucket in enumerate(self.items("buckets")):
            self.create_bucket(bucket, f"$.buckets[{i}]")
        self.configure_logging()     # after every bucket policy: log targets need theirs
        self.account_public_access_block()  # last: it would reject earlier public ACLs
        scenario = self.scenario
        return SeedSummary(
            scenario=str(scenario.get("name", "?")), endpoint_url=self.endpoint_url,
            account_id=self.account, region=self.region, buckets=len(self.items("buckets")),
            objects=self.objects, users=len(self.items("users")), roles=len(self.items("roles")),
            groups=len(self.items("groups")),
            managed_policies=len(self.items("managed_policies")),
            kms_keys=len(self.items("kms_keys")), new_access_keys=self.new_access_keys,
            account_public_access_block=bool(scenario.get("account_public_access_block")),
            key_arns=dict(self.key_arns))

    def check_account(self) -> None:
        found = self.sts.get_caller_identity()["Account"]
        if found != self.account:
            raise ConfigError(f"the endpoint's account is {found} but the scenario expects "
                              f"{self.account}; ARNs in its expectations would not match",
                              source=self.source, location="$.account_id")

    def create_keys(self) -> None:
        for key in self.items("kms_keys"):
            alias = key["alias"]
            try:
                metadata = self.kms.describe_key(KeyId=alias)["KeyMetadata"]
            except ClientError as exc:
                if error_code(exc) != "NotFoundException":
                    raise
                metadata = self.kms.create_key(Description=key.get("description", alias),
                                               KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
                self.kms.create_alias(AliasName=alias, TargetKeyId=metadata["KeyId"])
            self.key_arns[alias] = metadata["Arn"]

    def finish_keys(self) -> None:
        for i, key in enumerate(self.items("kms_keys")):
            arn = self.key_arns[key["alias"]]
            if key.get("policy") is not None:
                # the lockout check would refuse key policies without an account-root statement
                self.kms.put_key_policy(KeyId=arn, PolicyName="default",
                                        Policy=self.document(key["policy"],
                                                             f"$.kms_keys[{i}].policy"),
                                        BypassPolicyLockoutSafetyCheck=True)
            if key.get("rotation"):
                self.kms.enable_key_rotation(KeyId=arn)
            else:
                self.tolerate({"UnsupportedOperationException"}, self.kms.disable_key_rotation,
                              KeyId=arn)

    def create_oidc_providers(self) -> None:
        for provider in self.items("oidc_providers"):
            self.tolerate({"EntityAlreadyExists"}, self.iam.create_open_id_connect_provider,
                          Url=provider["url"], ClientIDList=provider.get("client_ids", []),
                          ThumbprintList=provider.get("thumbprints", []))

    def create_managed_policies(self) -> None:
        for i, policy in enumerate(self.items("managed_policies")):
            body = self.document(policy["document"], f"$.managed_policies[{i}].document")
            try:
                self.iam.create_policy(PolicyName=policy["name"], PolicyDocument=body,
                                       Description=policy.get("description", "")[:1000])
            except ClientError as exc:
                if error_code(exc) != "EntityAlreadyExists":
                    raise
                self.replace_policy_version(self.policy_arn(policy["name"]), body)

    def replace_policy_version(self, arn: str, body: str) -> None:
        versions = self.iam.list_policy_versions(PolicyArn=arn)["Versions"]
        old = sorted((v for v in versions if not v["IsDefaultVersion"]),
                     key=lambda version: version["CreateDate"])
        while len(old) > _MAX_OLD_POLICY_VERSIONS:
            self.iam.delete_policy_version(PolicyArn=arn, VersionId=old.pop(0)["VersionId"])
        self.iam.create_policy_version(PolicyArn=arn, PolicyDocument=body, SetAsDefault=True)

    def attach_policies(self, kind: str, entry: Mapping[str, Any], where: str) -> None:
        """Managed and inline policies of a group, user or role (``kind``)."""
        name_param = {f"{kind.capitalize()}Name": entry["name"]}
        attach = getattr(self.iam, f"attach_{kind}_policy")
        put = getattr(self.iam, f"put_{kind}_policy")
        for managed in entry.get("managed_policies") or []:
            attach(**name_param, PolicyArn=self.policy_arn(managed))
        for policy_name, document in (entry.get("inline_policies") or {}).items():
            put(**name_param, PolicyName=policy_name,
                PolicyDocument=self.document(document, f"{where}.inline_policies.{policy_name}"))

    def create_groups(self) -> None:
        for i, group in enumerate(self.items("groups")):
            self.tolerate({"EntityAlreadyExists"}, self.iam.create_group, GroupName=group["name"])
            self.attach_policies("group", group, f"$.groups[{i}]")

    def create_users(self) -> None:
        for i, user in enumerate(self.items("users")):
            params: dict[str, Any] = {"UserName": user["name"]}
            if user.get("tags"):
                params["Tags"] = self.tag_list(user["tags"])
            self.tolerate({"EntityAlreadyExists"}, self.iam.create_user, **params)
            for group in user.get("groups") or []:
                self.iam.add_user_to_group(GroupName=group, UserName=user["name"])
            self.attach_policies("user", user, f"$.users[{i}]")
            have = len(self.iam.list_access_keys(UserName=user["name"])["AccessKeyMetadata"])
            for _ in range(have, int(user.get("access_keys") or 0)):
                self.iam.create_access_key(UserName=user["name"])
                self.new_access_keys += 1

    def role_order(self) -> list[tuple[int, dict[str, Any]]]:
        """Roles named in another role's trust policy are created first (IAM checks that a
        principal in a trust policy exists)."""
        roles = list(enumerate(self.items("roles")))
        names = {role["name"] for _, role in roles}
        needs = {role["name"]: (set(_ROLE_REFERENCE.findall(json.dumps(role["trust_policy"])))
                                & names) - {role["name"]} for _, role in roles}
        done: set[str] = set()
        ordered: list[tuple[int, dict[str, Any]]] = []
        while len(ordered) < len(roles):
            ready = [(i, role) for i, role in roles
                     if role["name"] not in done and needs[role["name"]] <= done]
            if not ready:  # a cycle: the rest in the listed order
                ready = [(i, role) for i, role in roles if role["name"] not in done]
            for i, role in ready:
                done.add(role["name"])
                ordered.append((i, role))
        return ordered

    def create_roles(self) -> None:
        for i, role in self.role_order():
            where = f"$.roles[{i}]"
            trust = self.document(role["trust_policy"], f"{where}.trust_policy")
            params: dict[str, Any] = {"RoleName": role["name"], "AssumeRolePolicyDocument": trust,
                                      "Description": role.get("description", "")[:1000]}
            if role.get("tags"):
                params["Tags"] = self.tag_list(role["tags"])
            if role.get("permissions_boundary"):
                params["PermissionsBoundary"] = self.policy_arn(role["permissions_boundary"])
            try:
                self.iam.create_role(**params)
            except ClientError as exc:
                if error_code(exc) != "EntityAlreadyExists":
                    raise
                self.iam.update_assume_role_policy(RoleName=role["name"], PolicyDocument=trust)
                if role.get("permissions_boundary"):
                    self.iam.put_role_permissions_boundary(
                        RoleName=role["name"], PermissionsBoundary=params["PermissionsBoundary"])
            self.attach_policies("role", role, where)

    @staticmethod
    def policy_is_public(policy: Mapping[str, Any] | None) -> bool:
        """Rough, and only used to order PutBucketPolicy against Block Public Access."""
        for statement in (policy or {}).get("Statement", []):
            principal = statement.get("Principal")
            aws = principal.get("AWS") if isinstance(principal, dict) else None
            aws = aws if isinstance(aws, list) else [aws]
            if statement.get("Effect") == "Allow" and (principal == "*" or "*" in aws):
                return True
        return False

    def create_bucket(self, bucket: Mapping[str, Any], where: str) -> None:
        name = bucket["name"]
        s3 = self.s3
        params: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        self.tolerate({"BucketAlreadyOwnedByYou"}, s3.create_bucket, **params)
        # on a re-run the old policy may deny our own uploads (moto enforces bucket-policy
        # Deny statements on object requests); it is put back at the end
        self.tolerate({"NoSuchBucketPolicy"}, s3.delete_bucket_policy, Bucket=name)
        # start from no bucket-level Block Public Access; the scenario's goes on below
        self.tolerate({"NoSuchPublicAccessBlockConfiguration", "NoSuchBucket"},
                      s3.delete_public_access_block, Bucket=name)
        ownership = bucket.get("object_ownership")
        if ownership in ("ObjectWriter", "BucketOwnerPreferred"):
            self.put_ownership(name, ownership)
        if bucket.get("tags"):
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": self.tag_list(bucket["tags"])})
        bucket_acl = bucket.get("acl", "private")
        if bucket_acl != "private":
            s3.put_bucket_acl(Bucket=name, ACL=bucket_acl)
        if bucket.get("encryption"):
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
                "Rules": [self.encryption_rule(bucket["encryption"])]})
        if bucket.get("versioning"):
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        for item in bucket.get("objects") or []:
            self.put_object(name, item, bucket_acl)
        if ownership == "BucketOwnerEnforced":  # after the uploads: it disables object ACLs
            self.put_ownership(name, ownership)
        self.apply_policy_and_block(bucket, where)

    def put_ownership(self, bucket: str, ownership: str) -> None:
        self.s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": ownership}]})

    def encryption_rule(self, encryption: Mapping[str, Any]) -> dict[str, Any]:
        default: dict[str, Any] = {"SSEAlgorithm": encryption["type"]}
        rule: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": default}
        if encryption["type"] == "aws:kms":
            if encryption.get("key_alias"):  # no alias: the AWS-managed aws/s3 key
                default["KMSMasterKeyID"] = self.key_arns[encryption["key_alias"]]
            rule["BucketKeyEnabled"] = bool(encryption.get("bucket_key", False))
        return rule

    def put_object(self, bucket: str, item: Mapping[str, Any], bucket_acl: str) -> None:
        body = item.get("body", f"synthetic test object s3://{bucket}/{item['key']}\n")
        params: dict[str, Any] = {"Bucket": bucket, "Key": item["key"], "Body": body.encode()}
        if item.get("acl"):
            params["ACL"] = item["acl"]
        elif bucket_acl != "private":
            params["ACL"] = "private"  # the AWS default; moto would copy the bucket ACL
        self.s3.put_object(**params)
        self.objects += 1

    def apply_policy_and_block(self, bucket: Mapping[str, Any], where: str) -> None:
        name = bucket["name"]
        policy = self.resolve(bucket["policy"], f"{where}.policy") if bucket.get("policy") else None

        def put_policy() -> None:
            if policy:
                self.s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))

        def put_block() -> None:
            if bucket.get("public_access_block"):
                self.s3.put_public_access_block(
                    Bucket=name, PublicAccessBlockConfiguration=bucket["public_access_block"])

        # a public policy must exist before BlockPublicPolicy is on; any other policy may
        # deny later configuration calls, so it goes last
        steps = (put_policy, put_block) if self.policy_is_public(policy) else (put_block, put_policy)
        for step in steps:
            step()

    def configure_logging(self) -> None:
        for bucket in self.items("buckets"):
            if bucket.get("logging_target"):
                self.s3.put_bucket_logging(Bucket=bucket["name"], BucketLoggingStatus={
                    "LoggingEnabled": {"TargetBucket": bucket["logging_target"],
                                       "TargetPrefix": bucket.get("logging_prefix",
                                                                  f"{bucket['name']}/")}})

    def account_public_access_block(self) -> None:
        configuration = self.scenario.get("account_public_access_block")
        if configuration:
            self.s3control.put_public_access_block(
                AccountId=self.account, PublicAccessBlockConfiguration=configuration)
        else:
            self.tolerate({"NoSuchPublicAccessBlockConfiguration"},
                          self.s3control.delete_public_access_block, AccountId=self.account)
