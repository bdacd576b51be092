"""An AWS scan in units: one per account, plus one for the organization's metadata.

Planning (here, wherever the units then run) asks who the credentials are, and with
``organization = true`` lists the organization's accounts. Each account unit starts with one
task that enters the account (the base credentials for their own account, a read-only
AssumeRole session for any other) and spawns the service tasks; an account that cannot be
entered is a collection error, and the other units go on.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.executors.base import UNKNOWN_ACCOUNT, ScanPlan, ScanUnit
from auditor.inventory import CollectionError, Scope
from auditor.scanners.aws.account import account_task
from auditor.scanners.aws.api import AwsApi
from auditor.scanners.aws.cloudtrail import trail_region_task
from auditor.scanners.aws.collect import AwsContext
from auditor.scanners.aws.errors import ErrorScope
from auditor.scanners.aws.iam import iam_task
from auditor.scanners.aws.kms import kms_region_task
from auditor.scanners.aws.options import AwsOptions
from auditor.scanners.aws.organizations import (
    ACTIVE,
    Organization,
    list_organization,
    organization_task,
)
from auditor.scanners.aws.s3 import bucket_listing_task
from auditor.scanners.aws.sessions import Entered, assume, base_api, role_arn
from auditor.scanners.aws.values import partition_of
from auditor.scanners.base import ScanSettings
from auditor.scanners.runner import Record, Task, TaskContext

PROVIDER = "aws"
SERVICES = ("cloudtrail", "iam", "kms", "organizations", "s3", "sts")
ORGANIZATION_UNIT = "organization"


def plan(options: AwsOptions, settings: ScanSettings) -> ScanPlan:
    api = base_api(options, settings)
    try:
        identity = api.call("sts", "GetCallerIdentity")
    except Exception as exc:  # no credentials or no endpoint: nothing else can work
        return ScanPlan(records=[ErrorScope(UNKNOWN_ACCOUNT, "sts").error(exc,
                                                                         "GetCallerIdentity")])
    caller, partition = identity["Account"], partition_of(identity["Arn"])
    result = ScanPlan()
    organization = None
    if options.organization:
        try:
            organization = list_organization(api)
        except Exception as exc:  # scan what is known without the listing: see _accounts
            result.records.append(ErrorScope(caller, "organizations").error(exc,
                                                                             "ListAccounts"))
    if organization is not None:
        result.units.append(ScanUnit(PROVIDER, ORGANIZATION_UNIT, caller,
                                     {"partition": partition, **organization.to_data()}))
    for account in _accounts(options, caller, organization, result.records):
        target = None if account == caller else role_arn(partition, account,
                                                         options.require_role_name())
        result.units.append(ScanUnit(PROVIDER, account, account,
                                     {"partition": partition, "role_arn": target}))
    return result


def _accounts(options: AwsOptions, caller: str, organization: Organization | None,
              records: list[Record]) -> list[str]:
    if organization is not None:
        active = [account["id"] for account in organization.accounts
                  if account["status"] == ACTIVE]
        chosen = [account for account in options.accounts if account in active]
        for account in options.accounts:
            if account not in active:
                records.append(CollectionError(
                    provider=PROVIDER, account=account, service="organizations",
                    operation="ListAccounts", code="NotAnActiveMember",
                    message=f"account {account} is not an active account of organization "
                            f"{organization.id}: it was not scanned"))
        selected = chosen if options.accounts else active
    else:
        # without the organization's listing, the accounts named in the profile are all known
        selected = list(options.accounts) or [caller]
    return sorted(set(selected) - set(options.exclude_accounts))


def unit_tasks(options: AwsOptions, settings: ScanSettings, unit: ScanUnit) -> list[Task]:
    base = base_api(options, settings)
    regions = options.regions or (base.clients.default_region,)
    if unit.id == ORGANIZATION_UNIT:
        context = AwsContext(base, unit.account, unit.data["partition"], regions, settings)
        return [organization_task(context, Organization.from_data(unit.data))]
    return [_entry_task(options, settings, base, unit, regions)]


def _entry_task(options: AwsOptions, settings: ScanSettings, base: AwsApi, unit: ScanUnit,
                regions: tuple[str, ...]) -> Task:
    account, target = unit.id, unit.data.get("role_arn")

    def run(task: TaskContext) -> Iterator[Record]:
        yield Scope(provider=PROVIDER, account=account, regions=regions, services=SERVICES)
        try:
            entered = assume(base, options, settings, target) if target else _own(base)
        except Exception as exc:  # this account is not covered; the others go on
            yield ErrorScope(account, "sts").error(
                exc, "AssumeRole" if target else "GetCallerIdentity")
            return
        if entered.caller_arn.split(":")[4] != account:
            yield _wrong_account(account, entered.caller_arn)
            return
        context = AwsContext(entered.api, account, unit.data["partition"], regions, settings)
        for service_task in account_tasks(context, entered.caller_arn):
            task.spawn(service_task)

    return Task(label=f"enter account {account}", run=run, service="sts", account=account)


def _own(base: AwsApi) -> Entered:
    return Entered(base, base.call("sts", "GetCallerIdentity")["Arn"])


def _wrong_account(account: str, caller_arn: str) -> CollectionError:
    return CollectionError(provider=PROVIDER, account=account, service="sts",
                           operation="GetCallerIdentity", code="WrongAccount",
                           message=f"the credentials here are {caller_arn}, not an identity "
                                   f"of account {account}: it was not scanned")


def account_tasks(context: AwsContext, caller_arn: str) -> list[Task]:
    tasks = [account_task(context, caller_arn), bucket_listing_task(context),
             iam_task(context)]
    for region in context.regions:
        tasks += [kms_region_task(context, region), trail_region_task(context, region)]
    return tasks
