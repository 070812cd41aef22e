"""What the Slack adapter keeps: events already taken (dedupe) and agents' issue corrections."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models.base import Base, JSONDoc, utcnow


class InboundEvent(Base):
    """An event id from a chat platform that was already taken in. The unique id makes a retried
    or repeated delivery a no-op, even when two workers receive it at once."""

    __tablename__ = "inbound_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"InboundEvent({self.source}:{self.event_id}, {self.kind!r})"


class IssueCorrection(Base):
    """An agent said a ticket was matched to the wrong issue: a labelled example for evaluation."""

    __tablename__ = "issue_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    predicted: Mapped[str | None] = mapped_column(String(64))
    corrected: Mapped[str] = mapped_column(String(64))
    # Every issue the message carries, main first (empty: out of the catalogue); `text` is
    # stored with personal data masked (bot.matching.corrections).
    issues: Mapped[list[Any] | None] = mapped_column(JSONDoc, default=None)
    actor: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16), default="slack")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"IssueCorrection(ticket={self.ticket_id}, {self.predicted!r}->{self.corrected!r})"
