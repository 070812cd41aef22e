"""The SLA sweep: tickets near or past their deadline go up the escalation chain, one step at a
time, each step notified once with its reason.

Step 1 fires when the active deadline (first response, then resolution) is `due_soon` away; step
2 when it is breached; each further step `due_soon` later. The steps come from
`escalation.chain` (owner, backup, team_lead, triage_lead or an owner id); a step that resolves
to nobody, or to someone already notified, is skipped. The ticket's `escalation_level` (steps
fired so far; the chain's length once nobody is left to tell) is updated under a row lock
(`FOR UPDATE SKIP LOCKED` on PostgreSQL), and every notice has a dedupe key, so two workers
sweeping at once never notify twice. A ticket overdue by far climbs one step per sweep (a
minute apart), so each person is told in turn rather than everyone at once.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.delivery.notifications import enqueue_many, escalation_deliveries
from bot.ops import metrics
from bot.store.models import Ticket, TicketEvent
from bot.tickets import lifecycle as tickets
from bot.tickets import sla

# Tickets whose clock runs and that wait on a person (answered ones wait on the candidate).
SWEPT_STATUSES = (tickets.NEW, tickets.ESCALATED)
BATCH = 500


@dataclass(frozen=True)
class Notice:
    ticket_id: int
    level: int
    recipient: str
    reason: str
    breached: bool = False


def chain_recipients(config: AppConfig, ticket: Ticket) -> list[str]:
    """The distinct people of the chain for this ticket, in order."""
    owner = config.find_owner(ticket.owner)
    people: list[str] = []
    for step in config.escalation.chain:
        if step == "owner":
            person = owner.id if owner else None
        elif step == "backup":
            person = owner.backup if owner else None
        elif step == "team_lead":
            team = ticket.team or (config.team_of(owner.id) if owner else None)
            person = config.teams[team].lead if team in config.teams else None
        elif step == "triage_lead":
            person = config.triage_lead
        else:
            person = step
        if person is not None and person not in people:
            people.append(person)
    return people


def steps_due(*, due: datetime, now: datetime, due_soon: timedelta) -> int:
    """How many chain steps should have fired by `now` for a deadline `due`."""
    interval = due_soon if due_soon > timedelta(0) else timedelta(hours=1)
    first = due - due_soon
    if now < first:
        return 0
    return 1 + int((now - first) / interval)


def reason_for(*, what: str, due: datetime, now: datetime) -> str:
    if now < due:
        return f"{what} due in {sla.format_span(due - now)} ({due:%Y-%m-%d %H:%M} UTC)"
    return f"{what} overdue by {sla.format_span(now - due)} (was due {due:%Y-%m-%d %H:%M} UTC)"


def next_step(config: AppConfig, ticket: Ticket, *, now: datetime) -> Notice | None:
    """The ticket's next chain step if it is due by `now` (one step per sweep), else None."""
    what, due = sla.active_due(ticket)
    if due is None or ticket.sla_paused_at is not None:
        return None
    wanted = steps_due(due=due, now=now, due_soon=config.escalation.due_soon)
    people = chain_recipients(config, ticket)
    level = ticket.escalation_level
    if level >= min(wanted, len(people)):
        return None
    reason = reason_for(what=what, due=due, now=now)
    return Notice(ticket.id, level + 1, people[level], reason, breached=now >= due)


def escalate_due(
    session: Session, config: AppConfig, *, batch: list[Ticket], now: datetime
) -> list[Notice]:
    """Fire the due step of each (locked) ticket: level, audit event and notices, written in
    bulk."""
    notices: list[Notice] = []
    events: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    exhausted = len(config.escalation.chain)
    for ticket in batch:
        notice = next_step(config, ticket, now=now)
        people = len(chain_recipients(config, ticket))
        if notice is None:
            if ticket.escalation_level >= people:
                ticket.escalation_level = exhausted  # nobody left: the sweep stops selecting it
            continue
        notices.append(notice)
        ticket.escalation_level = exhausted if notice.level >= people else notice.level
        events.append(
            {
                "ticket_id": ticket.id,
                "at": now,
                "actor": "sla-sweep",
                "action": "sla-escalation",
                "from_status": ticket.status,
                "to_status": ticket.status,
                "reason": notice.reason,
                "data": {"level": notice.level, "to": notice.recipient},
            }
        )
        deliveries += escalation_deliveries(
            config, ticket=ticket, recipient=notice.recipient, level=str(notice.level),
            reason=notice.reason,
        )  # fmt: skip
    if events:
        session.execute(insert(TicketEvent), events)
        enqueue_many(session, deliveries, now=now)
    return notices


def _candidates(  # type: ignore[no-untyped-def]
    config: AppConfig, *, now: datetime, after_id: int, limit: int, lock: bool
):
    """Tickets whose next step is due: for level L, the active deadline is at most
    `now + due_soon - L * interval` (plain comparisons, so an index serves them on any
    database, and a steady-state sweep reads nothing it will not escalate)."""
    due_soon = config.escalation.due_soon
    interval = due_soon if due_soon > timedelta(0) else timedelta(hours=1)
    by_level = []
    for level in range(len(config.escalation.chain)):
        horizon = now + due_soon - level * interval
        by_level.append(
            and_(
                Ticket.escalation_level == level,
                or_(
                    and_(
                        Ticket.first_response_at.is_(None),
                        Ticket.first_response_due_at <= horizon,
                    ),
                    and_(Ticket.first_response_at.is_not(None), Ticket.sla_due_at <= horizon),
                ),
            )
        )
    query = (
        select(Ticket)
        .where(
            Ticket.id > after_id,
            Ticket.status.in_(SWEPT_STATUSES),
            Ticket.sla_paused_at.is_(None),
            or_(*by_level),
        )
        .order_by(Ticket.id)
        .limit(limit)
    )
    return query.with_for_update(skip_locked=True) if lock else query


def sweep(
    session_factory: Callable[[], Session],
    config: AppConfig,
    *,
    now: datetime,
    batch: int = BATCH,
) -> list[Notice]:
    """Escalate every due ticket, a batch per transaction; returns the notices sent."""
    notices: list[Notice] = []
    after = 0
    while True:
        with session_factory() as session, session.begin():
            lock = session.get_bind().dialect.name == "postgresql"
            query = _candidates(config, now=now, after_id=after, limit=batch, lock=lock)
            rows = list(session.scalars(query))
            fired = escalate_due(session, config, batch=rows, now=now)
        for notice in fired:  # counted once committed
            metrics.escalation_fired(notice.level, breached=notice.breached)
        notices += fired
        if len(rows) < batch:
            return notices
        after = rows[-1].id
