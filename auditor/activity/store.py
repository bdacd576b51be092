"""The events table: every log source normalised into one DuckDB table.

* ``time``: when it happened (TIMESTAMPTZ, UTC).
* ``source``: ``cloudtrail``, ``s3-access-log`` or ``gcs-audit-log``.
* ``provider``, ``account``, ``region``: where (``account``: the AWS account or GCP project,
  when the log says).
* ``principal``: who, named as the access analysis names principals: an IAM user or role ARN
  (a role session counts as its role), ``arn:aws:iam::ACCOUNT:root`` for a whole account, a
  GCP member (``user:``, ``serviceAccount:``), ``*`` / ``allUsers`` for anonymous callers.
* ``principal_type``: the log's word (``IAMUser``, ``AssumedRole``, ``Root``, ``AWSAccount``,
  ``AWSService``, ``Anonymous``, ``user``, ``serviceAccount``...); ``session``: the exact caller
  when ``principal`` is coarser (an assumed-role session ARN).
* ``access_key_id``: the AWS access key id; for GCP the service-account key's resource id
  (``//iam.googleapis.com/projects/P/serviceAccounts/E/keys/K``).
* ``action``: ``s3:GetObject``, ``kms:Decrypt``, ``storage.objects.get``...
* ``resource``: a bucket ARN or ``//storage.googleapis.com/projects/_/buckets/B``, a KMS key
  ARN, a trail ARN; ``object_key`` and ``bytes`` (sent to the caller) for object calls.
* ``source_ip``, ``user_agent``, ``error_code`` (null for a success): as logged.
* ``event_id``: the log's id of the record (CloudTrail eventID, S3 request id, insertId).
* ``detail``: the request parameters detections read (policies, ACLs, event selectors).
* ``context_resource``: the resource a call served (the S3 object of a KMS encryption context).
* ``file_id``, ``line``: where the record is (``log_files.name``) and its line, null for
  records read from a whole JSON document, which ``event_id`` identifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("time", "TIMESTAMPTZ"), ("source", "VARCHAR"), ("provider", "VARCHAR"),
    ("account", "VARCHAR"), ("region", "VARCHAR"), ("principal", "VARCHAR"),
    ("principal_type", "VARCHAR"), ("session", "VARCHAR"), ("access_key_id", "VARCHAR"),
    ("action", "VARCHAR"), ("resource", "VARCHAR"), ("object_key", "VARCHAR"),
    ("source_ip", "VARCHAR"), ("user_agent", "VARCHAR"), ("bytes", "BIGINT"),
    ("error_code", "VARCHAR"), ("event_id", "VARCHAR"), ("detail", "JSON"),
    ("context_resource", "VARCHAR"), ("file_id", "INTEGER"), ("line", "BIGINT"),
)
EVENT_COLUMN_NAMES = tuple(name for name, _ in EVENT_COLUMNS)

_SCHEMA = (
    "CREATE TABLE log_files (file_id INTEGER, name VARCHAR, kind VARCHAR)",
    f"CREATE TABLE events ({', '.join(f'{n} {t}' for n, t in EVENT_COLUMNS)})",
    # lines waiting to be parsed by a line-oriented reader, and the local copies being read
    "CREATE TEMP TABLE pending (file_id INTEGER, line BIGINT, text VARCHAR)",
    "CREATE TEMP TABLE staged (path VARCHAR, file_id INTEGER)",
)


class EventStore:
    """One DuckDB database (in memory, or a file) holding ``log_files`` and ``events``."""

    def __init__(self, path: Path | None = None, *, threads: int | None = None):
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = duckdb.connect(str(path) if path is not None else ":memory:")
        self.connection.execute("SET TimeZone = 'UTC'")
        # nothing relies on the order rows were inserted in, and inserts are cheaper without it
        self.connection.execute("SET preserve_insertion_order = false")
        if threads:
            self.connection.execute(f"SET threads = {int(threads)}")
        for table in ("events", "log_files"):
            self.connection.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in _SCHEMA:
            self.connection.execute(statement)
        self._next_file_id = 0

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------------

    def add_files(self, names: Sequence[str], kind: str) -> list[int]:
        """Number the files; their events refer to them by these ids."""
        first = self._next_file_id + 1
        self._next_file_id += len(names)
        ids = list(range(first, self._next_file_id + 1))
        if names:
            self.connection.execute("INSERT INTO log_files SELECT unnest(?::INTEGER[]), "
                                    "unnest(?::VARCHAR[]), ?", [ids, list(names), kind])
        return ids

    def stage(self, paths_and_ids: Sequence[tuple[str, int]]) -> None:
        """Name the local files the next read_* query reads, so rows find their file id."""
        self.connection.execute("DELETE FROM staged")
        if paths_and_ids:
            self.connection.execute("INSERT INTO staged SELECT unnest(?::VARCHAR[]), "
                                    "unnest(?::INTEGER[])",
                                    [[p for p, _ in paths_and_ids], [i for _, i in paths_and_ids]])

    def add_pending(self, file_id: int, lines: Sequence[int], texts: Sequence[str]) -> None:
        if lines:
            self.connection.execute("INSERT INTO pending SELECT ?, unnest(?::BIGINT[]), "
                                    "unnest(?::VARCHAR[])", [file_id, list(lines), list(texts)])

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.connection.execute(sql, params or [])

    # -- reading ----------------------------------------------------------------------------

    def fetch(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql, params or []).fetchall()

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.connection.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def count(self, where: str = "TRUE", params: Sequence[Any] | None = None) -> int:
        return int(self.fetch(f"SELECT count(*) FROM events WHERE {where}", params)[0][0])

    def file_names(self) -> dict[int, str]:
        return dict(self.fetch("SELECT file_id, name FROM log_files"))
