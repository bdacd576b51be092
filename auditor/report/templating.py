"""The one jinja2 environment of the reports: autoescape everywhere, undefined is an error.

Templates are read from the package ``auditor._data.templates`` through importlib.resources,
so they are found in an installed wheel (even a zipped one) exactly as in a source checkout.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import BaseLoader, Environment, StrictUndefined, TemplateNotFound
from jinja2.loaders import split_template_path
from markupsafe import Markup

TEMPLATE_PACKAGE = "auditor._data.templates"


class PackageResourceLoader(BaseLoader):
    def __init__(self, package: str) -> None:
        self.package = package

    def get_source(self, environment: Environment,
                   template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        resource = files(self.package)
        for piece in split_template_path(template):  # rejects ".." and absolute paths
            resource = resource.joinpath(piece)
        if not resource.is_file():
            raise TemplateNotFound(template)
        # the name is for error messages; package data does not change while we run
        name = f"{self.package}/{template}"
        return resource.read_text(encoding="utf-8"), name, lambda: True


def pretty_json(value: Any) -> str:
    """Evidence and conditions as readers see them; autoescape makes the text inert."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageResourceLoader(TEMPLATE_PACKAGE),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["pretty_json"] = pretty_json
    return env


@dataclass(frozen=True, slots=True)
class InlineAsset:
    """A stylesheet or script of ours, inlined verbatim and allowed by its CSP hash."""

    text: Markup
    csp_source: str  # "'sha256-...'"


def inline_asset(name: str, element: str) -> InlineAsset:
    """Read ``name`` from the template package for inlining in a ``<element>`` tag.

    Only our own package files come through here, never data: they are trusted markup.
    """
    env = environment()
    text, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
    if f"</{element}" in text.lower():
        # it would end the element early and the rest would be parsed as markup
        raise ValueError(f"{TEMPLATE_PACKAGE}/{name} contains '</{element}'")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return InlineAsset(text=Markup(text), csp_source=f"'sha256-{digest}'")
