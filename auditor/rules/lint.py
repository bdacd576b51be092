"""``audit rules lint``: every problem in rule files, each with its file and line.

Strict loading stops at a file's first mistake; lint reads every file to the end and reports
all of them (rule ids defined twice across files included), so that one run shows an author
everything to fix. A file under a pack directory laid out as ``<provider>/<service>/<slug>.yaml``
must hold the rule ``<provider>.<service>.<slug>``, as bundled rules must.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from auditor.errors import AuditorError
from auditor.rules.loader import RULE_SUFFIXES, read_rule
from auditor.rules.model import YamlRule
from auditor.rules.yamlfile import problem_line


@dataclass(frozen=True, slots=True)
class Problem:
    source: str
    line: int  # 0 when the problem concerns the whole file
    message: str

    @classmethod
    def of(cls, error: AuditorError) -> Problem:
        return cls(error.source or "", problem_line(error), error.message)

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}" if self.line else \
            f"{self.source}: {self.message}"


def lint(paths: Sequence[Path]) -> list[Problem]:
    """Every problem in the rule files found in ``paths`` (files or directories)."""
    problems: list[Problem] = []
    rules: list[YamlRule] = []
    for path, root in _files(paths, problems):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), 0, f"cannot read the file: {exc}"))
            continue
        rule, errors = read_rule(text, str(path))
        problems.extend(Problem.of(error) for error in errors)
        if rule is not None:
            rules.append(rule)
            problems.extend(_layout(rule, path, root))
    problems.extend(_duplicates(rules))
    return sorted(problems, key=lambda p: (p.source, p.line, p.message))


def _files(paths: Sequence[Path], problems: list[Problem]) -> list[tuple[Path, Path | None]]:
    """(file, the directory it was found under, or None when named directly)."""
    found: list[tuple[Path, Path | None]] = []
    for path in map(Path, paths):
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in RULE_SUFFIXES)
            if not inside:
                problems.append(Problem(str(path), 0, "no rule files (*.yaml, *.yml) here"))
            found.extend((p, path) for p in inside)
        elif path.is_file():
            found.append((path, None))
        else:
            problems.append(Problem(str(path), 0, "no such rule file or directory"))
    return found


def _layout(rule: YamlRule, path: Path, root: Path | None) -> list[Problem]:
    if root is None:
        return []
    parts = path.relative_to(root).with_suffix("").parts
    if len(parts) != 3 or ".".join(parts) == rule.id:
        return []
    return [Problem(str(path), rule.line, f"the file {'/'.join(parts)}{path.suffix} must hold "
                                          f"the rule {'.'.join(parts)}, not {rule.id}")]


def _duplicates(rules: list[YamlRule]) -> list[Problem]:
    first: dict[str, YamlRule] = {}
    problems = []
    for rule in rules:
        if rule.id in first:
            seen = first[rule.id]
            problems.append(Problem(rule.source, rule.line, f"rule id {rule.id!r} is already "
                                                            f"defined in {seen.source} line {seen.line}"))
        else:
            first[rule.id] = rule
    return problems
