"""The core's one entry for messages: store verbatim, triage, file tickets, queue the reply.

Every adapter (Slack, email, the CLI) builds an `InboundMessage` and calls `take_in` inside a
transaction. Taking the same message in twice (a retried Slack event, an IMAP re-poll, two
workers at once) stores it once and returns the first outcome.
"""

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.delivery.replies import queue_reply
from bot.intake.triage import triage_message
from bot.ops import metrics
from bot.ops.runtime import Runtime
from bot.store.bounds import bounded_message
from bot.store.models import Message, Ticket, TicketMessage
from bot.store.models.base import utcnow
from bot.tickets import lifecycle as tickets
from bot.tickets.filing import file_triaged_message
from bot.types import InboundMessage, IntakeOutcome, TicketOutcome

log = logging.getLogger(__name__)


def take_in(
    session: Session, runtime: Runtime, message: InboundMessage, *, now: datetime | None = None
) -> IntakeOutcome:
    """Store, triage and file one message; the caller commits."""
    now = now or utcnow()
    message = bounded_message(message)
    stored, created = store_message(session, message)
    metrics.message_taken_in(message.source, duplicate=not created)
    if not created:
        log.info("duplicate message", extra={"message_id": stored.id, "source": message.source})
        return _previous_outcome(stored)
    thread_ticket_id = _thread_ticket_id(session, message)
    if message.automated:
        return _file_machine_mail(session, stored, thread_ticket_id, now=now)
    with metrics.classify_timer():
        triaged = triage_message(
            session, runtime, message, thread_ticket_id=thread_ticket_id, now=now
        )
    stored.candidate_mcp_id = triaged.candidate_mcp_id
    filed = file_triaged_message(
        session, runtime.settings.app, message=stored, triage=triaged, now=now
    )
    outcome = IntakeOutcome(
        message_id=stored.id,
        issue=triaged.verdicts[0].issue if triaged.verdicts else None,
        issues=[v.issue for v in triaged.verdicts if v.issue],
        candidate_mcp_id=triaged.candidate_mcp_id,
        tickets=[f.to_outcome() for f in filed],
    )
    outcome.reply = queue_reply(
        session, runtime.settings.app, message=message, stored=stored, filed=filed,
        titles=runtime.issue_titles, candidate_name=triaged.candidate_name, now=now,
    )  # fmt: skip
    stored.meta = {**stored.meta, "outcome": outcome.model_dump(mode="json")}
    for ticket in outcome.tickets:
        if ticket.created:
            metrics.ticket_opened(ticket.issue)
    log.info(
        "message taken in",
        extra={
            "message_id": stored.id,
            "source": message.source,
            "issues": ",".join(outcome.issues) or "unknown",
            "tickets": ",".join(str(t.ticket_id) for t in outcome.tickets),
        },
    )
    return outcome


def _file_machine_mail(
    session: Session, stored: Message, ticket_id: int | None, *, now: datetime
) -> IntakeOutcome:
    """Machine mail goes onto the ticket it answers, with an audit event; it never opens one."""
    outcome = IntakeOutcome(message_id=stored.id)
    ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
    if ticket is not None:
        tickets.link_message(session, ticket=ticket, message=stored)
        noise = stored.meta.get("noise") or {}
        tickets.record_event(
            session, ticket=ticket, actor=stored.sender or "machine", action="machine-mail",
            from_status=ticket.status, to_status=ticket.status, now=now,
            reason=noise.get("reason"), data={"message_id": stored.id},
        )  # fmt: skip
        outcome.tickets = [
            TicketOutcome(ticket_id=ticket.id, issue=ticket.issue, status=ticket.status,
                          priority=ticket.priority, action="none", owner=ticket.owner,
                          routing_rule=ticket.routing_rule, created=False)
        ]  # fmt: skip
    stored.meta = {**stored.meta, "outcome": outcome.model_dump(mode="json")}
    return outcome


def store_message(session: Session, message: InboundMessage) -> tuple[Message, bool]:
    """Insert the message unless (source, external_id) exists; returns it and whether it is new.

    The insert skips on conflict, so two workers taking the same message at once make one row:
    on PostgreSQL the second waits for the first to commit, then finds its row.
    """
    values: dict[str, Any] = {
        "source": message.source,
        "external_id": message.external_id,
        "direction": "in",
        "sender": message.sender_email or message.slack_user_id,
        "subject": message.subject,
        "body": message.text,
        "raw": message.raw,
        "thread_key": message.thread_key,
        "in_reply_to": message.in_reply_to[0] if message.in_reply_to else None,
        "channel": message.slack_channel,
        "meta": dict(message.meta),
        "received_at": message.received_at,
        "created_at": utcnow(),
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Message)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(Message.id)
    )
    new_id = session.execute(statement).scalar()
    if new_id is not None:
        return session.get_one(Message, new_id), True
    existing = session.scalars(
        select(Message).where(
            Message.source == message.source, Message.external_id == message.external_id
        )
    ).one()
    return existing, False


def _previous_outcome(stored: Message) -> IntakeOutcome:
    previous = stored.meta.get("outcome") if isinstance(stored.meta, dict) else None
    if previous:
        return IntakeOutcome.model_validate({**previous, "duplicate": True})
    return IntakeOutcome(message_id=stored.id, duplicate=True)


def _thread_ticket_id(session: Session, message: InboundMessage) -> int | None:
    """The ticket this message continues: an id the adapter read (a `[TRI-12]` tag), else the
    newest ticket of a message it replies to (the ids it names as answered, its thread)."""
    if message.ticket_id is not None:
        return message.ticket_id
    conditions = []
    if message.in_reply_to:
        conditions += [
            Message.external_id.in_(message.in_reply_to),
            Message.thread_key.in_(message.in_reply_to),
        ]
    if message.source == "slack" and message.thread_key:
        conditions.append((Message.source == "slack") & (Message.thread_key == message.thread_key))
    if not conditions:
        return None
    return session.scalars(
        select(TicketMessage.ticket_id)
        .join(Message, Message.id == TicketMessage.message_id)
        .where(or_(*conditions), Message.external_id != message.external_id)
        .order_by(TicketMessage.ticket_id.desc())
        .limit(1)
    ).first()
