"""The schema: migrations agree with the models, upgrade is idempotent, timestamps stay UTC."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.cli import main
from bot.store.db import head_revisions, is_current, make_engine, upgrade
from bot.store.models import Base, Message, Ticket, TicketEvent


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_twice_changes_nothing(engine: Engine) -> None:
    assert is_current(engine)
    assert upgrade(engine) == []


def test_upgrade_creates_schema_on_empty_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert set(upgrade(engine)) == head_revisions()
    assert upgrade(engine) == []


def test_same_message_twice_is_one_record(db: Session) -> None:
    db.add(Message(source="email", external_id="<a@x>", body="hi"))
    db.commit()
    db.add(Message(source="email", external_id="<a@x>", body="hi"))
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()
    assert len(db.scalars(select(Message)).all()) == 1


def test_timestamps_come_back_aware_in_utc(db: Session) -> None:
    paris = timezone(timedelta(hours=1))
    ticket = Ticket(source="email", created_at=datetime(2026, 3, 1, 12, 0, tzinfo=paris))
    ticket.events.append(TicketEvent(actor="system", action="open", to_status="new"))
    db.add(ticket)
    db.commit()
    db.expire_all()
    stored = db.get(Ticket, ticket.id)
    assert stored is not None
    assert stored.created_at == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert stored.created_at.tzinfo is not None
    assert stored.events[0].at.tzinfo is not None


def test_naive_timestamps_are_refused(db: Session) -> None:
    db.add(Ticket(source="email", created_at=datetime(2026, 3, 1, 12, 0)))
    with pytest.raises(Exception, match="time-zone aware"):
        db.commit()


def test_database_from_another_version_is_refused_in_one_line(
    tmp_path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'other.db'}"
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('9999')"))
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(SystemExit) as exit_info:
        main(["db", "upgrade"])
    output = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "revision 9999" in output and "Traceback" not in output


ROOT = Path(__file__).resolve().parent.parent
TRIAGE = Path(sys.executable).parent / "triage"
DOWN = "postgresql://triage:s3cret@127.0.0.1:1/triage"  # nothing listens on port 1


@pytest.mark.parametrize("command", [["db", "status"], ["db", "upgrade"], ["tickets", "list"]])
def test_a_database_that_is_down_is_one_line_and_exit_2(command: list[str]) -> None:
    """As the systemd unit runs it: the installed command, a PostgreSQL server not there."""
    env = {**os.environ, "DATABASE_URL": DOWN, "TRIAGE_CONFIG": str(ROOT / "app.yaml")}
    done = subprocess.run(
        [str(TRIAGE), *command], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: cannot reach the database: ") and "port 1" in line
    assert "s3cret" not in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgres:/x", "not a database URL"),
        ("nonsense", "not a database URL"),
        ("", "not a database URL"),
        ("postgresql://triage:s3cret@db.example:port/triage", "not a database URL"),
        ("mysql://triage:s3cret@db.example/triage", "unsupported database 'mysql'"),
        (
            "postgresql+psycopg2://triage@db.example/triage",
            "the 'psycopg2' driver is not installed",
        ),
    ],
)
def test_a_malformed_database_url_is_one_line_naming_the_variable(
    url: str, problem: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(ROOT / "app.yaml"), "db", "status"])
    captured = capsys.readouterr()
    assert exit_info.value.code == 2
    [line] = captured.err.strip().splitlines()
    assert line.startswith(f"error: environment: DATABASE_URL: {problem} (use e.g. postgresql://")
    assert "s3cret" not in captured.out + captured.err  # the URL is never echoed
    assert "Traceback" not in captured.out + captured.err


def test_a_file_that_is_not_a_database_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database, just some notes\n" * 100)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{notes}")
    for command in (["db", "status"], ["db", "upgrade"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["--config", str(ROOT / "app.yaml"), *command])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2
        assert err.strip() == "error: cannot use the database: file is not a database"
