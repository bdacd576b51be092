"""``scan_iac``: Terraform and CloudFormation in, the same RunResult as a live audit out."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from auditor import __version__, clock
from auditor.access.model import AccessMap
from auditor.classify.settings import ClassificationSettings
from auditor.errors import InputError
from auditor.iac import engine, results
from auditor.iac.context import IacScan, active
from auditor.iac.rules import load_rules
from auditor.iac.storage import BUCKET_TYPES
from auditor.inventory import Inventory, Scope
from auditor.run import RunMetadata, RunResult


def scan_iac(path: Path, settings: ClassificationSettings | None = None, *,
             trusted_accounts: Collection[str] = (), source_root: Path | None = None,
             profile: str | None = None, fail_on: str = "high") -> RunResult:
    """Scan a directory (recursively) or one file with checkov's checks and ours.

    ``settings``: the profile's classification settings, which decide which buckets hold
    training data or model weights, as in the live audit. ``trusted_accounts``: AWS account
    ids that a bucket policy may name without being cross-account. ``source_root``: what
    finding locations are relative to (default: the current directory when ``path`` is
    inside it, else ``path`` itself), so that SARIF paths match the repository.
    """
    started_at = clock.isoformat(clock.now())
    if not path.exists():
        raise InputError("no such file or directory", source=str(path))
    scanned = path.resolve()
    paths = results.Paths(source_root=(source_root or _default_source_root(scanned)).resolve())
    rules = load_rules()
    engine.register(rules)
    scan = IacScan(settings or ClassificationSettings(), trusted_accounts)
    with active(scan):
        reports = engine.run_checkov(scanned)
    errors = results.parse_errors(reports, paths)
    if not len(scan.model) and not errors:
        raise InputError("no Terraform or CloudFormation resources to scan here", source=str(path))
    findings, outcomes = results.build(reports, scan, rules, paths)
    inventory = Inventory()
    frameworks = tuple(sorted({block.framework for block in scan.model}
                              | {error.service for error in errors}))
    inventory.add([Scope(provider=results.PROVIDER, account=paths.show(str(scanned)), services=frameworks),
                   *(results.inventory_resource(paths, b) for b in scan.model if b.kind == "resource"),
                   *errors])
    inventory.sort()
    classifications = {results.resource_id(paths, block): scan.classification(block)
                       for block in scan.model if block.type in BUCKET_TYPES}
    metadata = RunMetadata(tool_version=__version__, profile=profile, started_at=started_at,
                           finished_at=clock.isoformat(clock.now()), fail_on=fail_on)
    return RunResult(metadata=metadata, inventory=inventory,
                     classifications={k: v for k, v in classifications.items() if v is not None},
                     access=AccessMap(), findings=findings, rules=outcomes)


def _default_source_root(scanned: Path) -> Path:
    here = Path.cwd().resolve()
    if scanned.is_relative_to(here):
        return here
    return scanned if scanned.is_dir() else scanned.parent
