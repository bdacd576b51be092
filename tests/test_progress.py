"""Scan progress on stderr: a live bar on a terminal, a quiet line now and then in CI, JSON lines
for machines; fed by the real runner, with units (accounts) that each run nested tasks."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pytest

from auditor.inventory import CollectionError, Scope
from auditor.progress import JsonLog, ScanProgress, reporter_for
from auditor.scanners.runner import Record, Task, TaskContext, report_progress, run_tasks

ACCOUNTS = ("111111111111", "222222222222", "333333333333")
REGIONS = ("us-east-1", "eu-west-1")


def crash(task: Task, exc: Exception) -> CollectionError:
    raise exc


def unit(account: str) -> Task:
    """An account whose scan is a nested run of one task per region, as an executor runs it."""

    def services(region: str) -> Task:
        return Task(f"list keys {region}", lambda _: iter(()), service="kms", region=region,
                    account=account)

    def run(_: TaskContext) -> Iterator[Record]:
        yield Scope("aws", account)
        yield from run_tasks([services(region) for region in REGIONS], max_workers=2,
                             classify_error=crash)

    return Task(f"scan aws:{account}", run, service="scan", account=account)


def scan_with(reporter: ScanProgress | JsonLog) -> list[Record]:
    with report_progress(reporter):
        records = list(run_tasks([unit(account) for account in ACCOUNTS], max_workers=2,
                                 classify_error=crash))
    reporter.close()
    return records


def test_a_terminal_shows_one_live_line_with_a_bar_over_the_accounts(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    stream = io.StringIO()
    scan_with(ScanProgress(stream, interactive=True))
    text = stream.getvalue()
    assert "\n" not in text  # one line, rewritten in place, then cleared
    frames = [frame.rstrip() for frame in text.split("\r") if frame.strip()]
    total = len(ACCOUNTS) * (1 + len(REGIONS))
    assert frames[-1].startswith(f"[{'#' * 10}] 3/3 accounts/projects, {total}/{total} tasks")
    assert any(frame.startswith(f"[{'#' * 3}{'-' * 7}] 1/3 accounts/projects") for frame in frames)
    kms = [frame for frame in frames if " kms | " in frame]
    assert {region for frame in kms for region in REGIONS if f" {region} kms" in frame} == set(
        REGIONS)
    assert any(f"| {ACCOUNTS[0]} us-east-1 kms |" in frame for frame in frames)
    assert text.endswith("\r")  # the live line is cleared at the end


def test_a_narrow_terminal_cuts_the_label_not_the_counts(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    stream = io.StringIO()
    scan_with(ScanProgress(stream, interactive=True))
    frames = [frame.rstrip() for frame in stream.getvalue().split("\r") if frame.strip()]
    assert max(len(frame) for frame in frames) <= 59
    assert frames[-1].startswith("[##########] 3/3 accounts/projects, 9/9 tasks")


def test_ci_gets_a_line_now_and_then_and_the_final_counts() -> None:
    stream = io.StringIO()
    scan_with(ScanProgress(stream, interactive=False, interval=3600))
    lines = stream.getvalue().splitlines()
    # the first event (an account starting: nothing nested yet), then nothing for an hour,
    # then the end
    assert len(lines) == 2
    assert re.fullmatch(r"\[-{10}\] 0/3 tasks \| (\d{12}) scan \| scan aws:\1", lines[0])
    assert " 3/3 accounts/projects, 9/9 tasks" in lines[1]


def test_a_message_clears_the_live_line_first() -> None:
    stream = io.StringIO()
    progress = ScanProgress(stream, interactive=True)
    scan_with(progress)
    progress.message("scanning gcp: 4 of 4 units")
    progress.message("2 collection errors", level="warning")
    assert stream.getvalue().endswith("\rscanning gcp: 4 of 4 units\nwarning: 2 collection errors\n")


def test_json_lines_name_every_unit_and_end_with_the_counts() -> None:
    stream = io.StringIO()
    log = JsonLog(stream, interval=3600)
    log.message("planning aws", level="info", accounts=3)
    scan_with(log)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0] | {"time": None} == {"time": None, "event": "message", "level": "info",
                                         "message": "planning aws", "accounts": 3}
    assert all(line["time"].endswith("Z") for line in lines)
    started = [line["account"] for line in lines if line["event"] == "unit_started"]
    finished = [line["account"] for line in lines if line["event"] == "unit_finished"]
    assert sorted(started) == sorted(finished) == sorted(ACCOUNTS)
    progress = [line for line in lines if line["event"] == "progress"]
    assert len(progress) == 2  # the first event and the end, not one per task
    assert progress[-1]["units"] == {"submitted": 3, "finished": 3}
    assert progress[-1]["tasks"] == {"submitted": 9, "started": 9, "finished": 9}


def test_reporter_for_knows_the_log_formats() -> None:
    assert isinstance(reporter_for("json", io.StringIO()), JsonLog)
    assert isinstance(reporter_for("text", io.StringIO()), ScanProgress)
    with pytest.raises(ValueError, match="unknown log format"):
        reporter_for("xml")
