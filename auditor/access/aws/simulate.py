"""``audit simulate``: decide labelled IAM authorization cases offline.

The case format (JSON Lines, one case per line) is the one of the project's IAM case files:
``id``, ``request`` {principal, principal_account, action, resource, resource_account,
context}, ``identity_policies``, ``resource_policy``, ``permissions_boundary``,
``session_policy``, ``scps`` and ``rcps`` (levels of documents), and ``expected``.
The context of a case is complete, so absent keys are absent (a closed world).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from auditor.access.aws.evaluator import (
    NamedPolicy,
    PolicySet,
    Request,
    evaluate,
    infer_resource_policy_kind,
)
from auditor.errors import InputError

_REQUEST_FIELDS = ("principal", "principal_account", "action", "resource", "resource_account")


def run_cases(path: Path) -> list[dict[str, str]]:
    """Each case's ``{"id", "decision"}``, in file order; bad input raises ``InputError``."""
    results: list[dict[str, str]] = []
    for line_number, record in _records(path):
        try:
            case_id, request, policies = case_inputs(record)
            results.append({"id": case_id, "decision": evaluate(request, policies).decision})
        except InputError as error:
            where = ".".join(part for part in (error.source, error.location) if part)
            message = f"{where}: {error.message}" if where else error.message
            raise InputError(message, source=str(path), location=f"line {line_number}") from None
    return results


def _records(path: Path) -> list[tuple[int, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read cases: {error}", source=str(path)) from None
    records: list[tuple[int, Any]] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((line_number, json.loads(line)))
        except (json.JSONDecodeError, RecursionError) as error:
            raise InputError(f"not a JSON object: {error}", source=str(path),
                             location=f"line {line_number}") from None
    return records


def case_inputs(record: Any) -> tuple[str, Request, PolicySet]:
    """The evaluator's inputs for one case record; ``InputError`` locates what is wrong."""
    if not isinstance(record, Mapping):
        raise InputError("a case must be a JSON object")
    case_id = record.get("id")
    if not isinstance(case_id, str) or not case_id:
        raise InputError("must be a non-empty string", location="id")
    raw = record.get("request")
    if not isinstance(raw, Mapping):
        raise InputError("must be an object", location="request")
    fields: dict[str, str | None] = {}
    for name in _REQUEST_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            raise InputError("must be a string or null", location=f"request.{name}")
        fields[name] = value
    for name in ("principal", "action", "resource"):
        if not fields[name]:
            raise InputError("is required", location=f"request.{name}")
    request = Request(principal=str(fields["principal"]),
                      principal_account=fields["principal_account"], action=str(fields["action"]),
                      resource=str(fields["resource"]),
                      resource_account=fields["resource_account"],
                      context=_context(raw.get("context")), open_world=False)
    policies = PolicySet(
        identity=_documents(record.get("identity_policies"), "identity_policies"),
        resource=_document(record.get("resource_policy"), "resource_policy"),
        resource_policy_kind=infer_resource_policy_kind(request.action, request.resource),
        boundary=_document(record.get("permissions_boundary"), "permissions_boundary"),
        session=_document(record.get("session_policy"), "session_policy"),
        scps=_levels(record.get("scps"), "scps"),
        rcps=_levels(record.get("rcps"), "rcps"),
    )
    return case_id, request, policies


def _context(raw: Any) -> dict[str, str | list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InputError("must be an object", location="request.context")
    context: dict[str, str | list[str]] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            context[key] = value
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            context[key] = list(value)
        else:
            raise InputError("must be a string or a list of strings",
                             location=f"request.context.{key}")
    return context


def _document(raw: Any, where: str) -> NamedPolicy | None:
    # the document is checked when evaluated; its id is its place in the case, so that an
    # InputError from the evaluator reads "identity_policies[0].Statement[1].Effect"
    return None if raw is None else NamedPolicy(where, raw)


def _documents(raw: Any, where: str) -> tuple[NamedPolicy, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InputError("must be a list of policy documents", location=where)
    return tuple(NamedPolicy(f"{where}[{index}]", document) for index, document in enumerate(raw))


def _levels(raw: Any, where: str) -> tuple[tuple[NamedPolicy, ...], ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise InputError("must be a list of levels (lists of policy documents)", location=where)
    return tuple(_documents(level, f"{where}[{index}]") for index, level in enumerate(raw))


def format_table(results: Sequence[Mapping[str, str]]) -> str:
    """A fixed-width table of case ids and decisions, then a count per decision."""
    ids = [_printable(result["id"]) for result in results]
    width = max([len("case"), *(len(case_id) for case_id in ids)])
    lines = [f"{'case':<{width}}  decision", f"{'-' * width}  {'-' * len('implicit-deny')}"]
    lines += [f"{case_id:<{width}}  {result['decision']}"
              for case_id, result in zip(ids, results, strict=True)]
    counts = Counter(result["decision"] for result in results)
    summary = ", ".join(f"{decision} {count}" for decision, count in sorted(counts.items()))
    lines.append(f"{len(results)} cases: {summary}" if results else "0 cases")
    return "\n".join(lines)


def _printable(text: str) -> str:
    # ids come from the file: control characters and lone surrogates must not reach a terminal
    escaped = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in escaped)
