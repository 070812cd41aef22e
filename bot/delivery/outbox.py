"""The outbox: durable delivery of outgoing messages with retries and back-off.

Producers `enqueue` inside the same transaction as the change that caused the message, so a
ticket and its notification commit together. Workers `claim` due items (row locks with
SKIP LOCKED on PostgreSQL, so two workers never take the same item), hand each to the sender for
its channel, and record the result.

Each attempt is written down as "sending" (when, by whom) and committed before it goes out,
under a claim renewed to outlast the sender's time limit and the recording of its result, so a
live sender's claim never expires. A claimer that finds an attempt with no result knows its
outcome is unknown (the process died between the receiver's OK and the commit): the Slack
sender looks for the message before posting it again; an email goes out again with the same
Message-ID, since SMTP cannot be asked what it received.
"""

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session
from typing_extensions import TypeIs  # typing's own from Python 3.13

from bot.ops import metrics
from bot.store.models.base import utcnow
from bot.store.models.outbox import OutboxItem

log = logging.getLogger("triage.outbox")

MAX_ATTEMPTS = 12
# An attempt's budget, all inside the claim it renews when it starts: a few seconds to begin
# sending, the sender's own time limit (its timeouts are set from `time_left`), and the
# recording of a delivered item through a lost connection. What is left is margin.
START_WITHIN = timedelta(seconds=10)
SEND_WITHIN = timedelta(seconds=100)
RECORD_WITHIN = timedelta(seconds=45)
CLAIM_FOR = timedelta(minutes=3)
assert START_WITHIN + SEND_WITHIN + RECORD_WITHIN < CLAIM_FOR
# A batch's items wait for their turn under a shorter claim: a worker that dies leaves them to
# the others sooner, and a slow batch hands its tail on (each attempt renews its own claim).
BATCH_CLAIM_FOR = timedelta(minutes=1)
# How long an attempt waits for its item's row lock. Another worker's claim query holds a lock
# on the rows it looked at until it commits, a moment; a sender holds one for its whole send
# (only after our claim ran out and it took the item), which is not worth waiting for.
LOCK_WAIT = timedelta(seconds=2)
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock_timeout

_send_by: ContextVar[float | None] = ContextVar("outbox_send_by", default=None)


def time_left() -> float:
    """Seconds the attempt being sent in this context may still take (infinite outside one):
    senders never start a network call that may outlast it, so their claim outlives them."""
    deadline = _send_by.get()
    return float("inf") if deadline is None else deadline - time.monotonic()


def sender_name() -> str:
    """Who makes an attempt, as written in `sending_by`: the host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


class TransientDeliveryError(Exception):
    """The channel failed in a way worth retrying (server down, rate limited)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(Exception):
    """The channel refused the message for good (bad address, unknown channel)."""


Sender = Callable[[OutboxItem], None]


def enqueue(
    session: Session,
    *,
    channel: str,
    kind: str,
    recipient: str,
    payload: dict[str, Any],
    dedupe_key: str,
    ticket_id: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Add a delivery unless one with the same key exists; True when it was added."""
    values = {
        "channel": channel,
        "kind": kind,
        "recipient": recipient,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "ticket_id": ticket_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now or utcnow(),
        "created_at": now or utcnow(),
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(OutboxItem)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxItem.id)
    )
    return session.execute(statement).scalar() is not None


def enqueue_all(session: Session, rows: list[dict[str, Any]], *, now: datetime) -> None:
    """`enqueue` for many deliveries in one statement (in order); rows whose dedupe key exists,
    in the table or earlier in `rows`, are skipped."""
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = [
        {
            "channel": row["channel"],
            "kind": row["kind"],
            "recipient": row["recipient"],
            "payload": row["payload"],
            "dedupe_key": row["dedupe_key"],
            "ticket_id": row.get("ticket_id"),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for row in rows
    ]
    table = OutboxItem.__table__
    session.execute(insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"]), values)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... capped at one hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def claim(
    session: Session, *, channel: str | None = None, limit: int = 50, now: datetime | None = None
) -> list[OutboxItem]:
    """Take up to `limit` due items for this worker; commit before delivering them."""
    now = now or utcnow()
    query = (
        select(OutboxItem)
        .where(
            OutboxItem.status == "pending",
            OutboxItem.next_attempt_at <= now,
            or_(OutboxItem.claimed_until.is_(None), OutboxItem.claimed_until < now),
        )
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
        .limit(limit)
    )
    if channel is not None:
        query = query.where(OutboxItem.channel == channel)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    items = list(session.scalars(query))
    for item in items:
        item.claimed_until = now + BATCH_CLAIM_FOR
    return items


def record_result(
    item: OutboxItem, error: Exception | None, *, now: datetime | None = None
) -> None:
    """The attempt's outcome (the attempt was counted when it started)."""
    now = now or utcnow()
    item.claimed_until = item.sending_at = item.sending_by = None
    if error is None:
        item.status, item.sent_at, item.last_error = "sent", now, None
        return
    item.last_error = f"{type(error).__name__}: {error}"[:1000]
    if isinstance(error, PermanentDeliveryError) or item.attempts >= MAX_ATTEMPTS:
        item.status = "dead"
        return
    retry_after = getattr(error, "retry_after", None)
    delay = timedelta(seconds=retry_after) if retry_after else backoff(item.attempts)
    item.next_attempt_at = now + delay


def deliver_due(
    session_factory: Callable[[], Session],
    senders: Mapping[str, Sender],
    *,
    limit: int = 50,
    now: datetime | None = None,
) -> tuple[int, int]:
    """Claim due items for the channels we have senders for, deliver them, record each result.

    Returns (sent, failed). Each item's result is committed on its own, so a crash mid-batch
    loses nothing: unfinished claims expire and the items are taken again. `now` (when the
    round starts) dates the results; claims run on from it, so a late item's claim is renewed
    from when its attempt really starts.
    """
    started, base = time.monotonic(), now or utcnow()

    def clock() -> datetime:
        return base + timedelta(seconds=time.monotonic() - started)

    sent = failed = 0
    for channel, send in senders.items():
        with session_factory() as session, session.begin():
            claims = {
                item.id: item.claimed_until
                for item in claim(session, channel=channel, limit=limit, now=clock())
            }
        for item_id, claimed_until in claims.items():
            result = _deliver_one(session_factory, send, item_id, claimed_until, clock, now)
            if result is None:
                continue
            metrics.delivery_result(channel, result.error, gave_up=result.gave_up)
            if result.error is None:
                sent += 1
            else:
                failed += 1
    return sent, failed


@dataclass(frozen=True)
class _Result:
    error: Exception | None
    gave_up: bool = False


@dataclass(frozen=True)
class _Attempt:
    claimed_until: datetime  # the renewed claim: who still holds it is this attempt
    began: float  # time.monotonic() when the claim was renewed

    def seconds_since(self) -> float:
        return time.monotonic() - self.began


def _deliver_one(
    session_factory: Callable[[], Session],
    send: Sender,
    item_id: int,
    claimed_until: datetime | None,
    clock: Callable[[], datetime],
    now: datetime | None,
) -> _Result | None:
    """Send one claimed item and record the result; None when it is no longer ours."""
    attempt = _begin_attempt(session_factory, item_id, claimed_until, clock)
    if attempt is None:
        return None
    # What this attempt found out, to write down: again on a fresh connection when the first is
    # lost (a restarted server, a terminated backend), or the next attempt, after the claim,
    # would have to treat a known outcome as unknown (and a delivered item would go again).
    outcome: Callable[[OutboxItem], _Result | None] = _call_off
    try:
        with session_factory() as session, session.begin():
            # Locked while it is sent: an erasure waits for the outcome instead of cancelling
            # an item that is going out.
            item = session.get(OutboxItem, item_id, with_for_update=True)
            if not _ours(item, attempt.claimed_until):
                return None
            if attempt.seconds_since() > START_WITHIN.total_seconds():
                # Too slow to get here (a lock, a stalled database): the rest of the claim may
                # not cover a whole send, so this attempt is called off before anything goes out.
                return outcome(item)
            error: Exception | None = None
            before = item.payload  # senders replace the payload, never change it in place
            deadline = _send_by.set(attempt.began + SEND_WITHIN.total_seconds())
            try:
                send(item)
            except (TransientDeliveryError, PermanentDeliveryError) as exc:
                error = exc
            except SQLAlchemyError:
                # Senders touch the database only to record what they sent (after sending).
                # The failed statement rolled the transaction back and may have expired the
                # item: take the payload as the sender left it without asking the database.
                outcome = _finish(None, dict(inspect(item).dict.get("payload") or before), now)
                raise
            except Exception as exc:  # an unexpected sender bug must not lose the item
                error = TransientDeliveryError(f"{type(exc).__name__}: {exc}")
            finally:
                _send_by.reset(deadline)
            outcome = _finish(error, dict(item.payload), now)
            return outcome(item)
    except SQLAlchemyError:
        log.warning("outbox item %d: recording the attempt failed; recording it afresh", item_id)
    return _record_afresh(session_factory, item_id, attempt, outcome)


def _ours(item: OutboxItem | None, claimed_until: datetime | None) -> TypeIs[OutboxItem]:
    """Whether the item is still pending under the claim this worker holds: a claim that
    expired may have been taken by another worker, which then sends the item instead."""
    return item is not None and item.status == "pending" and item.claimed_until == claimed_until


def _call_off(item: OutboxItem) -> None:
    """Nothing went out: the item is free for the next round, the attempt uncounted."""
    item.claimed_until = item.sending_at = item.sending_by = None
    item.attempts -= 1


def _finish(
    error: Exception | None, payload: dict[str, Any], now: datetime | None
) -> Callable[[OutboxItem], _Result]:
    def write(item: OutboxItem) -> _Result:
        item.payload = payload  # what the sender left: a Slack post's place, say
        record_result(item, error, now=now)
        return _Result(error, gave_up=item.status == "dead")

    return write


def _begin_attempt(
    session_factory: Callable[[], Session],
    item_id: int,
    claimed_until: datetime | None,
    clock: Callable[[], datetime],
) -> _Attempt | None:
    """Renew the claim and write the attempt down as sending, committed before it goes out;
    None when the item is no longer ours."""
    with session_factory() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            wait = int(LOCK_WAIT.total_seconds() * 1000)
            session.execute(text(f"SET LOCAL lock_timeout = {wait}"))  # this transaction only
        try:
            item = session.get(OutboxItem, item_id, with_for_update=True)
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                # Locked past LOCK_WAIT: another worker took it after our claim expired and is
                # sending it. (The failed statement ends the transaction: it is rolled back.)
                session.rollback()
                return None
            raise
        if not _ours(item, claimed_until):
            return None
        began, at = time.monotonic(), clock()
        if item.sending_at is not None:
            log.warning(
                "outbox item %d (%s): attempt by %s at %s has no recorded result; its outcome "
                "is unknown",
                item.id,
                item.channel,
                item.sending_by,
                item.sending_at.isoformat(),
            )
        item.claimed_until = at + CLAIM_FOR
        item.sending_at, item.sending_by = at, sender_name()
        item.attempts += 1
        return _Attempt(claimed_until=item.claimed_until, began=began)


def _record_afresh(
    session_factory: Callable[[], Session],
    item_id: int,
    attempt: _Attempt,
    outcome: Callable[[OutboxItem], _Result | None],
) -> _Result | None:
    # Giving up on a delivered item means sending it again once the claim expires, so keep
    # trying while the claim (renewed to cover this) keeps it ours: a database restart takes a
    # while.
    limit = (START_WITHIN + SEND_WITHIN + RECORD_WITHIN).total_seconds()
    pause = 0.2
    while True:
        try:
            with session_factory() as session, session.begin():
                item = session.get(OutboxItem, item_id, with_for_update=True)
                if not _ours(item, attempt.claimed_until):
                    return None
                return outcome(item)
        except SQLAlchemyError:
            if attempt.seconds_since() + pause > limit:
                raise
            time.sleep(pause)
            pause = min(pause + 0.2, 3.0)


def depth(session: Session) -> int:
    return len(session.scalars(select(OutboxItem.id).where(OutboxItem.status == "pending")).all())
