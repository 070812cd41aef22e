"""Write validated records rows: one batch per transaction, upserted on their natural keys.

A row goes in whole or not at all (a candidate with its addresses included); re-importing the same
rows changes nothing. If the database refuses a batch, the rows of unknown candidates are dropped
(the foreign key is what finds them), then the batch is split until the refused row stands alone:
only that row is lost.
"""

from operator import itemgetter
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.records.bulk import bulk_insert
from bot.records.columns import Layout
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

Batch = list[tuple[int, tuple[Any, ...]]]  # (line, the row's values in the layout's field order)

_NO_CANDIDATE = {"candidates", "restrictions"}  # files whose rows refer to no candidate
TABLES: dict[str, tuple[Any, str]] = {  # file -> (ORM model, column the batch lookup uses)
    "candidates": (Candidate, "mcp_id"),
    "restrictions": (RegionRestriction, "exam"),
    "exam_attempts": (ExamAttempt, "mcp_id"),
    "registrations": (Registration, "mcp_id"),
    "invitations": (Invitation, "mcp_id"),
    "vouchers": (Voucher, "code"),
    "certifications": (Certification, "mcp_id"),
}


class Counts:
    """What a file's batches did, and the rows they could not write (`file:line: reason`)."""

    def __init__(self) -> None:
        self.inserted = self.updated = self.unchanged = 0
        self.errors: list[str] = []


def is_empty(sessions: sessionmaker[Session], kind: str) -> bool:
    """An empty table (a first import) needs no lookup of existing rows."""
    with sessions() as session:
        table = TABLES[kind][0].__table__
        return not session.scalar(select(exists().select_from(table)))


def write(
    sessions: sessionmaker[Session],
    layout: Layout,
    path: str,
    batch: Batch,
    counts: Counts,
    *,
    fresh: bool = False,
    screened: bool = False,
) -> None:
    """Write one batch in one transaction; `fresh`: the table was empty before this file, so
    (its keys being unique within the file) every row is new."""
    try:
        with sessions() as session, session.begin():
            done = _upsert(session, layout, batch, fresh=fresh)
    except DBAPIError as exc:
        if not screened and layout.kind not in _NO_CANDIDATE:
            with sessions() as session:
                batch = _known_candidates(session, batch, counts.errors, path)
            if batch:
                write(sessions, layout, path, batch, counts, fresh=fresh, screened=True)
        elif len(batch) == 1:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            counts.errors.append(f"{path}:{batch[0][0]}: the database refused the row: {reason}")
        else:
            half = len(batch) // 2
            for part in (batch[:half], batch[half:]):
                write(sessions, layout, path, part, counts, fresh=fresh, screened=True)
        return
    counts.inserted += done[0]
    counts.updated += done[1]
    counts.unchanged += done[2]


def _upsert(session: Session, layout: Layout, batch: Batch, *, fresh: bool) -> tuple[int, int, int]:
    """Insert the new rows, update the changed ones."""
    model, lookup = TABLES[layout.kind]
    table = model.__table__
    candidates = layout.kind == "candidates"
    names = [name for name in layout.fields if name != "emails"]
    stored = _picker([layout.fields.index(name) for name in names])
    if fresh:
        rows = [row for _, row in batch]
        bulk_insert(session, table, names, rows if not candidates else list(map(stored, rows)))
        if candidates:
            _replace_emails(session, rows, layout, delete_old=False)
        return len(rows), 0, 0
    at = layout.fields.index(lookup)
    wanted = {row[at] for _, row in batch}
    key_columns = [layout.fields[i] for i in layout.key]
    existing = {
        tuple(r._mapping[c] for c in key_columns): r._mapping
        for r in session.execute(select(table).where(table.c[lookup].in_(wanted)))
    }
    emails = _emails(session, wanted) if candidates else {}
    inserts: list[tuple[Any, ...]] = []
    updates: list[dict[str, Any]] = []
    changed_emails: list[tuple[Any, ...]] = []
    unchanged = 0
    email_at = layout.fields.index("emails") if candidates else -1
    for _, row in batch:
        values = stored(row)
        old = existing.get(tuple(row[i] for i in layout.key))
        if old is None:
            inserts.append(values)
            if candidates:
                changed_emails.append(row)
            continue
        same = all(old[c] == v for c, v in zip(names, values, strict=True))
        if candidates and set(emails.get(row[0], ())) != set(row[email_at]):
            changed_emails.append(row)
            same = False
        if same:
            unchanged += 1
        else:
            pk = {c.name: old[c.name] for c in table.primary_key}
            updates.append({**dict(zip(names, values, strict=True)), **pk})
    bulk_insert(session, table, names, inserts)
    if updates:
        session.execute(update(model), updates)
    if changed_emails:
        _replace_emails(session, changed_emails, layout, delete_old=True)
    return len(inserts), len(updates), unchanged


def _picker(positions: list[int]) -> Any:
    """A function giving the values at `positions` of a row, as a tuple."""
    if len(positions) == 1:
        return lambda row: (row[positions[0]],)
    return itemgetter(*positions)


def _replace_emails(
    session: Session, rows: list[tuple[Any, ...]], layout: Layout, *, delete_old: bool
) -> None:
    at = layout.fields.index("emails")
    if delete_old:
        ids = [row[0] for row in rows]
        session.execute(delete(CandidateEmail).where(CandidateEmail.mcp_id.in_(ids)))
    addresses = [(row[0], email) for row in rows for email in row[at]]
    bulk_insert(session, CandidateEmail.__table__, ["mcp_id", "email"], addresses)


def _emails(session: Session, mcp_ids: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    query = select(CandidateEmail.mcp_id, CandidateEmail.email).where(
        CandidateEmail.mcp_id.in_(mcp_ids)
    )
    for mcp_id, email in session.execute(query):
        found.setdefault(mcp_id, []).append(email)
    return found


def _known_candidates(session: Session, batch: Batch, problems: list[str], path: str) -> Batch:
    ids = {row[0] for _, row in batch}  # every file but candidates' starts with mcp_id
    known = set(session.scalars(select(Candidate.mcp_id).where(Candidate.mcp_id.in_(ids))))
    kept = []
    for line, row in batch:
        if row[0] in known:
            kept.append((line, row))
        else:
            problems.append(f"{path}:{line}: unknown candidate {row[0]}")
    return kept
