"""A sweep that finds many tickets due for one person tells them once: one summary per channel
(counts, the worst cases, their queue), while every ticket's step is still recorded once. A
person with few due tickets still gets a notice per ticket."""

import threading
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.config.app import AppConfig
from bot.config.settings import Settings
from bot.delivery.outbox import deliver_due
from bot.store.models import Ticket, TicketEvent
from bot.store.models.outbox import OutboxItem
from bot.store.models.sla import PendingEscalation
from bot.tickets.escalation import fire_due_steps, sweep
from bot.tickets.sweep_summary import Told, notify_pending, tell
from handlers.email.outbound import make_sender
from tests.tickets.conftest import NOW, FileFn, verdict

LATE = NOW + timedelta(days=60)  # every ticket below is long overdue by then
# Dev's first response target for a ticket filed at NOW is 22:00: an hour before, only the
# chain's first step (the owner) is due, so a further sweep then has nothing new to fire.
SOON = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)


def file_many(file: FileFn, count: int, *, first: int = 0, spread: bool = True) -> list[int]:
    """`count` vouchers tickets for Dev; with `spread`, filed a day apart, the first earliest
    (so it is the most overdue), else all at NOW."""
    ids = []
    for n in range(first, first + count):
        at = NOW - timedelta(days=first + count - n) if spread else NOW
        [filed] = file(verdict("voucher-missing"), candidate=f"{2000000 + n}", at=at)
        ids.append(filed.ticket_id)
    return ids


def outbox(db: Session) -> list[OutboxItem]:
    """What the sweeps enqueued (filing told each owner of their new ticket already)."""
    db.expire_all()
    items = db.scalars(select(OutboxItem).order_by(OutboxItem.id))
    return [item for item in items if ":route-" not in item.dedupe_key]


def steps(db: Session) -> list[tuple[int, int]]:
    query = select(TicketEvent).where(TicketEvent.action == "sla-escalation")
    return sorted((e.ticket_id, e.data["level"]) for e in db.scalars(query))


def email_texts(settings: Settings, sessions: sessionmaker[Session]) -> list[EmailMessage]:
    sent: list[EmailMessage] = []
    senders = {"email": make_sender(settings, send=sent.append)}
    while deliver_due(sessions, senders, now=LATE, limit=500) != (0, 0):
        pass
    return sent


def test_fifty_due_tickets_make_one_summary_per_channel_and_fifty_steps(
    db: Session, sessions: sessionmaker[Session], settings: Settings, file: FileFn
) -> None:
    ids = file_many(file, 50)
    report = sweep(sessions, settings.app, now=LATE)
    assert len(report.steps) == 50 and {s.recipient for s in report.steps} == {"dev"}
    assert steps(db) == [(tid, 1) for tid in ids]
    assert set(db.scalars(select(Ticket.escalation_level))) == {1}
    items = outbox(db)
    assert [(i.channel, i.kind, i.recipient) for i in items] == [
        ("slack", "sla-summary", "U02DEV"),
        ("email", "sla-summary", "dev.patel@desk.example.org"),
    ]
    assert [i.dedupe_key for i in items] == [
        f"sla-summary:dev:{LATE:%Y%m%dT%H%M}:slack", f"sla-summary:dev:{LATE:%Y%m%dT%H%M}:email",
    ]  # fmt: skip
    data = items[0].payload
    assert (data["total"], data["overdue"], data["due_soon"], data["more"]) == (50, 50, 0, 40)
    assert [case["ticket_id"] for case in data["worst"]] == ids[:10]  # most overdue first
    [mail] = [m for m in email_texts(settings, sessions) if m["Subject"].startswith("SLA:")]
    assert mail["To"] == "dev.patel@desk.example.org"
    assert mail["Subject"] == "SLA: 50 tickets need you (50 overdue)"
    body = mail.get_content()
    assert body.index(f"TRI-{ids[0]} voucher-missing (normal)") < body.index(f"TRI-{ids[1]} ")
    assert f"TRI-{ids[10]} " not in body
    assert "... and 40 more." in body
    assert "Your queue: triage tickets list --owner dev" in body


@pytest.mark.parametrize(("due", "notices"), [(2, 4), (3, 6)])
def test_a_person_with_few_due_tickets_gets_a_notice_per_ticket(
    db: Session, sessions: sessionmaker[Session], config: AppConfig, file: FileFn, due: int,
    notices: int,
) -> None:  # fmt: skip
    ids = file_many(file, due)
    assert len(sweep(sessions, config, now=LATE).steps) == due
    assert sorted(i.dedupe_key for i in outbox(db)) == sorted(
        f"escalation:{tid}:1:{channel}" for tid in ids for channel in ("slack", "email")
    )
    assert len(outbox(db)) == notices


def test_one_over_the_threshold_makes_a_summary(
    db: Session, sessions: sessionmaker[Session], config: AppConfig, file: FileFn
) -> None:
    file_many(file, config.escalation.summary_threshold + 1)
    sweep(sessions, config, now=LATE)
    assert {i.kind for i in outbox(db)} == {"sla-summary"}


def test_the_threshold_comes_from_app_yaml(
    db: Session, sessions: sessionmaker[Session], config: AppConfig, file: FileFn
) -> None:
    always = config.model_copy(
        update={"escalation": config.escalation.model_copy(update={"summary_threshold": 0})}
    )
    file_many(file, 1)
    sweep(sessions, always, now=LATE)
    assert [(i.kind, i.payload["total"]) for i in outbox(db) if i.channel == "slack"] == [
        ("sla-summary", 1)
    ]


def test_each_person_is_told_their_own_way_in_one_sweep(
    db: Session, sessions: sessionmaker[Session], config: AppConfig, file: FileFn
) -> None:
    file_many(file, 20)  # dev's vouchers
    lena = [file(verdict("promo-code-rejected"), candidate=f"300000{n}")[0].ticket_id
            for n in range(2)]  # fmt: skip
    report = sweep(sessions, config, now=LATE)
    assert sorted((t.recipient, t.steps, t.summary) for t in report.told) == [
        ("dev", 20, True), ("lena", 2, False),
    ]  # fmt: skip
    assert sorted((i.kind, i.recipient) for i in outbox(db)) == sorted(
        [("sla-summary", "U02DEV"), ("sla-summary", "dev.patel@desk.example.org")]
        + [("escalation", "U03LENA"), ("escalation", "lena.fischer@desk.example.org")] * 2
    )
    assert {i.ticket_id for i in outbox(db) if i.kind == "escalation"} == set(lena)


def test_a_second_sweep_sends_nothing_new(
    db: Session, sessions: sessionmaker[Session], config: AppConfig, file: FileFn
) -> None:
    file_many(file, 30, spread=False)
    assert len(sweep(sessions, config, now=SOON).steps) == 30
    before = (len(outbox(db)), steps(db))
    assert before[0] == 2
    for when in (SOON, SOON + timedelta(seconds=30), SOON + timedelta(minutes=5)):
        again = sweep(sessions, config, now=when)
        assert (again.steps, again.told) == ([], [])
    assert (len(outbox(db)), steps(db)) == before


def test_the_next_steps_come_as_the_next_summary(
    db: Session, sessions: sessionmaker[Session], config: AppConfig, file: FileFn
) -> None:
    file_many(file, 30)
    first = sweep(sessions, config, now=LATE)
    second = sweep(sessions, config, now=LATE + timedelta(minutes=1))  # the backup's turn
    assert [(t.recipient, t.steps) for t in first.told] == [("dev", 30)]
    assert [(t.recipient, t.steps) for t in second.told] == [("lena", 30)]
    assert len(steps(db)) == 60
    assert [i.recipient for i in outbox(db) if i.channel == "slack"] == ["U02DEV", "U03LENA"]


def test_in_small_batches_each_ticket_still_climbs_one_step_per_sweep(
    db: Session, sessions: sessionmaker[Session], config: AppConfig, file: FileFn
) -> None:
    """Many batches (and, on PostgreSQL, two lanes of them): every ticket visited once."""
    ids = file_many(file, 30)
    assert len(sweep(sessions, config, now=LATE, batch=4).steps) == 30
    assert len(sweep(sessions, config, now=LATE + timedelta(minutes=1), batch=4).steps) == 30
    assert steps(db) == sorted((tid, level) for tid in ids for level in (1, 2))


def test_a_crash_before_the_summary_is_caught_up_by_the_next_sweep(
    db: Session, sessions: sessionmaker[Session], settings: Settings, file: FileFn
) -> None:
    file_many(file, 50, spread=False)
    # The batches commit, then the worker dies before telling anyone.
    assert len(fire_due_steps(sessions, settings.app, now=SOON, batch=7)) == 50
    assert outbox(db) == []
    assert db.scalar(select(func.count()).select_from(PendingEscalation)) == 50
    restarted = sweep(sessions, settings.app, now=SOON + timedelta(minutes=1))
    assert restarted.steps == []  # nothing fires twice
    assert [(t.recipient, t.steps, t.deliveries) for t in restarted.told] == [("dev", 50, 2)]
    assert [i.payload["total"] for i in outbox(db)] == [50, 50]
    assert len(steps(db)) == 50
    assert db.scalar(select(func.count()).select_from(PendingEscalation)) == 0


def test_steps_left_after_this_minutes_summary_wait_for_the_next_sweep(
    db: Session, sessions: sessionmaker[Session], config: AppConfig, file: FileFn
) -> None:
    """What a second worker sweeping in the same minute finds: Dev was summarised already."""
    file_many(file, 10, spread=False)
    sweep(sessions, config, now=SOON)
    file_many(file, 5, first=10, spread=False)  # more come due before the minute is out
    late_worker = sweep(sessions, config, now=SOON + timedelta(seconds=20))
    assert (len(late_worker.steps), late_worker.told) == (5, [])
    assert len(outbox(db)) == 2  # still one summary per channel this minute
    next_minute = sweep(sessions, config, now=SOON + timedelta(minutes=1))
    assert (next_minute.steps, [(t.recipient, t.steps) for t in next_minute.told]) == (
        [], [("dev", 5)],
    )  # fmt: skip
    assert sorted(i.payload["total"] for i in outbox(db)) == [5, 5, 10, 10]


def _wait_until_blocked(engine: Engine) -> None:
    """Until some session of this database waits on a row lock (the second worker)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with engine.connect() as connection:
        for _ in range(400):
            if connection.scalar(query):
                return
            time.sleep(0.05)
    raise AssertionError("the second worker never waited for the first")


@pytest.mark.parametrize("more", [0, 5])
def test_a_worker_telling_dev_holds_the_other_off_until_it_commits(
    engine: Engine, db: Session, sessions: sessionmaker[Session], config: AppConfig,
    file: FileFn, more: int,
) -> None:  # fmt: skip
    """Worker A is summarising Dev; worker B (having fired `more` further steps for Dev) tries
    to tell Dev too: it waits for A's transaction, then tells nothing twice. Steps B fired
    after A took Dev's wait for the next minute's sweep."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: concurrent sweeps need PostgreSQL row locks")
    file_many(file, 10, spread=False)
    fire_due_steps(sessions, config, now=SOON)
    file_many(file, more, first=10, spread=False)
    results: list[list[Told]] = []

    def worker_b() -> None:
        fire_due_steps(sessions, config, now=SOON)
        results.append(notify_pending(sessions, config, now=SOON))

    with sessions() as a, a.begin():
        told = tell(a, config, "dev", now=SOON)
        assert told is not None and (told.steps, told.summary) == (10, True)
        b = threading.Thread(target=worker_b)
        b.start()
        _wait_until_blocked(engine)
    b.join()
    assert results == [[]]
    assert [i.payload["total"] for i in outbox(db)] == [10, 10]
    assert db.scalar(select(func.count()).select_from(PendingEscalation)) == more
    later = sweep(sessions, config, now=SOON + timedelta(minutes=1))
    assert [(t.recipient, t.steps) for t in later.told] == ([("dev", more)] if more else [])
    assert len(steps(db)) == 10 + more
