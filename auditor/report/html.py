"""report.html: one self-contained page, readable offline and on paper.

Everything a cloud resource controls (names, tags, policies, messages) reaches the page only
through jinja2 autoescaping or as escaped JSON data; the inline CSS and JS are our own files,
allowed by their hashes in the Content-Security-Policy and by nothing else.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from auditor.findings import SEVERITIES
from auditor.report.assets import sensitive_assets
from auditor.report.json_report import findings_document
from auditor.report.summary import STATUSES
from auditor.report.templating import InlineAsset, environment, inline_asset

if TYPE_CHECKING:
    from auditor.run import RunResult

TEMPLATE = "report.html.j2"


def content_security_policy(style: InlineAsset, script: InlineAsset) -> str:
    # base-uri and form-action do not fall back to default-src
    return (f"default-src 'none'; style-src {style.csp_source}; "
            f"script-src {script.csp_source}; base-uri 'none'; form-action 'none'")


def search_text(finding: dict[str, Any]) -> str:
    """What the search box matches a finding against, evidence included."""
    resource = finding["resource"]
    classification = finding["classification"] or {}
    parts = [finding["rule_id"], finding["title"], finding["severity"], finding["status"],
             finding["message"], resource["id"], resource["name"], resource["type"],
             resource["account"], resource["region"] or "", *resource.get("aliases", ()),
             classification.get("label", ""),
             json.dumps(finding["evidence"], sort_keys=True, ensure_ascii=False)]
    return "\n".join(parts).lower()


def report_context(result: RunResult) -> dict[str, Any]:
    document = findings_document(result)
    style = inline_asset("report.css", "style")
    script = inline_asset("report.js", "script")
    return {
        "run": document["run"],
        "summary": document["summary"],
        "rules": document["rules"],
        "findings": document["findings"],
        "assets": sensitive_assets(result),
        "severities": SEVERITIES,
        "statuses": STATUSES,
        # read by report.js; |tojson escapes < > & ' so no data can end the script element
        "data": {"search": {f["id"]: search_text(f) for f in document["findings"]}},
        "style": style,
        "script": script,
        "csp": content_security_policy(style, script),
    }


class HtmlRenderer:
    name = "html"
    filename = "report.html"

    def render(self, result: RunResult) -> str:
        return environment().get_template(TEMPLATE).render(report_context(result))
