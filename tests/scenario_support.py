"""Running the whole audit on an emulated org, and reading its answers the way the scenario
files state them (buckets by name, KMS keys by alias ARN, principals by ARN)."""

from __future__ import annotations

from collections.abc import Iterable

from auditor import pipeline
from auditor.access.query import who_can
from auditor.config import Profile
from auditor.findings import Finding, severity_rank
from auditor.run import RunResult


def audit_endpoint(endpoint_url: str, region: str) -> RunResult:
    profile = Profile(name="scenario", source="tests",
                      providers={"aws": {"endpoint_url": endpoint_url, "regions": [region]}})
    inventory = pipeline.scan(profile)
    return pipeline.evaluate(inventory, pipeline.EvaluationOptions(profile="scenario"))


def scenario_names(finding: Finding) -> set[str]:
    """The ids a scenario uses for the resource a finding is about."""
    resource = finding.resource
    if resource.type == "aws.s3.bucket":
        return {resource.name}
    return {resource.id, *resource.aliases}


def findings_about(result: RunResult, name: str, minimum: str,
                   statuses: tuple[str, ...] = ("fail", "error")) -> list[Finding]:
    gate = severity_rank(minimum)
    return [f for f in result.findings if f.status in statuses
            and severity_rank(f.severity) >= gate and name in scenario_names(f)]


def principals(result: RunResult, bucket: str, classes: Iterable[str]) -> set[str]:
    """Who can, as `audit who-can` answers it (allow or conditional), for any bucket."""
    return {g.principal for access in classes
            for g in who_can(result.inventory, f"arn:aws:s3:::{bucket}", access)}
