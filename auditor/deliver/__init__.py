"""Delivery: send a finished run (its directory of outputs) where people read it.

Targets are plugins (entry point group ``auditor.deliverers``), configured in a profile's
``[profiles.NAME.deliver]`` table (see settings.py): a local directory of dated runs, S3, GCS,
email and a Slack-compatible webhook. ``deliver_run`` is the one entry point, used by
``audit deliver RUN_DIR`` and at the end of ``audit run``.
"""

from auditor.deliver.base import DeliveryOutcome
from auditor.deliver.delivery import deliver_run

__all__ = ["DeliveryOutcome", "deliver_run"]
