"""The core's one entry for messages: store verbatim, triage, file tickets, queue the reply.

Every adapter (Slack, email, the CLI) builds `InboundMessage`s and calls `take_in` (one message)
or `take_in_batch` (many, in order: `bot.intake.batch`) inside a transaction. Both run the same
path: one message is a batch of one. Taking the same message in twice (a retried Slack event, an
IMAP re-poll, two workers at once, twice in one batch) stores it once and returns the first
outcome; a message whose stored copy was erased (`bot.privacy.erasure`) is not taken in again.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.intake.batch import MessageFailed, message_values, take_in_batch
from bot.ops.runtime import Runtime
from bot.store.models import Message
from bot.types import InboundMessage, IntakeOutcome

__all__ = ["MessageFailed", "store_message", "take_in", "take_in_batch"]


def take_in(
    session: Session, runtime: Runtime, message: InboundMessage, *, now: datetime | None = None
) -> IntakeOutcome:
    """Store, triage and file one message; the caller commits."""
    try:
        [outcome] = take_in_batch(session, runtime, [message], now=now)
    except MessageFailed as failed:
        raise failed.error from None
    return outcome


def store_message(session: Session, message: InboundMessage) -> tuple[Message, bool]:
    """Insert the message unless (source, external_id) exists; returns it and whether it is new.
    (Storage alone, without triage: the ingest benchmark's adapter-only mode.)"""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Message)
        .values(**message_values(message))
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(Message.id)
    )
    new_id = session.execute(statement).scalar()
    if new_id is not None:
        return session.get_one(Message, new_id), True
    existing = session.scalars(
        select(Message).where(
            Message.source == message.source, Message.external_id == message.external_id
        )
    ).one()
    return existing, False
