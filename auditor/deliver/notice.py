"""What a notification says about a run: one title, the counts, the worst findings, where the
files are. Email and the webhook render this one summary, each in its own format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.deliver.bundle import RunBundle
from auditor.findings import SEVERITIES


@dataclass(frozen=True, slots=True)
class NoticeFinding:
    severity: str
    rule_id: str
    title: str
    resource: str
    message: str


@dataclass(frozen=True, slots=True)
class Notice:
    profile: str
    finished_at: str
    title: str
    by_severity: dict[str, int]
    by_status: dict[str, int]
    total: int
    complete: bool | None  # None: the run left no findings.json to say
    collection_errors: int
    worst: tuple[NoticeFinding, ...]
    locations: tuple[str, ...]

    @property
    def scan_line(self) -> str:
        if self.complete is None:
            return "no findings.json in the run: counts unknown"
        if self.complete:
            return "scan complete"
        return (f"scan incomplete: {self.collection_errors} collection error(s); what they hid "
                f"was not checked")

    def text(self) -> str:
        """The plain-text form (email's text part, the webhook's fallback text)."""
        lines = [self.title, self.scan_line, ""]
        if self.worst:
            lines.append("Worst failing findings:")
            lines += [f"- [{f.severity}] {f.rule_id} on {f.resource}: {f.message}" for f in self.worst]
            lines.append("")
        lines += [f"Report: {location}" for location in self.locations]
        return "\n".join(lines).rstrip() + "\n"


def _counts(summary: dict[str, Any] | None) -> tuple[dict[str, int], dict[str, int], int]:
    if not summary:
        return {}, {}, 0
    return dict(summary.get("by_severity", {})), dict(summary.get("by_status", {})), \
        int(summary.get("total", 0))


def build_notice(run: RunBundle, locations: list[str]) -> Notice:
    by_severity, by_status, total = _counts(run.summary)
    profile = run.run.get("profile") or "(no profile)"
    if run.summary is None:
        headline = "no findings.json"
    elif total:
        shown = ", ".join(f"{by_severity[s]} {s}" for s in SEVERITIES if by_severity.get(s))
        headline = f"{total} finding(s): {shown}"
    else:
        headline = "no findings"
    coverage = run.run.get("coverage") or {}
    worst = tuple(NoticeFinding(f.get("severity", ""), f.get("rule_id", ""), f.get("title", ""),
                                (f.get("resource") or {}).get("name", ""), f.get("message", ""))
                  for f in run.worst)
    return Notice(
        profile=profile,
        finished_at=run.run.get("finished_at") or run.stamp,
        # one line: it becomes an email subject, where a line break would end the header
        title=" ".join(f"audit {profile}: {headline}".split()),
        by_severity=by_severity, by_status=by_status, total=total,
        complete=coverage.get("complete") if run.summary is not None else None,
        collection_errors=len(coverage.get("collection_errors") or ()),
        worst=worst, locations=tuple(locations))
