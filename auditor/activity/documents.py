"""Whole JSON documents of records (CloudTrail's ``{"Records": [...]}`` files, JSON arrays) into
the events table, through DuckDB's JSON reader.

DuckDB reads a top-level array of records quickly, a record list nested in an object slowly,
and pays a fixed price per file that grows with the column types (about a millisecond with
CloudTrail's), while CloudTrail delivers many small files. So each document is cut down to its
array while it is decompressed (in worker threads, ahead of DuckDB), and then:

* a large array is written to the staging folder and read as a file of its own;
* small arrays are packed together, one ``{"f": FILE_ID, "r": [...]}`` line each (a raw
  newline cannot occur inside a JSON string, so flattening the array onto one line is safe),
  and read as a single file.

A batch DuckDB refuses (malformed JSON, a field of an unexpected type) is split in halves until
the files at fault are found; those are read record by record in Python, which reports where
the damage is and queues every record it can still read for the JSON-lines path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb

from auditor.activity.files import UnreadableFile, content, content_size, copy_between, is_gzip
from auditor.activity.lines import LineFormat, flush
from auditor.activity.model import IngestIssue, LogFile
from auditor.activity.sql import columns_literal, struct_type
from auditor.activity.store import EVENT_COLUMN_NAMES, EventStore

# uncompressed bytes handed to DuckDB per query
BATCH_BYTES = 128 << 20
FIRST_BATCH_SHARE = 8
# arrays up to this size are packed with others into one file; a packed line must stay under
# DuckDB's maximum_object_size (16 MiB by default: raising it makes every read slower)
SMALL_ARRAY = 1 << 20
# gzip'd JSON logs shrink about tenfold, which sizes batches before decompressing
GZIP_RATIO = 10
# numbers stay text: only the structure is checked here, and Python refuses huge integers
_DECODER = json.JSONDecoder(parse_int=str, parse_float=str, parse_constant=str)


@dataclass(frozen=True, slots=True)
class RecordFormat:
    """How one kind of record document becomes events."""

    columns: dict[str, str]
    # the wrapper before the record array in a document (CloudTrail: {"Records": )
    prefix: re.Pattern[bytes]
    # the SELECT of event columns over a relation of record columns + file_id + line
    events_sql: Callable[[str], str]
    # how recovered records (queued as lines) become events
    lines: LineFormat


@dataclass(slots=True)
class Prepared:
    log: LogFile
    file_id: int
    path: Path | None = None  # a large array, read as its own file
    array: bytes | None = None  # a small array, packed with others


def read_documents(documents: Sequence[tuple[LogFile, int, bool]], store: EventStore, fmt: RecordFormat,
                   staging: Path) -> list[IngestIssue]:
    """``documents``: (file, its id, whether the array is wrapped in an object)."""
    issues: list[IngestIssue] = []
    batches = _batches(documents)
    with ThreadPoolExecutor(max_workers=2) as pool:
        upcoming = _prepare_batch(pool, batches[0], fmt, staging) if batches else []
        for index in range(len(batches)):
            current = upcoming
            if index + 1 < len(batches):  # decompress the next batch while DuckDB reads this one
                upcoming = _prepare_batch(pool, batches[index + 1], fmt, staging)
            prepared: list[Prepared] = []
            for (log, _, _), future in current:
                try:
                    prepared.append(future.result())
                except UnreadableFile as exc:
                    issues.append(IngestIssue(log.name, str(exc)))
            refused = _load_files(store, fmt, [p for p in prepared if p.path is not None])
            refused += _load_packed(store, fmt, [p for p in prepared if p.array is not None], staging)
            for item in refused:
                issues.extend(_recover(store, item.log, item.file_id))
            for item in prepared:
                if item.path is not None and item.path != item.log.path:
                    item.path.unlink(missing_ok=True)
    return issues + flush(store, fmt.lines)


def _batches(documents: Sequence[tuple[LogFile, int, bool]]) -> list[list[tuple[LogFile, int, bool]]]:
    batches: list[list[tuple[LogFile, int, bool]]] = [[]]
    size = 0
    for item in documents:
        path = item[0].path
        length = path.stat().st_size * (GZIP_RATIO if path.name.endswith(".gz") else 1)
        # DuckDB waits for the first batch alone: keep it small, so that it starts early
        limit = BATCH_BYTES if len(batches) > 1 else BATCH_BYTES // FIRST_BATCH_SHARE
        if batches[-1] and size + length > limit:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += length
    return [b for b in batches if b]


def _prepare_batch(pool: ThreadPoolExecutor, batch: list[tuple[LogFile, int, bool]], fmt: RecordFormat,
                   staging: Path) -> list[tuple[tuple[LogFile, int, bool], Future[Prepared]]]:
    return [(item, pool.submit(_prepare, *item, fmt.prefix, staging)) for item in batch]


def _prepare(log: LogFile, file_id: int, wrapped: bool, prefix: re.Pattern[bytes],
             staging: Path) -> Prepared:
    """The document's array: packed when small, else a file DuckDB reads on its own."""
    if content_size(log.path) > SMALL_ARRAY:
        if not wrapped and not is_gzip(log.path):
            return Prepared(log, file_id, path=log.path)
        target = staging / f"records-{file_id}.json"
        if copy_between(log.path, target, prefix if wrapped else None, b"}" if wrapped else None):
            return Prepared(log, file_id, path=target)
        target.unlink(missing_ok=True)
    data = content(log.path)
    array = memoryview(data)
    match = prefix.match(data) if wrapped else None
    end = data.rfind(b"}")
    if match and end > match.end():
        array = array[match.end():end]
    elif wrapped:
        return Prepared(log, file_id, path=log.path)  # DuckDB will refuse it; Python says why
    if len(array) > SMALL_ARRAY:
        target = staging / f"records-{file_id}.json"
        target.write_bytes(array)
        return Prepared(log, file_id, path=target)
    return Prepared(log, file_id, array=bytes(array).replace(b"\n", b" ").replace(b"\r", b" "))


def _insert(store: EventStore, fmt: RecordFormat, relation: str, params: list[object]) -> bool:
    try:
        store.execute(f"INSERT INTO events ({', '.join(EVENT_COLUMN_NAMES)}) {fmt.events_sql(relation)}",
                      params)
        return True
    except duckdb.Error:
        return False


def _halves(items: list[Prepared], load: Callable[[list[Prepared]], list[Prepared]]) -> list[Prepared]:
    middle = len(items) // 2
    return load(items[:middle]) + load(items[middle:])


def _load_files(store: EventStore, fmt: RecordFormat, items: list[Prepared]) -> list[Prepared]:
    """Read each array file; returns those DuckDB refused."""
    if not items:
        return []
    store.stage([(str(item.path), item.file_id) for item in items])
    relation = (f"(SELECT r.*, s.file_id AS file_id, NULL::BIGINT AS line FROM read_json(?, "
                f"format='array', records=true, columns={columns_literal(fmt.columns)}, "
                f"filename=true) AS r "
                f"JOIN staged AS s ON s.path = r.filename)")
    if _insert(store, fmt, relation, [[str(item.path) for item in items]]):
        return []
    return items if len(items) == 1 else _halves(items, lambda part: _load_files(store, fmt, part))


def _load_packed(store: EventStore, fmt: RecordFormat, items: list[Prepared],
                 staging: Path) -> list[Prepared]:
    """Read the small arrays as one file of ``{"f": FILE_ID, "r": [...]}`` lines."""
    if not items:
        return []
    packed = staging / f"packed-{items[0].file_id}.jsonl"
    with packed.open("wb") as sink:
        for item in items:
            sink.write(b'{"f":%d,"r":' % item.file_id)
            sink.write(item.array or b"[]")
            sink.write(b"}\n")
    relation = (f"(SELECT file_id, line, unnest(record) FROM (SELECT f AS file_id, NULL::BIGINT AS line, "
                f"unnest(r) AS record FROM read_json(?, format='newline_delimited', records=true, "
                f"columns={{'f': 'INTEGER', 'r': '{struct_type(fmt.columns)}[]'}})))")
    loaded = _insert(store, fmt, relation, [str(packed)])
    packed.unlink(missing_ok=True)
    if loaded:
        return []
    return items if len(items) == 1 else _halves(items, lambda part: _load_packed(store, fmt, part, staging))


# -- the slow path: one record at a time ------------------------------------------------------

def _recover(store: EventStore, log: LogFile, file_id: int) -> list[IngestIssue]:
    """Report where the document is damaged, and queue every record that can still be read."""
    try:
        text = content(log.path).decode("utf-8")
    except UnreadableFile as exc:
        return [IngestIssue(log.name, str(exc))]
    except UnicodeDecodeError as exc:
        return [IngestIssue(log.name, f"not UTF-8 text (byte {exc.start})")]
    issues: list[IngestIssue] = []
    try:
        _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        issues.append(IngestIssue(log.name, f"malformed JSON: {exc.msg} (column {exc.colno}); "
                                            f"the records around it are read one by one",
                                  line=exc.lineno))
    except RecursionError:
        pass  # too deep for Python: split_records says where
    records, problem = split_records(text)
    if problem is not None:
        line, message = problem
        issues.append(IngestIssue(log.name, message, line=line))
    store.add_pending(file_id, [line for line, _ in records], [record for _, record in records])
    return issues


def split_records(text: str) -> tuple[list[tuple[int, str]], tuple[int, str] | None]:
    """The records of a Records document or JSON array, each with its first line.

    Separators between records are not checked, so records that lack a comma between them
    (a damaged file) are still found; reading stops at the first record that does not parse,
    and that place is returned as the problem.
    """
    # a Records document opens with {"Records": [, so its first bracket opens the records
    position = text.find("[")
    if position < 0:
        return [], (1, "no array of records")
    position += 1
    records: list[tuple[int, str]] = []
    line, counted = 1, 0
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text) or text[position] == "]":
            return records, None
        line += text.count("\n", counted, position)
        counted = position
        try:
            _, end = _DECODER.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            return records, (exc.lineno, f"record not readable: {exc.msg} (column {exc.colno}); "
                                         f"the rest of the file is skipped")
        except RecursionError:
            return records, (line, "record nested too deeply to read; the rest of the file is skipped")
        records.append((line, text[position:end]))
        position = end
