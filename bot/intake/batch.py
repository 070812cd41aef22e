"""Taking messages in by the batch: one transaction, a few set-based statements, and each message
handled as if it had come alone, in order.

`take_in_batch` skips messages that were erased, stores the others with one
INSERT ... ON CONFLICT DO NOTHING RETURNING (a message stored before, or twice in the batch, is a
duplicate and gets the first outcome), classifies them and reads the records of every candidate
they may name at once, reads the tickets they may touch in a few queries, files them in order (a
follow-up in the same batch as its parent threads onto the parent's ticket), and writes tickets,
events, links, notices, replies and outcomes in bulk after one flush. The caller commits.

A message the core fails on raises `MessageFailed` naming it: the caller rolls the batch back and
takes it again without that message. A database error is raised as it is.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, defer

from bot.delivery.outbox import enqueue_all
from bot.delivery.replies import reply_delivery
from bot.intake.batch_lookups import BatchLookups
from bot.intake.quarantine import MessageFailed
from bot.intake.triage import classify, triage_message
from bot.matching.matcher import Classification
from bot.ops import metrics
from bot.ops.runtime import Runtime
from bot.privacy.erasure import erased_messages
from bot.records.prefetch import PrefetchedRecords
from bot.records.source import DatabaseRecords, RecordsSource, is_mcp_id
from bot.store.bounds import bounded_message
from bot.store.models import Message
from bot.store.models.base import utcnow
from bot.tickets import lifecycle as tickets
from bot.tickets.filing import Filing, file_message
from bot.types import InboundMessage, IntakeOutcome, TicketOutcome, TriagedMessage

log = logging.getLogger(__name__)
T = TypeVar("T")
Key = tuple[str, str]  # (source, external_id)


@dataclass
class _Item:
    index: int
    message: InboundMessage
    stored: Message | None = None
    classification: Classification | None = None
    triaged: TriagedMessage | None = None
    filing: Filing | None = None
    outcome: IntakeOutcome | None = None

    @property
    def key(self) -> Key:
        return (self.message.source, self.message.external_id)


def _guard(index: int, step: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one message's step; a failure that is not the database's names the message."""
    try:
        return step(*args, **kwargs)
    except SQLAlchemyError:
        raise
    except Exception as exc:
        raise MessageFailed(index, exc) from exc


def take_in_batch(
    session: Session,
    runtime: Runtime,
    messages: Sequence[InboundMessage],
    *,
    now: datetime | None = None,
) -> list[IntakeOutcome]:
    """Store, triage and file `messages` in order; one outcome each. The caller commits."""
    now = now or utcnow()
    items = [_Item(n, _guard(n, bounded_message, m)) for n, m in enumerate(messages)]
    first: dict[Key, _Item] = {}
    for item in items:
        first.setdefault(item.key, item)
    erased = erased_messages(session, first)
    stored = _stored(session, [key for key in first if key not in erased])
    fresh = [item for key, item in first.items() if key not in erased and key not in stored]
    # The costly reading first: on SQLite the write lock is taken by the insert below.
    _triage(session, runtime, [item for item in fresh if not item.message.automated], now)
    inserted = _insert(session, [item.message for item in fresh])
    stored |= _stored(session, [item.key for item in fresh])
    taken = [item for item in fresh if item.key in inserted]
    for key, item in first.items():
        if key in erased:
            item.outcome = IntakeOutcome(message_id=erased[key], duplicate=True)
        elif key not in inserted:
            item.outcome = _previous_outcome(stored[key])
        else:
            item.stored = stored[key]
    if taken:
        _file_all(session, runtime, taken, now)
    outcomes = []
    for item in items:
        original = first[item.key]
        if item is not original:  # the same message twice in one batch: the first's outcome
            assert original.outcome is not None
            item.outcome = original.outcome.model_copy(update={"duplicate": True})
        assert item.outcome is not None
        metrics.message_taken_in(item.message.source, duplicate=item.outcome.duplicate)
        if item.outcome.duplicate:
            log.info(
                "duplicate message",
                extra={"message_id": item.outcome.message_id, "source": item.message.source},
            )
        outcomes.append(item.outcome)
    return outcomes


def message_values(message: InboundMessage) -> dict[str, Any]:
    """The `messages` row of an inbound message."""
    return {
        "source": message.source,
        "external_id": message.external_id,
        "direction": "in",
        "sender": message.sender_email or message.slack_user_id,
        "subject": message.subject,
        "body": message.text,
        "raw": message.raw,
        "thread_key": message.thread_key,
        "in_reply_to": message.in_reply_to[0] if message.in_reply_to else None,
        "channel": message.slack_channel,
        "meta": dict(message.meta),
        "received_at": message.received_at,
        "created_at": utcnow(),
    }


def _insert(session: Session, messages: list[InboundMessage]) -> set[Key]:
    """Insert the messages whose key is not stored yet; the keys inserted. Two workers taking
    the same message at once make one row: on PostgreSQL the second waits for the first to
    commit, then skips it."""
    if not messages:
        return set()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = Message.__table__
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(table.c.source, table.c.external_id)
    )
    rows = session.execute(statement, [message_values(m) for m in messages])
    return {(source, external_id) for source, external_id in rows}


def _stored(session: Session, keys: list[Key]) -> dict[Key, Message]:
    """The stored messages with these keys (their text and raw bytes left unread)."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, external_id in keys:
        by_source[source].append(external_id)
    if not by_source:
        return {}
    query = (
        select(Message)
        .options(defer(Message.raw), defer(Message.body))
        .where(
            or_(
                *(
                    and_(Message.source == source, Message.external_id.in_(ids))
                    for source, ids in by_source.items()
                )
            )
        )
    )
    return {(m.source, m.external_id): m for m in session.scalars(query)}


def _previous_outcome(stored: Message) -> IntakeOutcome:
    previous = stored.meta.get("outcome") if isinstance(stored.meta, dict) else None
    if previous:
        return IntakeOutcome.model_validate({**previous, "duplicate": True})
    return IntakeOutcome(message_id=stored.id, duplicate=True)


def _triage(session: Session, runtime: Runtime, items: list[_Item], now: datetime) -> None:
    """Classify each message, read the records of everyone they may name at once, judge each."""
    matcher = runtime.matcher_for(session)  # the deployment's newest passing model, once a batch
    for item in items:
        with metrics.classify_timer():
            item.classification = _guard(item.index, classify, matcher, item.message, now=now)
    records = _records(session, runtime, items)
    for item in items:
        item.triaged = _guard(
            item.index, triage_message, session, runtime, item.message, thread_ticket_id=None,
            now=now, classification=item.classification, records=records, matcher=matcher,
        )  # fmt: skip


def _records(session: Session, runtime: Runtime, items: list[_Item]) -> RecordsSource | None:
    """The runtime's records source; from the database, the records of every candidate the
    batch names, read at once."""
    if not items:
        return None
    source = runtime.records(session)
    if not isinstance(source, DatabaseRecords):
        return source  # a program's API: one candidate per request (and its own cache)
    mcp_ids, emails, slack_users = set(), set(), set()
    for item in items:
        message = item.message
        assert item.classification is not None
        mcp_ids.update(item.classification.entities.mcp_ids)
        emails.add(message.sender_email)
        slack_users.add(message.slack_user_id)
        if message.on_behalf_of:
            (mcp_ids if is_mcp_id(message.on_behalf_of) else emails).add(message.on_behalf_of)
    return PrefetchedRecords(
        session,
        mcp_ids={m for m in mcp_ids if m},
        emails={e for e in emails if e},
        slack_user_ids={s for s in slack_users if s},
    )


def _file_all(session: Session, runtime: Runtime, items: list[_Item], now: datetime) -> None:
    config = runtime.settings.app
    lookups = BatchLookups(session, config)
    refs: set[str] = set()
    for item in items:
        refs.update(item.message.in_reply_to)
        refs.update(k for k in (item.message.thread_key,) if k)
    lookups.prefetch(
        candidate_keys={
            i.triaged.candidate_key for i in items if i.triaged and i.triaged.candidate_key
        },
        ticket_ids={i.message.ticket_id for i in items if i.message.ticket_id is not None},
        refs=refs,
    )
    for item in items:
        lookups.current = item.index
        _guard(item.index, _file, session, runtime, lookups, item, now)
    lookups.flush()
    rows: list[dict[str, Any]] = []
    for item in items:
        rows += _guard(item.index, _finish, runtime, lookups, item)
    enqueue_all(session, rows, now=now)
    session.flush()  # outcomes and ticket groups


def _file(
    session: Session, runtime: Runtime, lookups: BatchLookups, item: _Item, now: datetime
) -> None:
    message, stored = item.message, item.stored
    assert stored is not None
    thread_ticket_id = lookups.thread_ticket_id(message)
    if message.automated:
        item.outcome = _file_machine_mail(session, lookups, stored, thread_ticket_id, now=now)
        return
    triaged = item.triaged
    assert triaged is not None
    triaged.ticket_id = thread_ticket_id
    stored.candidate_mcp_id = triaged.candidate_mcp_id
    item.filing = file_message(
        session, runtime.settings.app, message=stored, triage=triaged, now=now, lookups=lookups
    )


def _finish(runtime: Runtime, lookups: BatchLookups, item: _Item) -> list[dict[str, Any]]:
    """The message's outcome, and its notices and reply as outbox rows (in that order)."""
    message, stored, triaged = item.message, item.stored, item.triaged
    assert stored is not None
    if item.outcome is not None:  # machine mail: done when filed
        return []
    assert item.filing is not None and triaged is not None
    filed = item.filing.finish(runtime.settings.app)
    outcome = IntakeOutcome(
        message_id=stored.id,
        issue=triaged.verdicts[0].issue if triaged.verdicts else None,
        issues=[v.issue for v in triaged.verdicts if v.issue],
        candidate_mcp_id=triaged.candidate_mcp_id,
        tickets=[f.to_outcome() for f in filed],
    )
    rows = lookups.notices(item.index)
    reply = reply_delivery(
        runtime.settings.app, message=message, stored=stored, filed=filed,
        titles=runtime.issue_titles, candidate_name=triaged.candidate_name,
    )  # fmt: skip
    if reply is not None:
        outcome.reply, row = reply
        rows.append(row)
    stored.meta = {**stored.meta, "outcome": outcome.model_dump(mode="json")}
    item.outcome = outcome
    for ticket in outcome.tickets:
        if ticket.created:
            metrics.ticket_opened(ticket.issue)
    log.info(
        "message taken in",
        extra={
            "message_id": stored.id,
            "source": message.source,
            "issues": ",".join(outcome.issues) or "unknown",
            "tickets": ",".join(str(t.ticket_id) for t in outcome.tickets),
        },
    )
    return rows


def _file_machine_mail(
    session: Session,
    lookups: BatchLookups,
    stored: Message,
    ticket_id: int | None,
    *,
    now: datetime,
) -> IntakeOutcome:
    """Machine mail goes onto the ticket it answers, with an audit event; it never opens one."""
    outcome = IntakeOutcome(message_id=stored.id)
    ticket = lookups.ticket(ticket_id) if ticket_id is not None else None
    if ticket is not None:
        lookups.link(ticket, stored)
        noise = stored.meta.get("noise") or {}
        tickets.record_event(
            session, ticket=ticket, actor=stored.sender or "machine", action="machine-mail",
            from_status=ticket.status, to_status=ticket.status, now=now,
            reason=noise.get("reason"), data={"message_id": stored.id},
        )  # fmt: skip
        outcome.tickets = [
            TicketOutcome(ticket_id=ticket.id, issue=ticket.issue, status=ticket.status,
                          priority=ticket.priority, action="none", owner=ticket.owner,
                          routing_rule=ticket.routing_rule, created=False)
        ]  # fmt: skip
    stored.meta = {**stored.meta, "outcome": outcome.model_dump(mode="json")}
    return outcome
