"""Fixtures for surges: waves of `tests/data/surge-waves.jsonl` taken in through the real intake
at their minutes, and the detection job run at a given moment."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.intake.flow import take_in
from bot.matching.knowledge import KnowledgeBase
from bot.ops.runtime import Runtime
from bot.store.models.surges import Surge
from bot.surges.job import examples, run
from bot.surges.replay import WAVE_FILES
from bot.types import InboundMessage

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "tests" / "data"
# Wednesday 25 November 2026, 09:00 UTC: the wave's first message.
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def wave(name: str) -> list[dict[str, Any]]:
    rows = [
        json.loads(line)
        for path in WAVE_FILES
        for line in (DATA_DIR / path).read_text(encoding="utf-8").splitlines()
    ]
    return [row for row in rows if row["wave"] == name]


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    return Runtime(settings)


@pytest.fixture
def take(sessions: sessionmaker[Session], runtime: Runtime) -> Callable[..., None]:
    """Take messages in as mail from distinct candidates, each at START + its minute."""

    def take_rows(rows: list[dict[str, Any]], *, start: datetime = START, tag: str = "w") -> None:
        with sessions() as session, session.begin():
            for n, row in enumerate(rows):
                at = start + timedelta(minutes=row["minute"])
                message = InboundMessage(
                    source="email", external_id=f"<{tag}{n}@example.org>", text=row["text"],
                    sender_email=f"{tag}{n}@candidates.example.org", received_at=at,
                )  # fmt: skip
                take_in(session, runtime, message, now=at)

    return take_rows


@pytest.fixture
def detect_at(
    sessions: sessionmaker[Session], settings: Settings, knowledge: KnowledgeBase
) -> Callable[..., list]:
    """Run the surge job at START + minutes; returns [(surge id, what happened)]."""

    def detect(minutes: int) -> list[tuple[int, str]]:
        with sessions() as session, session.begin():
            touched = run(
                session, settings.app, now=START + timedelta(minutes=minutes),
                vocabulary=examples(knowledge), catalogue=sorted(knowledge.issues),
            )  # fmt: skip
            return [(surge.id, what) for surge, what in touched]

    return detect


def surges(session: Session) -> list[Surge]:
    from sqlalchemy import select

    return list(session.scalars(select(Surge).order_by(Surge.id)))


# The Slack app served on loopback with the Web API stand-in (tests/slack), for test_slack.py.
from tests.slack.conftest import (  # noqa: E402, F401
    fake_slack,
    records,
    served,
    slack,
    slack_settings,
)
