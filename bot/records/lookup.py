"""One candidate's records from the database in one statement: the hot path of every message.

One Core select returns the candidate's row with, per child table, its rows as a JSON array of
arrays (SQLite's `json_group_array`, PostgreSQL's `json_agg`): one round trip and one statement
to plan instead of eight, no ORM objects and no validation (the import validated every row);
the records are built with `model_construct` from plain values. The indexes of migration 0010
hold every column the select reads, so each table is read from its index alone.
"""

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, Select, bindparam, func, select, type_coerce
from sqlalchemy.orm import Session

from bot.records.schemas import (
    AttemptRow,
    CandidateRecords,
    CandidateRow,
    CertificationRow,
    InvitationRow,
    RegistrationRow,
    RestrictionRow,
    Row,
    VoucherRow,
)
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


def _day(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _moment(value: Any) -> datetime | None:
    """SQLite gives `2026-03-02 10:00:00.000000` (UTC), PostgreSQL `2026-03-02T10:00:00+00:00`."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _flag(value: Any) -> bool:
    return bool(value)  # SQLite's JSON has 1 and 0


def _same(value: Any) -> Any:
    return value


# (records field, table, row model, how each JSON value becomes the model's; None: kept as is)
CHILDREN: list[tuple[str, Any, type[Row], dict[str, Callable[[Any], Any]]]] = [
    ("attempts", ExamAttempt, AttemptRow, {"taken_on": _day, "beta": _flag}),
    ("registrations", Registration, RegistrationRow,
     {"created_at": _moment, "scheduled_for": _moment}),
    ("invitations", Invitation, InvitationRow, {"sent_at": _moment}),
    ("vouchers", Voucher, VoucherRow,
     {"issued_at": _day, "redeemed_at": _day, "scope": lambda s: s.split(";")}),
    ("certifications", Certification, CertificationRow, {"granted_on": _day}),
    ("restrictions", RegionRestriction, RestrictionRow, {"since": _day}),
]  # fmt: skip


def _stored(table: Any, row: type[Row]) -> list[str]:
    """The row model's fields the table stores, but the MCP id (the lookup's key)."""
    return [n for n in row.model_fields if n in table.c and n != "mcp_id"]


# per records field: the columns read, and how each JSON value becomes the model's
_READ = {
    field: (
        _stored(model.__table__, row),
        [convert.get(n, _same) for n in _stored(model.__table__, row)],
    )
    for field, model, row, convert in CHILDREN
}


@functools.cache
def _statement(dialect: str) -> Select[Any]:
    """The lookup for one dialect (built once; SQLAlchemy caches its compiled form)."""
    rows_of, array = (
        (func.json_agg, func.json_build_array)
        if dialect == "postgresql"
        else (func.json_group_array, func.json_array)
    )
    person = Candidate.__table__

    def children(table: Any, names: list[str], where: ColumnElement[bool]) -> Any:
        # the id first: rows are put in insertion order here, not by an ORDER BY per table
        values = array(table.c.id, *(table.c[n] for n in names))
        return type_coerce(select(rows_of(values)).where(where).scalar_subquery(), JSON)

    emails = CandidateEmail.__table__
    columns = [
        person.c.mcp_id, person.c.name, person.c.country, person.c.region,
        person.c.slack_user_id,
        children(emails, ["email"], emails.c.mcp_id == person.c.mcp_id).label("emails"),
    ]  # fmt: skip
    for field, model, _row, _ in CHILDREN:
        table = model.__table__
        names = _READ[field][0]
        where = (
            table.c.country == person.c.country
            if field == "restrictions"
            else table.c.mcp_id == person.c.mcp_id
        )
        columns.append(children(table, names, where).label(field))
    return select(*columns).where(person.c.mcp_id == bindparam("m"))


def load(session: Session, mcp_id: str) -> CandidateRecords | None:
    """The candidate's records, or None when no candidate has this MCP id."""
    found = session.execute(_statement(session.get_bind().dialect.name), {"m": mcp_id}).first()
    if found is None:
        return None
    person = found._mapping
    lists: dict[str, list[Any]] = {}
    for field, _, row, _ in CHILDREN:
        names, makers = _READ[field]
        extra = {} if field == "restrictions" else {"mcp_id": mcp_id}
        lists[field] = [
            row.model_construct(
                **extra,
                **{n: make(v) for n, make, v in zip(names, makers, values[1:], strict=True)},
            )
            for values in sorted(person[field] or ())
        ]
    candidate = CandidateRow.model_construct(
        mcp_id=person["mcp_id"],
        name=person["name"],
        emails=[email for _, email in sorted(person["emails"] or ())],
        country=person["country"],
        region=person["region"],
        slack_user_id=person["slack_user_id"],
    )
    return CandidateRecords.model_construct(candidate=candidate, **lists)
