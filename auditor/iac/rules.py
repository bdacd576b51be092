"""Our IaC checks: the rule contract, and finding every rule shipped in rules/iac.

A rule is a class with its metadata (id, title, severity, rationale, remediation) and one pure
method, ``evaluate(block, scan) -> Verdict``. Rules know nothing of checkov: auditor.iac.checks
wraps each in a checkov custom check (a ``BaseResourceCheck`` registered programmatically), so
checkov runs them next to its own checks, with its parsing, variable evaluation and skip
comments.

Rules live in ``rules/iac/<service>.py`` (shipped as ``auditor._data.rules.iac``); a rule id is
``iac.<service>.<slug>`` and the service is the module's name. A malformed or duplicate rule is
a RuleError naming it, never skipped.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from functools import cache
from typing import ClassVar

from auditor.errors import RuleError
from auditor.findings import SEVERITIES
from auditor.iac.context import NOT_APPLICABLE, IacScan, Verdict
from auditor.iac.model import Block, Framework
from auditor.iac.storage import BucketRef, sensitive_bucket

RULES_PACKAGE = "auditor._data.rules.iac"
RULE_ID = re.compile(r"^iac\.(?P<service>[a-z0-9]+)\.[a-z0-9]+(-[a-z0-9]+)*$")


class IacRule(ABC):
    id: ClassVar[str]
    title: ClassVar[str]
    severity: ClassVar[str]
    rationale: ClassVar[str]
    # text, and where it helps: terraform / cloudformation / cli
    remediation: ClassVar[Mapping[str, str]]
    references: ClassVar[tuple[str, ...]] = ()
    terraform_types: ClassVar[tuple[str, ...]] = ()
    cloudformation_types: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def evaluate(self, block: Block, scan: IacScan) -> Verdict:
        """The verdict on one block; NOT_APPLICABLE when the block is not the rule's concern."""

    def resource_types(self, framework: Framework) -> tuple[str, ...]:
        return self.terraform_types if framework == "terraform" else self.cloudformation_types

    def remediation_dict(self) -> dict[str, object]:
        data: dict[str, object] = dict(self.remediation)
        if self.references:
            data["references"] = list(self.references)
        return data


class SensitiveBucketRule(IacRule):
    """A rule about a bucket that holds training data or model weights: the bucket's own block,
    or a companion that configures it. Blocks of other buckets are not its concern."""

    def evaluate(self, block: Block, scan: IacScan) -> Verdict:
        bucket = sensitive_bucket(scan.bucket(block))
        if bucket is None:
            return NOT_APPLICABLE
        return self.judge(block, bucket, scan)

    @abstractmethod
    def judge(self, block: Block, bucket: BucketRef, scan: IacScan) -> Verdict:
        """The verdict on ``block``, which declares or configures the sensitive ``bucket``."""


@cache
def load_rules() -> tuple[IacRule, ...]:
    """Every rule in rules/iac, ordered by id; checked before anything runs."""
    package = importlib.import_module(RULES_PACKAGE)
    found: dict[str, tuple[IacRule, str]] = {}
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{RULES_PACKAGE}.{module_info.name}")
        for _, cls in sorted(inspect.getmembers(module, inspect.isclass)):
            if not issubclass(cls, IacRule) or cls.__module__ != module.__name__ or inspect.isabstract(cls):
                continue
            where = f"{module.__name__}.{cls.__name__}"
            rule = cls()
            validate(rule, module_info.name, where)
            if rule.id in found:
                raise RuleError(f"rule id {rule.id} is defined twice: {found[rule.id][1]} and {where}")
            found[rule.id] = (rule, where)
    return tuple(rule for rule, _ in sorted(found.values(), key=lambda item: item[0].id))


def validate(rule: IacRule, service: str, where: str) -> None:
    def fail(message: str) -> RuleError:
        return RuleError(message, source=where)

    for attribute in ("id", "title", "severity", "rationale", "remediation"):
        if not getattr(rule, attribute, None):
            raise fail(f"the rule has no {attribute}")
    match = RULE_ID.match(rule.id)
    if not match:
        raise fail(f"rule id {rule.id!r} is not iac.<service>.<kebab-slug>")
    if match["service"] != service:
        raise fail(f"rule id {rule.id!r} is in rules/iac/{service}.py; its service must be {service!r}")
    if rule.severity not in SEVERITIES:
        raise fail(f"severity {rule.severity!r} is not one of {', '.join(SEVERITIES)}")
    if "text" not in rule.remediation:
        raise fail("the remediation has no 'text'")
    if not rule.terraform_types and not rule.cloudformation_types:
        raise fail("the rule names no resource type")
