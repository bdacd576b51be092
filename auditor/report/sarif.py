"""findings.sarif: SARIF 2.1.0 for code-scanning tools (GitHub, Azure DevOps, IDEs).

One run, tool ``auditor``. Every rule the run evaluated or reported is a ``reportingDescriptor``
with its title, severity as SARIF level and as ``security-severity`` (how GitHub ranks security
alerts: a number from 0.0 to 10.0, written as a string as GitHub's documentation and CodeQL do),
and the remediation as help. Every finding is a result that GitHub can track across runs by its
``partialFingerprints`` (the finding id). A finding from code (``audit iac``) points at its file
and lines relative to ``%SRCROOT%``; a finding on a cloud resource, which has no file, points at
the resource through a logical location. Results follow the finding order of the run.

* status ``fail``: ``kind: fail`` at the rule's level;
* status ``error`` (the rule could not decide): ``kind: review``, level ``none`` (SARIF allows
  no other level for a result that is not a failure);
* status ``suppressed``: the result with a ``suppressions`` entry (``inSource`` for a checkov
  skip comment), so viewers hide it but the record stays.

Collection errors (what the scan could not see) are tool-execution notifications.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from auditor.findings import Finding
from auditor.report import canonical
from auditor.report.json_report import TOOL_NAME
from auditor.run import RuleOutcome

if TYPE_CHECKING:
    from auditor.run import RunResult

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SOURCE_ROOT = "%SRCROOT%"
FINGERPRINT = "auditorFindingId/v1"
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# remediation keys shown as code in the help, and the language of each block
_CODE_KEYS = (("cli", "sh"), ("terraform", "hcl"), ("cloudformation", "yaml"))


def rule_outcomes(result: RunResult) -> list[RuleOutcome]:
    """Every rule of the run, by id: the evaluated ones, and any that only a finding names."""
    outcomes = {outcome.rule_id: outcome for outcome in result.rules}
    for finding in result.findings:
        if finding.rule_id not in outcomes:
            outcomes[finding.rule_id] = RuleOutcome(rule_id=finding.rule_id, title=finding.title,
                                                    severity=finding.severity)
    return [outcomes[rule_id] for rule_id in sorted(outcomes)]


def _first_remediation(findings: Iterable[Finding]) -> Mapping[str, Any]:
    return next((f.remediation for f in findings if f.remediation), {})


def _help(title: str, remediation: Mapping[str, Any]) -> dict[str, str]:
    text = str(remediation.get("text") or f"See the rule {title!r} in the auditor documentation.")
    markdown = [text]
    for key, language in _CODE_KEYS:
        if remediation.get(key):
            markdown.append(f"```{language}\n{str(remediation[key]).rstrip()}\n```")
    references = [str(r) for r in remediation.get("references") or []]
    if references:
        markdown.append("\n".join(f"- <{r}>" for r in references))
    return {"text": text, "markdown": "\n\n".join(markdown)}


def _rule(outcome: RuleOutcome, findings: list[Finding]) -> dict[str, Any]:
    remediation = _first_remediation(findings)
    full = (f"{outcome.title}. Severity {outcome.severity}; evaluated {outcome.evaluated} "
            f"resource(s), {outcome.failed} failed, {outcome.errors} undecided.")
    descriptor: dict[str, Any] = {
        "id": outcome.rule_id,
        "name": outcome.rule_id,
        "shortDescription": {"text": outcome.title},
        "fullDescription": {"text": full},
        "help": _help(outcome.title, remediation),
        "defaultConfiguration": {"level": LEVELS[outcome.severity]},
        "properties": {"security-severity": SECURITY_SEVERITY[outcome.severity],
                       "severity": outcome.severity, "tags": ["security"]},
    }
    references = remediation.get("references") or []
    if references:
        descriptor["helpUri"] = str(references[0])
    return descriptor


def _location(finding: Finding) -> dict[str, Any]:
    resource = finding.resource
    location: dict[str, Any] = {"logicalLocations": [
        {"name": resource.name, "fullyQualifiedName": resource.id, "kind": "resource"}]}
    if finding.location is not None:
        where = finding.location
        location["physicalLocation"] = {
            "artifactLocation": {"uri": quote(where.path), "uriBaseId": SOURCE_ROOT},
            "region": {"startLine": max(where.start_line, 1),
                       "endLine": max(where.end_line, where.start_line, 1)},
        }
    return location


def _result(finding: Finding, index: int) -> dict[str, Any]:
    decided = finding.status != "error"
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": index,
        "kind": "fail" if decided else "review",
        "level": LEVELS[finding.severity] if decided else "none",
        "message": {"text": finding.message or finding.title},
        "partialFingerprints": {FINGERPRINT: finding.id},
        "locations": [_location(finding)],
        "properties": {
            "status": finding.status,
            "severity": finding.severity,
            "security-severity": SECURITY_SEVERITY[finding.severity],
            "resource": finding.resource.to_dict(),
            "classification": finding.classification.to_dict() if finding.classification else None,
            "evidence": finding.evidence,
        },
    }
    if finding.status == "suppressed":
        comment = finding.evidence.get("suppress_comment")
        suppression: dict[str, Any] = {"kind": "inSource" if comment is not None else "external"}
        if comment:
            suppression["justification"] = str(comment)
        result["suppressions"] = [suppression]
    return result


def _notification(error: Mapping[str, Any]) -> dict[str, Any]:
    where = ":".join(str(error[key]) for key in ("provider", "account", "region", "service")
                     if error.get(key))
    notification: dict[str, Any] = {
        "level": "error",
        "message": {"text": f"{where}: {error['operation']} failed ({error['code']}): {error['message']}"},
        "descriptor": {"id": f"collection.{error['code']}"},
        "properties": dict(error),
    }
    if error.get("resource_id"):
        notification["locations"] = [{"logicalLocations": [
            {"fullyQualifiedName": str(error["resource_id"]), "kind": "resource"}]}]
    return notification


def sarif_document(result: RunResult) -> dict[str, Any]:
    outcomes = rule_outcomes(result)
    index = {outcome.rule_id: i for i, outcome in enumerate(outcomes)}
    by_rule: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    meta = result.metadata
    coverage = result.coverage()
    run: dict[str, Any] = {
        "tool": {"driver": {"name": TOOL_NAME, "version": meta.tool_version,
                            "semanticVersion": meta.tool_version,
                            "rules": [_rule(o, by_rule.get(o.rule_id, [])) for o in outcomes]}},
        "invocations": [{
            # the tool ran to the end; what it could not see is in the notifications
            "executionSuccessful": True,
            "startTimeUtc": meta.started_at,
            "endTimeUtc": meta.finished_at,
            "toolExecutionNotifications": [_notification(e) for e in coverage["collection_errors"]],
        }],
        "originalUriBaseIds": {SOURCE_ROOT: {"description": {
            "text": "The directory that finding paths are relative to (the repository root when "
                    "`audit iac` runs there)."}}},
        "results": [_result(f, index[f.rule_id]) for f in result.findings],
        "properties": {"profile": meta.profile, "fail_on": meta.fail_on,
                       "complete": coverage["complete"]},
    }
    if meta.profile:
        run["automationDetails"] = {"id": f"{TOOL_NAME}/{meta.profile}/"}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


class SarifRenderer:
    name = "sarif"
    filename = "findings.sarif"

    def render(self, result: RunResult) -> str:
        return canonical.dumps(sarif_document(result))
