"""Messages and scan progress on stderr.

For people (``--log-format text``, the default): on a terminal, one live line with a bar over
the scan's units (accounts, projects) and where the latest task works (account, region,
service); elsewhere (CI logs) the same line now and then, never a flood. For machines
(``--log-format json``): one JSON object per line: every message, every unit started and
finished, and the counts now and then.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

from auditor.scanners.runner import Progress

QUIET_INTERVAL_SECONDS = 10.0
LOG_FORMATS = ("text", "json")
_BAR_WIDTH = 10


class Reporter(Protocol):
    """Where messages and scan progress go: the runner calls it with every task event."""

    def message(self, text: str, *, level: str = "info", **fields: Any) -> None: ...

    def __call__(self, progress: Progress) -> None: ...

    def close(self) -> None: ...


def where(progress: Progress) -> str:
    """``123456789012 us-east-1 s3``: the account, region and service of a task."""
    return " ".join(part for part in (progress.account, progress.region, progress.service) if part)


class ScanProgress:
    def __init__(self, stream: TextIO | None = None, *, interactive: bool | None = None,
                 interval: float = QUIET_INTERVAL_SECONDS):
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.interval = interval
        self._last_line: float | None = None  # monotonic time of the latest quiet line
        self._width = 0
        self._latest: Progress | None = None
        self._latest_shown = True
        # tasks nested in units (an executor runs one run per account or project): the bar
        # counts units, the tasks are the detail
        self._nested = False

    def message(self, text: str, *, level: str = "info", **fields: Any) -> None:
        self._clear()
        self.stream.write((f"{level}: {text}" if level in ("warning", "error") else text) + "\n")
        self.stream.flush()

    def __call__(self, progress: Progress) -> None:
        self._nested = self._nested or progress.depth > 0
        self._latest, self._latest_shown = progress, False
        if self.interactive:
            text = self.line(progress)[:max(20, shutil.get_terminal_size().columns - 1)]
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
            self.stream.flush()
            self._latest_shown = True
        elif _due(self._last_line, self.interval):
            self._quiet_line(progress)

    def line(self, progress: Progress) -> str:
        """Counts first and the task's label last: a narrow terminal cuts the label."""
        done, total = ((progress.units_finished, progress.units_submitted) if self._nested
                       else (progress.finished, progress.submitted))
        filled = _BAR_WIDTH * done // total if total else 0
        bar = "[" + "#" * filled + "-" * (_BAR_WIDTH - filled) + "]"
        units = (f"{progress.units_finished}/{progress.units_submitted} accounts/projects, "
                 if self._nested else "")
        place = where(progress)
        return (f"{bar} {units}{progress.finished}/{progress.submitted} tasks"
                f"{' | ' + place if place else ''} | {progress.label}")

    def close(self) -> None:
        """Clear the live line; in CI, end with the final counts if they were not shown."""
        self._clear()
        if not self.interactive and self._latest is not None and not self._latest_shown:
            self._quiet_line(self._latest)

    def _quiet_line(self, progress: Progress) -> None:
        self._last_line = time.monotonic()
        self._latest_shown = True
        self.stream.write(self.line(progress) + "\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self.interactive and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


class JsonLog:
    """``--log-format json``: JSON lines with ``time``, ``level`` and ``event``: ``message``,
    ``unit_started`` / ``unit_finished`` (the scan's own tasks: accounts, projects), and
    ``progress`` (counts, and where the latest task works) at most every ``interval``
    seconds and at the end."""

    def __init__(self, stream: TextIO | None = None, *,
                 interval: float = QUIET_INTERVAL_SECONDS):
        self.stream = stream or sys.stderr
        self.interval = interval
        self._last_progress: float | None = None
        self._latest: Progress | None = None
        self._latest_shown = True

    def message(self, text: str, *, level: str = "info", **fields: Any) -> None:
        self._write({**fields, "event": "message", "level": level, "message": text})

    def __call__(self, progress: Progress) -> None:
        self._latest, self._latest_shown = progress, False
        if progress.depth == 0:
            self._write({"event": f"unit_{progress.event}", "level": "info",
                         "unit": progress.label, "account": progress.account or None,
                         **self._counts(progress)})
        if _due(self._last_progress, self.interval):
            self._progress(progress)

    def close(self) -> None:
        if self._latest is not None and not self._latest_shown:
            self._progress(self._latest)
        self.stream.flush()

    def _progress(self, progress: Progress) -> None:
        self._last_progress = time.monotonic()
        self._latest_shown = True
        self._write({"event": "progress", "level": "info", "task": progress.label,
                     "account": progress.account or None, "region": progress.region,
                     "service": progress.service or None, **self._counts(progress)})

    @staticmethod
    def _counts(progress: Progress) -> dict[str, Any]:
        return {"units": {"submitted": progress.units_submitted,
                          "finished": progress.units_finished},
                "tasks": {"submitted": progress.submitted, "started": progress.started,
                          "finished": progress.finished}}

    def _write(self, record: dict[str, Any]) -> None:
        moment = datetime.now(tz=UTC)  # when it happened, even when SOURCE_DATE_EPOCH is set
        line = {"time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                **record}
        self.stream.write(json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n")
        self.stream.flush()


def _due(last: float | None, interval: float) -> bool:
    """The first event is always shown, then one every ``interval`` seconds."""
    return last is None or time.monotonic() - last >= interval


def reporter_for(log_format: str, stream: TextIO | None = None) -> Reporter:
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}")
    return JsonLog(stream) if log_format == "json" else ScanProgress(stream)
