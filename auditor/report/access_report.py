"""access.json: per sensitive asset, who can read, write, delete and administer it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auditor.report import canonical
from auditor.report.assets import sensitive_assets

if TYPE_CHECKING:
    from auditor.run import RunResult

SCHEMA_VERSION = 1


def access_document(result: RunResult) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION,
            "assets": [asset.to_dict() for asset in sensitive_assets(result)]}


class AccessRenderer:
    name = "access"
    filename = "access.json"

    def render(self, result: RunResult) -> str:
        return canonical.dumps(access_document(result))
