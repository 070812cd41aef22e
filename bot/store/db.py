"""Engine, sessions and schema migrations (Alembic, shipped inside the package)."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import DatabaseUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"
CONNECT_TIMEOUT = 10  # seconds


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine for SQLite (WAL, foreign keys, busy timeout) or PostgreSQL (pre-ping)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if "connect_timeout" not in make_url(url).query and "connect_args" not in kwargs:
        # An unreachable host fails in seconds instead of hanging `triage db status` (and the
        # systemd unit that runs it) for minutes.
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revisions() -> set[str]:
    return set(ScriptDirectory(str(MIGRATIONS)).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def upgrade(engine: Engine) -> list[str]:
    """Apply every pending migration; returns the revisions applied (none when current)."""
    before = checked_revisions(engine)
    if before == head_revisions():
        return []
    try:
        command.upgrade(alembic_config(engine), "heads")
    except (CommandError, RevisionError) as exc:
        # A database stamped by another version of the bot (or by hand): say so, change nothing.
        raise DatabaseUnavailable(
            f"the database is at revision {', '.join(sorted(before)) or 'none'}, which the "
            f"shipped migrations cannot upgrade: {exc}"
        ) from None
    return sorted(current_revisions(engine) - before)


def is_current(engine: Engine) -> bool:
    return checked_revisions(engine) == head_revisions()


def checked_revisions(engine: Engine) -> set[str]:
    """The database's revisions; a database that is down, or not a database, is one line."""
    try:
        return current_revisions(engine)
    except OperationalError as exc:
        raise DatabaseUnavailable(f"cannot reach the database: {_first_line(exc)}") from None
    except DBAPIError as exc:  # e.g. SQLite given a file that is not a database
        raise DatabaseUnavailable(f"cannot use the database: {_first_line(exc)}") from None


def ping(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except OperationalError:
        return False


def open_database(url: str) -> Engine:
    """The engine for `url`, migrated if the embedded default is new or behind."""
    engine = make_engine(url)
    if url.startswith("sqlite"):
        upgrade(engine)
    elif not is_current(engine):
        raise DatabaseUnavailable("the database schema is not current: run `triage db upgrade`")
    return engine


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]
