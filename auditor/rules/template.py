"""Finding messages: ``"{name} is readable by {principals}"``.

Only plain substitution of attribute paths (scope.py) and of ``{principals}`` (who the
failing access test found). No format specs, no attribute access, no code: a template is
parsed into literal text and paths when the rule is loaded, and rendered by looking paths up
in data. ``{{`` and ``}}`` write literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from auditor.rules.scope import is_path

PRINCIPALS = "principals"
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@dataclass(frozen=True, slots=True)
class Template:
    # alternating literal text and placeholders: ("text", None) or (None, "path")
    parts: tuple[tuple[str | None, str | None], ...]

    def render(self, lookup: Callable[[str], Any]) -> str:
        return "".join(text if text is not None else show(lookup(str(path)))
                       for text, path in self.parts)


def parse_template(text: str) -> Template:
    """Raises ValueError naming the problem when ``text`` is not a valid template."""
    parts: list[tuple[str | None, str | None]] = []
    position = 0
    for token in _TOKEN.finditer(text):
        parts.append((text[position:token.start()], None))
        position = token.end()
        if token.group(0) in ("{{", "}}"):
            parts.append((token.group(0)[0], None))
        elif token.group(1) is None:
            raise ValueError(f"unmatched {token.group(0)!r} at character {token.start() + 1} "
                             f"(write {token.group(0) * 2} for a literal brace)")
        elif not is_path(token.group(1).strip()) or token.group(1) != token.group(1).strip():
            raise ValueError(f"{{{token.group(1)}}} is not a field name such as {{name}} or "
                             f"{{encryption.algorithm}}")
        else:
            parts.append((None, token.group(1)))
    parts.append((text[position:], None))
    return Template(tuple(p for p in parts if p != ("", None)))


def show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(show(item) for item in value) or "none"
    return str(value)
