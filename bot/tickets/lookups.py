"""What filing asks about the desk's tickets while it files a message (the ticket a message
names, a candidate's open tickets, the tickets of a conversation, each owner's open load), and
where it hands what it did (links, escalation notices).

`SessionLookups` asks the database each time and writes at once: one message at a time. The
intake's batches (`bot.intake.batch_lookups`) answer the same questions for a whole batch from a
few set-based queries and write links and notices in bulk after one flush.
"""

from datetime import datetime
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.delivery.notifications import notify_escalation
from bot.store.models import OPEN_STATUSES, Message, Ticket, TicketEvent, TicketMessage
from bot.tickets import lifecycle as tickets
from bot.tickets.queue import open_load


class Lookups(Protocol):
    # True: writes wait for the caller's flush (new tickets have no id while filing).
    defers_writes: bool

    def ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket with this id, or None."""
        ...

    def open_ticket(self, *, candidate_key: str, issue: str | None) -> Ticket | None:
        """The candidate's oldest open ticket about `issue` (None: the unknown issue)."""
        ...

    def open_tickets_of(self, *, candidate_key: str) -> list[Ticket]:
        """The candidate's open tickets, oldest first."""
        ...

    def thread_tickets(self, message: Message) -> list[Ticket]:
        """Open tickets holding an earlier message of the same conversation as `message`."""
        ...

    def open_load(self) -> dict[str, int]:
        """Open tickets per owner, for choosing among a team's members."""
        ...

    def opened(self, ticket: Ticket) -> None:
        """`ticket` was just created (not flushed yet)."""
        ...

    def link(self, ticket: Ticket, message: Message) -> None:
        """Attach `message` to `ticket` (once)."""
        ...

    def escalated(
        self,
        config: AppConfig,
        *,
        ticket: Ticket,
        event: TicketEvent,
        recipient: str,
        reason: str,
        now: datetime,
    ) -> None:
        """Tell `recipient` that `ticket` was routed to them (`event`: the escalation)."""
        ...


class SessionLookups:
    """Every answer from the database, every write at once."""

    defers_writes = False

    def __init__(self, session: Session) -> None:
        self.session = session

    def ticket(self, ticket_id: int) -> Ticket | None:
        return self.session.get(Ticket, ticket_id)

    def open_ticket(self, *, candidate_key: str, issue: str | None) -> Ticket | None:
        return tickets.find_open_ticket(self.session, candidate_key=candidate_key, issue=issue)

    def open_tickets_of(self, *, candidate_key: str) -> list[Ticket]:
        return tickets.open_tickets_of(self.session, candidate_key=candidate_key)

    def thread_tickets(self, message: Message) -> list[Ticket]:
        keys = [k for k in (message.thread_key, message.in_reply_to) if k]
        if not keys:
            return []
        related = (
            select(TicketMessage.ticket_id)
            .join(Message, Message.id == TicketMessage.message_id)
            .where(
                Message.source == message.source,
                Message.id != message.id,
                or_(Message.thread_key.in_(keys), Message.external_id.in_(keys)),
            )
        )
        query = select(Ticket).where(Ticket.id.in_(related), Ticket.status.in_(OPEN_STATUSES))
        return list(self.session.scalars(query.order_by(Ticket.id)))

    def open_load(self) -> dict[str, int]:
        return open_load(self.session)

    def opened(self, ticket: Ticket) -> None:
        pass

    def link(self, ticket: Ticket, message: Message) -> None:
        tickets.link_message(self.session, ticket=ticket, message=message)

    def escalated(
        self,
        config: AppConfig,
        *,
        ticket: Ticket,
        event: TicketEvent,
        recipient: str,
        reason: str,
        now: datetime,
    ) -> None:
        self.session.flush()  # the notice's dedupe key names the escalation event
        notify_escalation(
            self.session, config, ticket=ticket, recipient=recipient, level=route_level(event),
            reason=reason, now=now,
        )  # fmt: skip


def route_level(event: TicketEvent) -> str:
    """The notice level of a routing: one notice per escalation event."""
    return f"route-{event.id}"
