"""The worker: scheduled jobs in a database-backed loop, plus outbox delivery.

Why a database-backed loop rather than a scheduler library: workers are several processes that
share PostgreSQL, and "run this due job exactly once across all of them" is a row lock, not a
timer. Each job has a row in `job_runs` with `next_run_at`; a worker claims a due row with
`SELECT ... FOR UPDATE SKIP LOCKED`, moves `next_run_at` to the next slot and commits before
running the job, so a second worker never runs the same slot. Jobs are themselves safe to repeat
(outbox dedupe keys, ticket row locks), so even a clock skew between workers doubles nothing. On
SQLite run one worker.

Jobs: the SLA sweep every minute; each owner's digest at `digests[].at` on `digests[].days` in the
owner's time zone; and the adapters' jobs (`handlers/<name>/jobs.py`, e.g. the IMAP poll). A
failed job is retried five minutes later.
"""

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from bot.config.app import AppConfig, DigestSchedule, expand_days
from bot.delivery.outbox import Sender, deliver_due
from bot.store.models.base import utcnow
from bot.store.models.sla import JobRun
from bot.tickets.digests import send_digest
from bot.tickets.escalation import sweep

log = logging.getLogger(__name__)
SWEEP_EVERY = timedelta(minutes=1)
RETRY_AFTER = timedelta(minutes=5)
SWEEP_JOB = "sla-sweep"


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[sessionmaker[Session], datetime], str]  # returns a one-line summary
    first_run: Callable[[datetime], datetime]
    next_run: Callable[[datetime], datetime]


def next_digest_at(schedule: DigestSchedule, timezone: str, after: datetime) -> datetime:
    """The first scheduled moment strictly after `after` (UTC), in the owner's time zone."""
    zone = ZoneInfo(timezone)
    days = set(expand_days(schedule.days))
    local_day = after.astimezone(zone).date()
    for offset in range(8):
        day = local_day + timedelta(days=offset)
        if day.weekday() in days:
            moment = datetime.combine(day, schedule.at, zone).astimezone(UTC)
            if moment > after:
                return moment
    raise AssertionError("a digest schedule has at least one weekday")


def jobs_for(config: AppConfig) -> list[Job]:
    def run_sweep(factory: sessionmaker[Session], now: datetime) -> str:
        report = sweep(factory, config, now=now)
        summaries = sum(1 for told in report.told if told.summary)
        return (
            f"{len(report.steps)} escalation steps; told {len(report.told)} people "
            f"({summaries} by summary)"
        )

    jobs = [
        Job(SWEEP_JOB, run_sweep, lambda now: now, lambda now: now + SWEEP_EVERY),
    ]
    for schedule in config.digests:
        timezone = config.owner(schedule.owner).timezone

        def run_digest(
            factory: sessionmaker[Session], now: datetime, schedule: DigestSchedule = schedule
        ) -> str:
            with factory() as session, session.begin():
                digest, added = send_digest(
                    session, config, owner_id=schedule.owner, now=now,
                    channels=list(schedule.channels),
                )  # fmt: skip
            return f"digest for {schedule.owner}: {digest.counts.open} open, enqueued {added}"

        def next_time(now: datetime, schedule: DigestSchedule = schedule, tz: str = timezone):
            return next_digest_at(schedule, tz, now)

        jobs.append(Job(f"digest:{schedule.owner}", run_digest, next_time, next_time))
    return jobs


def _ensure_rows(session: Session, jobs: list[Job], now: datetime) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for job in jobs:
        statement = (
            insert(JobRun)
            .values(name=job.name, next_run_at=job.first_run(now), runs=0)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        session.execute(statement)


def _claim(session: Session, job: Job, now: datetime) -> bool:
    query = select(JobRun).where(JobRun.name == job.name, JobRun.next_run_at <= now)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = session.scalars(query).first()
    if row is None:
        return False
    row.next_run_at = job.next_run(now)
    row.last_started_at = now
    row.runs += 1
    return True


def run_due_jobs(
    factory: sessionmaker[Session],
    config: AppConfig,
    *,
    now: datetime,
    extra_jobs: Sequence[Job] = (),
) -> dict[str, str]:
    """Run every job that is due at `now` and that no other worker has claimed: the core's
    (`jobs_for`) and the adapters' (`extra_jobs`, e.g. from `bot.ops.adapters.discover_jobs`)."""
    jobs = [*jobs_for(config), *extra_jobs]
    with factory() as session, session.begin():
        _ensure_rows(session, jobs, now)
    done: dict[str, str] = {}
    for job in jobs:
        with factory() as session, session.begin():
            if not _claim(session, job, now):
                continue
        error: str | None = None
        try:
            done[job.name] = job.run(factory, now)
        except Exception as exc:  # one failing job must not stop the others
            log.exception("job %s failed", job.name)
            error = f"{type(exc).__name__}: {exc}"[:1000]
            done[job.name] = f"failed: {error}"
        with factory() as session, session.begin():
            row = session.get(JobRun, job.name)
            if row is not None:
                row.last_finished_at = utcnow()
                row.last_error = error
                if error is not None:
                    row.next_run_at = min(row.next_run_at, now + RETRY_AFTER)
    return done


def tick(
    factory: sessionmaker[Session],
    config: AppConfig,
    senders: Mapping[str, Sender],
    *,
    now: datetime,
    extra_jobs: Sequence[Job] = (),
) -> dict[str, str]:
    """One round: due jobs, then the outbox."""
    started = utcnow()
    done = run_due_jobs(factory, config, now=now, extra_jobs=extra_jobs)
    if senders:
        # Claims run from when delivery starts, not from the round's start: a long sweep
        # would otherwise hand out claims that expire early, and an item still being
        # recorded could be claimed and sent again by another process.
        sent, failed = deliver_due(factory, senders, now=now + (utcnow() - started))
        if sent or failed:
            done["outbox"] = f"{sent} sent, {failed} failed"
    return done


def run_worker(
    factory: sessionmaker[Session],
    config: AppConfig,
    senders: Mapping[str, Sender],
    *,
    stop: threading.Event,
    interval: float = 15.0,
    once: bool = False,
    extra_jobs: Sequence[Job] = (),
    clock: Callable[[], datetime] = utcnow,
    report: Callable[[dict[str, str]], None] = lambda done: None,
) -> None:
    """Tick every `interval` seconds until `stop` is set (or once)."""
    while not stop.is_set():
        try:
            report(tick(factory, config, senders, now=clock(), extra_jobs=extra_jobs))
        except Exception:
            if once:
                raise
            # A lost database connection or a restarting server: nothing half-done is committed
            # (claims expire), so the next round simply tries again.
            log.warning("worker round failed; trying again next round", exc_info=True)
        if once:
            return
        stop.wait(interval)
