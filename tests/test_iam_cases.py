"""The labelled IAM authorization cases (tests/data/iam-cases/dev.jsonl, a copy of the shared
development set) and the ``audit simulate`` library that reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.access.aws.evaluator import evaluate
from auditor.access.aws.simulate import case_inputs, format_table, run_cases
from auditor.errors import InputError

CASES_FILE = Path(__file__).parent / "data" / "iam-cases" / "dev.jsonl"
CASES: list[dict[str, Any]] = [json.loads(line) for line in
                               CASES_FILE.read_text(encoding="utf-8").splitlines() if line]


def test_the_case_file_is_the_full_development_set() -> None:
    assert len(CASES) == 216
    assert len({case["id"] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case_decision_matches_its_label(case: dict[str, Any]) -> None:
    _case_id, request, policies = case_inputs(case)
    result = evaluate(request, policies)
    assert result.decision == case["expected"], case["why"]
    if result.decision == "explicit-deny":
        assert result.denied_by and all(ref.effect == "Deny" for ref in result.denied_by)
    if result.decision == "allow":
        assert all(ref.effect == "Allow" for ref in result.allowed_by)


def test_run_cases_returns_id_and_decision_in_file_order() -> None:
    results = run_cases(CASES_FILE)
    assert [r["id"] for r in results] == [c["id"] for c in CASES]
    assert all(set(r) == {"id", "decision"} for r in results)
    assert [r["decision"] for r in results] == [c["expected"] for c in CASES]


def _write_cases(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _case(**changes: Any) -> dict[str, Any]:
    case = json.loads(json.dumps(CASES[0]))
    case.update(changes)
    return case


def test_malformed_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = _write_cases(tmp_path, [json.dumps(CASES[0]), "{not json"])
    with pytest.raises(InputError) as raised:
        run_cases(path)
    assert raised.value.source == str(path)
    assert raised.value.location == "line 2"


def test_malformed_policy_names_line_and_json_path(tmp_path: Path) -> None:
    bad = _case(identity_policies=[
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                 "Resource": "*"},
                                                {"Effect": "Permit", "Action": "s3:*",
                                                 "Resource": "*"}]}])
    path = _write_cases(tmp_path, [json.dumps(CASES[1]), json.dumps(CASES[2]), json.dumps(bad)])
    with pytest.raises(InputError) as raised:
        run_cases(path)
    assert raised.value.location == "line 3"
    assert "identity_policies[0].Statement[1].Effect" in raised.value.message


@pytest.mark.parametrize("change, place", [
    ({"request": None}, "request"),
    ({"id": 7}, "id"),
    ({"scps": {"root": []}}, "scps"),
    ({"identity_policies": {"Statement": []}}, "identity_policies"),
])
def test_malformed_case_fields_are_input_errors(tmp_path: Path, change: dict[str, Any],
                                                place: str) -> None:
    path = _write_cases(tmp_path, [json.dumps(_case(**change))])
    with pytest.raises(InputError) as raised:
        run_cases(path)
    assert raised.value.location == "line 1"
    assert raised.value.message.startswith(place)


def test_context_values_must_be_strings_or_lists_of_strings(tmp_path: Path) -> None:
    case = _case()
    case["request"]["context"] = {"aws:SecureTransport": True}
    with pytest.raises(InputError, match=r"request\.context\.aws:SecureTransport"):
        run_cases(_write_cases(tmp_path, [json.dumps(case)]))


def test_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as raised:
        run_cases(tmp_path / "missing.jsonl")
    assert raised.value.source == str(tmp_path / "missing.jsonl")


def test_format_table_lists_every_case_and_counts_decisions() -> None:
    results = [{"id": "a-case", "decision": "allow"},
               {"id": "another-longer-case", "decision": "implicit-deny"},
               {"id": "third", "decision": "allow"}]
    table = format_table(results).splitlines()
    assert table[0].split() == ["case", "decision"]
    assert table[2].split() == ["a-case", "allow"]
    assert table[3].split() == ["another-longer-case", "implicit-deny"]
    # decisions line up in one column
    assert table[2].index("allow") == table[3].index("implicit-deny")
    assert table[-1] == "3 cases: allow 2, implicit-deny 1"


def test_format_table_escapes_what_a_terminal_should_not_see() -> None:
    table = format_table([{"id": "bad\x1b[2Jid\ud800", "decision": "allow"}])
    assert "\x1b" not in table and "\ud800" not in table
    table.encode("utf-8")  # printable on a UTF-8 terminal
