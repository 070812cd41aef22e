"""The last step of an erasure: every text column of every table, searched for the person.

The steps before know what each table means (a delivery to cancel, a ticket to anonymise); this
one knows nothing and misses nothing: a job's last error quoting an address, a digest listing
their ticket, an audit event on someone else's ticket, a table added next year. The database
narrows the rows down (LIKE on the traces' needles); Python confirms a strong trace and
redacts the row. Keys (primary and foreign) are never rewritten.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Column, String, Table, Text, cast, func, or_, select, update
from sqlalchemy.orm import Session

from bot.privacy.traces import Traces
from bot.store.models import Base

# The erasure's own record holds counts and the operator, never the person.
SKIPPED_TABLES = frozenset({"erasures"})


def text_columns(table: Table) -> list[Column[Any]]:
    """The String, Text and JSON columns that are not keys."""
    return [
        column
        for column in table.columns
        if isinstance(column.type, String | JSON)
        and not column.primary_key
        and not column.foreign_keys
    ]


def rows_naming(
    session: Session, table: Table, columns: Sequence[Column[Any]], traces: Traces
) -> list[Any]:
    """The primary keys (one-column tables) of rows whose `columns` hold a strong trace."""
    (key,) = table.primary_key.columns
    rows = _candidates(session, table, [key], columns, traces)
    return [row[0] for row in rows if _names(row[1:], traces)]


def sweep(session: Session, traces: Traces, replacement: str) -> dict[str, int]:
    """Redact every row of every table that still names the person; rows changed per table."""
    changed: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        columns = text_columns(table)
        if table.name in SKIPPED_TABLES or not columns:
            continue
        keys = list(table.primary_key.columns)
        for row in _candidates(session, table, keys, columns, traces):
            values = row[len(keys) :]
            if not _names(values, traces):
                continue
            redacted = {}
            for column, value in zip(columns, values, strict=True):
                new = _fit(column, traces.scrub(value, replacement))
                if new != value:
                    redacted[column.name] = new
            where = [key == value for key, value in zip(keys, row[: len(keys)], strict=True)]
            session.execute(update(table).where(*where).values(redacted))
            changed[table.name] = changed.get(table.name, 0) + 1
    return changed


def _candidates(
    session: Session,
    table: Table,
    keys: Sequence[Column[Any]],
    columns: Sequence[Column[Any]],
    traces: Traces,
) -> list[Any]:
    """Rows that may hold a trace: any column containing any needle, case-insensitively."""
    if not traces.needles:
        return []
    condition = or_(
        *(
            func.lower(cast(column, Text)).contains(needle, autoescape=True)
            for column in columns
            for needle in traces.needles
        )
    )
    return list(session.execute(select(*keys, *columns).where(condition)))


def _names(values: Sequence[Any], traces: Traces) -> bool:
    return any(traces.names_them(value) for value in values)


def _fit(column: Column[Any], value: Any) -> Any:
    """A redacted value longer than its column (an MCP id column holding `erased:…`) is
    emptied instead."""
    length = getattr(column.type, "length", None)
    if isinstance(value, str) and length and len(value) > length:
        return None if column.nullable else value[:length]
    return value
