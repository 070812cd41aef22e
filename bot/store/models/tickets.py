"""Tickets and their audit trail."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.store.models.base import Base, JSONDoc, utcnow

OPEN_STATUSES = ("new", "answered", "waiting-on-candidate", "escalated")
STATUSES = (*OPEN_STATUSES, "resolved", "closed")
# Ticket.identity_status: the writer names a candidate they are not proven to be, until an agent
# verifies them (see bot/privacy/disclosure.py).
UNVERIFIED, VERIFIED = "unverified", "verified"


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_candidate_issue", "candidate_key", "issue", "status"),
        Index("ix_tickets_owner_status", "owner", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(24), default="new", index=True)
    issue: Mapped[str | None] = mapped_column(String(64))  # None: unknown, a person looks
    confidence: Mapped[float] = mapped_column(default=0.0)
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    source: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(Text)
    # The MCP id when known, else the sender's address or Slack user: one open ticket per
    # candidate and issue is enforced on this key.
    candidate_key: Mapped[str | None] = mapped_column(String(320))
    candidate_mcp_id: Mapped[str | None] = mapped_column(String(10), index=True)
    # None, `unverified` (the writer names `named_mcp_id` but is not proven to be them: the
    # ticket carries none of their facts) or `verified` (an agent verified the writer).
    identity_status: Mapped[str | None] = mapped_column(String(16))
    named_mcp_id: Mapped[str | None] = mapped_column(String(10), index=True)
    owner: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    routing_rule: Mapped[str | None] = mapped_column(String(128))
    decision: Mapped[str | None] = mapped_column(String(16))  # answer | escalate | ask-id | none
    answer: Mapped[str | None] = mapped_column(Text)
    entities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    group_id: Mapped[int | None] = mapped_column(index=True)  # tickets opened by one message
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    chase_count: Mapped[int] = mapped_column(default=0)
    escalation_level: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    first_response_due_at: Mapped[datetime | None]
    sla_due_at: Mapped[datetime | None] = mapped_column(index=True)
    sla_paused_at: Mapped[datetime | None]
    sla_paused_seconds: Mapped[int] = mapped_column(default=0)
    # One line per record fact, as shown to agents (codes already masked).
    facts_summary: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    # Business time (owner's calendar, pauses excluded) taken, stored when it happened.
    first_response_seconds: Mapped[int | None]
    resolution_seconds: Mapped[int | None]

    events: Mapped[list["TicketEvent"]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"Ticket(id={self.id}, issue={self.issue!r}, status={self.status!r})"


class TicketEvent(Base):
    """The audit trail: who did what to a ticket, from which state to which, why and when."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")

    def __repr__(self) -> str:
        return (
            f"TicketEvent(ticket={self.ticket_id}, action={self.action!r}, to={self.to_status!r})"
        )
