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
progress without the Scanner protocol knowing about it). A ``run_tasks`` started inside a task
(an executor runs one per account, each with its own bound) is *nested*: its progress is handed
to the enclosing run's consumer, which reports it with totals over every level, so one callback
sees the whole scan.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any, Literal

from auditor.inventory import CollectionError, Resource, Scope

Record = Resource | CollectionError | Scope


class TaskContext:
    """What a running task may do besides yielding records."""

    def __init__(self, spawn: Callable[[Task], None], cancelled: threading.Event,
                 account: str = ""):
        self._spawn = spawn
        self._cancelled = cancelled
        self._account = account

    def spawn(self, task: Task) -> None:
        """Schedule another task; it runs in parallel, within the same concurrency bound.
        A task that names no account works in the account of the task that spawned it."""
        self._spawn(task if task.account else replace(task, account=self._account))

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
    account: str = ""  # the account or project it works in (progress shows it)


ErrorClassifier = Callable[[Task, Exception], CollectionError]


def without_context(function: Callable[..., Iterable[Record]],
                    *args: Any) -> Callable[[TaskContext], Iterable[Record]]:
    """A task body calling ``function(*args)``, for work that spawns nothing."""
    return lambda _context: function(*args)


@dataclass(frozen=True, slots=True)
class Progress:
    """One task started or finished. Counts cover every level: the reporting run's own tasks
    and those of runs nested inside them."""

    event: Literal["started", "finished"]
    label: str
    submitted: int  # grows as tasks spawn sub-tasks
    started: int
    finished: int
    account: str = ""
    region: str | None = None
    service: str = ""
    depth: int = 0  # 0: a task of the reporting run itself; 1: of a run nested in one of those
    # the reporting run's own tasks: the scan units (accounts, projects) when an executor nests
    # one run per unit, else the same as submitted/finished
    units_submitted: int = 0
    units_finished: int = 0


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
    task: Task


@dataclass(frozen=True, slots=True)
class _Nested:
    """An event of a run nested in one of this run's tasks, on its way to a progress callback."""

    kind: Literal["started", "finished"]
    task: Task
    submitted: int  # tasks the nested run submitted since its previous event
    depth: int


@dataclass(frozen=True, slots=True)
class _Crash:
    """A bug in the error classifier itself: re-raised in the consumer, never swallowed."""

    error: BaseException


_POLL_SECONDS = 0.1
Message = Record | _Event | _Nested | _Crash


class _Enclosing:
    """Where a run nested in a task sends its progress: the run that runs the task."""

    def __init__(self, run: _Run, task: Task):
        self._run = run
        self._task = task

    def report(self, event: _Nested) -> None:
        task = event.task if event.task.account else replace(event.task, account=self._task.account)
        self._run.put(replace(event, task=task))


# set in a worker thread while a task of a progress-reporting run executes
_enclosing_run: ContextVar[_Enclosing | None] = ContextVar("auditor_enclosing_run", default=None)


class _Run:
    def __init__(self, pool: ThreadPoolExecutor, classify_error: ErrorClassifier, buffer: int,
                 reports_progress: bool):
        self.pool = pool
        self.classify_error = classify_error
        self.messages: queue.Queue[Message] = queue.Queue(maxsize=buffer)
        self.cancelled = threading.Event()
        self.reports_progress = reports_progress
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

    def put(self, message: Message) -> bool:
        while not self.cancelled.is_set():
            try:
                self.messages.put(message, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, task: Task) -> None:
        self.put(_Event("started", task))
        token = _enclosing_run.set(_Enclosing(self, task) if self.reports_progress else None)
        try:
            self._produce(task)
        finally:
            _enclosing_run.reset(token)
            self.put(_Event("finished", task))

    def _produce(self, task: Task) -> None:
        context = TaskContext(self.submit, self.cancelled, task.account)
        records = iter(())
        try:
            records = iter(task.run(context))
            for record in records:
                if not self.put(record):
                    return
        except Exception as exc:  # the one place where any task failure becomes data
            try:
                error = self.classify_error(task, exc)
            except Exception as bug:
                self.put(_Crash(bug))
                return
            self.put(error)
        finally:
            close = getattr(records, "close", None)
            if close is not None:
                close()


class _Reporter:
    """The consumer's side of progress: its own counts, and where events go (a callback, or
    the run this one is nested in)."""

    def __init__(self, callback: ProgressCallback | None, enclosing: _Enclosing | None):
        self.callback = callback
        self.enclosing = enclosing if callback is None else None
        self.own_started = self.own_finished = self.reported_submitted = 0
        self.submitted = self.started = self.finished = 0  # every level

    @property
    def active(self) -> bool:
        return self.callback is not None or self.enclosing is not None

    def own(self, event: _Event, submitted: int) -> None:
        if event.kind == "started":
            self.own_started += 1
        else:
            self.own_finished += 1
        if self.active:
            new, self.reported_submitted = submitted - self.reported_submitted, submitted
            self.report(_Nested(event.kind, event.task, new, 0), submitted)

    def report(self, event: _Nested, own_submitted: int) -> None:
        if self.enclosing is not None:
            self.enclosing.report(replace(event, depth=event.depth + 1))
            return
        if self.callback is None:
            return
        self.submitted += event.submitted
        if event.kind == "started":
            self.started += 1
        else:
            self.finished += 1
        task = event.task
        self.callback(Progress(event.kind, task.label, self.submitted, self.started,
                               self.finished, account=task.account, region=task.region,
                               service=task.service, depth=event.depth,
                               units_submitted=own_submitted, units_finished=self.own_finished))


def run_tasks(tasks: Iterable[Task], *, max_workers: int, classify_error: ErrorClassifier,
              progress: ProgressCallback | None = None, buffer: int = 256) -> Iterator[Record]:
    """Run ``tasks`` (and whatever they spawn) on at most ``max_workers`` threads and yield
    their records in the caller's thread as they are produced. Order between tasks is not
    defined: callers that need stable output sort it (``Inventory.sort``)."""
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, not {max_workers}")
    enclosing = _enclosing_run.get()
    callback = progress if progress is not None else (
        None if enclosing is not None else _progress_callback.get())
    reporter = _Reporter(callback, enclosing)
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="auditor-scan") as pool:
        run = _Run(pool, classify_error, max(1, buffer), reporter.active)
        try:
            for task in tasks:
                run.submit(task)
            while reporter.own_finished < run.submitted_count():
                message = run.messages.get()
                if isinstance(message, _Event):
                    reporter.own(message, run.submitted_count())
                elif isinstance(message, _Nested):
                    reporter.report(message, run.submitted_count())
                elif isinstance(message, _Crash):
                    raise message.error
                else:
                    yield message
        finally:
            # the consumer stopped (done, closed early or failed): let blocked workers go
            run.cancelled.set()
            pool.shutdown(wait=True, cancel_futures=True)
