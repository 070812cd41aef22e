"""Import records files (CSV or JSON Lines) into the database: validate every row, report the bad
ones as `file:line: reason`, upsert the good ones on their natural keys.

Rows are read in chunks and validated a column at a time (`columns.py`); each chunk's good rows
are written in one transaction (`writer.py`). A row goes in whole or not at all; re-importing the
same files changes nothing.
"""

import gc
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import UserError
from bot.records.columns import LAYOUTS, Layout, validate
from bot.records.parallel import progress_of, run_stages, worker_sessions
from bot.records.reading import Chunk, file_encoding, read_chunks
from bot.records.schemas import ROW_MODELS
from bot.records.writer import Counts, is_empty, write

BATCH_SIZE = 5000
PARALLEL_FROM = 16_000_000  # bytes: a smaller import is over before worker processes start
MAX_WORKERS = 4
_FIRST = {"candidates", "restrictions"}  # the files the others refer to, imported first
SUFFIXES = (".csv", ".jsonl")
# (label, total bytes) -> advance(bytes read, rows read) since the last call
Progress = Callable[[str, int], Callable[[int, int], None]]


@dataclass
class FileReport:
    path: str
    kind: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0  # of the process that imported the file (for the benchmark)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "kind": self.kind,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "bad": len(self.errors),
        }


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [error for f in self.files for error in f.errors]

    @property
    def cpu_seconds(self) -> float:
        return sum(f.cpu_seconds for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {"files": [f.to_dict() for f in self.files], "errors": self.errors}


def records_files(paths: Sequence[Path]) -> list[tuple[str, Path]]:
    """The records files among `paths` (folders are searched), candidates first."""
    found: list[tuple[str, Path]] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += [(f.stem, f) for f in sorted(path.iterdir()) if _kind(f)]
        elif not path.exists():
            raise UserError(f"{path}: no such file or folder")
        elif _kind(path):
            found.append((path.stem, path))
        else:
            names = ", ".join(f"{k}.csv" for k in ROW_MODELS)
            raise UserError(f"{path}: not a records file (expected one of {names} or .jsonl)")
    if not found:
        raise UserError(f"no records files in {', '.join(map(str, paths))}")
    order = list(ROW_MODELS)
    return sorted(found, key=lambda item: (order.index(item[0]), str(item[1])))


def _kind(path: Path) -> bool:
    return path.is_file() and path.suffix in SUFFIXES and path.stem in ROW_MODELS


def import_records(
    sessions: sessionmaker[Session],
    paths: Sequence[Path],
    *,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Import every records file found in `paths`; bad rows are reported, never fatal.

    `workers`: processes importing files side by side. By default a large import on a database
    server takes one per CPU (each worker's COPY keeps a server process busy too: 20-25% faster
    on two cores); SQLite takes one writer at a time, and its workers waiting for the lock made
    the import slower (113,000 rows/s against 173,000 here), so it imports in this process."""
    files = records_files(paths)
    # Every file's encoding is checked before the first row is written: a latin-1 export
    # stops the import whole, not half-way.
    encodings = [file_encoding(path) for _, path in files]
    report = ImportReport([FileReport(str(path), kind) for kind, path in files])
    advances = {
        number: progress(path.name, path.stat().st_size)
        for number, (_, path) in enumerate(files)
        if progress
    }
    url = _database_url(sessions)
    if workers is None:
        large = sum(path.stat().st_size for _, path in files) >= PARALLEL_FROM
        server = url is not None and not url.startswith("sqlite")
        workers = min(os.cpu_count() or 1, MAX_WORKERS) if large and server else 1
    if workers > 1 and len(files) > 1 and url is not None:
        numbered = [
            (n, (url, kind, str(path), encodings[n], batch_size, n))
            for n, (kind, path) in enumerate(files)
        ]
        first = [job for job in numbered if job[1][1] in _FIRST]
        rest = sorted(  # the largest first, so the last file to start is a small one
            (job for job in numbered if job[1][1] not in _FIRST),
            key=lambda job: -Path(job[1][2]).stat().st_size,
        )
        done = run_stages(_file_job, [first, rest], workers=workers, advances=advances)
        report.files = [done[n] for n in range(len(files))]
        return report
    with _no_cycle_collection():
        for number, file_report in enumerate(report.files):
            chunks = read_chunks(
                Path(file_report.path),
                LAYOUTS[file_report.kind],
                encodings[number],
                batch_size,
                advances.get(number),
            )
            _import_file(sessions, chunks, file_report)
    return report


def _database_url(sessions: sessionmaker[Session]) -> str | None:
    """The URL worker processes connect to; None for a database only this process can see."""
    engine = sessions.kw.get("bind")
    if not isinstance(engine, Engine):
        return None
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return None
    return engine.url.render_as_string(hide_password=False)


def _file_job(
    url: str, kind: str, path: str, encoding: str, batch_size: int, number: int
) -> FileReport:
    """One file, imported in a worker process."""
    engine, sessions = worker_sessions(url)
    report = FileReport(path, kind)
    try:
        with _no_cycle_collection():
            chunks = read_chunks(
                Path(path), LAYOUTS[kind], encoding, batch_size, progress_of(number)
            )
            _import_file(sessions, chunks, report)
    finally:
        engine.dispose()
    return report


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector: every chunk allocates thousands of lists and tuples, which
    set it off again and again to walk every live object (it halved the import's speed), while
    the import's own objects hold no cycles and are freed as soon as each chunk is written."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _import_file(
    sessions: sessionmaker[Session], chunks: Iterable[Chunk], report: FileReport
) -> None:
    """Validate, screen and write a file's chunks of rows; `report` gets the counts and errors."""
    path, layout = report.path, LAYOUTS[report.kind]
    started = time.process_time()
    seen: set[int] = set()  # hashes of the natural keys met so far in this file
    key_of = itemgetter(*layout.key)
    counts = Counts()
    fresh = is_empty(sessions, layout.kind)
    for chunk in chunks:
        report.rows += len(chunk.lines) + len(chunk.problems)
        report.errors += [f"{path}:{line}: {problem}" for line, problem in chunk.problems]
        values, problems = validate(layout, chunk.columns(layout), chunk.data)
        hashes = list(map(hash, map(key_of, values))) if not problems else []
        if hashes and seen.isdisjoint(hashes) and len(set(hashes)) == len(hashes):
            seen.update(hashes)  # the common case: no bad row, no duplicate key
            batch = list(zip(chunk.lines, values, strict=True))
        else:
            batch = _screen(layout, path, chunk.lines, values, problems, seen, report.errors)
        if batch:
            write(sessions, layout, path, batch, counts, fresh=fresh)
    report.inserted, report.updated, report.unchanged = (
        counts.inserted,
        counts.updated,
        counts.unchanged,
    )
    report.errors += counts.errors
    report.cpu_seconds = time.process_time() - started
    prefix = len(str(path)) + 1  # errors found when writing come late: put them in line order
    report.errors.sort(key=lambda error: int(error[prefix:].split(":", 1)[0]))


def _screen(
    layout: Layout,
    path: str,
    lines: list[int],
    values: list[tuple[Any, ...] | None],
    problems: dict[int, str],
    seen: set[int],
    errors: list[str],
) -> list[tuple[int, tuple[Any, ...]]]:
    """The good rows of a chunk, row by row: each bad row and repeated key is reported."""
    key_of = itemgetter(*layout.key)
    batch = []
    for i, (line, row) in enumerate(zip(lines, values, strict=True)):
        if row is None:
            errors.append(f"{path}:{line}: {problems[i]}")
            continue
        key_hash = hash(key_of(row))
        if key_hash in seen:
            errors.append(f"{path}:{line}: {_duplicate(layout, row)}")
            continue
        seen.add(key_hash)
        batch.append((line, row))
    return batch


def _duplicate(layout: Layout, row: tuple[Any, ...]) -> str:
    names = [layout.fields[i] for i in layout.key]
    if names == ["code"]:  # a secret: never in a report
        return "duplicate key (code) earlier in this file"
    shown = ", ".join(f"{name}={row[i]}" for name, i in zip(names, layout.key, strict=True))
    return f"duplicate key ({shown}) earlier in this file"
