"""The deliver table: declared keys, types and checks before anything is sent; the plugin
registry; the retry policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditor import plugins
from auditor.deliver import deliver_run
from auditor.deliver.base import DeliveryError, TransientDeliveryError
from auditor.deliver.delivery import GROUP, enabled_targets
from auditor.deliver.directory import DirectoryDeliverer
from auditor.deliver.gs import GcsDeliverer
from auditor.deliver.retry import Retry
from auditor.deliver.s3 import S3Deliverer
from auditor.deliver.settings import DELIVER_OPTIONS, deliver_options
from auditor.deliver.smtp import EmailDeliverer
from auditor.deliver.webhook import WebhookDeliverer
from auditor.errors import ConfigError, PluginError
from tests.test_deliver_support import run_directory

BUILT_IN = {"directory": DirectoryDeliverer, "s3": S3Deliverer, "gs": GcsDeliverer,
            "email": EmailDeliverer, "webhook": WebhookDeliverer}


def test_the_declared_keys_are_the_built_in_deliverers_keys() -> None:
    assert deliver_options({n: d() for n, d in BUILT_IN.items()}) == DELIVER_OPTIONS
    assert all(d.enabled_by in d.options for d in BUILT_IN.values())


def test_the_built_in_deliverers_load_through_their_entry_points() -> None:
    assert plugins.registry(GROUP) == BUILT_IN


def test_a_key_claimed_by_two_deliverers_is_a_plugin_error() -> None:
    class Clash:
        options = {"s3": DELIVER_OPTIONS["s3"]}

    with pytest.raises(PluginError, match="'s3'"):
        deliver_options({"s3": S3Deliverer(), "clash": Clash()})


def test_stores_come_before_notifiers() -> None:
    targets = {"webhook_url_env": "HOOK", "s3": "s3://bucket-a", "directory": "/tmp/x",
               "gs": "gs://bucket-b",
               "email": {"smtp_host": "h", "from": "a@b.c", "to": ["d@e.f"]}}
    assert [name for name, _, _ in enabled_targets(targets, BUILT_IN)] == [
        "directory", "gs", "s3", "email", "webhook"]


def test_defaults_are_filled_in() -> None:
    [(_, _, settings)] = enabled_targets({"directory": "/tmp/x"}, BUILT_IN)
    assert settings == {"directory": "/tmp/x", "retention": 10}


@pytest.mark.parametrize(("targets", "location"), [
    ({"directroy": "/tmp/x"}, "deliver.directroy"),
    ({"s3": 3}, "deliver.s3"),
    ({"retention": True, "directory": "/tmp/x"}, "deliver.retention"),
    ({"gs": "s3://bucket"}, "deliver.gs"),
    ({"email": "security@example.com"}, "deliver.email"),
    ({"email": {"smtp_host": "h", "from": "a@b.c", "to": ["d@e.f"], "port": 25}},
     "deliver.email.port"),
])
def test_bad_settings_are_config_errors_naming_the_key(targets: dict[str, Any], location: str) -> None:
    with pytest.raises(ConfigError) as caught:
        enabled_targets(targets, BUILT_IN)
    assert caught.value.location == location


def test_nothing_is_sent_when_one_setting_is_bad(tmp_path: Path) -> None:
    run_dir = run_directory(tmp_path / "run")
    with pytest.raises(ConfigError):
        deliver_run(run_dir, {"directory": str(tmp_path / "archive"), "s3": "not-a-url"},
                    deliverers=BUILT_IN)
    assert not (tmp_path / "archive").exists() and not (run_dir / "manifest.json").exists()


# --- retry ----------------------------------------------------------------------------------


def test_retries_back_off_and_give_up() -> None:
    waits: list[float] = []
    calls: list[int] = []
    retry = Retry(attempts=4, base_delay=1.0, max_delay=3.0, sleep=waits.append)

    def always_busy() -> None:
        calls.append(1)
        raise TransientDeliveryError("busy")

    with pytest.raises(DeliveryError, match="gave up after 4 attempts") as caught:
        retry.call(always_busy, "upload")
    assert not isinstance(caught.value, TransientDeliveryError)
    assert len(calls) == 4 and waits == [1.0, 2.0, 3.0] and retry.retries == 3


def test_a_retry_after_hint_lengthens_the_wait_within_the_bound() -> None:
    retry = Retry(base_delay=1.0, max_delay=30.0)
    assert retry.delay(1, 10.0) == 10.0 and retry.delay(1, 3600.0) == 30.0
    assert retry.delay(3, None) == 4.0


def test_a_permanent_failure_is_not_retried() -> None:
    calls: list[int] = []

    def refused() -> None:
        calls.append(1)
        raise DeliveryError("403")

    with pytest.raises(DeliveryError, match="403"):
        Retry(sleep=lambda s: None).call(refused, "upload")
    assert calls == [1]


def test_success_after_a_transient_failure_returns_the_value() -> None:
    answers: list[Any] = [TransientDeliveryError("busy"), "done"]

    def flaky() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    retry = Retry(sleep=lambda s: None)
    assert retry.call(flaky, "upload") == "done" and retry.retries == 1
