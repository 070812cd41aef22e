"""Import records files (CSV or JSON Lines, read by `reading`) into the database: validate every
row, report the bad ones as `file:line: reason`, upsert the good ones on their natural keys.

A row goes in whole or not at all (a candidate with its addresses included); re-importing the same
files changes nothing. Rows are written in batches with executemany, one transaction per batch;
if the database refuses a batch, its rows are retried one by one so only the bad row is lost.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table, delete, exists, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import UserError
from bot.records.bulk import bulk_insert
from bot.records.reading import Line, file_encoding, read_rows
from bot.records.schemas import ROW_MODELS, Row
from bot.store.models.records import (
    Candidate,
    CandidateEmail,
    Certification,
    ExamAttempt,
    Invitation,
    RegionRestriction,
    Registration,
    Voucher,
)

BATCH_SIZE = 5000
SUFFIXES = (".csv", ".jsonl")
Progress = Callable[[str, int], Callable[[int], None]]  # (label, total bytes) -> advance(bytes)

_NO_CANDIDATE = {"candidates", "restrictions"}  # files whose rows refer to no candidate
_TABLES: dict[str, tuple[Any, str]] = {  # file -> (ORM model, column the batch lookup uses)
    "candidates": (Candidate, "mcp_id"),
    "restrictions": (RegionRestriction, "exam"),
    "exam_attempts": (ExamAttempt, "mcp_id"),
    "registrations": (Registration, "mcp_id"),
    "invitations": (Invitation, "mcp_id"),
    "vouchers": (Voucher, "code"),
    "certifications": (Certification, "mcp_id"),
}


@dataclass
class FileReport:
    path: str
    kind: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)

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
) -> ImportReport:
    """Import every records file found in `paths`; bad rows are reported, never fatal."""
    report = ImportReport()
    files = records_files(paths)
    # Every file's encoding is checked before the first row is written: a latin-1 export
    # stops the import whole, not half-way.
    encodings = {path: file_encoding(path) for _, path in files}
    for kind, path in files:
        file_report = FileReport(str(path), kind)
        report.files.append(file_report)
        advance = progress(path.name, path.stat().st_size) if progress else None
        rows = read_rows(path, ROW_MODELS[kind], encodings[path], advance)
        _import_file(sessions, path, rows, ROW_MODELS[kind], file_report, batch_size)
    return report


def _import_file(
    sessions: sessionmaker[Session],
    path: Path,
    rows: Iterable[Line],
    model: type[Row],
    report: FileReport,
    batch_size: int,
) -> None:
    seen: set[int] = set()  # hashes of the natural keys met so far in this file
    batch: list[tuple[int, Row]] = []
    with sessions() as session:  # an empty table needs no lookup of existing rows
        table = _TABLES[model.file][0].__table__
        fresh = not session.scalar(select(exists().select_from(table)))
    for line, data, problem in rows:
        report.rows += data is not None or problem is not None
        if problem is not None:
            report.errors.append(f"{path}:{line}: {problem}")
            continue
        try:
            row = model.model_validate(data)
        except ValidationError as exc:
            report.errors.append(f"{path}:{line}: {_reason(exc)}")
            continue
        key = row.key()
        key_hash = hash(key)
        if key_hash in seen:
            shown = ", ".join(f"{k}={v}" for k, v in zip(row.key_fields, key, strict=True))
            secret = row.key_fields == ("code",)
            report.errors.append(
                f"{path}:{line}: duplicate key ({'code' if secret else shown}) earlier in this file"
            )
            continue
        seen.add(key_hash)
        batch.append((line, row))
        if len(batch) >= batch_size:
            _write(sessions, path, batch, report, fresh=fresh)
            batch = []
    if batch:
        _write(sessions, path, batch, report, fresh=fresh)
    prefix = len(str(path)) + 1  # errors found when writing come late: put them in line order
    report.errors.sort(key=lambda error: int(error[prefix:].split(":", 1)[0]))


def _reason(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "row"
    if error["type"] == "missing":
        return f"{where}: missing value"
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    return f"{where}: {message} (got {value!r})" if isinstance(value, str | int) else message


def _write(
    sessions: sessionmaker[Session],
    path: Path,
    batch: list[tuple[int, Row]],
    report: FileReport,
    *,
    fresh: bool = False,
    screened: bool = False,
) -> None:
    """Write one batch in one transaction. If the database refuses it, drop the rows of unknown
    candidates (the foreign key is what finds them), then split the batch until the refused row
    stands alone: only that row is lost."""
    try:
        with sessions() as session, session.begin():
            counts = _upsert(session, batch, fresh=fresh)
    except DBAPIError as exc:
        if not screened and batch[0][1].file not in _NO_CANDIDATE:
            with sessions() as session:
                batch = _known_candidates(session, batch, report.errors, path)
            if batch:
                _write(sessions, path, batch, report, fresh=fresh, screened=True)
        elif len(batch) == 1:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            report.errors.append(f"{path}:{batch[0][0]}: the database refused the row: {reason}")
        else:
            half = len(batch) // 2
            for part in (batch[:half], batch[half:]):
                _write(sessions, path, part, report, fresh=fresh, screened=True)
        return
    report.inserted += counts[0]
    report.updated += counts[1]
    report.unchanged += counts[2]


def _upsert(session: Session, batch: list[tuple[int, Row]], *, fresh: bool) -> tuple[int, int, int]:
    """Insert the new rows, update the changed ones; `fresh`: the table was empty before this
    file, so (its keys being unique within the file) every row is new."""
    kind = batch[0][1].file
    model, lookup = _TABLES[kind]
    table: Table = model.__table__
    key_columns = batch[0][1].key_fields
    wanted = {getattr(row, lookup) for _, row in batch}
    existing = (
        {}
        if fresh
        else {
            tuple(r._mapping[c] for c in key_columns): r._mapping
            for r in session.execute(select(table).where(table.c[lookup].in_(wanted)))
        }
    )
    emails = _emails(session, wanted) if kind == "candidates" and not fresh else {}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changed_emails: list[Row] = []
    unchanged = 0
    for _, row in batch:
        values = _values(row)
        old = None if fresh else existing.get(row.key())
        if old is None:
            inserts.append(values)
            if kind == "candidates":
                changed_emails.append(row)
            continue
        same = all(old[c] == v for c, v in values.items())
        if kind == "candidates" and set(emails.get(row.mcp_id, ())) != set(row.emails):
            changed_emails.append(row)
            same = False
        if same:
            unchanged += 1
        else:
            pk = {c.name: old[c.name] for c in table.primary_key}
            updates.append({**values, **pk})
    bulk_insert(session, table, inserts)
    if updates:
        session.execute(update(model), updates)
    if changed_emails:
        ids = [row.mcp_id for row in changed_emails]
        session.execute(delete(CandidateEmail).where(CandidateEmail.mcp_id.in_(ids)))
        addresses = [{"mcp_id": r.mcp_id, "email": e} for r in changed_emails for e in r.emails]
        bulk_insert(session, CandidateEmail.__table__, addresses)
    return len(inserts), len(updates), unchanged


def _values(row: Row) -> dict[str, Any]:
    values = dict(row.__dict__)  # the validated fields (cheaper than model_dump per row)
    if row.file == "candidates":
        del values["emails"]
    elif row.file == "vouchers":
        values["scope"] = ";".join(values["scope"])
    return values


def _emails(session: Session, mcp_ids: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    query = select(CandidateEmail.mcp_id, CandidateEmail.email).where(
        CandidateEmail.mcp_id.in_(mcp_ids)
    )
    for mcp_id, email in session.execute(query):
        found.setdefault(mcp_id, []).append(email)
    return found


def _known_candidates(
    session: Session, batch: list[tuple[int, Row]], problems: list[str], path: Path
) -> list[tuple[int, Row]]:
    ids = {row.mcp_id for _, row in batch}  # type: ignore[attr-defined]
    known = set(session.scalars(select(Candidate.mcp_id).where(Candidate.mcp_id.in_(ids))))
    kept = []
    for line, row in batch:
        if row.mcp_id in known:  # type: ignore[attr-defined]
            kept.append((line, row))
        else:
            problems.append(f"{path}:{line}: unknown candidate {row.mcp_id}")  # type: ignore[attr-defined]
    return kept
