"""Errors a user can act on.

Every error raised for bad input (config, policies, inventories, rules, logs) is an
``AuditorError``: the CLI prints it on one line, names the file and the place, and maps it to
an exit code, never a traceback.
"""

from __future__ import annotations


class AuditorError(Exception):
    """Base for errors shown to the user without a traceback."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None, location: str | None = None):
        super().__init__(message)
        self.message = message
        self.source = source
        self.location = location

    def __str__(self) -> str:
        where = ":".join(part for part in (self.source, self.location) if part)
        return f"{where}: {self.message}" if where else self.message


class ConfigError(AuditorError):
    """audit.toml, a profile or a command-line option is wrong."""


class InputError(AuditorError):
    """A file given to the auditor (inventory, policy, cases, logs) is malformed."""


class RuleError(AuditorError):
    """A rule file is malformed; rules are never skipped silently."""


class PluginError(AuditorError):
    """Two plugins claim the same name, or a plugin cannot be loaded."""
