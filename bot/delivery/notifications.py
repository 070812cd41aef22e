"""Escalation notices to owners, enqueued on the outbox (Slack DM and email).

The core describes the notice (`view` "escalation" plus JSON data); the Slack adapter renders the
Block Kit and the email adapter the MIME. Codes in the facts are masked before they leave.
"""

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
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
    if ticket.candidate_mcp_id:
        return f"MCP {ticket.candidate_mcp_id}"
    return ticket.candidate_key or "unknown candidate"


def escalation_deliveries(
    config: AppConfig, *, ticket: Ticket, recipient: str, level: str, reason: str
) -> list[dict[str, Any]]:
    """The outbox rows (Slack DM when the person has a Slack id, and email) telling `recipient`
    (an owner id) about `ticket`. Dedupe keys `escalation:{ticket}:{level}:{channel}`."""
    owner = config.owner(recipient)
    ref = f"{config.desk.ticket_prefix}-{ticket.id}"
    facts = masked_facts(ticket)
    issue = ticket.issue or "unknown issue"
    title = f"{ref} {issue} ({ticket.priority}) needs you: {reason}"
    data: dict[str, Any] = {
        "ticket_id": ticket.id,
        "ref": ref,
        "issue": ticket.issue,
        "priority": ticket.priority,
        "status": ticket.status,
        "owner": ticket.owner,
        "recipient": recipient,
        "routing_rule": ticket.routing_rule,
        "level": level,
        "reason": reason,
        "candidate": candidate_label(ticket),
        "subject": ticket.subject,
        "facts": facts,
        "first_response_due_at": _iso(ticket.first_response_due_at),
        "sla_due_at": _iso(ticket.sla_due_at),
    }
    lines = [
        title,
        f"Candidate: {data['candidate']}",
        f"Owner: {ticket.owner or '-'} (rule {ticket.routing_rule or '-'})",
        f"Resolution due: {data['sla_due_at'] or '-'}",
        *(f"- {line}" for line in facts),
        f"Show it: triage tickets show {ref}",
    ]
    rows: list[dict[str, Any]] = []
    if owner.slack_user_id:
        rows.append(
            {
                "channel": "slack",
                "kind": "escalation",
                "recipient": owner.slack_user_id,
                "payload": {
                    "channel": owner.slack_user_id,
                    "text": title,
                    "thread_ts": None,
                    "view": "escalation",
                    "data": data,
                    "file": None,
                },
                "dedupe_key": f"escalation:{ticket.id}:{level}:slack",
                "ticket_id": ticket.id,
            }
        )
    rows.append(
        {
            "channel": "email",
            "kind": "escalation",
            "recipient": owner.email,
            "payload": {
                "to": owner.email,
                "subject": f"[{ref}] {issue} ({ticket.priority}): {reason}",
                "text": "\n".join(lines),
                "html": None,
                "in_reply_to": None,
                "references": [],
                "ticket_id": ticket.id,
                "auto": False,
                "attachments": [],
            },
            "dedupe_key": f"escalation:{ticket.id}:{level}:email",
            "ticket_id": ticket.id,
        }
    )
    return rows


def sla_summary_deliveries(
    config: AppConfig,
    *,
    recipient: str,
    data: dict[str, Any],
    text: str,
    subject: str,
    key: str,
) -> list[dict[str, Any]]:
    """The outbox rows (Slack DM when the person has a Slack id, and email) carrying one SLA
    summary (`view` "sla-summary", `data` as JSON) to `recipient` (an owner id). Dedupe keys
    `{key}:{channel}`, `key` naming the person and the sweep."""
    owner = config.owner(recipient)
    fallback = f"{data['total']} tickets need you: {data['overdue']} overdue (SLA sweep)"
    rows: list[dict[str, Any]] = []
    if owner.slack_user_id:
        rows.append(
            {
                "channel": "slack",
                "kind": "sla-summary",
                "recipient": owner.slack_user_id,
                "payload": {
                    "channel": owner.slack_user_id,
                    "text": fallback,
                    "thread_ts": None,
                    "view": "sla-summary",
                    "data": data,
                    "file": None,
                },
                "dedupe_key": f"{key}:slack",
            }
        )
    rows.append(
        {
            "channel": "email",
            "kind": "sla-summary",
            "recipient": owner.email,
            "payload": {
                "to": owner.email,
                "subject": subject,
                "text": text,
                "html": None,
                "in_reply_to": None,
                "references": [],
                "ticket_id": None,
                "auto": False,
                "attachments": [],
                "view": "sla-summary",
                "data": data,
            },
            "dedupe_key": f"{key}:email",
        }
    )
    return rows


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
