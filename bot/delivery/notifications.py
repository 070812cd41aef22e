"""Notices to desk people about a ticket (escalated, assigned, reopened, an SLA step), enqueued on
the outbox on every channel the person has an address on.

The core describes the notice (`Notice`); each adapter renders it. Codes in the facts are masked
before they leave.
"""

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.config.app import AppConfig, Owner
from bot.delivery.messages import Notice, SlaSummary, dump
from bot.delivery.outbox import enqueue
from bot.privacy.masking import mask_all
from bot.store.models import Ticket
from bot.store.models.outbox import OutboxItem


def secret_codes(facts: Any) -> list[str]:
    """Every value under a key that names a code (`promo_code`, `voucher_codes`, `code`)."""
    found: list[str] = []
    if isinstance(facts, dict):
        for key, value in facts.items():
            if "code" in str(key).lower() and isinstance(value, str):
                found.append(value)
            elif "code" in str(key).lower() and isinstance(value, list):
                found.extend(v for v in value if isinstance(v, str))
            else:
                found.extend(secret_codes(value))
    elif isinstance(facts, list):
        for value in facts:
            found.extend(secret_codes(value))
    return found


def masked_facts(ticket: Ticket) -> list[str]:
    """The ticket's fact lines with every code it knows of masked."""
    codes = secret_codes(ticket.facts) + secret_codes(ticket.entities)
    return [mask_all(line, codes) for line in ticket.facts_summary or []]


def candidate_label(ticket: Ticket) -> str:
    if ticket.identity_status == "unverified":
        writer = ticket.candidate_key or "unknown writer"
        return f"{writer} (identity unverified; names MCP {ticket.named_mcp_id})"
    if ticket.candidate_mcp_id:
        return f"MCP {ticket.candidate_mcp_id}"
    return ticket.candidate_key or "unknown candidate"


def contacts(owner: Owner) -> list[tuple[str, str]]:
    """Where a desk person is told things: (channel, address) for each address `app.yaml`
    gives them."""
    found = [("slack", owner.slack_user_id)] if owner.slack_user_id else []
    return [*found, ("email", owner.email)]


def notice(config: AppConfig, *, ticket: Ticket, recipient: str, level: str, reason: str) -> Notice:
    """The notice telling `recipient` (an owner id) about `ticket`, and why."""
    ref = f"{config.desk.ticket_prefix}-{ticket.id}"
    facts = masked_facts(ticket)
    issue = ticket.issue or "unknown issue"
    due = _iso(ticket.sla_due_at)
    lines = [
        f"{ref} {issue} ({ticket.priority}) needs you: {reason}",
        f"Candidate: {candidate_label(ticket)}",
        f"Owner: {ticket.owner or '-'} (rule {ticket.routing_rule or '-'})",
        f"Resolution due: {due or '-'}",
        *(f"- {line}" for line in facts),
        f"Show it: triage tickets show {ref}",
    ]
    return Notice(
        text="\n".join(lines),
        subject=f"[{ref}] {issue} ({ticket.priority}): {reason}",
        ticket_id=ticket.id,
        ref=ref,
        issue=ticket.issue,
        priority=ticket.priority,
        status=ticket.status,
        owner=ticket.owner,
        recipient=recipient,
        routing_rule=ticket.routing_rule,
        level=level,
        reason=reason,
        candidate=candidate_label(ticket),
        identity=ticket.identity_status,
        about=ticket.subject,
        facts=facts,
        first_response_due_at=_iso(ticket.first_response_due_at),
        sla_due_at=due,
    )


def escalation_deliveries(
    config: AppConfig, *, ticket: Ticket, recipient: str, level: str, reason: str
) -> list[dict[str, Any]]:
    """The outbox rows telling `recipient` (an owner id) about `ticket`, one per channel they
    have an address on. Dedupe keys `escalation:{ticket}:{level}:{channel}`."""
    message = dump(notice(config, ticket=ticket, recipient=recipient, level=level, reason=reason))
    return [
        {
            "channel": channel,
            "kind": "escalation",
            "recipient": address,
            "payload": message,
            "dedupe_key": f"escalation:{ticket.id}:{level}:{channel}",
            "ticket_id": ticket.id,
        }
        for channel, address in contacts(config.owner(recipient))
    ]


def sla_summary_deliveries(
    config: AppConfig, *, summary: SlaSummary, key: str
) -> list[dict[str, Any]]:
    """The outbox rows carrying one SLA summary to its person, one per channel they have an
    address on. Dedupe keys `{key}:{channel}`, `key` naming the person and the sweep."""
    message = dump(summary)
    return [
        {
            "channel": channel,
            "kind": "sla-summary",
            "recipient": address,
            "payload": message,
            "dedupe_key": f"{key}:{channel}",
        }
        for channel, address in contacts(config.owner(summary.recipient))
    ]


def notify_escalation(
    session: Session,
    config: AppConfig,
    *,
    ticket: Ticket,
    recipient: str,
    level: str,
    reason: str,
    now: datetime,
) -> int:
    """Tell `recipient` about `ticket` on the outbox; returns how many deliveries were new (a
    repeat with the same level is a no-op)."""
    rows = escalation_deliveries(
        config, ticket=ticket, recipient=recipient, level=level, reason=reason
    )
    return sum(enqueue(session, **row, now=now) for row in rows)


def enqueue_many(session: Session, rows: list[dict[str, Any]], *, now: datetime) -> None:
    """Enqueue many deliveries in one statement; rows whose dedupe key exists are skipped."""
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = [
        {**row, "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
        for row in rows
    ]
    session.execute(
        insert(OutboxItem).on_conflict_do_nothing(index_elements=["dedupe_key"]), values
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
