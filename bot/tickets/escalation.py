"""The SLA sweep: tickets near or past their deadline go up the escalation chain, one step at a
time, each step recorded once and told once, with its reason.

Step 1 fires when the active deadline (first response, then resolution) is `due_soon` away; step
2 when it is breached; each further step `due_soon` later. The steps come from
`escalation.chain` (owner, backup, team_lead, triage_lead or an owner id); a step that resolves
to nobody, or to someone already notified, is skipped. A ticket overdue by far climbs one step per
sweep (a minute apart), so each person is told in turn rather than everyone at once.

A sweep has two parts. `fire_due_steps` takes the due tickets in batches, one transaction each,
under row locks (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two workers never fire the same
step): it moves each ticket's `escalation_level` (steps fired so far; the chain's length once
nobody is left to tell), writes the audit event, and leaves the step in `escalation_pending`.
`notify_pending` (bot/tickets/sweep_summary.py) then tells each person what waits for them: a
notice per ticket when there are few, one summary per channel when there are many, so a backlog
after an outage does not bury anyone under thousands of messages. The pending steps are durable,
so a crash between the two parts is caught up by the next sweep.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Integer, Table, and_, any_, bindparam, case, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.ops import metrics
from bot.records.bulk import bulk_insert
from bot.store.models import Ticket, TicketEvent
from bot.store.models.sla import PendingEscalation
from bot.tickets import lifecycle as tickets
from bot.tickets import sla
from bot.tickets.sweep_summary import Told, notify_pending

# Tickets whose clock runs and that wait on a person (answered ones wait on the candidate).
SWEPT_STATUSES = (tickets.NEW, tickets.ESCALATED)
# Tickets per transaction: large enough that a backlog of 100,000 is a score of commits, small
# enough that a batch's row locks are held for a fraction of a second on a quiet machine.
BATCH = 5000


@dataclass(frozen=True)
class Notice:
    """One escalation step fired: the ticket reached `level`, and `recipient` is to be told."""

    ticket_id: int
    level: int
    recipient: str
    reason: str
    breached: bool = False


@dataclass(frozen=True)
class SweepReport:
    steps: list[Notice]  # the steps this sweep fired (each with its audit event)
    told: list[Told]  # the people told, of steps fired now or left pending by an earlier sweep


class OnChain(Protocol):
    """What the chain depends on: a `Ticket`, or a row with these columns."""

    owner: str | None
    team: str | None


class DueTicket(OnChain, Protocol):
    """What the sweep reads of a due ticket (`_SWEPT_COLUMNS`): no ORM object per row."""

    id: int
    status: str
    issue: str | None
    priority: str
    escalation_level: int
    target: str  # the deadline it races: "first response", then "resolution"
    due: datetime


# The active deadline is picked in SQL, so each row carries one timestamp to convert.
_AWAITING_FIRST_RESPONSE = Ticket.first_response_at.is_(None)
_SWEPT_COLUMNS = (
    Ticket.id, Ticket.status, Ticket.owner, Ticket.team, Ticket.issue, Ticket.priority,
    Ticket.escalation_level,
    case((_AWAITING_FIRST_RESPONSE, "first response"), else_="resolution").label("target"),
    case(
        (_AWAITING_FIRST_RESPONSE, Ticket.first_response_due_at), else_=Ticket.sla_due_at
    ).label("due"),
)  # fmt: skip


def chain_recipients(config: AppConfig, ticket: OnChain) -> list[str]:
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
    people = chain_recipients(config, ticket)
    return _step(config, ticket.id, ticket.escalation_level, what, due, now=now, people=people)


def _step(
    config: AppConfig, ticket_id: int, level: int, what: str, due: datetime, *, now: datetime,
    people: list[str],
) -> Notice | None:  # fmt: skip
    wanted = steps_due(due=due, now=now, due_soon=config.escalation.due_soon)
    if level >= min(wanted, len(people)):
        return None
    reason = reason_for(what=what, due=due, now=now)
    return Notice(ticket_id, level + 1, people[level], reason, breached=now >= due)


def escalate_due(
    session: Session, config: AppConfig, *, batch: Sequence[DueTicket], now: datetime
) -> list[Notice]:
    """Fire the due step of each (locked) ticket: its level, audit event and pending notice,
    written with a few set-based statements."""
    exhausted = len(config.escalation.chain)
    chains: dict[tuple[str | None, str | None], list[str]] = {}
    new_levels: dict[int, list[int]] = defaultdict(list)
    notices: list[Notice] = []
    events: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for ticket in batch:
        key = (ticket.owner, ticket.team)  # all the chain depends on
        if key not in chains:
            chains[key] = chain_recipients(config, ticket)
        people = chains[key]
        level = ticket.escalation_level
        notice = _step(config, ticket.id, level, ticket.target, ticket.due, now=now, people=people)
        if notice is None:
            if len(people) <= level < exhausted:
                new_levels[exhausted].append(ticket.id)  # nobody left: no longer selected
            continue
        notices.append(notice)
        new_levels[exhausted if notice.level >= len(people) else notice.level].append(ticket.id)
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
        pending.append(
            {
                "ticket_id": ticket.id,
                "recipient": notice.recipient,
                "level": notice.level,
                "reason": notice.reason,
                "target": ticket.target,
                "due_at": ticket.due,
                "issue": ticket.issue,
                "priority": ticket.priority,
            }
        )
    table = Ticket.__table__
    postgres = session.get_bind().dialect.name == "postgresql"
    for level, ids in new_levels.items():
        chosen = _one_of(table.c.id, ids, postgres=postgres)
        session.execute(update(table).where(chosen).values(escalation_level=level))
    # COPY / plain executemany: SQLAlchemy's per-row parameter handling would cost more than
    # the writes themselves when an outage leaves tens of thousands of steps due at once.
    _insert_dicts(session, TicketEvent.__table__, events)  # type: ignore[arg-type]
    _insert_dicts(session, PendingEscalation.__table__, pending)  # type: ignore[arg-type]
    return notices


def _insert_dicts(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        names = list(rows[0])
        bulk_insert(session, table, names, [tuple(row[n] for n in names) for row in rows])


def _one_of(column: Any, ids: list[int], *, postgres: bool) -> Any:
    """`column IN ids`; on PostgreSQL one array parameter rather than thousands of values."""
    if postgres:
        return column == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
    return column.in_(ids)


def _candidates(  # type: ignore[no-untyped-def]
    config: AppConfig, *, now: datetime, after_id: int, until_id: int | None, limit: int,
    lock: bool,
):  # fmt: skip
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
        select(*_SWEPT_COLUMNS)
        .where(
            Ticket.id > after_id,
            Ticket.id <= until_id if until_id is not None else true(),
            Ticket.status.in_(SWEPT_STATUSES),
            Ticket.sla_paused_at.is_(None),
            or_(*by_level),
        )
        .order_by(Ticket.id)
        .limit(limit)
    )
    return query.with_for_update(skip_locked=True) if lock else query


def fire_due_steps(
    session_factory: Callable[[], Session],
    config: AppConfig,
    *,
    now: datetime,
    batch: int = BATCH,
) -> list[Notice]:
    """Fire every due ticket's next step, a batch per transaction; returns the steps fired.
    Nobody is told yet: the steps wait in `escalation_pending` for `notify_pending`.

    On PostgreSQL the ticket ids are split into two lanes swept by two threads, each with its
    own connection: one lane's Python work overlaps the other's statements in the server, so a
    backlog uses both cores. SQLite has one writer: one lane."""
    with session_factory() as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        first, last = session.execute(select(func.min(Ticket.id), func.max(Ticket.id))).one()
    if first is None:
        return []
    if not postgres or last - first < 2 * batch:
        return _sweep_lane(session_factory, config, now=now, batch=batch, lane=(0, None))
    middle = (first + last) // 2
    lanes = [(0, middle), (middle, None)]  # ids in (after, until]
    with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix="sla-sweep") as pool:
        swept = [
            pool.submit(_sweep_lane, session_factory, config, now=now, batch=batch, lane=lane)
            for lane in lanes
        ]
        return [notice for lane in swept for notice in lane.result()]


def _sweep_lane(
    session_factory: Callable[[], Session],
    config: AppConfig,
    *,
    now: datetime,
    batch: int,
    lane: tuple[int, int | None],
) -> list[Notice]:
    """Fire the due steps of the tickets with ids in `lane` (after, until], in id order: each
    ticket is visited once, so it climbs at most one step per sweep."""
    notices: list[Notice] = []
    after, until = lane
    while True:
        with session_factory() as session, session.begin():
            lock = session.get_bind().dialect.name == "postgresql"
            query = _candidates(
                config, now=now, after_id=after, until_id=until, limit=batch, lock=lock
            )
            rows = session.execute(query).all()
            fired = escalate_due(session, config, batch=rows, now=now)
        counts = Counter((notice.level, notice.breached) for notice in fired)
        for (level, breached), count in counts.items():  # counted once committed
            metrics.escalation_fired(level, breached=breached, count=count)
        notices += fired
        if len(rows) < batch:
            return notices
        after = rows[-1].id


def sweep(
    session_factory: Callable[[], Session],
    config: AppConfig,
    *,
    now: datetime,
    batch: int = BATCH,
) -> SweepReport:
    """Escalate every due ticket, then tell each person what is pending for them."""
    steps = fire_due_steps(session_factory, config, now=now, batch=batch)
    return SweepReport(steps=steps, told=notify_pending(session_factory, config, now=now))
