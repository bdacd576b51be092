"""Framework files, read strictly: a mistake is a RuleError naming the file and the line.

```yaml
id: cis-gcp-3.0                # = the file name, for bundled frameworks
title: CIS Google Cloud Platform Foundation Benchmark
version: 3.0.0
url: https://www.cisecurity.org/benchmark/google_cloud_computing_platform
description: What the mapping covers and what it does not.      # optional
requirements:
  - id: "5.2"
    title: Ensure that Cloud Storage buckets have uniform bucket-level access enabled
    rules: [gcp.storage.sensitive-uniform-access-off]            # [] = known, not covered
```

Every rule id must be a rule that is loaded (an unknown id is an error at its line, never a
requirement silently left unchecked); requirement ids are unique within a framework and
framework ids across files.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from importlib.resources import files
from pathlib import Path

from auditor.compliance.model import Framework, Requirement
from auditor.errors import RuleError
from auditor.rules.loader import BUNDLED_PACKAGE, RULE_SUFFIXES, load_rules
from auditor.rules.yamlfile import LineList, LineMap, Reader, Reported, parse

FRAMEWORKS_FOLDER = "frameworks"
FRAMEWORK_REQUIRED = ("id", "title", "version", "url", "requirements")
FRAMEWORK_OPTIONAL = ("description",)
REQUIREMENT_REQUIRED = ("id", "title", "rules")
FRAMEWORK_ID = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")


def load_frameworks(paths: Sequence[Path] | None = None,
                    rule_ids: Collection[str] | None = None) -> list[Framework]:
    """The bundled frameworks (``paths`` None) or those in ``paths``, checked against
    ``rule_ids`` (default: the ids of the bundled and plugin rules)."""
    known = frozenset(rule_ids) if rule_ids is not None else frozenset(r.id for r in load_rules())
    sources = _bundled() if paths is None else _files(paths)
    frameworks = [parse_framework(text, source, known) for source, text in sources]
    seen: dict[str, str] = {}
    for framework in frameworks:
        if framework.id in seen:
            raise RuleError(f"framework {framework.id!r} is already defined in {seen[framework.id]}",
                            source=framework.source, location="line 1")
        seen[framework.id] = framework.source
    return sorted(frameworks, key=lambda f: f.id)


def _bundled() -> Iterator[tuple[str, str]]:
    folder = files(BUNDLED_PACKAGE).joinpath(FRAMEWORKS_FOLDER)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(RULE_SUFFIXES):
            yield str(entry), entry.read_text(encoding="utf-8")


def _files(paths: Sequence[Path]) -> Iterator[tuple[str, str]]:
    for path in map(Path, paths):
        found = sorted(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES) \
            if path.is_dir() else [path]
        for item in found:
            try:
                yield str(item), item.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise RuleError(f"cannot read the framework file: {exc}", source=str(item)) from None


def parse_framework(text: str, source: str, rule_ids: Collection[str]) -> Framework:
    reader = Reader(source)
    framework = reader.attempt(lambda: _framework(reader, parse(text, source), source, rule_ids))
    reader.check()
    assert framework is not None
    return framework


def _framework(reader: Reader, document: object, source: str,
               rule_ids: Collection[str]) -> Framework:
    doc = reader.mapping(document, getattr(document, "line", 1), "a framework file",
                         required=FRAMEWORK_REQUIRED, optional=FRAMEWORK_OPTIONAL)
    framework_id = reader.text(doc, "id", "id")
    if not FRAMEWORK_ID.match(framework_id):
        raise reader.fail(f"id {framework_id!r} must be lower-case words joined by '-' or '.'",
                          doc.line_of("id"))
    items = reader.field(doc, "requirements", LineList, "requirements")
    requirements = reader.each(lambda item, line: _requirement(reader, item, line, rule_ids), items)
    seen: dict[str, int] = {}
    for requirement in requirements:
        if requirement.id in seen:
            reader.problems.append(reader.fail(f"requirement {requirement.id!r} is already listed "
                                               f"at line {seen[requirement.id]}", requirement.line))
        seen.setdefault(requirement.id, requirement.line)
    texts = {key: reader.attempt(lambda key=key: reader.text(doc, key, key))
             for key in ("title", "version", "url")}
    if reader.problems:
        raise Reported("the framework file has problems")
    return Framework(id=framework_id, title=str(texts["title"]), version=str(texts["version"]),
                     url=str(texts["url"]),
                     description=reader.text(doc, "description", "description")
                     if "description" in doc else "",
                     requirements=tuple(requirements), source=source)


def _requirement(reader: Reader, item: object, line: int, rule_ids: Collection[str]) -> Requirement:
    block: LineMap = reader.mapping(item, line, "a requirement", required=REQUIREMENT_REQUIRED)
    requirement_id = block["id"]
    if not isinstance(requirement_id, str) or not requirement_id.strip():
        # unquoted, 1.10 would be the number 1.1
        raise reader.fail(f"a requirement's id must be a string (quote numbers: \"1.10\"), "
                          f"found {requirement_id!r}", block.line_of("id"))
    rules = reader.field(block, "rules", LineList, "rules")
    for rule_id, rule_line in zip(rules, rules.item_lines, strict=True):
        if not isinstance(rule_id, str) or rule_id not in rule_ids:
            reader.problems.append(reader.fail(f"unknown rule id {rule_id!r} in requirement "
                                               f"{requirement_id}", rule_line))
    return Requirement(id=str(requirement_id), title=reader.text(block, "title", "title"),
                       rule_ids=tuple(r for r in rules if isinstance(r, str)),
                       line=block.line_of("id"))
