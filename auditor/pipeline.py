"""The audit pipeline: scan -> inventory -> classify -> access -> evaluate -> render.

Each step but ``scan`` is a pure function of what came before it, so everything after the
scan can be recomputed offline from a saved inventory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from auditor import __version__, clock, plugins
from auditor.access.model import AccessMap
from auditor.activity.run import ActivityResult, run_activity
from auditor.activity.settings import ActivitySettings, LogSources
from auditor.classify.ml import classify_inventory
from auditor.classify.model import Classification
from auditor.classify.settings import ClassificationSettings
from auditor.compliance.evaluate import evaluate_compliance, rules_of, select_frameworks
from auditor.compliance.loader import load_frameworks
from auditor.config import Profile
from auditor.errors import ConfigError
from auditor.executors.base import max_accounts
from auditor.executors.factory import executor_for
from auditor.executors.profile_scan import ScanOutcome, scan_providers
from auditor.findings import Finding, severity_rank
from auditor.history.suppressions import apply_suppressions, expired_findings, load_suppressions
from auditor.inventory import Inventory
from auditor.inventory.io import save as save_inventory
from auditor.inventory.shard import ShardSpec
from auditor.io import write_atomic
from auditor.progress import Reporter, ScanProgress
from auditor.rules.engine import evaluate_rules
from auditor.rules.loader import load_rules
from auditor.run import RunMetadata, RunResult
from auditor.scanners.runner import report_progress

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
Progress = Callable[[str], None]


@dataclass(slots=True)
class EvaluationOptions:
    profile: str | None = None
    classification: ClassificationSettings = field(default_factory=ClassificationSettings)
    rule_paths: Sequence[Path] = ()
    fail_on: str = "high"
    # --framework: evaluate only the rules these frameworks map (all rules when empty)
    frameworks: Sequence[str] = ()
    suppressions: Path | None = None

    @classmethod
    def from_profile(cls, profile: Profile) -> EvaluationOptions:
        return cls(profile=profile.name, classification=profile.classification,
                   rule_paths=profile.rule_paths, fail_on=profile.fail_on,
                   suppressions=profile.suppressions)


def scan(profile: Profile, progress: Progress | None = None, *,
         reporter: Reporter | None = None, executor: str | None = None) -> Inventory:
    """Scan every provider of the profile: all its units (accounts, projects), in this
    process or, with ``executor`` ``dask://HOST:PORT``, on a Dask cluster."""
    return scan_units(profile, progress, reporter=reporter, executor=executor).inventory


def scan_units(profile: Profile, progress: Progress | None = None, *,
               reporter: Reporter | None = None, executor: str | None = None,
               shard: ShardSpec | None = None) -> ScanOutcome:
    """Scan the profile's units, or with ``shard`` only that shard's (a partial inventory).

    ``progress`` receives messages; ``reporter`` the progress of every task (by default, with
    ``progress``, a ScanProgress on stderr)."""
    tasks = reporter or (ScanProgress() if progress else None)
    runner = executor_for(executor, max_accounts(profile.scan))
    try:
        with report_progress(tasks) if tasks else nullcontext():
            return scan_providers(profile.providers, profile.scan, executor=runner,
                                  shard=shard, log=progress, profile=profile.name)
    except ConfigError as exc:
        raise _in_profile(exc, profile) from None
    finally:
        runner.close()
        if tasks:
            tasks.close()


def _in_profile(error: ConfigError, profile: Profile) -> ConfigError:
    """A scanner checks its table's values when it plans (``aws.accounts[0]``): name the file
    and the full key, as config.py does for types."""
    provider = (error.location or "").split(".", 1)[0].split("[", 1)[0]
    if error.source is not None or provider not in profile.providers:
        return error
    return ConfigError(error.message, source=profile.source,
                       location=f"profiles.{profile.name}.{error.location}")


def analyze(inventory: Inventory, settings: ClassificationSettings | None = None
            ) -> tuple[dict[str, Classification], AccessMap]:
    classifications = classify_inventory(inventory, settings)
    access = AccessMap()
    for analyzer in plugins.registry("auditor.analyzers").values():
        for asset in analyzer().analyze(inventory, classifications):
            access.assets[asset.resource_id] = asset
    return classifications, access


def check_options(options: EvaluationOptions) -> None:
    """Refuse before a scan what evaluation would refuse after it: an unknown framework id,
    a malformed suppressions file."""
    if options.frameworks:
        select_frameworks(load_frameworks(), options.frameworks)
    if options.suppressions is not None:
        load_suppressions(options.suppressions)


def access_only(inventory: Inventory, options: EvaluationOptions) -> RunResult:
    """A run with classification and access but no rules, for activity analysis alone."""
    started_at = clock.isoformat(clock.now())
    classifications, access = analyze(inventory, options.classification)
    metadata = RunMetadata(tool_version=__version__, profile=options.profile, started_at=started_at,
                           finished_at=clock.isoformat(clock.now()), fail_on=options.fail_on)
    return RunResult(metadata=metadata, inventory=inventory, classifications=classifications,
                     access=access, findings=[])


def evaluate(inventory: Inventory, options: EvaluationOptions, started_at: str | None = None
             ) -> RunResult:
    started_at = started_at or clock.isoformat(clock.now())
    classifications, access = analyze(inventory, options.classification)
    rules = load_rules(None) + (load_rules(list(options.rule_paths)) if options.rule_paths else [])
    frameworks = load_frameworks(rule_ids={rule.id for rule in rules})
    if options.frameworks:
        frameworks = select_frameworks(frameworks, options.frameworks)
        rules = [rule for rule in rules if rule.id in rules_of(frameworks)]
    now = clock.now()
    findings, outcomes = evaluate_rules(rules, inventory, classifications, access, now)
    if options.suppressions is not None:
        findings, expired = apply_suppressions(findings, load_suppressions(options.suppressions), now)
        findings = sorted(findings + expired_findings(expired), key=Finding.sort_key)
    metadata = RunMetadata(tool_version=__version__, profile=options.profile, started_at=started_at,
                           finished_at=clock.isoformat(clock.now()), fail_on=options.fail_on)
    return RunResult(metadata=metadata, inventory=inventory, classifications=classifications,
                     access=access, findings=findings, rules=outcomes,
                     compliance=evaluate_compliance(frameworks, outcomes))


def add_activity(result: RunResult, activity: tuple[LogSources, ActivitySettings],
                 since: timedelta | None, work_dir: Path,
                 classification: ClassificationSettings | None = None) -> ActivityResult:
    """Read the profile's logs and fold the activity findings into ``result``; log problems
    are returned (with file and line), never raised, and make the run incomplete."""
    sources, settings = activity
    found = run_activity(sources, settings, result.inventory, result.classifications,
                         result.access, since, clock.now(), work_dir=work_dir,
                         classification_settings=classification)
    result.findings = sorted([*result.findings, *found.findings], key=Finding.sort_key)
    result.rules = [*result.rules, *found.analysis.outcomes]
    return found


def write_outputs(result: RunResult, output_dir: Path, formats: Sequence[str] | None = None
                  ) -> list[Path]:
    """Render every requested format, then write each file atomically; returns the paths."""
    renderers = plugins.registry("auditor.renderers")
    chosen = list(formats) if formats else sorted(renderers)
    # render everything before writing anything: a renderer failing leaves no half-written run
    rendered = [(renderers[name]().filename, renderers[name]().render(result)) for name in chosen]
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, text in rendered:
        write_atomic(output_dir / filename, text)
        written.append(output_dir / filename)
    save_inventory(result.inventory, output_dir / "inventory.json")
    written.append(output_dir / "inventory.json")
    return written


def exit_code(result: RunResult, fail_on_new: bool = False) -> int:
    """1 when a failing finding reaches fail_on; else 3 when the scan was incomplete; else 0.

    With ``fail_on_new`` only findings that are new since the baseline (``result.diff``; all
    of them when there is no baseline) count for 1. A finding at the gate is a certain
    failure, so it wins over incompleteness (which is always reported in the outputs and on
    stderr).
    """
    gate = severity_rank(result.metadata.fail_on)
    new = set(result.diff["new"]) if fail_on_new and result.diff is not None else None
    if any(f.status == "fail" and severity_rank(f.severity) >= gate
           and (new is None or f.id in new) for f in result.findings):
        return EXIT_FINDINGS
    if result.incomplete or any(f.status == "error" for f in result.findings):
        return EXIT_INCOMPLETE
    return EXIT_OK
