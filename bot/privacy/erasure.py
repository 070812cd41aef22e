"""Forgetting a candidate: their personal data goes, the anonymised tickets and an audit stay.

What goes: the candidate's records (the candidate row and, by cascade, emails, attempts,
registrations, invitations, vouchers, certifications); the bodies, raw text and subjects of
every message they sent, received or that belongs to their tickets; their addresses wherever
they were a sender or recipient; mail bookkeeping about their addresses; outbox payloads about
them (deliveries to them that were still waiting are cancelled). What stays: tickets with their
issue, status, priority, owner, routing and SLA times, with the candidate key replaced by a
random reference, entities reduced to exams and providers, facts removed; message ids (so a
re-polled mail is still recognised and not taken in again); the audit trail with the
candidate's identifiers replaced, plus an "erased" event on every ticket and one `Erasure` row.
"""

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.store.models import Message, Ticket, TicketMessage
from bot.store.models.base import utcnow
from bot.store.models.erasure import Erasure
from bot.store.models.mail import AutoReply, BouncingAddress, QuarantinedMessage
from bot.store.models.outbox import OutboxItem
from bot.store.models.records import Candidate, CandidateEmail
from bot.tickets.lifecycle import record_event

ERASED = "[erased]"
MCP_ID = re.compile(r"^\d{4,10}$")
# Entities that say what the problem was, not who had it.
KEPT_ENTITIES = ("exams", "providers")


@dataclass
class Subject:
    """Who is being forgotten: every identifier we know them by."""

    mcp_id: str | None = None
    emails: set[str] = field(default_factory=set)
    slack_user_ids: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)

    @property
    def keys(self) -> set[str]:
        """The values tickets and messages may name them by (candidate key, sender), lower-cased."""
        keys = self.emails | self.slack_user_ids | ({self.mcp_id} if self.mcp_id else set())
        return {key.lower() for key in keys}

    @property
    def identifiers(self) -> list[str]:
        """Everything to replace in free text, longest first."""
        return sorted(self.keys | self.names, key=len, reverse=True)


@dataclass
class Plan:
    """What an erasure touches; shown before asking for confirmation."""

    subject: Subject
    ticket_ids: list[int]
    message_ids: list[int]
    outbox_ids: list[int]
    has_records: bool

    @property
    def empty(self) -> bool:
        return not (self.ticket_ids or self.message_ids or self.outbox_ids or self.has_records)


def find_subject(session: Session, identifier: str) -> Subject:
    """The candidate named by an MCP id or an email address, with all their identifiers."""
    identifier = identifier.strip()
    if MCP_ID.match(identifier):
        subject = Subject(mcp_id=identifier)
    elif "@" in identifier and " " not in identifier:
        email = identifier.lower()
        owner = session.scalar(select(CandidateEmail.mcp_id).where(CandidateEmail.email == email))
        subject = Subject(mcp_id=owner, emails={email})
    else:
        raise UserError(f"not an MCP id or an email address: {identifier!r}")
    if subject.mcp_id:
        candidate = session.get(Candidate, subject.mcp_id)
        if candidate is not None:
            subject.names.add(candidate.name)
            if candidate.slack_user_id:
                subject.slack_user_ids.add(candidate.slack_user_id)
        subject.emails |= set(
            session.scalars(
                select(CandidateEmail.email).where(CandidateEmail.mcp_id == subject.mcp_id)
            )
        )
    return subject


def plan_erasure(session: Session, subject: Subject) -> Plan:
    keys = sorted(subject.keys)
    ticket_ids = list(
        session.scalars(
            select(Ticket.id).where(
                or_(
                    func.lower(Ticket.candidate_key).in_(keys),
                    Ticket.candidate_mcp_id == subject.mcp_id if subject.mcp_id else False,
                )
            )
        )
    )
    linked = select(TicketMessage.message_id).where(TicketMessage.ticket_id.in_(ticket_ids))
    conditions = [
        func.lower(Message.sender).in_(keys),
        func.lower(Message.recipient).in_(keys),
        Message.id.in_(linked),
    ]
    if subject.mcp_id:
        conditions.append(Message.candidate_mcp_id == subject.mcp_id)
    message_ids = list(session.scalars(select(Message.id).where(or_(*conditions))))
    outbox_ids = list(
        session.scalars(
            select(OutboxItem.id).where(
                or_(
                    OutboxItem.ticket_id.in_(ticket_ids), func.lower(OutboxItem.recipient).in_(keys)
                )
            )
        )
    )
    has_records = bool(subject.mcp_id and session.get(Candidate, subject.mcp_id))
    return Plan(subject, ticket_ids, message_ids, outbox_ids, has_records)


def forget(
    session: Session, *, identifier: str, actor: str, now: datetime | None = None
) -> Erasure:
    """Erase the candidate's personal data; returns the audit row. The caller commits."""
    now = now or utcnow()
    subject = find_subject(session, identifier)
    plan = plan_erasure(session, subject)
    if plan.empty:
        raise UserError(f"nothing is stored about {identifier.strip()!r}")
    reference = secrets.token_hex(8)
    anonymous = f"erased:{reference}"
    scrub = _scrubber(subject, anonymous)

    for message in session.scalars(select(Message).where(Message.id.in_(plan.message_ids))):
        _erase_message(message, subject)
    for ticket in session.scalars(select(Ticket).where(Ticket.id.in_(plan.ticket_ids))):
        _erase_ticket(ticket, anonymous)
        for event in ticket.events:
            event.actor = scrub(event.actor)
            event.reason = scrub(event.reason) if event.reason else event.reason
            event.data = scrub(event.data)
        record_event(
            session, ticket=ticket, actor=actor, action="erased", reason="personal data erased",
            data={"erasure": reference}, now=now,
        )  # fmt: skip
    cancelled = 0
    for item in session.scalars(select(OutboxItem).where(OutboxItem.id.in_(plan.outbox_ids))):
        cancelled += _erase_delivery(item, subject, scrub, anonymous)
    mail_rows = _erase_mail_bookkeeping(session, subject)
    if plan.has_records:
        session.execute(delete(CandidateEmail).where(CandidateEmail.mcp_id == subject.mcp_id))
        session.execute(delete(Candidate).where(Candidate.mcp_id == subject.mcp_id))

    erasure = Erasure(
        reference=reference,
        actor=actor,
        erased_at=now,
        counts={
            "tickets": len(plan.ticket_ids),
            "messages": len(plan.message_ids),
            "deliveries": len(plan.outbox_ids),
            "deliveries_cancelled": cancelled,
            "mail_rows": mail_rows,
            "records": plan.has_records,
        },
    )
    session.add(erasure)
    session.flush()
    return erasure


def _scrubber(subject: Subject, replacement: str):  # type: ignore[no-untyped-def]
    """A function replacing the subject's identifiers in strings, lists and dicts."""
    identifiers = [i for i in subject.identifiers if i]
    pattern = (
        re.compile("|".join(re.escape(i) for i in identifiers), re.IGNORECASE)
        if identifiers
        else None
    )

    def scrub(value: Any) -> Any:
        if pattern is None:
            return value
        if isinstance(value, str):
            return pattern.sub(replacement, value)
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        return value

    return scrub


def _erase_message(message: Message, subject: Subject) -> None:
    message.body = ERASED
    message.raw = None
    if message.subject:
        message.subject = ERASED
    if message.sender and message.sender.lower() in subject.keys:
        message.sender = None
    if message.recipient and message.recipient.lower() in subject.keys:
        message.recipient = None
    message.candidate_mcp_id = None
    message.meta = {"erased": True}


def _erase_ticket(ticket: Ticket, anonymous: str) -> None:
    ticket.candidate_key = anonymous
    ticket.candidate_mcp_id = None
    if ticket.subject:
        ticket.subject = ERASED
    if ticket.answer:
        ticket.answer = ERASED
    entities = ticket.entities if isinstance(ticket.entities, dict) else {}
    ticket.entities = {k: entities[k] for k in KEPT_ENTITIES if k in entities}
    ticket.facts = {}
    ticket.facts_summary = []


def _erase_delivery(item: OutboxItem, subject: Subject, scrub: Any, anonymous: str) -> int:
    """Deliveries to the candidate are cancelled if waiting and emptied; notices to agents
    about them keep going with the identifiers replaced. Returns 1 when one was cancelled."""
    to_candidate = item.recipient.lower() in subject.keys
    if not to_candidate:
        item.payload = scrub(item.payload)
        return 0
    cancelled = item.status == "pending"
    if cancelled:
        item.status, item.last_error, item.claimed_until = "dead", "cancelled: erased", None
    item.recipient = anonymous
    item.payload = {"erased": True}
    return int(cancelled)


def _erase_mail_bookkeeping(session: Session, subject: Subject) -> int:
    if not subject.emails:
        return 0
    emails = sorted(subject.emails)
    removed = 0
    for model in (AutoReply, BouncingAddress):
        removed += session.execute(delete(model).where(model.address.in_(emails))).rowcount or 0
    needles = [e.encode() for e in emails]
    for row_id, raw in session.execute(select(QuarantinedMessage.id, QuarantinedMessage.raw)):
        if any(n in bytes(raw).lower() for n in needles):
            session.execute(delete(QuarantinedMessage).where(QuarantinedMessage.id == row_id))
            removed += 1
    return removed
