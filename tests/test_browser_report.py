"""report.html in headless Chromium: the table's filters, sorting, search and pages work, the
console stays clean, and hostile text from every cloud-controlled field never runs.

Needs Debian's chromium and chromium-driver (see test_browser_support.py). A failing test
saves a screenshot and the browser console next to its tmp_path and names them in the report.
Expected rows are computed from the run the page was made from, never read from the page.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from auditor.access.model import AccessGrant, AccessMap, AssetAccess, PathStep
from auditor.classify.model import MODEL_WEIGHTS, Classification
from auditor.compliance.model import RequirementResult
from auditor.findings import Finding, ResourceRef, SourceLocation
from auditor.inventory import CollectionError, Inventory, Resource, Scope
from auditor.report.html import HtmlRenderer
from auditor.run import RuleOutcome, RunMetadata, RunResult
from tests.test_browser_support import chromium, missing_browser, wait_until_ready
from tests.test_report_golden import full_result
from tests.test_report_scale import synthetic_result

pytestmark = pytest.mark.skipif(missing_browser() is not None, reason=missing_browser() or "")

SELFTEST_VARIABLE = "AUDITOR_BROWSER_SELFTEST"
SCREENSHOT_SECTION = "browser screenshot"


# --- a screenshot when a browser test fails -------------------------------------------------


class ScreenshotOnFailure:
    """A pytest hook, registered by this module, that photographs the page a test failed on."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Iterator[None]:
        report = yield
        page = getattr(item, "funcargs", {}).get("page")
        if report.when == "call" and report.failed and isinstance(page, Page):
            report.sections.append((SCREENSHOT_SECTION, page.save_artifacts(item.name)))
        return report


@pytest.fixture(scope="module", autouse=True)
def _screenshots_on_failure(request: pytest.FixtureRequest) -> None:
    manager = request.config.pluginmanager
    if not manager.has_plugin(ScreenshotOnFailure.__name__):
        manager.register(ScreenshotOnFailure(), ScreenshotOnFailure.__name__)


# --- the browser and the page ---------------------------------------------------------------


@dataclass
class Page:
    driver: Any
    artifacts: Path

    def open(self, path: Path) -> None:
        self.driver.get(path.as_uri())
        assert wait_until_ready(self.driver) == "true"

    def script(self, code: str, *args: Any) -> Any:
        return self.driver.execute_script(code, *args)

    def element(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def rows(self) -> list[str]:
        return self.script("return Array.from(document.querySelectorAll("
                           "'#findings-table tbody tr[data-finding]'), r => r.dataset.finding)")

    def shown(self) -> int:
        return int(self.element("#shown").text)

    def keep_severities(self, *keep: str) -> None:
        for box in self.driver.find_elements("css selector", "input[name=severity]"):
            if box.is_selected() != (box.get_attribute("value") in keep):
                box.click()

    def choose(self, name: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.element(f"#filters select[name={name}]")).select_by_value(value)

    def search(self, text: str) -> None:
        from selenium.webdriver.common.keys import Keys

        box = self.element("#search")
        box.clear()
        box.send_keys(text, Keys.ENTER)  # Enter applies at once, without the typing delay

    def sort(self, key: str) -> None:
        self.element(f"th[data-sort={key}] button").click()

    def console_errors(self) -> list[dict[str, Any]]:
        return [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def save_artifacts(self, name: str) -> str:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        shot = self.artifacts / f"{name}.png"
        self.driver.save_screenshot(str(shot))
        log = self.artifacts / f"{name}.console.txt"
        log.write_text("\n".join(str(e) for e in self.driver.get_log("browser")), encoding="utf-8")
        return f"{shot}\n{log}"


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as browser:
        yield browser


@pytest.fixture
def page(driver: Any, tmp_path: Path) -> Page:
    driver.get("about:blank")
    driver.get_log("browser")  # start each test with an empty console
    return Page(driver, tmp_path / "browser-artifacts")


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    folder = tmp_path_factory.mktemp("reports")
    made: dict[tuple[str, int], Path] = {}

    def make(name: str, result: RunResult, compress_above: int = 10**9) -> Path:
        key = (name, compress_above)
        if key not in made:
            made[key] = folder / f"{name}-{compress_above}.html"
            made[key].write_text(HtmlRenderer(compress_above).render(result), encoding="utf-8")
        return made[key]

    return make


@pytest.fixture(scope="module")
def run() -> RunResult:
    return full_result()


@pytest.fixture
def report(page: Page, render: Callable[..., Path], run: RunResult) -> RunResult:
    page.open(render("full", run))
    return run


def ids(findings: list[Finding]) -> list[str]:
    return [f.id for f in findings]


# --- filters, search, sorting, pages --------------------------------------------------------


def test_every_finding_is_listed_in_the_engine_order(page: Page, report: RunResult) -> None:
    assert page.rows() == ids(report.findings) and page.shown() == len(report.findings)


def test_the_severity_filter_narrows_the_rows(page: Page, report: RunResult) -> None:
    page.keep_severities("critical")
    assert page.rows() == ids([f for f in report.findings if f.severity == "critical"])
    page.keep_severities("high", "info")
    assert page.rows() == ids([f for f in report.findings if f.severity in ("high", "info")])


def test_the_status_filter_narrows_the_rows(page: Page, report: RunResult) -> None:
    page.element("input[name=status][value=fail]").click()
    assert page.rows() == ids([f for f in report.findings if f.status != "fail"])


def test_the_provider_and_account_filters_narrow_the_rows(page: Page, report: RunResult) -> None:
    page.choose("provider", "gcp")
    gcp = [f for f in report.findings if f.resource.provider == "gcp"]
    assert page.rows() == ids(gcp) and len(gcp) == 1
    page.choose("provider", "")
    page.choose("account", gcp[0].resource.account)
    assert page.rows() == ids(gcp)


def test_the_rule_filter_narrows_the_rows(page: Page, report: RunResult) -> None:
    page.choose("rule", "ml.external-read")
    expected = [f for f in report.findings if f.rule_id == "ml.external-read"]
    assert page.rows() == ids(expected) and len(expected) == 3


def test_the_asset_class_filter_narrows_the_rows(page: Page, report: RunResult) -> None:
    page.choose("classification", "model-weights")
    expected = [f for f in report.findings
                if f.classification and f.classification.label == "model-weights"]
    assert page.rows() == ids(expected) and expected
    page.choose("classification", "(not classified)")
    assert page.rows() == ids([f for f in report.findings if f.classification is None])


@pytest.mark.parametrize(("needle", "where"), [
    ("999988887777", "the message and evidence of one finding"),
    ("ROLES/STORAGE.OBJECTVIEWER", "only the evidence, in another case"),
    ("alias/acme-release", "a key's alias"),
])
def test_search_matches_text_anywhere_in_a_finding(page: Page, report: RunResult,
                                                    needle: str, where: str) -> None:
    page.search(needle)
    assert page.rows() == ids([f for f in report.findings
                               if needle.lower() in str(f.to_dict()).lower()]), where
    assert len(page.rows()) == 1


def test_filters_combine_and_clear(page: Page, report: RunResult) -> None:
    page.keep_severities("critical", "high")
    page.search("acme-train")
    expected = [f for f in report.findings
                if f.severity in ("critical", "high") and f.resource.name == "acme-train"]
    assert page.rows() == ids(expected) and len(expected) == 2
    page.element("#filters button[type=reset]").click()
    page.script("return new Promise(r => setTimeout(r, 50))")
    assert page.rows() == ids(report.findings)


def test_nothing_matching_says_so(page: Page, report: RunResult) -> None:
    page.search("no finding has this text")
    assert page.rows() == [] and page.shown() == 0
    assert "No finding matches" in page.element("#findings-table tbody").text


def test_new_findings_can_be_shown_from_the_changes_section(page: Page,
                                                            report: RunResult) -> None:
    assert report.diff is not None
    page.element("#changes a[data-filter-change=new]").click()
    assert page.rows() == [i for i in ids(report.findings) if i in report.diff["new"]]
    new_rows = page.script("return document.querySelectorAll('#findings-table .badge.new').length")
    assert new_rows == len(report.diff["new"])


def test_a_rule_link_filters_the_table(page: Page, report: RunResult) -> None:
    page.element("#rules a[data-filter-rule='aws.s3.bucket-public-read']").click()
    assert page.rows() == ids([f for f in report.findings
                               if f.rule_id == "aws.s3.bucket-public-read"])


def _resource_order(findings: list[Finding]) -> list[str]:
    # ties keep the engine's order (Python's sort is stable too)
    return ids(sorted(findings, key=lambda f: (f.resource.name, f.resource.id)))


def test_sorting_by_a_column_and_back(page: Page, report: RunResult) -> None:
    page.sort("resource")
    assert page.rows() == _resource_order(report.findings)
    assert page.element("th[data-sort=resource]").get_attribute("aria-sort") == "ascending"
    page.sort("resource")
    descending = ids(sorted(report.findings, key=lambda f: (f.resource.name, f.resource.id),
                            reverse=True))
    # reversed keys, ties still in the engine's order
    assert [report.findings[[f.id for f in report.findings].index(i)].resource.id
            for i in page.rows()] == [report.findings[[f.id for f in report.findings].index(i)]
                                      .resource.id for i in descending]
    page.sort("resource")
    assert page.rows() == ids(report.findings)
    assert page.element("th[data-sort=resource]").get_attribute("aria-sort") == "none"


def test_sorting_by_message_keeps_the_filters(page: Page, report: RunResult) -> None:
    page.keep_severities("critical", "high")
    page.sort("message")
    kept = [f for f in report.findings if f.severity in ("critical", "high")]
    assert page.rows() == ids(sorted(kept, key=lambda f: f.message))


def test_big_runs_are_shown_a_page_at_a_time(page: Page, render: Callable[..., Path]) -> None:
    result = synthetic_result(250)
    page.open(render("paged", result, 0))  # compressed, as big runs are
    everything = ids(result.findings)
    assert page.rows() == everything[:100]
    assert "rows 1\u2013100 of 250" in page.element("#page-info").text
    page.element("button[data-page=next]").click()
    assert page.rows() == everything[100:200]
    page.element("button[data-page=last]").click()
    assert page.rows() == everything[200:]
    assert page.element("button[data-page=next]").get_attribute("disabled") is not None
    from selenium.webdriver.support.ui import Select

    Select(page.element("#page-size")).select_by_value("25")
    assert page.rows() == everything[:25]
    page.keep_severities("critical")
    critical = ids([f for f in result.findings if f.severity == "critical"])
    assert page.rows() == critical[:25] and page.shown() == len(critical)


def test_the_compressed_page_shows_the_same_table(page: Page, render: Callable[..., Path],
                                                  run: RunResult) -> None:
    page.open(render("full", run, 0))
    page.sort("rule")
    assert page.rows() == ids(sorted(run.findings, key=lambda f: (f.rule_id, f.title)))


def test_the_console_stays_clean(page: Page, report: RunResult) -> None:
    page.keep_severities("high")
    page.search("acme")
    page.sort("account")
    page.element("#findings-table button.toggle").click()
    page.script("dispatchEvent(new Event('beforeprint')); dispatchEvent(new Event('afterprint'))")
    assert page.console_errors() == []


def test_evidence_opens_under_its_finding(page: Page, report: RunResult) -> None:
    first = report.findings[0]
    detail = page.element(f"tr[data-detail-of='{first.id}']")
    assert not detail.is_displayed()
    page.element(f"tr[data-finding='{first.id}'] button.toggle").click()
    assert detail.is_displayed()
    shown = detail.text
    assert json.dumps(first.evidence, indent=2, sort_keys=True, ensure_ascii=False) in shown
    assert first.id in shown
    page.element(f"tr[data-finding='{first.id}'] button.toggle").click()
    assert not detail.is_displayed()


def test_printing_shows_every_matching_row_with_its_evidence(page: Page,
                                                              report: RunResult) -> None:
    page.keep_severities("critical", "high")
    page.script("dispatchEvent(new Event('beforeprint'))")
    expected = [f for f in report.findings if f.severity in ("critical", "high")]
    assert page.rows() == ids(expected)
    assert page.script("return document.querySelectorAll('details:not([open])').length") == 0
    assert page.element("#print-note").is_displayed()
    page.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        details = page.driver.find_elements("css selector", "#findings-table tr.detail")
        assert len(details) == len(expected) and all(d.is_displayed() for d in details)
        assert not page.element("#filters").is_displayed()
    finally:
        page.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    page.script("dispatchEvent(new Event('afterprint'))")
    assert not page.element("#print-note").is_displayed()


def test_the_page_prints_to_pdf(page: Page, report: RunResult) -> None:
    import base64

    pdf = base64.b64decode(page.driver.print_page())
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
    assert page.console_errors() == []


# --- hostile text ---------------------------------------------------------------------------


def vector(field: str) -> str:
    """Markup that runs script wherever it is parsed as HTML, tagged with the field it is in."""
    return (f'{field}<img src=x onerror="window.__xss=\'{field}\'">'
            f'"><svg onload="window.__xss=\'{field}\'"></svg>'
            f"'</script><script>window.__xss='{field}'</script>"
            f'<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>'
            f"javascript:alert(1)//<img src=x onerror=alert(1)>")


def hostile_result() -> RunResult:
    """Every field a cloud resource (or a rule file, or a framework) controls holds a vector."""
    account = vector("account")
    bucket = Resource(id=f"arn:aws:s3:::{vector('bucket-id')}", type="aws.s3.bucket",
                      provider="aws", account=account, name=vector("bucket-name"),
                      region=vector("region"), tags={vector("tag-key"): vector("tag-value")})
    gcs = Resource(id=vector("gcs-id"), type="gcp.storage.bucket", provider="gcp",
                   account=vector("project"), name=vector("gcs-name"),
                   tags={vector("label-key"): vector("label-value")})
    weights = Classification(MODEL_WEIGHTS, (vector("classification-reason"),))
    grant = AccessGrant(
        principal=vector("principal-arn"), kind="external-account", human=None, access="read",
        action=vector("grant-action"), decision="conditional",
        conditions=({vector("condition-key"): {vector("condition-name"): vector("condition-value")}},),
        path=(PathStep(vector("principal-arn"), vector("hop-action"), vector("trust-policy"),
                       vector("trust-statement")),
              PathStep(vector("hop-principal"), vector("step-action"), vector("policy"),
                       vector("statement"))))
    access = AccessMap({bucket.id: AssetAccess(bucket.id, [grant], [vector("unknown-reason")]),
                        gcs.id: AssetAccess(gcs.id, [replace(grant, kind="public",
                                                             principal="allUsers")])})
    rule_id = vector("rule-id")

    def finding(resource: Resource, field: str) -> Finding:
        ref = ResourceRef(resource.id, resource.type, resource.name, resource.provider,
                          resource.account, resource.region, (vector("alias"),))
        return Finding(rule_id, vector("rule-title"), "critical", "fail", ref,
                       vector(f"{field}-message"), weights,
                       evidence={vector("evidence-key"): {"policy": vector("evidence-policy"),
                                                          "items": [vector("evidence-item")]}},
                       remediation={"text": vector("remediation"), vector("remediation-key"): "x"},
                       discriminator=field,
                       location=SourceLocation(vector("location-path"), 1, 2))

    findings = [finding(bucket, "bucket"), finding(gcs, "gcs")]
    error = CollectionError(provider="aws", account=account, service=vector("error-service"),
                            operation=vector("error-operation"), code=vector("error-code"),
                            message=vector("error-message"), region=vector("error-region"),
                            resource_id=bucket.id, attribute=vector("error-attribute"))
    inventory = Inventory(resources=[bucket, gcs], errors=[error],
                          scopes=[Scope("aws", vector("scope-account"), (vector("scope-region"),),
                                        (vector("scope-service"),))])
    return RunResult(
        metadata=RunMetadata(vector("tool-version"), vector("profile"), "2026-11-26T12:00:00Z",
                             "2026-11-26T12:01:00Z"),
        inventory=inventory, classifications={bucket.id: weights, gcs.id: weights},
        access=access, findings=findings,
        rules=[RuleOutcome(rule_id, vector("rule-title"), "critical", 2, 2)],
        compliance=[RequirementResult(vector("framework"), vector("requirement"),
                                      vector("requirement-title"), "failed", (rule_id,),
                                      (rule_id,))],
        diff={"new": [findings[0].id], "unchanged": [],
              "resolved": [{"id": vector("resolved-id"), "rule_id": vector("resolved-rule"),
                            "title": vector("resolved-title"), "severity": "high",
                            "resource": {"id": vector("resolved-resource"),
                                         "name": vector("resolved-name")}}]})


def _no_dialog_opened(driver: Any) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        text = driver.switch_to.alert.text
    except NoAlertPresentException:
        return True
    pytest.fail(f"a dialog opened: {text!r}")


@pytest.mark.parametrize("compress_above", [10**9, 0], ids=["plain-json", "gzip-base64"])
def test_hostile_text_never_runs(page: Page, render: Callable[..., Path], compress_above: int) -> None:
    page.open(render("hostile", hostile_result(), compress_above))
    # draw everything the script can draw: every row, every evidence block, a search, a sort,
    # links that set filters from hostile values, the print view
    page.element("#compliance a[data-filter-rule]").click()
    page.sort("resource")
    page.search("<img src=x")
    page.script("document.querySelectorAll('details').forEach(d => { d.open = true; });"
                "document.querySelectorAll('button.toggle').forEach(b => b.click());")
    page.script("dispatchEvent(new Event('beforeprint'))")
    assert _no_dialog_opened(page.driver)
    assert page.script("return window.__xss === undefined && window.parent.__xss === undefined")
    assert page.console_errors() == []  # a blocked inline script would be a CSP error here
    dom = page.script("""
        const all = Array.from(document.querySelectorAll('*'));
        return {
          tags: all.map(n => n.localName),
          handlers: all.flatMap(n => Array.from(n.attributes).filter(a => a.name.startsWith('on'))
                                      .map(a => n.localName + '@' + a.name)),
          links: Array.from(document.querySelectorAll('[href]'), n => n.getAttribute('href')),
          svgOutsidePictures: document.querySelectorAll('svg:not(figure.paths > svg)').length,
          text: document.body.textContent,
        };""")
    assert dom["tags"].count("script") == 2
    assert not {"img", "iframe", "object", "embed", "frame", "base", "link"} & set(dom["tags"])
    assert dom["handlers"] == [] and dom["svgOutsidePictures"] == 0
    assert all(link.startswith("#") for link in dom["links"])
    # inert, not lost: what the cloud holds is there to read, as text
    for field in ("bucket-name", "tag-key", "principal-arn", "policy", "statement",
                  "bucket-message", "remediation", "error-message", "requirement-title",
                  "resolved-name", "classification-reason", "label-value", "location-path"):
        assert vector(field) in dom["text"], field
    for field in ("evidence-policy", "evidence-key", "condition-value"):  # shown as JSON
        assert json.dumps(vector(field), ensure_ascii=False) in dom["text"], field
    assert page.rows() == ids(hostile_result().findings)  # the search found both


# --- the screenshot hook itself -------------------------------------------------------------


@pytest.mark.skipif(not os.environ.get(SELFTEST_VARIABLE),
                    reason=f"needs {SELFTEST_VARIABLE}=1, which only the screenshot test sets: "
                           "this test fails on purpose to exercise the screenshot hook")
def test_deliberate_failure_for_the_screenshot_hook(page: Page, report: RunResult) -> None:
    assert page.rows() == [], "this failure is expected"


def test_a_failing_browser_test_saves_a_screenshot(tmp_path: Path) -> None:
    base = tmp_path / "inner"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--basetemp", str(base),
         f"{__file__}::test_deliberate_failure_for_the_screenshot_hook"],
        capture_output=True, text=True, check=False, cwd=Path(__file__).parents[1],
        env={**os.environ, SELFTEST_VARIABLE: "1"}, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert SCREENSHOT_SECTION in done.stdout and "this failure is expected" in done.stdout
    shots = list(base.rglob("browser-artifacts/*.png"))
    assert len(shots) == 1 and shots[0].read_bytes().startswith(b"\x89PNG")
    assert str(shots[0]) in done.stdout
