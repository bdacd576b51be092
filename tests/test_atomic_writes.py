"""No half-writes: a process killed (SIGKILL: no handler, no finally) in the middle of writing
a report or recording a run leaves the previous state readable and whole.

* reports: a child process rewrites a large report again and again with
  ``auditor.io.write_atomic`` and is killed at a random moment; the report must then be one
  whole version (its checksum matches its body), never a mix or a truncation;
* the history store: a child process records runs of thousands of findings into one SQLite
  store and is killed at a random moment; every run in the store must have all of its
  findings, the store must pass SQLite's integrity check, and the next run must record.

Kill times come from a fixed seed, so each run of the test tries the same moments. Whether a
moment falls inside a write depends on the machine's speed, so each test kills again (at most
``MAX_KILLS`` times) until it has seen a kill interrupt a write: a test that never interrupted
one would prove nothing.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from auditor.history.store import HistoryStore
from auditor.io import write_atomic

SEED = 20261126
KILLS = 4
MAX_KILLS = 20
REPORT_BYTES = 8 << 20
FINDINGS_PER_RUN = 2000
PROFILE = "killed"
STARTUP_TIMEOUT_SECONDS = 60

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX SIGKILL")

# the child's side: rewrite the report forever, saying which version is about to be written
REPORT_WRITER = textwrap.dedent("""
    import hashlib, json, sys
    from pathlib import Path
    from auditor.io import write_atomic

    target, size, writer = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    number = 0
    while True:
        number += 1
        version = f"{writer}.{number}"
        body = (f"version {version} " * (size // 12))[:size]
        document = json.dumps({"version": version, "sha256": hashlib.sha256(body.encode()).hexdigest(),
                               "body": body})
        print(version, flush=True)
        write_atomic(target, document)
""")

# the child's side: record runs forever, saying which run is about to be recorded
HISTORY_WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from auditor.access.model import AccessMap
    from auditor.findings import Finding, ResourceRef
    from auditor.inventory import Inventory
    from auditor.history.store import HistoryStore
    from auditor.run import RunMetadata, RunResult

    store, per_run, profile = HistoryStore(Path(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
    number = 0
    while True:
        number += 1
        findings = [Finding(rule_id="aws.s3.rule", title="t", severity="high", status="fail",
                            resource=ResourceRef(id=f"arn:aws:s3:::b{number}-{i}", type="aws.s3.bucket",
                                                 name=f"b{i}", provider="aws", account="123456789012"),
                            message="m" * 200)
                    for i in range(per_run)]
        result = RunResult(metadata=RunMetadata(tool_version="t", profile=profile,
                                                started_at=f"run {number}", finished_at="f"),
                           inventory=Inventory(), classifications={}, access=AccessMap(),
                           findings=findings)
        print(number, flush=True)
        store.record(result)
""")


def kill_while_running(script: str, args: list[str], delay: float) -> list[str]:
    """Start ``script``, wait for its first line, SIGKILL it ``delay`` seconds later; returns
    what it printed (each line: the version it was about to write)."""
    child = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        started = time.monotonic()
        first = child.stdout.readline() if child.stdout else ""
        assert first, f"the writer did not start: {child.stderr.read() if child.stderr else ''}"
        assert time.monotonic() - started < STARTUP_TIMEOUT_SECONDS
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    return [first.strip(), *rest.split()]


def test_a_report_killed_mid_write_is_the_old_or_the_new_version_whole(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    body = "first " * 100
    write_atomic(target, json.dumps({"version": "first", "body": body,
                                     "sha256": hashlib.sha256(body.encode()).hexdigest()}))
    chance = random.Random(SEED)
    announced, seen_versions = {"first"}, set()

    def interrupted() -> bool:  # a killed write leaves its hidden temporary file behind
        return any(p.name.startswith(".report.json.") for p in tmp_path.iterdir())

    writer = 0
    while writer < KILLS or not (interrupted() and len(seen_versions) >= 2):
        assert writer < MAX_KILLS, "no kill interrupted a rewrite: the test proved nothing"
        announced.update(kill_while_running(REPORT_WRITER, [str(target), str(REPORT_BYTES),
                                                            str(writer)], chance.uniform(0.0, 0.6)))
        writer += 1
        document = json.loads(target.read_text(encoding="utf-8"))
        assert hashlib.sha256(document["body"].encode()).hexdigest() == document["sha256"]
        assert document["version"] in announced  # a version some writer set out to write
        seen_versions.add(document["version"])
    # leftovers of killed writes are hidden temporary files, never the report's own name
    assert {p.name for p in tmp_path.iterdir() if not p.name.startswith(".")} == {"report.json"}


def test_a_history_store_killed_mid_record_keeps_whole_runs(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    chance = random.Random(SEED)
    store = HistoryStore(path)
    started = kills = 0
    # each writer announces a run before recording it: fewer runs stored than announced means
    # a kill interrupted one
    while kills < KILLS or not (0 < len(store.runs(PROFILE)) < started):
        assert kills < MAX_KILLS, "no kill interrupted a recording: the test proved nothing"
        started += len(kill_while_running(HISTORY_WRITER, [str(path), str(FINDINGS_PER_RUN), PROFILE],
                                          chance.uniform(0.0, 1.0)))
        kills += 1
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            counts = db.execute("SELECT r.id, count(f.finding_id) FROM runs r LEFT JOIN findings f"
                                " ON f.run_id = r.id GROUP BY r.id").fetchall()
        assert all(count == FINDINGS_PER_RUN for _, count in counts), counts
    latest = store.previous(PROFILE)
    assert latest is not None and len(latest.findings) == FINDINGS_PER_RUN
    # and the store still takes the next run
    kill_while_running(HISTORY_WRITER, [str(path), "1", "after"], 1.0)
    assert store.runs("after")
