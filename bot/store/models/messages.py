"""Every inbound and outbound message, stored verbatim."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models.base import Base, utcnow


class Message(Base):
    """One message as it arrived or left. `(source, external_id)` is unique: taking the same
    message in twice finds the first record instead of making a second."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_messages_thread", "source", "thread_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # email | slack | web | phone | cli
    external_id: Mapped[str] = mapped_column(String(998))
    direction: Mapped[str] = mapped_column(String(8), default="in")  # in | out
    sender: Mapped[str | None] = mapped_column(String(320))
    recipient: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[str | None] = mapped_column(Text)
    # Slack thread ts or email Message-ID that replies refer to.
    thread_key: Mapped[str | None] = mapped_column(String(998))
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    channel: Mapped[str | None] = mapped_column(String(64))
    candidate_mcp_id: Mapped[str | None] = mapped_column(String(10), index=True)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"Message(id={self.id}, source={self.source!r}, external_id={self.external_id!r})"


class TicketMessage(Base):
    """Which messages belong to which tickets (a message with several issues opens several)."""

    __tablename__ = "ticket_messages"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True, index=True
    )
