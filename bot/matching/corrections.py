"""Agents' corrections of a ticket's issue, kept as labelled examples for the evaluation corpus."""

import json
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models.base import utcnow
from bot.store.models.messages import Message, TicketMessage
from bot.store.models.slack import IssueCorrection
from bot.store.models.tickets import Ticket

UNKNOWN = "unknown"  # the agent's choice when no catalogue issue fits
ENTITY_KINDS = ("exams", "providers", "regions", "mcp_ids")


def record_correction(
    session: Session,
    *,
    ticket_id: int,
    corrected: str,
    actor: str,
    source: str = "slack",
    now: datetime | None = None,
) -> IssueCorrection:
    """Store "this ticket is really about `corrected`" with the ticket's first message text."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise LookupError(f"no ticket {ticket_id}")
    text = session.scalar(
        select(Message.body)
        .join(TicketMessage, TicketMessage.message_id == Message.id)
        .where(TicketMessage.ticket_id == ticket_id)
        .order_by(Message.id)
        .limit(1)
    )
    correction = IssueCorrection(
        ticket_id=ticket_id,
        text=text or ticket.subject or "",
        predicted=ticket.issue,
        corrected=corrected,
        actor=actor,
        source=source,
        created_at=now or utcnow(),
    )
    session.add(correction)
    session.flush()
    return correction


def export_jsonl(session: Session) -> Iterator[str]:
    """One JSON line per correction in the shape of `tests/data/*.jsonl` (`text`, `channel`,
    `issues`, `entities`, `split`); `unknown` becomes an empty issue list, as in the corpus."""
    rows = session.execute(
        select(IssueCorrection, Ticket.entities)
        .outerjoin(Ticket, Ticket.id == IssueCorrection.ticket_id)
        .order_by(IssueCorrection.id)
    )
    for row, entities in rows:
        found = entities or {}
        yield json.dumps(
            {
                "text": row.text,
                "channel": row.source,
                "issues": [] if row.corrected == UNKNOWN else [row.corrected],
                "entities": {kind: list(found.get(kind, [])) for kind in ENTITY_KINDS},
                "split": "corrections",
                "predicted": row.predicted,
                "ticket_id": row.ticket_id,
            },
            ensure_ascii=False,
        )
