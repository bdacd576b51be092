"""The provider-neutral task runner: bounded concurrency, errors as data, sub-tasks,
streaming with back-pressure, progress."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from auditor.inventory import CollectionError, Resource
from auditor.scanners.runner import Progress, Record, Task, TaskContext, report_progress, run_tasks

WAIT_SECONDS = 5  # a bound on waits that only a broken runner would reach


def resource(name: str) -> Resource:
    return Resource(id=f"test:{name}", type="test.thing", provider="test", account="1",
                    name=name)


def classify(task: Task, exc: Exception) -> CollectionError:
    return CollectionError(provider="test", account="1", service=task.service,
                           operation=task.label, code=type(exc).__name__, message=str(exc),
                           region=task.region, resource_id=task.resource_id)


def names(records: list[Record]) -> list[str]:
    return sorted(r.name for r in records if isinstance(r, Resource))


def test_concurrency_reaches_but_never_exceeds_max_workers() -> None:
    lock = threading.Lock()
    running = peak = 0

    def work(number: int):
        def run(_: TaskContext) -> Iterator[Record]:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.02)
            with lock:
                running -= 1
            yield resource(str(number))
        return run

    tasks = [Task(label=f"t{i}", run=work(i)) for i in range(24)]
    records = list(run_tasks(tasks, max_workers=3, classify_error=classify))

    assert names(records) == sorted(str(i) for i in range(24))
    assert peak == 3


def test_an_exception_becomes_a_collection_error_and_the_rest_goes_on() -> None:
    def failing(_: TaskContext) -> Iterator[Record]:
        yield resource("before-failure")
        raise PermissionError("denied")

    def fine(_: TaskContext) -> Iterator[Record]:
        yield resource("fine")

    tasks = [Task(label="failing", run=failing, service="s", region="r", resource_id="x"),
             Task(label="fine", run=fine)]
    records = list(run_tasks(tasks, max_workers=2, classify_error=classify))

    assert names(records) == ["before-failure", "fine"]
    errors = [r for r in records if isinstance(r, CollectionError)]
    assert [(e.operation, e.code, e.message, e.service, e.region, e.resource_id)
            for e in errors] == [("failing", "PermissionError", "denied", "s", "r", "x")]


def test_a_task_that_fails_before_yielding_is_also_recorded() -> None:
    def broken(_: TaskContext) -> list[Record]:
        raise KeyError("missing")

    records = list(run_tasks([Task(label="broken", run=broken)], max_workers=1,
                             classify_error=classify))
    assert [(type(r).__name__, r.code) for r in records] == [("CollectionError", "KeyError")]


def test_sub_tasks_run_and_progress_counts_them() -> None:
    def leaf(name: str):
        def run(_: TaskContext) -> Iterator[Record]:
            yield resource(name)
        return run

    def branch(name: str):
        def run(context: TaskContext) -> Iterator[Record]:
            for i in range(3):
                context.spawn(Task(label=f"{name}.{i}", run=leaf(f"{name}.{i}")))
            yield resource(name)
        return run

    def root(context: TaskContext) -> Iterator[Record]:
        for i in range(4):
            context.spawn(Task(label=f"b{i}", run=branch(f"b{i}")))
        return iter(())

    events: list[Progress] = []
    records = list(run_tasks([Task(label="root", run=root)], max_workers=2,
                             classify_error=classify, progress=events.append))

    expected = [f"b{i}" for i in range(4)] + [f"b{i}.{j}" for i in range(4) for j in range(3)]
    assert names(records) == sorted(expected)
    total = 1 + 4 + 12
    last = events[-1]
    assert (last.submitted, last.started, last.finished) == (total, total, total)
    assert sum(e.event == "started" for e in events) == total
    assert all(e.finished <= e.started <= e.submitted for e in events)


def test_records_stream_out_before_their_task_finishes() -> None:
    first_seen = threading.Event()
    outcome: dict[str, bool] = {}

    def slow(_: TaskContext) -> Iterator[Record]:
        yield resource("first")
        # only a streaming runner hands "first" to the consumer while this task still runs
        outcome["streamed"] = first_seen.wait(WAIT_SECONDS)
        yield resource("second")

    for record in run_tasks([Task(label="slow", run=slow)], max_workers=1,
                            classify_error=classify):
        if record.name == "first":
            first_seen.set()
    assert outcome == {"streamed": True}


def test_a_slow_consumer_holds_producers_back() -> None:
    produced = 0

    def many(_: TaskContext) -> Iterator[Record]:
        nonlocal produced
        for i in range(500):
            produced += 1
            yield resource(str(i))

    buffer = 8
    consumed = 0
    ahead = []
    for _ in run_tasks([Task(label="many", run=many)], max_workers=1, classify_error=classify,
                       buffer=buffer):
        consumed += 1
        if consumed % 50 == 0:
            time.sleep(0.01)  # let the producer run as far ahead as it can
            ahead.append(produced - consumed)
    assert consumed == 500
    # the queue holds `buffer` records, the producer one more in hand
    assert max(ahead) <= buffer + 1


def test_closing_the_stream_early_stops_the_workers() -> None:
    stopped = threading.Event()

    def endless(context: TaskContext) -> Iterator[Record]:
        try:
            i = 0
            while not context.cancelled:
                i += 1
                yield resource(str(i))
        finally:
            stopped.set()

    stream = run_tasks([Task(label="endless", run=endless)], max_workers=1,
                       classify_error=classify, buffer=2)
    assert next(stream).name == "1"
    stream.close()
    assert stopped.wait(WAIT_SECONDS)


def test_progress_installed_around_a_scan_is_called_in_the_consumer_thread() -> None:
    threads: set[int] = set()

    def one(_: TaskContext) -> Iterator[Record]:
        yield resource("one")

    with report_progress(lambda progress: threads.add(threading.get_ident())):
        records = list(run_tasks([Task(label="a", run=one), Task(label="b", run=one)],
                                 max_workers=2, classify_error=classify))
    assert len(records) == 2
    assert threads == {threading.get_ident()}


def test_a_broken_error_classifier_is_a_bug_and_surfaces() -> None:
    def failing(_: TaskContext) -> Iterator[Record]:
        raise RuntimeError("cloud failure")
        yield  # pragma: no cover

    def broken_classifier(task: Task, exc: Exception) -> CollectionError:
        raise ValueError("bug in classifier")

    with pytest.raises(ValueError, match="bug in classifier"):
        list(run_tasks([Task(label="f", run=failing)], max_workers=1,
                       classify_error=broken_classifier))


def test_max_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_workers"):
        list(run_tasks([], max_workers=0, classify_error=classify))


def test_no_tasks_means_no_records() -> None:
    assert list(run_tasks([], max_workers=2, classify_error=classify)) == []
