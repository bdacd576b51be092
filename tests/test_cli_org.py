"""The organization commands as a user meets them: `audit scan --shard I/N`, `audit merge`,
`--executor`, `--log-format json`, `[scan] max_accounts`; exit codes and one-line errors.

The CLI runs in a subprocess against the moto organization of tests/test_aws_organization.py
(management account, three active members, a suspended one)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.inventory.io import load, save, to_json
from auditor.inventory.merge import merge_parts
from tests.test_aws_organization import ENTRY_ROLE, Org, build_org, without_own_traces

pytestmark = pytest.mark.emulator

FROZEN = "1798675200"


def audit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "auditor", *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, "SOURCE_DATE_EPOCH": FROZEN},
                          check=False, timeout=600)
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture(scope="module")
def org(fresh_aws_module: Any) -> Org:
    return build_org(fresh_aws_module.endpoint_url)


def profile_table(name: str, org: Org, *, regions: str = '["us-east-1"]', extra: str = "") -> str:
    return (f'[profiles.{name}.aws]\nendpoint_url = "{org.endpoint_url}"\norganization = true\n'
            f'role_name = "{ENTRY_ROLE}"\nregions = {regions}\n{extra}'
            f'[profiles.{name}.scan]\nmax_accounts = 2\n')


@pytest.fixture(scope="module")
def work(org: Org, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli-org")
    (directory / "audit.toml").write_text(
        profile_table("org", org) + profile_table("other", org)
        + profile_table("gaps", org, extra='accounts = ["999999999999", '
                                           f'"{org.accounts["sandbox"]}"]\n'),
        encoding="utf-8")
    # the same profile name, scanned with other settings (another region)
    (directory / "changed.toml").write_text(
        profile_table("org", org, regions='["us-east-1", "eu-west-1"]'), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def parts(work: Path) -> list[Path]:
    paths = []
    for index in (1, 2, 3):
        path = work / f"part-{index}.json"
        done = audit("scan", "--profile", "org", "--shard", f"{index}/3", "--output", str(path),
                     cwd=work)
        assert done.returncode == 0, done.stderr
        assert f"shard {index}/3" in done.stdout
        paths.append(path)
    return paths


def findings(work: Path, inventory: Path, name: str) -> list[dict[str, Any]]:
    # entering an account through its role is recorded as the role's last use, the one
    # thing a scan changes; two scans are compared without it
    stable = work / f"{name}-stable.json"
    save(without_own_traces(load(inventory)), stable)
    out = work / name
    done = audit("evaluate", "--inventory", str(stable), "--output-dir", str(out), "--format",
                 "json", cwd=work)
    assert done.returncode == 1, done.stderr  # the trainer's bucket is public
    return json.loads((out / "findings.json").read_text(encoding="utf-8"))["findings"]


def test_merged_shards_evaluate_to_the_single_scans_findings(work: Path, parts: list[Path]) -> None:
    merged = work / "merged.json"
    done = audit("merge", *map(str, reversed(parts)), "--output", str(merged), cwd=work)
    assert done.returncode == 0, done.stderr
    assert "from 3 parts" in done.stdout
    single = work / "single.json"
    done = audit("scan", "--profile", "org", "--executor", "local", "--output", str(single),
                 cwd=work)
    assert done.returncode == 0, done.stderr
    units = [set(json.loads(p.read_text(encoding="utf-8"))["shard"]["units"]) for p in parts]
    assert sum(1 for held in units if held) >= 2  # the accounts really were split
    expected = findings(work, single, "single")
    assert any(f["status"] == "fail" for f in expected)
    assert findings(work, merged, "merged") == expected


def test_a_partial_inventory_is_not_evaluated(work: Path, parts: list[Path]) -> None:
    done = audit("evaluate", "--inventory", str(parts[0]), "--output-dir", str(work / "x"),
                 cwd=work)
    assert done.returncode == 2
    assert f"{parts[0]}:$.shard" in done.stderr and "audit merge" in done.stderr


@pytest.mark.parametrize("shard", ["3/2", "0/3", "2", "a/b", "1/0"])
def test_a_bad_shard_is_a_usage_error(work: Path, shard: str) -> None:
    done = audit("scan", "--profile", "org", "--shard", shard, "--output", "x.json", cwd=work)
    assert done.returncode == 2
    assert "--shard" in done.stderr and repr(shard) in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (work / "x.json").exists()


@pytest.mark.parametrize(("executor", "words"), [
    ("spark://127.0.0.1:7077", "unknown executor 'spark://127.0.0.1:7077'"),
    ("dask://127.0.0.1", "expected dask://HOST:PORT"),
    ("dask://127.0.0.1:9", "cannot reach the Dask scheduler"),
])
def test_a_bad_executor_is_a_usage_error(work: Path, executor: str, words: str) -> None:
    if executor.startswith("dask://127.0.0.1:9"):
        pytest.importorskip("distributed", reason="needs dask[distributed] installed")
    done = audit("scan", "--profile", "org", "--executor", executor, "--output", "x.json",
                 cwd=work)
    assert done.returncode == 2
    assert f"error: --executor: {words}" in done.stderr


def test_merging_a_part_twice_or_missing_one_is_refused(work: Path, parts: list[Path]) -> None:
    twice = audit("merge", *map(str, parts), str(parts[1]), "--output", "m.json", cwd=work)
    assert twice.returncode == 2
    assert "given twice" in twice.stderr and str(parts[1]) in twice.stderr
    missing = audit("merge", str(parts[0]), str(parts[2]), "--output", "m.json", cwd=work)
    assert missing.returncode == 2 and "missing shard(s) 2/3" in missing.stderr
    assert not (work / "m.json").exists()


def test_merging_overlapping_parts_is_refused(work: Path, parts: list[Path]) -> None:
    # a copy of a part, renamed another shard, claims units that belong to the first
    documents = [json.loads(path.read_text(encoding="utf-8")) for path in parts]
    source = next(i for i, document in enumerate(documents) if document["shard"]["units"])
    target = (source + 1) % len(parts)
    forged_document = {**documents[source],
                       "shard": {**documents[source]["shard"], "index": target + 1}}
    forged = work / "forged.json"
    forged.write_text(json.dumps(forged_document), encoding="utf-8")
    given = [str(forged) if i == target else str(path) for i, path in enumerate(parts)]
    done = audit("merge", *given, "--output", "m.json", cwd=work)
    assert done.returncode == 2
    assert f"{forged}:$.shard.units[0]" in done.stderr
    assert f"belongs to shard {source + 1}/3" in done.stderr


def test_merging_parts_of_different_profiles_or_settings_is_refused(work: Path,
                                                                    parts: list[Path]) -> None:
    other = work / "other-2.json"
    assert audit("scan", "--profile", "other", "--shard", "2/3", "--output", str(other),
                 cwd=work).returncode == 0
    done = audit("merge", str(parts[0]), str(other), str(parts[2]), "--output", "m.json",
                 cwd=work)
    assert done.returncode == 2
    assert "different profiles" in done.stderr and str(other) in done.stderr
    changed = work / "changed-2.json"
    assert audit("scan", "--profile", "org", "--config", "changed.toml", "--shard", "2/3",
                 "--output", str(changed), cwd=work).returncode == 0
    done = audit("merge", str(parts[0]), str(changed), str(parts[2]), "--output", "m.json",
                 cwd=work)
    assert done.returncode == 2
    assert "different plans" in done.stderr and str(changed) in done.stderr


def test_merging_a_part_of_another_schema_version_names_it(work: Path, parts: list[Path]) -> None:
    document = json.loads(parts[1].read_text(encoding="utf-8"))
    document["schema_version"] = 2
    newer = work / "newer.json"
    newer.write_text(json.dumps(document), encoding="utf-8")
    done = audit("merge", str(parts[0]), str(newer), str(parts[2]), "--output", "m.json",
                 cwd=work)
    assert done.returncode == 2
    assert f"{newer}:$.schema_version: unsupported schema_version 2" in done.stderr
    whole = work / "whole.json"
    save(merge_parts(parts), whole)
    done = audit("merge", str(whole), *map(str, parts), "--output", "m.json", cwd=work)
    assert done.returncode == 2
    assert f"error: {whole}: not a partial inventory" in done.stderr


def test_collection_errors_make_scan_and_merge_exit_3(work: Path, org: Org) -> None:
    part = work / "gaps-1.json"
    done = audit("scan", "--profile", "gaps", "--shard", "1/1", "--output", str(part), cwd=work)
    assert done.returncode == 3, done.stderr
    assert "NotAnActiveMember" in part.read_text(encoding="utf-8")
    done = audit("merge", str(part), "--output", str(work / "gaps.json"), cwd=work)
    assert done.returncode == 3, done.stderr
    scopes = {s.account for s in load(work / "gaps.json").scopes}
    assert scopes == {org.accounts["sandbox"]}


def test_a_bad_max_accounts_names_the_key(work: Path) -> None:
    (work / "bad.toml").write_text('[profiles.p.aws]\nregions = ["us-east-1"]\n'
                                   '[profiles.p.scan]\nmax_accounts = 0\n', encoding="utf-8")
    done = audit("scan", "--profile", "p", "--config", "bad.toml", cwd=work)
    assert done.returncode == 2
    assert "bad.toml:profiles.p.scan.max_accounts: must be at least 1" in done.stderr


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines and all({"time", "level", "event"} <= set(line) for line in lines)
    return lines


def test_log_format_json_gives_one_object_per_line(work: Path, org: Org) -> None:
    done = audit("--log-format", "json", "scan", "--profile", "org", "--output",
                 str(work / "logged.json"), cwd=work)
    assert done.returncode == 0, done.stderr
    lines = json_lines(done.stderr)
    finished = {line["account"] for line in lines if line["event"] == "unit_finished"}
    assert finished == org.active  # one unit per account (the organization's is the management's)
    assert [line["message"] for line in lines if line["event"] == "message"][:1] == [
        "planning aws: listing accounts or projects"]
    last = [line for line in lines if line["event"] == "progress"][-1]
    units = len(org.active) + 1
    assert last["units"] == {"submitted": units, "finished": units}
    assert last["tasks"]["finished"] == last["tasks"]["submitted"]
    error = audit("--log-format", "json", "scan", "--profile", "org", "--shard", "3/2", cwd=work)
    [line] = json_lines(error.stderr)
    assert (line["level"], line["exit_code"], line["location"]) == ("error", 2, "--shard")
    assert error.returncode == 2


def test_text_progress_in_ci_ends_with_the_counts(work: Path, org: Org) -> None:
    done = audit("scan", "--profile", "org", "--output", str(work / "quiet.json"), cwd=work)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    units = len(org.active) + 1
    assert lines[0] == "planning aws: listing accounts or projects"
    assert f"scanning aws: {units} of {units} units" in lines
    assert f"] {units}/{units} accounts/projects, " in lines[-1]
    # not a line per task: a quiet log in CI
    assert len(lines) < 10


@pytest.fixture(scope="module")
def dask_url() -> Iterator[str]:
    distributed = pytest.importorskip("distributed", reason="needs dask[distributed] installed")
    # worker threads in this process: they see the moto server and the test credentials
    with distributed.LocalCluster(processes=False, n_workers=2, threads_per_worker=2,
                                  host="127.0.0.1", protocol="tcp://", dashboard_address=":0",
                                  silence_logs=True) as cluster:
        yield "dask://" + cluster.scheduler_address.removeprefix("tcp://")


def test_scan_on_a_dask_cluster_from_the_command_line(work: Path, dask_url: str) -> None:
    remote = work / "dask.json"
    done = audit("scan", "--profile", "org", "--executor", dask_url, "--output", str(remote),
                 cwd=work)
    assert done.returncode == 0, done.stderr
    local = work / "local.json"
    assert audit("scan", "--profile", "org", "--output", str(local), cwd=work).returncode == 0
    assert (to_json(without_own_traces(load(remote)))
            == to_json(without_own_traces(load(local))))


@pytest.mark.parametrize(("table", "place", "words"), [
    ('[profiles.p.gcp]\norganization = "123456789"\nexclude_folders = ["210000000001", "research"]\n',
     "profiles.p.gcp.exclude_folders[1]", "must be a folder id"),
    ('[profiles.p.gcp]\nexclude_projects = ["acme-ml-data"]\n', "profiles.p.gcp",
     "name what to scan"),
    ('[profiles.p.aws]\norganization = true\nexclude_accounts = ["12345"]\n',
     "profiles.p.aws.exclude_accounts[0]", "must be a 12-digit AWS account id"),
])
def test_a_bad_organization_setting_names_the_file_and_key(work: Path, table: str, place: str,
                                                           words: str) -> None:
    (work / "ids.toml").write_text(table, encoding="utf-8")
    done = audit("scan", "--profile", "p", "--config", "ids.toml", "--shard", "1/2", cwd=work)
    assert done.returncode == 2
    assert f"error: ids.toml:{place}: {words}" in done.stderr
