"""IAM deny policies: checked before allow policies, inherited down the hierarchy.

A rule denies a principal a permission when the permission matches ``deniedPermissions`` (v2
names, ``storage.googleapis.com/objects.get``, ``*`` wildcards allowed) and not
``exceptionPermissions``, the principal matches ``deniedPrincipals`` and not
``exceptionPrincipals``, and the ``denialCondition`` (if any) holds. Group membership is not
known, so a rule naming a group decides nothing about a user: the answer is unknown, and the
grant becomes conditional rather than silently kept or dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from auditor.access.gcp import cel, members

PUBLIC_ALL = "principalSet://goog/public:all"
_SUBJECT = "principal://goog/subject/"
_SERVICE_ACCOUNT = "principal://iam.googleapis.com/projects/-/serviceAccounts/"
_GROUP = "principalSet://goog/group/"
_CUSTOMER = "principalSet://goog/cloudIdentityCustomerId/"
# v1 service prefixes whose v2 service name is not PREFIX.googleapis.com
_SERVICE_NAMES = {"resourcemanager": "cloudresourcemanager.googleapis.com"}


@dataclass(frozen=True, slots=True)
class DenyVerdict:
    denied: bool | None  # True: denied; None: may be denied
    policy: str | None = None
    condition: dict[str, Any] | None = None


NOT_DENIED = DenyVerdict(False)


def v2_permission(permission: str) -> str:
    """``storage.objects.get`` -> ``storage.googleapis.com/objects.get``."""
    service, _, rest = permission.partition(".")
    return f"{_SERVICE_NAMES.get(service, service + '.googleapis.com')}/{rest}"


def _matches_permission(patterns: Iterable[str], permission: str) -> bool:
    return any(fnmatchcase(permission, pattern) for pattern in patterns)


def principal_matches(identifier: str, member: str, domains: Mapping[str, str]) -> bool | None:
    """Whether a v2 principal identifier covers an IAM member (None: cannot tell)."""
    if identifier == PUBLIC_ALL:
        return True
    lowered = member.lower()
    if identifier.startswith(_SUBJECT):
        return lowered == "user:" + identifier[len(_SUBJECT):].lower()
    if identifier.startswith(_SERVICE_ACCOUNT):
        return lowered == "serviceaccount:" + identifier[len(_SERVICE_ACCOUNT):].lower()
    if identifier.startswith(_GROUP):
        if lowered == "group:" + identifier[len(_GROUP):].lower():
            return True
        kind, _ = members.describe(member)
        # a person or workload may belong to the group; a whole domain or the public does not
        return None if kind in ("user", "service-account", "group") else False
    if identifier.startswith(_CUSTOMER):
        domain = domains.get(identifier[len(_CUSTOMER):])
        if not domain:
            return None
        if lowered == f"domain:{domain.lower()}":
            return True
        return members.email_domain(member) == domain.lower() if not member.startswith(
            "serviceAccount:") else False
    return identifier == member


def _any_principal(identifiers: Iterable[str], member: str, domains: Mapping[str, str]) -> bool | None:
    verdicts = [principal_matches(i, member, domains) for i in identifiers]
    return True if True in verdicts else (None if None in verdicts else False)


def check(deny_policies: Iterable[Mapping[str, Any]], member: str, permission: str,
          variables: Mapping[str, Any], domains: Mapping[str, str]) -> DenyVerdict:
    """The strongest verdict of any rule of ``deny_policies`` for this member and permission."""
    wanted = v2_permission(permission)
    maybe: DenyVerdict | None = None
    for policy in deny_policies:
        for rule in policy.get("rules") or []:
            if not _matches_permission(rule.get("deniedPermissions") or (), wanted):
                continue
            if _matches_permission(rule.get("exceptionPermissions") or (), wanted):
                continue
            covered = _any_principal(rule.get("deniedPrincipals") or (), member, domains)
            excepted = _any_principal(rule.get("exceptionPrincipals") or (), member, domains)
            if covered is False or excepted is True:
                continue
            condition = rule.get("denialCondition")
            holds = cel.evaluate(condition["expression"], variables) if condition else True
            if holds is False:
                continue
            verdict = DenyVerdict(True if (covered and excepted is False and holds) else None,
                                  policy.get("name"), condition)
            if verdict.denied:
                return verdict
            maybe = maybe or verdict
    return maybe or NOT_DENIED
