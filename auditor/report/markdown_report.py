"""summary.md: a short Markdown summary for a GitHub job summary or a pull-request comment.

Counts by severity and status, compliance per framework and what changed since the baseline
(when the run has them), and the worst findings. Everything that comes from the cloud is
escaped: GitHub renders Markdown and some HTML in job summaries, and a bucket name must not be
able to add a link, an image or markup to the page.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from auditor.findings import SEVERITIES
from auditor.report.extras import compliance_view, run_changes
from auditor.report.summary import STATUSES

if TYPE_CHECKING:
    from auditor.findings import Finding
    from auditor.run import RunResult

TOP_FINDINGS = 15
NEW_FINDINGS = 20
# what could start markup inside a table cell (HTML is escaped separately)
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|!~])")


def md(text: object) -> str:
    """``text`` as literal Markdown table-cell content: no markup, no HTML, one line."""
    flat = " ".join(str(text).split())
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(flat, quote=False))


def table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str = "") -> list[str]:
    """A Markdown table; ``align`` has one letter per column, ``r`` for right-aligned."""
    rules = ["---:" if (align[i:i + 1] == "r") else "---" for i in range(len(header))]
    lines = [f"| {' | '.join(header)} |", f"| {' | '.join(rules)} |"]
    lines += [f"| {' | '.join(str(cell) for cell in row)} |" for row in rows]
    return lines


def _counts(findings: Sequence[Finding]) -> list[str]:
    counted = Counter((f.severity, f.status) for f in findings)
    rows = [[s, *(counted[(s, status)] for status in STATUSES)] for s in SEVERITIES]
    return table(["severity", *STATUSES], rows, "l" + "r" * len(STATUSES))


def _finding_rows(findings: Iterable[Finding]) -> list[list[str]]:
    return [[f.severity, f.status, md(f.rule_id), md(f.resource.name), md(f.message)]
            for f in findings]


def _findings_table(findings: Sequence[Finding], limit: int) -> list[str]:
    lines = table(["severity", "status", "rule", "resource", "message"],
                  _finding_rows(findings[:limit]))
    if len(findings) > limit:
        lines.append(f"\n… and {len(findings) - limit} more in findings.json and report.html.")
    return lines


def _compliance(result: RunResult) -> list[str]:
    frameworks = compliance_view(result)
    if not frameworks:
        return []
    rows = [[md(f.name), *f.counts().values()] for f in frameworks]
    statuses = list(frameworks[0].counts())
    return ["", "## Compliance", "", *table(["framework", *statuses], rows, "l" + "r" * len(statuses))]


def _changes(result: RunResult) -> list[str]:
    changes = run_changes(result)
    if changes is None:
        return []
    new = [f for f in result.findings if f.id in changes.new and f.status != "suppressed"]
    lines = ["", "## Since the baseline", "",
             f"{len(changes.new)} new, {len(changes.resolved)} resolved, "
             f"{len(changes.unchanged)} unchanged."]
    if new:
        lines += ["", *_findings_table(new, NEW_FINDINGS)]
    return lines


def render_summary(result: RunResult) -> str:
    meta = result.metadata
    open_findings = [f for f in result.findings if f.status != "suppressed"]
    lines = [f"# Audit of {md(meta.profile or 'an inventory')}", "",
             f"{meta.started_at} to {meta.finished_at}, auditor {md(meta.tool_version)}, "
             f"fails on {meta.fail_on} and above."]
    if result.incomplete:
        lines += ["", f"**Incomplete:** {len(result.inventory.errors)} collection error(s); "
                      "what could not be read was not checked (see the coverage section of "
                      "report.html)."]
    lines += ["", "## Findings", "", *_counts(result.findings)]
    lines += _compliance(result)
    lines += _changes(result)
    lines += ["", "## Top findings", ""]
    lines += _findings_table(open_findings, TOP_FINDINGS) if open_findings else ["None."]
    return "\n".join(lines) + "\n"


class MarkdownRenderer:
    name = "markdown"
    filename = "summary.md"

    def render(self, result: RunResult) -> str:
        return render_summary(result)
