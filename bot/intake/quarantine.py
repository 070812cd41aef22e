"""Quarantine: a message intake could not take in is kept byte for byte, never dropped."""

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models.base import utcnow
from bot.store.models.mail import QuarantinedMessage


class MessageFailed(Exception):
    """The core failed on message `index` of a batch (a bug or hostile input, not a database
    error): the adapter rolls the batch back, keeps that message here and takes the rest again."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(f"message {index} of the batch: {type(error).__name__}: {error}")
        self.index, self.error = index, error


def quarantine(
    session: Session, *, raw: bytes, origin: str, error: str, now: datetime | None = None
) -> QuarantinedMessage:
    """Keep `raw` with the reason; the same bytes again count on the existing row."""
    digest = hashlib.sha256(raw).hexdigest()
    existing = session.scalar(select(QuarantinedMessage).where(QuarantinedMessage.sha256 == digest))
    if existing is not None:
        existing.seen_count += 1
        existing.error = error[:4000]
        existing.released_at = None  # a retried message that fails again is back in the list
        return existing
    row = QuarantinedMessage(
        sha256=digest,
        origin=origin[:512],
        error=error[:4000],
        raw=raw,
        size=len(raw),
        received_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def list_quarantined(
    session: Session, *, include_released: bool = False
) -> list[QuarantinedMessage]:
    query = select(QuarantinedMessage).order_by(QuarantinedMessage.id)
    if not include_released:
        query = query.where(QuarantinedMessage.released_at.is_(None))
    return list(session.scalars(query))


def release(session: Session, *, quarantine_id: int, now: datetime | None = None) -> bytes | None:
    """Mark a quarantined message as handed back to intake; returns its bytes (None if unknown)."""
    row = session.get(QuarantinedMessage, quarantine_id)
    if row is None:
        return None
    row.released_at = now or utcnow()
    return row.raw
