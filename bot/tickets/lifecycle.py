"""The ticket lifecycle: states, the transitions allowed between them, and the audit trail.

Every change of state goes through `transition`, which refuses what makes no sense and writes a
`TicketEvent` (actor, action, from, to, reason, time). Service functions take the session first
and everything else by keyword; the caller commits.
"""

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.errors import UserError
from bot.store.models import OPEN_STATUSES, Message, Ticket, TicketEvent, TicketMessage

NEW, ANSWERED, WAITING, ESCALATED, RESOLVED, CLOSED = (
    "new",
    "answered",
    "waiting-on-candidate",
    "escalated",
    "resolved",
    "closed",
)

# From each state, the states a ticket may move to. Reopening is its own action (`reopen`).
TRANSITIONS: dict[str, frozenset[str]] = {
    NEW: frozenset({ANSWERED, WAITING, ESCALATED, RESOLVED, CLOSED}),
    ANSWERED: frozenset({ANSWERED, WAITING, ESCALATED, RESOLVED, CLOSED}),
    WAITING: frozenset({NEW, ANSWERED, WAITING, ESCALATED, RESOLVED, CLOSED}),
    ESCALATED: frozenset({ANSWERED, WAITING, ESCALATED, RESOLVED, CLOSED}),
    RESOLVED: frozenset({CLOSED}),
    CLOSED: frozenset(),
}
REOPENABLE = frozenset({RESOLVED, CLOSED})
SYSTEM = "triage-bot"


class TransitionError(UserError):
    """A change of state the lifecycle does not allow."""


class TicketNotFound(UserError):
    """No ticket with that id."""


def display_id(config: AppConfig, ticket_id: int) -> str:
    """`TRI-12` for ticket 12."""
    return f"{config.desk.ticket_prefix}-{ticket_id}"


def parse_ticket_id(config: AppConfig, text: str) -> int:
    """`TRI-12`, `tri-12`, `#12` or `12` -> 12; anything else is a user error."""
    prefix = re.escape(config.desk.ticket_prefix)
    match = re.fullmatch(rf"\s*(?:{prefix}-|#)?(\d+)\s*", text, flags=re.IGNORECASE)
    if not match:
        raise UserError(f"not a ticket id: {text!r} (use e.g. {display_id(config, 12)} or 12)")
    return int(match.group(1))


def record_event(
    session: Session,
    *,
    ticket: Ticket,
    actor: str,
    action: str,
    now: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket=ticket,
        actor=actor,
        action=action,
        at=now,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        data=data or {},
    )
    session.add(event)
    return event


def open_ticket(
    session: Session,
    *,
    source: str,
    now: datetime,
    issue: str | None = None,
    candidate_key: str | None = None,
    candidate_mcp_id: str | None = None,
    subject: str | None = None,
    priority: str = "normal",
    confidence: float = 0.0,
    actor: str = SYSTEM,
    **fields: Any,
) -> Ticket:
    """A new ticket in state `new`, with its opening event."""
    ticket = Ticket(
        status=NEW,
        source=source,
        issue=issue,
        candidate_key=candidate_key,
        candidate_mcp_id=candidate_mcp_id,
        subject=subject,
        priority=priority,
        confidence=confidence,
        created_at=now,
        updated_at=now,
        **fields,
    )
    session.add(ticket)
    session.flush()
    record_event(
        session, ticket=ticket, actor=actor, action="open", to_status=NEW, now=now,
        data={"issue": issue, "priority": priority},
    )  # fmt: skip
    return ticket


def get_ticket(session: Session, *, ticket_id: int, config: AppConfig | None = None) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        shown = display_id(config, ticket_id) if config else str(ticket_id)
        raise TicketNotFound(f"no ticket {shown}")
    return ticket


def _name(ticket: Ticket, config: AppConfig | None) -> str:
    return _named(ticket.id, config)


def _named(ticket_id: int, config: AppConfig | None) -> str:
    return display_id(config, ticket_id) if config else str(ticket_id)


def check_transition(ticket: Ticket, to_status: str, *, config: AppConfig | None = None) -> None:
    """Raise `TransitionError` when `ticket` may not move to `to_status`."""
    current = ticket.status
    if to_status in TRANSITIONS.get(current, frozenset()):
        return
    name = _name(ticket, config)
    if current == CLOSED and ticket.merged_into_id is not None:
        into = _named(ticket.merged_into_id, config)
        raise TransitionError(f"ticket {name} was merged into {into}; work on that one")
    if current in REOPENABLE:
        raise TransitionError(f"ticket {name} is {current}; reopen it first")
    raise TransitionError(f"ticket {name} cannot go from {current} to {to_status}")


def transition(
    session: Session,
    *,
    ticket: Ticket,
    to_status: str,
    actor: str,
    now: datetime,
    action: str | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    config: AppConfig | None = None,
) -> TicketEvent:
    """Move `ticket` to `to_status` (refused with `TransitionError` when not allowed)."""
    check_transition(ticket, to_status, config=config)
    from_status = ticket.status
    ticket.status = to_status
    ticket.updated_at = now
    return record_event(
        session,
        ticket=ticket,
        actor=actor,
        action=action or to_status,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        data=data,
        now=now,
    )


def assign(
    session: Session,
    *,
    ticket: Ticket,
    owner: str,
    actor: str,
    now: datetime,
    config: AppConfig,
    rule: str | None = None,
    reason: str | None = None,
    action: str = "assign",
) -> TicketEvent:
    """Give `ticket` to `owner` (a known owner id); the state does not change."""
    if config.find_owner(owner) is None:
        known = ", ".join(o.id for o in config.owners)
        raise UserError(f"unknown owner {owner!r} (known: {known})")
    if ticket.status not in OPEN_STATUSES:
        check_transition(ticket, ESCALATED, config=config)
    previous = ticket.owner
    ticket.owner = owner
    ticket.team = config.team_of(owner)
    ticket.routing_rule = rule or f"manual:{actor}"
    ticket.updated_at = now
    return record_event(
        session,
        ticket=ticket,
        actor=actor,
        action=action,
        from_status=ticket.status,
        to_status=ticket.status,
        reason=reason,
        data={"from_owner": previous, "owner": owner, "rule": ticket.routing_rule},
        now=now,
    )


def escalate(
    session: Session,
    *,
    ticket: Ticket,
    owner: str,
    rule: str,
    actor: str,
    now: datetime,
    config: AppConfig,
    reason: str | None = None,
    team: str | None = None,
) -> TicketEvent:
    """Hand `ticket` to one named `owner` and mark it escalated, recording the rule that chose
    them."""
    check_transition(ticket, ESCALATED, config=config)
    if config.find_owner(owner) is None:
        raise UserError(f"unknown owner {owner!r}")
    previous = ticket.owner
    ticket.owner = owner
    ticket.team = team or config.team_of(owner)
    ticket.routing_rule = rule
    ticket.decision = "escalate"
    return transition(
        session,
        ticket=ticket,
        to_status=ESCALATED,
        actor=actor,
        action="escalate",
        reason=reason,
        data={"from_owner": previous, "owner": owner, "rule": rule},
        now=now,
        config=config,
    )


def record_first_response(
    session: Session, *, ticket: Ticket, now: datetime, business_seconds: int | None = None
) -> bool:
    """Store when the candidate first got an answer (once); True when this was the first."""
    if ticket.first_response_at is not None:
        return False
    ticket.first_response_at = now
    ticket.first_response_seconds = business_seconds
    ticket.updated_at = now
    return True


def resolve(
    session: Session,
    *,
    ticket: Ticket,
    actor: str,
    now: datetime,
    note: str | None = None,
    business_seconds: int | None = None,
    config: AppConfig | None = None,
) -> TicketEvent:
    event = transition(
        session, ticket=ticket, to_status=RESOLVED, actor=actor, action="resolve",
        reason=note, now=now, config=config,
    )  # fmt: skip
    ticket.resolved_at = now
    ticket.resolution_seconds = business_seconds
    ticket.sla_paused_at = None
    return event


def reopen(
    session: Session,
    *,
    ticket: Ticket,
    actor: str,
    now: datetime,
    reason: str | None = None,
    config: AppConfig | None = None,
) -> TicketEvent:
    """Bring a resolved or closed ticket back: escalated when it has an owner, else new."""
    name = _name(ticket, config)
    if ticket.merged_into_id is not None:
        into = _named(ticket.merged_into_id, config)
        raise TransitionError(f"ticket {name} was merged into {into}; reopen that one")
    if ticket.status not in REOPENABLE:
        raise TransitionError(f"ticket {name} is {ticket.status}, not resolved or closed")
    from_status = ticket.status
    ticket.status = ESCALATED if ticket.owner else NEW
    ticket.resolved_at = None
    ticket.resolution_seconds = None
    ticket.updated_at = now
    return record_event(
        session, ticket=ticket, actor=actor, action="reopen", from_status=from_status,
        to_status=ticket.status, reason=reason, now=now,
    )  # fmt: skip


def merge(
    session: Session,
    *,
    ticket: Ticket,
    into: Ticket,
    actor: str,
    now: datetime,
    config: AppConfig | None = None,
) -> TicketEvent:
    """Move `ticket`'s messages and events onto `into` and close it as merged."""
    if ticket.id == into.id:
        raise UserError(f"cannot merge {_name(ticket, config)} into itself")
    for target in (ticket, into):
        if target.status not in OPEN_STATUSES:
            check_transition(target, ESCALATED, config=config)
    linked = set(
        session.scalars(select(TicketMessage.message_id).where(TicketMessage.ticket_id == into.id))
    )
    moving = session.scalars(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id))
    for link in list(moving):
        if link.message_id not in linked:
            session.add(TicketMessage(ticket_id=into.id, message_id=link.message_id))
        session.delete(link)
    session.flush()
    session.execute(
        update(TicketEvent).where(TicketEvent.ticket_id == ticket.id).values(ticket_id=into.id)
    )
    session.expire(ticket, ["events"])
    session.expire(into, ["events"])
    into.chase_count = max(into.chase_count, ticket.chase_count)
    from_status = ticket.status
    ticket.status = CLOSED
    ticket.merged_into_id = into.id
    ticket.updated_at = now
    record_event(
        session, ticket=ticket, actor=actor, action="merged", from_status=from_status,
        to_status=CLOSED, reason=f"merged into {_name(into, config)}", now=now,
        data={"into": into.id},
    )  # fmt: skip
    return record_event(
        session, ticket=into, actor=actor, action="merge", from_status=into.status,
        to_status=into.status, reason=f"merged {_name(ticket, config)} into this ticket",
        data={"merged": ticket.id}, now=now,
    )  # fmt: skip


def find_open_ticket(session: Session, *, candidate_key: str, issue: str | None) -> Ticket | None:
    """The candidate's open ticket about `issue` (None: the unknown issue), oldest first."""
    issue_clause = Ticket.issue.is_(None) if issue is None else Ticket.issue == issue
    query = (
        select(Ticket)
        .where(
            Ticket.candidate_key == candidate_key,
            issue_clause,
            Ticket.status.in_(OPEN_STATUSES),
        )
        .order_by(Ticket.id)
        .limit(1)
    )
    return session.scalars(query).first()


def open_tickets_of(session: Session, *, candidate_key: str) -> list[Ticket]:
    query = select(Ticket).where(
        Ticket.candidate_key == candidate_key, Ticket.status.in_(OPEN_STATUSES)
    )
    return list(session.scalars(query.order_by(Ticket.id)))


def link_message(session: Session, *, ticket: Ticket, message: Message) -> None:
    """Attach `message` to `ticket` (once)."""
    if session.get(TicketMessage, (ticket.id, message.id)) is None:
        session.add(TicketMessage(ticket_id=ticket.id, message_id=message.id))
