"""Outgoing messages waiting to be delivered (email, Slack): retried with back-off, never lost."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models.base import Base, utcnow


class OutboxItem(Base):
    """One delivery to make. `dedupe_key` is unique: enqueueing the same notification twice (two
    workers, a retried request) keeps one item, so nothing is sent twice."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "channel", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | slack
    kind: Mapped[str] = mapped_column(String(32))  # ack | answer | escalation | digest | reply ...
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    recipient: Mapped[str] = mapped_column(String(320))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # pending | sent | dead (gave up) | cancelled (never to be sent: the candidate was erased)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)  # attempts started
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    # The attempt under way, committed before it goes out and cleared with its result: a claimer
    # that finds it set knows the earlier attempt's outcome is unknown, not that nothing was sent.
    sending_at: Mapped[datetime | None]
    sending_by: Mapped[str | None] = mapped_column(String(120))  # host:pid of the sender
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"OutboxItem(id={self.id}, {self.channel}/{self.kind}, status={self.status!r})"
