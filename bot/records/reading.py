"""Reading records files: which text encodings are accepted, and the rows in chunks (CSV cells
or JSON Lines objects, each with its line) for the importer to validate a column at a time; a row
that cannot be read is a `(line, problem)`, reported as `file:line: reason`, and reading goes on.

Accepted: UTF-8 with or without a byte-order mark, and UTF-16 with one (Excel's "Unicode text",
usually tab-separated). Anything else is refused in one line before a row is imported, since a
file read in the wrong encoding would import wrong names without a single error.
"""

import codecs
import csv
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from bot.errors import UserError
from bot.records.columns import Layout

Advance = Callable[[int, int], None]  # (bytes read, rows read) since the last call

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CHUNK = 1 << 20
SAVE_AS_UTF8 = 'save it as UTF-8 (in Excel: Save As, "CSV UTF-8")'


def file_encoding(path: Path) -> str:
    """The encoding to read `path` with, checked to the end of the file; a file that is not
    UTF-8 or UTF-16 with a BOM (a latin-1 or Windows-1252 export) is a `UserError`."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
            encoding = next((name for bom, name in _BOMS if head.startswith(bom)), "utf-8")
            handle.seek(0)
            decoder = codecs.getincrementaldecoder(encoding)()
            try:
                while chunk := handle.read(_CHUNK):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                bad = f"byte 0x{exc.object[exc.start : exc.start + 1].hex()}"
                if encoding == "utf-16":
                    raise UserError(f"{path}: not valid UTF-16 ({bad}); {SAVE_AS_UTF8}") from None
                line = _line_before(handle, exc)
                raise UserError(f"{path}:{line}: not UTF-8 ({bad}); {SAVE_AS_UTF8}") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    return encoding


def _line_before(handle: Any, exc: UnicodeDecodeError) -> int:
    """The line of the undecodable byte: newlines before the failed chunk plus within it."""
    failed_at = handle.tell() - len(exc.object)
    handle.seek(0)
    before = 0
    while failed_at > 0:
        chunk = handle.read(min(_CHUNK, failed_at))
        before += chunk.count(b"\n")
        failed_at -= len(chunk)
    return before + exc.object.count(b"\n", 0, exc.start) + 1


@dataclass
class Chunk:
    """Rows read from one file: CSV cells (padded to the header) or JSON Lines objects."""

    headers: list[str] | None  # None: JSON Lines
    lines: list[int] = field(default_factory=list)
    rows: list[Any] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)  # rows refused on reading

    def columns(self, layout: Layout) -> list[Sequence[Any]]:
        """One column per field of `layout`; an absent column is a column of None."""
        if self.headers is None:
            return [[row.get(name) for row in self.rows] for name in layout.fields]
        position = {name: i for i, name in enumerate(self.headers)}  # a repeated name: the last
        by_position = list(zip(*self.rows, strict=True)) if self.rows else []
        absent = (None,) * len(self.rows)
        return [
            by_position[position[name]] if name in position and self.rows else absent
            for name in layout.fields
        ]

    def data(self, i: int) -> dict[str, Any]:
        """Row i as the row model sees it (as `csv.DictReader` would give it)."""
        row = self.rows[i]
        return row if self.headers is None else dict(zip(self.headers, row, strict=True))


def read_chunks(
    path: Path, layout: Layout, encoding: str, size: int, advance: Advance | None
) -> Iterator[Chunk]:
    """The file's rows in chunks of up to `size`; a header problem stops the file at line 1."""
    # Progress counts characters against a size in bytes: UTF-16 takes two bytes for each.
    meter = _Meter(advance, scale=2 if encoding == "utf-16" else 1)
    with path.open(encoding=encoding, newline="") as handle:
        lines = meter.count(handle)
        if path.suffix == ".jsonl":
            yield from _json_chunks(lines, size, meter)
        else:
            yield from _csv_chunks(lines, layout, size, meter)


def _csv_chunks(
    lines: Iterator[str], layout: Layout, size: int, meter: "_Meter"
) -> Iterator[Chunk]:
    first = next(lines, "")
    # Excel's "Unicode text" separates cells with tabs; a header of tabs and no commas says so.
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(itertools.chain([first], lines), delimiter=delimiter)
    try:
        headers = [h.strip() for h in next(reader, None) or []]
    except csv.Error as exc:
        yield Chunk([], problems=[(1, f"{_csv_problem(exc)}; file skipped")])
        return
    missing = [h for h in layout.model.required_headers() if h not in headers]
    if missing:
        yield Chunk(
            headers, problems=[(1, f"missing column(s): {', '.join(missing)}; file skipped")]
        )
        return
    width = len(headers)
    read = reader.line_num
    while True:
        rows: list[list[str]] = []
        failure = None
        try:
            rows += islice(reader, size)
        except csv.Error as exc:  # the reader drops the rest of the line and goes on after it
            failure = exc
        if not rows and failure is None:
            return
        if failure is None and reader.line_num - read == len(rows):  # no newline in a cell
            lines_of: Sequence[int] = range(read + 1, reader.line_num + 1)
        else:
            lines_of = _first_lines(rows, read)
        chunk = Chunk(headers)
        if all(map(width.__eq__, map(len, rows))):
            chunk.lines, chunk.rows = list(lines_of), rows
        else:
            _fit(chunk, rows, lines_of)
        if failure is not None:
            line = lines_of[-1] + _span(rows[-1]) if rows else read + 1
            chunk.problems.append((line, _csv_problem(failure)))
        read = reader.line_num
        meter.flush(len(rows) + (failure is not None))
        yield chunk


def _span(cells: list[str]) -> int:
    """The lines a row takes: one, and one more for each line break inside its cells."""
    return 1 + sum(c.count("\n") + c.count("\r") - c.count("\r\n") for c in cells)


def _first_lines(rows: list[list[str]], read: int) -> list[int]:
    """The line each row starts on, `read` lines having been read before the first."""
    starts = []
    line = read + 1
    for cells in rows:
        starts.append(line)
        line += _span(cells)
    return starts


def _fit(chunk: Chunk, rows: list[list[Any]], lines: Sequence[int]) -> None:
    """Rows whose cells do not match the header: skip blank lines, refuse extra cells, and take
    missing cells as no value (as `csv.DictReader` does)."""
    width = len(chunk.headers or ())
    for line, cells in zip(lines, rows, strict=True):
        if not cells:
            continue
        if len(cells) > width:
            chunk.problems.append((line, f"{len(cells)} cells, the header has {width}"))
            continue
        chunk.lines.append(line)
        chunk.rows.append(cells + [None] * (width - len(cells)))


def _json_chunks(lines: Iterable[str], size: int, meter: "_Meter") -> Iterator[Chunk]:
    chunk = Chunk(None)
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            chunk.problems.append((number, f"not valid JSON: {exc.msg}"))
            continue
        except RecursionError:
            chunk.problems.append((number, "not a records row: JSON nested too deeply"))
            continue
        if not isinstance(data, dict):
            chunk.problems.append((number, "expected a JSON object"))
            continue
        chunk.lines.append(number)
        chunk.rows.append(data)
        if len(chunk.rows) >= size:
            meter.flush(len(chunk.rows) + len(chunk.problems))
            yield chunk
            chunk = Chunk(None)
    meter.flush(len(chunk.rows) + len(chunk.problems))
    yield chunk


class _Meter:
    """Counts the characters read, for a progress bar (advanced once per chunk)."""

    def __init__(self, advance: Advance | None, scale: int) -> None:
        self.advance = advance
        self.scale = scale
        self.chars = 0

    def count(self, lines: Iterable[str]) -> Iterable[str]:
        if self.advance is None:
            return lines
        return self._counting(lines)

    def _counting(self, lines: Iterable[str]) -> Iterator[str]:
        for text in lines:
            self.chars += len(text)
            yield text

    def flush(self, rows: int) -> None:
        if self.advance is not None:
            self.advance(self.chars * self.scale, rows)
            self.chars = 0


def _csv_problem(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return f"a cell is longer than {csv.field_size_limit():,} characters"
    return f"not readable as CSV: {exc}"
