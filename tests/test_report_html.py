"""report.html: hostile cloud text stays inert, the page is self-contained, and it renders
from the package data a wheel would install.

These read the page as a parser does; test_browser_report.py runs it in Chromium.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jinja2 import StrictUndefined
from markupsafe import escape

from auditor.access.model import AccessMap
from auditor.inventory import Inventory
from auditor.report.html import HtmlRenderer
from auditor.report.templating import environment
from auditor.run import RunMetadata, RunResult
from tests.test_report_json import (
    ALICE,
    EXTERNAL_ROOT,
    HOSTILE_BUCKET,
    PAYLOADS,
    SCRIPT_PAYLOAD,
    TRAIN_BUCKET,
    TRAINER,
    UNANALYZED_BUCKET,
    build_result,
)

REPO = Path(__file__).resolve().parents[1]
# what the access-path pictures are drawn with; anything else in an <svg> was injected
SVG_ELEMENTS = {"svg", "title", "defs", "marker", "path", "g", "line", "rect", "text"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Node] = field(default_factory=list)
    text: str = ""  # raw text of this node and its descendants, as the parser decoded it

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if (tag is None or child.tag == tag) and all(
                    child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                found.append(child)
            found.extend(child.find_all(tag, **attrs))
        return found


class TreeBuilder(HTMLParser):
    """A small DOM: enough to ask which elements and attributes the browser would see."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.elements: list[Node] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        self.elements.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        for node in self.stack:
            node.text += data


def parse(html: str) -> TreeBuilder:
    tree = TreeBuilder()
    tree.feed(html)
    tree.close()
    assert tree.stack == [tree.root], "unclosed elements"
    return tree


@pytest.fixture(scope="module")
def html() -> str:
    return HtmlRenderer().render(build_result())


@pytest.fixture(scope="module")
def tree(html: str) -> TreeBuilder:
    return parse(html)


def _sha256_source(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
    return f"'sha256-{digest}'"


def embedded_data(tree: TreeBuilder) -> dict[str, Any]:
    """The findings data report.js reads, decoded as the browser decodes it."""
    [block] = tree.root.find_all("script", type="application/json")
    if block.attrs["data-encoding"] == "gzip+base64":
        return json.loads(gzip.decompress(base64.b64decode(block.text)))
    assert block.attrs["data-encoding"] == "json"
    return json.loads(block.text)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


# --- hostile text --------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_text_never_appears_raw(html: str, payload: str) -> None:
    assert payload not in html


def test_hostile_text_in_markup_is_escaped(html: str) -> None:
    # the hostile bucket is a sensitive asset: its name and tags are drawn by the template
    for payload in PAYLOADS[:3]:
        assert str(escape(payload)) in html


def test_hostile_text_reads_back_as_the_original_text(tree: TreeBuilder) -> None:
    # escaped, not dropped: the reader sees exactly what the cloud holds, whether the template
    # drew it or report.js will (from the data block)
    visible = tree.root.find_all("main")[0].text
    data = "\n".join(_strings(embedded_data(tree)))
    for payload in PAYLOADS:
        assert payload in visible or payload in data
    assert SCRIPT_PAYLOAD in visible and HOSTILE_BUCKET in data


def test_no_markup_is_injected(tree: TreeBuilder) -> None:
    tags = [node.tag for node in tree.elements]
    assert tags.count("script") == 2
    assert not {"img", "iframe", "object", "embed", "base", "link", "foreignobject"} & set(tags)
    handlers = [(n.tag, a) for n in tree.elements for a in n.attrs if a.startswith("on")]
    assert handlers == []
    pictures = tree.root.find_all("svg")
    assert len(pictures) == 2  # one per asset that someone can read
    for picture in pictures:
        assert {n.tag for n in picture.find_all()} <= SVG_ELEMENTS
        assert not any("href" in name for n in picture.find_all() for name in n.attrs)


def test_json_data_block_cannot_end_its_script(tree: TreeBuilder) -> None:
    [block] = tree.root.find_all("script", type="application/json")
    assert not {"<", ">", "&"} & set(block.text)
    rows = embedded_data(tree)["findings"]
    assert [row[0] for row in rows] == [f.id for f in build_result().findings]
    assert all(p in "\n".join(_strings(embedded_data(tree))) for p in PAYLOADS)


def test_a_compressed_data_block_decodes_to_the_same_data(tree: TreeBuilder) -> None:
    packed = parse(HtmlRenderer(compress_above=0).render(build_result()))
    [block] = packed.root.find_all("script", type="application/json")
    assert block.attrs["data-encoding"] == "gzip+base64"
    assert embedded_data(packed) == embedded_data(tree)


# --- self-contained ------------------------------------------------------------------------


def test_content_security_policy_allows_only_our_inline_code(tree: TreeBuilder) -> None:
    head = tree.root.find_all("head")[0]
    first = head.children[:2]
    assert [n.tag for n in first] == ["meta", "meta"]  # charset, then CSP before any content
    [meta] = head.find_all("meta", http_equiv="Content-Security-Policy")
    policy = meta.attrs["content"] or ""
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    [style] = tree.root.find_all("style")
    [script] = [s for s in tree.root.find_all("script") if "type" not in s.attrs]
    assert directives["style-src"] == _sha256_source(style.text)
    assert directives["script-src"] == _sha256_source(script.text)


def test_nothing_is_fetched_from_elsewhere(tree: TreeBuilder) -> None:
    links = [(n.tag, name, value) for n in tree.elements for name, value in n.attrs.items()
             if name in ("src", "href", "action", "srcset", "poster", "data")]
    external = [link for link in links
                if (link[2] or "").strip().lower().startswith(("http:", "https:", "//"))]
    assert external == []
    assert all((value or "").startswith("#") for _, name, value in links if name == "href")
    css = tree.root.find_all("style")[0].text
    assert "url(" not in css and "@import" not in css


def test_print_styles_are_included(tree: TreeBuilder) -> None:
    assert "@media print" in tree.root.find_all("style")[0].text


# --- content -------------------------------------------------------------------------------


def _asset(tree: TreeBuilder, resource_id: str) -> Node:
    [asset] = [a for a in tree.root.find_all("article")
               if a.find_all("code", **{"class": "res-id"})[0].text == resource_id]
    return asset


def test_header_says_the_scan_was_incomplete(tree: TreeBuilder) -> None:
    header = tree.root.find_all("header")[0].text
    assert "prod" in header and "9.9.9-test" in header and "2024-05-01T10:00:00Z" in header
    assert [n.text for n in tree.root.find_all("span") if "data-scan" in n.attrs] == ["incomplete"]


def test_summary_counts(tree: TreeBuilder) -> None:
    counts = {n.attrs["data-count"]: int(n.text) for n in tree.root.find_all("td")
              if "data-count" in n.attrs}
    assert counts == {"severity-critical": 2, "severity-high": 2, "severity-medium": 1,
                      "severity-low": 0, "severity-info": 1, "status-fail": 4,
                      "status-error": 1, "status-suppressed": 1, "total": 6}


def test_each_sensitive_asset_shows_its_blast_radius(tree: TreeBuilder) -> None:
    # the "other" bucket is not listed
    assert len(tree.root.find_all("article", **{"class": "asset"})) == 3
    train = _asset(tree, TRAIN_BUCKET)
    metrics = {n.attrs["data-metric"]: int(n.text) for n in train.find_all("dd")}
    assert metrics == {"read": 4, "write": 1, "delete": 1, "admin": 1, "principals": 5,
                       "human": 1, "external": 2, "public": 1}


def test_who_can_read_lists_each_reader_with_its_path(tree: TreeBuilder) -> None:
    rows = _asset(tree, TRAIN_BUCKET).find_all("tbody")[-1].find_all("tr")
    readers = {row.find_all("td")[0].text: row for row in rows}
    assert sorted(readers) == sorted(["*", ALICE, EXTERNAL_ROOT, TRAINER])
    assert f"{ALICE}#inline:read-train" in readers[ALICE].text
    assert readers[EXTERNAL_ROOT].attrs["data-decision"] == "conditional"
    assert "aws:SourceVpce" in readers[EXTERNAL_ROOT].text


def test_an_unanalyzed_asset_is_flagged_incomplete(tree: TreeBuilder) -> None:
    unanalyzed = _asset(tree, UNANALYZED_BUCKET)
    assert unanalyzed.find_all("div", **{"class": "unknown"})
    assert "not analyzed" in unanalyzed.text
    assert "No principal can read it" not in unanalyzed.text


def test_findings_data_keeps_the_engine_order(tree: TreeBuilder) -> None:
    result = build_result()
    data = embedded_data(tree)
    rows = data["findings"]
    assert [r[0] for r in rows] == [f.id for f in result.findings]
    assert [data["severities"][r[2]] for r in rows] == [f.severity for f in result.findings]
    assert [data["rules"][r[1]][0] for r in rows] == [f.rule_id for f in result.findings]
    assert [data["resources"][r[4]][0] for r in rows] == [f.resource.id for f in result.findings]


def test_the_table_is_left_to_the_script(tree: TreeBuilder) -> None:
    [table] = tree.root.find_all("table", id="findings-table")
    assert table.attrs["data-total"] == "6" and table.find_all("tbody")[0].children == []
    [form] = tree.root.find_all("form", id="filters")
    assert "hidden" in form.attrs  # dead without the script, so the script shows it
    assert "findings.json" in tree.root.find_all("noscript")[0].text


def test_coverage_lists_collection_errors(tree: TreeBuilder) -> None:
    coverage = tree.root.find_all("section", id="coverage")[0]
    [error] = coverage.find_all("table", **{"class": "errors"})[0].find_all("tbody")[0].children
    assert "GetBucketPolicy" in error.text and "AccessDenied" in error.text
    assert UNANALYZED_BUCKET in error.text


def test_an_empty_complete_run_renders() -> None:
    empty = RunResult(RunMetadata("0.1.0", None, "2024-05-01T10:00:00Z", "2024-05-01T10:00:01Z"),
                      Inventory(), {}, AccessMap(), [])
    tree = parse(HtmlRenderer().render(empty))
    assert [n.text for n in tree.root.find_all("span") if "data-scan" in n.attrs] == ["complete"]
    assert "No findings." in tree.root.text and tree.root.find_all("article") == []


def test_html_is_byte_identical_for_the_same_run(html: str) -> None:
    assert html == HtmlRenderer().render(build_result(reverse_inputs=True))


def test_environment_escapes_everything_and_rejects_undefined() -> None:
    env = environment()
    assert env.autoescape is True and env.undefined is StrictUndefined
    with pytest.raises(Exception, match="undefined"):
        env.from_string("{{ missing }}").render()


# --- installed package ---------------------------------------------------------------------

RENDER_FROM_BUILD = """
import pickle, sys
from pathlib import Path
import auditor, auditor._data.templates as templates
from auditor.report.html import HtmlRenderer
lib = Path(sys.argv[1]).resolve()
for module in (auditor, templates):
    assert lib in Path(module.__file__).resolve().parents, module.__file__
result = pickle.loads(Path(sys.argv[2]).read_bytes())
Path(sys.argv[3]).write_text(HtmlRenderer().render(result), encoding="utf-8")
"""


def test_renders_from_the_files_a_wheel_installs(tmp_path: Path, html: str) -> None:
    """build_py lays out exactly what bdist_wheel packs, package-data globs included."""
    pytest.importorskip("setuptools", reason="setuptools is needed to lay out the package")
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for name in ("auditor", "reports", "rules"):
        shutil.copytree(REPO / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    lib = tmp_path / "lib"
    _run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(lib)], cwd=source)
    pickled, out = tmp_path / "result.pickle", tmp_path / "report.html"
    pickled.write_bytes(pickle.dumps(build_result()))
    # outside the checkout, with only the built tree ahead of site-packages
    env = {**os.environ, "PYTHONPATH": str(lib), "PYTHONSAFEPATH": "1"}
    _run([sys.executable, "-c", RENDER_FROM_BUILD, str(lib), str(pickled), str(out)],
         cwd=tmp_path, env=env)
    assert out.read_text(encoding="utf-8") == html


def _run(command: list[str], **kwargs: Any) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    assert done.returncode == 0, done.stderr


# --- the script ----------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                                 "eval(", "Function(", "setTimeout(\"", "createContextualFragment",
                                 "srcdoc", "javascript:"])
def test_the_script_never_parses_data_as_markup_or_code(api: str) -> None:
    script = (REPO / "reports" / "templates" / "report.js").read_text(encoding="utf-8")
    assert api not in script


def test_assets_are_listed_most_exposed_first_with_a_headline(tree: TreeBuilder) -> None:
    order = [a.find_all("code", **{"class": "res-id"})[0].text
             for a in tree.root.find_all("article", **{"class": "asset"})]
    # acme-train: public and two external principals; the hostile bucket: public only
    assert order == [TRAIN_BUCKET, HOSTILE_BUCKET, UNANALYZED_BUCKET]
    headline = {n.attrs["data-exposure"]: int(n.text) for n in tree.root.find_all("strong")
                if "data-exposure" in n.attrs}
    assert headline == {"assets": 3, "public": 2, "external": 1, "incomplete": 2}
