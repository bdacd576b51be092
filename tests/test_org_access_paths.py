"""Trust between member accounts of an organization, shown as paths.

The organization of tests/test_aws_organization.py, scanned through the real CLI path (every
member account entered with AssumeRole), plus a chain across accounts: a pipeline role of
the sandbox account may assume a writer role of the research account, which may write the
research bucket. `who-can` must name the sandbox role, with each hop of the proof.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from auditor.access.query import who_can
from auditor.inventory import Inventory
from tests.test_aws_organization import Org, build_org, member_session, org_config, scan

pytestmark = pytest.mark.emulator

WRITER = "research-weights-writer"


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def chained(fresh_aws_module: Any) -> tuple[Org, Inventory]:
    org = build_org(fresh_aws_module.endpoint_url)
    research, sandbox = org.accounts["research"], org.accounts["sandbox"]
    bucket = next(name for name, account in org.buckets.items() if account == research)
    pipeline = f"arn:aws:iam::{sandbox}:role/sandbox-pipeline"
    iam = member_session(org.endpoint_url, research).client("iam", endpoint_url=org.endpoint_url)
    iam.create_role(RoleName=WRITER, AssumeRolePolicyDocument=_document(
        {"Effect": "Allow", "Principal": {"AWS": pipeline}, "Action": "sts:AssumeRole"}))
    iam.put_role_policy(RoleName=WRITER, PolicyName="write-weights", PolicyDocument=_document(
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}))
    sandbox_iam = member_session(org.endpoint_url, sandbox).client(
        "iam", endpoint_url=org.endpoint_url)
    sandbox_iam.put_role_policy(RoleName="sandbox-pipeline", PolicyName="enter-research",
                                PolicyDocument=_document(
        {"Effect": "Allow", "Action": "sts:AssumeRole",
         "Resource": f"arn:aws:iam::{research}:role/{WRITER}"}))
    return org, scan(org_config(org))


def test_a_role_of_another_member_account_writes_through_the_role_it_may_assume(
        chained: tuple[Org, Inventory]) -> None:
    org, inventory = chained
    research, sandbox = org.accounts["research"], org.accounts["sandbox"]
    bucket = next(name for name, account in org.buckets.items() if account == research)
    grants = {g.principal: g for g in who_can(inventory, f"arn:aws:s3:::{bucket}", "s3:PutObject")}
    pipeline = f"arn:aws:iam::{sandbox}:role/sandbox-pipeline"
    writer = f"arn:aws:iam::{research}:role/{WRITER}"
    assert grants[writer].decision == "allow"
    chain = grants[pipeline]
    assert chain.decision == "allow" and chain.kind == "role"
    # each hop is proven by its statements: the pipeline's own policy and the writer's trust
    # policy for the AssumeRole, then the writer's policy for the write
    hops = list(dict.fromkeys((step.principal, step.action) for step in chain.path))
    assert hops == [(pipeline, "sts:AssumeRole"), (writer, "s3:PutObject")], chain.path
    entering = {step.policy for step in chain.path if step.action == "sts:AssumeRole"}
    assert any(writer in policy for policy in entering), entering
    # roles of the sandbox that may assume nothing in research do not write there
    assert not [p for p in grants if p.startswith(f"arn:aws:iam::{sandbox}:")
                and p != pipeline and "root" not in p]
