"""Shared fixtures: an AWS emulator for the test session, and the scenario org seeded into it.

* ``aws_endpoint`` (session): the endpoint URL of a moto server started on 127.0.0.1 for this
  test process (each pytest-xdist worker gets its own), or of the emulator named by
  ``AUDITOR_TEST_AWS_ENDPOINT`` (e.g. a LocalStack) when that is set.
* ``seeded_aws_org`` (session): tests/data/aws-ml-org.json seeded once into a reset emulator.
  Read-only for tests; ``.summary.key_arns`` maps key aliases to ARNs.
* ``fresh_aws`` (function) / ``fresh_aws_module`` (module): an emptied emulator for tests that
  build their own resources (``.seed(scenario)``). Afterwards the org is seeded again if it
  had been, so ``seeded_aws_org`` stays valid (its key ARNs change: use ``.summary``).

Every test runs with fake AWS credentials and empty AWS config files, so that no real
account, profile or endpoint from the developer's machine can leak in.

moto keeps state process-wide: do not use moto's in-process ``mock_aws`` in the same test
process while these fixtures are in use (it would share, and reset, the server's state).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auditor.demo.scenario import load_scenario
from auditor.demo.seed import SeedSummary, seed
from auditor.demo.server import MotoHandle, reset, start_moto

# records every AWS operation and Google API method the suite calls (tests/test_readonly.py)
pytest_plugins = ["tests.readonly_plugin"]

EXTERNAL_ENDPOINT_VARIABLE = "AUDITOR_TEST_AWS_ENDPOINT"
DATA = Path(__file__).parent / "data"
ORG_SCENARIO = DATA / "aws-ml-org.json"
TEST_REGION = "us-east-1"
# moto's account; LocalStack uses the account named by a 12-digit access key id
EMULATED_ACCOUNT = "123456789012"


@pytest.fixture(scope="session", autouse=True)
def _isolated_aws_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    config_dir = tmp_path_factory.mktemp("aws-config")
    for name in ("config", "credentials"):
        (config_dir / name).write_text("", encoding="utf-8")
    external = os.environ.get(EXTERNAL_ENDPOINT_VARIABLE)
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("AWS_"):  # profiles, endpoints, role/web-identity settings
                patch.delenv(name)
        patch.setenv("AWS_ACCESS_KEY_ID", EMULATED_ACCOUNT if external else "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_SESSION_TOKEN", "testing")
        patch.setenv("AWS_DEFAULT_REGION", TEST_REGION)
        patch.setenv("AWS_CONFIG_FILE", str(config_dir / "config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config_dir / "credentials"))
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never probe an instance role
        # the history store of `audit run` must never land in the developer's home
        patch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
        yield


@dataclass(slots=True)
class SeededOrg:
    endpoint_url: str
    scenario: dict[str, Any]
    summary: SeedSummary


@dataclass(slots=True)
class AwsEmulator:
    endpoint_url: str
    moto: MotoHandle | None  # None: an external emulator, not ours to stop
    org: SeededOrg | None = None  # what tests expect to find; restored after fresh_aws

    @property
    def is_moto(self) -> bool:
        return self.moto is not None

    def reset(self) -> None:
        if self.moto is not None:
            reset(self.endpoint_url)
        else:
            _reset_external(self.endpoint_url)

    def seed_org(self, scenario: dict[str, Any]) -> SeededOrg:
        self.reset()
        summary = seed(scenario, self.endpoint_url)
        if self.org is None:
            self.org = SeededOrg(self.endpoint_url, scenario, summary)
        else:
            self.org.summary = summary
        return self.org


def _reset_external(endpoint_url: str) -> None:
    """moto's reset API, else LocalStack's; an emulator with neither cannot be reset."""
    for path in ("/moto-api/reset", "/_localstack/state/reset"):
        request = urllib.request.Request(endpoint_url.rstrip("/") + path, method="POST",
                                         data=b"")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
            return
        except urllib.error.URLError:
            continue
    pytest.fail(f"{EXTERNAL_ENDPOINT_VARIABLE}={endpoint_url}: neither /moto-api/reset nor "
                f"/_localstack/state/reset works there, so tests cannot start from a clean state")


@pytest.fixture(scope="session")
def aws_emulator(_isolated_aws_environment: None) -> Iterator[AwsEmulator]:
    external = os.environ.get(EXTERNAL_ENDPOINT_VARIABLE)
    if external:
        yield AwsEmulator(endpoint_url=external, moto=None)
        return
    with start_moto() as moto:
        yield AwsEmulator(endpoint_url=moto.endpoint_url, moto=moto)


@pytest.fixture(scope="session")
def aws_endpoint(aws_emulator: AwsEmulator) -> str:
    return aws_emulator.endpoint_url


def key_as_profile(iam: Any, user: str, profile: str, folder: Path,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A new access key of ``user``, as the named ``profile`` of a shared credentials file that
    the AWS SDK reads for the rest of the test (a scan with its permissions, not the admin's)."""
    secret = iam.create_access_key(UserName=user)["AccessKey"]
    credentials = folder / "credentials"
    credentials.write_text(f"[{profile}]\naws_access_key_id = {secret['AccessKeyId']}\n"
                           f"aws_secret_access_key = {secret['SecretAccessKey']}\n",
                           encoding="utf-8")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))


@pytest.fixture
def moto_iam_enforcement(aws_emulator: AwsEmulator) -> None:
    """For tests that turn IAM enforcement on through moto's own /moto-api/reset-auth."""
    if not aws_emulator.is_moto:
        pytest.skip(f"needs moto's /moto-api/reset-auth (IAM enforcement), which the emulator "
                    f"at {EXTERNAL_ENDPOINT_VARIABLE}={aws_emulator.endpoint_url} lacks")


@pytest.fixture(scope="session")
def aws_ml_org_scenario() -> dict[str, Any]:
    return load_scenario(ORG_SCENARIO)


@pytest.fixture(scope="session")
def seeded_aws_org(aws_emulator: AwsEmulator, aws_ml_org_scenario: dict[str, Any]) -> SeededOrg:
    return aws_emulator.seed_org(aws_ml_org_scenario)


@dataclass(frozen=True, slots=True)
class FreshAws:
    endpoint_url: str
    emulator: AwsEmulator

    def seed(self, scenario: dict[str, Any]) -> SeedSummary:
        return seed(scenario, self.endpoint_url)


def _fresh_state(emulator: AwsEmulator) -> Iterator[FreshAws]:
    emulator.reset()
    try:
        yield FreshAws(emulator.endpoint_url, emulator)
    finally:
        if emulator.org is not None:
            emulator.seed_org(emulator.org.scenario)


@pytest.fixture
def fresh_aws(aws_emulator: AwsEmulator) -> Iterator[FreshAws]:
    yield from _fresh_state(aws_emulator)


@pytest.fixture(scope="module")
def fresh_aws_module(aws_emulator: AwsEmulator) -> Iterator[FreshAws]:
    yield from _fresh_state(aws_emulator)
