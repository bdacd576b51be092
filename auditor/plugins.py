"""Entry-point registries: built-ins load exactly like third-party plugins.

Groups: ``auditor.scanners`` (Scanner), ``auditor.analyzers`` (access Analyzer),
``auditor.renderers`` (Renderer), ``auditor.deliverers``, ``auditor.rules`` (Python rules).
A name claimed twice is a hard error naming both sources.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from auditor.errors import PluginError


@cache
def registry(group: str) -> dict[str, Any]:
    loaded: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for point in sorted(entry_points(group=group), key=lambda p: (p.name, p.value)):
        if point.name in loaded:
            if sources[point.name] == point.value:
                continue  # the same distribution seen twice on sys.path (editable + site)
            raise PluginError(f"plugin {point.name!r} in group {group} is defined twice: "
                              f"{sources[point.name]} and {point.value}")
        try:
            loaded[point.name] = point.load()
        except Exception as exc:  # a broken third-party plugin must not look like our crash
            raise PluginError(f"cannot load plugin {point.name!r} ({point.value}) in group "
                              f"{group}: {type(exc).__name__}: {exc}") from exc
        sources[point.name] = point.value
    return loaded


def get(group: str, name: str) -> Any:
    plugins = registry(group)
    if name not in plugins:
        known = ", ".join(sorted(plugins)) or "none"
        raise PluginError(f"no {group} plugin named {name!r} (known: {known})")
    return plugins[name]
