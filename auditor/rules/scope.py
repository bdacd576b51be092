"""Attribute paths: how a rule names a value of a resource.

``encryption.algorithm`` reads ``attributes["encryption"]["algorithm"]``; a numeric segment
indexes a list. A few roots are not attributes: ``id``, ``type``, ``name``, ``provider``,
``region``, ``account``, ``classification`` (the label) and ``tags.<key>`` (everything after
``tags.`` is the key, dots included). Inside ``each``, paths are relative to the list item.

Paths are looked up in data, never evaluated: no attribute access on Python objects, no code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from auditor.classify.model import UNKNOWN
from auditor.inventory import Resource
from auditor.rules.context import EvaluationContext

RESOURCE_ROOTS = ("id", "type", "name", "provider", "region", "account")
CLASSIFICATION = "classification"
TAGS = "tags"
# segments of letters, digits and the few marks AWS keys use (aws:SourceIp, Principal.AWS)
PATH_PATTERN = re.compile(r"^[\w:@+=/-]+(\.[\w:@+=/-]+)*$|^tags\.[^{}]+$")
_NO_ITEM = object()


@dataclass(frozen=True, slots=True)
class Lookup:
    value: Any
    # why the value is not known (its collection failed), or None when it is known
    unknown: str | None = None


def is_path(text: str) -> bool:
    return bool(PATH_PATTERN.match(text))


def dig(value: Any, segments: list[str]) -> Any:
    for segment in segments:
        if isinstance(value, dict):
            value = value.get(segment)
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return None
    return value


class Scope:
    """Where paths are resolved: a resource, or one item of a list inside it (``each``).

    Access tests and cross-resource tests always concern ``resource``, also inside ``each``.
    """

    def __init__(self, resource: Resource, context: EvaluationContext, item: Any = _NO_ITEM):
        self.resource = resource
        self.context = context
        self._item = item

    def with_item(self, item: Any) -> Scope:
        return Scope(self.resource, self.context, item)

    def lookup(self, path: str) -> Lookup:
        if self._item is not _NO_ITEM:
            return Lookup(dig(self._item, path.split(".")))
        resource = self.resource
        if path in RESOURCE_ROOTS:
            return Lookup(getattr(resource, path))
        if path == CLASSIFICATION:
            label = self.context.classification(resource.id)
            if label is not None and label.label == UNKNOWN:
                return Lookup(None, "; ".join(label.reasons))
            return Lookup(label.label if label else None)
        if path == TAGS or path.startswith(TAGS + "."):
            if TAGS in resource.unknown:
                return Lookup(None, self.context.unknown_reason(resource, TAGS))
            return Lookup(resource.tags if path == TAGS else resource.tags.get(path[len(TAGS) + 1:]))
        for name in resource.unknown:
            if path == name or path.startswith(name + ".") or name.startswith(path + "."):
                return Lookup(None, self.context.unknown_reason(resource, name))
        return Lookup(dig(resource.attributes, path.split(".")))
