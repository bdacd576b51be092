"""The ``[profiles.NAME.deliver]`` table: its keys, their types, and how they are checked.

    [profiles.prod.deliver]
    directory = "/var/lib/audit/archive"     # DIR/2026-11-26T120000Z/ per run
    retention = 10                           # newest runs kept in the directory (0: all)
    s3 = "s3://acme-audit-reports/prod"
    gs = "gs://acme-audit-reports/prod"
    webhook_url_env = "AUDIT_SLACK_WEBHOOK"  # the NAME of a variable holding the URL
    [profiles.prod.deliver.email]
    smtp_host = "smtp.example.com"
    smtp_port = 587
    starttls = true
    username = "audit-bot"
    password_env = "AUDIT_SMTP_PASSWORD"     # the NAME of a variable holding the password
    from = "audit-bot@example.com"
    to = ["security@example.com"]

Secrets are never written in the file: the webhook URL (it carries a token) and the SMTP
password are read from the environment variables the profile names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditor.bucket_urls import split_bucket_url
from auditor.deliver.secrets import ENV_NAME
from auditor.errors import ConfigError, PluginError
from auditor.scanners.base import Option

WHERE = "deliver"

DIRECTORY_OPTIONS: dict[str, Option] = {
    "directory": Option(str, "keep each run in DIR/STAMP/ (STAMP: the run's finish time)"),
    "retention": Option(int, "how many runs the directory keeps, newest first (0: all)", 10),
}
S3_OPTIONS: dict[str, Option] = {
    "s3": Option(str, "copy each run to s3://BUCKET/PREFIX/STAMP/"),
}
GS_OPTIONS: dict[str, Option] = {
    "gs": Option(str, "copy each run to gs://BUCKET/PREFIX/STAMP/"),
}
EMAIL_OPTIONS: dict[str, Option] = {
    "email": Option(dict, "mail a summary with report.html attached (keys: EMAIL_TABLE_OPTIONS)"),
}
EMAIL_TABLE_OPTIONS: dict[str, Option] = {
    "smtp_host": Option(str, "SMTP server"),
    "smtp_port": Option(int, "SMTP port", 587),
    "starttls": Option(bool, "upgrade the connection with STARTTLS (needed to log in)", True),
    "username": Option(str, "SMTP login, with password_env"),
    "password_env": Option(str, "NAME of the environment variable holding the SMTP password"),
    "from": Option(str, "sender address"),
    "to": Option(list, "recipient addresses", [], item_kind=str),
}
WEBHOOK_OPTIONS: dict[str, Option] = {
    "webhook_url_env": Option(str, "NAME of the environment variable holding a Slack-compatible "
                                   "webhook URL (it carries a token)"),
}
# every key of the table, for config.py (the built-in deliverers each own one part of it)
DELIVER_OPTIONS: dict[str, Option] = {**DIRECTORY_OPTIONS, **S3_OPTIONS, **GS_OPTIONS,
                                      **EMAIL_OPTIONS, **WEBHOOK_OPTIONS}


def deliver_options(deliverers: Mapping[str, Any]) -> dict[str, Option]:
    """The keys of the deliver table, from every deliverer plugin; a key claimed twice is an error."""
    options: dict[str, Option] = {}
    owners: dict[str, str] = {}
    for name in sorted(deliverers):
        for key, option in deliverers[name].options.items():
            if key in owners:
                raise PluginError(f"deliver key {key!r} is claimed by deliverers {owners[key]!r} "
                                  f"and {name!r}")
            options[key], owners[key] = option, name
    return options


def _kind_ok(value: Any, kind: type | tuple[type, ...]) -> bool:
    # TOML booleans are ints to Python: a bool is a number only where bool is asked for
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return isinstance(value, kinds) and (not isinstance(value, bool) or bool in kinds)


def typed(raw: Mapping[str, Any], options: Mapping[str, Option], where: str) -> dict[str, Any]:
    """``raw`` with defaults filled in; an unknown key or a wrong type is a ConfigError."""
    for key in sorted(set(raw) - set(options)):
        raise ConfigError(f"unknown key (known here: {', '.join(sorted(options))})",
                          location=f"{where}.{key}")
    values: dict[str, Any] = {}
    for key, option in options.items():
        value = raw.get(key, option.default)
        if value is not None and not _kind_ok(value, option.kind):
            raise ConfigError(f"must be of type {getattr(option.kind, '__name__', option.kind)}, "
                              f"not {type(value).__name__}", location=f"{where}.{key}")
        if option.item_kind is not None and value is not None:
            for index, item in enumerate(value):
                if not _kind_ok(item, option.item_kind):
                    raise ConfigError(f"items must be of type {option.item_kind.__name__}",
                                      location=f"{where}.{key}[{index}]")
        values[key] = list(value) if isinstance(value, list) else value
    return values


def env_name(value: Any, location: str) -> str:
    if not isinstance(value, str) or not ENV_NAME.match(value):
        raise ConfigError("must be the NAME of an environment variable (letters, digits, _), "
                          "not its value", location=location)
    return value


def bucket_url(value: str, scheme: str, location: str) -> tuple[str, str]:
    """``scheme://bucket/prefix`` -> (bucket, prefix without slashes at either end)."""
    split = split_bucket_url(value, scheme)
    if split is None:
        raise ConfigError(f"must look like {scheme}://BUCKET/PREFIX, not {value!r}",
                          location=location)
    bucket, prefix = split
    if not (3 <= len(bucket) <= 63 and bucket.replace("-", "").replace(".", "").replace("_", "")
            .isalnum() and bucket == bucket.lower()):
        raise ConfigError(f"{bucket!r} is not a bucket name", location=location)
    return bucket, prefix.strip("/")


def object_key(prefix: str, stamp: str, name: str) -> str:
    return "/".join(part for part in (prefix, stamp, name) if part)
