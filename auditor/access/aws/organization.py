"""The guardrails of an AWS organization: which SCPs and RCPs govern which account.

Read from the inventory's ``aws.organizations.account`` and ``aws.organizations.policy``
records (docs/inventory.md), as levels from the root down to the account, the shape
``evaluator.PolicySet.scps`` / ``.rcps`` take. As AWS documents them ('Service control
policies', 'Resource control policies'):

* **SCPs** govern the principals of a member account: its root user, users and roles, and
  principals of it named in a policy but not scanned. Not service-linked roles, not AWS
  service principals, not anonymous callers (the evaluator applies SCPs only to a caller with
  an account), not the management account (its levels are ``null``), and not accounts
  outside the organization (no record: nothing governs them here).
* **RCPs** govern the resources of a member account, whoever calls: principals of other
  accounts, anonymous callers and AWS service principals alike, but not requests made by a
  service-linked role, and not AWS managed KMS keys. Here: S3 buckets, customer managed KMS
  keys and role assumption (STS), all services RCPs support.

Accounts with the same levels share one ``Levels`` object, and a policy is one
``NamedPolicy`` wherever it is attached, so that the evaluations memo
(``context.Evaluations``) reads each level's statements once per action.

Levels that cannot be known (the tree, a policy's targets or document not collected) are
left out: SCPs and RCPs never grant, so without them an answer can only be too generous, and
each such account is a *gap* that ``AssetAccess.may_not_hold`` names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.access.aws.evaluator import NamedPolicy
from auditor.inventory import Inventory, Resource

ACCOUNT_TYPE = "aws.organizations.account"
POLICY_TYPE = "aws.organizations.policy"
ORGANIZATIONS_TYPES = "aws.organizations."
SCP_ATTRIBUTE = "service_control_policies"
RCP_ATTRIBUTE = "resource_control_policies"
PARENTS_ATTRIBUTE = "parents"

# levels from the root down to the account, each the policies attached there
Levels = tuple[tuple[NamedPolicy, ...], ...]


@dataclass(frozen=True, slots=True)
class Guardrails:
    """SCP and RCP levels per account of the organizations an inventory holds."""

    scps: Mapping[str, Levels] = field(default_factory=dict)  # governed, levels known
    rcps: Mapping[str, Levels] = field(default_factory=dict)
    # governed accounts whose levels are not known, and why
    scp_gaps: Mapping[str, str] = field(default_factory=dict)
    rcp_gaps: Mapping[str, str] = field(default_factory=dict)
    org_ids: Mapping[str, str] = field(default_factory=dict)  # member account -> o-...

    def scps_of(self, account: str | None) -> Levels | None:
        return self.scps.get(account) if account else None

    def rcps_of(self, account: str | None) -> Levels | None:
        return self.rcps.get(account) if account else None

    def scp_gap(self, account: str | None) -> str | None:
        """Why grants to the account's principals may not hold; None when nothing is missing."""
        why = self.scp_gaps.get(account) if account else None
        return None if why is None else (
            f"the SCPs of account {account} are not known ({why}): they could only deny, so "
            "grants to its principals may not hold")

    def rcp_gap(self, account: str | None) -> str | None:
        """Why grants on the account's resources may not hold; None when nothing is missing."""
        why = self.rcp_gaps.get(account) if account else None
        return None if why is None else (
            f"the RCPs of account {account} are not known ({why}): they could only deny, so "
            "grants on its resources may not hold")


NO_GUARDRAILS = Guardrails()


def read_guardrails(inventory: Inventory) -> Guardrails:
    """The guardrails of every member account the inventory lists (none without
    Organizations data: a single-account scan is governed by nothing it can see)."""
    accounts = list(inventory.of_type(ACCOUNT_TYPE))
    if not accounts:
        return NO_GUARDRAILS
    reader = _Reader({r.id: r for r in inventory.of_type(POLICY_TYPE)})
    scps: dict[str, Levels] = {}
    rcps: dict[str, Levels] = {}
    scp_gaps: dict[str, str] = {}
    rcp_gaps: dict[str, str] = {}
    org_ids: dict[str, str] = {}
    for record in sorted(accounts, key=lambda r: r.id):
        account = str(record.attributes.get("account_id") or record.account)
        org_id = record.attributes.get("organization_id")
        if isinstance(org_id, str) and org_id:
            org_ids[account] = org_id
        for attribute, known, gaps in ((SCP_ATTRIBUTE, scps, scp_gaps),
                                       (RCP_ATTRIBUTE, rcps, rcp_gaps)):
            found = reader.levels(record, attribute)
            if isinstance(found, str):
                gaps[account] = found
            elif found is not None:
                known[account] = found
    return Guardrails(scps, rcps, scp_gaps, rcp_gaps, org_ids)


@dataclass(slots=True)
class _Reader:
    policies: Mapping[str, Resource]
    _named: dict[str, NamedPolicy | str] = field(default_factory=dict)
    _levels: dict[tuple[tuple[str, ...], ...], Levels] = field(default_factory=dict)

    def levels(self, record: Resource, attribute: str) -> Levels | str | None:
        """The account's levels; None when nothing governs it; a reason when not known."""
        if attribute in record.unknown or PARENTS_ATTRIBUTE in record.unknown:
            return f"{record.id}: {attribute} not collected"
        raw = record.attributes.get(attribute)
        if raw is None:
            return None  # the management account, or the policy type is not enabled
        if not _is_levels(raw):
            return f"{record.id}: {attribute} is not a list of levels"
        arns = tuple(tuple(sorted(str(p) for p in level["policies"])) for level in raw)
        found = self._levels.get(arns)
        if found is None:
            built: list[tuple[NamedPolicy, ...]] = []
            for level in arns:
                policies = [self._policy(arn) for arn in level]
                missing = next((p for p in policies if isinstance(p, str)), None)
                if missing is not None:
                    return missing
                built.append(tuple(p for p in policies if isinstance(p, NamedPolicy)))
            found = self._levels[arns] = tuple(built)
        return found

    def _policy(self, arn: str) -> NamedPolicy | str:
        found = self._named.get(arn)
        if found is None:
            record = self.policies.get(arn)
            document = record.attributes.get("document") if record is not None else None
            if record is None:
                found = f"policy {arn} is not in the inventory"
            elif "document" in record.unknown or not isinstance(document, Mapping):
                found = f"{arn}: document not collected"
            else:
                found = NamedPolicy(arn, document)
            self._named[arn] = found
        return found


def _is_levels(raw: Any) -> bool:
    return isinstance(raw, Sequence) and not isinstance(raw, str) and all(
        isinstance(level, Mapping) and isinstance(level.get("policies"), Sequence)
        and not isinstance(level.get("policies"), str) for level in raw)
