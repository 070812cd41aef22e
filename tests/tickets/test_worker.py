"""The worker's database-backed schedule: due jobs run once, digests at local times, SIGTERM."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.app import AppConfig
from bot.ops.worker import next_digest_at, run_due_jobs
from bot.store.models.outbox import OutboxItem
from bot.store.models.sla import JobRun
from tests.conftest import ROOT

MONDAY_EARLY = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def test_due_jobs_run_once_and_digests_wait_for_their_local_time(
    sessions: sessionmaker[Session], config: AppConfig, db: Session
) -> None:
    assert set(run_due_jobs(sessions, config, now=MONDAY_EARLY)) == {"sla-sweep"}
    assert run_due_jobs(sessions, config, now=MONDAY_EARLY + timedelta(seconds=30)) == {}
    # 07:00 UTC is 08:00 in Berlin: Lena's digest; Maria's is at 08:30 London.
    at_seven = run_due_jobs(sessions, config, now=datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    assert set(at_seven) == {"sla-sweep", "digest:lena"}
    kinds = db.scalars(select(OutboxItem.dedupe_key).where(OutboxItem.kind == "digest")).all()
    assert sorted(kinds) == ["digest:lena:2026-11-23:email", "digest:lena:2026-11-23:slack"]
    row = db.get(JobRun, "digest:lena")
    assert row is not None and row.runs == 1
    assert row.next_run_at == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("owner", "after", "expected"),
    [
        (
            "dev",
            datetime(2026, 11, 27, 15, 0, tzinfo=UTC),
            datetime(2026, 11, 30, 14, 0, tzinfo=UTC),
        ),
        (
            "ananya",
            datetime(2026, 11, 27, 5, 0, tzinfo=UTC),
            datetime(2026, 11, 28, 4, 0, tzinfo=UTC),
        ),
        (
            "ananya",
            datetime(2026, 11, 28, 5, 0, tzinfo=UTC),
            datetime(2026, 11, 30, 4, 0, tzinfo=UTC),
        ),
        ("lena", datetime(2027, 3, 29, 5, 0, tzinfo=UTC), datetime(2027, 3, 29, 6, 0, tzinfo=UTC)),
    ],
)
def test_digests_follow_the_owners_days_and_time_zone(
    config: AppConfig, owner: str, after: datetime, expected: datetime
) -> None:
    schedule = next(d for d in config.digests if d.owner == owner)
    assert next_digest_at(schedule, config.owner(owner).timezone, after) == expected


def test_two_workers_never_run_the_same_due_job(
    engine: Engine, sessions: sessionmaker[Session], config: AppConfig, db: Session
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one worker: concurrent claims need PostgreSQL row locks")
    run_due_jobs(sessions, config, now=MONDAY_EARLY)  # creates the rows
    barrier = threading.Barrier(2)
    ran: list[str] = []
    now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)

    def worker() -> None:
        barrier.wait()
        ran.extend(run_due_jobs(sessions, config, now=now))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ran) == ["digest:lena", "sla-sweep"]
    assert db.scalar(select(JobRun.runs).where(JobRun.name == "sla-sweep")) == 2


def test_sigterm_stops_the_worker_cleanly(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "TRIAGE_CONFIG": str(ROOT / "app.yaml")}
    env.pop("SLACK_BOT_TOKEN", None)
    env.pop("SMTP_HOST", None)
    process = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "worker", "--interval", "0.2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert "worker: delivering" in process.stdout.readline()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "SIGTERM" in out and "worker: stopped" in out


def test_adapter_jobs_run_on_the_same_schedule(
    sessions: sessionmaker[Session], config: AppConfig, settings: object
) -> None:
    from bot.ops.adapters import discover_jobs
    from bot.ops.worker import Job

    assert discover_jobs(settings) == []  # type: ignore[arg-type]  # no IMAP_HOST: no poll
    calls: list[datetime] = []

    def poll(factory: sessionmaker[Session], now: datetime) -> str:
        calls.append(now)
        return "polled"

    job = Job("poll:test", poll, lambda now: now, lambda now: now + timedelta(minutes=1))
    assert (
        run_due_jobs(sessions, config, now=MONDAY_EARLY, extra_jobs=[job])["poll:test"] == "polled"
    )
    assert "poll:test" not in run_due_jobs(sessions, config, now=MONDAY_EARLY, extra_jobs=[job])
    later = MONDAY_EARLY + timedelta(minutes=1)
    assert run_due_jobs(sessions, config, now=later, extra_jobs=[job])["poll:test"] == "polled"
    assert calls == [MONDAY_EARLY, later]
