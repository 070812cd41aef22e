"""Fast inserts of many new rows: COPY on PostgreSQL, a plain DBAPI executemany elsewhere.

SQLAlchemy's executemany prepares parameters row by row through the compiled statement, which
dominates a million-row import; here each column's bind processor (the same type conversions
SQLAlchemy applies, e.g. UTC timestamps) is looked up once and applied to a whole column.
"""

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


def bulk_insert(
    session: Session, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert `rows` (value tuples in the order of `names`) in the session's transaction."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    processors: list[Callable[[Any], Any] | None] = [
        table.c[name].type._cached_bind_processor(dialect) for name in names
    ]
    values: Sequence[Sequence[Any]] = rows
    if any(processors):  # convert column by column, then back to rows
        columns = [
            column if p is None else _converted(column, p)
            for column, p in zip(zip(*rows, strict=True), processors, strict=True)
        ]
        values = list(zip(*columns, strict=True))
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
    target = dialect.identifier_preparer.format_table(table)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    statement = f"COPY {target} ({quoted}) FROM STDIN"
    try:
        if dialect.name == "postgresql":
            with cursor.copy(statement) as copy:
                for value in values:
                    copy.write_row(value)
        else:
            marks = ", ".join("?" for _ in names)
            statement = f"INSERT INTO {target} ({quoted}) VALUES ({marks})"
            cursor.executemany(statement, values)
    except dialect.loaded_dbapi.Error as exc:  # the same error SQLAlchemy would raise
        raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


def _converted(column: Sequence[Any], processor: Callable[[Any], Any]) -> list[Any]:
    """Each distinct value converted once: dates, flags and the like repeat down a column."""
    try:
        distinct = {v: None if v is None else processor(v) for v in set(column)}
    except TypeError:  # unhashable values (a JSON column's dicts): convert each one
        return [None if v is None else processor(v) for v in column]
    return list(map(distinct.__getitem__, column))
