"""The findings of report.html as compact data for report.js, which renders the table a page
at a time: a run with 100,000 findings must not put 100,000 rows into the DOM.

Every repeated value is written once and referred to by its index: rules, resources,
classifications, evidence and remediation (remediation is per rule, so 100,000 findings of 40
rules carry 40 texts). Evidence is kept as JSON text, parsed by report.js only for the rows it
shows: a browser reads one long string far faster than 100,000 nested objects. A row is a
list::

    [id, rule, severity, status, resource, classification, message, evidence, remediation,
     location, change]

``rule``, ``resource`` are indexes into ``rules`` and ``resources``; ``severity`` and
``status`` into ``severities`` and ``statuses``; ``classification``, ``evidence``,
``remediation`` into their lists or -1 for none; ``location`` is null or
``[path, start_line, end_line]``; ``change`` indexes ``changes`` ("" when the run has no
diff). The order of rows is the engine's (worst first).

Large payloads are embedded gzip-compressed and base64-encoded (report.js inflates them with
the browser's DecompressionStream); small ones as plain JSON, readable in the page source.
Either way the text can hold no ``<``, ``>`` or ``&``, so no data can end its script element.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from auditor.findings import SEVERITIES
from auditor.report.extras import RunChanges
from auditor.report.summary import STATUSES

CHANGES = ("", "new", "unchanged")
# Above this many bytes of JSON the data is compressed: about 2,500 findings.
COMPRESS_ABOVE = 1_000_000
PLAIN, GZIP_BASE64 = "json", "gzip+base64"
NO_CLASSIFICATION = "(not classified)"


class _Interned:
    """Values in first-seen order, each stored once; equal values share one index."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._index: dict[Hashable, int] = {}

    def index(self, value: Any, key: Hashable | None = None) -> int:
        key = value if key is None else key
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = len(self.values)
            self.values.append(value)
        return found


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _interned_or_none(table: _Interned, value: dict[str, Any] | None, *, as_text: bool = False) -> int:
    # an empty dict is "none given", shown as nothing rather than as {}
    if not value:
        return -1
    text = _canonical(value)
    return table.index(text if as_text else value, text)


def findings_table(findings: list[dict[str, Any]], changes: RunChanges | None) -> dict[str, Any]:
    """``findings`` as in findings.json (``Finding.to_dict()``), in the engine's order."""
    rules, resources, classes = _Interned(), _Interned(), _Interned()
    evidence, remediation = _Interned(), _Interned()
    rows = []
    for finding in findings:
        resource = finding["resource"]
        resource_row = [resource["id"], resource["type"], resource["name"], resource["provider"],
                        resource["account"], resource["region"], resource.get("aliases", [])]
        classification = finding["classification"]
        location = finding.get("location")
        rows.append([
            finding["id"],
            rules.index([finding["rule_id"], finding["title"]],
                        (finding["rule_id"], finding["title"])),
            SEVERITIES.index(finding["severity"]),
            STATUSES.index(finding["status"]),
            resources.index(resource_row, (*resource_row[:6], *resource_row[6])),
            classes.index([classification["label"], classification["reasons"]],
                          (classification["label"], *classification["reasons"]))
            if classification else -1,
            finding["message"],
            _interned_or_none(evidence, finding["evidence"], as_text=True),
            _interned_or_none(remediation, finding["remediation"]),
            [location["path"], location["start_line"], location["end_line"]] if location else None,
            CHANGES.index(changes.change_of(finding["id"])) if changes else 0,
        ])
    return {"severities": list(SEVERITIES), "statuses": list(STATUSES), "changes": list(CHANGES),
            "rules": rules.values, "resources": resources.values, "classes": classes.values,
            "evidence": evidence.values, "remediation": remediation.values, "findings": rows}


@dataclass(frozen=True, slots=True)
class Facet:
    """One choice of a filter: the value rows are matched on, and how many rows have it."""

    value: str
    count: int


def facets(findings: list[dict[str, Any]]) -> dict[str, list[Facet]]:
    """The choices of the provider, account, rule and asset-class filters, sorted by value."""
    counters: dict[str, Counter[str]] = {name: Counter() for name in
                                         ("provider", "account", "rule", "classification")}
    for finding in findings:
        counters["provider"][finding["resource"]["provider"]] += 1
        counters["account"][finding["resource"]["account"]] += 1
        counters["rule"][finding["rule_id"]] += 1
        label = finding["classification"]["label"] if finding["classification"] else NO_CLASSIFICATION
        counters["classification"][label] += 1
    return {name: [Facet(value, count) for value, count in sorted(counter.items())]
            for name, counter in counters.items()}


@dataclass(frozen=True, slots=True)
class EmbeddedData:
    encoding: str  # PLAIN or GZIP_BASE64, for report.js
    text: Markup  # safe inside <script type="application/json">
    json_bytes: int  # before compression, for the record


def embed(data: Any, compress_above: int = COMPRESS_ABOVE) -> EmbeddedData:
    text = _canonical(data)
    raw = text.encode("utf-8")
    if len(raw) > compress_above:
        # mtime=0: the same data gives the same bytes, so the page stays reproducible
        packed = base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")
        return EmbeddedData(GZIP_BASE64, Markup(packed), len(raw))
    # what jinja's |tojson does: these escapes read back as the same characters in JSON
    safe = (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("'", "\\u0027"))
    return EmbeddedData(PLAIN, Markup(safe), len(raw))
