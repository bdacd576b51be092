"""AWS policy evaluation, as AWS documents it ('Policy evaluation logic').

CONTRACT (the analyzer and `audit simulate` are written against this; keep it stable):

    result = evaluate(request, policies)

* ``Request``: who asks for what. ``context`` holds the request-context keys whose values are
  known. With ``open_world=False`` (``audit simulate``: the case lists the whole context) a key
  missing from ``context`` is *absent*. With ``open_world=True`` (auditing a real account, where
  source IP, time, MFA, VPC endpoint... are not known in advance) a key missing from
  ``context`` is *unknown*, and a condition that depends on it makes the answer
  ``conditional`` rather than a silent allow or deny.
* ``PolicySet``: every policy that applies, each a ``NamedPolicy`` whose ``id`` names it in
  proofs (``arn:aws:iam::1:policy/x``, ``arn:aws:iam::1:user/bob#inline:weights-read``,
  ``arn:aws:s3:::bucket#bucket-policy``, ``arn:aws:kms:...:key/...#key-policy``,
  ``arn:aws:iam::1:role/r#trust-policy``...).
* ``resource_policy_kind`` decides the documented exceptions: a KMS key policy and a role
  trust policy must allow on their own (IAM policies alone never grant a key or a role
  assumption); an S3 bucket policy does not need to.
* ``guardrails(request, policies)`` decides the SCP and RCP levels alone; ``evaluate`` allows
  exactly when they and the other policies (without SCPs and RCPs) both allow, and denies when
  either denies, so that an analyzer may ask the two apart and remember each on its own.
* ``Result.decision``: ``allow``, ``implicit-deny``, ``explicit-deny`` or ``conditional``.
  ``allowed_by`` / ``denied_by`` are the statements that decided it (the proof);
  ``conditions`` the condition blocks that could not be decided (for ``conditional``).

HOW IT DECIDES (the rules of 'Policy evaluation logic', as the project's IAM cases spell them):

1. Any applicable Deny, in any policy that applies (identity, resource-based, boundary,
   session, SCPs of the principal's account, RCPs of the resource's account) -> explicit-deny.
2. The principal's side is identity policies AND boundary AND session policy (the root user
   needs no policy in its own account). The resource's side is the resource-based policy,
   whose Allow names the caller directly (user, session, root, service, identity provider),
   by ``*``, by its role, or by its account.
3. Same account: the identity side OR a resource grant, where a grant to the role is still
   limited by the boundary and session policy, a grant to the account needs the identity side,
   and a direct or ``*`` grant needs nothing more. KMS key policies and trust policies must
   allow on their own (a trust policy's direct grant still needs the caller's boundary).
   Cross account: both sides. No principal account (anonymous, services, identity providers):
   the resource side alone.
4. SCP and RCP levels must each have an applicable Allow.

Statements evaluate to true, false or undecided (``open_world``: a condition on a key the
context does not give); undecided answers combine three-valued, so an undecided Allow that
matters, or an undecided Deny over an allowed request, yields ``conditional``. Each
``conditions`` entry is ``{"policy", "statement", "effect", "condition": <the statement's
Condition block>, "undecided": ["<Operator> <key>", ... or "Resource"]}``; for a conditional
answer ``denied_by`` lists the Deny statements that might apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from auditor.access.aws.conditions import Tri, evaluate_conditions
from auditor.access.aws.policy import Caller, Mode, Statement, caller_of, policy_for
from auditor.access.aws.variables import RequestValues
from auditor.errors import InputError

Decision = Literal["allow", "implicit-deny", "explicit-deny", "conditional"]
ResourcePolicyKind = Literal["generic", "s3", "kms", "trust"]


@dataclass(frozen=True, slots=True)
class Request:
    principal: str  # an ARN, "*" (anonymous), a service principal, or an identity-provider ARN
    principal_account: str | None
    action: str
    resource: str
    resource_account: str | None
    context: Mapping[str, str | list[str]] = field(default_factory=dict)
    open_world: bool = False


@dataclass(frozen=True, slots=True)
class NamedPolicy:
    id: str
    document: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PolicySet:
    identity: Sequence[NamedPolicy] = ()
    resource: NamedPolicy | None = None
    resource_policy_kind: ResourcePolicyKind = "generic"
    boundary: NamedPolicy | None = None
    session: NamedPolicy | None = None
    # levels from the organization root down to the account; None = not governed
    scps: Sequence[Sequence[NamedPolicy]] | None = None
    rcps: Sequence[Sequence[NamedPolicy]] | None = None


@dataclass(frozen=True, slots=True)
class StatementRef:
    policy: str  # NamedPolicy.id
    statement: str  # the Sid, or "#<index>" when the statement has none
    effect: Literal["Allow", "Deny"]


@dataclass(frozen=True, slots=True)
class Result:
    decision: Decision
    allowed_by: tuple[StatementRef, ...] = ()
    denied_by: tuple[StatementRef, ...] = ()
    conditions: tuple[dict[str, Any], ...] = ()


# --- evaluation ---------------------------------------------------------------------------------
#
# Each statement that applies is a _Hit, True (applies) or None (applies if undecided conditions
# hold). Layers combine hits with three-valued AND/OR (_Verdict), keeping the hits that made the
# answer, which become the proof.


@dataclass(frozen=True, slots=True)
class _Hit:
    ref: StatementRef
    value: Tri  # True or None; statements that do not apply are not hits
    mode: Mode
    statement: Statement
    undecided: tuple[str, ...]  # what could not be decided: "Operator key" or "Resource"


@dataclass(frozen=True, slots=True)
class _Verdict:
    value: Tri
    hits: tuple[_Hit, ...] = ()


_TRUE = _Verdict(True)
_FALSE = _Verdict(False)


def _any_hit(hits: Sequence[_Hit]) -> _Verdict:
    sure = tuple(hit for hit in hits if hit.value)
    if sure:
        return _Verdict(True, sure)
    return _Verdict(None, tuple(hits)) if hits else _FALSE


def _both(*verdicts: _Verdict) -> _Verdict:
    if any(verdict.value is False for verdict in verdicts):
        return _FALSE
    value = None if any(verdict.value is None for verdict in verdicts) else True
    return _Verdict(value, tuple(hit for verdict in verdicts for hit in verdict.hits))


def _either(*verdicts: _Verdict) -> _Verdict:
    for wanted in (True, None):
        chosen = [verdict for verdict in verdicts if verdict.value is wanted]
        if chosen:
            return _Verdict(wanted, tuple(hit for verdict in chosen for hit in verdict.hits))
    return _FALSE


@dataclass(slots=True)
class _Layer:
    allows: list[_Hit] = field(default_factory=list)
    denies: list[_Hit] = field(default_factory=list)


def evaluate(request: Request, policies: PolicySet) -> Result:
    """Decide ``request`` under ``policies`` as AWS documents it; see the module docstring."""
    return _Evaluation(request, policies).decide()


def guardrails(request: Request, policies: PolicySet) -> Result:
    """Whether the SCPs and RCPs of ``policies`` let ``request`` through, the other policies
    aside: ``allow`` when every level allows and nothing denies. ``evaluate`` allows exactly
    when this and the same policies without SCPs and RCPs both allow, and denies when either
    denies (the layers only meet in step 1 and 4)."""
    return _Evaluation(request, policies).guardrails()


class _Evaluation:
    __slots__ = ("action", "boundary_forces_deny", "caller", "policies", "request", "values")

    def __init__(self, request: Request, policies: PolicySet):
        _check(request)
        self.request = request
        self.policies = policies
        self.caller = caller_of(request.principal)
        self.action = request.action.lower()
        derived = derived_keys(request, self.caller) if request.open_world else None
        self.values = RequestValues.from_context(request.context, request.open_world, derived)
        # 'Permissions boundaries for IAM entities': a Deny with NotPrincipal always denies an
        # IAM user or role that has a permissions boundary, whatever the NotPrincipal lists
        self.boundary_forces_deny = policies.boundary is not None and self.caller.can_have_boundary

    def decide(self) -> Result:
        policies = self.policies
        identity = self._scan_all(policies.identity)
        boundary = self._scan(policies.boundary) if policies.boundary is not None else None
        session = self._scan(policies.session) if policies.session is not None else None
        resource = (self._scan(policies.resource, names_principals=True)
                    if policies.resource is not None else _Layer())
        scp_levels, rcp_levels = self._org_levels()
        layers = [identity, resource, *(x for x in (boundary, session) if x is not None),
                  *(scp_levels or ()), *(rcp_levels or ())]
        return self._verdict(layers, _both(
            self._principal_side(identity, boundary, session, resource),
            _levels_allow(scp_levels), _levels_allow(rcp_levels)))

    def guardrails(self) -> Result:
        """Step 1 and 4 for the SCP and RCP levels alone."""
        scp_levels, rcp_levels = self._org_levels()
        return self._verdict([*(scp_levels or ()), *(rcp_levels or ())],
                             _both(_levels_allow(scp_levels), _levels_allow(rcp_levels)))

    def _org_levels(self) -> tuple[list[_Layer] | None, list[_Layer] | None]:
        policies = self.policies
        # SCPs govern the principal's account; callers with no account (anonymous, services,
        # identity providers) are outside any organization's SCPs
        scp_levels = ([self._scan_all(level) for level in policies.scps]
                      if policies.scps is not None and self.request.principal_account else None)
        rcp_levels = ([self._scan_all(level) for level in policies.rcps]
                      if policies.rcps is not None else None)
        return scp_levels, rcp_levels

    @staticmethod
    def _verdict(layers: Sequence[_Layer], allowed: _Verdict) -> Result:
        """Any applicable Deny of ``layers`` denies; else ``allowed`` decides."""
        denies = [hit for layer in layers for hit in layer.denies]
        certain = [hit for hit in denies if hit.value]
        if certain:
            return Result("explicit-deny", denied_by=_refs(certain))
        if allowed.value is False:
            return Result("implicit-deny")
        if allowed.value and not denies:
            return Result("allow", allowed_by=_refs(allowed.hits))
        undecided = [hit for hit in (*allowed.hits, *denies) if hit.value is None]
        return Result("conditional", allowed_by=_refs(allowed.hits), denied_by=_refs(denies),
                      conditions=tuple(_describe(hit) for hit in undecided))

    def _principal_side(self, identity: _Layer, boundary: _Layer | None, session: _Layer | None,
                        resource: _Layer) -> _Verdict:
        """Whether identity and resource-based policies allow, before SCPs and RCPs."""
        request = self.request
        boundary_ok = _any_hit(boundary.allows) if boundary is not None else _TRUE
        session_ok = _any_hit(session.allows) if session is not None else _TRUE
        if self.caller.kind == "root":
            identity_side = _TRUE  # the root user needs no policy in its own account
        else:
            identity_side = _both(_any_hit(identity.allows), boundary_ok, session_ok)
        granted = _any_hit(resource.allows)
        if not request.principal_account:
            return granted  # no identity side at all: only the resource can allow
        if request.resource_account and request.resource_account != request.principal_account:
            # 'Cross-account policy evaluation logic': both accounts must allow
            return _both(identity_side, granted)
        return self._same_account(identity_side, boundary_ok, session_ok, resource)

    def _same_account(self, identity_side: _Verdict, boundary_ok: _Verdict, session_ok: _Verdict,
                      resource: _Layer) -> _Verdict:
        """'Policy evaluation logic' within one account: identity OR resource policy, where what
        a resource-based grant still needs depends on how its Principal names the caller."""
        kind = self.policies.resource_policy_kind
        paths = [] if kind in _MUST_ALLOW_ON_THEIR_OWN else [identity_side]
        if resource.allows:
            # a trust policy naming a user directly needs no identity policy, but the user's
            # boundary must allow sts:AssumeRole ('Update a role trust policy')
            direct_needs = boundary_ok if kind == "trust" else _TRUE
            needs = {Mode.DIRECT: direct_needs, Mode.EVERYONE: direct_needs,
                     Mode.ROLE: _both(boundary_ok, session_ok), Mode.ACCOUNT: identity_side}
            for mode, needed in needs.items():
                hits = [hit for hit in resource.allows if hit.mode is mode]
                if hits:
                    paths.append(_both(_any_hit(hits), needed))
        return _either(*paths)

    def _scan_all(self, named: Iterable[NamedPolicy]) -> _Layer:
        layer = _Layer()
        for policy in named:
            self._scan(policy, layer=layer)
        return layer

    def _scan(self, named: NamedPolicy, *, names_principals: bool = False,
              layer: _Layer | None = None) -> _Layer:
        """The statements of one policy that apply (or may apply) to the request."""
        layer = layer if layer is not None else _Layer()
        policy = policy_for(named.document, source=named.id)
        for statement in policy.statements_for(self.action):
            if statement.principals is None and not names_principals:
                mode: Mode | None = Mode.DIRECT  # the policy's own principal
            else:
                mode = self._principal_mode(statement, names_principals)
                if mode is None:
                    continue
            resource_match = statement.matches_resource(self.request.resource, self.values)
            if resource_match is False:
                continue
            undecided: tuple[str, ...] = () if resource_match else ("Resource",)
            if statement.conditions:
                holds, clauses = evaluate_conditions(statement.conditions, self.values)
                if holds is False:
                    continue
                undecided += tuple(f"{c.operator} {c.key}" for c in clauses)
            hit = _Hit(StatementRef(named.id, statement.label, statement.effect),
                       None if undecided else True, mode, statement, undecided)
            (layer.allows if statement.effect == "Allow" else layer.denies).append(hit)
        return layer

    def _principal_mode(self, statement: Statement, names_principals: bool) -> Mode | None:
        principals = statement.principals
        if principals is None:
            # identity policies, boundaries, session policies and SCPs apply to their principal;
            # a resource-based statement that names nobody grants or denies nobody
            return None if names_principals else Mode.DIRECT
        if not statement.not_principal:
            return principals.mode(self.caller)
        if statement.effect == "Deny" and self.boundary_forces_deny:
            return Mode.EVERYONE
        return None if principals.lists(self.caller) else Mode.EVERYONE


_MUST_ALLOW_ON_THEIR_OWN: frozenset[str] = frozenset({"kms", "trust"})


def _check(request: Request) -> None:
    for name in ("principal", "action", "resource"):
        if not isinstance(getattr(request, name), str):
            raise InputError("must be a string", source="request", location=name)
    for name in ("principal_account", "resource_account"):
        if not isinstance(getattr(request, name), str | None):
            raise InputError("must be a string or None", source="request", location=name)
    if not isinstance(request.context, Mapping):
        raise InputError("must be a mapping of context keys to values", source="request",
                         location="context")


def _levels_allow(levels: list[_Layer] | None) -> _Verdict:
    """SCPs and RCPs: every level from the root to the account must have an applicable Allow."""
    if levels is None:
        return _TRUE
    return _both(*(_any_hit(level.allows) for level in levels))


def _refs(hits: Iterable[_Hit]) -> tuple[StatementRef, ...]:
    return tuple(dict.fromkeys(hit.ref for hit in hits))


def _describe(hit: _Hit) -> dict[str, Any]:
    return {"policy": hit.ref.policy, "statement": hit.ref.statement, "effect": hit.ref.effect,
            "condition": dict(hit.statement.condition_block or {}),
            "undecided": list(hit.undecided)}


def derived_keys(request: Request, caller: Caller) -> dict[str, str]:
    """Global keys AWS always sets that follow from the request itself (open world only: in a
    closed world the context given is the whole context)."""
    keys: dict[str, str] = {}
    partition = caller.principal.split(":", 2)[1] if caller.principal.startswith("arn:") else "aws"
    if caller.kind == "role-session" and caller.role_name and caller.account:
        # a session's aws:PrincipalArn is its role's ARN (without a role path, which the
        # session ARN does not carry: callers that know the path put the key in the context)
        keys["aws:principalarn"] = f"arn:{partition}:iam::{caller.account}:role/{caller.role_name}"
    elif caller.kind in ("user", "role", "root", "federated-user"):
        keys["aws:principalarn"] = caller.principal
    if caller.kind == "user":
        keys["aws:username"] = caller.principal.rsplit("/", 1)[-1]
    if caller.kind == "service":
        keys["aws:principalisawsservice"] = "true"
        keys["aws:principalservicename"] = caller.principal
    elif caller.kind in ("user", "root", "role", "role-session", "federated-user"):
        keys["aws:principalisawsservice"] = "false"
    if request.principal_account:
        keys["aws:principalaccount"] = request.principal_account
    if request.resource_account:
        keys["aws:resourceaccount"] = request.resource_account
    return keys


def infer_resource_policy_kind(action: str, resource: str) -> ResourcePolicyKind:
    """Which documented exception applies to the resource-based policy of ``resource``."""
    service = resource.split(":", 3)[2] if resource.count(":") >= 3 else ""
    if service == "iam" and ":role/" in resource and action.lower().startswith("sts:"):
        return "trust"
    if service == "kms":
        return "kms"
    if service == "s3":
        return "s3"
    return "generic"
