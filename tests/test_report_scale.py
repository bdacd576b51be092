"""report.html stays small for big runs; ``synthetic_result`` is also what bench/report_bench.py
measures (100,000 findings) and what the browser tests page through.

A synthetic run looks like a large organization's: many accounts and projects, rules with
long remediation (CLI, Terraform, references), findings with their own message and evidence
(principals, policy statements), and sensitive assets with grants, some through role chains.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from auditor.access.model import AccessGrant, AccessMap, AssetAccess, PathStep
from auditor.classify.model import MODEL_WEIGHTS, OTHER, TRAINING_DATA, Classification
from auditor.findings import SEVERITIES, Finding
from auditor.inventory import Inventory, Resource, Scope
from auditor.report.assets import resource_ref
from auditor.report.html import HtmlRenderer
from auditor.run import RuleOutcome, RunMetadata, RunResult

RULES = 40
FINDINGS_PER_RESOURCE = 5
GRANTS_PER_ASSET = 8
MAX_ASSETS = 400
STATUS_WEIGHTS = {"fail": 90, "error": 6, "suppressed": 4}
TERRAFORM = """resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
"""


def _rule(index: int) -> dict[str, Any]:
    provider = "aws" if index % 4 else "gcp"
    rule_id = f"{provider}.storage.synthetic-rule-{index:02d}"
    return {"id": rule_id, "provider": provider, "title": f"Synthetic check number {index} on "
            f"storage that holds training data or weights",
            "severity": SEVERITIES[index % len(SEVERITIES)],
            "remediation": {"text": f"Fix {rule_id}: " + "narrow the grant and re-run. " * 8,
                            "cli": f"aws s3api put-public-access-block --bucket BUCKET  # {index}",
                            "terraform": TERRAFORM,
                            "references": [f"https://docs.example.com/rules/{rule_id}"]}}


def _principal(rng: random.Random, account: str) -> str:
    kind = rng.choice(["user", "role", "role", "role"])
    return f"arn:aws:iam::{account}:{kind}/{kind}-{rng.randrange(400):03d}"


def synthetic_result(findings: int, seed: int = 7) -> RunResult:
    rng = random.Random(seed)
    accounts = [f"{100000000000 + 7919 * i:012d}" for i in range(20)]
    projects = [f"acme-ml-{i:02d}" for i in range(5)]
    rules = [_rule(i) for i in range(RULES)]
    resources: list[Resource] = []
    classifications: dict[str, Classification] = {}
    for index in range(max(1, findings // FINDINGS_PER_RESOURCE)):
        if index % 4:
            account, provider = accounts[index % len(accounts)], "aws"
            name = f"acme-{['train', 'weights', 'logs', 'eval'][index % 4]}-{index:06d}"
            resource = Resource(id=f"arn:aws:s3:::{name}", type="aws.s3.bucket",
                                provider=provider, account=account, name=name,
                                region="us-east-1", tags={"team": f"team-{index % 17}"})
        else:
            account, provider = projects[index % len(projects)], "gcp"
            name = f"acme-gcs-{index:06d}"
            resource = Resource(id=f"//storage.googleapis.com/projects/_/buckets/{name}",
                                type="gcp.storage.bucket", provider=provider, account=account,
                                name=name, region="europe-west4", tags={"team": "research"})
        resources.append(resource)
        label = TRAINING_DATA if index % 10 == 1 else MODEL_WEIGHTS if index % 10 == 2 else OTHER
        classifications[resource.id] = Classification(label, (f"name matches *-{label}-*",))
    result_findings = []
    for index in range(findings):
        resource = resources[index % len(resources)]
        rule = rules[(index * 7 + index // len(resources)) % RULES]
        principal = _principal(rng, rng.choice(accounts))
        statement = {"Sid": f"Grant{rng.randrange(50)}", "Effect": "Allow",
                     "Principal": {"AWS": principal}, "Action": ["s3:GetObject", "s3:ListBucket"],
                     "Resource": [resource.id, f"{resource.id}/*"]}
        status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
        result_findings.append(Finding(
            rule_id=rule["id"], title=rule["title"], severity=rule["severity"], status=status,
            resource=resource_ref(resource),
            message=f"{resource.name} can be read by {principal} through the bucket policy "
                    f"statement {statement['Sid']}",
            classification=classifications[resource.id],
            evidence={"principal": principal, "statement": statement,
                      "attributes": {"versioning": rng.choice(["Enabled", "Suspended", None])}},
            remediation=rule["remediation"], discriminator=f"{principal}#{index}"))
    result_findings.sort(key=Finding.sort_key)
    access = AccessMap()
    sensitive = [r for r in resources if classifications[r.id].sensitive][:MAX_ASSETS]
    for resource in sensitive:
        grants = []
        for _ in range(GRANTS_PER_ASSET):
            principal = _principal(rng, resource.account)
            path = (PathStep(principal, "s3:GetObject", f"{principal}#inline:read", "Read"),)
            if rng.random() < 0.25:
                role = f"arn:aws:iam::{resource.account}:role/pipeline"
                path = (PathStep(principal, "sts:AssumeRole", f"{role}#trust-policy", "Trust"),
                        PathStep(role, "s3:GetObject", f"{role}#inline:read", "Read"))
            grants.append(AccessGrant(principal, "role" if ":role/" in principal else "user",
                                      ":user/" in principal, rng.choice(["read", "write"]),
                                      "s3:GetObject", "allow", path=path))
        access.assets[resource.id] = AssetAccess(resource.id, grants)
    inventory = Inventory(resources=resources, scopes=[
        *(Scope("aws", a, ("us-east-1",), ("s3", "iam")) for a in accounts),
        *(Scope("gcp", p, (), ("storage",)) for p in projects)])
    outcomes = [RuleOutcome(r["id"], r["title"], r["severity"], evaluated=len(resources))
                for r in rules]
    metadata = RunMetadata("0.0.0-bench", "bench", "2026-11-26T12:00:00Z", "2026-11-26T12:30:00Z")
    return RunResult(metadata, inventory, classifications, access, result_findings, outcomes)


@pytest.fixture(scope="module")
def large_result() -> RunResult:
    return synthetic_result(10_000)


@pytest.fixture(scope="module")
def large_html(large_result: RunResult) -> str:
    return HtmlRenderer().render(large_result)


def _markup(html: str) -> str:
    """The page without its findings data block."""
    start = html.index('<script type="application/json"')
    return html[:start] + html[html.index("</script>", start):]


def test_ten_thousand_findings_stay_under_the_size_budget(large_html: str) -> None:
    # the budget is 25 MB for 100,000 findings: 250 bytes a finding, page included
    assert len(large_html.encode("utf-8")) < 10_000 * 250


def test_remediation_is_not_repeated_per_finding(large_html: str) -> None:
    # each rule's Terraform snippet appears once in the data, not once per finding; the data is
    # compressed at this size, so look at what report.js decodes
    from tests.test_report_html import embedded_data, parse

    data = embedded_data(parse(large_html))
    assert len(data["remediation"]) == RULES
    assert len(data["findings"]) == 10_000
    assert len(data["rules"]) == RULES


def test_the_markup_does_not_grow_with_the_findings(large_result: RunResult, large_html: str) -> None:
    # the same run cut to a tenth of its findings: the markup may gain filter choices (rules,
    # accounts) but less than a byte per extra finding; a rendered row would be hundreds
    fewer = replace(large_result, findings=large_result.findings[:1_000])
    small_html = HtmlRenderer().render(fewer)
    assert len(_markup(large_html)) - len(_markup(small_html)) < 9_000
