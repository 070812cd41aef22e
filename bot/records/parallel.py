"""Import several records files at once, one worker process per file, each with its own
database connection: reading and validating is Python (one core per process), so two files take
two cores, and on PostgreSQL each worker's COPY keeps a server process busy as well.

Files run in stages: the candidates before the files that refer to them. SQLite takes one writer
at a time; its workers begin their transactions with `BEGIN IMMEDIATE`, so the other waits for
the lock instead of failing on a stale snapshot, and the validating still overlaps.

Workers start by importing the `__main__` module afresh (Python's forkserver and spawn), so a
script that imports large records files keeps its work under `if __name__ == "__main__":`.
"""

import multiprocessing
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import make_engine, session_factory

Job = tuple[Any, ...]  # the arguments of one call of the job function
Advance = Callable[[int, int], None]  # (bytes read, rows read) since the last call

_progress: "multiprocessing.Queue[tuple[int, int, int]] | None" = None


def worker_sessions(url: str) -> tuple[Engine, sessionmaker[Session]]:
    """A worker's own engine (connections do not cross processes)."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _autocommit_driver)
        event.listen(engine, "begin", _begin_immediate)
    return engine, session_factory(engine)


def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's `begin` event emits BEGIN instead


def _begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def progress_of(number: int) -> Advance:
    """In a worker: an `advance` that reports to the parent process."""

    def advance(size: int, rows: int) -> None:
        if _progress is not None:
            _progress.put((number, size, rows))

    return advance


def _start_worker(progress: "multiprocessing.Queue[tuple[int, int, int]]") -> None:
    global _progress
    _progress = progress


def run_stages(
    job: Callable[..., Any],
    stages: Sequence[Sequence[tuple[int, Job]]],
    *,
    workers: int,
    advances: dict[int, Advance],
) -> dict[int, Any]:
    """Run `job(*args)` for every (number, args) of each stage in a pool of `workers`
    processes, stage after stage; `advances[number]` gets that job's progress. Returns each
    job's result by number; a job's exception is raised here."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([job.__module__])  # imported once, not once per worker
    else:
        context = multiprocessing.get_context("spawn")
    progress: multiprocessing.Queue[tuple[int, int, int]] = context.Queue()
    results: dict[int, Any] = {}
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(progress,)
    ) as pool:
        for stage in stages:
            running: dict[Future[Any], int] = {
                pool.submit(job, *args): number for number, args in stage
            }
            try:
                while running:
                    done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                    _drain(progress, advances)
                    for future in done:
                        results[running.pop(future)] = future.result()
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    _drain(progress, advances)  # the workers have exited: their last messages are in
    return results


def _drain(
    progress: "multiprocessing.Queue[tuple[int, int, int]]", advances: dict[int, Advance]
) -> None:
    while True:
        try:
            number, size, rows = progress.get_nowait()
        except queue.Empty:
            return
        if number in advances:
            advances[number](size, rows)
