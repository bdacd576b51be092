"""Policy documents written in code, and the questions our checks ask of them.

A document may be inline JSON, a heredoc, ``jsonencode(...)`` (evaluated by checkov), a
reference to a ``data "aws_iam_policy_document"`` block, or a CloudFormation ``PolicyDocument``
with intrinsic functions. A value that depends on something not in the code (a variable
without a default, ``file()``, a resource attribute known only after apply) stays ``${...}``
text: it is never mistaken for a wildcard, and a document that cannot be read at all is
``None`` (the check reports an error, not a pass).

The questions are syntactic on purpose: code has no account, no request context and often
no final names, so these are not the live evaluator's answers (auditor.access) but what the
code alone says.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from auditor.access.aws.principals import as_list, principal_entries
from auditor.access.aws.principals import statements as document_statements
from auditor.iac import values
from auditor.iac.model import Block, Model

# condition keys that tie a wildcard principal to known accounts, organizations or networks
NARROWING_CONDITION_KEYS = frozenset({
    "aws:principalorgid", "aws:principalorgpaths", "aws:principalaccount", "aws:principalarn",
    "aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths",
    "aws:sourcevpc", "aws:sourcevpce", "aws:sourceowner", "aws:userid", "kms:calleraccount",
})
# two object ARNs in buckets nobody names: a Resource that matches both matches every bucket
EVERY_BUCKET_PROBES = ("arn:aws:s3:::auditor-probe-a/any/key", "arn:aws:s3:::zz.probe.b/other")
_ACCOUNT_IN_ARN = re.compile(r"^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_PUBLIC = frozenset({("AWS", "*"), ("*", "*")})
_PARTLY_EVALUATED = re.compile(r"^\$\{jsonencode\((.*)\)\}$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Document:
    statements: tuple[Mapping[str, Any], ...]
    # where the statements were read: "inline" or the address of a policy-document block
    source: str


def read_document(model: Model, block: Block, value: Any) -> Document | None:
    """The policy document that attribute ``value`` of ``block`` holds or refers to."""
    value = values.single(value) if block.framework == "terraform" else values.cfn_text(value)
    if isinstance(value, str):
        referred = model.resolve(block, value)
        if referred is not None and referred.type == "aws_iam_policy_document":
            return Document(tuple(document_statements(_from_policy_document(referred))),
                            referred.address)
        value = _parse_text(value)
    if not isinstance(value, Mapping) or "Statement" not in value:
        return None
    return Document(tuple(document_statements(_clean(value))), "inline")


def _parse_text(text: str) -> Any:
    """JSON text, or a ``jsonencode(...)`` that checkov could only partly evaluate: it leaves
    ``${jsonencode({...})}`` with the argument as a Python literal and the unresolved parts as
    ``${...}`` strings, which is all the questions here need."""
    stripped = text.strip()
    match = _PARTLY_EVALUATED.match(stripped)
    try:
        if not match:
            return json.loads(stripped)
        with warnings.catch_warnings():
            # HCL text such as "\\$" is not a Python escape; the value is kept as written
            warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
            return ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _from_policy_document(block: Block) -> dict[str, Any]:
    """A ``data "aws_iam_policy_document"`` block as the JSON policy it renders."""
    rendered = []
    for statement in values.nested(block.config, "statement"):
        item: dict[str, Any] = {"Effect": values.first(statement, "effect") or "Allow"}
        if values.first(statement, "sid"):
            item["Sid"] = values.first(statement, "sid")
        for attribute, element in (("actions", "Action"), ("not_actions", "NotAction"),
                                   ("resources", "Resource"), ("not_resources", "NotResource")):
            if attribute in statement:
                item[element] = values.strings(statement[attribute])
        for attribute, element in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
            entries = values.nested(statement, attribute)
            if entries:
                item[element] = _principal_element(entries)
        conditions: dict[str, dict[str, list[str]]] = {}
        for condition in values.nested(statement, "condition"):
            test, variable = values.first(condition, "test"), values.first(condition, "variable")
            conditions.setdefault(str(test), {})[str(variable)] = values.strings(condition.get("values"))
        if conditions:
            item["Condition"] = conditions
        rendered.append(item)
    return {"Version": "2012-10-17", "Statement": rendered}


def _principal_element(entries: Sequence[Mapping[str, Any]]) -> Any:
    element: dict[str, list[str]] = {}
    for entry in entries:
        kind = str(values.first(entry, "type"))
        element.setdefault(kind, []).extend(values.strings(entry.get("identifiers")))
    return "*" if element == {"*": ["*"]} else element


def _clean(value: Any) -> Any:
    """Drop checkov's bookkeeping keys (``__startline__``...) so evidence shows the policy only."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def is_allow(statement: Mapping[str, Any]) -> bool:
    return str(statement.get("Effect", "")).lower() == "allow"


def condition_keys(statement: Mapping[str, Any]) -> frozenset[str]:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return frozenset()
    return frozenset(str(key).lower() for block in condition.values() if isinstance(block, Mapping)
                     for key in block)


def public_statements(document: Document) -> list[Mapping[str, Any]]:
    """Allow statements open to any principal, with no condition that names who may use them."""
    found = []
    for statement in document.statements:
        if not is_allow(statement) or condition_keys(statement) & NARROWING_CONDITION_KEYS:
            continue
        # an Allow with NotPrincipal grants everyone but the few it names
        if "NotPrincipal" in statement or _PUBLIC & set(principal_entries(statement.get("Principal"))):
            found.append(statement)
    return found


def actions_of(statement: Mapping[str, Any]) -> list[str]:
    """What a statement's Action (or NotAction, prefixed ``not ``) names, for messages."""
    if "NotAction" in statement:
        return [f"not {a}" for a in _strings(statement["NotAction"])]
    return _strings(statement.get("Action"))


def account_principals(statement: Mapping[str, Any]) -> list[str]:
    """The AWS account ids a statement names literally (``${...}`` references are not literal)."""
    accounts = []
    for kind, value in principal_entries(statement.get("Principal")):
        if kind != "AWS":
            continue
        match = _ACCOUNT_IN_ARN.match(value)
        if match:
            accounts.append(match.group(1))
        elif _ACCOUNT_ID.match(value):
            accounts.append(value)
    return accounts


def grants_on_every_bucket(document: Document, action: str) -> list[Mapping[str, Any]]:
    """Allow statements that give ``action`` on the objects of every bucket.

    An unconditional Deny in the same document that covers the same takes the grant away.
    """
    if any(_covers(s, action) and not s.get("Condition") for s in document.statements
           if str(s.get("Effect", "")).lower() == "deny"):
        return []
    return [s for s in document.statements if is_allow(s) and _covers(s, action)]


def _covers(statement: Mapping[str, Any], action: str) -> bool:
    return _matches_action(statement, action) and all(
        _matches_resource(statement, probe) for probe in EVERY_BUCKET_PROBES)


def _matches_action(statement: Mapping[str, Any], action: str) -> bool:
    # action names are case-insensitive
    if "NotAction" in statement:
        return not any(_wildcard(p, ignore_case=True).match(action) for p in _strings(statement["NotAction"]))
    return any(_wildcard(p, ignore_case=True).match(action) for p in _strings(statement.get("Action")))


def _matches_resource(statement: Mapping[str, Any], resource: str) -> bool:
    # "${...}" depends on another resource: it names one bucket, never every bucket
    if "NotResource" in statement:
        return not any(_literal_match(p, resource) for p in _strings(statement["NotResource"]))
    return any(_literal_match(p, resource) for p in _strings(statement.get("Resource")))


def _literal_match(pattern: str, resource: str) -> bool:
    return "${" not in pattern and bool(_wildcard(pattern, ignore_case=False).match(resource))


@lru_cache(maxsize=4096)
def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one; nothing else is special.

    Unlike the live evaluator, ``${...}`` is not a policy variable here but a value the code
    leaves to apply time, so it matches only itself.
    """
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", (re.IGNORECASE if ignore_case else 0) | re.DOTALL)


def _strings(element: Any) -> list[str]:
    return [str(item) for item in as_list(element) if isinstance(item, str)]
