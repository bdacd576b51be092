"""SQL pieces shared by the log readers: record types, JSON-line parsing, principal names."""

from __future__ import annotations

from collections.abc import Mapping


def struct_type(columns: Mapping[str, str]) -> str:
    """``STRUCT("a" T, ...)``: the record type of a JSON reader's ``columns``."""
    return "STRUCT(" + ", ".join(f'"{name}" {kind}' for name, kind in columns.items()) + ")"


def columns_literal(columns: Mapping[str, str]) -> str:
    """The ``columns={...}`` argument of read_json."""
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"


def json_lines_parse(columns: Mapping[str, str]) -> str:
    """Pending lines that are JSON objects, as records (a field of an unexpected type is null)."""
    return (f"SELECT file_id, line, unnest(TRY_CAST(TRY_CAST(text AS JSON) AS "
            f"{struct_type(columns)})) FROM pending "
            f"WHERE json_valid(text) AND json_type(text) = 'OBJECT'")


JSON_LINES_INVALID = (
    "SELECT file_id, line, CASE WHEN json_valid(text) THEN 'not a JSON object' "
    "ELSE 'malformed JSON' END FROM pending "
    "WHERE NOT json_valid(text) OR json_type(text) <> 'OBJECT'")


def role_of_session(arn_sql: str) -> str:
    """``arn:aws:sts::A:assumed-role/ROLE/SESSION`` -> ``arn:aws:iam::A:role/ROLE``.

    The role's path is not in a session ARN; roles with a path are renamed afterwards from
    the inventory (``auditor.activity.ingest.resolve_principals``).
    """
    return (f"regexp_replace({arn_sql}, '^arn:([^:]+):sts::([0-9]+):assumed-role/([^/]+)/.*$', "
            f"'arn:\\1:iam::\\2:role/\\3')")


def is_session(arn_sql: str) -> str:
    return f"regexp_matches({arn_sql}, '^arn:[^:]+:sts::[0-9]+:assumed-role/')"


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
