"""What a rule may look at: the inventory, classifications, effective access and the time.

Read-only and indexed once per evaluation. It also answers the questions behind "unknown is
not pass": why an attribute is unknown, and whether a listing of some resource type in an
account is complete enough to conclude that something is absent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime

from auditor.access.model import AccessMap, AssetAccess
from auditor.classify.model import Classification
from auditor.inventory import CollectionError, Inventory, Resource
from auditor.rules.resource_types import RESOURCE_TYPES, provider_of


class EvaluationContext:
    def __init__(self, inventory: Inventory, classifications: Mapping[str, Classification],
                 access: AccessMap, now: datetime):
        self.inventory = inventory
        self.classifications = classifications
        self.access = access
        self.now = now if now.tzinfo else now.replace(tzinfo=UTC)
        self._by_type: dict[str, list[Resource]] = defaultdict(list)
        for resource in sorted(inventory.resources, key=lambda r: r.id):
            self._by_type[resource.type].append(resource)
        self._errors: dict[str | None, list[CollectionError]] = defaultdict(list)
        for error in inventory.errors:
            self._errors[error.resource_id].append(error)
        self._names: dict[str, dict[str, list[Resource]]] = {}

    def resources_of(self, resource_type: str) -> list[Resource]:
        return self._by_type.get(resource_type, [])

    def classification(self, resource_id: str) -> Classification | None:
        return self.classifications.get(resource_id)

    def access_for(self, resource_id: str) -> AssetAccess | None:
        return self.access.for_resource(resource_id)

    def collection_errors(self, resource_id: str) -> list[CollectionError]:
        return list(self._errors.get(resource_id, []))

    def unknown_reason(self, resource: Resource, attribute: str) -> str:
        """Why ``attribute`` of ``resource`` is unknown, from the collection errors behind it."""
        causes = [f"{e.operation} failed: {e.code}"
                  for e in self._errors.get(resource.id, []) if e.attribute == attribute]
        because = f" ({'; '.join(sorted(set(causes)))})" if causes else ""
        return f"{attribute} could not be collected{because}"

    def listing_errors(self, resource_type: str) -> list[CollectionError]:
        """Failed listings (errors with no resource) of the service that lists this type."""
        service = RESOURCE_TYPES[resource_type].service
        provider = provider_of(resource_type)
        return [e for e in self._errors.get(None, [])
                if e.provider == provider and e.service == service and e.attribute is None]

    def listing_gaps(self, resource_type: str, account: str) -> list[str]:
        """Why resources of this type in ``account`` may be missing from the inventory.

        Empty when the account was scanned for the type's service (a scope with no services
        listed covers them all) and no listing of that service failed there.
        """
        service = RESOURCE_TYPES[resource_type].service
        provider = provider_of(resource_type)
        scopes = [s for s in self.inventory.scopes if s.provider == provider and s.account == account]
        if not any(not s.services or service in s.services for s in scopes):
            return [f"{service} was not scanned in {provider} account {account}, so "
                    f"{resource_type} resources there are not known"]
        return [f"{resource_type} listing is incomplete in {account}"
                f"{' ' + e.region if e.region else ''}: {e.operation} failed: {e.code}"
                for e in self.listing_errors(resource_type) if e.account == account]

    def named(self, resource_type: str, name: str, near: Resource) -> list[Resource]:
        """The resources of ``resource_type`` that ``name`` (an id, a name or an identifier
        attribute such as a KMS alias) refers to, as seen from the resource ``near``.

        A full id, or a name that is the id without the type's ``id_prefix``, names one
        resource anywhere. Other names are resolved in ``near``'s region,
        then its account, then anywhere, since short names (a key alias, say) are regional.
        """
        index = self._name_index(resource_type)
        # a name relative to the type's id prefix (a GCP resource name) is its id
        found = index.get(name) or index.get(RESOURCE_TYPES[resource_type].id_prefix + name, [])
        exact = [r for r in found if r.id in (name, RESOURCE_TYPES[resource_type].id_prefix + name)]
        local = [r for r in found if r.account == near.account]
        same_region = [r for r in local if r.region == near.region]
        return exact or same_region or local or found

    def _name_index(self, resource_type: str) -> dict[str, list[Resource]]:
        if resource_type not in self._names:
            index: dict[str, list[Resource]] = defaultdict(list)
            identifiers = RESOURCE_TYPES[resource_type].identifiers
            for resource in self.resources_of(resource_type):
                index[resource.id].append(resource)
                names = {resource.name}
                for attribute in identifiers:
                    value = resource.attributes.get(attribute)
                    names.update(value if isinstance(value, list) else [value])
                for name in sorted(n for n in names if isinstance(n, str) and n != resource.id):
                    index[name].append(resource)
            self._names[resource_type] = index
        return self._names[resource_type]
