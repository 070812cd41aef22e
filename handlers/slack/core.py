"""The core reads the Slack adapter makes, in one place: the seam between Slack and `bot`.

Each function translates arguments and results; the rules live in the core modules it calls.
Ticket actions go straight to the action layer (`bot.tickets.actions`).
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config.settings import Settings
from bot.delivery.notifications import candidate_label, masked_facts
from bot.errors import UserError
from bot.intake import flow as intake
from bot.matching.search import search_issues
from bot.ops.runtime import Runtime
from bot.records.catalogue import load_catalogue
from bot.records.checks import run_all_checks
from bot.records.source import RecordsSource, records_source
from bot.store.models.base import utcnow
from bot.store.models.tickets import Ticket
from bot.types import InboundMessage, IntakeOutcome


def take_in(
    session: Session, runtime: Runtime, message: InboundMessage, *, now: datetime | None = None
) -> IntakeOutcome:
    return intake.take_in(session, runtime, message, now=now)


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
        "facts_summary": masked_facts(ticket),
        "subject": ticket.subject,
        "candidate": candidate_label(ticket),
        "identity": ticket.identity_status,
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


def lock_ticket(session: Session, ticket_id: int, *, prefix: str) -> Ticket:
    """The ticket, row-locked on PostgreSQL so two presses at once change it one after the other."""
    query = select(Ticket).where(Ticket.id == ticket_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    ticket = session.scalar(query)
    if ticket is None:
        raise UserError(f"There is no ticket {prefix}-{ticket_id}.")
    return ticket


def records(session: Session, settings: Settings) -> RecordsSource:
    """The desk's records source, for the actions that route or answer by the record."""
    return records_source(settings, session)


def records_summary(session: Session, *, settings: Settings, candidate: str) -> dict[str, Any]:
    """The candidate and every check's outcome (codes masked), as `blocks.records` reads it."""
    found = records(session, settings).get(candidate)
    if found is None:
        raise UserError(f"No candidate with MCP id or email {candidate!r}.")
    checks = run_all_checks(
        found,
        catalogue=load_catalogue(settings.knowledge_dir),
        exams=[],
        today=utcnow().date(),
        vouchers_per_beta_exam=settings.app.records.vouchers_per_beta_exam,
    )
    person = found.candidate
    return {
        "title": f"{person.name} · MCP {person.mcp_id}",
        "contact": f"{', '.join(person.emails) or 'no email'} · {person.country} ({person.region})",
        "checks": [
            {
                "name": name,
                "outcome": "escalate" if r.escalate else ("settled" if r.settles else "-"),
                "summary": "; ".join(r.summary) or "no records",
            }
            for name, r in checks.items()
        ],
    }


def search_knowledge(runtime: Runtime, query: str) -> list[dict[str, Any]]:
    return search_issues(runtime.knowledge, query)


def catalogue(runtime: Runtime) -> list[str]:
    """The known issue ids, for the Not-this-issue menu."""
    return sorted(runtime.knowledge.issues)


# What may be repeated in a public thread: no ids, addresses or codes.
PUBLIC_ENTITIES = ("exams", "providers", "regions", "error_messages")


def outcome_data(
    session: Session, outcome: IntakeOutcome, *, runtime: Runtime, prefix: str, private: bool
) -> dict[str, Any]:
    """What the builders need from an intake outcome (and its tickets' entities); facts and
    the candidate only when the place is `private`."""
    tickets = []
    entities: dict[str, Any] = {}
    for t in outcome.tickets:
        row = get_ticket(session, t.ticket_id, prefix=prefix)
        entities = entities or {
            kind: values
            for kind, values in (row.entities or {}).items()
            if private or kind in PUBLIC_ENTITIES
        }
        tickets.append(
            {
                "id": t.ticket_id,
                "issue": t.issue,
                "status": t.status,
                "priority": t.priority,
                "action": t.action,
                "owner": t.owner,
                "routing_rule": t.routing_rule,
                "answer": t.answer,
                "facts_summary": t.facts_summary if private else [],
            }
        )
    return {
        "prefix": prefix,
        "tickets": tickets,
        "issues": outcome.issues or ([outcome.issue] if outcome.issue else []),
        "entities": entities,
        "candidate": outcome.candidate_mcp_id if private else None,
        "catalogue": catalogue(runtime),
        "private": private,
    }
