"""The outbox delivers each message once, retries failures with back-off and loses nothing."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery.outbox import (
    PermanentDeliveryError,
    TransientDeliveryError,
    deliver_due,
    depth,
    enqueue,
)
from bot.store.models.outbox import OutboxItem

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def add(db: Session, key: str = "k1") -> bool:
    added = enqueue(
        db,
        channel="email",
        kind="ack",
        recipient="a@example.org",
        payload={"subject": "hi"},
        dedupe_key=key,
        now=NOW,
    )
    db.commit()
    return added


def test_same_key_is_enqueued_once(db: Session) -> None:
    assert add(db) is True
    assert add(db) is False
    assert depth(db) == 1


def test_failed_delivery_is_retried_after_backoff(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        add(db)
    calls: list[str] = []

    def flaky(item: OutboxItem) -> None:
        calls.append(item.recipient)
        if len(calls) == 1:
            raise TransientDeliveryError("smtp down")

    assert deliver_due(sessions, {"email": flaky}, now=NOW) == (0, 1)
    assert deliver_due(sessions, {"email": flaky}, now=NOW + timedelta(seconds=5)) == (0, 0)
    assert deliver_due(sessions, {"email": flaky}, now=NOW + timedelta(seconds=31)) == (1, 0)
    with sessions() as db:
        item = db.scalars(select(OutboxItem)).one()
        assert item.status == "sent" and item.attempts == 2 and depth(db) == 0


def test_rate_limit_waits_for_retry_after(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        add(db)

    def limited(item: OutboxItem) -> None:
        raise TransientDeliveryError("429", retry_after=120)

    deliver_due(sessions, {"email": limited}, now=NOW)
    with sessions() as db:
        item = db.scalars(select(OutboxItem)).one()
        assert item.next_attempt_at == NOW + timedelta(seconds=120)


def test_permanent_failure_is_kept_as_dead_not_dropped(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        add(db)

    def refuse(item: OutboxItem) -> None:
        raise PermanentDeliveryError("no such user")

    deliver_due(sessions, {"email": refuse}, now=NOW)
    with sessions() as db:
        item = db.scalars(select(OutboxItem)).one()
        assert item.status == "dead" and "no such user" in (item.last_error or "")


def test_items_for_other_channels_wait_for_their_sender(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        add(db)
    assert deliver_due(sessions, {"slack": lambda item: None}, now=NOW) == (0, 0)
    with sessions() as db:
        assert depth(db) == 1


def test_a_delivery_whose_record_fails_after_sending_is_not_sent_again(
    sessions: sessionmaker[Session],
) -> None:
    """The sender sent, then its write of the sent copy failed (a terminated connection): the
    failed flush expires the item, yet the delivery is recorded and never repeated."""
    with sessions() as db:
        add(db)
    sent: list[int] = []

    def send_then_fail_to_store(item: OutboxItem) -> None:
        sent.append(item.id)
        item.payload = {**item.payload, "posted": {"ts": "1.2"}}
        session = Session.object_session(item)
        assert session is not None
        twin = {c: getattr(item, c) for c in ("channel", "kind", "recipient", "dedupe_key")}
        session.add(OutboxItem(**twin, payload={}, next_attempt_at=NOW))
        session.flush()  # the same dedupe key: refused, as a lost connection would be

    assert deliver_due(sessions, {"email": send_then_fail_to_store}, now=NOW) == (1, 0)
    later = NOW + timedelta(minutes=10)
    assert deliver_due(sessions, {"email": send_then_fail_to_store}, now=later) == (0, 0)
    assert len(sent) == 1
    with sessions() as db:
        item = db.scalars(select(OutboxItem)).one()
        assert item.status == "sent" and item.attempts == 1
