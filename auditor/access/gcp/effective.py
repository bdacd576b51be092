"""Who holds a permission on a resource, and the proof: GCP's effective-access rules.

1. Allow bindings are inherited: the resource's own policy, then its project, folders and
   organization. A binding counts when its role (predefined data or a custom role from the
   scan) includes the permission and its condition is not false at the audit time; a condition
   that cannot be decided, or a role whose permissions are not known, makes it conditional.
2. Convenience members (``projectEditor:P``...) and, when uniform bucket-level access is off,
   ACL entities, stand for the holders of a basic role directly on the project.
3. ``allUsers``/``allAuthenticatedUsers`` get nothing from a bucket whose public access
   prevention is enforced, on the bucket or by the organization policy.
4. Deny policies on the hierarchy remove (or, when undecidable, make conditional) what allow
   policies give.
5. Impersonation: whoever can act as a service account holding the permission holds it too,
   transitively, with the chain as the proof. A disabled account cannot act until re-enabled,
   so what reaches through it is conditional.

``Route`` is one proof; for each member the best is kept (allow before conditional, then the
shortest path). Notes say what the answer could not see (a policy not collected, ACLs...).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from auditor.access.gcp import cel, deny, members
from auditor.access.gcp.view import Binding, IamView, policy_not_collected
from auditor.access.model import Decision, PathStep
from auditor.inventory import Resource
from auditor.scanners.gcp import ids

# holding any of these on a service account lets a member act as it
IMPERSONATION_PERMISSIONS = (
    "iam.serviceAccounts.getAccessToken",
    "iam.serviceAccounts.signBlob",
    "iam.serviceAccounts.signJwt",
    "iam.serviceAccounts.implicitDelegation",
    "iam.serviceAccounts.actAs",
    "iam.serviceAccountKeys.create",
)

# what Cloud Storage ACL roles allow, as IAM permissions
_BUCKET_READER = frozenset({"storage.buckets.get", "storage.objects.list"})
_BUCKET_WRITER = _BUCKET_READER | {"storage.objects.create", "storage.objects.delete"}
BUCKET_ACL_PERMISSIONS = {
    "READER": _BUCKET_READER,
    "WRITER": _BUCKET_WRITER,
    "OWNER": _BUCKET_WRITER | {"storage.buckets.getIamPolicy", "storage.buckets.setIamPolicy",
                               "storage.buckets.update"},
}
OBJECT_ACL_PERMISSIONS = {
    "READER": frozenset({"storage.objects.get"}),
    "OWNER": frozenset({"storage.objects.get", "storage.objects.getIamPolicy",
                        "storage.objects.setIamPolicy", "storage.objects.update"}),
}
# service agents are Google-managed: nobody in the organization can impersonate them
_USER_MANAGED_ACCOUNT_SUFFIXES = (".iam.gserviceaccount.com", "@appspot.gserviceaccount.com",
                                  "-compute@developer.gserviceaccount.com")


@dataclass(frozen=True, slots=True)
class Route:
    decision: Decision
    path: tuple[PathStep, ...]
    conditions: tuple[dict[str, Any], ...] = ()

    def then(self, rest: Route) -> Route:
        """This hop followed by ``rest``."""
        decision: Decision = "allow" if self.decision == rest.decision == "allow" else "conditional"
        return Route(decision, self.path + rest.path, self.conditions + rest.conditions)

    def conditional(self, condition: dict[str, Any]) -> Route:
        return Route("conditional", self.path, (*self.conditions, condition))

    def rank(self) -> tuple[int, int]:
        return (0 if self.decision == "allow" else 1, len(self.path))


Routes = dict[str, Route]


@dataclass(slots=True)
class Answer:
    routes: Routes = field(default_factory=dict)
    # what could add principals to this answer (a policy that was not collected, say)
    notes: set[str] = field(default_factory=set)
    # what could only remove listed principals (deny policies that were not collected)
    caveats: set[str] = field(default_factory=set)

    def absorb(self, other: Answer) -> None:
        self.notes |= other.notes
        self.caveats |= other.caveats

    def offer(self, member: str, route: Route) -> bool:
        """Keep ``route`` if it beats what ``member`` has; True when it did."""
        known = self.routes.get(member)
        if known is None or route.rank() < known.rank():
            self.routes[member] = route
            return True
        return False


class AccessEngine:
    def __init__(self, view: IamView):
        self.view = view
        self._impersonators: dict[str, Answer] = {}

    # -- the public question -------------------------------------------------------------------------
    def holders(self, target: Resource, permission: str) -> Answer:
        """Every member that holds ``permission`` on ``target``, directly or by impersonation."""
        answer = self.direct(target, permission)
        for member, route in list(answer.routes.items()):
            answer.routes[member] = self._through_account(member, route)
        queue = deque(sorted(m for m in answer.routes if members.service_account_email(m)))
        while queue:
            account_member = queue.popleft()
            account = self._account(account_member, answer.notes)
            if account is None:
                continue
            impersonators = self.impersonators(account)
            answer.absorb(impersonators)
            for member, edge in sorted(impersonators.routes.items()):
                route = self._through_account(member, edge.then(answer.routes[account_member]))
                if answer.offer(member, route) and members.service_account_email(member):
                    queue.append(member)
        return answer

    def impersonators(self, account: Resource) -> Answer:
        """Members that can act as the service account ``account`` (one hop)."""
        if account.id not in self._impersonators:
            answer = Answer()
            for permission in IMPERSONATION_PERMISSIONS:
                direct = self.direct(account, permission)
                answer.absorb(direct)
                for member, route in direct.routes.items():
                    answer.offer(member, route)
            self._impersonators[account.id] = answer
        return self._impersonators[account.id]

    # -- one resource, no impersonation ------------------------------------------------------------------
    def direct(self, target: Resource, permission: str) -> Answer:
        answer = Answer()
        chain, missing = self.view.chain(target)
        answer.notes.update(policy_not_collected(chain, missing))
        variables = self.view.condition_variables(target, permission)
        is_bucket = target.type == ids.BUCKET
        for resource in chain:
            for binding in IamView.bindings(resource):
                route = self._binding_route(binding, permission, variables, answer)
                if route is None:
                    continue
                for member in sorted(binding.members):
                    step = PathStep(member, permission, binding.policy, binding.role)
                    # convenience members mean something only in a bucket's own policy
                    self._grant(answer, member, replace(route, path=(step,)),
                                expand=is_bucket and resource is target, variables=variables)
        if is_bucket and target.attributes.get("uniform_bucket_level_access") is False:
            self._acl_routes(target, permission, variables, answer)
        if is_bucket:
            self._public_access_prevention(target, answer)
        self._apply_deny(chain, permission, variables, answer)
        return answer

    def _binding_route(self, binding: Binding, permission: str | None, variables: dict[str, Any],
                       answer: Answer) -> Route | None:
        """The (path-less) route a binding gives for ``permission`` (None: whatever its role
        holds), or None when it gives nothing."""
        included = True if permission is None else self.view.roles.grants(binding.role, permission)
        if included is False:
            return None
        conditions: list[dict[str, Any]] = []
        if included is None:
            answer.notes.add(f"role {binding.role} (bound on {binding.policy}) is not in the role "
                             "data, so its permissions are not known")
            conditions.append({"policy": binding.policy, "role": binding.role,
                               "reason": "the role's permissions are not known"})
        if binding.condition:
            holds = cel.evaluate(binding.condition.get("expression") or "", variables)
            if holds is False:
                return None
            if holds is None:
                conditions.append({"policy": binding.policy, "role": binding.role, **binding.condition})
        return Route("conditional" if conditions else "allow", (), tuple(conditions))

    def _grant(self, answer: Answer, member: str, route: Route, *, expand: bool,
               variables: dict[str, Any]) -> None:
        """Record ``route`` for ``member``, resolving convenience members where they apply
        (bucket policies and ACLs: ``expand``)."""
        if members.is_deleted(member):
            return
        convenience = members.convenience(member) if expand else None
        if convenience is None:
            answer.offer(member, route)
            return
        project = self.view.project(convenience.project)
        if project is None:
            answer.offer(member, route)
            answer.notes.add(f"who {member} stands for is not known: project {convenience.project} "
                             "is not in the inventory")
            return
        # ACL entities name the project by number: report the IAM spelling, by project id
        member = f"{convenience.prefix}:{project.attributes.get('project_id') or convenience.project}"
        first, *rest = route.path
        route = replace(route, path=(replace(first, principal=member), *rest))
        answer.offer(member, route)
        if "iam_policy" in project.unknown:
            answer.notes.add(f"who {member} stands for is not known: the IAM policy of "
                             f"{project.id} was not collected")
        # holders of the basic role directly on the project (not inherited from above it)
        for binding in IamView.bindings(project):
            if binding.role != convenience.role:
                continue
            hop = self._binding_route(binding, None, variables, answer)
            if hop is None:
                continue
            for holder in sorted(binding.members):
                if members.is_deleted(holder) or members.convenience(holder):
                    continue
                step = PathStep(holder, member, project.id, convenience.role)
                answer.offer(holder, replace(hop, path=(step,)).then(route))

    def _acl_routes(self, bucket: Resource, permission: str, variables: dict[str, Any],
                    answer: Answer) -> None:
        attributes = bucket.attributes
        # only the sampled objects' ACLs are read; the others can grant what an object ACL can
        if any(permission in granted for granted in OBJECT_ACL_PERMISSIONS.values()):
            answer.notes.add("uniform bucket-level access is off: object ACLs, which are not "
                             "fully collected, can grant access to principals not listed here")
        sources = [("acl", f"{bucket.id}#acl", attributes.get("acl"), BUCKET_ACL_PERMISSIONS),
                   ("default_object_acl", f"{bucket.id}#defaultObjectAcl",
                    attributes.get("default_object_acl"), OBJECT_ACL_PERMISSIONS)]
        for item in attributes.get("object_sample") or []:
            if item.get("acl") is not None:
                sources.append(("object_sample", f"{bucket.id}/objects/{item['key']}#acl", item["acl"],
                                OBJECT_ACL_PERMISSIONS))
        for attribute, policy, entries, table in sources:
            if attribute in bucket.unknown and attribute != "object_sample":
                answer.notes.add(f"the {attribute} of {bucket.id} was not collected")
            for entry in entries or []:
                member = members.acl_member(entry["entity"])
                if member is None or permission not in table.get(entry["role"], ()):
                    continue
                step = PathStep(member, permission, policy, f"{entry['entity']}:{entry['role']}")
                self._grant(answer, member, Route("allow", (step,)), expand=True, variables=variables)

    def _public_access_prevention(self, bucket: Resource, answer: Answer) -> None:
        public = [m for m in answer.routes if m in members.PUBLIC_MEMBERS]
        if not public:
            return
        if bucket.attributes.get("public_access_prevention") == "enforced":
            blocked = True
        else:
            project = self.view.project(str(bucket.attributes.get("project_number") or bucket.account))
            blocked = bool(project and project.attributes.get("public_access_prevention_enforced"))
            if project is None or project.attributes.get("public_access_prevention_enforced") is None:
                answer.caveats.add("public access prevention is inherited and the organization policy "
                                 "storage.publicAccessPrevention was not collected: public access "
                                 "is counted as effective")
        if blocked:
            for member in public:
                del answer.routes[member]

    def _apply_deny(self, chain: list[Resource], permission: str,
                    variables: dict[str, Any], answer: Answer) -> None:
        policies: list[dict[str, Any]] = []
        not_collected = []
        for node in chain:
            if node.type not in ids.HIERARCHY_TYPES:
                continue
            if "deny_policies" in node.unknown:
                not_collected.append(node.id)
            policies.extend(node.attributes.get("deny_policies") or [])
        if not_collected:
            answer.caveats.add(f"the IAM deny policies of {', '.join(not_collected)} were not collected; "
                             "they could only remove access listed here")
        if not policies:
            return
        for member, route in list(answer.routes.items()):
            verdict = deny.check(policies, member, permission, variables, self.view.organization_domains)
            if verdict.denied:
                del answer.routes[member]
            elif verdict.denied is None:
                answer.routes[member] = route.conditional(
                    {"deny_policy": verdict.policy, **(verdict.condition or {}),
                     "reason": "a deny policy may apply (group membership or its condition "
                               "is not known)"})

    # -- service accounts ---------------------------------------------------------------------------------
    def _account(self, member: str, notes: set[str]) -> Resource | None:
        email = members.service_account_email(member) or ""
        account = self.view.service_accounts.get(email)
        if account is None and email.endswith(_USER_MANAGED_ACCOUNT_SUFFIXES):
            notes.add(f"who can act as {member} is not known: the account is not in the inventory")
        return account

    def _through_account(self, member: str, route: Route) -> Route:
        email = members.service_account_email(member)
        account = self.view.service_accounts.get(email) if email else None
        if account is not None and account.attributes.get("disabled"):
            return route.conditional({"principal": member,
                                      "reason": "the service account is disabled; this access "
                                                "returns if it is enabled again"})
        return route
