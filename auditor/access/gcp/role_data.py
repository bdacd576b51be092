"""The bundled predefined-role data: role name -> permissions.

Stored compactly as package data (``auditor/_data/gcp_roles/roles.json.gz``, with its LICENSE
and SOURCE beside it): every distinct permission once in a sorted list, and each role as the
ascending indexes of its permissions, delta-encoded. That is about 130 kB instead of 6 MB of
plain JSON, and decodes in a fraction of a second. ``scripts/refresh_gcp_roles.py`` rewrites
it with ``encode``; nothing else writes it.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

from auditor.errors import InputError

FORMAT = "auditor-gcp-roles"
FORMAT_VERSION = 1
DATA_PACKAGE = "auditor._data.gcp_roles"
DATA_FILE = "roles.json.gz"


def encode(roles: Mapping[str, Iterable[str]], source: Mapping[str, Any]) -> bytes:
    """The package-data bytes for ``roles``; ``source`` says where they came from."""
    permission_sets = {name: sorted(set(perms)) for name, perms in sorted(roles.items())}
    permissions = sorted({p for perms in permission_sets.values() for p in perms})
    index = {p: i for i, p in enumerate(permissions)}
    encoded = {}
    for name, perms in permission_sets.items():
        previous, deltas = 0, []
        for position in sorted(index[p] for p in perms):
            deltas.append(position - previous)
            previous = position
        encoded[name] = deltas
    document = {"format": FORMAT, "version": FORMAT_VERSION, "source": dict(source),
                "permissions": permissions, "roles": encoded}
    text = json.dumps(document, separators=(",", ":"), sort_keys=True)
    # mtime=0: the same roles give the same bytes, so refreshes diff cleanly
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def decode(data: bytes, source: str) -> dict[str, frozenset[str]]:
    try:
        document = json.loads(gzip.decompress(data))
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(f"not gzipped JSON role data: {exc}", source=source) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError(f"not {FORMAT} data", source=source, location="$.format")
    if document.get("version") != FORMAT_VERSION:
        raise InputError(f"unsupported version {document.get('version')!r}", source=source,
                         location="$.version")
    permissions = document["permissions"]
    roles: dict[str, frozenset[str]] = {}
    for name, deltas in document["roles"].items():
        position, perms = 0, []
        for delta in deltas:
            position += delta
            perms.append(permissions[position])
        roles[name] = frozenset(perms)
    return roles


@cache
def predefined_roles() -> dict[str, frozenset[str]]:
    """Every predefined role in the bundled data, with its permissions."""
    data = resources.files(DATA_PACKAGE).joinpath(DATA_FILE).read_bytes()
    return decode(data, f"{DATA_PACKAGE}/{DATA_FILE}")


def data_source() -> dict[str, Any]:
    data = resources.files(DATA_PACKAGE).joinpath(DATA_FILE).read_bytes()
    return dict(json.loads(gzip.decompress(data)).get("source", {}))
