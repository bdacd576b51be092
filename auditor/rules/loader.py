"""Loading rules: rule files (strict: a bad file is an error, never skipped) and Python rules.

``load_rules()`` gives the bundled rule packs (package ``auditor._data.rules``, the top-level
``rules/`` directory) plus the Python rules of the ``auditor.rules`` entry point group;
``load_rules(paths)`` gives the rule files found in ``paths`` (files or directories).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from importlib.abc import Traversable
from importlib.resources import files
from pathlib import Path
from typing import Any

from auditor import plugins
from auditor.errors import AuditorError, InputError, PluginError, RuleError
from auditor.findings import SEVERITIES
from auditor.rules.conditions import compile_condition
from auditor.rules.fixtures import (
    ERROR_OPTIONAL,
    ERROR_REQUIRED,
    RESOURCE_OPTIONAL,
    RESOURCE_REQUIRED,
    make_fixture,
)
from auditor.rules.model import (
    EXPECTATIONS,
    Fixture,
    Remediation,
    Rule,
    YamlRule,
    check_unique_ids,
)
from auditor.rules.resource_types import RESOURCE_TYPES, provider_of
from auditor.rules.scope import is_path
from auditor.rules.template import parse_template
from auditor.rules.yamlfile import LineList, LineMap, Reader, Reported, parse

BUNDLED_PACKAGE = "auditor._data.rules"
ENTRY_POINT_GROUP = "auditor.rules"
RULE_SUFFIXES = (".yaml", ".yml")
# <provider>.<service>.<kebab-slug>, or ml.<kebab-slug> for cross-cloud rules
RULE_ID = re.compile(r"^(?:ml|[a-z][a-z0-9]*\.[a-z][a-z0-9]*)\.[a-z0-9]+(?:-[a-z0-9]+)*$")
REQUIRED = ("id", "title", "severity", "resource_type", "condition", "message", "rationale",
            "remediation", "references")
OPTIONAL = ("applies_to", "evidence", "fixtures")
REMEDIATION_REQUIRED = ("text",)
REMEDIATION_OPTIONAL = ("cli", "terraform")
FIXTURE_REQUIRED = ("resources",)
FIXTURE_OPTIONAL = ("description", "errors")
# folders of the bundled package that hold other data than rules (compliance frameworks)
NOT_RULES = ("frameworks",)


def load_rules(paths: Sequence[Path] | None = None) -> list[Rule]:
    if paths is None:
        rules: list[Rule] = [parse_rule(text, source) for source, text in _bundled_files()]
        rules.extend(load_plugin_rules())
    else:
        rules = [parse_rule(_read(path), str(path)) for path in _rule_files(paths)]
    check_unique_ids(rules)
    return sorted(rules, key=lambda r: r.id)


# -- files -------------------------------------------------------------------------------------

def _bundled_files() -> Iterator[tuple[str, str]]:
    def walk(folder: Traversable) -> Iterator[Traversable]:
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.is_dir():
                yield from walk(entry)
            elif entry.name.endswith(RULE_SUFFIXES):
                yield entry

    for entry in sorted(files(BUNDLED_PACKAGE).iterdir(), key=lambda e: e.name):
        if entry.is_dir() and entry.name not in NOT_RULES:
            for rule_file in walk(entry):
                yield str(rule_file), rule_file.read_text(encoding="utf-8")


def _rule_files(paths: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in RULE_SUFFIXES)
            if not inside:
                raise RuleError("no rule files (*.yaml, *.yml) in this directory", source=str(path))
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise RuleError("no such rule file or directory", source=str(path))
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"cannot read rule file: {exc.strerror}", source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise RuleError(f"not UTF-8 text (byte {exc.start})", source=str(path)) from None


# -- one rule file -----------------------------------------------------------------------------

def parse_rule(text: str, source: str) -> YamlRule:
    """The rule in one rule file; a mistake is a RuleError naming ``source`` and a line (the
    first one, in line order, when there are several: ``read_rule`` gives them all)."""
    rule, problems = read_rule(text, source)
    if problems:
        raise problems[0]
    assert rule is not None
    return rule


def read_rule(text: str, source: str) -> tuple[YamlRule | None, list[AuditorError]]:
    """The rule in one rule file and every problem found in it, in line order.

    Independent parts are read even when others fail (each field, each condition of a list,
    each fixture), so that one pass reports all mistakes; the rule is None when there was any.
    """
    reader = Reader(source)
    try:
        document = parse(text, source)
    except RuleError as exc:  # YAML that cannot be composed stops at its first mistake
        return None, [exc]
    rule = reader.attempt(lambda: _rule(reader, document, source))
    problems = reader.sorted_problems()
    return (None if problems else rule), problems


def _rule(reader: Reader, document: Any, source: str) -> YamlRule:
    doc = reader.mapping(document, getattr(document, "line", 1), "a rule file",
                         optional=(*REQUIRED, *OPTIONAL))
    for key in REQUIRED:
        if key not in doc:
            reader.problems.append(reader.fail(f"a rule file is missing the field {key!r}",
                                               doc.line))
    rule_id = reader.attempt(lambda: _rule_id(reader, doc))
    resource_type = reader.attempt(lambda: _resource_type(reader, doc, rule_id))
    severity = reader.attempt(lambda: _severity(reader, doc))

    def condition(key: str) -> Any:
        # conditions and fixtures depend on the resource type: without one they are not read
        return compile_condition(doc[key], doc.line_of(key), reader, str(resource_type)) \
            if resource_type else None

    readers: dict[str, Callable[[], Any]] = {
        "title": lambda: reader.text(doc, "title", "title"),
        "condition": lambda: condition("condition"),
        "applies_to": lambda: condition("applies_to"),
        "message": lambda: _message(reader, doc),
        "rationale": lambda: reader.text(doc, "rationale", "rationale"),
        "remediation": lambda: _remediation(reader, doc),
        "references": lambda: _references(reader, doc),
        "evidence": lambda: _evidence(reader, doc),
        "fixtures": lambda: _fixtures(reader, doc, str(resource_type)) if resource_type else (),
    }
    parts = {key: reader.attempt(read) if key in doc else None for key, read in readers.items()}
    if reader.problems:
        raise Reported("the rule file has problems")
    return YamlRule(
        id=str(rule_id), title=parts["title"], severity=str(severity),
        resource_type=str(resource_type), condition=parts["condition"],
        applies_to=parts["applies_to"], message=parts["message"], rationale=parts["rationale"],
        remediation=parts["remediation"], references=parts["references"],
        evidence=parts["evidence"] or (), source=source, line=doc.line_of("id"),
        fixtures=parts["fixtures"] or ())


def _rule_id(reader: Reader, doc: LineMap) -> str:
    if "id" not in doc:
        raise Reported("no id")
    rule_id = reader.text(doc, "id", "id")
    if not RULE_ID.match(rule_id):
        raise reader.fail(f"id {rule_id!r} must be <provider>.<service>.<kebab-slug> "
                          f"(or ml.<kebab-slug>)", doc.line_of("id"))
    return rule_id


def _resource_type(reader: Reader, doc: LineMap, rule_id: str | None) -> str:
    if "resource_type" not in doc:
        raise Reported("no resource_type")
    resource_type = reader.text(doc, "resource_type", "resource_type")
    if resource_type not in RESOURCE_TYPES:
        raise reader.fail(f"unknown resource_type {resource_type!r} (known: "
                          f"{', '.join(sorted(RESOURCE_TYPES))})", doc.line_of("resource_type"))
    if rule_id and not rule_id.startswith("ml.") and provider_of(rule_id) != provider_of(resource_type):
        raise reader.fail(f"rule {rule_id} is for provider {provider_of(rule_id)!r} but its "
                          f"resource_type is {resource_type}", doc.line_of("resource_type"))
    return resource_type


def _severity(reader: Reader, doc: LineMap) -> str:
    if "severity" not in doc:
        raise Reported("no severity")
    severity = reader.text(doc, "severity", "severity")
    if severity not in SEVERITIES:
        raise reader.fail(f"severity must be one of {', '.join(SEVERITIES)}, found {severity!r}",
                          doc.line_of("severity"))
    return severity


def _message(reader: Reader, doc: LineMap) -> Any:
    try:
        return parse_template(reader.text(doc, "message", "message"))
    except ValueError as exc:
        raise reader.fail(f"message: {exc}", doc.line_of("message")) from None


def _remediation(reader: Reader, doc: LineMap) -> Remediation:
    block = reader.mapping(doc["remediation"], doc.line_of("remediation"), "remediation",
                           required=REMEDIATION_REQUIRED, optional=REMEDIATION_OPTIONAL)
    return Remediation(text=reader.text(block, "text", "remediation.text"),
                       **{key: reader.text(block, key, f"remediation.{key}")
                          for key in REMEDIATION_OPTIONAL if key in block})


def _references(reader: Reader, doc: LineMap) -> tuple[str, ...]:
    references = reader.strings(doc, "references", "references")
    for url, line in zip(references, doc["references"].item_lines, strict=True):
        if not url.startswith("https://"):
            raise reader.fail(f"reference {url!r} must be an https:// URL", line)
    return references


def _evidence(reader: Reader, doc: LineMap) -> tuple[str, ...]:
    if "evidence" not in doc:
        return ()
    paths = reader.strings(doc, "evidence", "evidence")
    for path, line in zip(paths, doc["evidence"].item_lines, strict=True):
        if not is_path(path):
            raise reader.fail(f"evidence {path!r} is not an attribute path", line)
    return paths


# -- fixtures ----------------------------------------------------------------------------------

def _fixtures(reader: Reader, doc: LineMap, resource_type: str) -> tuple[Fixture, ...]:
    block = reader.mapping(doc["fixtures"], doc.line_of("fixtures"), "fixtures",
                           optional=EXPECTATIONS)
    fixtures: list[Fixture] = []
    for expected in EXPECTATIONS:
        if expected not in block:
            continue
        items = reader.attempt(lambda expected=expected: reader.field(
            block, expected, LineList, f"fixtures.{expected}"))
        for index, (item, line) in enumerate(zip(items or [], getattr(items, "item_lines", []),
                                                 strict=True)):
            fixture = reader.attempt(lambda e=expected, i=index, item=item, line=line: _fixture(
                reader, f"fixture {e}[{i}]", e, i, item, line, resource_type))
            if fixture is not None:
                fixtures.append(fixture)
    return tuple(fixtures)


def _fixture(reader: Reader, what: str, expected: str, index: int, item: Any, line: int,
             resource_type: str) -> Fixture:
    if isinstance(item, LineList):
        block = LineMap(resources=item)
        block.line, block.key_lines = line, {"resources": line}
    else:
        block = reader.mapping(item, line, what, required=FIXTURE_REQUIRED,
                               optional=FIXTURE_OPTIONAL)
    resources = reader.field(block, "resources", LineList, f"{what} resources")
    if not resources:
        raise reader.fail(f"{what} needs at least one resource", block.line_of("resources"))
    reader.each(lambda resource, resource_line: _check_resource(reader, resource, resource_line,
                                                                what), resources)
    if resources[0]["type"] != resource_type:
        raise reader.fail(f"{what}: the first resource is the one under test, so it must be a "
                          f"{resource_type}, not {resources[0]['type']}", resources.item_lines[0])
    errors = reader.field(block, "errors", LineList, f"{what} errors") if "errors" in block else []
    for error, error_line in zip(errors, getattr(errors, "item_lines", []), strict=True):
        reader.mapping(error, error_line, f"{what} error", required=ERROR_REQUIRED,
                       optional=ERROR_OPTIONAL)
    description = reader.text(block, "description", f"{what} description") \
        if "description" in block else ""
    try:
        return make_fixture(expected, resources, errors, description=description, index=index,
                            line=line, source=reader.source)
    except InputError as exc:
        raise reader.fail(f"{what}: {exc.message} (at {exc.location})",
                          _json_path_line(exc.location, resources, errors, line)) from None


def _check_resource(reader: Reader, resource: Any, line: int, what: str) -> bool:
    block = reader.mapping(resource, line, f"{what} resource", required=RESOURCE_REQUIRED,
                           optional=RESOURCE_OPTIONAL)
    resource_type = block["type"]
    if resource_type not in RESOURCE_TYPES:
        raise reader.fail(f"{what}: unknown resource type {resource_type!r}", block.line_of("type"))
    return True


def _json_path_line(location: str | None, resources: LineList, errors: Any, default: int) -> int:
    """The line of the fixture resource or error that an inventory JSON path points into."""
    match = re.match(r"^\$\.(resources|errors)\[(\d+)\]", location or "")
    if not match:
        return default
    items = resources if match.group(1) == "resources" else errors
    lines = getattr(items, "item_lines", [])
    return lines[int(match.group(2))] if int(match.group(2)) < len(lines) else default


# -- Python rules ------------------------------------------------------------------------------

def load_plugin_rules() -> list[Rule]:
    """Rules from the ``auditor.rules`` entry points: each names a callable returning rules."""
    rules: list[Rule] = []
    for name, factory in sorted(plugins.registry(ENTRY_POINT_GROUP).items()):
        where = f"entry point {name!r} (group {ENTRY_POINT_GROUP})"
        if not callable(factory):
            raise PluginError(f"{where} must name a callable that returns rules")
        for rule in factory():
            problem = plugin_rule_problem(rule)
            if problem:
                raise RuleError(f"{where} returned an invalid rule: {problem}")
            rules.append(rule)
    return rules


def plugin_rule_problem(rule: Any) -> str | None:
    """What is wrong with a Python rule object, or None when it offers the Rule interface."""
    rule_id = getattr(rule, "id", None)
    if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
        return f"id {rule_id!r} must be <provider>.<service>.<kebab-slug>"
    checks = (
        (isinstance(getattr(rule, "title", None), str) and bool(rule.title), "a title"),
        (getattr(rule, "severity", None) in SEVERITIES, f"a severity ({', '.join(SEVERITIES)})"),
        (getattr(rule, "resource_type", None) in RESOURCE_TYPES, "a known resource_type"),
        (isinstance(getattr(rule, "remediation", None), Remediation), "a Remediation"),
        (isinstance(getattr(rule, "references", None), tuple), "references (a tuple of URLs)"),
        (isinstance(getattr(rule, "fixtures", None), tuple), "fixtures (a tuple of Fixture)"),
        (isinstance(getattr(rule, "source", None), str), "a source (where it is defined)"),
        (callable(getattr(rule, "evaluate", None)), "an evaluate(resource, context) method"),
    )
    missing = [what for ok, what in checks if not ok]
    return f"rule {rule_id} needs {', '.join(missing)}" if missing else None
