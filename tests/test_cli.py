"""The `audit` command as a user meets it: help, exit codes, outputs, offline re-evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from auditor import __version__
from auditor.cli import main
from auditor.inventory.io import load

FROZEN = "1798675200"


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("path", commands(main), ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    summary = result.output.split("\n\n")[1].strip()
    assert len(summary) > 20, f"{' '.join(path)} has no real description"


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def audit(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, "SOURCE_DATE_EPOCH": FROZEN, **(env or {})},
                          check=False, timeout=600)


@pytest.fixture(scope="module")
def config(seeded_aws_org: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli")
    path = directory / "audit.toml"
    path.write_text(f'[profiles.emu.aws]\nendpoint_url = "{seeded_aws_org.endpoint_url}"\n'
                    f'regions = ["{seeded_aws_org.scenario["region"]}"]\n')
    return path


@pytest.fixture(scope="module")
def run_dir(config: Path) -> Path:
    out = config.parent / "run"
    done = audit("run", "--profile", "emu", "--output-dir", str(out), cwd=config.parent)
    assert done.returncode == 1, done.stderr  # the dev org has critical findings
    assert "Traceback" not in done.stderr
    return out


def test_run_writes_every_output(run_dir: Path) -> None:
    names = {p.name for p in run_dir.iterdir()}
    assert {"findings.json", "report.html", "access.json", "inventory.json", "findings.sarif",
            "junit.xml", "findings.csv", "summary.md"} <= names


def test_evaluate_on_the_saved_inventory_gives_the_same_findings(run_dir: Path, config: Path) -> None:
    out = config.parent / "offline"
    done = audit("evaluate", "--inventory", str(run_dir / "inventory.json"), "--output-dir", str(out),
                 "--format", "json", "--profile", "emu", cwd=config.parent)
    assert done.returncode == 1, done.stderr
    assert {p.name for p in out.iterdir()} == {"findings.json", "inventory.json"}
    first, second = (json.loads((d / "findings.json").read_text()) for d in (run_dir, out))
    assert first["findings"] == second["findings"]
    assert (run_dir / "inventory.json").read_bytes() == (out / "inventory.json").read_bytes()


def test_fail_on_sets_the_gate(run_dir: Path, config: Path) -> None:
    findings = json.loads((run_dir / "findings.json").read_text())["findings"]
    assert any(f["severity"] == "critical" and f["status"] == "fail" for f in findings)
    done = audit("evaluate", "--inventory", str(run_dir / "inventory.json"), "--output-dir",
                 str(config.parent / "gate"), "--format", "json", "--fail-on", "critical",
                 cwd=config.parent)
    assert done.returncode == 1


@pytest.mark.parametrize(("args", "words"), [
    (["run", "--profile", "nope"], "no profile 'nope'"),
    (["run", "--profile", "emu", "--format", "json,pdf"], "unknown pdf"),
    (["evaluate", "--inventory", "missing.json"], "cannot read inventory"),
    (["who-can", "read", "arn:aws:s3:::b"], "exactly one of --inventory"),
])
def test_usage_errors_exit_2_with_one_line(config: Path, args: list[str], words: str) -> None:
    extra = ["--config", str(config)] if args[0] == "run" else []
    done = audit(*args, *extra, cwd=config.parent)
    assert done.returncode == 2
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_who_can_answers_in_json_with_proofs(run_dir: Path, config: Path) -> None:
    done = audit("who-can", "read", "arn:aws:s3:::acme-release-checkpoints", "--inventory",
                 str(run_dir / "inventory.json"), "--format", "json", cwd=config.parent)
    assert done.returncode == 0, done.stderr
    grants = json.loads(done.stdout)
    assert grants and all({"principal", "kind", "human", "decision", "conditions", "path"} <= set(g)
                          for g in grants)
    assert all(step["policy"] and step["statement"] for g in grants for step in g["path"])
    # the demo org's scan could not read two object ACLs: the answer says it may be partial
    errors = len(load(run_dir / "inventory.json").errors)
    assert errors and f"{errors} collection error(s)" in done.stderr
