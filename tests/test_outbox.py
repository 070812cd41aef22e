"""The outbox delivers each message once, retries failures with back-off and loses nothing."""

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import outbox
from bot.delivery.outbox import (
    CLAIM_FOR,
    RECORD_WITHIN,
    SEND_WITHIN,
    START_WITHIN,
    PermanentDeliveryError,
    TransientDeliveryError,
    claim,
    deliver_due,
    depth,
    enqueue,
    sender_name,
    time_left,
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


def test_an_attempt_is_written_down_as_sending_before_it_goes_out(
    sessions: sessionmaker[Session],
) -> None:
    """Another process reading the row while the delivery goes out sees who is sending it and
    since when: if that sender dies unrecorded, the outcome is known to be unknown."""
    with sessions() as db:
        add(db)
    seen: list[tuple[datetime | None, str | None, int]] = []

    def look_from_elsewhere(item: OutboxItem) -> None:
        with sessions() as other:
            row = other.get(OutboxItem, item.id)
            assert row is not None
            seen.append((row.sending_at, row.sending_by, row.attempts))

    assert deliver_due(sessions, {"email": look_from_elsewhere}, now=NOW) == (1, 0)
    [(sending_at, sending_by, attempts)] = seen
    assert sending_at is not None and NOW <= sending_at < NOW + timedelta(seconds=5)
    assert sending_by == sender_name() and attempts == 1
    with sessions() as db:
        item = db.scalars(select(OutboxItem)).one()
        assert item.sending_at is None and item.sending_by is None and item.status == "sent"


def test_a_live_senders_claim_outlasts_the_longest_it_may_take(
    sessions: sessionmaker[Session],
) -> None:
    """Each attempt renews its claim when it starts (not when the batch was claimed), to cover
    the sender's time limit and the recording of its result: nobody else can take it before,
    though they may take the batch's items still waiting."""
    with sessions() as db:
        add(db, "first")
        add(db, "second")
    claims: dict[str, datetime | None] = {}
    others: dict[str, list[str]] = {}

    def slow_first(item: OutboxItem) -> None:
        if item.dedupe_key == "first":
            time.sleep(1.0)  # the second item's attempt starts a second after the batch's claim
        assert 0 < time_left() <= SEND_WITHIN.total_seconds()
        with sessions() as other:
            row = other.get(OutboxItem, item.id)
            assert row is not None
            claims[item.dedupe_key] = row.claimed_until
            latest = NOW + START_WITHIN + SEND_WITHIN + RECORD_WITHIN + timedelta(seconds=1)
            others[item.dedupe_key] = [i.dedupe_key for i in claim(other, now=latest)]
            other.rollback()  # only looking

    assert deliver_due(sessions, {"email": slow_first}, now=NOW) == (2, 0)
    assert others == {"first": ["second"], "second": []}
    assert claims["second"] is not None
    assert claims["second"] >= NOW + timedelta(seconds=1) + CLAIM_FOR


def test_a_retry_after_an_unrecorded_attempt_says_its_outcome_was_unknown(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    """The first sender died between sending and recording (here: an exception no handler
    catches, standing in for SIGKILL); after its claim, the next attempt is told so."""
    with sessions() as db:
        add(db)

    class Killed(BaseException):
        pass

    def die(item: OutboxItem) -> None:
        raise Killed

    with pytest.raises(Killed):
        deliver_due(sessions, {"email": die}, now=NOW)
    attempts: list[int] = []

    def note(item: OutboxItem) -> None:
        attempts.append(item.attempts)

    assert deliver_due(sessions, {"email": note}, now=NOW) == (0, 0)  # the dead sender's claim
    later = NOW + CLAIM_FOR + timedelta(seconds=1)
    with caplog.at_level(logging.WARNING, logger="triage.outbox"):
        assert deliver_due(sessions, {"email": note}, now=later) == (1, 0)
    assert attempts == [2]
    assert f"attempt by {sender_name()}" in caplog.text and "outcome is unknown" in caplog.text


def test_an_item_locked_for_a_moment_by_another_workers_claim_goes_out_in_this_round(
    sessions: sessionmaker[Session], engine
) -> None:
    """Another worker's claim query locks the rows it looks at until it commits, ours among
    them when its snapshot saw them free: the item waits that moment out instead of being left
    for its batch claim to run out (a minute)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite locks the whole database)")
    with sessions() as db:
        add(db, "k1")
        add(db, "k2")
    locked, release = threading.Event(), threading.Event()

    def claim_elsewhere(item_id: int) -> None:
        with engine.connect() as connection, connection.begin():
            connection.execute(
                select(OutboxItem.id).where(OutboxItem.id == item_id).with_for_update()
            )
            locked.set()
            release.wait(10)
            time.sleep(0.3)  # the other claim commits a moment after ours begins the attempt

    sent: list[int] = []
    other: list[threading.Thread] = []

    def send(item: OutboxItem) -> None:
        sent.append(item.id)
        if len(sent) == 1:  # while the first goes out, another worker's claim locks the next
            other.append(threading.Thread(target=claim_elsewhere, args=(item.id + 1,)))
            other[0].start()
            assert locked.wait(10)
            release.set()

    assert deliver_due(sessions, {"email": send}, now=NOW) == (2, 0)
    other[0].join()
    assert sent == [1, 2]


def test_an_item_another_worker_holds_is_left_to_it_after_a_short_wait(
    sessions: sessionmaker[Session], engine, monkeypatch
) -> None:
    """A lock held past LOCK_WAIT is a sender's (it took the item after our claim ran out): the
    attempt gives up on the item, and the round goes on with the rest."""
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite locks the whole database)")
    monkeypatch.setattr(outbox, "LOCK_WAIT", timedelta(seconds=0.3))
    with sessions() as db:
        add(db, "k1")
        add(db, "k2")
        add(db, "k3")
    locked, done = threading.Event(), threading.Event()

    def send_elsewhere() -> None:
        with engine.connect() as connection, connection.begin():
            connection.execute(select(OutboxItem.id).where(OutboxItem.id == 2).with_for_update())
            locked.set()
            done.wait(10)

    sent: list[int] = []
    other = threading.Thread(target=send_elsewhere)

    def send(item: OutboxItem) -> None:
        sent.append(item.id)
        if item.id == 1:
            other.start()
            assert locked.wait(10)

    try:  # (waiting for the lock would wait for `done`, and send item 2 after all)
        assert deliver_due(sessions, {"email": send}, now=NOW) == (2, 0)
    finally:
        done.set()
        other.join()
    assert sent == [1, 3]
    with sessions() as db:
        assert db.get(OutboxItem, 2).status == "pending"
