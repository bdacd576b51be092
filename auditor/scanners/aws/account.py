"""The audited account itself: who scanned it, account-wide S3 Block Public Access and the
organization it belongs to."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.scanners.aws.collect import AwsContext, ResourceDraft
from auditor.scanners.aws.values import public_access_block
from auditor.scanners.runner import Record, Task, TaskContext

ACCOUNT = "aws.account"


def account_arn(partition: str, account: str) -> str:
    return f"arn:{partition}:iam::{account}:root"


def account_task(context: AwsContext, caller_arn: str) -> Task:
    def run(_: TaskContext) -> Iterator[Record]:
        draft = ResourceDraft(context, id=account_arn(context.partition, context.account),
                              type=ACCOUNT, name=context.account, region=None)
        draft.attributes.update(account_id=context.account, caller_arn=caller_arn)
        draft.read("s3_public_access_block", "GetPublicAccessBlock",
                   lambda r: public_access_block(r["PublicAccessBlockConfiguration"]),
                   service="s3control", AccountId=context.account)
        draft.read("organization_id", "DescribeOrganization", lambda r: r["Organization"]["Id"],
                   service="organizations")
        return draft.records()

    return Task(label="account", run=run, service="account")
