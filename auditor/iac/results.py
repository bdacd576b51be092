"""Checkov's records and our verdicts, as the findings, rule outcomes and inventory of a run.

Severity of checkov's own checks: checkov's severities come from its platform and are empty
offline, so a failed built-in check is ``medium`` (``DEFAULT_CHECKOV_SEVERITY``) unless checkov
gives one, and is raised to ``high`` (``SENSITIVE_CHECKOV_SEVERITY``) when the resource holds
or protects training data or model weights (a classified bucket, one of its companion
resources, or a KMS key that encrypts one). Our rules carry their own severity.

A checkov skip comment (``#checkov:skip=ID:reason``) makes the finding ``suppressed``, with the
reason as evidence: it is a decision in the code, visible to reviewers, not an absence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from auditor.classify.model import Classification
from auditor.findings import Finding, ResourceRef, SourceLocation, Status, severity_rank
from auditor.iac import values
from auditor.iac.context import IacScan, Verdict
from auditor.iac.model import Block, Framework, looks_like_reference
from auditor.iac.rules import IacRule
from auditor.iac.storage import BUCKET_TYPES, bucket_name
from auditor.inventory import CollectionError, Resource
from auditor.run import RuleOutcome

PROVIDER = "iac"
CHECKOV_RULE_PREFIX = "checkov."
DEFAULT_CHECKOV_SEVERITY = "medium"
SENSITIVE_CHECKOV_SEVERITY = "high"
_CHECKOV_SEVERITIES = {"CRITICAL": "critical", "HIGH": "high", "IMPORTANT": "high", "MEDIUM": "medium",
                       "MODERATE": "medium", "LOW": "low", "INFO": "info"}
# attributes that hold the name a resource gets in the cloud (shown as an alias)
_NAME_ATTRIBUTES = ("name", "PolicyName", "ManagedPolicyName", "RoleName", "UserName", "GroupName")
_TYPE_CHARACTERS = re.compile(r"[^a-z0-9_-]+")
# a top-level Resources key whose entries have a Type: the shape of a CloudFormation template
_TEMPLATE_RESOURCES = re.compile(r'^\s*"?Resources"?\s*:', re.MULTILINE)


@dataclass(slots=True)
class Paths:
    """Where the scan ran, and what locations are relative to (the repository, usually)."""

    source_root: Path

    def show(self, abs_path: str) -> str:
        path = Path(abs_path)
        try:
            return path.resolve().relative_to(self.source_root).as_posix()
        except ValueError:
            return path.resolve().as_posix()


@dataclass(slots=True)
class Assembly:
    findings: dict[str, Finding] = field(default_factory=dict)
    outcomes: dict[str, RuleOutcome] = field(default_factory=dict)

    def add(self, finding: Finding) -> None:
        # one resource, one rule, one finding, even when checkov reports it twice (modules)
        self.findings.setdefault(finding.id, finding)

    def outcome(self, rule_id: str, title: str, severity: str) -> RuleOutcome:
        return self.outcomes.setdefault(rule_id, RuleOutcome(rule_id=rule_id, title=title, severity=severity))


def resource_type(framework: Framework, block_type: str) -> str:
    """``iac.terraform.aws_s3_bucket``, ``iac.cloudformation.aws_s3_bucket`` (from AWS::S3::Bucket)."""
    return f"{PROVIDER}.{framework}.{_TYPE_CHARACTERS.sub('_', block_type.lower()).strip('_')}"


def resource_id(paths: Paths, block: Block) -> str:
    return f"{paths.show(block.abs_path)}:{block.terraform_address}"


def cloud_name(block: Block) -> str | None:
    name = bucket_name(block) if block.type in BUCKET_TYPES else next(
        (values.string(block.get(a)) for a in _NAME_ATTRIBUTES if values.string(block.get(a))), None)
    return name if name and not looks_like_reference(name) else None


def resource_ref(paths: Paths, block: Block) -> ResourceRef:
    alias = cloud_name(block)
    return ResourceRef(id=resource_id(paths, block), type=resource_type(block.framework, block.type),
                       name=block.terraform_address, provider=PROVIDER, account="",
                       aliases=(alias,) if alias else ())


def inventory_resource(paths: Paths, block: Block) -> Resource:
    ref = resource_ref(paths, block)
    attributes: dict[str, Any] = {"framework": block.framework, "file": paths.show(block.abs_path),
                                  "address": ref.name, "start_line": block.start_line,
                                  "end_line": block.end_line}
    if ref.aliases:
        attributes["aliases"] = list(ref.aliases)
    tag_attribute = BUCKET_TYPES[block.type][2] if block.type in BUCKET_TYPES else (
        "Tags" if block.framework == "cloudformation" else "tags")
    return Resource(id=ref.id, type=ref.type, provider=PROVIDER, account="", name=ref.name,
                    attributes=attributes, tags=values.tags(block.get(tag_attribute)))


def build(reports: Mapping[Framework, Any], scan: IacScan, rules: Iterable[IacRule], paths: Paths
          ) -> tuple[list[Finding], list[RuleOutcome]]:
    ours = {rule.id: rule for rule in rules}
    assembly = Assembly()
    for rule in ours.values():
        assembly.outcome(rule.id, rule.title, rule.severity)
    for framework, report in reports.items():
        for status, records in (("pass", report.passed_checks), ("fail", report.failed_checks),
                                ("suppressed", report.skipped_checks)):
            for record in records:
                _add_record(assembly, framework, status, record, scan, ours, paths)
    # a rule that could not decide leaves no checkov record: its verdict is the only trace
    for (rule_id, _, _), (block, verdict) in sorted(scan.verdicts.items()):
        rule = ours.get(rule_id)
        if verdict.outcome == "error" and rule is not None:
            outcome = assembly.outcome(rule.id, rule.title, rule.severity)
            outcome.evaluated += 1
            outcome.errors += 1
            assembly.add(_our_finding(rule, "error", verdict, block, scan, paths))
    findings = sorted(assembly.findings.values(), key=Finding.sort_key)
    return findings, sorted(assembly.outcomes.values(), key=lambda o: o.rule_id)


def _add_record(assembly: Assembly, framework: Framework, status: Status | Literal["pass"], record: Any,
                scan: IacScan, ours: Mapping[str, IacRule], paths: Paths) -> None:
    block = scan.model.get(record.file_path, record.resource)
    rule = ours.get(record.check_id)
    outcome = (assembly.outcome(rule.id, rule.title, rule.severity) if rule else
               assembly.outcome(CHECKOV_RULE_PREFIX + record.check_id, record.check_name,
                                _checkov_severity(record, None)))
    if status == "pass":
        outcome.evaluated += 1
        return
    if status == "suppressed":
        reason = record.check_result.get("suppress_comment") or ""
        verdict = Verdict.failed(f"suppressed in the code: {reason or 'no reason given'}",
                                 {"suppress_comment": reason})
    else:
        outcome.evaluated += 1
        outcome.failed += 1
        recorded = scan.verdicts.get((record.check_id, record.file_path, record.resource))
        verdict = recorded[1] if rule and recorded else Verdict.failed("")
    if rule is not None and block is not None:
        assembly.add(_our_finding(rule, status, verdict, block, scan, paths))
    else:
        assembly.add(_checkov_finding(framework, status, verdict, record, block, scan, paths))


def _our_finding(rule: IacRule, status: Status, verdict: Verdict, block: Block, scan: IacScan,
                 paths: Paths) -> Finding:
    evidence = dict(verdict.evidence)
    bucket = scan.bucket(block) if block.type not in BUCKET_TYPES else None
    if bucket is not None and bucket.block is not None:
        # a companion's finding names the bucket it configures, as the code does
        evidence.setdefault("bucket", bucket.block.address)
    return Finding(rule_id=rule.id, title=rule.title, severity=rule.severity, status=status,
                   resource=resource_ref(paths, block),
                   message=verdict.message or f"{block.address}: {rule.title}",
                   classification=scan.classification(block), evidence=evidence,
                   remediation=rule.remediation_dict(),
                   location=SourceLocation(paths.show(block.abs_path), block.start_line, block.end_line))


def _checkov_finding(framework: Framework, status: Status, verdict: Verdict, record: Any,
                     block: Block | None, scan: IacScan, paths: Paths) -> Finding:
    classification = scan.classification(block) if block is not None else None
    path = paths.show(record.file_abs_path)
    start, end = (record.file_line_range or [1, 1])[:2]
    if block is not None:
        resource = resource_ref(paths, block)
    else:  # provider and module blocks, which our model does not index
        resource = ResourceRef(id=f"{path}:{record.resource}", name=record.resource, provider=PROVIDER,
                               account="", type=resource_type(framework, str(record.resource).split(".")[0]))
    evidence: dict[str, Any] = {"checkov_check": record.check_id,
                                "evaluated_keys": sorted(record.check_result.get("evaluated_keys") or [])}
    evidence.update(verdict.evidence)
    remediation: dict[str, Any] = {"text": f"Change {record.resource} so that checkov's {record.check_id} "
                                           f"passes: {record.check_name}."}
    if record.guideline:
        remediation["references"] = [record.guideline]
    message = verdict.message or f"{record.resource}: {record.check_name} (checkov {record.check_id})"
    return Finding(rule_id=CHECKOV_RULE_PREFIX + record.check_id, title=record.check_name,
                   severity=_checkov_severity(record, classification), status=status, resource=resource,
                   message=message, classification=classification, evidence=evidence,
                   remediation=remediation, location=SourceLocation(path, int(start), int(end)))


def _checkov_severity(record: Any, classification: Classification | None) -> str:
    given = getattr(record.severity, "name", None) if record.severity else None
    severity = _CHECKOV_SEVERITIES.get(str(given).upper(), DEFAULT_CHECKOV_SEVERITY)
    if classification is not None and classification.sensitive and \
            severity_rank(severity) < severity_rank(SENSITIVE_CHECKOV_SEVERITY):
        return SENSITIVE_CHECKOV_SEVERITY
    return severity


def parse_errors(reports: Mapping[Framework, Any], paths: Paths) -> list[CollectionError]:
    """Files checkov could not parse: the rest was scanned, these were not."""
    errors = []
    for framework, report in reports.items():
        for file in sorted(set(report.parsing_errors)):
            if framework == "cloudformation" and not _looks_like_template(Path(file)):
                continue  # checkov tries every .json/.yaml; most are not templates at all
            shown = paths.show(str(Path(file).resolve()))
            detail = _parse_error_detail(Path(file)) if framework == "terraform" else None
            message = f"checkov could not parse {shown} as {framework}" + (f": {detail}" if detail else "")
            errors.append(CollectionError(provider=PROVIDER, account="", service=framework,
                                          operation="parse", code="ParseError", message=message,
                                          resource_id=shown))
    return errors


def _looks_like_template(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True  # unreadable: say so rather than guess
    return "AWSTemplateFormatVersion" in text or bool(_TEMPLATE_RESOURCES.search(text))


def _parse_error_detail(path: Path) -> str | None:
    """The parser's own words (with line and column) for a Terraform file checkov skipped."""
    try:
        import hcl2  # checkov's HCL parser, installed with it

        hcl2.loads(path.read_text(encoding="utf-8"))
    except Exception as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None
