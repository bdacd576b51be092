"""Keep each run in a dated folder of a local directory, the newest ``retention`` of them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auditor.deliver.base import DeliveryContext, DeliveryError
from auditor.deliver.bundle import MANIFEST, STAMP, RunBundle
from auditor.deliver.settings import DIRECTORY_OPTIONS, WHERE
from auditor.errors import ConfigError


class DirectoryDeliverer:
    name = "directory"
    options = DIRECTORY_OPTIONS
    enabled_by = "directory"
    notifies = False

    def check(self, settings: Mapping[str, Any]) -> None:
        if not settings["directory"]:
            raise ConfigError("must name a directory", location=f"{WHERE}.directory")
        if settings["retention"] < 0:
            raise ConfigError("must be 0 (keep every run) or more", location=f"{WHERE}.retention")

    def destination(self, settings: Mapping[str, Any]) -> str:
        return str(Path(settings["directory"]).expanduser())

    def deliver(self, run: RunBundle, settings: Mapping[str, Any], context: DeliveryContext) -> str:
        root = Path(settings["directory"]).expanduser()
        target = root / run.stamp
        try:
            root.mkdir(parents=True, exist_ok=True)
            _replace_with_copy(run, root, target)
            _prune(root, settings["retention"])
        except OSError as exc:
            raise DeliveryError(f"{exc.strerror or exc}: {exc.filename or root}") from None
        return str(target)


def _replace_with_copy(run: RunBundle, root: Path, target: Path) -> None:
    # copy beside the target, then rename: a reader sees the old run or the new one, whole
    partial = root / f".{run.stamp}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    for artifact in run.files:
        shutil.copyfile(artifact.path, partial / artifact.name)
    old = root / f".{run.stamp}.old-{os.getpid()}"
    if target.exists():
        target.rename(old)
    partial.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _prune(root: Path, retention: int) -> None:
    """Remove the oldest runs beyond ``retention``; only folders that are runs of ours."""
    if retention == 0:
        return
    runs = sorted(p for p in root.iterdir()
                  if p.is_dir() and STAMP.match(p.name) and (p / MANIFEST).is_file())
    for stale in runs[:-retention]:
        shutil.rmtree(stale)
