"""The history store: every run of every profile, in one SQLite file.

Default place: ``$XDG_DATA_HOME/auditor/history.sqlite`` (``~/.local/share/auditor/...`` when
XDG_DATA_HOME is not set); ``--state PATH`` moves it. Each run is written in one transaction
in WAL mode, so a process killed half-way leaves the previous state readable and whole, and a
reader never sees half a run. The file records its schema version (``PRAGMA user_version``);
a file that is not an auditor store is an InputError naming it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from auditor.errors import InputError
from auditor.history.model import FindingRecord, StoredRun
from auditor.run import RunResult

SCHEMA_VERSION = 1
STORE_NAME = "history.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    profile TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    fail_on TEXT NOT NULL,
    complete INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_profile ON runs (profile, id);
CREATE TABLE IF NOT EXISTS findings (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    finding_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    title TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    account TEXT NOT NULL,
    PRIMARY KEY (run_id, finding_id)
);
"""
_RECORD_COLUMNS = ("finding_id", "rule_id", "title", "severity", "status", "message",
                   "resource_id", "resource_name", "resource_type", "account")


def default_state_path() -> Path:
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "auditor" / STORE_NAME


class HistoryStore:
    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else default_state_path()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
                db.execute("PRAGMA foreign_keys = ON")
                self._prepare(db)
                yield db
        except sqlite3.DatabaseError as exc:
            raise InputError(f"not a usable auditor history store: {exc}",
                             source=str(self.path)) from None

    def _prepare(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise InputError(f"written by a newer auditor (store version {version}, this one "
                             f"reads {SCHEMA_VERSION})", source=str(self.path))
        if version == SCHEMA_VERSION:
            return
        db.execute("PRAGMA journal_mode = WAL")  # persistent: readers never block the writer
        with _transaction(db):
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def record(self, result: RunResult) -> int:
        """Store the run and its findings in one transaction; returns the run's id."""
        meta = result.metadata
        with self._connection() as db, _transaction(db):
            cursor = db.execute(
                "INSERT INTO runs (profile, started_at, finished_at, tool_version, fail_on, complete)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (meta.profile, meta.started_at, meta.finished_at, meta.tool_version, meta.fail_on,
                 int(not result.incomplete)))
            run_id = int(cursor.lastrowid or 0)
            db.executemany(
                f"INSERT OR REPLACE INTO findings (run_id, {', '.join(_RECORD_COLUMNS)}) "
                f"VALUES (?, {', '.join('?' for _ in _RECORD_COLUMNS)})",
                [(run_id, *_row(FindingRecord.of(f))) for f in result.findings])
            return run_id

    def runs(self, profile: str | None) -> list[StoredRun]:
        """The runs of ``profile`` (None: runs without a profile), newest first, no findings."""
        with self._connection() as db:
            rows = db.execute(
                "SELECT id, profile, started_at, finished_at, tool_version FROM runs "
                "WHERE profile IS ? ORDER BY id DESC", (profile,)).fetchall()
        return [StoredRun(*row) for row in rows]

    def previous(self, profile: str | None, before: int | None = None) -> StoredRun | None:
        """The latest run of ``profile`` (before the run id ``before``), with its findings."""
        with self._connection() as db:
            row = db.execute(
                "SELECT id, profile, started_at, finished_at, tool_version FROM runs "
                "WHERE profile IS ? AND id < ? ORDER BY id DESC LIMIT 1",
                (profile, before if before is not None else 2**62)).fetchone()
            if row is None:
                return None
            findings = db.execute(
                f"SELECT {', '.join(_RECORD_COLUMNS)} FROM findings WHERE run_id = ? "
                f"ORDER BY finding_id", (row[0],)).fetchall()
        return StoredRun(*row, findings=tuple(FindingRecord(*f) for f in findings))


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error (the connection is in autocommit
    mode, so nothing is written outside these)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _row(record: FindingRecord) -> tuple[str, ...]:
    return (record.id, record.rule_id, record.title, record.severity, record.status,
            record.message, record.resource_id, record.resource_name, record.resource_type,
            record.account)

