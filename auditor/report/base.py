"""The renderer plugin contract (entry point group ``auditor.renderers``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from auditor.run import RunResult


@runtime_checkable
class Renderer(Protocol):
    # the entry-point name, e.g. "json"
    name: str
    # the file the pipeline writes the rendered text to, e.g. "findings.json"
    filename: str

    def render(self, result: RunResult) -> str:
        """The whole file as text: a pure function of ``result`` (same result, same bytes)."""
