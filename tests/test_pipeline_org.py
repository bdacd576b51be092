"""pipeline.scan_units on a profile read from audit.toml: ``[scan] max_accounts`` bounds the
accounts scanned at once, and a sharded scan names its profile (moto organization of
tests/test_aws_organization.py)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from auditor import pipeline
from auditor.config import load_profile
from auditor.inventory.shard import ShardSpec
from auditor.scanners.runner import Progress
from tests.test_aws_organization import ENTRY_ROLE, Org, build_org

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def org(fresh_aws_module: Any) -> Org:
    return build_org(fresh_aws_module.endpoint_url)


def profile(org: Org, tmp_path: Path, max_accounts: int) -> Any:
    path = tmp_path / "audit.toml"
    path.write_text(f'[profiles.org.aws]\nendpoint_url = "{org.endpoint_url}"\n'
                    f'organization = true\nrole_name = "{ENTRY_ROLE}"\n'
                    f'[profiles.org.scan]\nmax_accounts = {max_accounts}\n', encoding="utf-8")
    return load_profile(path, "org")


class InFlight:
    """A reporter that counts the units (accounts) being scanned at the same time."""

    def __init__(self) -> None:
        self.running = self.most = 0
        self.messages: list[str] = []
        self.closed = False
        self.threads: set[int] = set()

    def message(self, text: str, *, level: str = "info", **fields: Any) -> None:
        self.messages.append(text)

    def __call__(self, progress: Progress) -> None:
        self.threads.add(threading.get_ident())
        if progress.depth == 0:
            self.running += 1 if progress.event == "started" else -1
            self.most = max(self.most, self.running)

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("max_accounts", [1, 2])
def test_max_accounts_bounds_the_accounts_scanned_at_once(org, tmp_path, max_accounts) -> None:
    reporter = InFlight()
    outcome = pipeline.scan_units(profile(org, tmp_path, max_accounts), reporter.message,
                                  reporter=reporter)
    assert {scope.account for scope in outcome.inventory.scopes} == org.active
    assert 1 <= reporter.most <= max_accounts
    assert reporter.running == 0 and reporter.closed
    assert reporter.threads == {threading.get_ident()}
    assert reporter.messages == ["planning aws: listing accounts or projects",
                                 f"scanning aws: {len(org.active) + 1} of "
                                 f"{len(org.active) + 1} units"]


def test_a_sharded_scan_names_its_profile_and_only_its_units(org, tmp_path) -> None:
    spec = ShardSpec(1, 2)
    outcome = pipeline.scan_units(profile(org, tmp_path, 4), shard=spec)
    assert outcome.shard is not None
    assert outcome.shard.profile == "org" and outcome.shard.spec == spec
    assert outcome.shard.planned == len(org.active) + 1
    assert {f"aws:{s.account}" for s in outcome.inventory.scopes} <= set(outcome.shard.units)
    other = pipeline.scan_units(profile(org, tmp_path, 1), shard=ShardSpec(2, 2))
    # concurrency is not part of the plan: parts scanned with other max_accounts fit together
    assert other.shard is not None and other.shard.plan == outcome.shard.plan
    assert not set(other.shard.units) & set(outcome.shard.units)
