"""Running checkov in-process, offline, with our rules registered next to its own.

Checkov reads its configuration from environment variables when it is first imported, so
``prepare()`` sets them before any checkov import (every checkov import in this package is
inside a function that calls it first):

* ``BC_SKIP_MAPPING=TRUE``: no download of policy metadata (guidelines, severities) from the
  Prisma Cloud / Bridgecrew platform. We never pass an API key, never call checkov's ``main``
  (where the version check and platform integration live), and run only the Terraform and
  CloudFormation runners (not the secrets, SCA or image runners, which call out);
* ``CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE``, ``CKV_VALIDATE_SECRETS=FALSE``: belt and braces;
* ``CHECKOV_PARALLELIZATION_TYPE=none`` unless set: checkov forks worker processes by default,
  which a library must not do inside its caller's (possibly threaded) process; on two cores
  the serial run is also faster.

External Terraform modules are never downloaded (``download_external_modules=False``): a
module that is not on disk is not scanned.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError, RuleError
from auditor.iac.context import NOT_APPLICABLE, Verdict, current
from auditor.iac.model import Framework, cloudformation_blocks, terraform_blocks
from auditor.iac.rules import IacRule

FORCED_ENVIRONMENT = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE",
                      "CKV_VALIDATE_SECRETS": "FALSE"}
DEFAULT_ENVIRONMENT = {"CHECKOV_PARALLELIZATION_TYPE": "none"}


def prepare() -> None:
    os.environ.update(FORCED_ENVIRONMENT)
    for name, value in DEFAULT_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    try:
        import checkov  # noqa: F401
    except ImportError:
        raise ConfigError("`audit iac` needs checkov: pip install 'auditor[iac]'") from None


@cache
def _check_classes() -> dict[Framework, type]:
    """Checkov check classes that run one of our rules (defined once checkov is importable)."""
    prepare()
    from checkov.cloudformation.checks.resource.base_resource_check import (
        BaseResourceCheck as CloudFormationCheck,
    )
    from checkov.common.models.enums import CheckCategories, CheckResult
    from checkov.terraform.checks.resource.base_resource_check import (
        BaseResourceCheck as TerraformCheck,
    )

    results = {"pass": CheckResult.PASSED, "fail": CheckResult.FAILED}

    def run_rule(rule: IacRule, framework: Framework, check: Any, config: dict[str, Any]) -> Any:
        scan = current()
        if scan is None:  # checkov run by someone else in this process: not our business
            return CheckResult.UNKNOWN
        # checkov sets entity_path to "FILE:TYPE:NAME" (a CloudFormation TYPE has colons itself)
        entity_type = check.entity_type
        prefix, entity_name = check.entity_path.rsplit(":", 1)
        file = prefix.removesuffix(f":{entity_type}")
        address = (str(config.get("__address__") or f"{entity_type}.{entity_name}")
                   if framework == "terraform" else f"{entity_type}.{entity_name}")
        block = scan.model.get(file, address)
        if block is None:
            return CheckResult.UNKNOWN
        try:
            verdict = rule.evaluate(block, scan)
        except Exception as exc:  # a bug in a rule must show as an error, not vanish in checkov
            verdict = Verdict.error(f"the check failed: {type(exc).__name__}: {exc}")
        if verdict is not NOT_APPLICABLE:
            scan.record(rule.id, block, verdict)
        # errors and not-applicable leave no checkov record; errors are reported from the scan
        return results.get(verdict.outcome, CheckResult.UNKNOWN)

    class TerraformRule(TerraformCheck):
        def __init__(self, rule: IacRule):
            self.rule = rule
            super().__init__(name=rule.title, id=rule.id, categories=[CheckCategories.GENERAL_SECURITY],
                             supported_resources=list(rule.terraform_types))

        def scan_resource_conf(self, conf: dict[str, Any]) -> Any:
            return run_rule(self.rule, "terraform", self, conf)

    class CloudFormationRule(CloudFormationCheck):
        def __init__(self, rule: IacRule):
            self.rule = rule
            super().__init__(name=rule.title, id=rule.id, categories=[CheckCategories.GENERAL_SECURITY],
                             supported_resources=list(rule.cloudformation_types))

        def scan_resource_conf(self, conf: dict[str, Any]) -> Any:
            return run_rule(self.rule, "cloudformation", self, conf)

    return {"terraform": TerraformRule, "cloudformation": CloudFormationRule}


_registered: dict[str, IacRule] = {}


def register(rules: Sequence[IacRule]) -> None:
    """Register each rule with checkov's registries once per process (they are global)."""
    classes = _check_classes()
    for rule in rules:
        if rule.id in _registered:
            if type(_registered[rule.id]) is not type(rule):
                raise RuleError(f"IaC rule id {rule.id} is registered twice: "
                                f"{type(_registered[rule.id]).__qualname__} and {type(rule).__qualname__}")
            continue
        for framework, check_class in classes.items():
            if rule.resource_types(framework):
                check_class(rule)
        _registered[rule.id] = rule


@cache
def _runner_classes() -> dict[Framework, type]:
    """Checkov's runners, each adding its parsed and evaluated code to the scan's model just
    before its checks run (the only point where both exist)."""
    prepare()
    from checkov.cloudformation.runner import Runner as CloudFormationRunner
    from checkov.terraform.runner import Runner as TerraformRunner

    class ModelledTerraformRunner(TerraformRunner):
        def check_tf_definition(self, report: Any, root_folder: Any, runner_filter: Any,
                                collect_skip_comments: bool = True) -> None:
            scan = current()
            if scan is not None and self.definitions:
                scan.add(terraform_blocks(self.definitions, str(root_folder)))
            super().check_tf_definition(report, root_folder, runner_filter, collect_skip_comments)

    class ModelledCloudFormationRunner(CloudFormationRunner):
        def check_definitions(self, root_folder: Any, runner_filter: Any, report: Any) -> None:
            scan = current()
            if scan is not None and self.definitions:
                scan.add(cloudformation_blocks(self.definitions, self.context, root_folder))
            super().check_definitions(root_folder, runner_filter, report)

    return {"terraform": ModelledTerraformRunner, "cloudformation": ModelledCloudFormationRunner}


def run_checkov(path: Path) -> dict[Framework, Any]:
    """Checkov's report per framework for a directory or a single file (inside ``active(scan)``)."""
    from checkov.runner_filter import RunnerFilter

    reports: dict[Framework, Any] = {}
    for framework, runner_class in _runner_classes().items():
        runner_filter = RunnerFilter(framework=[framework], show_progress_bar=False,
                                     run_image_referencer=False, download_external_modules=False)
        with warnings.catch_warnings():
            # checkov evaluates HCL expressions as Python (asteval); the escape-sequence warnings
            # that Python raises on HCL text say nothing about the scan
            warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
            if path.is_dir():
                report = runner_class().run(root_folder=str(path), runner_filter=runner_filter)
            else:
                report = runner_class().run(root_folder=None, files=[str(path)], runner_filter=runner_filter)
        # a runner returns a list only when it adds an image report, which we never ask for
        reports[framework] = report[0] if isinstance(report, list) else report
    return reports
