"""Reading records files: which text encodings are accepted, and each row as `(line, data,
problem)` so the importer reports a bad row as `file:line: reason` and goes on.

Accepted: UTF-8 with or without a byte-order mark, and UTF-16 with one (Excel's "Unicode text",
usually tab-separated). Anything else is refused in one line before a row is imported, since a
file read in the wrong encoding would import wrong names without a single error.
"""

import codecs
import csv
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from bot.errors import UserError
from bot.records.schemas import Row

Line = tuple[int, dict[str, Any] | None, str | None]  # (line number, row data, problem)

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


def read_rows(
    path: Path, model: type[Row], encoding: str, advance: Callable[[int], None] | None
) -> Iterator[Line]:
    """(line, row data, problem) for each row; a header problem stops the file at line 1."""
    # Progress counts characters against a size in bytes: UTF-16 takes two bytes for each.
    scale = 2 if encoding == "utf-16" else 1
    with path.open(encoding=encoding, newline="") as handle:
        lines = _counting(handle, advance, scale)
        if path.suffix == ".jsonl":
            yield from _json_lines(lines)
        else:
            yield from _csv_rows(lines, model)


def _json_lines(lines: Iterable[str]) -> Iterator[Line]:
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield number, None, f"not valid JSON: {exc.msg}"
            continue
        except RecursionError:
            yield number, None, "not a records row: JSON nested too deeply"
            continue
        if not isinstance(data, dict):
            yield number, None, "expected a JSON object"
            continue
        yield number, data, None


def _csv_rows(lines: Iterator[str], model: type[Row]) -> Iterator[Line]:
    first = next(lines, "")
    # Excel's "Unicode text" separates cells with tabs; a header of tabs and no commas says so.
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.DictReader(itertools.chain([first], lines), delimiter=delimiter)
    try:
        headers = [h.strip() for h in reader.fieldnames or []]
    except csv.Error as exc:
        yield 1, None, f"{_csv_problem(exc)}; file skipped"
        return
    missing = [h for h in model.required_headers() if h not in headers]
    if missing:
        yield 1, None, f"missing column(s): {', '.join(missing)}; file skipped"
        return
    reader.fieldnames = headers
    start = reader.line_num + 1
    while True:
        try:
            data = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader drops the rest of the line and goes on after it
            yield start, None, _csv_problem(exc)
            start = reader.reader.line_num + 1  # DictReader's own count skips a failed row
            continue
        if None in data:
            cells = len(headers) + len(data[None])
            yield start, None, f"{cells} cells, the header has {len(headers)}"
        else:
            yield start, data, None
        start = reader.line_num + 1


def _csv_problem(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return f"a cell is longer than {csv.field_size_limit():,} characters"
    return f"not readable as CSV: {exc}"


def _counting(
    lines: Iterable[str], advance: Callable[[int], None] | None, scale: int
) -> Iterator[str]:
    if advance is None:
        yield from lines
        return
    pending = 0
    for text in lines:
        pending += len(text) * scale
        if pending > 1 << 20:
            advance(pending)
            pending = 0
        yield text
    advance(pending)
