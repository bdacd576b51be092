"""Every AWS managed policy (tests/data/aws-managed-policies, from iann0036/iam-dataset, MIT;
see SOURCE.txt there) parses and evaluates against representative requests.

Where the answer is obvious from the document alone, it is checked against an independent
reading (fnmatch over the Action list): an unconditional ``Allow`` of the action on
``Resource: "*"`` in a policy without Deny statements must allow, and a policy none of whose
statements can name the action must not allow it.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.access.aws.evaluator import NamedPolicy, PolicySet, Request, evaluate

CORPUS = Path(__file__).parent / "data" / "aws-managed-policies"
POLICIES: dict[str, Any] = json.loads(
    (CORPUS / "managed_policies_documents.json").read_text(encoding="utf-8"))
ACCOUNT = "111122223333"
ROLE_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/ml-training/job-42"
REQUESTS = {
    "s3:GetObject": "arn:aws:s3:::training-data/shards/part-0001.tar",
    "kms:Decrypt": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "iam:PassRole": f"arn:aws:iam::{ACCOUNT}:role/ml-training",
}


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    body = document["Statement"]
    return body if isinstance(body, list) else [body]


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _names(patterns: Any, action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in _listed(patterns))


def _plainly_allows(document: dict[str, Any], action: str) -> bool:
    statements = _statements(document)
    if any(s["Effect"] == "Deny" for s in statements):
        return False
    return any(s["Effect"] == "Allow" and "Condition" not in s and "Action" in s
               and _names(s["Action"], action) and "*" in _listed(s.get("Resource", []))
               for s in statements)


def _cannot_allow(document: dict[str, Any], action: str) -> bool:
    return not any(s["Effect"] == "Allow" and ("NotAction" in s or _names(s["Action"], action))
                   for s in _statements(document))


def test_the_corpus_is_complete() -> None:
    assert len(POLICIES) == 1645
    for name in ("LICENSE", "SOURCE.txt", "NOTICE.iam-dataset"):
        assert (CORPUS / name).is_file()


@pytest.mark.parametrize("action", sorted(REQUESTS))
def test_every_managed_policy_evaluates(action: str) -> None:
    plain_allows = cannot_allow = 0
    for name, entry in POLICIES.items():
        policies = PolicySet(identity=(NamedPolicy(entry["arn"], entry["document"]),))
        decisions = {}
        for open_world in (False, True):
            request = Request(ROLE_SESSION, ACCOUNT, action, REQUESTS[action], ACCOUNT,
                              {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/ml-training"},
                              open_world)
            result = evaluate(request, policies)
            decisions[open_world] = result.decision
            if result.decision in ("allow", "conditional"):
                assert result.allowed_by, name
            if result.decision == "explicit-deny":
                assert result.denied_by, name
            if result.decision == "conditional":
                assert result.conditions, name
        assert decisions[False] in ("allow", "implicit-deny", "explicit-deny"), name
        if _plainly_allows(entry["document"], action):
            plain_allows += 1
            assert set(decisions.values()) == {"allow"}, name
        if _cannot_allow(entry["document"], action):
            cannot_allow += 1
            assert set(decisions.values()) <= {"implicit-deny", "explicit-deny"}, name
    # the oracle covered real ground in both directions
    assert plain_allows >= 3 and cannot_allow > 1000, (plain_allows, cannot_allow)


def test_known_policies() -> None:
    def decide(name: str, action: str) -> str:
        policies = PolicySet(identity=(NamedPolicy(name, POLICIES[name]["document"]),))
        return evaluate(Request(ROLE_SESSION, ACCOUNT, action, REQUESTS[action], ACCOUNT),
                        policies).decision

    assert {decide("AdministratorAccess", a) for a in REQUESTS} == {"allow"}
    assert decide("AmazonS3ReadOnlyAccess", "s3:GetObject") == "allow"
    assert decide("AmazonS3ReadOnlyAccess", "kms:Decrypt") == "implicit-deny"
    assert decide("ReadOnlyAccess", "iam:PassRole") == "implicit-deny"
    # PowerUserAccess: everything but IAM (NotAction), with a few IAM actions added back
    assert decide("PowerUserAccess", "s3:GetObject") == "allow"
    assert decide("PowerUserAccess", "iam:PassRole") == "implicit-deny"
