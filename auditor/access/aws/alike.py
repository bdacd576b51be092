"""Buckets alike: a principal is asked about once per *class* of buckets, not per bucket.

Most buckets of an account differ in little more than their names: no bucket policy (or one
policy repeated with each bucket's own name in it), the same default encryption, objects
named alike. What a principal may do to one of them it may do to every other bucket of its
class, unless one of the principal's own policies names the bucket: an inline policy for
three named buckets, a managed policy for ``arn:aws:s3:::sagemaker-*``. Such a principal is
*specific* to the buckets it names and is asked about on each of them on its own.

A bucket's class (``BucketClasses.view``) holds everything the evaluator reads on the bucket's
side of a request, with the bucket's name and the principals it names taken out:

* the question: its actions and how many objects each asks about;
* the account, and the request context S3 adds (bucket tags, region) as far as a policy
  reads it;
* the resource side as each kind of caller meets it (bucket policy, Block Public Access),
  written with placeholders for the bucket's own ARN in Resource elements, for a Principal
  entry naming one principal by ARN, and for the fixed values a condition compares with a
  principal's own ARN, id, name or tag (``aws:PrincipalArn``...). The principals so named
  are specific. Which statements match each object is part of the class as well: a pattern
  such as ``arn:aws:s3:::ml-*`` may match one bucket of a class and not another;
* for each statement of anyone's own policies that may match in any bucket
  (``arn:aws:s3:::*/shards/*``, a NotResource), whether it matches each object;
* the RCPs of the account (``organization``): which of their statements match each object,
  and the context keys they read.

A principal's own policies are its identity policies, its boundary and the SCPs of its
account: they are the same on every bucket, but for the buckets their statements name.

Where a statement of a principal's own policies can match is read from its Resource patterns
(``context.Placement``): one that names buckets, literally or by a bucket-name pattern, makes
its holders specific to those buckets; a policy the evaluator rejects, or a policy variable in
a Resource that may name any bucket, makes them specific everywhere. The candidate filter in
front of the evaluator (``GrantIndex``) is read the same way, so that whether a principal is
asked at all is a property of the class too.

The key of an SSE-KMS bucket is not part of the class: a principal's answer is kept per key
(``kms.KeyAnswers``), and for a principal whose key answers read the bucket from the
encryption context, per answer of the conditions that read it; on a key whose grant
constraints read it, it is asked for on each bucket.

A class keeps, per principal asked about: which actions it was asked (its candidacy), its S3
answers per action and object, and its best answer per key, gathered per key in a ``Sheet``
that a bucket of the class copies. Proofs that cite the bucket policy cite a placeholder,
renamed for each bucket. A bucket whose resource side a class cannot describe (ACL grants, a
NotPrincipal, a policy variable in a Resource, a policy the evaluator rejects) shares
nothing: every principal is asked about on it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.access.aws.conditions import ConditionClause
from auditor.access.aws.context import (
    Evaluations,
    Outcome,
    as_list,
    pattern_key,
    place_pattern,
    resource_key,
    statements,
)
from auditor.access.aws.evaluator import NamedPolicy, Request, derived_keys
from auditor.access.aws.kms import KMS_NEEDS, KeyAnswers, KeySide
from auditor.access.aws.policy import Statement, caller_of, policy_for
from auditor.access.aws.principals import GrantIndex, Principal, PrincipalGraph, aws_principal_id
from auditor.access.aws.s3 import BucketSide
from auditor.access.aws.variables import (
    Glob,
    RequestValues,
    chunks_text,
    glob_from_chunks,
    substitute,
)
from auditor.errors import InputError

# how a proof kept for a class cites the bucket policy of whichever bucket it is given for
PLACEHOLDER_POLICY = "arn:aws:s3:::${bucket}#bucket-policy"
_BUCKET = "arn:aws:s3:::${bucket}"
_NAMED = "${named}"
# keys whose value belongs to one principal; a condition comparing them with fixed values
# names principals the way a Principal element does
_OWN_KEYS = frozenset({"aws:principalarn", "aws:userid", "aws:username"})
_OWN_TAG = "aws:principaltag/"
_EQUALITY = frozenset({"stringequals", "stringnotequals", "stringequalsignorecase",
                       "stringnotequalsignorecase", "stringlike", "stringnotlike", "arnequals",
                       "arnnotequals", "arnlike", "arnnotlike"})
NOT_KEPT: Any = object()  # a bucket whose answers are not kept in the class (see ``view``)

Answer = tuple[str, Outcome]  # the action used, and the answer


@dataclass(slots=True, eq=False)
class Entry:
    """One principal on one class of buckets."""

    actions: list[str]  # what it is asked about (its candidacy)
    parts: dict[tuple[str, int], Outcome | None] = field(default_factory=dict)  # S3, per object
    # best answers by key (None: no key), and whether the proof cites the bucket policy
    answers: dict[Any, tuple[str, Outcome, bool] | None] = field(default_factory=dict)
    needs: frozenset[str | None] = frozenset()  # what its actions need from a key

    def __post_init__(self) -> None:
        self.needs = frozenset(KMS_NEEDS.get(a) for a in self.actions)


@dataclass(slots=True, eq=False)
class BucketClass:
    """What a class of buckets keeps about its members: the principals asked about on its
    buckets that are not specific to the bucket they were asked on."""

    entries: dict[str, Entry] = field(default_factory=dict)  # candidates, but specific ones
    # principals specific to the class's first bucket, not yet asked about as members of the
    # class; None until a first bucket has been answered
    unknown: set[str] | None = None
    sheets: dict[Any, Sheet] = field(default_factory=dict)  # by key


@dataclass(slots=True, eq=False)
class Sheet:
    """The kept answers of a class's entries for one key (``None``: no key), ready to copy."""

    read: int = 0  # entries read so far, in the order they were added
    # read on a bucket they are specific to, so not answered yet
    pending: list[str] = field(default_factory=list)
    direct: dict[str, Outcome] = field(default_factory=dict)  # the answers
    used: dict[str, str] = field(default_factory=dict)  # the actions they use
    citing: list[str] = field(default_factory=list)  # answers citing the bucket policy
    per_bucket: list[str] = field(default_factory=list)  # answers not kept (``_kept``)


@dataclass(frozen=True, slots=True, eq=False)
class BucketView:
    """One bucket as its class sees it."""

    cls: BucketClass
    specific: frozenset[str]  # asked about on their own on this bucket
    answers_key: Any  # where answers on this bucket are kept in an entry, or ``NOT_KEPT``


@dataclass(slots=True)
class _Places:
    """Where the principals' own statements for some actions can match."""

    pinned: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    patterns: dict[Glob, set[str]] = field(default_factory=lambda: defaultdict(set))
    everywhere: set[str] = field(default_factory=set)  # specific to every bucket
    # the Resource patterns of statements that may match in any bucket: whether each one
    # matches each object is part of a bucket's class
    loose: dict[Glob, None] = field(default_factory=dict)
    loose_exact: set[str] = field(default_factory=set)
    # statements with policy variables in a Resource, by principal: where they match
    # depends on the principal's own values
    templated: dict[str, list[tuple[Statement, tuple[str, ...]]]] = field(
        default_factory=lambda: defaultdict(list))
    keys: set[str] = field(default_factory=set)  # context keys the statements read


@dataclass(frozen=True, slots=True)
class _ResourceSide:
    content: tuple[Any, ...]  # with placeholders
    named: frozenset[str]  # principals its placeholders stand for
    policies: tuple[NamedPolicy, ...]  # the distinct documents callers meet
    keys: frozenset[str]  # context keys its statements read


@dataclass(frozen=True, slots=True)
class _Guarded:
    """The RCPs of one account, as a class reads them."""

    policies: tuple[NamedPolicy, ...]
    keys: frozenset[str]  # context keys their statements read


class BucketClasses:
    """The classes of buckets of one analysis, and what each keeps (module docstring)."""

    LIMIT = 300_000  # entries kept at most; past it every class starts again empty

    def __init__(self, graph: PrincipalGraph, index: GrantIndex, evaluations: Evaluations,
                 keys: KeyAnswers):
        self.graph = graph
        self.index = index
        self.evaluations = evaluations
        self.keys = keys
        self._classes: dict[tuple[Any, ...], BucketClass] = {}
        self._kept = 0  # entries in all classes
        self._places: dict[tuple[str, ...], _Places] = {}
        self._sides: dict[str, tuple[BucketSide, _ResourceSide | None]] = {}
        self._guarded: dict[str, _Guarded | None] = {}
        self._by_request: dict[str, set[str]] | None = None
        self._by_role: dict[tuple[str | None, str], set[str]] | None = None
        self._own_values: dict[str, dict[str, set[str]]] = {}
        self._acting: dict[tuple[int, str], tuple[Any, bool]] = {}
        self._templated: dict[tuple[Any, ...],
                              tuple[list[Glob], list[tuple[Any, Glob]]] | None] = {}

    # --- one bucket ---------------------------------------------------------------------

    def view(self, side: BucketSide, key: KeySide | None, actions: tuple[str, ...],
             targets: Mapping[str, list[str]], context: Mapping[str, Any]) -> BucketView | None:
        """The bucket's class and who is specific to it; None when it shares nothing.
        ``context`` is the request context S3 adds for a user or role."""
        resource = self._resource_side(side)
        guarded = self._rcps(side.account)
        if resource is None or guarded is None:
            return None
        if self._kept > self.LIMIT:
            self._classes.clear()
            self._kept = 0
        places = self._places_of(actions)
        place = resource_key(side.arn)
        specific = set(places.everywhere) | resource.named
        specific.update(places.pinned.get(place, ()))
        for glob, holders in places.patterns.items():
            if glob.matches(place):
                specific |= holders
        read = places.keys | resource.keys | guarded.keys
        seen = tuple(sorted((k.lower(), v if isinstance(v, str) else tuple(v))
                            for k, v in context.items() if k.lower() in read))
        loose: dict[Any, Glob] = {}
        for arn, held in places.templated.items():
            found = self._templated_places(arn, held, side.account, seen, context)
            if found is None or any(glob.matches(place) for glob in found[0]):
                specific.add(arn)
            elif found[1]:
                loose.update(found[1])
        answers_key: Any = None
        if key is not None:
            answers_key = self.keys.identity(key) if self.keys.uniform(key) else NOT_KEPT
        asked = list(dict.fromkeys(t for a in actions for t in targets[a]))
        class_key = (actions, tuple(tuple(asked.index(t) for t in targets[a]) for a in actions),
                     side.account, seen, resource.content,
                     self._matched(resource.policies, actions, targets),
                     self._matched(guarded.policies, actions, targets),
                     tuple(t in places.loose_exact for t in asked),
                     tuple(tuple(glob.matches(t) for t in asked) for glob in places.loose),
                     tuple((chunks, tuple(glob.matches(t) for t in asked))
                           for chunks, glob in loose.items()))
        cls = self._classes.get(class_key)
        if cls is None:
            cls = self._classes[class_key] = BucketClass()
        return BucketView(cls, frozenset(specific), answers_key)

    def add(self, cls: BucketClass, arn: str, actions: list[str]) -> Entry:
        """A new member of a class, asked ``actions``."""
        self._kept += 1
        entry = cls.entries[arn] = Entry(actions)
        return entry

    def _matched(self, policies: tuple[NamedPolicy, ...], actions: tuple[str, ...],
                 targets: Mapping[str, list[str]]) -> tuple[Any, ...]:
        """Which statements of resource-side policies match each object (by index)."""
        found: list[Any] = []
        for policy in policies:
            for action in actions:
                for target in targets[action]:
                    matched = self.evaluations.matching(policy, action.lower(), target,
                                                        by_content=True)
                    found.append(None if matched is None else tuple(i for _, i in matched[0]))
        return tuple(found)

    def _rcps(self, account: str) -> _Guarded | None:
        """The account's RCPs; None when a class cannot describe them (a policy variable in
        a Resource, a policy the evaluator rejects): its buckets share nothing."""
        if account not in self._guarded:
            self._guarded[account] = self._read_rcps(account)
        return self._guarded[account]

    def _read_rcps(self, account: str) -> _Guarded | None:
        policies = tuple(p for level in self.graph.guardrails.rcps_of(account) or ()
                         for p in level)
        keys: set[str] = set()
        for policy in policies:
            try:
                parsed = policy_for(policy.document, source=policy.id)
            except InputError:
                return None  # the evaluator says why, principal by principal
            for statement in parsed.statements:
                if statement.resources is not None and statement.resources.templated:
                    return None
                keys |= Evaluations.statement_keys(statement)
        return _Guarded(policies, frozenset(keys))

    # --- the resource side, with placeholders -----------------------------------------------

    def _resource_side(self, side: BucketSide) -> _ResourceSide | None:
        found = self._sides.get(side.arn)
        if found is None or found[0] is not side:
            found = self._sides[side.arn] = (side, self._read_side(side))
        return found[1]

    def _read_side(self, side: BucketSide) -> _ResourceSide | None:
        if side.acl_statements:
            return None  # proofs cite ACLs of this bucket's objects
        named: set[str] = set()
        keys: set[str] = set()
        content: list[Any] = [side.restricted]
        policies: list[NamedPolicy] = []
        for policy in (side.for_signed, side.for_unsigned, side.for_owner_restricted):
            if policy is None:
                content.append(None)
                continue
            try:
                parsed = policy_for(policy.document, source=policy.id)
            except InputError:
                return None  # the evaluator says why, principal by principal
            placed = []
            for statement, raw in zip(parsed.statements, statements(policy.document),
                                      strict=True):
                if statement.not_principal or (statement.resources is not None
                                               and statement.resources.templated):
                    return None
                placed.append(self._placed(raw, statement, side.arn, named))
                keys |= Evaluations.statement_keys(statement)
            content.append(json.dumps({**policy.document, "Statement": placed}, sort_keys=True,
                                      default=str))
            if all(p.document is not policy.document for p in policies):
                policies.append(policy)
        return _ResourceSide(tuple(content), frozenset(named), tuple(policies), frozenset(keys))

    def _placed(self, raw: Mapping[str, Any], statement: Statement, bucket_arn: str,
                named: set[str]) -> dict[str, Any]:
        placed = dict(raw)
        for element in ("Resource", "NotResource"):
            if element in placed:
                placed[element] = _bucket_placed(placed[element], bucket_arn)
        principal = placed.get("Principal")
        if isinstance(principal, Mapping) and "AWS" in principal:
            values = []
            for value in as_list(principal["AWS"]):
                if _names_one(str(value)):
                    named.update(self._named_by(str(value)))
                    values.append(_NAMED)
                else:
                    values.append(value)
            placed["Principal"] = {**principal, "AWS": values}
        if statement.conditions and all(_own_literal(c) for c in statement.conditions):
            for clause in statement.conditions:
                named.update(self._valued(clause))
            condition: dict[str, dict[str, str]] = {}
            for clause in statement.conditions:
                condition.setdefault(clause.operator, {})[clause.key] = _NAMED
            placed["Condition"] = condition
        return placed

    def _named_by(self, value: str) -> set[str]:
        """The principals a Principal entry names by ARN: by their ARN, their request's ARN,
        or their role (``policy.PrincipalMatcher``)."""
        if self._by_request is None or self._by_role is None:
            self._by_request, self._by_role = defaultdict(set), defaultdict(set)
            for principal in self.graph:
                caller = caller_of(principal.caller.request_arn)
                self._by_request[principal.caller.request_arn].add(principal.arn)
                if caller.role_name is not None:
                    self._by_role[(caller.account, caller.role_name)].add(principal.arn)
        found = set(self._by_request.get(value, ()))
        if self.graph.get(aws_principal_id(value)) is not None:
            found.add(aws_principal_id(value))
        entry = caller_of(value)
        if entry.kind == "role" and entry.role_name is not None:
            found |= self._by_role.get((entry.account, entry.role_name), set())
        return found

    def _valued(self, clause: ConditionClause) -> set[str]:
        """The principals whose own value of the clause's key is one of its values (case
        aside): those for whom the clause may answer differently from everyone else."""
        index = self._own_values.get(clause.key_lower)
        if index is None:
            index = self._own_values[clause.key_lower] = defaultdict(set)
            for principal in self.graph:
                value = _own_value(principal, clause.key_lower)
                for item in ([value] if isinstance(value, str) else value or ()):
                    index[item.casefold()].add(principal.arn)
        return set().union(*(index.get(t.raw.casefold(), set()) for t in clause.values))

    # --- the principals' own statements ------------------------------------------------------

    def _templated_places(self, arn: str, held: list[tuple[Statement, tuple[str, ...]]],
                          account: str, seen: tuple[Any, ...], context: Mapping[str, Any]
                          ) -> tuple[list[Glob], list[tuple[Any, Glob]]] | None:
        """Where a principal's statements with policy variables in a Resource can match, its
        own values (and the bucket's context, alike in a class) filled in: place patterns,
        and patterns that may match in any bucket (tested per object, as loose ones). A
        variable without a value leaves the match undecided, or false, on every bucket.
        None: they may match anywhere in ways the class cannot tell (a NotResource)."""
        cache_key = (arn, account, seen)
        if cache_key in self._templated:
            return self._templated[cache_key]
        principal = self.graph.principals[arn]
        caller = principal.caller
        request = Request(principal=caller.request_arn, principal_account=caller.account,
                          action="", resource="", resource_account=account, open_world=True)
        values = RequestValues.from_context({**caller.keys, **context}, True,
                                            derived_keys(request, caller_of(caller.request_arn)))
        places: list[Glob] = []
        loose: list[tuple[Any, Glob]] = []
        found: tuple[list[Glob], list[tuple[Any, Glob]]] | None = (places, loose)
        for statement, patterns in held:
            if statement.not_resource or statement.resources is None:
                found = None
                break
            templates = {t.raw: t for t in statement.resources.templated}
            for text in patterns:
                template = templates.get(text)
                chunks = substitute(template, values) if template is not None \
                    else ((text, False),)
                if not isinstance(chunks, tuple):
                    continue  # UNKNOWN or NO_VALUE, whatever the resource
                place = place_pattern(chunks_text(chunks))
                if place is None:
                    loose.append((chunks, glob_from_chunks(chunks)))
                else:
                    places.append(place)
        self._templated[cache_key] = found
        return found

    def _places_of(self, actions: tuple[str, ...]) -> _Places:
        found = self._places.get(actions)
        if found is not None:
            return found
        found = self._places[actions] = _Places()
        summaries: dict[tuple[int, str, bool], _Summary | None] = {}
        for principal in self.graph:
            for policy in principal.own_policies():
                own = any(policy is p for p in principal.identity)
                cache_key = (id(policy.document), policy.id, own)
                if cache_key not in summaries:
                    summaries[cache_key] = self._summary(policy, actions, own, found)
                summary = summaries[cache_key]
                if summary is None:
                    found.everywhere.add(principal.arn)
                    continue
                for place in summary.pinned:
                    found.pinned[place].add(principal.arn)
                for glob in summary.patterns:
                    found.patterns[glob].add(principal.arn)
                if summary.templated:
                    found.templated[principal.arn].extend(summary.templated)
        return found

    def _summary(self, policy: NamedPolicy, actions: tuple[str, ...], identity: bool,
                 places: _Places) -> _Summary | None:
        """Where one policy's statements for the actions can match, as the evaluator and (for
        identity policies) the candidate filter read them; None: anywhere, per principal.
        Statements that may match in any bucket go to ``places``."""
        pinned: set[str] = set()
        patterns: set[Glob] = set()
        templated: dict[int, tuple[Statement, tuple[str, ...]]] = {}
        raw = statements(policy.document)
        for action in actions:
            service = action.split(":", 1)[0].lower()
            acting = self._acting.get((id(policy.document), service))
            if acting is None or acting[0] is not policy.document:
                acting = self._acting[(id(policy.document), service)] = (
                    policy.document, _may_act_on(policy.document, service))
            if not acting[1]:
                continue  # no statement of it can be for the action: no need to read it
            placement = self.evaluations.placement(policy, action.lower())
            if placement is None:
                return None
            places.keys |= placement.keys
            for st in placement.templated:
                templated[st.index] = (st, tuple(str(p) for p in
                                                 as_list(raw[st.index].get("Resource"))))
            pinned |= placement.pinned
            patterns.update(placement.patterns)
            for statement in placement.loose:
                if statement.resources is not None:
                    places.loose_exact.update(statement.resources.exact)
                    places.loose.update(dict.fromkeys(statement.resources.wildcards))
            if identity:
                self._index_places(policy, action, pinned, patterns, places)
        return _Summary(frozenset(pinned), frozenset(patterns), tuple(templated.values()))

    def _index_places(self, policy: NamedPolicy, action: str, pinned: set[str],
                      patterns: set[Glob], places: _Places) -> None:
        """``_summary`` as the candidate filter reads an identity policy."""
        for compiled in self.index.statements_of(policy):
            if compiled.any_resource or not compiled.found_for(action.lower()):
                continue
            for pattern in compiled.patterns:
                exact = pattern_key(pattern)
                glob = place_pattern(pattern) if exact is None else None
                if exact is not None:
                    pinned.add(exact)
                elif glob is not None:
                    patterns.add(glob)
                else:
                    for each in compiled.resources:
                        if each.exact is not None:
                            places.loose_exact.add(each.exact)
                        else:
                            places.loose[each] = None


@dataclass(frozen=True, slots=True)
class _Summary:
    pinned: frozenset[str]
    patterns: frozenset[Glob]
    templated: tuple[tuple[Statement, tuple[str, ...]], ...]


def _may_act_on(document: Any, service: str) -> bool:
    """Whether some statement of a document may be for an action of the (lower-cased)
    service, read from its text: a NotAction, or an Action naming the service or a wildcard
    one (a document the evaluator would reject is read by the evaluator, which says why)."""
    raw = document.get("Statement") if isinstance(document, Mapping) else None
    for statement in [raw] if isinstance(raw, Mapping) else raw if isinstance(raw, list) else [0]:
        if not isinstance(statement, Mapping) or "NotAction" in statement:
            return True
        for value in as_list(statement.get("Action")):
            if not isinstance(value, str):
                return True
            named = value.split(":", 1)[0].lower() if ":" in value else value
            if named == service or "*" in named or "?" in named:
                return True
    return False


def _bucket_placed(value: Any, bucket_arn: str) -> Any:
    if isinstance(value, list):
        return [_bucket_placed(v, bucket_arn) for v in value]
    if isinstance(value, str) and (value == bucket_arn or value.startswith(bucket_arn + "/")):
        return _BUCKET + value[len(bucket_arn):]
    return value


def _names_one(value: str) -> bool:
    """A Principal ``AWS`` entry naming one principal (not everyone, not an account)."""
    if value == "*" or "*" in value or "?" in value:
        return False
    caller = caller_of(aws_principal_id(value))
    return caller.kind in ("user", "role", "role-session", "federated-user")


def _own_literal(clause: ConditionClause) -> bool:
    """An equality test of a principal's own key against fixed values."""
    operator = clause.operator.lower()
    operator = operator.removesuffix("ifexists")
    return (not clause.qualifier and operator in _EQUALITY
            and (clause.key_lower in _OWN_KEYS or clause.key_lower.startswith(_OWN_TAG))
            and None not in clause.prepared
            and not any("*" in t.raw or "?" in t.raw for t in clause.values))


def _own_value(principal: Principal, key_lower: str) -> str | tuple[str, ...] | None:
    """A principal's value of one of its own keys, as the evaluator reads it."""
    caller = principal.caller
    request = Request(principal=caller.request_arn, principal_account=caller.account,
                      action="", resource="", resource_account=None, open_world=True)
    values = RequestValues.from_context(caller.keys, True,
                                        derived_keys(request, caller_of(caller.request_arn)))
    found = values.lookup(key_lower)
    return found if isinstance(found, str | tuple) else None


def cites(outcome: Outcome, policy_id: str) -> bool:
    return (any(s.policy == policy_id for s in outcome.steps)
            or any(c.get("policy") == policy_id for c in outcome.conditions))


def as_kept(outcome: Outcome | None, policy_id: str) -> Outcome | None:
    """An answer on one bucket as its class keeps it: citing the placeholder policy."""
    if outcome is None or not cites(outcome, policy_id):
        return outcome
    return outcome.renamed(policy_id, PLACEHOLDER_POLICY)


def as_given(answer: tuple[str, Outcome, bool] | None, policy_id: str) -> Answer | None:
    """A kept answer as one bucket gets it."""
    if answer is None:
        return None
    action, outcome, citing = answer
    return action, outcome.renamed(PLACEHOLDER_POLICY, policy_id) if citing else outcome


def keep(answer: Answer | None) -> tuple[str, Outcome, bool] | None:
    if answer is None:
        return None
    return answer[0], answer[1], cites(answer[1], PLACEHOLDER_POLICY)
