"""Profiles from audit.toml, validated before anything runs.

Every table has a declared set of keys with types: an unknown key or a wrong type is a
ConfigError naming the file and the dotted key. Provider tables (``[profiles.NAME.aws]``,
``[profiles.NAME.gcp]``) are declared by the scanner plugins themselves, so adding a provider
needs no change here.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor import plugins
from auditor.activity.settings import ACTIVITY_OPTIONS, ActivitySettings, LogSources, parse_activity
from auditor.classify.settings import ClassificationSettings
from auditor.errors import ConfigError
from auditor.findings import SEVERITIES
from auditor.scanners.base import Option, ScanSettings

DEFAULT_CONFIG_NAME = "audit.toml"
LOG_SOURCE_KEYS = ("cloudtrail", "s3_access_logs", "gcs_audit_logs")

PROFILE_OPTIONS: dict[str, Option] = {
    "fail_on": Option(str, "lowest severity that makes `audit run` exit 1", "high"),
    "output_dir": Option(str, "where outputs are written (default ./audit-output/PROFILE)"),
    "rule_paths": Option(list, "extra rule files or folders, added to the bundled rules",
                         [], item_kind=str),
    "suppressions": Option(str, "suppressions file (YAML, docs/suppressions.md), relative to "
                                "this file"),
    "state": Option(str, "history store (default $XDG_DATA_HOME/auditor/history.sqlite), "
                         "relative to this file"),
}
SCAN_OPTIONS: dict[str, Option] = {
    "object_sample_size": Option(int, "object keys sampled per bucket for classification", 50),
    "object_acl_sample_size": Option(int, "sampled objects whose ACL is read", 10),
    "max_workers": Option(int, "concurrent API calls per account or project", 8),
    "max_accounts": Option(int, "accounts or projects scanned at the same time in this process, "
                                "each with its own max_workers (`--executor dask://` uses the "
                                "cluster's threads instead)", ScanSettings().max_accounts),
}
# the smallest value of each scan setting (0 samples is allowed; 0 workers would do nothing)
SCAN_MINIMUMS = {"object_sample_size": 0, "object_acl_sample_size": 0, "max_workers": 1,
                 "max_accounts": 1}
# profile options that name files, resolved against the config file's folder
PATH_OPTIONS = ("rule_paths", "suppressions", "state", "output_dir")
CLASSIFICATION_OPTIONS: dict[str, Option] = {
    name: Option(list, f"overrides the default {name.replace('_', ' ')}", None, item_kind=str)
    for name in ClassificationSettings.option_names()
}


@dataclass(slots=True)
class Profile:
    name: str
    source: str
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    scan: ScanSettings = field(default_factory=ScanSettings)
    classification: ClassificationSettings = field(default_factory=ClassificationSettings)
    fail_on: str = "high"
    output_dir: str | None = None
    rule_paths: list[Path] = field(default_factory=list)
    # [profiles.NAME.deliver] as written (checked by the deliverer plugins at load)
    deliver: dict[str, Any] = field(default_factory=dict)
    # [profiles.NAME.activity]: log sources and detection settings; None when absent
    activity: tuple[LogSources, ActivitySettings] | None = None
    suppressions: Path | None = None
    state: Path | None = None


def find_config(explicit: Path | None) -> Path:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError("config file not found", source=str(explicit))
        return explicit
    candidate = Path.cwd() / DEFAULT_CONFIG_NAME
    if not candidate.is_file():
        raise ConfigError(f"no {DEFAULT_CONFIG_NAME} in {Path.cwd()}; pass --config FILE "
                          f"(see audit.example.toml)")
    return candidate


def load_profile(path: Path, name: str) -> Profile:
    document = _read_toml(path)
    source = str(path)
    profiles = document.get("profiles")
    _check_unknown(document, {"profiles"}, source, "")
    if not isinstance(profiles, dict) or not profiles:
        raise ConfigError("no [profiles.NAME] table", source=source, location="profiles")
    if name not in profiles:
        raise ConfigError(f"no profile {name!r} (profiles: {', '.join(sorted(profiles))})",
                          source=source, location="profiles")
    return parse_profile(profiles[name], name, source, base=path.parent)


def parse_profile(raw: Any, name: str, source: str, base: Path) -> Profile:
    where = f"profiles.{name}"
    if not isinstance(raw, dict):
        raise ConfigError("must be a table", source=source, location=where)
    scanners = plugins.registry("auditor.scanners")
    sections = {"scan", "classification", "deliver", "activity", *scanners}
    _check_unknown(raw, set(PROFILE_OPTIONS) | sections, source, where)
    top = _validated(raw, PROFILE_OPTIONS, source, where, skip=sections)
    if top["fail_on"] not in SEVERITIES:
        raise ConfigError(f"must be one of {', '.join(SEVERITIES)}", source=source,
                          location=f"{where}.fail_on")
    for key in PATH_OPTIONS:
        _check_paths(top[key], source, f"{where}.{key}")
    providers = {provider: _validated(_table(raw, provider, source, where),
                                      scanners[provider].options, source, f"{where}.{provider}")
                 for provider in sorted(scanners) if provider in raw}
    if not providers:
        raise ConfigError(f"the profile names no provider (add a [{where}.aws] table; known "
                          f"providers: {', '.join(sorted(scanners))})", source=source, location=where)
    scan = _validated(_table(raw, "scan", source, where), SCAN_OPTIONS, source, f"{where}.scan")
    for key, value in scan.items():
        if value < SCAN_MINIMUMS[key]:
            raise ConfigError("must not be negative" if SCAN_MINIMUMS[key] == 0
                              else f"must be at least {SCAN_MINIMUMS[key]}", source=source,
                              location=f"{where}.scan.{key}")
    classification = _validated(_table(raw, "classification", source, where),
                                CLASSIFICATION_OPTIONS, source, f"{where}.classification")
    _check_patterns(classification["data_key_patterns"], source,
                    f"{where}.classification.data_key_patterns")
    deliver = _deliver_table(_table(raw, "deliver", source, where), source, where, base)
    activity = (_activity_table(_table(raw, "activity", source, where), source, where, base)
                if "activity" in raw else None)
    return Profile(
        name=name,
        source=source,
        providers=providers,
        scan=ScanSettings(**scan),
        classification=ClassificationSettings(
            **{k: tuple(v) for k, v in classification.items() if v is not None}),
        fail_on=top["fail_on"],
        output_dir=top["output_dir"],
        rule_paths=[(base / p).resolve() for p in top["rule_paths"]],
        deliver=deliver,
        activity=activity,
        suppressions=(base / top["suppressions"]).resolve() if top["suppressions"] else None,
        state=(base / top["state"]).resolve() if top["state"] else None,
    )


def _deliver_table(raw: Mapping[str, Any], source: str, where: str, base: Path) -> dict[str, Any]:
    """The deliver table, checked now by the deliverer plugins so that a mistake stops the run
    before the scan, not after it."""
    from auditor.deliver.delivery import enabled_targets

    table = dict(raw)
    if isinstance(table.get("directory"), str):
        table["directory"] = str((base / table["directory"]).resolve())
    try:
        enabled_targets(table, plugins.registry("auditor.deliverers"))
    except ConfigError as exc:
        raise ConfigError(exc.message, source=source,
                          location=f"{where}.{exc.location}" if exc.location else where) from None
    return table


def _activity_table(raw: Mapping[str, Any], source: str, where: str, base: Path
                    ) -> tuple[LogSources, ActivitySettings]:
    values = _validated(raw, ACTIVITY_OPTIONS, source, f"{where}.activity")
    for key in LOG_SOURCE_KEYS:
        # local log folders are relative to this file; s3:// and gs:// URLs are left alone
        values[key] = [entry if "://" in entry else str((base / entry).resolve())
                       for entry in values.get(key) or []]
    return parse_activity(values, source=source, where=f"{where}.activity")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", source=str(path)) from None
    except RecursionError:  # tomllib reads nested arrays and tables recursively
        raise ConfigError("not valid TOML: nested too deeply", source=str(path)) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from None


def _check_paths(value: str | list[str] | None, source: str, where: str) -> None:
    """A path the operating system cannot take is a mistake in the file, not a crash later."""
    paths = value if isinstance(value, list) else [value] if value is not None else []
    for i, path in enumerate(paths):
        place = f"{where}[{i}]" if isinstance(value, list) else where
        if not path or "\0" in path:
            raise ConfigError("must be a file or folder name (not empty, no NUL character)",
                              source=source, location=place)


def _check_patterns(patterns: list[str] | None, source: str, where: str) -> None:
    for i, pattern in enumerate(patterns or ()):
        try:
            re.compile(pattern)
        except (re.error, RecursionError, OverflowError) as exc:
            raise ConfigError(f"not a regular expression: {exc}", source=source,
                              location=f"{where}[{i}]") from None


def _table(raw: Mapping[str, Any], key: str, source: str, where: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError("must be a table", source=source, location=f"{where}.{key}")
    return value


def _check_unknown(raw: Mapping[str, Any], known: set[str], source: str, where: str) -> None:
    for key in sorted(set(raw) - known):
        place = f"{where}.{key}" if where else key
        raise ConfigError(f"unknown key (known here: {', '.join(sorted(known))})",
                          source=source, location=place)


def _validated(raw: Mapping[str, Any], options: Mapping[str, Option], source: str, where: str,
               skip: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    _check_unknown({k: v for k, v in raw.items() if k not in skip}, set(options), source, where)
    values: dict[str, Any] = {}
    for key, option in options.items():
        if key not in raw:
            values[key] = list(option.default) if isinstance(option.default, list) else option.default
            continue
        value = raw[key]
        if not _is_kind(value, option.kind):
            raise ConfigError(f"must be {_kind_name(option.kind)}, not {type(value).__name__}",
                              source=source, location=f"{where}.{key}")
        if option.item_kind is not None:
            for i, item in enumerate(value):
                if not _is_kind(item, option.item_kind):
                    raise ConfigError(f"items must be {_kind_name(option.item_kind)}",
                                      source=source, location=f"{where}.{key}[{i}]")
        values[key] = value
    return values


def _is_kind(value: Any, kind: type | tuple[type, ...]) -> bool:
    # TOML booleans are ints to Python; a bool where a number is expected is a mistake
    return isinstance(value, kind) and (not isinstance(value, bool) or _accepts_bool(kind))


def _accepts_bool(kind: type | tuple[type, ...]) -> bool:
    return bool in (kind if isinstance(kind, tuple) else (kind,))


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", list: "a list",
             float: "a number", dict: "a table"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)
