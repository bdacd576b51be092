"""The AWS scanner plugin (entry point ``auditor.scanners: aws``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from auditor.inventory import CollectionError, Resource, Scope
from auditor.scanners.aws.account import account_task
from auditor.scanners.aws.api import PERMISSIONS, AwsApi
from auditor.scanners.aws.clients import AwsClients, session_for_profile
from auditor.scanners.aws.cloudtrail import trail_region_task
from auditor.scanners.aws.collect import AwsContext
from auditor.scanners.aws.errors import ErrorScope, task_error_classifier
from auditor.scanners.aws.iam import iam_task
from auditor.scanners.aws.kms import kms_region_task
from auditor.scanners.aws.s3 import bucket_listing_task
from auditor.scanners.aws.values import partition_of
from auditor.scanners.base import Option, ScanSettings
from auditor.scanners.runner import Task, run_tasks

SERVICES = ("cloudtrail", "iam", "kms", "organizations", "s3", "sts")
# the account is not known when the very first call fails
UNKNOWN_ACCOUNT = "unknown"


class AwsScanner:
    provider = "aws"
    options: Mapping[str, Option] = {
        "profile": Option(str, "named profile of the AWS shared config/credentials files "
                               "(default: the standard credential chain)"),
        "regions": Option(list, "regions whose KMS keys and CloudTrail trails are scanned "
                                "(default: the profile's region, else us-east-1); S3 buckets "
                                "and IAM are account-wide and always scanned",
                          item_kind=str),
        "endpoint_url": Option(str, "AWS-compatible endpoint such as an emulator "
                                    "(AWS_ENDPOINT_URL works too)"),
    }
    permissions: tuple[str, ...] = PERMISSIONS

    def scan(self, config: Mapping[str, Any],
             settings: ScanSettings) -> Iterator[Resource | CollectionError | Scope]:
        clients = AwsClients(session_for_profile(config.get("profile")),
                             endpoint_url=config.get("endpoint_url"),
                             max_workers=settings.max_workers)
        api = AwsApi(clients)
        try:
            identity = api.call("sts", "GetCallerIdentity")
        except Exception as exc:  # no credentials or no endpoint: nothing else can work
            yield ErrorScope(UNKNOWN_ACCOUNT, "sts").error(exc, "GetCallerIdentity")
            return
        regions = tuple(sorted(set(config.get("regions") or [clients.default_region])))
        context = AwsContext(api=api, account=identity["Account"],
                             partition=partition_of(identity["Arn"]), regions=regions,
                             settings=settings)
        yield Scope(provider=self.provider, account=context.account, regions=regions,
                    services=SERVICES)
        yield from run_tasks(self.tasks(context, identity["Arn"]),
                             max_workers=settings.max_workers,
                             classify_error=task_error_classifier(context.account))

    @staticmethod
    def tasks(context: AwsContext, caller_arn: str) -> list[Task]:
        tasks = [account_task(context, caller_arn), bucket_listing_task(context),
                 iam_task(context)]
        for region in context.regions:
            tasks += [kms_region_task(context, region), trail_region_task(context, region)]
        return tasks
