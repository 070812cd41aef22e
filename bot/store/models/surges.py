"""Surges: many candidates hitting one problem at once, found by the worker (`bot.surges`), and
the tickets each one groups."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models.base import Base, utcnow

# Surge.status: open until the triage lead makes it a known issue, merges it into one, or
# ignores it. Surge.kind: `new` (unknown or unsure readings that read alike) or `rate` (a known
# issue far above its trailing rate).
SURGE_STATUSES = ("open", "known", "merged", "ignored")


class Surge(Base):
    __tablename__ = "surges"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    # rate: the known issue; new: the issue most of its unsure readings leaned to (a suggestion
    # for "Merge into"); after "Make it a known issue" or "Merge into": the issue it became.
    issue: Mapped[str | None] = mapped_column(String(64))
    suggested: Mapped[str | None] = mapped_column(String(64))
    # What the group shares: exam, provider, region, quoted error text, typical phrasings (codes
    # masked, personal data scrubbed), and for a rate surge the scope it was counted in.
    shared: Mapped[dict[str, Any]] = mapped_column(default=dict)
    count: Mapped[int] = mapped_column(default=0)
    # rate: the trailing rate for the window's length and how unlikely the count is under it.
    expected: Mapped[float | None]
    tail: Mapped[float | None]
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # How many tickets the last alert told of (a surge that grows updates its alert), and the
    # outbox item of the alert on the lead's chat channel, whose delivery an update replaces.
    alerted_count: Mapped[int] = mapped_column(default=0)
    first_count: Mapped[int] = mapped_column(default=0)  # at the first alert
    alert_item_id: Mapped[int | None]
    alert_version: Mapped[int] = mapped_column(default=0)
    # "Make it a known issue": the draft knowledge file (YAML) and its issue id.
    draft_id: Mapped[str | None] = mapped_column(String(64))
    draft: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"Surge(id={self.id}, {self.kind}, {self.status}, count={self.count})"


class SurgeTicket(Base):
    """A ticket grouped in a surge: one answer can reach all of them, one decision relabel them."""

    __tablename__ = "surge_tickets"

    surge_id: Mapped[int] = mapped_column(
        ForeignKey("surges.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"SurgeTicket(surge={self.surge_id}, ticket={self.ticket_id})"
