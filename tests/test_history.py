"""The history store (SQLite, one transaction per run), baselines and diffs.

``finding`` and ``run_result`` build small runs; the suppression, compliance and report tests
use them too.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from auditor.access.model import AccessMap
from auditor.errors import InputError
from auditor.findings import Finding, ResourceRef
from auditor.history.baseline import load_baseline
from auditor.history.diff import diff, format_diff
from auditor.history.model import FindingRecord
from auditor.history.store import SCHEMA_VERSION, HistoryStore, default_state_path
from auditor.inventory import Inventory
from auditor.report.json_report import JsonRenderer
from auditor.run import RunMetadata, RunResult

REPO = Path(__file__).resolve().parents[1]


def finding(bucket: str, rule_id: str = "aws.s3.sensitive-public-read", severity: str = "critical",
            status: str = "fail", account: str = "111122223333") -> Finding:
    return Finding(rule_id=rule_id, title=f"title of {rule_id}", severity=severity,
                   status=status,  # type: ignore[arg-type]
                   resource=ResourceRef(id=f"arn:aws:s3:::{bucket}", type="aws.s3.bucket",
                                        name=bucket, provider="aws", account=account,
                                        region="us-east-1"),
                   message=f"{bucket} is {rule_id}")


@dataclass(slots=True)
class TriagedRunResult(RunResult):
    """RunResult with the two fields proposed to the lead (compliance and diff)."""

    compliance: list[Any] = field(default_factory=list)
    diff: dict[str, Any] | None = None


def run_result(findings: list[Finding], profile: str | None = "prod",
               started_at: str = "2026-11-26T03:17:00Z") -> TriagedRunResult:
    return TriagedRunResult(metadata=RunMetadata(tool_version="0.1.0", profile=profile,
                                                 started_at=started_at, finished_at=started_at),
                            inventory=Inventory(), classifications={}, access=AccessMap(),
                            findings=findings)


# ---------------------------------------------------------------- the store

def test_runs_are_kept_per_profile_and_the_previous_one_comes_back_whole(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "state" / "history.sqlite")
    assert store.previous("prod") is None
    first = store.record(run_result([finding("a"), finding("b", severity="low")]))
    store.record(run_result([finding("z")], profile="staging"))
    second = store.record(run_result([finding("a")], started_at="2026-11-27T03:17:00Z"))
    latest = store.previous("prod")
    assert latest is not None and latest.id == second
    assert latest.started_at == "2026-11-27T03:17:00Z"
    assert [f.resource_name for f in latest.findings] == ["a"]
    before = store.previous("prod", before=second)
    assert before is not None and before.id == first
    assert sorted(f.resource_name for f in before.findings) == ["a", "b"]
    assert [r.id for r in store.runs("prod")] == [second, first]
    assert [r.profile for r in store.runs("staging")] == ["staging"]


def test_records_keep_what_a_diff_and_a_report_need(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "history.sqlite")
    original = finding("a", status="suppressed")
    store.record(run_result([original]))
    latest = store.previous("prod")
    assert latest is not None
    assert latest.findings == (FindingRecord.of(original),)
    assert latest.findings[0].to_dict()["resource"]["name"] == "a"


def test_runs_without_a_profile_are_kept_apart(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "history.sqlite")
    store.record(run_result([finding("a")], profile=None))
    assert store.previous("prod") is None
    offline = store.previous(None)
    assert offline is not None and offline.profile is None


def test_the_store_uses_wal_and_records_its_version(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "history.sqlite")
    store.record(run_result([]))
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_default_place_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_state_path() == tmp_path / "data" / "auditor" / "history.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_path() == tmp_path / "home" / ".local" / "share" / "auditor" / "history.sqlite"


KILLED_WRITER = """
import os, signal, sys
sys.path.insert(0, {repo!r})
import auditor.history.store as store
from tests.test_history import finding, run_result

def die(record):  # called inside the transaction, after the run's row is inserted
    os.kill(os.getpid(), signal.SIGKILL)

store._row = die
store.HistoryStore({path!r}).record(run_result([finding("half-written")]))
"""


def test_a_writer_killed_mid_run_leaves_the_previous_state_whole(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    store = HistoryStore(path)
    kept = store.record(run_result([finding("kept")]))
    process = subprocess.run([sys.executable, "-c", KILLED_WRITER.format(repo=str(REPO),
                                                                         path=str(path))],
                             cwd=REPO, capture_output=True, check=False)
    assert process.returncode == -9, process.stderr.decode()
    latest = store.previous("prod")
    assert latest is not None and latest.id == kept
    assert [f.resource_name for f in latest.findings] == ["kept"]
    assert [r.id for r in store.runs("prod")] == [kept]
    store.record(run_result([finding("after")]))  # and the store is still writable
    assert [f.resource_name for f in store.previous("prod").findings] == ["after"]  # type: ignore[union-attr]


def test_a_file_that_is_not_a_store_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    path.write_bytes(b"this is not a database, just text that is long enough to be read" * 20)
    with pytest.raises(InputError) as caught:
        HistoryStore(path).previous("prod")
    assert caught.value.source == str(path)


def test_a_store_from_a_newer_auditor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(InputError, match="newer auditor"):
        HistoryStore(path).record(run_result([]))


# ---------------------------------------------------------------- diff

def test_diff_sorts_findings_into_new_resolved_and_unchanged() -> None:
    before = [FindingRecord.of(f) for f in (finding("kept"), finding("gone", severity="low"))]
    now = [finding("kept", status="suppressed"), finding("fresh", severity="high"),
           finding("fresh-low", severity="low")]
    changes = diff(now, before)
    assert [f.resource.name for f in changes.new] == ["fresh", "fresh-low"]  # type: ignore[union-attr]
    assert [f.resource_name for f in changes.resolved] == ["gone"]
    assert [(f.resource.name, f.status) for f in changes.unchanged] == [  # type: ignore[union-attr]
        ("kept", "suppressed")]
    assert [f.resource.name for f in changes.new_failures("high")] == ["fresh"]  # type: ignore[union-attr]
    assert changes.new_failures("critical") == []
    assert len(changes.new_failures("low")) == 2


def test_new_failures_ignore_errors_and_suppressed_findings() -> None:
    changes = diff([finding("e", status="error"), finding("s", status="suppressed")], [])
    assert len(changes.new) == 2 and changes.new_failures("info") == []


def test_the_diff_has_the_shape_the_report_reads() -> None:
    from auditor.report.extras import run_changes

    gone = FindingRecord.of(finding("gone"))
    current = [finding("kept"), finding("fresh")]
    changes = diff(current, [FindingRecord.of(current[0]), gone])
    document = changes.to_dict()
    assert document == {"new": [current[1].id], "unchanged": [current[0].id],
                        "resolved": [gone.to_dict()]}
    result = run_result(current)
    result.diff = document
    view = run_changes(result)
    assert view is not None and view.change_of(current[1].id) == "new"
    assert [r.resource_name for r in view.resolved] == ["gone"]


def test_format_diff() -> None:
    text = format_diff(diff([finding("fresh")], [FindingRecord.of(finding("gone"))]))
    assert text.splitlines()[0] == "new: 1, resolved: 1, unchanged: 0"
    assert "aws.s3.sensitive-public-read  fresh" in text and "aws.s3.sensitive-public-read  gone" in text


# ---------------------------------------------------------------- baselines

def test_a_findings_json_is_a_baseline(tmp_path: Path) -> None:
    findings = [finding("a"), finding("b", severity="medium", status="error")]
    path = tmp_path / "findings.json"
    path.write_text(JsonRenderer().render(run_result(findings)), encoding="utf-8")
    assert load_baseline(path) == [FindingRecord.of(f) for f in findings]


@pytest.mark.parametrize(("content", "location", "words"), [
    ("{not json", "line 1 column 2", "not valid JSON"),
    ('{"runs": []}', "$.findings", "not a findings.json"),
    ('{"findings": [42]}', "$.findings[0]", "must be an object"),
])
def test_a_malformed_baseline_names_the_place(tmp_path: Path, content: str, location: str,
                                              words: str) -> None:
    path = tmp_path / "findings.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_baseline(path)
    assert (caught.value.source, caught.value.location) == (str(path), location)
    assert words in caught.value.message


@pytest.mark.parametrize(("field", "value", "location"), [
    ("severity", "urgent", "$.findings[1].severity"),
    ("status", "open", "$.findings[1].status"),
    ("id", "not-an-id", "$.findings[1].id"),
])
def test_a_bad_finding_in_a_baseline_names_its_json_path(tmp_path: Path, field: str, value: str,
                                                         location: str) -> None:
    document = json.loads(JsonRenderer().render(run_result([finding("a"), finding("b")])))
    document["findings"][1][field] = value
    path = tmp_path / "findings.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_baseline(path)
    assert caught.value.location == location


def test_a_missing_baseline_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the baseline"):
        load_baseline(tmp_path / os.sep.join(["no", "findings.json"]))
