"""The SLA sweep with frozen clocks: the chain fires step by step, once, and never twice when two
workers sweep the same database."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.app import AppConfig
from bot.store.models import Ticket, TicketEvent
from bot.store.models.outbox import OutboxItem
from bot.store.models.sla import PendingEscalation
from bot.tickets.escalation import chain_recipients, steps_due, sweep
from tests.tickets.conftest import NOW, FileFn, verdict

DUE = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # dev's first response target for NOW


def _keys(db: Session) -> list[str]:
    query = select(OutboxItem.dedupe_key).where(OutboxItem.dedupe_key.like("escalation:%:_:%"))
    return sorted(db.scalars(query))


def test_chain_fires_step_by_step_each_step_once(
    db: Session, sessions: sessionmaker[Session], config: AppConfig, file: FileFn
) -> None:
    [filed] = file(verdict("voucher-missing"))
    tid = filed.ticket_id

    def at(when: datetime) -> list[tuple[int, str, str]]:
        return [(n.level, n.recipient, n.reason) for n in sweep(sessions, config, now=when).steps]

    assert at(DUE - timedelta(hours=3)) == []
    assert at(DUE - timedelta(minutes=90)) == [
        (1, "dev", "first response due in 1h 30m (2026-11-25 22:00 UTC)")
    ]
    assert at(DUE - timedelta(minutes=60)) == []  # already told
    assert at(DUE + timedelta(minutes=5)) == [
        (2, "lena", "first response overdue by 5m (was due 2026-11-25 22:00 UTC)")
    ]
    assert at(DUE + timedelta(minutes=30)) == []
    # dev leads the vouchers team, so the team_lead step is skipped: the triage lead is next.
    assert at(DUE + timedelta(hours=2, minutes=5)) == [
        (3, "maria", "first response overdue by 2h 5m (was due 2026-11-25 22:00 UTC)")
    ]
    assert at(DUE + timedelta(days=3)) == []
    exhausted = db.get(Ticket, tid)
    assert exhausted is not None and exhausted.escalation_level == len(config.escalation.chain)
    assert _keys(db) == sorted(
        f"escalation:{tid}:{level}:{channel}"
        for level in (1, 2, 3)
        for channel in ("email", "slack")
    )
    events = db.scalars(select(TicketEvent).where(TicketEvent.action == "sla-escalation")).all()
    assert [(e.data["level"], e.data["to"]) for e in events] == [
        (1, "dev"),
        (2, "lena"),
        (3, "maria"),
    ]


def test_a_late_worker_catches_up_one_step_per_sweep(
    sessions: sessionmaker[Session], config: AppConfig, file: FileFn
) -> None:
    file(verdict("voucher-missing"))
    late = DUE + timedelta(days=1)
    assert [n.recipient for n in sweep(sessions, config, now=late).steps] == ["dev"]
    assert [n.recipient for n in sweep(sessions, config, now=late).steps] == ["lena"]


def test_paused_and_answered_tickets_are_not_swept(
    sessions: sessionmaker[Session], config: AppConfig, file: FileFn
) -> None:
    file(verdict("invitation-not-received", action="ask-id"))
    file(verdict("voucher-scope", action="answer", answer="Any exam."))
    assert sweep(sessions, config, now=NOW + timedelta(days=10)).steps == []


def test_chain_skips_people_it_cannot_resolve(config: AppConfig) -> None:
    assert chain_recipients(config, Ticket(owner="lena", team="registrations")) == [
        "lena", "dev", "maria",
    ]  # fmt: skip
    assert chain_recipients(config, Ticket(owner=None)) == ["maria"]
    assert chain_recipients(config, Ticket(owner="maria", team="exams")) == ["maria"]


@pytest.mark.parametrize(
    ("minutes", "steps"), [(-121, 0), (-120, 1), (-1, 1), (0, 2), (119, 2), (120, 3), (600, 7)]
)
def test_steps_due_around_the_deadline(minutes: int, steps: int) -> None:
    now = DUE + timedelta(minutes=minutes)
    assert steps_due(due=DUE, now=now, due_soon=timedelta(hours=2)) == steps


def test_two_workers_sweeping_at_once_notify_nothing_twice(
    engine: Engine, sessions: sessionmaker[Session], config: AppConfig, file: FileFn, db: Session
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one worker: concurrent sweeps need PostgreSQL row locks")
    for n in range(60):
        file(verdict("voucher-missing"), candidate=f"10000{n:02d}")
    start = threading.Barrier(2)
    results: list[int] = []

    def worker() -> None:
        start.wait()
        # Due within the hour: exactly one step (the owner) is due for every ticket.
        results.append(len(sweep(sessions, config, now=DUE - timedelta(hours=1), batch=7).steps))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 60
    events = db.scalars(select(TicketEvent).where(TicketEvent.action == "sla-escalation")).all()
    assert len({(e.ticket_id, e.data["level"]) for e in events}) == len(events) == 60
    assert set(db.scalars(select(Ticket.escalation_level))) == {1}
    # Steps a worker fired after the other had summarised Dev this minute wait for the next
    # sweep; after it, every step has been told exactly once, by a summary or a notice.
    assert sweep(sessions, config, now=DUE - timedelta(minutes=59)).steps == []
    assert db.scalar(select(func.count()).select_from(PendingEscalation)) == 0
    for channel in ("slack", "email"):
        query = select(OutboxItem).where(
            OutboxItem.channel == channel, OutboxItem.dedupe_key.not_like("%:route-%")
        )
        told = db.scalars(query).all()
        summaries = [i for i in told if i.kind == "sla-summary"]
        minutes = [i.dedupe_key.split(":")[2] for i in summaries]
        assert len(minutes) == len(set(minutes))  # at most one summary per sweep minute
        notices = [i for i in told if i.kind == "escalation"]
        assert sum(i.payload["total"] for i in summaries) + len(notices) == 60
    assert len(_keys(db)) == len({k.rsplit(":", 1)[0] for k in _keys(db)}) * 2
