"""S3 buckets holding training data or model weights, as Terraform and CloudFormation declare them.

Provider v4+ Terraform spreads a bucket over companion resources; each rule looks at the bucket
block (inline settings of provider v3, or whether a companion exists) and at the companion
that carries the setting, so a finding points at the lines to change.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from auditor.iac import s3
from auditor.iac.context import IacScan, Verdict
from auditor.iac.model import Block
from auditor.iac.policy import (
    Document,
    account_principals,
    actions_of,
    is_allow,
    public_statements,
    read_document,
)
from auditor.iac.rules import SensitiveBucketRule
from auditor.iac.storage import BucketRef

_BPA_TERRAFORM = """resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true
}"""

class _BucketPolicyRule(SensitiveBucketRule):
    """A rule on the statements of a sensitive bucket's policy, inline (provider v3, CloudFormation
    never) or in its companion block."""

    undecided: ClassVar[str]  # what an unreadable policy leaves open ("public access")

    def judge(self, block: Block, bucket: BucketRef, scan: IacScan) -> Verdict:
        value = s3.policy_attribute(block)
        if value is None:
            return Verdict.passed()
        document = read_document(scan.model, block, value)
        if document is None:
            return Verdict.error(f"the policy of {block.address} cannot be read from the code, so "
                                 f"{self.undecided} to the {bucket.describe()} cannot be ruled out")
        return self.judge_policy(block, bucket, scan, document)

    @abstractmethod
    def judge_policy(self, block: Block, bucket: BucketRef, scan: IacScan,
                     document: Document) -> Verdict:
        """The verdict on the readable policy ``document`` of ``block``."""


class SensitiveBucketPublicAcl(SensitiveBucketRule):
    id = "iac.s3.sensitive-bucket-public-acl"
    title = "Training data or model weights bucket with a public ACL"
    severity = "critical"
    terraform_types = ("aws_s3_bucket", "aws_s3_bucket_acl")
    cloudformation_types = ("AWS::S3::Bucket",)
    rationale = ("A public-read or authenticated-read ACL (or a grant to AllUsers / "
                 "AuthenticatedUsers) lets anyone list and read the objects: the dataset or the "
                 "weights are copied with no trace of who took them.")
    remediation: ClassVar[dict[str, str]] = {
        "text": "Use the private ACL, or better, set Object Ownership to BucketOwnerEnforced so that "
                "ACLs no longer apply, and turn Block Public Access on for the bucket.",
        "terraform": 'resource "aws_s3_bucket_ownership_controls" "this" {\n'
                     "  bucket = aws_s3_bucket.this.id\n"
                     '  rule {\n    object_ownership = "BucketOwnerEnforced"\n  }\n}\n\n' + _BPA_TERRAFORM,
    }
    references = ("https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html",)

    def judge(self, block: Block, bucket: BucketRef, scan: IacScan) -> Verdict:
        acl = s3.public_acl(block)
        if acl is None:
            return Verdict.passed()
        blocked = scan.public_access_block(bucket)
        evidence = {"acl": acl, "public_access_block": blocked}
        if blocked["block_public_acls"] or blocked["ignore_public_acls"]:
            return Verdict.passed(evidence)
        return Verdict.failed(f"{block.address} gives the {bucket.describe()} the public ACL {acl}, "
                              "and no Block Public Access setting stops it", evidence)


class SensitiveBucketPublicPolicy(_BucketPolicyRule):
    id = "iac.s3.sensitive-bucket-public-policy"
    title = "Training data or model weights bucket policy open to any principal"
    severity = "critical"
    terraform_types = ("aws_s3_bucket", "aws_s3_bucket_policy")
    cloudformation_types = ("AWS::S3::BucketPolicy",)
    rationale = ("A bucket-policy statement that allows Principal \"*\" (or uses NotPrincipal), with "
                 "no condition naming the accounts, organization or network endpoints allowed, "
                 "opens the bucket to anyone. Conditions such as aws:SourceIp or aws:Referer do "
                 "not say who the caller is.")
    remediation: ClassVar[dict[str, str]] = {
        "text": "Name the principals that need access, or add a condition on aws:PrincipalOrgID / "
                "aws:PrincipalAccount / aws:SourceVpce; turn on RestrictPublicBuckets and "
                "BlockPublicPolicy for the bucket.",
        "terraform": _BPA_TERRAFORM,
    }
    references = ("https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html",)

    undecided = "public access"

    def judge_policy(self, block: Block, bucket: BucketRef, scan: IacScan,
                     document: Document) -> Verdict:
        public = public_statements(document)
        if not public:
            return Verdict.passed()
        blocked = scan.public_access_block(bucket)
        evidence = {"statements": public, "policy_source": document.source, "public_access_block": blocked}
        if blocked["restrict_public_buckets"] or blocked["block_public_policy"]:
            return Verdict.passed(evidence)
        actions = sorted({a for s in public for a in actions_of(s)})
        return Verdict.failed(f"the policy in {block.address} lets any principal do "
                              f"{', '.join(actions) or 'everything'} on the {bucket.describe()}", evidence)


class SensitiveBucketCrossAccountPolicy(_BucketPolicyRule):
    id = "iac.s3.sensitive-bucket-cross-account-policy"
    title = "Training data or model weights bucket policy grants another AWS account"
    severity = "high"
    terraform_types = ("aws_s3_bucket", "aws_s3_bucket_policy")
    cloudformation_types = ("AWS::S3::BucketPolicy",)
    rationale = ("An Allow statement naming an account id that is not one of the trusted accounts "
                 "lets principals of that account use the bucket as its own administrators decide. "
                 "Accounts written as references (a caller-identity data source) are taken as ours.")
    remediation: ClassVar[dict[str, str]] = {
        "text": "Remove the other account from the policy, or, if it is yours, list it among the "
                "trusted accounts of the audit; grant the narrowest actions to named roles only.",
    }

    undecided = "access by other accounts"

    def judge_policy(self, block: Block, bucket: BucketRef, scan: IacScan,
                     document: Document) -> Verdict:
        granted = [s for s in document.statements if is_allow(s)
                   and set(account_principals(s)) - scan.trusted_accounts]
        if not granted:
            return Verdict.passed()
        accounts = sorted({a for s in granted for a in account_principals(s)} - scan.trusted_accounts)
        return Verdict.failed(f"the policy in {block.address} grants account(s) {', '.join(accounts)} "
                              f"access to the {bucket.describe()}",
                              {"accounts": accounts, "statements": granted,
                               "trusted_accounts": sorted(scan.trusted_accounts)})


class SensitiveBucketPublicAccessBlockOff(SensitiveBucketRule):
    id = "iac.s3.sensitive-bucket-public-access-block-off"
    title = "Training data or model weights bucket without all four Block Public Access settings"
    severity = "medium"
    terraform_types = ("aws_s3_bucket", "aws_s3_bucket_public_access_block")
    cloudformation_types = ("AWS::S3::Bucket",)
    rationale = ("Block Public Access is the guard rail that keeps a later ACL or policy mistake "
                 "from making the bucket public. Each of the four settings is off unless set.")
    remediation: ClassVar[dict[str, str]] = {
        "text": "Declare a public access block for the bucket with all four settings true (or one "
                "for the account).",
        "terraform": _BPA_TERRAFORM,
    }

    def judge(self, block: Block, bucket: BucketRef, scan: IacScan) -> Verdict:
        applied = scan.public_access_block(bucket)
        off = [name for name in s3.BPA_SETTINGS if not applied[name]]
        if not off:
            return Verdict.passed({"public_access_block": applied})
        if block.type == "aws_s3_bucket" and scan.companions(bucket, "aws_s3_bucket_public_access_block"):
            return Verdict.passed()  # the companion block is checked, and pointed at, on its own
        return Verdict.failed(f"{', '.join(off)} not on for the {bucket.describe()} ({block.address})",
                              {"off": off, "public_access_block": applied})


class SensitiveBucketNoCmkEncryption(SensitiveBucketRule):
    id = "iac.s3.sensitive-bucket-no-cmk-encryption"
    title = "Training data or model weights bucket not encrypted with a customer-managed KMS key"
    severity = "medium"
    terraform_types = ("aws_s3_bucket", "aws_s3_bucket_server_side_encryption_configuration")
    cloudformation_types = ("AWS::S3::Bucket",)
    rationale = ("Without SSE-KMS under a key you manage, anyone allowed s3:GetObject reads the "
                 "plaintext: there is no second, separately granted permission (kms:Decrypt) and no "
                 "key to disable in an incident. SSE-S3 and the AWS managed aws/s3 key give neither.")
    remediation: ClassVar[dict[str, str]] = {
        "text": "Set default encryption to aws:kms with a customer-managed key (with rotation and a "
                "key policy naming who may decrypt).",
        "terraform": 'resource "aws_s3_bucket_server_side_encryption_configuration" "this" {\n'
                     "  bucket = aws_s3_bucket.this.id\n  rule {\n"
                     "    apply_server_side_encryption_by_default {\n"
                     '      sse_algorithm     = "aws:kms"\n'
                     "      kms_master_key_id = aws_kms_key.this.arn\n    }\n"
                     "    bucket_key_enabled = true\n  }\n}",
    }

    def judge(self, block: Block, bucket: BucketRef, scan: IacScan) -> Verdict:
        rules = s3.default_encryption(block)
        if not rules and block.type == "aws_s3_bucket":
            if scan.companions(bucket, "aws_s3_bucket_server_side_encryption_configuration"):
                return Verdict.passed()  # checked, and pointed at, on the companion block
            return Verdict.failed(f"the {bucket.describe()} declares no default encryption, so S3 "
                                  f"encrypts with SSE-S3 under an AWS-owned key ({block.address})",
                                  {"default_encryption": []})
        evidence = {"default_encryption": [rule.to_dict() for rule in rules]}
        if any(rule.customer_managed_key for rule in rules):
            return Verdict.passed(evidence)
        found = ", ".join(sorted({str(rule.algorithm) for rule in rules})) or "none"
        return Verdict.failed(f"the {bucket.describe()} is encrypted with {found}, not with a "
                              f"customer-managed KMS key ({block.address})", evidence)


class SensitiveBucketVersioningDisabled(SensitiveBucketRule):
    id = "iac.s3.sensitive-bucket-versioning-disabled"
    title = "Training data or model weights bucket without versioning"
    severity = "medium"
    terraform_types = ("aws_s3_bucket", "aws_s3_bucket_versioning")
    cloudformation_types = ("AWS::S3::Bucket",)
    rationale = ("Without versioning an overwrite or a delete is final: poisoned training data or "
                 "tampered weights replace the originals with nothing to compare or restore.")
    remediation: ClassVar[dict[str, str]] = {
        "text": "Enable versioning (and consider Object Lock for weights).",
        "terraform": 'resource "aws_s3_bucket_versioning" "this" {\n  bucket = aws_s3_bucket.this.id\n'
                     '  versioning_configuration {\n    status = "Enabled"\n  }\n}',
    }

    def judge(self, block: Block, bucket: BucketRef, scan: IacScan) -> Verdict:
        enabled = s3.versioning_enabled(block)
        if enabled is None and block.type == "aws_s3_bucket" and \
                scan.companions(bucket, "aws_s3_bucket_versioning"):
            return Verdict.passed()  # checked, and pointed at, on the companion block
        if enabled:
            return Verdict.passed()
        return Verdict.failed(f"versioning is not enabled for the {bucket.describe()} ({block.address})")


class SensitiveBucketNoAccessLogging(SensitiveBucketRule):
    id = "iac.s3.sensitive-bucket-no-access-logging"
    title = "Training data or model weights bucket without server access logging"
    severity = "medium"
    terraform_types = ("aws_s3_bucket",)
    cloudformation_types = ("AWS::S3::Bucket",)
    rationale = ("Without access logs (or CloudTrail data events) nobody can tell afterwards who read "
                 "or copied the data: an exfiltration leaves no record.")
    remediation: ClassVar[dict[str, str]] = {
        "text": "Send server access logs to a separate, locked-down log bucket.",
        "terraform": 'resource "aws_s3_bucket_logging" "this" {\n  bucket        = aws_s3_bucket.this.id\n'
                     "  target_bucket = aws_s3_bucket.logs.id\n"
                     '  target_prefix = "this/"\n}',
    }

    def judge(self, block: Block, bucket: BucketRef, scan: IacScan) -> Verdict:
        if s3.logging_configured(block) or scan.companions(bucket, "aws_s3_bucket_logging"):
            return Verdict.passed()
        return Verdict.failed(f"no server access logging for the {bucket.describe()} ({block.address})")

