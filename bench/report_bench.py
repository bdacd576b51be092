"""How report.html scales: size, render time and time-to-interactive in headless Chromium.

    .venv/bin/python bench/report_bench.py [--findings 100000] [--baseline 1000] [--loads 3]

Renders a synthetic run (tests/test_report_scale.py: many accounts, rules with long
remediation, findings with their own message and evidence) with the real renderer, opens it
in headless Chromium (Debian's chromium and chromium-driver) and measures, from navigation
start, when report.js has drawn the first page of the findings table (the "report-ready"
performance mark), plus how long one filter change and one search take over all findings.

Baselines measured in the same run: the same page with --baseline findings, and a naive page
that renders every finding as a table row on the server (what report.html did before it
embedded the findings as data), at --baseline findings and ten times that; the naive page at
the full size is extrapolated, not rendered (it would take minutes and hundreds of MB).

Budget: the full-size page under 25 MB and ready in under 5 seconds. Exits 1 when over it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the synthetic run and the browser helper live with the tests

from auditor.report.html import HtmlRenderer  # noqa: E402
from auditor.report.json_report import findings_document  # noqa: E402
from auditor.report.templating import environment  # noqa: E402
from auditor.run import RunResult  # noqa: E402
from tests.test_browser_support import chromium, missing_browser, wait_until_ready  # noqa: E402
from tests.test_report_scale import synthetic_result  # noqa: E402

BUDGET_BYTES = 25_000_000
BUDGET_READY_SECONDS = 5.0

# Every finding as a server-side row with its evidence and remediation, as report.html was
# rendered before its findings became embedded data. No CSP or script: this measures the
# markup alone, which favours the naive page.
NAIVE_TEMPLATE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>naive</title></head>
<body><table><tbody>
{% for f in findings %}<tr data-finding="{{ f.id }}"><td>{{ f.severity }}</td><td>{{ f.status }}</td>
<td><code>{{ f.rule_id }}</code><br>{{ f.title }}</td>
<td>{{ f.resource.name }}<code>{{ f.resource.id }}</code></td>
<td>{{ f.message }}</td><td><details><summary>evidence</summary><pre>{{ f.evidence|pretty_json }}</pre>
{% for k, v in f.remediation|dictsort %}<pre>{{ v if v is string else v|pretty_json }}</pre>{% endfor %}
</details></td></tr>
{% endfor %}</tbody></table>
<script>document.documentElement.setAttribute("data-ready", "true");
performance.mark("report-ready");</script></body></html>
"""

READY_MS = "return performance.getEntriesByName('report-ready')[0].startTime"
FILTER_MS = """const box = document.querySelector("input[name=severity][value=info]");
const t = performance.now(); box.click(); return performance.now() - t;"""
SEARCH_MS = """const form = document.getElementById("filters");
document.getElementById("search").value = arguments[0];
const t = performance.now(); form.requestSubmit(); return performance.now() - t;"""


@dataclass
class Measure:
    page: str
    findings: int
    size: int
    render_seconds: float
    ready_seconds: float | None = None
    filter_ms: float | None = None
    search_ms: float | None = None
    extrapolated: bool = False


def render_report(result: RunResult) -> tuple[str, float]:
    started = time.perf_counter()
    html = HtmlRenderer().render(result)
    return html, time.perf_counter() - started


def render_naive(result: RunResult) -> tuple[str, float]:
    started = time.perf_counter()
    findings = findings_document(result)["findings"]
    html = environment().from_string(NAIVE_TEMPLATE).render(findings=findings)
    return html, time.perf_counter() - started


def measure_in_browser(driver: Any, path: Path, measure: Measure, loads: int,
                       interactive: bool) -> None:
    readies = []
    for _ in range(loads):
        driver.get("about:blank")
        driver.get(path.as_uri())
        if wait_until_ready(driver, timeout=120) != "true":
            raise SystemExit(f"{path}: the page reported an error while loading")
        readies.append(driver.execute_script(READY_MS) / 1000)
    measure.ready_seconds = statistics.median(readies)
    if interactive:
        measure.filter_ms = driver.execute_script(FILTER_MS)
        measure.search_ms = driver.execute_script(SEARCH_MS, "grant17")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--loads", type=int, default=3, help="page loads per page (median)")
    args = parser.parse_args()

    pages: list[tuple[Measure, str, bool]] = []
    print(f"generating synthetic runs ({args.findings:,} and {args.baseline:,} findings)...",
          flush=True)
    full, small = synthetic_result(args.findings), synthetic_result(args.baseline)
    for label, result in (("report.html", full), ("report.html", small)):
        html, seconds = render_report(result)
        pages.append((Measure(label, len(result.findings), len(html.encode()), seconds), html, True))
    naive_sizes = []
    for count in (args.baseline, args.baseline * 10):
        html, seconds = render_naive(synthetic_result(count))
        naive_sizes.append(len(html.encode()) / count)
        pages.append((Measure("naive server-side rows", count, len(html.encode()), seconds),
                      html, False))
    extrapolated = Measure("naive server-side rows", args.findings,
                           int(naive_sizes[-1] * args.findings), float("nan"), extrapolated=True)

    reason = missing_browser()
    if reason:
        print(f"no browser measurements: {reason}")
    else:
        with tempfile.TemporaryDirectory() as folder, chromium(Path(folder) / "profile") as driver:
            for index, (measure, html, interactive) in enumerate(pages):
                path = Path(folder) / f"page-{index}.html"
                path.write_text(html, encoding="utf-8")
                measure_in_browser(driver, path, measure, args.loads, interactive)

    measures = [m for m, _, _ in pages] + [extrapolated]
    print()
    print(f"{'page':<24}{'findings':>10}{'size MB':>10}{'render s':>10}{'ready s':>10}"
          f"{'filter ms':>11}{'search ms':>11}")
    for m in measures:
        def cell(value: float | None, digits: int) -> str:
            return "-" if value is None or value != value else f"{value:.{digits}f}"
        mark = " (extrapolated)" if m.extrapolated else ""
        print(f"{m.page:<24}{m.findings:>10,}{m.size / 1e6:>10.2f}{cell(m.render_seconds, 2):>10}"
              f"{cell(m.ready_seconds, 2):>10}{cell(m.filter_ms, 0):>11}{cell(m.search_ms, 0):>11}"
              f"{mark}")
    big, base, naive_base = measures[0], measures[1], measures[2]
    growth = big.findings / base.findings
    print()
    print(f"ratios, {big.findings:,} vs {base.findings:,} findings (x{growth:.0f} findings): "
          f"size x{big.size / base.size:.1f}, render x{big.render_seconds / base.render_seconds:.1f}"
          + (f", ready x{big.ready_seconds / base.ready_seconds:.1f}"
             if big.ready_seconds and base.ready_seconds else ""))
    print(f"ratios against naive rows at {naive_base.findings:,} findings: size "
          f"x{base.size / naive_base.size:.2f}"
          + (f", ready x{base.ready_seconds / naive_base.ready_seconds:.2f}"
             if base.ready_seconds and naive_base.ready_seconds else "")
          + f"; at {big.findings:,}: size x{big.size / extrapolated.size:.3f} (naive extrapolated)")
    over = []
    if big.size >= BUDGET_BYTES:
        over.append(f"size {big.size / 1e6:.1f} MB >= {BUDGET_BYTES / 1e6:.0f} MB")
    if big.ready_seconds is not None and big.ready_seconds >= BUDGET_READY_SECONDS:
        over.append(f"ready {big.ready_seconds:.2f} s >= {BUDGET_READY_SECONDS:.0f} s")
    print("budget: " + ("; ".join(over) if over else
                        f"within (< {BUDGET_BYTES / 1e6:.0f} MB, ready < {BUDGET_READY_SECONDS:.0f} s)"))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
