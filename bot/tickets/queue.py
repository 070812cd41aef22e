"""A person's queue of tickets: what they own, what was escalated to them, what breached."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from bot.store.models.base import utcnow
from bot.store.models.tickets import OPEN_STATUSES, Ticket

View = Literal["mine", "open", "escalated", "breached"]
VIEWS: tuple[View, ...] = ("mine", "open", "escalated", "breached")


@dataclass(frozen=True)
class QueueEntry:
    ticket: Ticket
    breached: bool


def queue(
    session: Session,
    *,
    view: View,
    owner: str | None,
    now: datetime | None = None,
    limit: int = 25,
) -> list[QueueEntry]:
    """Open tickets for the view, breached first, then escalated, then by due time.

    `mine` is the owner's tickets; `escalated` and `breached` are the owner's when an owner is
    given, everyone's otherwise; `open` is every open ticket.
    """
    now = now or utcnow()
    query: Select[tuple[Ticket]] = select(Ticket).where(Ticket.status.in_(OPEN_STATUSES))
    if view == "mine" or (view in ("escalated", "breached") and owner is not None):
        query = query.where(Ticket.owner == owner)
    if view == "escalated":
        query = query.where(Ticket.status == "escalated")
    if view == "breached":
        query = query.where(Ticket.sla_due_at.is_not(None), Ticket.sla_due_at < now)
    breached_first = case((Ticket.sla_due_at < now, 0), else_=1)
    escalated_first = case((Ticket.status == "escalated", 0), else_=1)
    query = query.order_by(
        breached_first, escalated_first, Ticket.sla_due_at.is_(None), Ticket.sla_due_at, Ticket.id
    ).limit(limit)
    return [
        QueueEntry(ticket, ticket.sla_due_at is not None and ticket.sla_due_at < now)
        for ticket in session.scalars(query)
    ]


def counts_by_issue(session: Session, *, owner: str | None) -> dict[str, int]:
    """Open tickets per issue id (`unknown` for none), for one owner or for everyone."""
    query = select(Ticket.issue).where(Ticket.status.in_(OPEN_STATUSES))
    if owner is not None:
        query = query.where(Ticket.owner == owner)
    counts = Counter(issue or "unknown" for issue in session.scalars(query))
    return dict(counts.most_common())


def open_load(session: Session) -> dict[str, int]:
    """Open tickets per owner, for choosing among a team's members."""
    query = (
        select(Ticket.owner, func.count())
        .where(Ticket.status.in_(OPEN_STATUSES), Ticket.owner.is_not(None))
        .group_by(Ticket.owner)
    )
    return {owner: count for owner, count in session.execute(query).all()}
