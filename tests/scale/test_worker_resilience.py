"""`triage worker` keeps going when a round fails (a lost database connection)."""

import threading
from datetime import UTC, datetime

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.ops.worker import run_worker


def test_a_failed_round_is_followed_by_the_next(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    stop = threading.Event()
    rounds: list[dict[str, str]] = []
    calls = {"n": 0}

    def flaky_factory() -> Session:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("SELECT 1", {}, Exception("terminating connection"))
        return sessions()

    def report(done: dict[str, str]) -> None:
        rounds.append(done)
        stop.set()

    run_worker(
        flaky_factory,  # type: ignore[arg-type]
        settings.app,
        {},
        stop=stop,
        interval=0.01,
        clock=lambda: datetime(2026, 11, 25, 10, tzinfo=UTC),
        report=report,
    )
    assert calls["n"] > 1 and rounds  # the second round ran and reported
