"""Several workers deliver one outbox: an item is sent by whoever holds its claim, once."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, object_session, sessionmaker

from bot.delivery.outbox import (
    CLAIM_FOR,
    RECORD_WITHIN,
    SEND_WITHIN,
    START_WITHIN,
    TransientDeliveryError,
    claim,
    deliver_due,
    enqueue,
)
from bot.store.models.outbox import OutboxItem

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_an_item_reclaimed_during_a_slow_batch_is_sent_once(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one worker: concurrent claims need PostgreSQL row locks")
    with sessions() as session, session.begin():
        for key in ("first", "second"):
            enqueue(session, channel="email", kind="ack", recipient="a@example.org",
                    payload={}, dedupe_key=key, now=NOW)  # fmt: skip
    sent: list[str] = []
    later = NOW + CLAIM_FOR + timedelta(seconds=1)

    def slow_send(item: OutboxItem) -> None:
        sent.append(item.dedupe_key)
        if item.dedupe_key == "first":
            # This send outlasts the batch's claim: another worker claims what is left.
            with sessions() as other, other.begin():
                assert [i.dedupe_key for i in claim(other, now=later)] == ["second"]

    deliver_due(sessions, {"email": slow_send}, now=NOW)
    assert sent == ["first"]  # "second" belongs to the other worker now
    deliver_due(sessions, {"email": slow_send}, now=later + CLAIM_FOR + timedelta(seconds=1))
    assert sent == ["first", "second"]
    with sessions() as session:
        assert {i.status for i in session.scalars(select(OutboxItem))} == {"sent"}


def _terminate_the_connection_of(engine: Engine, item: OutboxItem) -> None:
    """What `pg_terminate_backend` does to a worker, done to the session holding `item`."""
    session = object_session(item)
    assert session is not None
    pid = session.scalar(select(func.pg_backend_pid()))
    with engine.connect() as admin:
        admin.execute(select(func.pg_terminate_backend(pid)))
        admin.commit()


def _one_email_on_postgresql(engine: Engine, sessions: sessionmaker[Session]) -> None:
    """One email queued, on PostgreSQL (a terminated backend is what these tests are about)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("terminating a backend needs PostgreSQL")
    with sessions() as session, session.begin():
        enqueue(session, channel="email", kind="ack", recipient="a@example.org",
                payload={}, dedupe_key="once", now=NOW)  # fmt: skip


@pytest.mark.parametrize("records_in_send", [False, True])
def test_a_delivery_whose_connection_dies_before_commit_is_not_sent_again(
    engine: Engine, sessions: sessionmaker[Session], records_in_send: bool
) -> None:
    _one_email_on_postgresql(engine, sessions)
    sent: list[int] = []

    def send_then_lose_the_connection(item: OutboxItem) -> None:
        sent.append(item.id)
        _terminate_the_connection_of(engine, item)
        if records_in_send:  # like the email sender storing the sent message
            session = object_session(item)
            assert session is not None
            session.execute(select(func.count()).select_from(OutboxItem))

    deliver_due(sessions, {"email": send_then_lose_the_connection}, now=NOW)
    later = NOW + CLAIM_FOR + timedelta(minutes=5)
    deliver_due(sessions, {"email": send_then_lose_the_connection}, now=later)
    assert len(sent) == 1
    with sessions() as session:
        assert session.scalars(select(OutboxItem.status)).one() == "sent"


def test_a_sender_whose_connection_dies_mid_send_keeps_its_claim_until_it_is_done(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """The row lock held while sending goes with a terminated connection: what keeps another
    worker off is the claim, renewed when the attempt started to outlast the longest a sender
    may take (its time limit) and the recording of its result."""
    _one_email_on_postgresql(engine, sessions)
    sent: list[str] = []
    longest = START_WITHIN + SEND_WITHIN + RECORD_WITHIN

    def other_worker_send(item: OutboxItem) -> None:
        sent.append("other worker")

    def slow_send_losing_its_connection(item: OutboxItem) -> None:
        sent.append("first")
        _terminate_the_connection_of(engine, item)
        # Still sending, as late as a sender may be: another worker looks for due items.
        deliver_due(sessions, {"email": other_worker_send}, now=NOW + longest)

    deliver_due(sessions, {"email": slow_send_losing_its_connection}, now=NOW)
    assert sent == ["first"]
    with sessions() as session:
        assert session.scalars(select(OutboxItem.status)).one() == "sent"


def test_a_failed_attempt_whose_connection_dies_is_recorded_as_failed_not_unknown(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """Recording a failure can lose its connection too: it is recorded afresh, so the retry
    comes after the back-off and knows nothing went out (not after the claim, as unknown)."""
    _one_email_on_postgresql(engine, sessions)

    def fail_and_lose_the_connection(item: OutboxItem) -> None:
        _terminate_the_connection_of(engine, item)
        raise TransientDeliveryError("smtp down")

    assert deliver_due(sessions, {"email": fail_and_lose_the_connection}, now=NOW) == (0, 1)
    with sessions() as session:
        item = session.scalars(select(OutboxItem)).one()
        assert item.status == "pending" and item.attempts == 1 and item.sending_at is None
        assert "smtp down" in (item.last_error or "") and item.claimed_until is None
        assert item.next_attempt_at == NOW + timedelta(seconds=30)
