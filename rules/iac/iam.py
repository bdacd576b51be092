"""IAM policies in code that read the objects of every bucket, training data and weights included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from auditor.iac import values
from auditor.iac.context import NOT_APPLICABLE, IacScan, Verdict
from auditor.iac.managed import READ_ACTION, reader_named_by
from auditor.iac.model import Block
from auditor.iac.policy import grants_on_every_bucket, read_document
from auditor.iac.rules import IacRule

# resources whose policy attribute is one identity policy
_POLICY_RESOURCES = ("aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy")
# resources that attach managed policies by ARN, and the attribute that holds them
_ATTACHMENTS = {"aws_iam_role_policy_attachment": "policy_arn",
                "aws_iam_user_policy_attachment": "policy_arn",
                "aws_iam_group_policy_attachment": "policy_arn", "aws_iam_policy_attachment": "policy_arn",
                "aws_iam_role_policy_attachments_exclusive": "policy_arns",
                "aws_iam_user_policy_attachments_exclusive": "policy_arns",
                "aws_iam_group_policy_attachments_exclusive": "policy_arns",
                "aws_iam_role": "managed_policy_arns"}
_CFN_DOCUMENT = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
_CFN_INLINE = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")


class PolicyReadsEveryBucket(IacRule):
    id = "iac.iam.policy-reads-every-bucket"
    title = "IAM policy grants object read on every S3 bucket"
    severity = "high"
    terraform_types = (*_POLICY_RESOURCES, *_ATTACHMENTS)
    cloudformation_types = (*_CFN_DOCUMENT, *_CFN_INLINE)
    rationale = ("An Allow of s3:GetObject (or s3:Get*, s3:*, *, or a NotAction that leaves it) on "
                 "Resource \"*\" or arn:aws:s3:::*/* reads every object in every bucket of the account, "
                 "training data and model weights included, whatever the principal was meant for. "
                 "Attaching an AWS managed policy that does so (AmazonS3ReadOnlyAccess, ReadOnlyAccess, "
                 "AmazonSageMakerFullAccess...) has the same effect.")
    remediation: ClassVar[dict[str, str]] = {
        "text": "Scope the statement to the buckets the principal needs "
                "(arn:aws:s3:::BUCKET/PREFIX/*) and to the actions it needs.",
    }

    def evaluate(self, block: Block, scan: IacScan) -> Verdict:
        found = list(_documents(block))
        arns = _managed_arns(block)
        if not found and not arns and block.type not in _ATTACHMENTS:
            return NOT_APPLICABLE
        attached = sorted({name for arn in arns if (name := reader_named_by(arn))})
        grants: list[dict[str, Any]] = [{"managed_policy": name} for name in attached]
        unreadable = []
        for label, value in found:
            document = read_document(scan.model, block, value)
            if document is None:
                unreadable.append(label)
                continue
            grants += [{"policy": label, "source": document.source, "statement": s}
                       for s in grants_on_every_bucket(document, READ_ACTION)]
        if grants:
            how = f" through the AWS managed {', '.join(attached)}" if attached else ""
            return Verdict.failed(f"{block.address} allows {READ_ACTION} on the objects of every bucket{how} "
                                  f"({len(grants)} grant(s))", {"grants": grants})
        if unreadable:
            return Verdict.error(f"the policy {', '.join(unreadable)} of {block.address} cannot be read "
                                 "from the code, so reading every bucket cannot be ruled out")
        return Verdict.passed()


def _managed_arns(block: Block) -> list[str]:
    if block.framework == "cloudformation":
        return values.strings(block.config.get("ManagedPolicyArns")) if block.type in _CFN_INLINE else []
    attribute = _ATTACHMENTS.get(block.type)
    return values.strings(block.config.get(attribute)) if attribute else []


def _documents(block: Block) -> Iterator[tuple[str, Any]]:
    """(label, policy value) for each identity policy the block holds."""
    if block.type in _POLICY_RESOURCES:
        yield "policy", block.config.get("policy")
    elif block.type == "aws_iam_role":
        for index, inline in enumerate(values.nested(block.config, "inline_policy")):
            if "policy" in inline:
                yield f"inline_policy[{index}] {values.first(inline, 'name') or ''}".strip(), inline["policy"]
    elif block.type in _CFN_DOCUMENT:
        yield "PolicyDocument", block.config.get("PolicyDocument")
    elif block.type in _CFN_INLINE:
        for index, inline in enumerate(values.nested(block.config, "Policies")):
            yield f"Policies[{index}] {inline.get('PolicyName') or ''}".strip(), inline.get("PolicyDocument")
