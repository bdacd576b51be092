"""findings.json of the dev scenario, compared whole against tests/golden/.

The emulator invents key ids, unique ids and creation times on every seed; they are replaced
by stable stand-ins in the inventory before evaluation, and time is frozen, so that every other
byte is compared. After an intended change, update the golden file with:

    AUDITOR_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden_findings.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from auditor import pipeline
from auditor.config import Profile
from auditor.inventory import Inventory
from auditor.inventory.io import parse, to_json
from auditor.report.json_report import JsonRenderer

GOLDEN = Path(__file__).parent / "golden" / "aws-ml-org.findings.json"
FROZEN_EPOCH = "1798675200"  # 2027-01-01T00:00:00Z
pytestmark = pytest.mark.emulator

UNIQUE_ID = re.compile(r"\b(AKIA|ASIA|AIDA|AROA|ANPA|AGPA|ANVA)[A-Z0-9]{12,}\b")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")


def stable_inventory_text(inventory: Inventory) -> str:
    """Replace what the emulator invents with stand-ins named after what they belong to."""
    text = to_json(inventory)
    for key in inventory.of_type("aws.kms.key"):
        aliases = key.attributes.get("aliases") or []
        assert aliases, f"an emulated key without an alias cannot be named stably: {key.id}"
        text = text.replace(key.attributes["key_id"], "key-" + aliases[0].removeprefix("alias/"))
    text = UNIQUE_ID.sub(lambda m: f"{m.group(1)}EMULATED", text)
    return TIMESTAMP.sub("2026-06-01T00:00:00Z", text)


def test_findings_json_matches_the_golden_file(seeded_aws_org: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    profile = Profile(name="golden", source="tests",
                      providers={"aws": {"endpoint_url": seeded_aws_org.endpoint_url,
                                         "regions": [seeded_aws_org.scenario["region"]]}})
    inventory = parse(stable_inventory_text(pipeline.scan(profile)), "stable inventory")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", FROZEN_EPOCH)
    result = pipeline.evaluate(inventory, pipeline.EvaluationOptions(profile="golden"))
    rendered = JsonRenderer().render(result)
    if os.environ.get("AUDITOR_UPDATE_GOLDEN"):
        GOLDEN.write_text(rendered, encoding="utf-8")
    assert rendered == GOLDEN.read_text(encoding="utf-8")
