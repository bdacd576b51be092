"""The ``[profiles.NAME.gcp]`` table, checked beyond its types (config.py checks those).

Pure Python (no Google client imports): the plugin declares its options, and a profile is
checked, without loading the client libraries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auditor.errors import ConfigError
from auditor.scanners.base import Option

# a folder is named by its number, with or without "folders/"
_FOLDER = re.compile(r"^(?:folders/)?(\d+)$")
# project ids: lowercase letters, digits and hyphens (legacy ones may hold "." and ":")
_PROJECT_ID = re.compile(r"^[a-z][a-z0-9.:-]*[a-z0-9]$")

OPTIONS: Mapping[str, Option] = {
    "organization": Option((str, list), "organization id(s) to scan, e.g. \"123456789\"",
                           None, item_kind=str),
    "folders": Option(list, "folder ids to scan, with everything below them", [], item_kind=str),
    "projects": Option(list, "project ids to scan (wherever they live; only exclude_projects "
                             "leaves one out)", [], item_kind=str),
    "exclude_folders": Option(list, "folder ids never descended into: the folder and "
                                    "everything below it are left out of the scan (a folder "
                                    "above a scanned project is still read for the policies "
                                    "it passes down)", [], item_kind=str),
    "exclude_projects": Option(list, "project ids never scanned, wherever they are found",
                               [], item_kind=str),
    "storage_endpoint": Option(str, "Cloud Storage emulator endpoint (or STORAGE_EMULATOR_HOST)"),
    "cai_export": Option(str, "read this Cloud Asset Inventory export (JSON lines) instead "
                              "of calling APIs"),
}


@dataclass(frozen=True, slots=True)
class Targets:
    """What to scan: where discovery starts, and what it leaves out."""

    organizations: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    exclude_folders: frozenset[str] = frozenset()  # folders/N
    exclude_projects: frozenset[str] = frozenset()  # project ids

    @property
    def empty(self) -> bool:
        return not (self.organizations or self.folders or self.projects)

    def excludes_folder(self, name: str) -> bool:
        return name in self.exclude_folders

    def excludes_project(self, project_id: str) -> bool:
        return project_id in self.exclude_projects


@dataclass(frozen=True, slots=True)
class GcpOptions:
    targets: Targets
    storage_endpoint: str | None = None
    cai_export: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GcpOptions:
        organization = config.get("organization")
        organizations = [organization] if isinstance(organization, str) else organization or []
        targets = Targets(
            organizations=tuple(dict.fromkeys(organizations)),
            folders=tuple(dict.fromkeys(config.get("folders") or ())),
            projects=tuple(dict.fromkeys(config.get("projects") or ())),
            exclude_folders=frozenset(_folders(config, "exclude_folders")),
            exclude_projects=frozenset(_project_ids(config, "exclude_projects")))
        return cls(targets, config.get("storage_endpoint"), config.get("cai_export"))


def _folders(config: Mapping[str, Any], key: str) -> list[str]:
    names = []
    for i, value in enumerate(config.get(key) or ()):
        match = _FOLDER.match(value) if isinstance(value, str) else None
        if match is None:
            raise ConfigError(f"must be a folder id (digits, optionally after \"folders/\"), "
                              f"not {value!r}", location=f"gcp.{key}[{i}]")
        names.append(f"folders/{match.group(1)}")
    return names


def _project_ids(config: Mapping[str, Any], key: str) -> list[str]:
    for i, value in enumerate(config.get(key) or ()):
        if not isinstance(value, str) or not _PROJECT_ID.match(value):
            raise ConfigError(f"must be a project id (e.g. ml-training-prod), not {value!r}",
                              location=f"gcp.{key}[{i}]")
    return list(config.get(key) or ())
