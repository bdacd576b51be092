"""Evaluate rules over an inventory: a pure function, no I/O and no cloud calls.

Every rule looks at every resource of its type. Failures and errors become findings; passes
are only counted (RuleOutcome). A failed listing (a collection error with no resource) means
resources of that type may be missing, so each rule on that type reports an error finding for
the uncovered scope instead of passing by default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from auditor.access.model import AccessMap
from auditor.classify.model import Classification
from auditor.findings import Finding, ResourceRef
from auditor.inventory import CollectionError, Inventory, Resource
from auditor.rules.context import EvaluationContext
from auditor.rules.model import Rule, Verdict, check_unique_ids
from auditor.rules.resource_types import RESOURCE_TYPES
from auditor.run import RuleOutcome


def evaluate_rules(rules: Sequence[Rule], inventory: Inventory,
                   classifications: Mapping[str, Classification], access: AccessMap,
                   now: datetime) -> tuple[list[Finding], list[RuleOutcome]]:
    check_unique_ids(rules)
    context = EvaluationContext(inventory, classifications, access, now)
    findings: list[Finding] = []
    outcomes: list[RuleOutcome] = []
    for rule in sorted(rules, key=lambda r: r.id):
        outcome = RuleOutcome(rule_id=rule.id, title=rule.title, severity=rule.severity)
        for resource in context.resources_of(rule.resource_type):
            verdicts = rule.evaluate(resource, context)
            status = resource_status(verdicts)
            if status == "not_applicable":
                continue
            outcome.evaluated += 1
            outcome.failed += status == "fail"
            outcome.errors += status == "error"
            findings.extend(finding(rule, resource, verdict, context)
                            for verdict in verdicts if verdict.status != "pass")
        for error in context.listing_errors(rule.resource_type):
            outcome.errors += 1
            findings.append(not_covered(rule, error))
        outcomes.append(outcome)
    findings.sort(key=Finding.sort_key)
    return findings, outcomes


def resource_status(verdicts: Sequence[Verdict]) -> str:
    """One rule's outcome on one resource: fail, error, pass or not_applicable."""
    statuses = {v.status for v in verdicts}
    for status in ("fail", "error", "pass"):
        if status in statuses:
            return status
    return "not_applicable"


def resource_ref(resource: Resource) -> ResourceRef:
    alias_attribute = RESOURCE_TYPES[resource.type].aliases if resource.type in RESOURCE_TYPES \
        else None
    aliases = resource.attributes.get(alias_attribute) if alias_attribute else None
    return ResourceRef(id=resource.id, type=resource.type, name=resource.name,
                       provider=resource.provider, account=resource.account,
                       region=resource.region,
                       aliases=tuple(sorted(a for a in aliases or [] if isinstance(a, str))))


def remediation(rule: Rule) -> dict[str, Any]:
    advice: dict[str, Any] = rule.remediation.to_dict()
    if rule.references:
        advice["references"] = list(rule.references)
    return advice


def finding(rule: Rule, resource: Resource, verdict: Verdict,
            context: EvaluationContext) -> Finding:
    return Finding(rule_id=rule.id, title=rule.title, severity=rule.severity,
                   status="fail" if verdict.status == "fail" else "error",
                   resource=resource_ref(resource), message=verdict.message,
                   classification=context.classification(resource.id),
                   evidence=verdict.evidence, remediation=remediation(rule),
                   discriminator=verdict.discriminator)


def not_covered(rule: Rule, error: CollectionError) -> Finding:
    where = f"{error.account}{' ' + error.region if error.region else ''}"
    scope = ResourceRef(id=error.account, type=rule.resource_type,
                        name=f"{rule.resource_type} in {where}", provider=error.provider,
                        account=error.account, region=error.region)
    return Finding(rule_id=rule.id, title=rule.title, severity=rule.severity, status="error",
                   resource=scope,
                   message=f"{rule.resource_type} in {where} could not be listed, so this rule "
                           f"did not check them: {error.operation} failed: {error.code}",
                   evidence={"collection_errors": [error.to_dict()]},
                   remediation=remediation(rule),
                   discriminator=f"{error.service}:{error.operation}:{error.region or ''}")
