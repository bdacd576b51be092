"""What a run directory holds, as delivered: its files, their SHA-256, and manifest.json.

The manifest is a pure function of the run directory (no delivery time in it), so
delivering a run twice writes the same manifest, and a store that already has the run gets
the same bytes again. Each delivery is kept under the run's stamp, made from the run's
``finished_at`` (``2026-11-26T120000Z``), so re-delivering a run replaces it rather than
adding a copy.

Notifications need the counts and the worst findings of the run: they are read from
findings.json, whose canonical layout (auditor/report/canonical.py: sorted keys, two-space
indent) lets the worst findings be read from its start and the summary from its end without
building a run of 100,000 findings in memory.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor import clock
from auditor.errors import InputError
from auditor.io import write_atomic
from auditor.report import canonical

MANIFEST = "manifest.json"
FINDINGS = "findings.json"
REPORT = "report.html"
MANIFEST_VERSION = 1
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{6}Z$")
TOP_FINDINGS = 10
# a notification names the worst failing findings; it does not read a whole big file for them
MAX_FINDINGS_READ = 10_000
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Artifact:
    name: str
    path: Path
    size: int
    sha256: str

    @property
    def content_type(self) -> str:
        guessed, _ = mimetypes.guess_type(self.name)
        kind = guessed or "application/octet-stream"
        return f"{kind}; charset=utf-8" if kind.startswith("text/") or kind.endswith("json") else kind

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "bytes": self.size, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class RunBundle:
    directory: Path
    artifacts: tuple[Artifact, ...]  # the run's files, by name; the manifest not among them
    manifest: Artifact
    stamp: str
    run: dict[str, Any]  # findings.json "run" (profile, times, coverage); {} without it
    summary: dict[str, Any] | None  # findings.json "summary"
    worst: tuple[dict[str, Any], ...]  # the first failing findings, worst first

    @property
    def files(self) -> tuple[Artifact, ...]:
        """Everything to store, the manifest last: a reader who sees it sees a whole run."""
        return (*self.artifacts, self.manifest)

    def artifact(self, name: str) -> Artifact | None:
        return next((a for a in self.artifacts if a.name == name), None)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _artifact(path: Path) -> Artifact:
    return Artifact(path.name, path, path.stat().st_size, sha256_of(path))


def stamp_of(run: dict[str, Any]) -> str:
    finished = run.get("finished_at")
    moment = clock.parse(finished) if isinstance(finished, str) else clock.now()
    return clock.isoformat(moment).replace(":", "")


def bundle_run(run_dir: Path) -> RunBundle:
    """Hash the run's files and write its manifest.json; raises InputError for a bad run dir."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError("not a run directory (written by `audit run` or `audit evaluate`)",
                         source=str(run_dir))
    paths = sorted(p for p in run_dir.iterdir()
                   if p.is_file() and not p.name.startswith(".") and p.name != MANIFEST)
    if not paths:
        raise InputError("the run directory has no files to deliver", source=str(run_dir))
    artifacts = tuple(_artifact(p) for p in paths)
    run, summary, worst = read_findings(run_dir / FINDINGS)
    stamp = stamp_of(run)
    manifest = {"schema_version": MANIFEST_VERSION, "stamp": stamp,
                "tool": run.get("tool"), "profile": run.get("profile"),
                "started_at": run.get("started_at"), "finished_at": run.get("finished_at"),
                "artifacts": [a.to_dict() for a in artifacts]}
    write_atomic(run_dir / MANIFEST, canonical.dumps(manifest))
    return RunBundle(run_dir, artifacts, _artifact(run_dir / MANIFEST), stamp, run, summary, worst)


def read_findings(path: Path) -> tuple[dict[str, Any], dict[str, Any] | None,
                                       tuple[dict[str, Any], ...]]:
    """findings.json's run, summary and first failing findings; ({}, None, ()) without it."""
    if not path.is_file():
        return {}, None, ()
    try:
        text = path.read_text(encoding="utf-8")
        run, summary = _top_level(text, "run"), _top_level(text, "summary")
        worst = _first_failing(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"not a findings.json written by the auditor: {exc}",
                         source=str(path)) from None
    if not isinstance(run, dict) or not isinstance(summary, dict):
        raise InputError("has no run or summary object", source=str(path))
    return run, summary, worst


def _top_level(text: str, key: str) -> Any:
    # in canonical JSON a top-level key is the only one at two spaces after a newline, since
    # no string can hold a raw newline
    marker = f'\n  "{key}": '
    start = text.rfind(marker)
    if start < 0:
        return json.loads(text).get(key)
    value, _ = json.JSONDecoder().raw_decode(text, start + len(marker))
    return value


def _first_failing(text: str) -> tuple[dict[str, Any], ...]:
    marker = '\n  "findings": ['
    start = text.find(marker)
    if start < 0:
        findings = json.loads(text).get("findings") or []
        return tuple(f for f in findings if f.get("status") == "fail")[:TOP_FINDINGS]
    decoder = json.JSONDecoder()
    position = start + len(marker)
    worst: list[dict[str, Any]] = []
    for _ in range(MAX_FINDINGS_READ):
        position = _skip(text, position, " \n,")
        if text.startswith("]", position):
            break
        finding, position = decoder.raw_decode(text, position)
        if finding.get("status") == "fail":
            worst.append(finding)
            if len(worst) == TOP_FINDINGS:
                break
    return tuple(worst)


def _skip(text: str, position: int, characters: str) -> int:
    while position < len(text) and text[position] in characters:
        position += 1
    return position
