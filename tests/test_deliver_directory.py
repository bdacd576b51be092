"""manifest.json and the local directory target: dated runs, checksums, retention."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from auditor.deliver import deliver_run
from auditor.deliver.bundle import bundle_run, read_findings
from auditor.deliver.directory import DirectoryDeliverer
from auditor.errors import ConfigError, InputError
from tests.test_deliver_support import run_directory

DELIVERERS = {"directory": DirectoryDeliverer}
# build_result()'s run finished at 2024-05-01T10:02:13Z
STAMP = "2024-05-01T100213Z"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return run_directory(tmp_path / "run")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_manifest_lists_every_file_with_its_sha256(run_dir: Path) -> None:
    bundle_run(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    files = sorted(p.name for p in run_dir.iterdir() if p.name != "manifest.json")
    assert {"findings.json", "report.html", "access.json", "inventory.json"} <= set(files)
    assert [a["name"] for a in manifest["artifacts"]] == files
    for artifact in manifest["artifacts"]:
        path = run_dir / artifact["name"]
        assert artifact["sha256"] == _sha256(path) and artifact["bytes"] == path.stat().st_size
    assert (manifest["stamp"], manifest["profile"], manifest["finished_at"]) == (
        STAMP, "prod", "2024-05-01T10:02:13Z")


def test_the_manifest_is_the_same_every_time(run_dir: Path) -> None:
    first = bundle_run(run_dir).manifest.sha256
    assert bundle_run(run_dir).manifest.sha256 == first  # no delivery time in it


def test_notifications_read_the_summary_and_worst_failing_findings(run_dir: Path) -> None:
    run, summary, worst = read_findings(run_dir / "findings.json")
    everything = json.loads((run_dir / "findings.json").read_text(encoding="utf-8"))
    assert run == everything["run"] and summary == everything["summary"]
    assert list(worst) == [f for f in everything["findings"] if f["status"] == "fail"]


def test_a_run_is_kept_in_a_dated_folder(run_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    [outcome] = deliver_run(run_dir, {"directory": str(archive)}, deliverers=DELIVERERS)
    assert outcome.ok and outcome.location == str(archive / STAMP)
    copied = archive / STAMP
    assert sorted(p.name for p in copied.iterdir()) == sorted(p.name for p in run_dir.iterdir())
    manifest = json.loads((copied / "manifest.json").read_text(encoding="utf-8"))
    for artifact in manifest["artifacts"]:
        assert _sha256(copied / artifact["name"]) == artifact["sha256"]
    assert [p.name for p in archive.iterdir()] == [STAMP]  # no partial copies left


def test_delivering_a_run_again_replaces_it(run_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    deliver_run(run_dir, {"directory": str(archive)}, deliverers=DELIVERERS)
    (archive / STAMP / "stale.txt").write_text("from an earlier delivery", encoding="utf-8")
    [outcome] = deliver_run(run_dir, {"directory": str(archive)}, deliverers=DELIVERERS)
    assert outcome.ok and not (archive / STAMP / "stale.txt").exists()
    assert [p.name for p in archive.iterdir()] == [STAMP]


def test_retention_keeps_the_newest_runs_and_nothing_else_is_touched(run_dir: Path,
                                                                    tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    older = ["2024-01-01T000000Z", "2024-02-01T000000Z", "2024-03-01T000000Z"]
    for stamp in older:
        (archive / stamp).mkdir(parents=True)
        (archive / stamp / "manifest.json").write_text("{}", encoding="utf-8")
    (archive / "notes").mkdir()  # not a run
    (archive / "2023-12-01T000000Z").mkdir()  # looks like one, but has no manifest
    [outcome] = deliver_run(run_dir, {"directory": str(archive), "retention": 2},
                            deliverers=DELIVERERS)
    assert outcome.ok
    assert sorted(p.name for p in archive.iterdir()) == [
        "2023-12-01T000000Z", "2024-03-01T000000Z", STAMP, "notes"]


def test_retention_zero_keeps_every_run(run_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    for stamp in ("2024-01-01T000000Z", "2024-02-01T000000Z"):
        (archive / stamp).mkdir(parents=True)
        (archive / stamp / "manifest.json").write_text("{}", encoding="utf-8")
    deliver_run(run_dir, {"directory": str(archive), "retention": 0}, deliverers=DELIVERERS)
    assert len(list(archive.iterdir())) == 3


def test_an_unwritable_directory_is_a_failed_outcome(run_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    [outcome] = deliver_run(run_dir, {"directory": str(blocker / "archive")}, deliverers=DELIVERERS)
    assert not outcome.ok and "a-file" in (outcome.error or "")


def test_a_negative_retention_is_a_config_error(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        deliver_run(run_dir, {"directory": str(tmp_path), "retention": -1}, deliverers=DELIVERERS)
    assert caught.value.location == "deliver.retention"


@pytest.mark.parametrize("make", [lambda p: p / "missing", lambda p: p])
def test_a_directory_without_a_run_is_an_input_error(tmp_path: Path, make: object) -> None:
    run_dir = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(InputError) as caught:
        deliver_run(run_dir, {"directory": str(tmp_path / "archive")}, deliverers=DELIVERERS)
    assert str(run_dir) in str(caught.value)
    assert not (tmp_path / "archive").exists()


def test_a_malformed_findings_json_is_an_input_error(run_dir: Path, tmp_path: Path) -> None:
    (run_dir / "findings.json").write_text('{"run": ', encoding="utf-8")
    with pytest.raises(InputError, match=r"findings\.json"):
        deliver_run(run_dir, {"directory": str(tmp_path / "archive")}, deliverers=DELIVERERS)


def test_no_target_delivers_nothing(run_dir: Path) -> None:
    assert deliver_run(run_dir, {}, deliverers=DELIVERERS) == []
    assert not (run_dir / "manifest.json").exists()
