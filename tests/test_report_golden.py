"""report.html compared whole against tests/golden/report.html.

The run is built here, deterministically (no emulator), with every section the page can have:
hostile text, an incomplete scan, a role chain, compliance and changes since the last run.
Time is frozen with SOURCE_DATE_EPOCH. After an intended change to the report, update the
golden file with:

    AUDITOR_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_report_golden.py

``full_result`` is also the page the browser tests open.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import replace
from pathlib import Path

import pytest

from auditor import clock
from auditor.access.model import AccessGrant, AssetAccess, PathStep
from auditor.classify.model import MODEL_WEIGHTS, Classification
from auditor.compliance.model import RequirementResult
from auditor.findings import Finding, SourceLocation
from auditor.inventory import Resource
from auditor.report.assets import resource_ref
from auditor.report.html import HtmlRenderer
from auditor.run import RunResult
from tests.test_report_json import ACCOUNT, ALICE, PAYLOADS, TRAIN_BUCKET, _bucket, build_result

GOLDEN = Path(__file__).parent / "golden" / "report.html"
FROZEN_EPOCH = "1798761600"  # 2027-01-01T00:00:00Z

VENDOR_ROOT = "arn:aws:iam::444455556666:root"
VENDOR_ROLE = f"arn:aws:iam::{ACCOUNT}:role/vendor-labeling"
RELEASE_BUCKET = "arn:aws:s3:::acme-release-weights"
GCP_PROJECT = "acme-ml-prod"
GCP_BUCKET = "//storage.googleapis.com/projects/_/buckets/acme-eval-sets"


def _vendor_chain() -> AccessGrant:
    """Another account assumes a role of ours that reads the weights."""
    return AccessGrant(
        principal=VENDOR_ROOT, kind="external-account", human=None, access="read",
        action="s3:GetObject", decision="allow",
        path=(PathStep(VENDOR_ROOT, "sts:AssumeRole", f"{VENDOR_ROLE}#trust-policy", "Vendor"),
              PathStep(VENDOR_ROLE, "s3:GetObject", f"{VENDOR_ROLE}#inline:read", "Read"),
              PathStep(VENDOR_ROLE, "s3:GetObject", f"{RELEASE_BUCKET}#bucket-policy", "Roles")))


def full_result() -> RunResult:
    base = build_result()
    release = _bucket(RELEASE_BUCKET, tags={"ml-asset": "model-weights"})
    base.inventory.add([release])
    base.inventory.sort()
    weights = Classification(MODEL_WEIGHTS, ("tag ml-asset=model-weights",))
    base.classifications[RELEASE_BUCKET] = weights
    base.access.assets[RELEASE_BUCKET] = AssetAccess(RELEASE_BUCKET, [_vendor_chain()])
    vendor_finding = Finding(
        "ml.external-read", "Training data readable by another account", "high", "fail",
        resource_ref(release), "444455556666 can read acme-release-weights through role "
        "vendor-labeling", weights, evidence={"principal": VENDOR_ROOT, "via": VENDOR_ROLE},
        remediation={"text": "Remove the vendor's trust or narrow the role's read access."},
        discriminator=VENDOR_ROOT)
    eval_sets = Resource(id=GCP_BUCKET, type="gcp.storage.bucket", provider="gcp",
                         account=GCP_PROJECT, name="acme-eval-sets", region="europe-west4",
                         tags={"ml-asset": "training-data"})
    base.inventory.add([eval_sets])
    base.inventory.sort()
    gcp_finding = Finding(
        "gcp.storage.bucket-public", "Bucket readable by anyone", "critical", "fail",
        resource_ref(eval_sets), "allUsers can read acme-eval-sets", None,
        evidence={"member": "allUsers", "role": "roles/storage.objectViewer"},
        location=SourceLocation("infra/storage.tf", 12, 20))
    findings = sorted([*base.findings, vendor_finding, gcp_finding], key=Finding.sort_key)
    now = clock.isoformat(clock.now())
    metadata = replace(base.metadata, started_at=now, finished_at=now)
    previous_only = {"id": "0123456789abcdef0123", "rule_id": "aws.s3.bucket-public-read",
                     "title": "Bucket readable by anyone", "severity": "critical",
                     "resource": {"id": f"arn:aws:s3:::{PAYLOADS[1]}", "name": PAYLOADS[1]}}
    return RunResult(
        metadata=metadata, inventory=base.inventory, classifications=base.classifications,
        access=base.access, findings=findings, rules=base.rules,
        compliance=[
            RequirementResult("ML-SEC 1.0", "1.1", "Training data is not public", "failed",
                              ("aws.s3.bucket-public-read",), ("aws.s3.bucket-public-read",)),
            RequirementResult("ML-SEC 1.0", "1.2", PAYLOADS[0], "passed",
                              ("aws.iam.user-without-mfa",)),
            RequirementResult("ML-SEC 1.0", "2.1", "Data events are logged", "not-covered", ()),
            RequirementResult("CIS AWS 3.0", "2.1.4", "S3 Block Public Access is on", "failed",
                              ("aws.s3.bucket-public-read", "aws.cloudtrail.data-events")),
        ],
        diff={"new": [vendor_finding.id, gcp_finding.id],
              "unchanged": [f.id for f in base.findings],
              "resolved": [previous_only, "fedcba9876543210fedc"]},
    )


@pytest.fixture
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", FROZEN_EPOCH)


def test_report_html_matches_the_golden_file(frozen_time: None) -> None:
    rendered = HtmlRenderer().render(full_result())
    if os.environ.get("AUDITOR_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(rendered, encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8")
    if rendered != expected:
        diff = "".join(list(difflib.unified_diff(expected.splitlines(True), rendered.splitlines(True),
                                                 "golden", "rendered"))[:80])
        pytest.fail("report.html differs from tests/golden/report.html (if intended: "
                    "AUDITOR_UPDATE_GOLDEN=1 .venv/bin/python -m pytest "
                    f"tests/test_report_golden.py):\n{diff}")


def test_the_golden_run_uses_the_frozen_clock(frozen_time: None) -> None:
    assert full_result().metadata.started_at == "2027-01-01T00:00:00Z"
    assert "2027-01-01T00:00:00Z" in GOLDEN.read_text(encoding="utf-8")


def test_the_golden_page_has_every_section(frozen_time: None) -> None:
    text = GOLDEN.read_text(encoding="utf-8")
    for section in ("summary", "changes", "assets", "findings", "compliance", "coverage", "rules"):
        assert f'<section id="{section}">' in text
    assert TRAIN_BUCKET in text and ALICE in text
