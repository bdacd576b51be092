"""Scan progress for people: one live line on a terminal, a quiet line now and then in CI."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from auditor.scanners.runner import Progress

QUIET_INTERVAL_SECONDS = 10.0


class ScanProgress:
    def __init__(self, stream: TextIO | None = None, *, interactive: bool | None = None):
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self._last_line = 0.0
        self._width = 0

    def __call__(self, progress: Progress) -> None:
        line = f"{progress.finished}/{progress.submitted} tasks done: {progress.label}"
        if self.interactive:
            text = line[:100]
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
            self.stream.flush()
        elif time.monotonic() - self._last_line >= QUIET_INTERVAL_SECONDS:
            self._last_line = time.monotonic()
            self.stream.write(line + "\n")

    def close(self) -> None:
        if self.interactive and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
