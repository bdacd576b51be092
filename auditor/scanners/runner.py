"""Run a scanner's tasks with bounded concurrency, streaming their records as they appear.

Provider-neutral and written once (principle 5). A scanner describes its work as ``Task``s:
callables that yield inventory records and may ``spawn`` further tasks (one per bucket after
listing buckets, one per key after listing keys). ``run_tasks`` runs them on a thread pool of
``max_workers`` threads and yields every record in the caller's thread as soon as it is
produced; a bounded buffer holds records between workers and the caller, so a slow consumer
slows the scan down instead of the scan holding every API page in memory.

No failure stops the scan: an exception escaping a task becomes a ``CollectionError`` through
the provider's ``ErrorClassifier`` (records the task yielded before failing are kept).

Progress goes to a callback, called in the caller's thread (never from a worker), either given
explicitly or installed around a whole scan with ``report_progress`` (how the CLI shows
progress without the Scanner protocol knowing about it).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from auditor.inventory import CollectionError, Resource, Scope

Record = Resource | CollectionError | Scope


class TaskContext:
    """What a running task may do besides yielding records."""

    def __init__(self, spawn: Callable[[Task], None], cancelled: threading.Event):
        self._spawn = spawn
        self._cancelled = cancelled

    def spawn(self, task: Task) -> None:
        """Schedule another task; it runs in parallel, within the same concurrency bound."""
        self._spawn(task)

    @property
    def cancelled(self) -> bool:
        """True once the consumer stopped reading; long tasks may stop early."""
        return self._cancelled.is_set()


@dataclass(frozen=True, slots=True)
class Task:
    """One unit of scanning. ``service``, ``region`` and ``resource_id`` say what it covers, so
    that an exception escaping it can be recorded against the right scope."""

    label: str
    run: Callable[[TaskContext], Iterable[Record]]
    service: str = ""
    region: str | None = None
    resource_id: str | None = None


ErrorClassifier = Callable[[Task, Exception], CollectionError]


def without_context(function: Callable[..., Iterable[Record]],
                    *args: Any) -> Callable[[TaskContext], Iterable[Record]]:
    """A task body calling ``function(*args)``, for work that spawns nothing."""
    return lambda _context: function(*args)


@dataclass(frozen=True, slots=True)
class Progress:
    event: Literal["started", "finished"]
    label: str
    submitted: int  # grows as tasks spawn sub-tasks
    started: int
    finished: int


ProgressCallback = Callable[[Progress], None]

_progress_callback: ContextVar[ProgressCallback | None] = ContextVar("auditor_scan_progress",
                                                                     default=None)


@contextmanager
def report_progress(callback: ProgressCallback) -> Iterator[None]:
    """Send the progress of every ``run_tasks`` consumed inside this block to ``callback``."""
    token = _progress_callback.set(callback)
    try:
        yield
    finally:
        _progress_callback.reset(token)


# messages from workers to the consumer, in one FIFO queue: a task's records always arrive
# before its "finished" event
@dataclass(frozen=True, slots=True)
class _Event:
    kind: Literal["started", "finished"]
    label: str


@dataclass(frozen=True, slots=True)
class _Crash:
    """A bug in the error classifier itself: re-raised in the consumer, never swallowed."""

    error: BaseException


_POLL_SECONDS = 0.1


class _Run:
    def __init__(self, pool: ThreadPoolExecutor, classify_error: ErrorClassifier, buffer: int):
        self.pool = pool
        self.classify_error = classify_error
        self.messages: queue.Queue[Record | _Event | _Crash] = queue.Queue(maxsize=buffer)
        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self.submitted = 0

    def submit(self, task: Task) -> None:
        if self.cancelled.is_set():
            return
        # counted before it is queued, and always by a task that has not finished yet (or by
        # the consumer before it waits), so "finished == submitted" really means all done
        with self._lock:
            self.submitted += 1
        self.pool.submit(self._work, task)

    def submitted_count(self) -> int:
        with self._lock:
            return self.submitted

    def _put(self, message: Record | _Event | _Crash) -> bool:
        while not self.cancelled.is_set():
            try:
                self.messages.put(message, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, task: Task) -> None:
        self._put(_Event("started", task.label))
        try:
            self._produce(task)
        finally:
            self._put(_Event("finished", task.label))

    def _produce(self, task: Task) -> None:
        context = TaskContext(self.submit, self.cancelled)
        records = iter(())
        try:
            records = iter(task.run(context))
            for record in records:
                if not self._put(record):
                    return
        except Exception as exc:  # the one place where any task failure becomes data
            try:
                error = self.classify_error(task, exc)
            except Exception as bug:
                self._put(_Crash(bug))
                return
            self._put(error)
        finally:
            close = getattr(records, "close", None)
            if close is not None:
                close()


def run_tasks(tasks: Iterable[Task], *, max_workers: int, classify_error: ErrorClassifier,
              progress: ProgressCallback | None = None, buffer: int = 256) -> Iterator[Record]:
    """Run ``tasks`` (and whatever they spawn) on at most ``max_workers`` threads and yield
    their records in the caller's thread as they are produced. Order between tasks is not
    defined: callers that need stable output sort it (``Inventory.sort``)."""
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, not {max_workers}")
    callback = progress if progress is not None else _progress_callback.get()
    started = finished = 0
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="auditor-scan") as pool:
        run = _Run(pool, classify_error, max(1, buffer))
        try:
            for task in tasks:
                run.submit(task)
            while finished < run.submitted_count():
                message = run.messages.get()
                if isinstance(message, _Event):
                    if message.kind == "started":
                        started += 1
                    else:
                        finished += 1
                    if callback is not None:
                        callback(Progress(message.kind, message.label, run.submitted_count(),
                                          started, finished))
                elif isinstance(message, _Crash):
                    raise message.error
                else:
                    yield message
        finally:
            # the consumer stopped (done, closed early or failed): let blocked workers go
            run.cancelled.set()
            pool.shutdown(wait=True, cancel_futures=True)
