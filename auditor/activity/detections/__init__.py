"""The ``activity`` detection pack: rules over log events, with the matching events as evidence.

``run_detections`` is the entry point; ``DETECTIONS`` lists every detection with its
metadata (id, title, severity, rationale, remediation, references), like a rule pack.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from auditor import clock
from auditor.access.model import AccessMap
from auditor.activity.assets import Assets
from auditor.activity.detections import changes, keys, reads
from auditor.activity.detections.base import Detection, DetectionContext, Runner, Window, outcome
from auditor.activity.settings import ActivitySettings
from auditor.activity.store import EventStore
from auditor.classify.model import Classification
from auditor.classify.settings import ClassificationSettings
from auditor.findings import Finding
from auditor.inventory import Inventory
from auditor.run import RuleOutcome

DETECTIONS: tuple[tuple[Detection, Runner], ...] = (
    *reads.DETECTIONS, *keys.DETECTIONS, *changes.DETECTIONS)


def evaluate(context: DetectionContext) -> tuple[list[Finding], list[RuleOutcome]]:
    findings: list[Finding] = []
    outcomes: list[RuleOutcome] = []
    for detection, run in sorted(DETECTIONS, key=lambda pair: pair[0].id):
        result = run(context)
        findings.extend(result.findings)
        outcomes.append(outcome(detection, result))
    findings.sort(key=Finding.sort_key)
    return findings, outcomes


def run_detections(store: EventStore, inventory: Inventory,
                   classifications: Mapping[str, Classification], settings: ActivitySettings, *,
                   access: AccessMap | None = None, window: Window | None = None,
                   now: datetime | None = None,
                   classification_settings: ClassificationSettings | None = None) -> list[Finding]:
    """Findings of every detection over the events of ``window`` (default: the settings'
    window ending now). Without ``access``, the key detections cannot tell what a key reaches
    and report nothing."""
    now = now or clock.now()
    window = window or Window(now - settings.window, now)
    context = DetectionContext(store, inventory, Assets(inventory, classifications,
                                                        classification_settings),
                               settings, window, access, now)
    return evaluate(context)[0]
