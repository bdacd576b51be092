"""``audit activity``: read the logs, then say who used the keys, who read the ML assets
compared with who may, and what looks like exfiltration."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from auditor.access.model import AccessMap
from auditor.activity.assets import Assets
from auditor.activity.detections import evaluate
from auditor.activity.detections.base import DetectionContext, Window
from auditor.activity.granted import UsageReport, used_versus_granted
from auditor.activity.ingest import IngestResult, ingest, resolve_principals
from auditor.activity.model import IngestIssue
from auditor.activity.settings import ActivitySettings, LogSources
from auditor.activity.store import EventStore
from auditor.activity.usage import KeyUsage, kms_key_use
from auditor.classify.model import Classification
from auditor.classify.settings import ClassificationSettings
from auditor.findings import Finding
from auditor.inventory import Inventory
from auditor.run import RuleOutcome


@dataclass(slots=True)
class Analysis:
    events_in_window: int
    findings: list[Finding]
    outcomes: list[RuleOutcome]
    key_usage: KeyUsage
    usage: UsageReport


@dataclass(slots=True)
class ActivityResult:
    window: Window
    ingest: IngestResult
    analysis: Analysis

    @property
    def events(self) -> int:
        return self.ingest.events

    @property
    def errors(self) -> list[IngestIssue]:
        return self.ingest.issues

    @property
    def findings(self) -> list[Finding]:
        return self.analysis.findings

    def to_dict(self) -> dict[str, Any]:
        """Everything but the findings (which go to findings.json with the others)."""
        return {"window": self.window.to_dict(), "files": self.ingest.files,
                "events": self.ingest.events, "events_in_window": self.analysis.events_in_window,
                "errors": [issue.to_dict() for issue in self.ingest.issues],
                "detections": [o.to_dict() for o in self.analysis.outcomes],
                "key_usage": self.analysis.key_usage.to_dict(),
                "used_versus_granted": self.analysis.usage.to_dict()}


def run_activity(sources: LogSources, settings: ActivitySettings, inventory: Inventory,
                 classifications: Mapping[str, Classification], access: AccessMap,
                 since: timedelta | None, now: datetime, *, work_dir: Path | None = None,
                 classification_settings: ClassificationSettings | None = None) -> ActivityResult:
    """Read ``sources`` and analyse the window ``[now - since, now]`` (``since`` None: the
    settings' window). Log problems are returned in ``errors``, never raised.

    ``work_dir`` (the output directory) holds the DuckDB file when ``sources.database`` names
    one, and the staging folder for s3:// copies and decompressed files while reading.
    """
    window = Window(now - (since or settings.window), now)
    database = None
    if sources.database:
        database = Path(sources.database)
        if not database.is_absolute() and work_dir is not None:
            database = work_dir / database
    with tempfile.TemporaryDirectory(prefix="activity-", dir=staging_parent(work_dir)) as staging, \
            EventStore(database) as store:
        result = ingest(sources, store, Path(staging))
        analysis = analyse(store, inventory, classifications, access, settings, window, now,
                           classification_settings)
    return ActivityResult(window, result, analysis)


# a RAM-backed folder, when there is one: staged files are written once and read once
SHARED_MEMORY = Path("/dev/shm")
# the most the staging folder holds at once: two batches of decompressed logs
STAGING_BYTES = 512 << 20


def staging_parent(work_dir: Path | None) -> Path | None:
    """Where the staging folder goes: shared memory if it has room, else ``work_dir``."""
    try:
        usage = shutil.disk_usage(SHARED_MEMORY)
    except OSError:
        return work_dir
    writable = os.access(SHARED_MEMORY, os.W_OK)
    return SHARED_MEMORY if writable and usage.free > 4 * STAGING_BYTES else work_dir


def analyse(store: EventStore, inventory: Inventory, classifications: Mapping[str, Classification],
            access: AccessMap | None, settings: ActivitySettings, window: Window, now: datetime,
            classification_settings: ClassificationSettings | None = None) -> Analysis:
    """Everything after reading: the detections, key usage and used versus granted."""
    resolve_principals(store, inventory)
    assets = Assets(inventory, classifications, classification_settings)
    context = DetectionContext(store, inventory, assets, settings, window, access, now)
    findings, outcomes = evaluate(context)
    key_usage = KeyUsage(context.access_keys(), kms_key_use(store), context.key_statuses())
    usage = used_versus_granted(store, access or AccessMap(), assets, window)
    return Analysis(store.count("time >= ? AND time <= ?", [window.start, window.end]),
                    findings, outcomes, key_usage, usage)
