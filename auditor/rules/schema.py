"""The JSON Schema (draft 2020-12) of rule files, built from the loader's own declarations.

Every list of keys, operators, predicates, resource types, access classes and choices comes
from the module the loader reads it from, so the schema cannot drift from what loads. The
schema checks shape (for editors and CI); the loader remains the judge of what a schema cannot
say (regular expressions that compile, templates, a predicate's resource types, fixtures that
read as inventories).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auditor.access.model import ACCESS_CLASSES
from auditor.findings import SEVERITIES
from auditor.rules.conditions import (
    ACCESS_TEST_KEYS,
    COMBINATORS,
    DECISIONS,
    QUANTIFIERS,
    REACHED_BY,
    REACHES_KEYS,
    RELATED_KEYS,
    WHO,
)
from auditor.rules.fixtures import ERROR_OPTIONAL, ERROR_REQUIRED, RESOURCE_OPTIONAL, RESOURCE_REQUIRED
from auditor.rules.loader import (
    FIXTURE_OPTIONAL,
    FIXTURE_REQUIRED,
    OPTIONAL,
    REMEDIATION_OPTIONAL,
    REMEDIATION_REQUIRED,
    REQUIRED,
    RULE_ID,
)
from auditor.rules.model import EXPECTATIONS
from auditor.rules.operators import OPERATORS
from auditor.rules.predicates import PREDICATES
from auditor.rules.resource_types import RESOURCE_TYPES
from auditor.rules.scope import PATH_PATTERN

SCHEMA_ID = "https://github.com/auditor/auditor/schemas/rule.schema.json"
_TEXT = {"type": "string", "minLength": 1}
_PATH = {"type": "string", "pattern": PATH_PATTERN.pattern}
_CONDITION = {"$ref": "#/$defs/condition"}
_REGEX = OPERATORS["matches"].schema


def _enum(values: Any) -> dict[str, Any]:
    return {"enum": sorted(values)}


def _properties(declared: Iterable[str], described: dict[str, Any]) -> dict[str, Any]:
    """The schema of each declared key: a key the loader knows and this module does not
    describe is a KeyError here, so the schema cannot silently fall behind the loader."""
    return {key: described[key] for key in declared}


def _object(properties: dict[str, Any], required: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False}


def _quantified(lead: str, lead_schema: dict[str, Any]) -> list[dict[str, Any]]:
    """``{lead: ..., any: condition}`` and ``{lead: ..., all: condition}``."""
    return [_object({lead: lead_schema, quantifier: _CONDITION}, [lead, quantifier])
            for quantifier in QUANTIFIERS]


def _grant_filter() -> dict[str, Any]:
    return {"who": _enum(WHO), "decision": _enum(DECISIONS), "principal": _REGEX,
            "statement": _REGEX}


def condition_schema() -> dict[str, Any]:
    parts = {"type": "array", "items": _CONDITION, "minItems": 1}
    combinators = _properties(COMBINATORS, {"all": parts, "any": parts, "not": _CONDITION})
    forms: list[dict[str, Any]] = [_object({key: value}, [key])
                                   for key, value in combinators.items()]
    forms += [_object({"attr": _PATH, name: operator.schema}, ["attr", name])
              for name, operator in OPERATORS.items()]
    forms += _quantified("each", _PATH)
    access_keys = _properties(("access", *ACCESS_TEST_KEYS), {
        "access": _enum(ACCESS_CLASSES), **_grant_filter(),
        "count_gt": {"type": "integer", "minimum": 0}})
    forms.append(_object(access_keys, ["access"]))
    link = _object(_properties(RELATED_KEYS, {"type": _enum(RESOURCE_TYPES), "attr": _PATH}),
                   RELATED_KEYS)
    forms += _quantified("references", link) + _quantified("referenced_by", link)
    accesses = _enum(ACCESS_CLASSES)
    reach_keys = _properties(REACHES_KEYS, {
        "type": _enum(RESOURCE_TYPES),
        "access": {"oneOf": [accesses, {"type": "array", "items": accesses, "minItems": 1}]},
        "by": _enum(REACHED_BY), **_grant_filter()})
    forms += _quantified("reaches", _object(reach_keys, ["type", "access"]))
    forms += [_object({name: _enum(predicate.arguments)}, [name])
              for name, predicate in sorted(PREDICATES.items())]
    return {"oneOf": forms}


def _resource() -> dict[str, Any]:
    properties = _properties((*RESOURCE_REQUIRED, *RESOURCE_OPTIONAL), {
        "id": _TEXT, "type": _enum(RESOURCE_TYPES), "account": _TEXT,
        "name": {"type": "string"}, "provider": {"type": "string"},
        "region": {"type": ["string", "null"]}, "attributes": {"type": "object"},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        "unknown": {"type": "array", "items": {"type": "string"}}})
    return _object(properties, RESOURCE_REQUIRED)


def _collection_error() -> dict[str, Any]:
    properties = {key: {"type": ["string", "null"]} for key in (*ERROR_REQUIRED, *ERROR_OPTIONAL)}
    return _object(properties, ERROR_REQUIRED)


def _fixtures() -> dict[str, Any]:
    resources = {"type": "array", "items": {"$ref": "#/$defs/resource"}, "minItems": 1}
    fixture_keys = _properties((*FIXTURE_REQUIRED, *FIXTURE_OPTIONAL), {
        "resources": resources, "description": {"type": "string"},
        "errors": {"type": "array", "items": {"$ref": "#/$defs/collection_error"}}})
    fixture = {"oneOf": [resources, _object(fixture_keys, FIXTURE_REQUIRED)]}
    return _object({expected: {"type": "array", "items": fixture} for expected in EXPECTATIONS})


def rule_schema() -> dict[str, Any]:
    """The JSON Schema of one rule file."""
    remediation_keys = {key: _TEXT for key in (*REMEDIATION_REQUIRED, *REMEDIATION_OPTIONAL)}
    properties = _properties((*REQUIRED, *OPTIONAL), {
        "id": {"type": "string", "pattern": RULE_ID.pattern},
        "title": _TEXT,
        "severity": {"enum": list(SEVERITIES)},
        "resource_type": _enum(RESOURCE_TYPES),
        "applies_to": _CONDITION,
        "condition": _CONDITION,
        "message": _TEXT,
        "evidence": {"type": "array", "items": _PATH},
        "rationale": _TEXT,
        "remediation": _object(remediation_keys, REMEDIATION_REQUIRED),
        "references": {"type": "array", "items": {"type": "string", "pattern": "^https://"}},
        "fixtures": {"$ref": "#/$defs/fixtures"},
    })
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "auditor rule file",
        "description": "One rule of the auditor (docs/rules.md).",
        **_object(properties, REQUIRED),
        "$defs": {"condition": condition_schema(), "resource": _resource(),
                  "collection_error": _collection_error(), "fixtures": _fixtures()},
    }
