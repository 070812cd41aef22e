"""SQL metacharacters and oversized values through the CLI's text paths: records show, tickets
list filters, tickets show and open. Each is answered (or refused with one clear line), and the
tables are still there afterwards."""

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cli import main
from bot.ops.runtime import Runtime
from bot.store.models import Message, Ticket
from tests.scale.conftest import ROOT

INJECTIONS = [
    "'; DROP TABLE tickets; --",
    "x' OR '1'='1",
    "1 OR 1=1",
    "%' --",
    "\\",
    "A" * 20_000,
]


@pytest.fixture
def cli(runtime: Runtime, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TRIAGE_KNOWLEDGE", str(ROOT / "knowledge"))

    def run(*args: str) -> tuple[int, str]:
        try:
            main(["--config", str(ROOT / "app.yaml"), *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


def tables_stand(db: Session) -> None:
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Ticket)) is not None
    assert db.scalar(select(func.count()).select_from(Message)) is not None


@pytest.mark.parametrize("value", INJECTIONS)
def test_lookups_with_sql_metacharacters_find_nothing_and_say_so(
    cli, db: Session, value: str
) -> None:  # type: ignore[no-untyped-def]
    code, output = cli("records", "show", value)
    assert code == 2 and "no candidate" in output and "Traceback" not in output
    for option in ("--owner", "--issue", "--status"):
        code, output = cli("tickets", "list", option, value, "--json")
        assert code in (0, 2) and "Traceback" not in output, output[:300]
        if code == 0:
            assert json.loads(output) == []
    code, output = cli("tickets", "show", value)
    assert code == 2 and "Traceback" not in output
    tables_stand(db)


def test_an_agent_logged_message_full_of_sql_is_stored_verbatim(cli, db: Session) -> None:  # type: ignore[no-untyped-def]
    text = "my voucher never came for 71-621'); DELETE FROM tickets; -- " + "x" * 50_000
    code, output = cli(
        "tickets", "open", "--candidate", "4012345", "--source", "phone", "--json", text
    )
    assert code == 0, output[-500:]
    db.expire_all()
    assert db.scalars(select(Message.body)).one() == text
    assert db.scalar(select(func.count()).select_from(Ticket)) >= 1
