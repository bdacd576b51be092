"""The `audit` command: parses options, calls the library, maps errors to exit codes.

Exit codes: 0 no failing finding at or above --fail-on; 1 failing findings at or above it;
2 bad usage, configuration or input; 3 the scan or evaluation was incomplete (collection
errors, or a rule could not decide); 4 an internal error (a bug: please report it); 5 (`audit
deliver` only) a delivery target failed.
When several apply: 2, then 1, then 3.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from auditor import __version__
from auditor.errors import AuditorError
from auditor.findings import SEVERITIES
from auditor.progress import LOG_FORMATS

EXIT_OK, EXIT_INTERNAL, EXIT_DELIVERY = 0, 4, 5
F = TypeVar("F", bound=Callable[..., Any])


def _log_format() -> str:
    context = click.get_current_context(silent=True)
    root = context.find_root() if context is not None else None
    return (root.obj or {}).get("log_format", "text") if root is not None else "text"


def _stderr(message: str, *, level: str = "info", prefix: str = "", **fields: Any) -> None:
    """A message for the user on stderr: ``prefix + message`` for people, or a JSON line
    (``level``, ``message`` and ``fields``) with --log-format json."""
    if _log_format() == "json":
        from auditor.progress import JsonLog

        JsonLog().message(message, level=level, **fields)
    else:
        click.echo(prefix + message, err=True)


def _friendly_errors(command: F) -> F:
    """Users see one line naming the file and place, never a traceback (unless AUDITOR_DEBUG)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except AuditorError as exc:
            _stderr(str(exc), level="error", prefix="error: ", exit_code=exc.exit_code,
                    source=exc.source, location=exc.location)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            _stderr("interrupted: no output was written half-way", level="error",
                    exit_code=130)
            sys.exit(130)
        except Exception as exc:
            if os.environ.get("AUDITOR_DEBUG"):
                traceback.print_exc()
            _stderr(f"{type(exc).__name__}: {exc} (set AUDITOR_DEBUG=1 for details, and please "
                    "report it)", level="error", prefix="internal error: ",
                    exit_code=EXIT_INTERNAL)
            sys.exit(EXIT_INTERNAL)

    return wrapper  # type: ignore[return-value]


def _progress(message: str) -> None:
    _stderr(message)


def _reporter() -> Any:
    """Scan progress on stderr in the chosen --log-format."""
    from auditor.progress import reporter_for

    return reporter_for(_log_format())


def _scan(profile: Any, executor: str | None = None, shard: Any = None) -> Any:
    """Scan with progress on stderr (messages go through the reporter, so that they never
    land in the middle of a live progress line)."""
    from auditor import pipeline

    reporter = _reporter()
    return pipeline.scan_units(profile, reporter.message, reporter=reporter, executor=executor,
                               shard=shard)


config_option = click.option("--config", "config_path", type=click.Path(path_type=Path),
                             help="audit.toml to read (default: ./audit.toml).")
profile_option = click.option("--profile", "profile_name", metavar="NAME",
                              help="Profile from audit.toml.")
output_dir_option = click.option("--output-dir", type=click.Path(path_type=Path),
                                 help="Where to write findings.json, report.html, access.json "
                                      "and inventory.json (default: ./audit-output/PROFILE).")
formats_option = click.option(
    "--format", "formats", default=None, metavar="LIST",
    help="Comma-separated outputs (default: all): html, json, access, sarif, junit, csv, markdown. "
         "inventory.json is always written.")
fail_on_option = click.option("--fail-on", type=click.Choice(SEVERITIES), default=None,
                              help="Exit 1 when a failing finding is at or above this "
                                   "severity (default: the profile's fail_on, else high).")
suppressions_option = click.option("--suppressions", "suppressions_path",
                                   type=click.Path(path_type=Path),
                                   help="Suppressions file (YAML, docs/suppressions.md); "
                                        "replaces the profile's suppressions.")
framework_option = click.option("--framework", "frameworks", multiple=True, metavar="ID",
                                help="Evaluate only the rules this compliance framework maps "
                                     "(repeatable; ids: `audit rules list --format json`, "
                                     "docs/compliance.md).")
state_option = click.option("--state", "state_path", type=click.Path(path_type=Path),
                            help="History store (default: the profile's state, else "
                                 "$XDG_DATA_HOME/auditor/history.sqlite).")
baseline_option = click.option("--baseline", "baseline_path", type=click.Path(path_type=Path),
                               help="Compare with this findings.json instead of the profile's "
                                    "previous run.")
fail_on_new_option = click.option("--fail-on-new", is_flag=True,
                                  help="Exit 1 only for new failing findings (since the baseline) "
                                       "at or above --fail-on.")
format_option = click.option("--format", "output_format", type=click.Choice(["table", "json"]),
                             default="table", show_default=True)
executor_option = click.option("--executor", metavar="URL",
                               help="Where accounts and projects are scanned: local (the "
                                    "default: in this process, [scan] max_accounts at a time) "
                                    "or dask://HOST:PORT (a Dask scheduler whose workers have "
                                    "the auditor installed and their own credentials).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="audit")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text", show_default=True,
              help="Messages and progress on stderr: text for people (a live progress line on "
                   "a terminal, a line every few seconds elsewhere), or json: one object per "
                   "line, for machines.")
@click.pass_context
def main(context: click.Context, log_format: str) -> None:
    """Who can read, copy or tamper with your training data and model weights, and by which path.

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 bad usage or configuration,
    3 incomplete scan, 4 internal error, 5 a delivery failed (audit deliver). When several
    apply: 2, then 1, then 3.
    """
    context.obj = {"log_format": log_format}


@main.command()
@profile_option
@config_option
@output_dir_option
@formats_option
@fail_on_option
@suppressions_option
@framework_option
@state_option
@baseline_option
@fail_on_new_option
@executor_option
@_friendly_errors
def run(profile_name: str | None, config_path: Path | None, output_dir: Path | None,
        formats: str | None, fail_on: str | None, suppressions_path: Path | None, frameworks: tuple[str, ...],
        state_path: Path | None, baseline_path: Path | None, fail_on_new: bool,
        executor: str | None) -> None:
    """Scan the clouds of a profile, evaluate the rules and write the reports.

    The run is compared with the profile's previous run (or --baseline) and recorded in the
    history store.
    """
    from auditor import pipeline

    chosen = _formats(formats) if formats else None
    profile = _load_profile(profile_name, config_path)
    if fail_on:
        profile.fail_on = fail_on
    options = pipeline.EvaluationOptions.from_profile(profile)
    options.suppressions = suppressions_path or options.suppressions
    options.frameworks = frameworks
    pipeline.check_options(options)
    started_at = _now()
    inventory = _scan(profile, executor).inventory
    result = pipeline.evaluate(inventory, options, started_at=started_at)
    directory = output_dir or _default_output_dir(profile)
    log_errors = _activity(result, profile, None, directory) if profile.activity else []
    _finish(result, directory, state_path or profile.state,
            baseline_path, fail_on_new, deliver=profile.deliver,
            formats=chosen, log_errors=bool(log_errors))


@main.command()
@profile_option
@config_option
@click.option("--output", type=click.Path(path_type=Path), default=Path("inventory.json"),
              show_default=True, help="Where to write the inventory.")
@click.option("--shard", metavar="I/N",
              help="Scan only shard I of N (1 <= I <= N): accounts and projects are split by a "
                   "stable hash of their id, the same on every machine. Writes a partial "
                   "inventory; join the N parts with `audit merge`.")
@executor_option
@_friendly_errors
def scan(profile_name: str | None, config_path: Path | None, output: Path, shard: str | None,
         executor: str | None) -> None:
    """Scan the clouds of a profile and write inventory.json (no rules are evaluated).

    Exits 3 when a call failed (the collection errors are in the inventory).
    """
    from auditor import pipeline
    from auditor.inventory.io import save
    from auditor.inventory.shard import ShardSpec, write_part

    spec = ShardSpec.parse(shard) if shard is not None else None
    outcome = _scan(_load_profile(profile_name, config_path), executor, spec)
    inventory = outcome.inventory
    if outcome.shard is not None:
        write_part(inventory, outcome.shard, output)
    else:
        save(inventory, output)
    part = (f", shard {outcome.shard.spec}: {len(outcome.shard.units)} of "
            f"{outcome.shard.planned} units" if outcome.shard is not None else "")
    click.echo(f"inventory: {output} ({len(inventory.resources)} resources, "
               f"{len(inventory.errors)} collection errors{part})")
    sys.exit(pipeline.EXIT_INCOMPLETE if inventory.errors else pipeline.EXIT_OK)


@main.command()
@click.argument("parts", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--output", type=click.Path(path_type=Path), required=True,
              help="Where to write the joined inventory.")
@_friendly_errors
def merge(parts: tuple[Path, ...], output: Path) -> None:
    """Join the partial inventories of `audit scan --shard I/N` (all N of them) into the
    inventory a single scan writes.

    Refused, naming the files, when a shard is missing or given twice, when the parts come
    from different profiles, settings or account lists, or when a unit or resource is in two
    parts. Exits 3 when the joined inventory holds collection errors.
    """
    from auditor import pipeline
    from auditor.inventory.io import save
    from auditor.inventory.merge import merge_parts

    inventory = merge_parts(list(parts))
    save(inventory, output)
    click.echo(f"inventory: {output} ({len(inventory.resources)} resources, "
               f"{len(inventory.errors)} collection errors, from {len(parts)} parts)")
    sys.exit(pipeline.EXIT_INCOMPLETE if inventory.errors else pipeline.EXIT_OK)


@main.command()
@click.option("--inventory", "inventory_path", required=True,
              type=click.Path(path_type=Path), help="inventory.json written by `audit scan`.")
@profile_option
@config_option
@output_dir_option
@formats_option
@fail_on_option
@suppressions_option
@framework_option
@state_option
@baseline_option
@fail_on_new_option
@_friendly_errors
def evaluate(inventory_path: Path, profile_name: str | None, config_path: Path | None,
             output_dir: Path | None, formats: str | None, fail_on: str | None,
             suppressions_path: Path | None, frameworks: tuple[str, ...],
             state_path: Path | None, baseline_path: Path | None, fail_on_new: bool) -> None:
    """Evaluate the rules on a saved inventory, offline, and write the reports.

    With --profile, the profile's classification settings, extra rules, suppressions and
    fail_on apply, and the run is recorded in the profile's history.
    """
    from auditor import pipeline
    from auditor.inventory.io import load

    chosen = _formats(formats) if formats else None
    options = pipeline.EvaluationOptions()
    state = None
    if profile_name:
        profile = _load_profile(profile_name, config_path)
        options, state = pipeline.EvaluationOptions.from_profile(profile), profile.state
    if fail_on:
        options.fail_on = fail_on
    options.suppressions = suppressions_path or options.suppressions
    options.frameworks = frameworks
    result = pipeline.evaluate(load(inventory_path), options)
    _finish(result, output_dir or Path("audit-output") / (options.profile or "offline"),
            state_path or state, baseline_path, fail_on_new,
            formats=chosen)


@main.command()
@output_dir_option
@_friendly_errors
def demo(output_dir: Path | None) -> None:
    """Audit an emulated ML organization on a local moto server: no cloud account needed."""
    from auditor.demo.run import run_demo

    result, directory = run_demo(output_dir or Path("audit-demo"), _progress)
    _print_summary(result, directory)
    click.echo("This was a demo on an emulated organization. Next: copy audit.example.toml to "
               "audit.toml, name your profile and run `audit run --profile NAME`.")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "formats", default="html,json,sarif,junit", show_default=True,
              metavar="LIST", help="Comma-separated outputs, from: html, json, sarif, junit.")
@output_dir_option
@fail_on_option
@profile_option
@config_option
@click.option("--trusted-account", "trusted_accounts", multiple=True, metavar="ACCOUNT_ID",
              help="An AWS account id of yours that bucket policies may name (repeatable).")
@_friendly_errors
def iac(path: Path, formats: str, output_dir: Path | None, fail_on: str | None,
        profile_name: str | None, config_path: Path | None,
        trusted_accounts: tuple[str, ...]) -> None:
    """Check Terraform and CloudFormation in PATH before they are applied.

    Runs checkov's checks and ours (training-data and weights buckets found with the same
    classification settings as the live audit), offline. Run it from the repository root so
    that SARIF paths match the repository. With --profile, its classification applies.
    """
    from auditor import pipeline
    from auditor.classify.settings import ClassificationSettings
    from auditor.iac import scan_iac

    chosen = _formats(formats)
    profile = _load_profile(profile_name, config_path) if profile_name else None
    _progress(f"scanning {path}")
    result = scan_iac(path, profile.classification if profile else ClassificationSettings(),
                      trusted_accounts=trusted_accounts, profile=profile.name if profile else None,
                      fail_on=fail_on or (profile.fail_on if profile else "high"))
    directory = output_dir or Path("audit-output") / "iac"
    pipeline.write_outputs(result, directory, chosen)
    _print_summary(result, directory)
    sys.exit(pipeline.exit_code(result))


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@profile_option
@config_option
@_friendly_errors
def deliver(run_dir: Path, profile_name: str | None, config_path: Path | None) -> None:
    """Deliver RUN_DIR (written by `audit run`) to the profile's [deliver] targets again.

    Exits 5 when a target failed (the others are still delivered).
    """
    from auditor.errors import ConfigError

    profile = _load_profile(profile_name, config_path)
    if not profile.deliver:
        raise ConfigError(f"profile {profile.name!r} has no [profiles.{profile.name}.deliver] table",
                          source=profile.source)
    sys.exit(EXIT_OK if _deliver(run_dir, profile.deliver) else EXIT_DELIVERY)


@main.command()
@profile_option
@config_option
@click.option("--since", metavar="DURATION", help="How far back: 30d, 12h, 2w (default: the "
                                                  "profile's activity window).")
@click.option("--inventory", "inventory_path", type=click.Path(path_type=Path),
              help="Use a saved inventory.json instead of scanning.")
@output_dir_option
@fail_on_option
@_friendly_errors
def activity(profile_name: str | None, config_path: Path | None, since: str | None,
             inventory_path: Path | None, output_dir: Path | None, fail_on: str | None) -> None:
    """Who actually touched the weights: read the profile's logs (CloudTrail, S3 access logs,
    GCS audit logs) and report key usage, used versus granted access and exfiltration signs.

    Writes activity.json and the usual reports of the activity findings.
    """
    from auditor import pipeline
    from auditor.activity.settings import parse_duration
    from auditor.errors import ConfigError
    from auditor.inventory.io import load

    profile = _load_profile(profile_name, config_path)
    where = f"profiles.{profile.name}.activity"
    if profile.activity is None or not profile.activity[0].configured:
        raise ConfigError("no log sources (cloudtrail, s3_access_logs, gcs_audit_logs)",
                          source=profile.source, location=where)
    window = parse_duration(since, location="--since") if since else None
    inventory = load(inventory_path) if inventory_path else _scan(profile).inventory
    options = pipeline.EvaluationOptions.from_profile(profile)
    options.fail_on = fail_on or options.fail_on
    # no rules: only the activity findings, with access analysed to know who could have read
    result = pipeline.access_only(inventory, options)
    directory = output_dir or _default_output_dir(profile) / "activity"
    log_errors = _activity(result, profile, window, directory)
    pipeline.write_outputs(result, directory)
    _print_summary(result, directory)
    code = pipeline.exit_code(result)
    sys.exit(pipeline.EXIT_INCOMPLETE if code == pipeline.EXIT_OK and log_errors else code)


@main.command()
@click.argument("cases", type=click.Path(path_type=Path))
@click.option("--format", "output_format", type=click.Choice(["table", "json"]),
              default="table", show_default=True)
@_friendly_errors
def simulate(cases: Path, output_format: str) -> None:
    """Evaluate IAM authorization cases (JSON lines) and print each decision."""
    from auditor.access.aws.simulate import format_table, run_cases

    results = run_cases(cases)
    click.echo(json.dumps(results, indent=1) if output_format == "json" else format_table(results))


@main.command("who-can")
@click.argument("action")
@click.argument("resource")
@click.option("--inventory", "inventory_path", type=click.Path(path_type=Path),
              help="Answer from a saved inventory.json.")
@profile_option
@config_option
@click.option("--format", "output_format", type=click.Choice(["table", "json"]),
              default="table", show_default=True)
@_friendly_errors
def who_can(action: str, resource: str, inventory_path: Path | None, profile_name: str | None,
            config_path: Path | None, output_format: str) -> None:
    """Who can perform ACTION (read, write, delete, admin, or e.g. s3:GetObject) on RESOURCE.

    RESOURCE is an ARN (arn:aws:s3:::bucket) or a GCS bucket (gs://bucket, or
    //storage.googleapis.com/projects/_/buckets/bucket). Give --inventory, or --profile to scan
    first.
    """
    from auditor.access.query import format_grants
    from auditor.access.query import who_can as query
    from auditor.errors import ConfigError
    from auditor.inventory.io import load

    if bool(inventory_path) == bool(profile_name):
        raise ConfigError("give exactly one of --inventory FILE or --profile NAME")
    inventory = (load(inventory_path) if inventory_path
                 else _scan(_load_profile(profile_name, config_path)).inventory)
    grants = query(inventory, resource, action)
    if output_format == "json":
        click.echo(json.dumps([g.to_dict() for g in grants], indent=1, ensure_ascii=False))
    else:
        click.echo(format_grants(grants))
    errors = len(inventory.errors)
    if errors:
        # the list may miss principals, or name ones a policy nobody could read would stop
        _stderr(f"incomplete: the inventory holds {errors} collection error(s); principals or "
                "policies it could not read are not in this answer (audit evaluate reports "
                "them per asset)", level="warning", collection_errors=errors)


@main.command("diff")
@profile_option
@click.option("--current", "current_path", type=click.Path(path_type=Path),
              help="findings.json of the newer run (default: the profile's latest run in the "
                   "history store).")
@baseline_option
@state_option
@fail_on_option
@fail_on_new_option
@format_option
@_friendly_errors
def diff_command(profile_name: str | None, current_path: Path | None, baseline_path: Path | None,
                 state_path: Path | None, fail_on: str | None, fail_on_new: bool,
                 output_format: str) -> None:
    """New, resolved and unchanged findings: the profile's latest run against the run before
    it, or against --baseline FILE.

    With --fail-on-new, exit 1 when a new finding fails at or above --fail-on (default high).
    """
    from auditor import pipeline
    from auditor.errors import ConfigError
    from auditor.history.baseline import load_baseline
    from auditor.history.diff import diff, format_diff
    from auditor.history.store import HistoryStore

    store = HistoryStore(state_path)
    latest = None if current_path else store.previous(profile_name)
    if current_path is None and latest is None:
        raise ConfigError(f"no run of profile {profile_name!r} in {store.path}; give --current FILE")
    current = load_baseline(current_path) if current_path else list(latest.findings)
    if baseline_path is not None:
        baseline = load_baseline(baseline_path)
    else:
        earlier = store.previous(profile_name, before=latest.id) if latest else None
        if earlier is None:
            raise ConfigError("no earlier run to compare with; give --baseline FILE")
        baseline = list(earlier.findings)
    changes = diff(current, baseline)
    click.echo(json.dumps(changes.to_dict(), indent=1, ensure_ascii=False)
               if output_format == "json" else format_diff(changes))
    failing = fail_on_new and changes.new_failures(fail_on or "high")
    sys.exit(pipeline.EXIT_FINDINGS if failing else pipeline.EXIT_OK)


@main.command()
@click.option("--provider", required=True, metavar="NAME",
              help="The scanner whose grant to print: aws or gcp.")
@click.option("--role-name", "role_name", metavar="NAME",
              help="AWS organization scans: the role (with its path) entered in every other "
                   "account; adds sts:AssumeRole on that role only.")
@click.option("--log-source", "log_sources", multiple=True, metavar="s3://BUCKET/PREFIX",
              help="AWS: a log location `audit activity` reads (repeatable); adds reading "
                   "that prefix only.")
@profile_option
@config_option
@click.option("--format", "output_format", type=click.Choice(["json", "yaml"]), default="json",
              show_default=True)
@_friendly_errors
def permissions(provider: str, role_name: str | None, log_sources: tuple[str, ...],
                profile_name: str | None, config_path: Path | None, output_format: str) -> None:
    """Print the least-privilege grant a scan needs: an AWS IAM policy, or a GCP custom role.

    Built from the read-only permissions the scanners declare. AWS: attach it to the auditing
    identity (and, for organization scans, to the role it enters in each account). GCP: gcloud
    iam roles create auditorReadOnly --organization ORG --file FILE (with --format yaml).
    With --profile, the role of an organization scan and the s3:// log sources of the
    profile's [activity] table are taken from audit.toml.
    """
    from auditor.deliver.settings import bucket_url
    from auditor.permissions import format_document, least_privilege_policy

    for location in log_sources:  # local log folders need no cloud permission
        bucket_url(location, "s3", "--log-source")
    locations = list(log_sources)
    if profile_name:
        profile = _load_profile(profile_name, config_path)
        aws = profile.providers.get("aws") or {}
        if aws.get("organization") and not role_name:
            role_name = aws.get("role_name")
        if profile.activity is not None:
            sources = profile.activity[0]
            locations += [*sources.cloudtrail, *sources.s3_access_logs]
    click.echo(format_document(least_privilege_policy(provider, entry_role=role_name,
                                                      log_locations=locations),
                               output_format))


@main.group()
def rules() -> None:
    """Rule packs: list, show, lint and test rules; print the rule-file JSON Schema."""


def _rules_and_frameworks(profile_name: str | None, config_path: Path | None) -> tuple[Any, Any]:
    """The bundled rules (and the profile's own, with --profile) and the frameworks."""
    from auditor.compliance.loader import load_frameworks
    from auditor.rules.loader import load_rules

    loaded = load_rules()
    if profile_name:
        profile = _load_profile(profile_name, config_path)
        loaded += load_rules(profile.rule_paths) if profile.rule_paths else []
    return loaded, load_frameworks(rule_ids={rule.id for rule in loaded})


@rules.command("list")
@profile_option
@config_option
@click.option("--framework", "framework", metavar="ID", help="Only the rules this framework maps.")
@format_option
@_friendly_errors
def rules_list(profile_name: str | None, config_path: Path | None, framework: str | None,
               output_format: str) -> None:
    """Every rule: id, severity, title and the frameworks that map it."""
    from auditor.compliance.evaluate import rules_of, select_frameworks
    from auditor.rules.catalog import format_rule_list, list_rules

    loaded, frameworks = _rules_and_frameworks(profile_name, config_path)
    if framework:
        wanted = rules_of(select_frameworks(frameworks, [framework]))
        loaded = [rule for rule in loaded if rule.id in wanted]
    infos = list_rules(loaded, frameworks)
    click.echo(json.dumps([info.to_dict() for info in infos], indent=1)
               if output_format == "json" else format_rule_list(infos))


@rules.command("show")
@click.argument("rule_id")
@profile_option
@config_option
@format_option
@_friendly_errors
def rules_show(rule_id: str, profile_name: str | None, config_path: Path | None,
               output_format: str) -> None:
    """One rule in full: why, how to fix it, references, requirements, fixtures, definition."""
    from auditor.rules.catalog import format_rule, show_rule

    loaded, frameworks = _rules_and_frameworks(profile_name, config_path)
    details = show_rule(loaded, rule_id, frameworks)
    click.echo(json.dumps(details, indent=1, ensure_ascii=False)
               if output_format == "json" else format_rule(details))


@rules.command("lint")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_friendly_errors
def rules_lint(paths: tuple[Path, ...]) -> None:
    """Every problem in rule files and folders, each with its file and line (exit 1 if any)."""
    from auditor.rules.lint import lint

    problems = lint(list(paths))
    for problem in problems:
        click.echo(str(problem))
    click.echo(f"{len(problems)} problem(s)", err=True)
    sys.exit(1 if problems else 0)


@rules.command("test")
@click.argument("rule_ids", nargs=-1)
@profile_option
@config_option
@_friendly_errors
def rules_test(rule_ids: tuple[str, ...], profile_name: str | None,
               config_path: Path | None) -> None:
    """Run the pass/fail fixtures of the given rules (default: all) and report each."""
    from auditor.rules.catalog import find_rule, format_fixture_results, run_fixtures

    loaded, _ = _rules_and_frameworks(profile_name, config_path)
    chosen = [find_rule(loaded, rule_id) for rule_id in rule_ids] if rule_ids else loaded
    results = run_fixtures(chosen)
    click.echo(format_fixture_results(results))
    sys.exit(0 if all(result.passed for result in results) else 1)


@rules.command("schema")
@_friendly_errors
def rules_schema() -> None:
    """The JSON Schema (draft 2020-12) of a rule file."""
    from auditor.rules.schema import rule_schema

    click.echo(json.dumps(rule_schema(), indent=2))


def _load_profile(profile_name: str | None, config_path: Path | None) -> Any:
    from auditor.config import find_config, load_profile
    from auditor.errors import ConfigError

    if not profile_name:
        raise ConfigError("--profile NAME is required")
    return load_profile(find_config(config_path), profile_name)


def _formats(text: str) -> list[str]:
    from auditor import plugins
    from auditor.errors import ConfigError

    chosen = [name.strip() for name in text.split(",") if name.strip()]
    known = sorted(plugins.registry("auditor.renderers"))
    unknown = [name for name in chosen if name not in known]
    if unknown or not chosen:
        raise ConfigError(f"--format: unknown {', '.join(unknown) or '(empty)'} "
                          f"(known: {', '.join(known)})")
    return chosen


def _default_output_dir(profile: Any) -> Path:
    return Path(profile.output_dir) if profile.output_dir else Path("audit-output") / profile.name


def _now() -> str:
    from auditor import clock

    return clock.isoformat(clock.now())


def _finish(result: Any, output_dir: Path, state_path: Path | None = None,
            baseline_path: Path | None = None, fail_on_new: bool = False,
            deliver: dict[str, Any] | None = None, formats: list[str] | None = None,
            log_errors: bool = False) -> None:
    """Diff against the baseline, write the outputs, then record the run in the history (a
    run whose outputs could not be written is not recorded), then deliver it. A failed
    delivery is reported and leaves the audit's own exit code alone."""
    from auditor import pipeline
    from auditor.history.baseline import load_baseline
    from auditor.history.diff import diff
    from auditor.history.store import HistoryStore

    store = HistoryStore(state_path)
    if baseline_path is not None:
        baseline = load_baseline(baseline_path)
    else:
        previous = store.previous(result.metadata.profile)
        baseline = list(previous.findings) if previous else None
    if baseline is not None:
        result.diff = diff(result.findings, baseline).to_dict()
    pipeline.write_outputs(result, output_dir, formats)
    store.record(result)
    _print_summary(result, output_dir)
    if deliver:
        _deliver(output_dir, deliver)
    code = pipeline.exit_code(result, fail_on_new)
    sys.exit(pipeline.EXIT_INCOMPLETE if code == pipeline.EXIT_OK and log_errors else code)


def _activity(result: Any, profile: Any, since: Any, output_dir: Path) -> list[Any]:
    """Fold the profile's log activity into ``result``; writes activity.json, warns about log
    lines that could not be read, and returns those problems."""
    from auditor import pipeline
    from auditor.io import write_atomic

    output_dir.mkdir(parents=True, exist_ok=True)
    found = pipeline.add_activity(result, profile.activity, since, output_dir,
                                  profile.classification)
    for problem in found.errors:
        _stderr(str(problem), level="warning", prefix="warning: ")
    write_atomic(output_dir / "activity.json",
                 json.dumps(found.to_dict(), indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    _stderr(f"activity: {found.events} events read", events=found.events)
    return list(found.errors)


def _deliver(run_dir: Path, targets: dict[str, Any]) -> bool:
    from auditor.deliver import deliver_run

    outcomes = deliver_run(run_dir, targets)
    for outcome in outcomes:
        if outcome.ok:
            click.echo(str(outcome))
        else:
            _stderr(str(outcome), level="error")
    return all(outcome.ok for outcome in outcomes)


def _print_summary(result: Any, output_dir: Path) -> None:
    failing = [f for f in result.findings if f.status == "fail"]
    counts = {s: sum(1 for f in failing if f.severity == s) for s in SEVERITIES}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"
    click.echo(f"findings: {summary}")
    errors = len(result.inventory.errors)
    if errors:
        _stderr(f"incomplete: {errors} collection error(s); see the coverage section of the "
                f"report", level="warning", collection_errors=errors)
    report = output_dir / "report.html"
    click.echo(f"report: {report}" if report.exists() else f"outputs: {output_dir}")
