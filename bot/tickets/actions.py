"""What an agent does to a ticket from a chat tool: escalate it onwards, acknowledge an escalation,
send the drafted answer to the candidate. Transport-agnostic: the Slack buttons call these."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config.settings import Settings
from bot.delivery.notifications import notify_escalation
from bot.delivery.outbox import enqueue
from bot.delivery.replies import reply_subject
from bot.errors import UserError
from bot.records.source import records_source
from bot.store.models import Message, Ticket, TicketMessage
from bot.store.models.base import utcnow
from bot.tickets import lifecycle as tickets
from bot.tickets import sla
from bot.tickets.escalation import chain_recipients


def next_in_chain(settings: Settings, ticket: Ticket) -> str:
    """Whom an escalation goes to: the owner while it is not escalated yet, then the next person
    of the chain after the current owner, the triage lead at the end."""
    config = settings.app
    people = chain_recipients(config, ticket)
    if ticket.owner and ticket.status != tickets.ESCALATED:
        return ticket.owner
    if ticket.owner in people:
        later = people[people.index(ticket.owner) + 1 :]
        if later:
            return later[0]
    return config.triage_lead


def escalate_onward(
    session: Session,
    settings: Settings,
    *,
    ticket: Ticket,
    actor: str,
    to: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> str:
    """Escalate to `to` or the next person of the chain, start the SLA clock if it is not
    running, and notify them; returns the owner id."""
    now = now or utcnow()
    config = settings.app
    owner = to or next_in_chain(settings, ticket)
    event = tickets.escalate(
        session, ticket=ticket, owner=owner, rule=f"manual:{actor}", actor=actor, now=now,
        config=config, reason=reason,
    )  # fmt: skip
    if ticket.sla_due_at is None:
        sla.start_clock(ticket, config=config, now=now)
    session.flush()
    notify_escalation(
        session, config, ticket=ticket, recipient=owner, level=f"manual-{event.id}",
        reason=reason or f"escalated by {actor}", now=now,
    )  # fmt: skip
    return owner


def acknowledge(
    session: Session, *, ticket: Ticket, actor: str, now: datetime | None = None
) -> None:
    """Note on the audit trail that `actor` has seen the escalation and is on it."""
    tickets.record_event(
        session, ticket=ticket, actor=actor, action="acknowledge", from_status=ticket.status,
        to_status=ticket.status, reason="escalation acknowledged", now=now or utcnow(),
    )  # fmt: skip


def send_answer(
    session: Session,
    settings: Settings,
    *,
    ticket: Ticket,
    actor: str,
    now: datetime | None = None,
) -> str:
    """Queue the ticket's drafted answer to the candidate on the channel they wrote on (their
    Slack thread, else email); marks the ticket answered. Returns where it goes."""
    now = now or utcnow()
    config = settings.app
    if not ticket.answer:
        raise UserError(f"{tickets.display_id(config, ticket.id)} has no drafted answer to send.")
    first = session.scalar(
        select(Message)
        .join(TicketMessage, TicketMessage.message_id == Message.id)
        .where(TicketMessage.ticket_id == ticket.id, Message.direction == "in")
        .order_by(Message.id)
        .limit(1)
    )
    ref = tickets.display_id(config, ticket.id)
    if first is not None and first.source == "slack" and first.meta.get("ts"):
        where = f"Slack thread in {first.channel}"
        enqueue(
            session, channel="slack", kind="answer", recipient=first.channel or "",
            dedupe_key=f"answer:{ticket.id}:slack", ticket_id=ticket.id, now=now,
            payload={
                "channel": first.channel, "text": ticket.answer,
                "thread_ts": first.thread_key or first.meta["ts"], "view": "answer",
                "data": {"ticket_id": ticket.id, "ref": ref, "answer": ticket.answer}, "file": None,
            },
        )  # fmt: skip
    else:
        address = _candidate_email(session, settings, ticket=ticket, first=first)
        where = f"email to {address}"
        enqueue(
            session, channel="email", kind="answer", recipient=address,
            dedupe_key=f"answer:{ticket.id}:email", ticket_id=ticket.id, now=now,
            payload={
                "to": address, "subject": reply_subject(ticket.subject, ref),
                "text": ticket.answer, "html": None,
                "in_reply_to": first.external_id if first and first.source == "email" else None,
                "references": [first.external_id] if first and first.source == "email" else [],
                "ticket_id": ticket.id, "auto": False, "attachments": [],
            },
        )  # fmt: skip
    if ticket.status != tickets.ANSWERED:
        tickets.transition(
            session, ticket=ticket, to_status=tickets.ANSWERED, actor=actor, action="answer",
            reason=f"drafted answer sent by {actor}", now=now, config=config,
        )  # fmt: skip
    ticket.decision = "answer"
    tickets.record_first_response(session, ticket=ticket, now=now)
    return where


def _candidate_email(
    session: Session, settings: Settings, *, ticket: Ticket, first: Message | None
) -> str:
    if first is not None and first.source == "email" and first.sender:
        return first.sender
    if ticket.candidate_key and "@" in ticket.candidate_key:
        return ticket.candidate_key
    if ticket.candidate_mcp_id:
        records = records_source(settings, session).get(ticket.candidate_mcp_id)
        if records is not None and records.candidate.emails:
            return records.candidate.emails[0]
    raise UserError("No address for the candidate: answer them by hand.")
