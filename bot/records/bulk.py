"""Fast inserts of many new rows: COPY on PostgreSQL, a plain DBAPI executemany elsewhere.

SQLAlchemy's executemany prepares parameters row by row through the compiled statement, which
dominates a million-row import; here each column's bind processor (the same type conversions
SQLAlchemy applies, e.g. UTC timestamps) is looked up once and applied to plain tuples.
"""

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


def bulk_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts keyed by column name) into `table` in the session's transaction."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    columns = [c for c in table.columns if c.name in rows[0]]
    processors: list[Callable[[Any], Any] | None] = [
        c.type._cached_bind_processor(dialect) for c in columns
    ]
    names = [c.name for c in columns]
    values = [
        tuple(v if p is None or v is None else p(v) for v, p in zip(
            (row[n] for n in names), processors, strict=True))
        for row in rows
    ]  # fmt: skip
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
