"""Collection streams: IAM's authorization details become resources page by page, so memory
grows with the inventory, never with the raw API pages of an account.

moto answers GetAccountAuthorizationDetails in a single page whatever its size, so the
pagination is played here by a page source that counts what has been read; everything else
is the scanner's own code."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from auditor.inventory import Resource
from auditor.scanners.aws.collect import AwsContext
from auditor.scanners.aws.iam import iam_task
from auditor.scanners.base import ScanSettings
from auditor.scanners.runner import Task, TaskContext

ACCOUNT = "111122223333"
PAGES = 5
ROLES_PER_PAGE = 50


class PagedDetails:
    """GetAccountAuthorizationDetails in pages; ListUsers in one."""

    def __init__(self) -> None:
        self.pages_read = 0

    def pages(self, service: str, operation: str, **_: Any) -> Iterator[dict[str, Any]]:
        assert (service, operation) == ("iam", "GetAccountAuthorizationDetails")
        for number in range(PAGES):
            self.pages_read += 1
            yield {"RoleDetailList": [role(number, i) for i in range(ROLES_PER_PAGE)],
                   "UserDetailList": [user(number)],
                   # the group's member is on the last page, the group on the first
                   "GroupDetailList": [{"GroupName": "readers", "GroupId": "AGPA1",
                                        "Arn": f"arn:aws:iam::{ACCOUNT}:group/readers",
                                        "Path": "/"}] if number == 0 else []}

    def items(self, service: str, operation: str, key: str, **_: Any) -> Iterator[Any]:
        assert (service, operation) == ("iam", "ListUsers")
        return iter(())


def role(page: int, number: int) -> dict[str, Any]:
    name = f"role-{page}-{number}"
    return {"RoleName": name, "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "Path": "/",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}}


def user(page: int) -> dict[str, Any]:
    name = f"user-{page}"
    return {"UserName": name, "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "Path": "/",
            "GroupList": ["readers"] if page == PAGES - 1 else []}


def test_roles_are_yielded_before_the_next_page_is_read() -> None:
    api = PagedDetails()
    context = AwsContext(api=api, account=ACCOUNT, partition="aws",  # type: ignore[arg-type]
                         regions=("us-east-1",), settings=ScanSettings())
    spawned: list[Task] = []
    records = iam_task(context).run(TaskContext(spawned.append, threading.Event(), ACCOUNT))
    pages_read_at_role: list[int] = []
    resources: list[Resource] = []
    for record in records:
        assert isinstance(record, Resource)
        resources.append(record)
        if record.type == "aws.iam.role":
            pages_read_at_role.append(api.pages_read)

    # each role left as soon as its page was read: at most one page is held at a time
    assert pages_read_at_role == [page + 1 for page in range(PAGES)
                                  for _ in range(ROLES_PER_PAGE)]
    [group] = [r for r in resources if r.type == "aws.iam.group"]
    assert group.attributes["members"] == [f"arn:aws:iam::{ACCOUNT}:user/user-{PAGES - 1}"]
    assert sorted(task.label for task in spawned) == [f"iam user user-{n}" for n in range(PAGES)]
    assert {task.account for task in spawned} == {ACCOUNT}  # sub-tasks inherit the account
