"""A baseline: the findings of an earlier run, read from its findings.json.

Only what a diff needs is read (each finding's id, rule, severity, status and resource), and
checked: a malformed file is an InputError naming the file and the JSON path.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from auditor.errors import InputError
from auditor.findings import SEVERITIES
from auditor.history.model import FindingRecord

FINDING_ID = re.compile(r"^[0-9a-f]{20}$")
STATUSES = ("fail", "error", "suppressed")


def load_baseline(path: Path) -> list[FindingRecord]:
    source = str(path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the baseline: {exc.strerror}", source=source) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", source=source) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", source=source,
                         location=f"line {exc.lineno} column {exc.colno}") from None
    return parse_baseline(document, source)


def parse_baseline(document: Any, source: str) -> list[FindingRecord]:
    if not isinstance(document, dict) or not isinstance(document.get("findings"), list):
        raise InputError("not a findings.json: expected an object with a findings list",
                         source=source, location="$.findings")
    return [_record(item, source, f"$.findings[{i}]")
            for i, item in enumerate(document["findings"])]


def _record(item: Any, source: str, where: str) -> FindingRecord:
    def fail(message: str, path: str) -> InputError:
        return InputError(message, source=source, location=f"{where}{path}")

    if not isinstance(item, dict):
        raise fail("a finding must be an object", "")
    resource = item.get("resource")
    if not isinstance(resource, dict):
        raise fail("must be an object", ".resource")
    for key, value, path in (("id", item.get("id"), ".id"), ("rule_id", item.get("rule_id"), ".rule_id"),
                             ("resource id", resource.get("id"), ".resource.id")):
        if not isinstance(value, str) or not value:
            raise fail(f"the {key} must be a non-empty string", path)
    if not FINDING_ID.match(item["id"]):
        raise fail("a finding id is 20 lower-case hex digits", ".id")
    if item.get("severity") not in SEVERITIES:
        raise fail(f"must be one of {', '.join(SEVERITIES)}", ".severity")
    if item.get("status") not in STATUSES:
        raise fail(f"must be one of {', '.join(STATUSES)}", ".status")
    return FindingRecord(id=item["id"], rule_id=item["rule_id"], title=str(item.get("title") or ""),
                         severity=item["severity"], status=item["status"],
                         message=str(item.get("message") or ""), resource_id=resource["id"],
                         resource_name=str(resource.get("name") or resource["id"]),
                         resource_type=str(resource.get("type") or ""),
                         account=str(resource.get("account") or ""))
