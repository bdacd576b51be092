"""deliver_run: send one run directory to every target of a profile's deliver table.

Targets are checked before anything is sent (a bad setting is a ConfigError naming the key);
then the stores run, then the notifiers, each on its own: one target failing is reported in
its outcome and the others still run. Every message that leaves here has had the secrets read
for this delivery removed from it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from auditor import plugins
from auditor.deliver.base import DeliveryContext, DeliveryError, DeliveryOutcome
from auditor.deliver.bundle import bundle_run
from auditor.deliver.retry import Retry
from auditor.deliver.secrets import Secrets
from auditor.deliver.settings import WHERE, deliver_options, typed
from auditor.errors import ConfigError

GROUP = "auditor.deliverers"
log = logging.getLogger("auditor.deliver")

Enabled = list[tuple[str, Any, dict[str, Any]]]  # (name, deliverer, its settings)


def enabled_targets(targets: Mapping[str, Any], deliverers: Mapping[str, Any]) -> Enabled:
    """The deliverers ``targets`` turns on, stores before notifiers, each with its settings."""
    if not isinstance(targets, Mapping):
        raise ConfigError("must be a table", location=WHERE)
    instances = {name: factory() for name, factory in deliverers.items()}
    typed(targets, deliver_options(instances), WHERE)  # unknown keys and wrong types
    enabled: Enabled = []
    for name in sorted(instances, key=lambda n: (instances[n].notifies, n)):
        deliverer = instances[name]
        if targets.get(deliverer.enabled_by) is None:
            continue
        settings = typed({k: v for k, v in targets.items() if k in deliverer.options},
                         deliverer.options, WHERE)
        deliverer.check(settings)
        enabled.append((name, deliverer, settings))
    return enabled


def deliver_run(run_dir: Path, targets: Mapping[str, Any], *,
                deliverers: Mapping[str, Any] | None = None,
                retry: Callable[[], Retry] = Retry,
                environ: Mapping[str, str] | None = None) -> list[DeliveryOutcome]:
    """Deliver the files of ``run_dir`` (written by `audit run`) to ``targets``.

    ``targets`` is the profile's deliver table. Writes ``run_dir/manifest.json`` (the SHA-256 of
    every file) and delivers it with the run. Raises ConfigError for bad settings and
    InputError for a bad run directory, before anything is sent; a target that fails is an
    outcome with ``ok`` false. ``deliverers`` (default: the auditor.deliverers plugins),
    ``retry`` and ``environ`` are for tests and embedding.
    """
    chosen = enabled_targets(targets, plugins.registry(GROUP) if deliverers is None else deliverers)
    if not chosen:
        return []
    run = bundle_run(Path(run_dir))
    secrets = Secrets(environ)
    stored: list[str] = []
    outcomes = []
    for name, deliverer, settings in chosen:
        context = DeliveryContext(retry=retry(), secrets=secrets, stored=list(stored))
        outcome = _deliver_one(name, deliverer, settings, run, context)
        outcomes.append(outcome)
        if outcome.ok and not deliverer.notifies and outcome.location:
            stored.append(outcome.location)
    return outcomes


def _deliver_one(name: str, deliverer: Any, settings: dict[str, Any], run: Any,
                 context: DeliveryContext) -> DeliveryOutcome:
    destination = context.secrets.redact(deliverer.destination(settings))
    try:
        location = deliverer.deliver(run, settings, context)
    except DeliveryError as exc:
        error = str(exc)
    except Exception as exc:  # a bug in one deliverer must not stop the others
        error = f"unexpected {type(exc).__name__}: {exc}"
    else:
        outcome = DeliveryOutcome(name, destination, True, context.secrets.redact(location),
                                  retries=context.retry.retries)
        log.info("%s", outcome)
        return outcome
    outcome = DeliveryOutcome(name, destination, False, error=context.secrets.redact(error),
                              retries=context.retry.retries)
    log.warning("%s", outcome)
    return outcome
