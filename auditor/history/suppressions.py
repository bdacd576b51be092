"""Suppressions: accepted findings, muted until a date, never dropped.

```yaml
suppressions:
  - rule: aws.s3.sensitive-cross-account-read     # glob on the rule id (required; "*" = any)
    resource: "arn:aws:s3:::acme-partner-*"       # glob on the resource id or name (optional)
    account: "111122223333"                       # glob on the account or GCP project (optional)
    reason: Partner X reads its own checkpoints (contract 2025-17)
    owner: ml-platform@acme.example
    expires: 2026-12-31                           # a date; the last day it applies
```

A finding that an active suppression matches keeps everything it had but its status, which
becomes ``suppressed``; ``evidence.suppression`` records which entry muted it and why. On the
day after ``expires`` the entry stops working (its findings are reported again) and is itself
reported, as a finding of ``auditor.suppressions.expired``, until someone renews or removes it.
The file is read strictly: a mistake is a ConfigError naming the file and the line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError
from auditor.findings import Finding, ResourceRef
from auditor.rules.yamlfile import LineList, Reader, Reported, parse

REQUIRED = ("rule", "reason", "owner", "expires")
OPTIONAL = ("resource", "account")
EXPIRED_RULE_ID = "auditor.suppressions.expired"
EXPIRED_SEVERITY = "low"


@dataclass(frozen=True, slots=True)
class Suppression:
    rule: str
    reason: str
    owner: str
    expires: date
    source: str
    line: int
    resource: str | None = None
    account: str | None = None

    def matches(self, finding: Finding) -> bool:
        ref = finding.resource
        return (fnmatchcase(finding.rule_id, self.rule)
                and (self.resource is None
                     or any(fnmatchcase(name, self.resource) for name in (ref.id, ref.name)))
                and (self.account is None or fnmatchcase(ref.account, self.account)))

    def expired(self, now: datetime) -> bool:
        return now.date() > self.expires

    @property
    def pattern(self) -> str:
        """What the entry matches, as one line: it names the entry in findings and messages."""
        parts = [f"rule={self.rule}"]
        parts += [f"{key}={value}" for key, value in (("resource", self.resource),
                                                       ("account", self.account)) if value]
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "resource": self.resource, "account": self.account,
                "reason": self.reason, "owner": self.owner, "expires": self.expires.isoformat(),
                "source": self.source, "line": self.line}


def load_suppressions(path: Path) -> list[Suppression]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the suppressions file: {exc.strerror}",
                          source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", source=str(path)) from None
    return parse_suppressions(text, str(path))


def parse_suppressions(text: str, source: str) -> list[Suppression]:
    reader = Reader(source, ConfigError)
    document = parse(text, source, ConfigError)
    entries = reader.attempt(lambda: _entries(reader, document))
    reader.check()
    return entries or []


def _entries(reader: Reader, document: Any) -> list[Suppression]:
    doc = reader.mapping(document, getattr(document, "line", 1), "a suppressions file",
                         required=("suppressions",))
    items = reader.field(doc, "suppressions", LineList, "suppressions")
    entries = reader.each(lambda item, line: _entry(reader, item, line), items)
    if reader.problems:
        raise Reported("the suppressions file has problems")
    return entries


def _entry(reader: Reader, item: Any, line: int) -> Suppression:
    block = reader.mapping(item, line, "a suppression", required=REQUIRED, optional=OPTIONAL)
    expires_text = block["expires"]
    try:
        expires = date.fromisoformat(expires_text) if isinstance(expires_text, str) else None
    except ValueError:
        expires = None
    if expires is None:
        raise reader.fail(f"expires must be a date such as 2026-12-31, found {expires_text!r}",
                          block.line_of("expires"))
    return Suppression(
        rule=reader.text(block, "rule", "rule"), reason=reader.text(block, "reason", "reason"),
        owner=reader.text(block, "owner", "owner"), expires=expires, source=reader.source,
        line=line, **{key: reader.text(block, key, key) for key in OPTIONAL if key in block})


def apply_suppressions(findings: Sequence[Finding], suppressions: Sequence[Suppression],
                       now: datetime) -> tuple[list[Finding], list[Suppression]]:
    """The findings with those an active suppression matches muted (same order, none
    dropped), and the suppressions that have expired."""
    active = [s for s in suppressions if not s.expired(now)]
    expired = [s for s in suppressions if s.expired(now)]
    muted = []
    for finding in findings:
        entry = next((s for s in active if s.matches(finding)), None)
        if entry is None or finding.status == "suppressed":
            muted.append(finding)
            continue
        evidence = {**finding.evidence, "suppression": {**entry.to_dict(), "status": finding.status}}
        muted.append(dataclasses.replace(finding, status="suppressed", evidence=evidence))
    return muted, expired


def expired_findings(expired: Iterable[Suppression]) -> list[Finding]:
    """One finding per expired suppression, so that it is renewed or removed, not forgotten."""
    return [Finding(
        rule_id=EXPIRED_RULE_ID, title="A suppression has expired", severity=EXPIRED_SEVERITY,
        status="fail",
        resource=ResourceRef(id=f"suppression:{s.pattern}", type="auditor.suppression",
                             name=s.pattern, provider="auditor", account=s.account or "*"),
        message=f"The suppression {s.pattern} ({s.source} line {s.line}, owner {s.owner}) expired "
                f"on {s.expires.isoformat()}: the findings it muted are reported again. Renew it "
                f"with a new date and reason, or remove it.",
        evidence={"suppression": s.to_dict()},
        remediation={"text": "Fix what the suppression accepted, or renew it with a new expiry "
                             "date and a current reason; remove entries that match nothing."})
        for s in expired]
