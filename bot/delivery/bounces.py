"""Bouncing addresses: a delivery failure report marks the address, and the tickets it concerns
show it in their audit trail."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models.base import utcnow
from bot.store.models.mail import BouncingAddress
from bot.store.models.messages import Message, TicketMessage
from bot.store.models.tickets import Ticket, TicketEvent


def mark_bouncing(
    session: Session,
    *,
    address: str,
    status: str | None = None,
    diagnostic: str | None = None,
    message_id: int | None = None,
    ticket_ids: Iterable[int] = (),
    actor: str = "email",
    now: datetime | None = None,
) -> BouncingAddress:
    """Record that mail to `address` bounced, and note it on each ticket in `ticket_ids`."""
    now = now or utcnow()
    key = address.strip().lower()
    row = session.scalar(select(BouncingAddress).where(BouncingAddress.address == key))
    if row is None:
        row = BouncingAddress(address=key, first_bounced_at=now, bounce_count=0, details={})
        session.add(row)
    row.bounce_count += 1
    row.status = status.strip()[:32] if status else None
    row.diagnostic = diagnostic[:2000] if diagnostic else None
    row.last_message_id, row.last_bounced_at = message_id, now
    data: dict[str, Any] = {"address": key, "status": status, "message_id": message_id}
    for ticket_id in sorted(set(ticket_ids)):
        if session.get(Ticket, ticket_id) is None:
            continue
        session.add(
            TicketEvent(
                ticket_id=ticket_id,
                at=now,
                actor=actor,
                action="bounce",
                reason=f"mail to {key} bounced" + (f" ({status})" if status else ""),
                data=data,
            )
        )
    session.flush()
    return row


def bouncing(session: Session, addresses: Iterable[str]) -> dict[str, BouncingAddress]:
    """The known-bouncing rows among `addresses`, by lower-cased address."""
    keys = {a.strip().lower() for a in addresses if a}
    if not keys:
        return {}
    rows = session.scalars(select(BouncingAddress).where(BouncingAddress.address.in_(keys)))
    return {row.address: row for row in rows}


def tickets_of_messages(session: Session, external_ids: Iterable[str]) -> list[int]:
    """The tickets the stored messages with these ids (e.g. the bounced acknowledgement) are on."""
    ids = [i for i in external_ids if i]
    if not ids:
        return []
    return list(
        session.scalars(
            select(TicketMessage.ticket_id)
            .join(Message, Message.id == TicketMessage.message_id)
            .where(Message.external_id.in_(ids))
            .distinct()
        )
    )
