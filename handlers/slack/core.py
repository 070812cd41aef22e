"""The core calls the Slack adapter makes, in one place: the seam between Slack and `bot`.

Each function translates arguments and results; the rules live in the core modules it calls.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models.messages import Message, TicketMessage
from bot.models.tickets import Ticket
from bot.schemas import InboundMessage, IntakeOutcome


class NotAvailable(UserError):
    """A core feature this deployment does not have (yet)."""


def take_in(
    session: Session, runtime: Any, message: InboundMessage, *, now: datetime | None = None
) -> IntakeOutcome:
    try:
        from bot.intake import take_in as core_take_in
    except ImportError:
        raise NotAvailable("triage intake is not installed on this desk yet") from None
    return core_take_in(session, runtime, message, now=now)


def facts_lines(facts: dict[str, Any] | None) -> list[str]:
    """A ticket's record facts as short lines (the checks' own summary when they give one)."""
    if not facts:
        return []
    for key in ("summary", "lines", "facts_summary"):
        if isinstance(facts.get(key), list):
            return [str(line) for line in facts[key]]
    return [f"{key}: {value}" for key, value in facts.items() if not isinstance(value, dict | list)]


def ticket_data(session: Session, ticket: Ticket, *, prefix: str) -> dict[str, Any]:
    """A ticket as the Block Kit builders read it (JSON-safe)."""
    return {
        "id": ticket.id,
        "prefix": prefix,
        "issue": ticket.issue,
        "status": ticket.status,
        "priority": ticket.priority,
        "action": ticket.decision,
        "owner": ticket.owner,
        "routing_rule": ticket.routing_rule,
        "answer": ticket.answer,
        "facts_summary": facts_lines(ticket.facts),
        "subject": ticket.subject,
        "candidate": ticket.candidate_mcp_id or ticket.candidate_key,
        "sla_due_at": _when(ticket.sla_due_at),
        "created_at": _when(ticket.created_at),
        "events": [
            {"at": _when(e.at), "actor": e.actor, "action": e.action} for e in ticket.events
        ],
    }


def _when(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else None


def get_ticket(session: Session, ticket_id: int, *, prefix: str) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise UserError(f"There is no ticket {prefix}-{ticket_id}.")
    return ticket


def first_message(session: Session, ticket_id: int) -> Message | None:
    return session.scalar(
        select(Message)
        .join(TicketMessage, TicketMessage.message_id == Message.id)
        .where(TicketMessage.ticket_id == ticket_id, Message.direction == "in")
        .order_by(Message.id)
        .limit(1)
    )


def _tickets_module() -> Any:
    try:
        import bot.tickets as tickets
    except ImportError:
        raise NotAvailable("ticket actions are not installed on this desk yet") from None
    return tickets


def assign(session: Session, *, ticket_id: int, owner: str, actor: str) -> None:
    _tickets_module().assign(session, ticket_id=ticket_id, owner=owner, actor=actor)


def escalate(
    session: Session, *, ticket_id: int, owner: str | None, actor: str, reason: str | None
) -> None:
    _tickets_module().escalate(
        session, ticket_id=ticket_id, owner=owner, actor=actor, reason=reason
    )


def resolve(session: Session, *, ticket_id: int, actor: str, note: str | None) -> None:
    _tickets_module().resolve(session, ticket_id=ticket_id, actor=actor, reason=note)


def acknowledge(session: Session, *, ticket_id: int, actor: str) -> None:
    _tickets_module().acknowledge(session, ticket_id=ticket_id, actor=actor)


def send_answer(session: Session, *, ticket_id: int, actor: str) -> str:
    """Queue the drafted answer to the candidate through the ticket's channel; returns where."""
    return _tickets_module().send_answer(session, ticket_id=ticket_id, actor=actor)


def records_summary(session: Session, *, settings: Any, candidate: str) -> dict[str, Any]:
    """The candidate's records and check results as a title and lines (codes masked)."""
    try:
        from bot.records import records_summary as core_summary  # type: ignore[attr-defined]
    except ImportError:
        raise NotAvailable("entitlement records are not installed on this desk yet") from None
    return core_summary(session, settings=settings, key=candidate)


def search_knowledge(settings: Any, query: str) -> list[dict[str, Any]]:
    try:
        from bot.kb_search import search
    except ImportError:
        raise NotAvailable("the knowledge base is not installed on this desk yet") from None
    return search(settings.knowledge_dir, query)


def catalogue(settings: Any) -> list[str]:
    """The known issue ids: the knowledge folder's files (the exam catalogue excluded)."""
    folder = settings.knowledge_dir
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if p.stem != "exams")
