"""Verifying who wrote a ticket: an agent confirms (by phone, a document, the address on file) that
the writer is the candidate with a given MCP id. Audited as "verified as MCP X" by that agent.

From then on the ticket is that candidate's: the records check runs again and decides, an answer
goes to the writer privately on the channel they wrote on (their email address, or a Slack DM,
never a public thread) through the outbox like any answer, and an escalation reaches its owner
with the facts. The ticket keeps the writer's key, so their replies still thread onto it.
"""

import json
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery.messages import THREAD, Answer, dump
from bot.delivery.notifications import notify_escalation
from bot.delivery.outbox import enqueue
from bot.delivery.replies import letter_text, private_address, reply_subject
from bot.errors import UserError
from bot.intake.triage import verdict_for
from bot.ops.runtime import Runtime
from bot.privacy.disclosure import UNPROVEN_PREFIX
from bot.records.identify import Identification
from bot.records.schemas import CandidateRecords
from bot.store.models import OPEN_STATUSES, Message, Ticket, TicketMessage
from bot.store.models.base import utcnow
from bot.store.models.tickets import UNVERIFIED, VERIFIED
from bot.tickets import lifecycle as tickets
from bot.tickets import sla
from bot.tickets.actions import authorize
from bot.tickets.filing import carry_out
from bot.tickets.permissions import Act, Actor
from bot.types import Entities, FiledTicket, IssueVerdict, TriagedMessage

MCP_ID = re.compile(r"\d{4,10}")


@dataclass(frozen=True)
class Verification:
    """What verifying did: the ticket's new decision and where its answer goes (None: nowhere)."""

    ticket_id: int
    ref: str
    mcp_id: str
    action: str
    sent_to: str | None = None


def verify_identity(
    session: Session,
    runtime: Runtime,
    *,
    ticket_id: int,
    mcp_id: str,
    actor: Actor,
    now: datetime | None = None,
) -> Verification:
    """Record that `actor` verified the writer of the ticket as MCP `mcp_id`, then check the
    records and answer or escalate as for a proven writer. Refused (`NotAllowed`) unless the
    who-may-do-what table lets `actor` verify identities. The caller commits."""
    now = now or utcnow()
    config = runtime.settings.app
    mcp_id = mcp_id.strip()
    if not MCP_ID.fullmatch(mcp_id):
        raise UserError(f"not an MCP ID: {mcp_id!r} (4 to 10 digits)")
    ticket = tickets.get_ticket(session, ticket_id=ticket_id, config=config)
    authorize(config, actor, Act.VERIFY_IDENTITY, ticket=ticket)
    ref = tickets.display_id(config, ticket.id)
    records = runtime.records(session).get(mcp_id)
    if records is None:
        raise UserError(f"no candidate with MCP ID {mcp_id}")
    if ticket.status not in OPEN_STATUSES:
        raise UserError(f"{ref} is {ticket.status}: reopen it before verifying who wrote it")
    if ticket.identity_status != UNVERIFIED and ticket.candidate_mcp_id:
        raise UserError(f"{ref} is MCP {ticket.candidate_mcp_id}'s already: nothing to verify")

    named = ticket.named_mcp_id
    ticket.identity_status, ticket.named_mcp_id, ticket.candidate_mcp_id = VERIFIED, mcp_id, mcp_id
    event = tickets.record_event(
        session, ticket=ticket, actor=actor.name, action="verify-identity", now=now,
        from_status=ticket.status, to_status=ticket.status, reason=f"verified as MCP {mcp_id}",
        data={"mcp_id": mcp_id, "named_mcp_id": named},
    )  # fmt: skip
    session.flush()
    entities = {**Entities().model_dump(), **(ticket.entities or {})}
    identification = Identification(candidate=records, via="mcp_id")
    # The reading's confidence decides as at intake: a sure reading is answered, else drafted.
    confident = ticket.confidence >= runtime.matcher_for(session).thresholds.auto_answer
    verdict = verdict_for(
        runtime, ticket.issue, ticket.confidence, confident, identification, entities, now
    )
    ticket.facts, ticket.facts_summary = verdict.facts, list(verdict.facts_summary)
    triage = _triaged(ticket, records, verdict, entities)
    if ticket.status == tickets.WAITING:  # asked for an id: the clock runs again
        sla.resume(ticket, now=now, calendar=sla.calendar_for(config, ticket.owner))

    sent_to = None
    if verdict.action == "escalate" and ticket.owner and ticket.status == tickets.ESCALATED:
        # Its owner has it already: they get the facts the check found now.
        ticket.decision, ticket.answer = "escalate", verdict.answer
        why = verdict.facts.get("decision_reason") or "see the facts"
        notify_escalation(
            session, config, ticket=ticket, recipient=ticket.owner, level=f"verified-{event.id}",
            reason=f"identity verified as MCP {mcp_id} by {actor.name}: {why}", now=now,
        )  # fmt: skip
    else:
        carry_out(session, config, ticket=ticket, triage=triage, verdict=verdict, now=now)
    if verdict.action == "answer" and verdict.answer:
        sent_to = _send_answer(
            session, runtime, ticket=ticket, records=records, verdict=verdict,
            key=f"answer:{ticket.id}:verified-{event.id}", now=now,
        )  # fmt: skip
    ticket.updated_at = now
    return Verification(ticket.id, ref, mcp_id, verdict.action, sent_to)


def _triaged(
    ticket: Ticket, records: CandidateRecords, verdict: IssueVerdict, entities: dict[str, list[str]]
) -> TriagedMessage:
    """The ticket as if its first message had come from the proven candidate (for routing)."""
    person = records.candidate
    return TriagedMessage(
        source=ticket.source,  # type: ignore[arg-type]
        candidate_key=ticket.candidate_key,
        candidate_mcp_id=person.mcp_id,
        candidate_name=person.name,
        region=person.region,
        country=person.country,
        exams=entities.get("exams") or [],
        verdicts=[verdict],
        entities=entities,
    )


def _send_answer(
    session: Session,
    runtime: Runtime,
    *,
    ticket: Ticket,
    records: CandidateRecords,
    verdict: IssueVerdict,
    key: str,
    now: datetime,
) -> str | None:
    """Queue the answer to the writer, privately, on the channel they wrote on; where it goes."""
    config = runtime.settings.app
    ref = tickets.display_id(config, ticket.id)
    first = session.scalar(
        select(Message)
        .join(TicketMessage, TicketMessage.message_id == Message.id)
        .where(TicketMessage.ticket_id == ticket.id, Message.direction == "in")
        .order_by(Message.id)
        .limit(1)
    )
    if first is None:
        return None
    thread: dict[str, object] = {}
    if ticket.candidate_key and ticket.candidate_key.startswith(UNPROVEN_PREFIX):
        # The channel did not vouch for the address the writer showed (a From the mail server
        # failed): it is not theirs, so the candidate's answer goes to their record's own.
        try:
            channel, address, _ = private_address(ticket, None, runtime.records(session))
        except UserError:
            return None
    elif first.source == "email" and first.sender:
        channel, address, thread = "email", first.sender, dict(first.meta.get(THREAD) or {})
    elif first.source == "slack" and (user := _slack_user(first)):
        channel, address = "slack", user
    else:
        return None
    if channel == "email":
        filed = FiledTicket(
            ticket_id=ticket.id, ref=ref, created=False, issue=ticket.issue, status=ticket.status,
            priority=ticket.priority, action="answer", answer=verdict.answer,
        )  # fmt: skip
        titles, name = runtime.issue_titles, records.candidate.name
        text = letter_text(config, filed=[filed], titles=titles, candidate_name=name)
        answer = Answer(
            text=text, subject=reply_subject(first.subject, ref), ticket_id=ticket.id, ref=ref,
            reply_to=thread,
        )  # fmt: skip
    else:
        answer = Answer(text=f"{ref}: {verdict.answer}", ticket_id=ticket.id, ref=ref)
    enqueue(
        session, channel=channel, kind="answer", recipient=address, dedupe_key=key,
        ticket_id=ticket.id, now=now, payload=dump(answer),
    )  # fmt: skip
    return f"email to {address}" if channel == "email" else f"Slack DM to {address}"


def _slack_user(message: Message) -> str | None:
    """The Slack user who posted `message` (its raw form is the event as Slack sent it)."""
    try:
        event = json.loads(message.raw or "{}")
    except ValueError:
        return None
    user = event.get("user") if isinstance(event, dict) else None
    return user if isinstance(user, str) and user else None
