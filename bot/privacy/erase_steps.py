"""The steps of an erasure, one per family of tables (see `bot.privacy.erasure` for the whole)."""

import hashlib
from collections.abc import Sequence
from datetime import datetime
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.privacy.traces import Traces
from bot.store.models import Message, Ticket
from bot.store.models.mail import AutoReply, BouncingAddress, QuarantinedMessage
from bot.store.models.outbox import OutboxItem
from bot.store.models.records import (
    Candidate,
    CandidateEmail,
    Certification,
    ExamAttempt,
    Invitation,
    Registration,
    Voucher,
)
from bot.store.models.slack import InboundEvent, IssueCorrection
from bot.store.models.surges import Surge, SurgeTicket
from bot.surges import alerts
from bot.tickets.lifecycle import record_event

ERASED = "[erased]"
TOMBSTONE = "erased:"
CANCELLED = "cancelled"
# Entities that say what the problem was, not who had it.
KEPT_ENTITIES = ("exams", "providers")
RECORD_TABLES = (CandidateEmail, ExamAttempt, Registration, Invitation, Voucher, Certification)


def tombstone(external_id: str) -> str:
    """What an erased message's id becomes: a one-way hash that still recognises the id."""
    return TOMBSTONE + hashlib.sha256(external_id.encode("utf-8")).hexdigest()


# --- messages ---------------------------------------------------------------------------------


def erase_messages(session: Session, message_ids: Sequence[int], keys: set[str]) -> int:
    """Their own messages: everything they wrote or were sent goes; the row stays (tickets link
    to it), its id kept only as a hash."""
    messages = list(session.scalars(select(Message).where(Message.id.in_(message_ids))))
    for message in messages:
        message.body = ERASED
        message.raw = None
        message.subject = ERASED if message.subject else None
        if message.sender and message.sender.lower() in keys:
            message.sender = None
        if message.recipient and message.recipient.lower() in keys:
            message.recipient = None
        message.candidate_mcp_id = None
        message.thread_key = message.in_reply_to = None
        message.meta = {"erased": True}
        if not message.external_id.startswith(TOMBSTONE):
            message.external_id = _free_tombstone(session, message)
    return len(messages)


def _free_tombstone(session: Session, message: Message) -> str:
    """The hash of the id; the same id erased before (taken in again by a path that does not
    check) already holds it, so this one gets its row id appended."""
    hashed = tombstone(message.external_id)
    taken = session.scalar(
        select(Message.id).where(Message.source == message.source, Message.external_id == hashed)
    )
    return hashed if taken is None else f"{hashed}:{message.id}"


def redact_mentions(
    session: Session, message_ids: Sequence[int], traces: Traces, anonymous: str
) -> int:
    """Messages by somebody else that name them: every trace replaced, the raw text dropped (an
    encoded MIME part cannot be redacted), the link to their record cut. Machine mail about them
    (a bounce quoting their message) is about nothing else, so its text goes whole."""
    messages = list(session.scalars(select(Message).where(Message.id.in_(message_ids))))
    for message in messages:
        machine = isinstance(message.meta, dict) and "noise" in message.meta
        message.body = ERASED if machine else traces.scrub(message.body, anonymous)
        message.subject = traces.scrub(message.subject, anonymous)
        message.raw = None
        message.thread_key = traces.scrub(message.thread_key, anonymous)
        message.in_reply_to = traces.scrub(message.in_reply_to, anonymous)
        if message.candidate_mcp_id == traces.mcp_id:
            message.candidate_mcp_id = None
        meta = traces.scrub(message.meta, anonymous) if isinstance(message.meta, dict) else {}
        message.meta = {**meta, "redacted": True}
    return len(messages)


def slack_ids_of(session: Session, message_ids: Sequence[int]) -> list[str]:
    """The `channel:ts` ids of their Slack messages (the event rows a fallback id made)."""
    return list(
        session.scalars(
            select(Message.external_id).where(
                Message.id.in_(message_ids), Message.source == "slack"
            )
        )
    )


# --- tickets ----------------------------------------------------------------------------------


def anonymise_tickets(
    session: Session,
    ticket_ids: Sequence[int],
    traces: Traces,
    *,
    anonymous: str,
    actor: str,
    reference: str,
    now: datetime,
) -> None:
    """Their tickets stay for the desk's counts and SLA history, holding nothing of them; the
    audit trail keeps every event with their traces replaced, plus an `erased` event."""
    for ticket in session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids))):
        ticket.candidate_key = anonymous
        ticket.candidate_mcp_id = None
        ticket.subject = ERASED if ticket.subject else None
        ticket.answer = ERASED if ticket.answer else None
        entities = ticket.entities if isinstance(ticket.entities, dict) else {}
        ticket.entities = {k: entities[k] for k in KEPT_ENTITIES if k in entities}
        ticket.facts = {}
        ticket.facts_summary = []
        for event in ticket.events:
            event.actor = traces.scrub(event.actor, anonymous)
            event.reason = traces.scrub(event.reason, anonymous)
            event.data = traces.scrub(event.data, anonymous)
        record_event(
            session, ticket=ticket, actor=actor, action="erased", reason="personal data erased",
            data={"erasure": reference}, now=now,
        )  # fmt: skip


def delete_corrections(session: Session, ticket_ids: Sequence[int]) -> int:
    """Agents' corrections on their tickets hold their message's text: a labelled example is
    not worth keeping someone's words."""
    result = session.execute(
        delete(IssueCorrection).where(IssueCorrection.ticket_id.in_(ticket_ids))
    )
    return _count(result)


def forget_surge_samples(
    session: Session,
    ticket_ids: Sequence[int],
    *,
    drafts_dir: Path | None = None,
    now: datetime,
) -> int:
    """A surge shows the lead its members' words (scrubbed, but still theirs): the surges her
    tickets are in forget their sample phrasings, quoted errors and draft (the next detection
    run describes the others again), the draft file written from it goes (`drafts_dir`), and
    their alerts drop her samples: waiting ones in the outbox, and a posted chat alert is
    edited in place without them."""
    surges = list(
        session.scalars(
            select(Surge).where(
                Surge.id.in_(
                    select(SurgeTicket.surge_id).where(SurgeTicket.ticket_id.in_(ticket_ids))
                )
            )
        )
    )
    if not surges:
        return 0
    for surge in surges:
        surge.shared = {**(surge.shared or {}), "phrasings": [], "errors": []}
        if drafts_dir is not None and surge.draft_id:  # the id is a validated slug
            (drafts_dir / f"{surge.draft_id}.yaml").unlink(missing_ok=True)
        surge.draft = None
    hers, ids = {str(t) for t in ticket_ids}, {s.id for s in surges}
    edited: set[int] = set()
    for item in session.scalars(select(OutboxItem).where(OutboxItem.kind == "surge")):
        samples = item.payload.get("samples") or []
        kept = [s for s in samples if str(s.get("ref", "")).rpartition("-")[2] not in hers]
        if item.payload.get("surge_id") in ids and len(kept) != len(samples):
            item.payload = {**item.payload, "samples": kept}
            edited.add(item.id)
    for surge in surges:
        if surge.alert_item_id in edited:
            alerts.refresh(session, surge, now=now)  # the posted DM, edited without her words
    return len(surges)


# --- outbox -----------------------------------------------------------------------------------


def empty_deliveries(
    session: Session, outbox_ids: Sequence[int], keys: set[str], *, anonymous: str, reference: str
) -> tuple[int, int]:
    """Deliveries to them or about their tickets: payloads emptied, and those still waiting
    cancelled, so nothing more goes out about them. Returns (emptied, cancelled)."""
    # Locked (PostgreSQL): a worker sending one right now finishes first, and we see it sent.
    query = select(OutboxItem).where(OutboxItem.id.in_(outbox_ids)).with_for_update()
    cancelled = 0
    items = list(session.scalars(query))
    for item in items:
        if item.status == "pending":
            item.status, item.claimed_until = CANCELLED, None
            item.last_error = f"cancelled: the candidate's personal data was erased ({reference})"
            cancelled += 1
        elif item.last_error:
            item.last_error = ERASED  # an SMTP refusal quotes the address
        if item.recipient.lower() in keys:
            item.recipient = anonymous
        item.payload = {"erased": True}
    return len(items), cancelled


# --- mail and Slack bookkeeping ---------------------------------------------------------------


def erase_mail_bookkeeping(session: Session, emails: set[str], traces: Traces) -> int:
    """Automatic-reply counters and bounce marks of their addresses, quarantined mail naming
    them (kept raw, so it cannot be redacted: it goes)."""
    removed = 0
    addresses = sorted(emails)
    for model in (AutoReply, BouncingAddress):
        removed += _count(session.execute(delete(model).where(model.address.in_(addresses))))
    rows = session.execute(select(QuarantinedMessage.id, QuarantinedMessage.raw)).all()
    theirs = [row_id for row_id, raw in rows if traces.names_them(_mail_text(bytes(raw)))]
    if theirs:
        session.execute(delete(QuarantinedMessage).where(QuarantinedMessage.id.in_(theirs)))
    removed += len(theirs)
    return removed


def delete_slack_events(session: Session, slack_ids: Sequence[str]) -> int:
    """Event rows keyed on their messages' `channel:ts` (events without a Slack event id).
    Rows keyed on Slack's own event ids hold nothing that leads to them."""
    return _count(session.execute(delete(InboundEvent).where(InboundEvent.event_id.in_(slack_ids))))


# --- records ----------------------------------------------------------------------------------


def delete_records(session: Session, mcp_id: str | None) -> bool:
    """The candidate and everything on record about them (children first: no reliance on the
    database's cascade being switched on)."""
    if not mcp_id:
        return False
    for model in RECORD_TABLES:
        session.execute(delete(model).where(model.mcp_id == mcp_id))
    return _count(session.execute(delete(Candidate).where(Candidate.mcp_id == mcp_id))) > 0


def _mail_text(data: bytes) -> str:
    """The bytes as text, plus every MIME part decoded (base64 and quoted-printable hide names
    from a plain search), as far as the mail can be read at all."""
    texts = [data.decode("utf-8", "replace"), data.decode("latin-1")]
    try:
        for part in message_from_bytes(data, policy=compat32).walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                texts.append(payload.decode("utf-8", "replace"))
    except Exception:  # quarantined mail is often what the parser chokes on
        pass
    return "\n".join(texts)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
