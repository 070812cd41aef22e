"""The outbox: durable delivery of outgoing messages with retries and back-off.

Producers `enqueue` inside the same transaction as the change that caused the message, so a
ticket and its notification commit together. Workers `claim` due items (row locks with
SKIP LOCKED on PostgreSQL, so two workers never take the same item), hand each to the sender for
its channel, and record the result.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.ops import metrics
from bot.store.models.base import utcnow
from bot.store.models.outbox import OutboxItem

MAX_ATTEMPTS = 12
CLAIM_FOR = timedelta(minutes=2)


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
        item.claimed_until = now + CLAIM_FOR
    return items


def record_result(
    item: OutboxItem, error: Exception | None, *, now: datetime | None = None
) -> None:
    now = now or utcnow()
    item.claimed_until = None
    item.attempts += 1
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
    loses nothing: unfinished claims expire and the items are taken again.
    """
    sent = failed = 0
    for channel, send in senders.items():
        with session_factory() as session, session.begin():
            claims = {
                item.id: item.claimed_until
                for item in claim(session, channel=channel, limit=limit, now=now)
            }
        for item_id, claimed_until in claims.items():
            result = _deliver_one(session_factory, send, item_id, claimed_until, now=now)
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


def _deliver_one(
    session_factory: Callable[[], Session],
    send: Sender,
    item_id: int,
    claimed_until: datetime | None,
    *,
    now: datetime | None,
) -> _Result | None:
    """Send one claimed item and record the result; None when it is no longer ours."""
    delivered_payload: dict[str, Any] | None = None
    try:
        with session_factory() as session, session.begin():
            # Locked while it is sent, and still ours: a claim that expired during a slow
            # batch may have been taken by another worker, which then sends it instead.
            item = session.get(OutboxItem, item_id, with_for_update=True)
            if item is None or item.status != "pending" or item.claimed_until != claimed_until:
                return None
            error: Exception | None = None
            before = item.payload  # senders replace the payload, never change it in place
            try:
                send(item)
            except (TransientDeliveryError, PermanentDeliveryError) as exc:
                error = exc
            except SQLAlchemyError:
                # Senders touch the database only to record what they sent (after sending).
                # The failed statement rolled the transaction back and may have expired the
                # item: take the payload as the sender left it without asking the database.
                delivered_payload = dict(inspect(item).dict.get("payload") or before)
                raise
            except Exception as exc:  # an unexpected sender bug must not lose the item
                error = TransientDeliveryError(f"{type(exc).__name__}: {exc}")
            if error is None:
                delivered_payload = dict(item.payload)
            record_result(item, error, now=now)
            return _Result(error, gave_up=item.status == "dead")
    except SQLAlchemyError:
        if delivered_payload is None:
            raise  # nothing went out: the claim expires and the item is taken again
    # It went out, but the connection was lost before the result was committed (a restarted
    # server, a terminated backend): record it on a fresh connection, or it would be sent again.
    _record_delivered(session_factory, item_id, claimed_until, delivered_payload, now=now)
    return _Result(None)


def _record_delivered(
    session_factory: Callable[[], Session],
    item_id: int,
    claimed_until: datetime | None,
    payload: dict[str, Any],
    *,
    now: datetime | None,
    attempts: int = 24,
) -> None:
    # Giving up means sending it again once the claim expires, so keep trying for about a
    # minute (a database restart), well within the claim (CLAIM_FOR) that keeps it ours.
    for attempt in range(attempts):
        try:
            with session_factory() as session, session.begin():
                item = session.get(OutboxItem, item_id, with_for_update=True)
                if (
                    item is not None
                    and item.status == "pending"
                    and item.claimed_until == claimed_until
                ):
                    item.payload = payload
                    record_result(item, None, now=now)
            return
        except SQLAlchemyError:
            if attempt == attempts - 1:
                raise
            time.sleep(min(0.2 * (attempt + 1), 3.0))


def depth(session: Session) -> int:
    return len(session.scalars(select(OutboxItem.id).where(OutboxItem.status == "pending")).all())
