"""Line-oriented logs (JSON lines, S3 server access logs): read by DuckDB, one row per line.

Files are loaded into the ``pending`` table with their line numbers by DuckDB's read_text
(gzip files are decompressed into the staging folder first). A file DuckDB cannot read (not
UTF-8, say) is read line by line in Python instead, and only its bad lines are reported.
Then each format turns the pending lines into events in SQL, and reports the lines that do not
parse with their file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from auditor.activity.files import UnreadableFile, content, plain_copy
from auditor.activity.model import IngestIssue, LogFile
from auditor.activity.store import EVENT_COLUMN_NAMES, EventStore

# bytes of text loaded into ``pending`` per query
BATCH_BYTES = 256 << 20

_FILL = """
INSERT INTO pending
SELECT s.file_id, t.line, rtrim(t.text, chr(13)) FROM (
    SELECT filename, unnest(lines) AS text, unnest(range(1, len(lines) + 1)) AS line
    FROM (SELECT filename, string_split(content, chr(10)) AS lines FROM read_text(?))
) AS t JOIN staged AS s ON s.path = t.filename
WHERE trim(t.text) <> ''
"""


@dataclass(frozen=True, slots=True)
class LineFormat:
    """How one kind of line-oriented log becomes events."""

    kind: str
    # SELECT <record columns>, file_id, line FROM pending, for the lines that parse
    parse_sql: str
    # SELECT file_id, line, message FROM pending, for the lines that do not
    invalid_sql: str
    # the SELECT of event columns over a relation of record columns + file_id + line
    events_sql: Callable[[str], str]


def read_lines(files: Sequence[tuple[LogFile, int]], store: EventStore, fmt: LineFormat,
               staging: Path) -> list[IngestIssue]:
    """Load ``files`` (with their ids in ``log_files``) as ``fmt`` into the events table."""
    issues: list[IngestIssue] = []
    for batch in _batches(files):
        local: list[tuple[LogFile, int, Path]] = []
        for log, file_id in batch:
            try:
                local.append((log, file_id, plain_copy(log.path, staging, f"lines-{file_id}")))
            except UnreadableFile as exc:
                issues.append(IngestIssue(log.name, str(exc)))
        for log, file_id in _fill(store, local):
            issues.extend(python_lines(store, log, file_id))
        issues.extend(flush(store, fmt))
        for log, _, path in local:
            if path != log.path:
                path.unlink(missing_ok=True)
    return issues


def _batches(files: Sequence[tuple[LogFile, int]]) -> list[list[tuple[LogFile, int]]]:
    batches: list[list[tuple[LogFile, int]]] = [[]]
    size = 0
    for log, file_id in files:
        length = log.path.stat().st_size if log.path.exists() else 0
        if batches[-1] and size + length > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append((log, file_id))
        size += length
    return [b for b in batches if b]


def _fill(store: EventStore, local: list[tuple[LogFile, int, Path]]) -> list[tuple[LogFile, int]]:
    """Load the files into ``pending``; returns those DuckDB could not read (bisecting, so that
    one bad file costs a few queries, not one per file)."""
    if not local:
        return []
    store.stage([(str(path), file_id) for _, file_id, path in local])
    try:
        store.execute(_FILL, [[str(path) for _, _, path in local]])
        return []
    except duckdb.Error:
        if len(local) == 1:
            return [(local[0][0], local[0][1])]
    middle = len(local) // 2
    return _fill(store, local[:middle]) + _fill(store, local[middle:])


def python_lines(store: EventStore, log: LogFile, file_id: int) -> list[IngestIssue]:
    """The slow path: split the file into lines in Python, reporting lines that are not text."""
    try:
        data = content(log.path)
    except UnreadableFile as exc:
        return [IngestIssue(log.name, str(exc))]
    issues: list[IngestIssue] = []
    numbers: list[int] = []
    texts: list[str] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            text = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            issues.append(IngestIssue(log.name, f"not UTF-8 text (byte {exc.start + 1} of the "
                                                f"line)", line=number))
            continue
        if text.strip():
            numbers.append(number)
            texts.append(text)
    store.add_pending(file_id, numbers, texts)
    return issues


def flush(store: EventStore, fmt: LineFormat) -> list[IngestIssue]:
    """Turn the pending lines into events; report those that do not parse."""
    names = store.file_names()
    issues = [IngestIssue(names[file_id], message, line=line)
              for file_id, line, message in store.fetch(f"{fmt.invalid_sql} ORDER BY file_id, line")]
    store.execute(f"INSERT INTO events ({', '.join(EVENT_COLUMN_NAMES)}) "
                  f"{fmt.events_sql(f'({fmt.parse_sql})')}")
    store.execute("DELETE FROM pending")
    return issues
