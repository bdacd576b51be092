"""IAM members: what kind of principal each one is, and the special forms.

Members are reported exactly as policies write them (``user:a@b.com``, ``group:...``,
``serviceAccount:...``, ``domain:...``, ``allUsers``, ``allAuthenticatedUsers``,
``principal://`` and ``principalSet://`` for federated identities). ``deleted:`` members
grant nothing and never stand for the live account they name. The convenience members
``projectOwner:P`` / ``projectEditor:P`` / ``projectViewer:P`` (and the ACL entities
``project-owners-NUMBER``...) stand for whoever holds the matching basic role on project P.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.access.model import PrincipalKind

ALL_USERS = "allUsers"
ALL_AUTHENTICATED_USERS = "allAuthenticatedUsers"
PUBLIC_MEMBERS = frozenset({ALL_USERS, ALL_AUTHENTICATED_USERS})
SERVICE_ACCOUNT_PREFIX = "serviceAccount:"

# convenience member prefix -> the basic role its principals hold on the project
CONVENIENCE_ROLES = {"projectOwner": "roles/owner", "projectEditor": "roles/editor",
                     "projectViewer": "roles/viewer"}
_ACL_TEAMS = {"owners": "projectOwner", "editors": "projectEditor", "viewers": "projectViewer"}


@dataclass(frozen=True, slots=True)
class Convenience:
    prefix: str  # projectOwner, projectEditor, projectViewer
    project: str  # a project id (IAM) or number (ACL entities)

    @property
    def role(self) -> str:
        return CONVENIENCE_ROLES[self.prefix]

    @property
    def member(self) -> str:
        return f"{self.prefix}:{self.project}"


def is_deleted(member: str) -> bool:
    return member.startswith("deleted:")


def convenience(member: str) -> Convenience | None:
    prefix, _, project = member.partition(":")
    return Convenience(prefix, project) if prefix in CONVENIENCE_ROLES and project else None


def service_account_email(member: str) -> str | None:
    return member[len(SERVICE_ACCOUNT_PREFIX):].lower() if member.startswith(SERVICE_ACCOUNT_PREFIX) else None


def describe(member: str) -> tuple[PrincipalKind, bool | None]:
    """The principal kind, and whether it is a person (None: cannot tell)."""
    if member in PUBLIC_MEMBERS:
        return "public", None
    prefix = member.split(":", 1)[0]
    if prefix == "user":
        return "user", True
    if prefix == "serviceAccount":
        return "service-account", False
    if prefix == "domain":
        return "domain", None
    if prefix in ("group", *CONVENIENCE_ROLES):
        return "group", None
    if member.startswith("principal://") and "/workforcePools/" in member:
        return "user", True  # one person from the workforce identity provider
    if member.startswith(("principal://", "principalSet://")) and "/workforcePools/" in member:
        return "group", None
    # workload identity federation: workloads of an external identity provider
    return "external-account", False if "/workloadIdentityPools/" in member else None


def acl_member(entity: str) -> str | None:
    """A Cloud Storage ACL entity as an IAM member (``project-*`` as a convenience member
    naming the project by number); None for an entity form this does not know."""
    if entity in PUBLIC_MEMBERS:
        return entity
    kind, _, rest = entity.partition("-")
    if kind == "project":
        team, _, number = rest.partition("-")
        return f"{_ACL_TEAMS[team]}:{number}" if team in _ACL_TEAMS and number else None
    if kind == "user" and rest:
        # service accounts appear in ACLs as user-EMAIL
        prefix = "serviceAccount" if rest.lower().endswith(".gserviceaccount.com") else "user"
        return f"{prefix}:{rest}"
    if kind in ("group", "domain") and rest:
        return f"{kind}:{rest}"
    return None


def email_domain(member: str) -> str | None:
    _, _, identity = member.partition(":")
    return identity.rsplit("@", 1)[1].lower() if "@" in identity else None
