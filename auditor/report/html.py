"""report.html: one self-contained page, readable offline and on paper.

Everything a cloud resource controls (names, tags, policies, messages) reaches the page only
through jinja2 autoescaping or as escaped JSON data that report.js puts into the page with
textContent; the inline CSS and JS are our own files, allowed by their hashes in the
Content-Security-Policy and by nothing else.

Sections: summary, changes since the last run (when the run has a diff), sensitive assets
(blast radius and a picture of the access paths, worst exposed first), findings (a
filterable, sortable, searchable table rendered by report.js from compact data), compliance
(when the run has it), coverage, rules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from auditor.findings import SEVERITIES
from auditor.report.assets import BlastRadius, SensitiveAsset, sensitive_assets
from auditor.report.extras import COMPLIANCE_STATUSES, compliance_view, run_changes
from auditor.report.findings_table import COMPRESS_ABOVE, embed, facets, findings_table
from auditor.report.json_report import findings_document
from auditor.report.paths import PathPicture, access_picture
from auditor.report.summary import STATUSES
from auditor.report.templating import InlineAsset, environment, inline_asset

if TYPE_CHECKING:
    from auditor.run import RunResult

TEMPLATE = "report.html.j2"
# resolved findings listed by name; the rest are counted (they are in the previous run's files)
MAX_RESOLVED_LISTED = 500
# assets shown in full (blast radius, picture, every reader); every asset has a row in the
# overview table, and access.json has every grant of every asset
MAX_DETAILED_ASSETS = 100


def content_security_policy(style: InlineAsset, script: InlineAsset) -> str:
    # base-uri and form-action do not fall back to default-src
    return (f"default-src 'none'; style-src {style.csp_source}; "
            f"script-src {script.csp_source}; base-uri 'none'; form-action 'none'")


@dataclass(frozen=True, slots=True)
class AssetView:
    asset: SensitiveAsset
    radius: BlastRadius
    picture: PathPicture | None  # who can read it, and by which path

    def exposure(self) -> tuple[int, int, int, int, str]:
        """Worst first: the public, then other accounts, then many people, then many principals."""
        r = self.radius
        return (-r.public, -r.external, -r.human, -r.principals, self.asset.resource.id)


def asset_views(result: RunResult, detailed: int = MAX_DETAILED_ASSETS) -> list[AssetView]:
    """Most exposed first; only the first ``detailed`` get a picture (only they are drawn)."""
    views = sorted((AssetView(asset, asset.blast_radius(), None) for asset in sensitive_assets(result)),
                   key=AssetView.exposure)
    return [replace(view, picture=access_picture(view.asset.resource, view.asset.who("read")))
            if index < detailed else view for index, view in enumerate(views)]


def exposure_summary(views: list[AssetView]) -> dict[str, int]:
    return {"assets": len(views),
            "public": sum(1 for v in views if v.radius.public),
            "external": sum(1 for v in views
                            if any(g.external and not g.public for g in v.asset.grants)),
            "incomplete": sum(1 for v in views if v.asset.unknown)}


def report_context(result: RunResult, compress_above: int = COMPRESS_ABOVE) -> dict[str, Any]:
    document = findings_document(result)
    changes = run_changes(result)
    views = asset_views(result)
    choices = facets(document["findings"])
    style = inline_asset("report.css", "style")
    script = inline_asset("report.js", "script")
    return {
        "run": document["run"],
        "summary": document["summary"],
        "rules": document["rules"],
        "findings_total": len(document["findings"]),
        "facets": choices,
        # the rule ids a link may filter the table by (a rule without findings has no choice)
        "facet_values": {name: {c.value for c in values} for name, values in choices.items()},
        "assets": views,
        "exposure": exposure_summary(views),
        "changes": changes,
        "max_resolved": MAX_RESOLVED_LISTED,
        "max_detailed": MAX_DETAILED_ASSETS,
        "frameworks": compliance_view(result),
        "compliance_statuses": COMPLIANCE_STATUSES,
        "severities": SEVERITIES,
        "statuses": STATUSES,
        "data": embed(findings_table(document["findings"], changes), compress_above),
        "style": style,
        "script": script,
        "csp": content_security_policy(style, script),
    }


class HtmlRenderer:
    name = "html"
    filename = "report.html"

    def __init__(self, compress_above: int = COMPRESS_ABOVE) -> None:
        # tests lower it to exercise the compressed path with a small run
        self.compress_above = compress_above

    def render(self, result: RunResult) -> str:
        return environment().get_template(TEMPLATE).render(report_context(result, self.compress_above))
