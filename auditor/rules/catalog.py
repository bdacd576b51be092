"""What ``audit rules list|show|test`` print: the library behind the commands.

``lint`` and ``schema`` live in lint.py and schema.py. Functions here take loaded rules and
frameworks (so that a profile's extra rules and frameworks are included) and return data;
``format_*`` turn that data into the text the commands print.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.compliance.model import Framework
from auditor.errors import ConfigError
from auditor.pipeline import analyze
from auditor.rules.fixtures import fixture_outcome
from auditor.rules.model import Rule, YamlRule


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: str
    severity: str
    title: str
    resource_type: str
    frameworks: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "severity": self.severity, "title": self.title,
                "resource_type": self.resource_type, "frameworks": list(self.frameworks)}


@dataclass(frozen=True, slots=True)
class FixtureResult:
    rule_id: str
    fixture: str  # e.g. "fail[1]"
    description: str
    expected: str
    actual: str
    source: str
    line: int

    @property
    def passed(self) -> bool:
        return self.expected == self.actual

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "fixture": self.fixture, "description": self.description,
                "expected": self.expected, "actual": self.actual, "passed": self.passed,
                "source": self.source, "line": self.line}


def requirements_of(rule_id: str, frameworks: Iterable[Framework]) -> list[str]:
    """``"<framework> <requirement>"`` for every requirement that maps the rule."""
    return [f"{framework.id} {requirement.id}" for framework in frameworks
            for requirement in framework.requirements if rule_id in requirement.rule_ids]


def list_rules(rules: Sequence[Rule], frameworks: Sequence[Framework] = ()) -> list[RuleInfo]:
    return [RuleInfo(rule.id, rule.severity, rule.title, rule.resource_type,
                     tuple(sorted({f.id for f in frameworks if rule.id in f.rule_ids})))
            for rule in sorted(rules, key=lambda r: r.id)]


def find_rule(rules: Sequence[Rule], rule_id: str) -> Rule:
    for rule in rules:
        if rule.id == rule_id:
            return rule
    raise ConfigError(f"no rule {rule_id!r} (see `audit rules list`)")


def show_rule(rules: Sequence[Rule], rule_id: str,
              frameworks: Sequence[Framework] = ()) -> dict[str, Any]:
    """One rule in full: its metadata, the requirements that map it, its fixtures and, for a
    rule file, the file as written (the condition in the rule language)."""
    rule = find_rule(rules, rule_id)
    details: dict[str, Any] = {
        "id": rule.id, "title": rule.title, "severity": rule.severity,
        "resource_type": rule.resource_type, "source": rule.source,
        "remediation": rule.remediation.to_dict(), "references": list(rule.references),
        "requirements": requirements_of(rule.id, frameworks),
        "fixtures": [{"fixture": f.name, "description": f.description} for f in rule.fixtures],
    }
    if isinstance(rule, YamlRule):
        details["rationale"] = rule.rationale
        details["definition"] = _definition(rule)
    return details


def _definition(rule: YamlRule) -> str:
    try:
        return Path(rule.source).read_text(encoding="utf-8")
    except OSError:  # a rule loaded from a package that is not a directory on disk
        return ""


def run_fixtures(rules: Sequence[Rule]) -> list[FixtureResult]:
    """Every fixture of every given rule, through the real classification and access analysis."""
    results = []
    for rule in sorted(rules, key=lambda r: r.id):
        for fixture in rule.fixtures:
            classifications, access = analyze(fixture.inventory)
            results.append(FixtureResult(
                rule.id, fixture.name, fixture.description, fixture.expected,
                fixture_outcome(rule, fixture, classifications, access), rule.source,
                fixture.line))
    return results


# -- text ---------------------------------------------------------------------------------------

def format_rule_list(infos: Sequence[RuleInfo]) -> str:
    width = max((len(info.id) for info in infos), default=0)
    lines = [f"{info.id:<{width}}  {info.severity:<8}  {info.title}"
             + (f"  [{', '.join(info.frameworks)}]" if info.frameworks else "")
             for info in infos]
    return "\n".join(lines)


def format_rule(details: dict[str, Any]) -> str:
    remediation = details["remediation"]
    parts = [f"{details['id']} ({details['severity']}, {details['resource_type']})",
             details["title"], f"defined in {details['source']}"]
    if details.get("rationale"):
        parts += ["", "Why:", details["rationale"]]
    parts += ["", "Fix:", remediation["text"]]
    parts += [f"\n{label}:\n{remediation[key]}" for key, label in
              (("cli", "CLI"), ("terraform", "Terraform")) if key in remediation]
    if details["references"]:
        parts += ["", "References:", *details["references"]]
    if details["requirements"]:
        parts += ["", "Requirements:", *details["requirements"]]
    if details["fixtures"]:
        parts += ["", "Fixtures:", *(f"{f['fixture']}: {f['description']}".rstrip(": ")
                                     for f in details["fixtures"])]
    if details.get("definition"):
        parts += ["", "Definition:", details["definition"].rstrip()]
    return "\n".join(parts)


def format_fixture_results(results: Sequence[FixtureResult]) -> str:
    lines = [f"{'ok  ' if r.passed else 'FAIL'} {r.rule_id} {r.fixture}"
             + (f" ({r.description})" if r.description else "")
             + ("" if r.passed else f": expected {r.expected}, got {r.actual} "
                                    f"({r.source} line {r.line})")
             for r in results]
    failed = sum(not r.passed for r in results)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    return "\n".join(lines)
