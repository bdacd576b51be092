"""The inventory: a typed, serializable snapshot of what the scanners saw."""

from auditor.inventory.model import SCHEMA_VERSION, CollectionError, Inventory, Resource, Scope

__all__ = ["SCHEMA_VERSION", "CollectionError", "Inventory", "Resource", "Scope"]
