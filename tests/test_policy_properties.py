"""Properties of the evaluator over random policies and requests (hypothesis).

* anything at all in a policy document gives a decision or an ``InputError``, never another
  exception;
* an explicit Deny statement, added anywhere, never widens access;
* an Allow statement added to an identity policy never narrows it;
* the decision is deterministic, also across a fresh parse of equal documents;
* a closed-world answer is never "conditional".
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from auditor.access.aws.evaluator import NamedPolicy, PolicySet, Request, Result, evaluate
from auditor.errors import InputError

ACCOUNT = "111122223333"
OTHER = "444455556666"
RANK = {"explicit-deny": 0, "implicit-deny": 0, "conditional": 1, "allow": 2}
SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

CALLERS = [
    (f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT),
    (f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1", ACCOUNT),
    (f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT),
    (f"arn:aws:sts::{OTHER}:assumed-role/partner/job", OTHER),
    (f"arn:aws:iam::{OTHER}:root", OTHER),
    (f"arn:aws:sts::{ACCOUNT}:federated-user/carol", ACCOUNT),
    ("*", None),
    ("ec2.amazonaws.com", None),
    (f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.example.com", None),
]
ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "kms:Decrypt", "sts:AssumeRole",
           "iam:ListRoles"]
RESOURCES = ["arn:aws:s3:::data/train/x.bin", "arn:aws:s3:::data",
             f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k1", f"arn:aws:iam::{ACCOUNT}:role/r", "*"]
ACTION_PATTERNS = ["*", "*", "s3:*", "s3:*", "s3:Get*", "S3:getobject", "s3:?utObject", "kms:*",
                   "kms:Decrypt", "sts:AssumeRole", "iam:List*", "s3:ListBucket"]
RESOURCE_PATTERNS = ["*", "*", "*", "arn:aws:s3:::data/*", "arn:aws:s3:::data", "arn:aws:s3:::*",
                     "arn:aws:s3:::data/${aws:username}/*", "arn:aws:s3:::d?ta/*",
                     f"arn:aws:kms:*:{ACCOUNT}:key/*", "arn:aws:iam::*:role/*",
                     "arn:aws:s3:::data/${aws:PrincipalTag/team, 'ml'}/*"]
PRINCIPAL_VALUES = ["*", ACCOUNT, OTHER, f"arn:aws:iam::{ACCOUNT}:root",
                    f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:iam::{ACCOUNT}:role/app",
                    f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1",
                    f"arn:aws:iam::{OTHER}:role/partner"]
CONDITION_KEYS = ["aws:SourceIp", "aws:PrincipalTag/team", "aws:SecureTransport",
                  "aws:CurrentTime", "aws:TagKeys", "aws:PrincipalArn", "s3:max-keys",
                  "aws:username"]
OPERATORS = ["StringEquals", "StringNotEquals", "StringLike", "StringNotLike",
             "StringEqualsIgnoreCase", "NumericLessThan", "NumericGreaterThanEquals",
             "DateGreaterThan", "DateLessThan", "Bool", "IpAddress", "NotIpAddress",
             "ArnLike", "ArnNotEquals", "Null", "StringEqualsIfExists", "BoolIfExists",
             "ForAnyValue:StringEquals", "ForAllValues:StringLike",
             "ForAllValues:StringNotEquals"]
# values that parse for every operator family they are drawn with (unparseable ones are
# InputErrors, which the robustness property covers)
VALUES_BY_FAMILY = {
    "Numeric": ["0", "10", "1e3", "-5"],
    "Date": ["2026-01-01T00:00:00Z", "2027-01-01", "1795694400"],
    "Bool": ["true", "false"],
    "Ip": ["10.0.0.0/8", "203.0.113.7", "2001:db8::/32"],
    "Null": ["true", "false"],
    "Arn": ["arn:aws:iam::*:role/app", f"arn:aws:iam::{ACCOUNT}:role/*", "*"],
    "String": ["ml", "ML", "team-*", "${aws:username}", "", "a?c", "${*}"],
}
CONTEXT_VALUES = {
    "aws:SourceIp": st.sampled_from(["10.1.2.3", "203.0.113.7", "2001:db8::9", "bogus"]),
    "aws:PrincipalTag/team": st.sampled_from(["ml", "ML", "team-x", "abc"]),
    "aws:SecureTransport": st.sampled_from(["true", "false"]),
    "aws:CurrentTime": st.sampled_from(["2026-11-26T12:00:00Z", "2025-01-01T00:00:00Z"]),
    "aws:TagKeys": st.lists(st.sampled_from(["ml", "team-a", "secret"]), max_size=3),
    "aws:PrincipalArn": st.sampled_from([f"arn:aws:iam::{ACCOUNT}:role/app", "not-an-arn"]),
    "s3:max-keys": st.sampled_from(["5", "50", "x"]),
    "aws:username": st.sampled_from(["alice", "*", "train"]),
}


def _values_for(operator: str) -> list[str]:
    for family, values in VALUES_BY_FAMILY.items():
        if family in operator:
            return values
    return VALUES_BY_FAMILY["String"]


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    block: dict[str, Any] = {}
    for operator in draw(st.lists(st.sampled_from(OPERATORS), min_size=1, max_size=2,
                                  unique=True)):
        keys = draw(st.lists(st.sampled_from(CONDITION_KEYS), min_size=1, max_size=2,
                             unique=True))
        values = st.sampled_from(_values_for(operator))
        block[operator] = {key: draw(st.one_of(values, st.lists(values, min_size=1,
                                                                  max_size=3)))
                           for key in keys}
    return block


def _one_or_many(options: list[str]) -> st.SearchStrategy[Any]:
    value = st.sampled_from(options)
    return st.one_of(value, st.lists(value, min_size=1, max_size=3))


@st.composite
def statements(draw: st.DrawFn, *, effect: str | None = None,
               names_principals: bool = False) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": effect or draw(st.sampled_from(["Allow", "Allow", "Allow", "Deny"])),
        draw(st.sampled_from(["Action", "Action", "Action", "NotAction"])):
            draw(_one_or_many(ACTION_PATTERNS)),
    }
    resource_key = draw(st.sampled_from(["Resource", "Resource", "NotResource", None]))
    if resource_key:
        statement[resource_key] = draw(_one_or_many(RESOURCE_PATTERNS))
    if names_principals:
        key = "NotPrincipal" if statement["Effect"] == "Deny" and draw(st.booleans()) \
            else "Principal"
        statement[key] = draw(st.one_of(
            st.just("*"),
            st.fixed_dictionaries({"AWS": _one_or_many(PRINCIPAL_VALUES)}),
            st.fixed_dictionaries({"Service": _one_or_many(["ec2.amazonaws.com",
                                                            "s3.amazonaws.com"])})))
    if draw(st.integers(0, 2)) == 0:
        statement["Condition"] = draw(conditions())
    if draw(st.booleans()):
        statement["Sid"] = draw(st.sampled_from(["A", "B", "Sid1"]))
    return statement


@st.composite
def documents(draw: st.DrawFn, *, names_principals: bool = False) -> dict[str, Any]:
    body = draw(st.lists(statements(names_principals=names_principals), min_size=1,
                         max_size=3))
    document: dict[str, Any] = {"Statement": body if draw(st.booleans()) or len(body) > 1
                                else body[0]}
    version = draw(st.sampled_from(["2012-10-17", "2012-10-17", "2008-10-17", None]))
    if version:
        document["Version"] = version
    return document


def _named(prefix: str, docs: list[dict[str, Any]]) -> tuple[NamedPolicy, ...]:
    return tuple(NamedPolicy(f"{prefix}[{index}]", d) for index, d in enumerate(docs))


FULL_ACCESS = {"Version": "2012-10-17",
               "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
ALLOW_ALL = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def _mostly(document: st.SearchStrategy[dict[str, Any]], permissive: dict[str, Any]
            ) -> st.SearchStrategy[dict[str, Any]]:
    """Random documents, often next to a permissive one: otherwise nearly every combination of
    random layers is a deny, and the properties about allows would rarely be exercised."""
    return st.one_of(st.just(permissive), document)


def _level(document: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[list[Any]]:
    """An SCP/RCP level: usually the full-access policy (as AWS attaches by default) and more."""
    return st.tuples(st.booleans(), st.lists(document, max_size=2)).map(
        lambda drawn: [FULL_ACCESS, *drawn[1]] if drawn[0] else drawn[1])


@st.composite
def policy_sets(draw: st.DrawFn) -> PolicySet:
    optional = st.one_of(st.none(), st.none(), _mostly(documents(), ALLOW_ALL))
    resource = draw(st.one_of(st.none(), _mostly(documents(names_principals=True), FULL_ACCESS)))
    levels = st.one_of(st.none(), st.none(), st.lists(_level(documents()), min_size=1,
                                                      max_size=2))
    rcp_levels = st.one_of(st.none(), st.none(),
                           st.lists(_level(documents(names_principals=True)), min_size=1,
                                    max_size=2))
    boundary, session = draw(optional), draw(optional)
    identity = draw(st.lists(_mostly(documents(), ALLOW_ALL), min_size=1, max_size=2)
                    if draw(st.integers(0, 4)) else st.just([]))
    return PolicySet(
        identity=_named("identity", identity),
        resource=NamedPolicy("resource", resource) if resource is not None else None,
        resource_policy_kind=draw(st.sampled_from(["generic", "s3", "s3", "kms", "trust"])),
        boundary=NamedPolicy("boundary", boundary) if boundary is not None else None,
        session=NamedPolicy("session", session) if session is not None else None,
        scps=_levels("scp", draw(levels)), rcps=_levels("rcp", draw(rcp_levels)))


def _levels(prefix: str, raw: list[list[dict[str, Any]]] | None
            ) -> tuple[tuple[NamedPolicy, ...], ...] | None:
    if raw is None:
        return None
    return tuple(_named(f"{prefix}[{index}]", level) for index, level in enumerate(raw))


@st.composite
def requests(draw: st.DrawFn) -> Request:
    # callers in the resource's account, with identity policies, are the common case
    principal, account = draw(st.sampled_from(CALLERS[:2] * 3 + CALLERS))
    keys = draw(st.lists(st.sampled_from(sorted(CONTEXT_VALUES)), unique=True, max_size=5))
    context = {key: draw(CONTEXT_VALUES[key]) for key in keys}
    return Request(principal=principal, principal_account=account,
                   action=draw(st.sampled_from(ACTIONS)),
                   resource=draw(st.sampled_from(RESOURCES)),
                   resource_account=draw(st.sampled_from([ACCOUNT, ACCOUNT, ACCOUNT, OTHER])),
                   context=context, open_world=draw(st.booleans()))


def _evaluate(request: Request, policies: PolicySet) -> Result:
    try:
        return evaluate(request, policies)
    except InputError:
        assume(False)  # generated values may be malformed for an operator; not this property
        raise


# --- anything in, a decision or an InputError out ---------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=12) | st.sampled_from(["*", "Allow", "Deny", "s3:*", "${aws:x}", "\x00"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["Effect", "Action", "NotAction", "Resource",
                                       "NotResource", "Principal", "NotPrincipal", "Condition",
                                       "Sid", "AWS", "Service", "StringEquals", "Null",
                                       "ForAnyValue:StringLike", "aws:x", "IpAddress",
                                       "DateLessThan", "ArnLike"]) | st.text(max_size=6),
                      children, max_size=5),
    max_leaves=30)


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    """Well-formed documents with random JSON spliced into random places, or pure noise."""
    if draw(st.integers(0, 4)) == 0:
        return draw(json_values)
    document = draw(documents(names_principals=True))
    body = document["Statement"] if isinstance(document["Statement"], list) \
        else [document["Statement"]]
    target = draw(st.sampled_from(body))
    target[draw(st.sampled_from(["Effect", "Action", "Resource", "Condition", "Principal",
                                 "NotAction", "Sid", "NotResource"]))] = draw(json_values)
    if draw(st.booleans()):
        document[draw(st.sampled_from(["Version", "Statement", "Id", "Extra"]))] = \
            draw(json_values)
    return document


@SETTINGS
@given(requests(), mutated_documents(), mutated_documents(), st.booleans())
def test_any_document_gives_a_decision_or_an_input_error(request: Request, first: Any,
                                                         second: Any, as_resource: bool) -> None:
    policies = PolicySet(identity=(NamedPolicy("first", first),),
                         resource=NamedPolicy("second", second) if as_resource else None,
                         boundary=None if as_resource else NamedPolicy("second", second))
    try:
        result = evaluate(request, policies)
    except InputError as error:
        assert error.source in ("first", "second")
        return
    assert result.decision in RANK


@SETTINGS
@given(st.text(max_size=40), st.text(max_size=40), st.text(max_size=40),
       st.dictionaries(st.text(max_size=10), st.text(max_size=10) | st.lists(st.text(max_size=5)),
                       max_size=3), st.booleans())
def test_any_request_gives_a_decision(principal: str, action: str, resource: str,
                                      context: dict[str, Any], open_world: bool) -> None:
    everything = NamedPolicy("all", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*",
         "Condition": {"StringLike": {"aws:x": "${aws:username}*"}}},
        {"Effect": "Allow", "Principal": "*", "Action": "*",
         "Resource": "arn:aws:s3:::${aws:y, 'z'}/*"}]})
    result = evaluate(Request(principal, principal or None, action, resource, None, context,
                              open_world),
                      PolicySet(identity=(everything,), resource=everything))
    assert result.decision in RANK


# --- an explicit Deny never widens access; an identity Allow never narrows it -----------------

def _with_statement(policies: PolicySet, where: str, statement: dict[str, Any]) -> PolicySet:
    def extended(named: NamedPolicy) -> NamedPolicy:
        document = copy.deepcopy(dict(named.document))
        body = document["Statement"]
        document["Statement"] = [*(body if isinstance(body, list) else [body]), statement]
        return NamedPolicy(named.id, document)

    if where == "identity":
        if not policies.identity:
            return _replace(policies, identity=(NamedPolicy("added", {
                "Version": "2012-10-17", "Statement": [statement]}),))
        return _replace(policies, identity=(extended(policies.identity[0]),
                                            *policies.identity[1:]))
    if where in ("resource", "boundary", "session"):
        current = getattr(policies, where)
        return policies if current is None else _replace(policies, **{where: extended(current)})
    levels = getattr(policies, where)
    if not levels or not levels[-1]:
        return policies
    changed = (*levels[:-1], (extended(levels[-1][0]), *levels[-1][1:]))
    return _replace(policies, **{where: changed})


def _replace(policies: PolicySet, **changes: Any) -> PolicySet:
    fields = {name: getattr(policies, name) for name in
              ("identity", "resource", "resource_policy_kind", "boundary", "session", "scps",
               "rcps")}
    fields.update(changes)
    return PolicySet(**fields)


@SETTINGS
@given(requests(), policy_sets(), st.data(),
       st.sampled_from(["identity", "resource", "boundary", "session", "scps", "rcps"]))
def test_adding_a_deny_never_widens_access(request: Request, policies: PolicySet,
                                           data: st.DataObject, where: str) -> None:
    before = _evaluate(request, policies)
    names_principals = where in ("resource", "rcps")
    deny_all = {"Effect": "Deny", "Action": "*", "Resource": "*",
                **({"Principal": "*"} if names_principals else {})}
    deny = data.draw(st.one_of(st.just(deny_all),
                               statements(effect="Deny", names_principals=names_principals)))
    after = _evaluate(request, _with_statement(policies, where, deny))
    assert RANK[after.decision] <= RANK[before.decision]
    if before.decision != "allow":
        assert after.decision != "allow"
    if before.decision == "explicit-deny":
        assert after.decision == "explicit-deny"


@SETTINGS
@given(requests(), policy_sets(), st.data())
def test_adding_an_identity_allow_never_narrows_access(request: Request, policies: PolicySet,
                                                       data: st.DataObject) -> None:
    before = _evaluate(request, policies)
    extra = data.draw(statements(effect="Allow"))
    after = _evaluate(request, _with_statement(policies, "identity", extra))
    assert RANK[after.decision] >= RANK[before.decision]
    if before.decision == "explicit-deny":
        assert after.decision == "explicit-deny"


# --- determinism ---------------------------------------------------------------------------------

@SETTINGS
@given(requests(), policy_sets())
def test_decisions_are_deterministic(request: Request, policies: PolicySet) -> None:
    first = _evaluate(request, policies)
    assert evaluate(request, policies) == first
    fresh = PolicySet(**{name: copy.deepcopy(getattr(policies, name)) for name in
                         ("identity", "resource", "resource_policy_kind", "boundary",
                          "session", "scps", "rcps")})
    assert evaluate(request, fresh) == first
    if not request.open_world:
        assert first.decision != "conditional"
