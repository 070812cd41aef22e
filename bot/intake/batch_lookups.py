"""Filing's lookups for a batch of messages (`bot.tickets.lookups.Lookups`): the tickets the batch
may touch read in a few set-based queries, then kept current in memory while the batch is filed
in order, so filing message 7 sees what messages 1 to 6 did without a query or a flush.

New tickets get their ids from the one flush after filing (an INSERT ... RETURNING per table);
links are inserted in bulk after it, and each escalation notice is built from the ticket as it
stood when it was routed (a later message of the batch may change it before the flush).
"""

from collections import defaultdict
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast, get_args

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.delivery.notifications import escalation_deliveries
from bot.store.models import OPEN_STATUSES, Message, Ticket, TicketEvent, TicketMessage
from bot.tickets.lookups import route_level
from bot.tickets.queue import open_load
from bot.types import InboundMessage, Source

_COLUMNS = [attr.key for attr in sa_inspect(Ticket).column_attrs]
# The tickets earlier messages are on, with what threading matches those messages by.
_LINKS = select(
    TicketMessage.ticket_id, Message.id, Message.source, Message.external_id, Message.thread_key
).join(Message, Message.id == TicketMessage.message_id)


def _open(ticket: Ticket) -> bool:
    return ticket.status in OPEN_STATUSES


class BatchLookups:
    defers_writes = True

    def __init__(self, session: Session, config: AppConfig) -> None:
        self.session, self.config = session, config
        self.current = -1  # the index of the message being filed (its notices are its own)
        self._by_id: dict[int, Ticket] = {}
        self._missing: set[int] = set()
        self._by_key: dict[str, list[Ticket]] = defaultdict(list)
        self._keys_read: set[str] = set()
        self._new: list[Ticket] = []
        self._created: dict[int, int] = {}  # id(ticket) -> position among the batch's new ones
        # Each ticket's (owner, open) when the batch first saw it: the open load moves from there.
        self._start: dict[int, tuple[str | None, bool]] = {}
        self._touched: list[Ticket] = []
        self._load: dict[str, int] = {}
        # Links of earlier messages: (ticket id, message id, source, external id, thread key).
        self._thread_rows: list[tuple[int, int, str, str, str | None]] = []
        self._links: list[tuple[Ticket, Message]] = []
        self._linked: set[tuple[int, int]] = set()
        self._written = 0
        self._notices: dict[int, list[tuple[SimpleNamespace, Ticket, TicketEvent, str, str]]] = (
            defaultdict(list)
        )

    # --- reading, once per batch ------------------------------------------------------------

    def prefetch(self, *, candidate_keys: set[str], ticket_ids: set[int], refs: set[str]) -> None:
        """Read the candidates' open tickets, the tickets named by id, the links of the
        messages `refs` names (Message-IDs, thread keys) and the open load per owner."""
        session = self.session
        if refs:
            # Any source, named so that the indexes (which lead with the source) are used.
            known = Message.source.in_(get_args(Source))
            found = session.execute(
                _LINKS.where(
                    or_(
                        and_(known, Message.external_id.in_(refs)),
                        and_(known, Message.thread_key.in_(refs)),
                    )
                )
            )
            self._thread_rows = [(t, m, source, ext, thread) for t, m, source, ext, thread in found]
        wanted = ticket_ids | {row[0] for row in self._thread_rows}
        if wanted:
            for ticket in session.scalars(select(Ticket).where(Ticket.id.in_(wanted))):
                self._register(ticket)
            self._missing |= wanted - set(self._by_id)
        self._read_keys(candidate_keys)
        self._load = open_load(session)

    def _read_keys(self, keys: set[str]) -> None:
        keys = {key for key in keys if key and key not in self._keys_read}
        if not keys:
            return
        # `status || ''`: SQLite's planner, without statistics, would otherwise walk the status
        # index (every open ticket) rather than look the candidates up.
        query = select(Ticket).where(
            Ticket.candidate_key.in_(keys), (Ticket.status + "").in_(OPEN_STATUSES)
        )
        for ticket in self.session.scalars(query.order_by(Ticket.id)):
            self._register(ticket)
        self._keys_read |= keys

    def _register(self, ticket: Ticket) -> None:
        if id(ticket) in self._start:
            return
        self._start[id(ticket)] = (ticket.owner, _open(ticket))
        self._touched.append(ticket)
        if ticket.id is not None:
            self._by_id[ticket.id] = ticket
        if ticket.candidate_key:
            self._by_key[ticket.candidate_key].append(ticket)

    def _rank(self, ticket: Ticket) -> tuple[int, int]:
        """Oldest first: stored tickets by id, then the batch's unflushed ones as created."""
        if ticket.id is not None:
            return (0, ticket.id)
        return (1, self._created[id(ticket)])

    # --- the questions filing asks ----------------------------------------------------------

    def ticket(self, ticket_id: int) -> Ticket | None:
        if ticket_id in self._by_id:
            return self._by_id[ticket_id]
        if ticket_id in self._missing:
            return None
        ticket = self.session.get(Ticket, ticket_id)
        if ticket is None:
            self._missing.add(ticket_id)
            return None
        self._register(ticket)
        return ticket

    def open_tickets_of(self, *, candidate_key: str) -> list[Ticket]:
        self._read_keys({candidate_key})
        return sorted(filter(_open, self._by_key.get(candidate_key, [])), key=self._rank)

    def open_ticket(self, *, candidate_key: str, issue: str | None) -> Ticket | None:
        mine = self.open_tickets_of(candidate_key=candidate_key)
        return next((ticket for ticket in mine if ticket.issue == issue), None)

    def thread_tickets(self, message: Message) -> list[Ticket]:
        keys = {k for k in (message.thread_key, message.in_reply_to) if k}
        if not keys:
            return []

        def related(
            source: str, message_id: int | None, external_id: str, thread: str | None
        ) -> bool:
            return (
                source == message.source
                and message_id != message.id
                and (thread in keys or external_id in keys)
            )

        found = {
            id(t): t
            for row in self._thread_rows
            if related(row[2], row[1], row[3], row[4]) and (t := self.ticket(row[0])) is not None
        }
        for ticket, linked in self._links:
            if related(linked.source, linked.id, linked.external_id, linked.thread_key):
                found[id(ticket)] = ticket
        return sorted(filter(_open, found.values()), key=self._rank)

    def thread_ticket_id(self, message: InboundMessage) -> int | None:
        """The ticket `message` continues: the id the adapter read (a `[TRI-12]` tag), else the
        newest ticket of a message it replies to (the ids it names as answered), or of its Slack
        thread.

        Machine mail (auto-replies, bounces) is filed onto a ticket without the check a person's
        message gets (that the ticket is the writer's own), so it goes only where it names a
        message of that ticket: a ticket number anyone can guess, anyone can write in a subject."""
        if message.ticket_id is not None and not message.automated:
            return message.ticket_id
        refs = set(message.in_reply_to)
        slack_thread = message.thread_key if message.source == "slack" else None
        if not refs and not slack_thread:
            return None

        def related(source: str, external_id: str, thread: str | None) -> bool:
            if external_id == message.external_id:
                return False
            if external_id in refs or thread in refs:
                return True
            return slack_thread is not None and source == "slack" and thread == slack_thread

        newest: int | None = None
        for ticket_id, _, source, external_id, thread in self._thread_rows:
            if related(source, external_id, thread) and (newest is None or ticket_id > newest):
                newest = ticket_id
        # A parent taken in by this same batch: its tickets are newer than any stored one.
        linked = [t for t, m in self._links if related(m.source, m.external_id, m.thread_key)]
        if linked:
            latest = max(linked, key=self._rank)
            if latest.id is None:
                self.flush()  # the follow-up needs its parent's ticket id now
            assert latest.id is not None
            newest = max(newest or 0, latest.id)
        return newest

    def open_load(self) -> dict[str, int]:
        load = dict(self._load)
        for ticket in self._touched:
            owner, was_open = self._start[id(ticket)]
            if owner and was_open:
                load[owner] -= 1
            if ticket.owner and _open(ticket):
                load[ticket.owner] = load.get(ticket.owner, 0) + 1
        return load

    # --- what filing did --------------------------------------------------------------------

    def opened(self, ticket: Ticket) -> None:
        self._created[id(ticket)] = len(self._new)
        self._new.append(ticket)
        self._start[id(ticket)] = (None, False)
        self._touched.append(ticket)
        if ticket.candidate_key:
            self._read_keys({ticket.candidate_key})
            self._by_key[ticket.candidate_key].append(ticket)

    def link(self, ticket: Ticket, message: Message) -> None:
        key = (id(ticket), message.id)
        if key not in self._linked:
            self._linked.add(key)
            self._links.append((ticket, message))

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
        as_routed = SimpleNamespace(**{name: getattr(ticket, name) for name in _COLUMNS})
        self._notices[self.current].append((as_routed, ticket, event, recipient, reason))

    # --- writing, after filing --------------------------------------------------------------

    def flush(self) -> None:
        """Insert what filing added (tickets, events: the ORM's bulk inserts), then the links."""
        if self.session.get_bind().dialect.name == "sqlite":
            _number_new_rows(self.session)
        self.session.flush()
        rows = [
            {"ticket_id": ticket.id, "message_id": message.id}
            for ticket, message in self._links[self._written :]
        ]
        if rows:
            self.session.execute(insert(TicketMessage.__table__), rows)
        self._written = len(self._links)
        for ticket in self._new:
            self._by_id.setdefault(ticket.id, ticket)

    def notices(self, index: int) -> list[dict[str, Any]]:
        """The outbox rows of the escalations filing message `index` made (after `flush`)."""
        rows: list[dict[str, Any]] = []
        for as_routed, ticket, event, recipient, reason in self._notices.pop(index, []):
            as_routed.id = ticket.id
            rows += escalation_deliveries(
                self.config, ticket=cast(Ticket, as_routed), recipient=recipient,
                level=route_level(event), reason=reason,
            )  # fmt: skip
        return rows


def _number_new_rows(session: Session) -> None:
    """Give the batch's new tickets and events their ids before the flush, on SQLite.

    SQLite does not say which row of a multi-row INSERT ... RETURNING is which new object, so the
    ORM would insert them one statement each. The batch holds SQLite's one write lock (it has
    inserted its messages), so the next ids are known: numbered as SQLite would number them (the
    largest id plus one, in the order they were made), they insert with one statement a table.
    """
    with session.no_autoflush:
        for model in (Ticket, TicketEvent):
            new = [row for row in session.new if isinstance(row, model) and row.id is None]
            if not new:
                continue
            new.sort(key=lambda row: sa_inspect(row).insert_order)
            start = session.scalar(select(func.max(model.id))) or 0
            for number, row in enumerate(new, start + 1):
                row.id = number
