"""Fixtures for tickets, routing, SLA, escalation and digests: the repo's app.yaml, a real
database, and builders for stored messages and triaged verdicts."""

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.config.settings import Settings
from bot.store.models import Message
from bot.tickets.filing import file_triaged_message
from bot.types import FiledTicket, IssueVerdict, Signals, TriagedMessage

# Wednesday 25 November 2026, 10:00 UTC: a working morning in London.
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
_ids = itertools.count(1)


@pytest.fixture
def config(settings: Settings) -> AppConfig:
    return settings.app


def store_message(
    session: Session,
    *,
    text: str = "help",
    source: str = "email",
    sender: str = "ada@example.com",
    thread_key: str | None = None,
    in_reply_to: str | None = None,
    subject: str | None = "Beta exam",
    at: datetime = NOW,
) -> Message:
    message = Message(
        source=source,
        external_id=f"<m{next(_ids)}@example.com>",
        sender=sender,
        subject=subject,
        body=text,
        thread_key=thread_key,
        in_reply_to=in_reply_to,
        received_at=at,
        created_at=at,
    )
    session.add(message)
    session.flush()
    return message


def triaged(
    *verdicts: IssueVerdict,
    candidate: str | None = "1234567",
    source: str = "email",
    region: str | None = "EMEA",
    country: str | None = "United Kingdom",
    **signals: Any,
) -> TriagedMessage:
    return TriagedMessage(
        source=source,  # type: ignore[arg-type]
        candidate_key=candidate,
        candidate_mcp_id=candidate if candidate and candidate.isdigit() else None,
        region=region,
        country=country,
        exams=["71-621"],
        signals=Signals(**signals),
        verdicts=list(verdicts),
    )


def verdict(issue: str | None, action: str = "escalate", **fields: Any) -> IssueVerdict:
    return IssueVerdict(issue=issue, score=0.9, action=action, **fields)  # type: ignore[arg-type]


FileFn = Callable[..., list[FiledTicket]]


@pytest.fixture
def file(db: Session, config: AppConfig) -> FileFn:
    """File a message with the given verdicts at `at` (default NOW) and commit."""

    def _file(*verdicts: IssueVerdict, at: datetime = NOW, message: Message | None = None,
              **kwargs: Any) -> list[FiledTicket]:  # fmt: skip
        stored = message or store_message(db, at=at)
        filed = file_triaged_message(
            db, config, message=stored, triage=triaged(*verdicts, **kwargs), now=at
        )
        db.commit()
        return filed

    return _file
