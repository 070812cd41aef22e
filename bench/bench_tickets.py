"""Benchmark: the SLA sweep and one owner's digest over 100,000 open tickets.

    python bench/bench_tickets.py                       # a fresh SQLite file
    python bench/bench_tickets.py --database-url postgresql+psycopg://.../bench --reset

Prints the time to load the tickets, the first sweep (which escalates every due ticket: a row
lock, an audit event and a pending step each; then each person is told once, by one summary per
channel), the further sweeps that walk long-overdue tickets up the rest of the chain, a
steady-state sweep with nothing left to do (what a worker does every minute), and one owner's
digest (build, text, HTML, chart). The machine's load (1-minute average) is printed beside each
figure.
"""

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config.settings import load_settings  # noqa: E402
from bot.store.db import make_engine, session_factory, upgrade  # noqa: E402
from bot.store.models import Ticket, TicketEvent  # noqa: E402
from bot.store.models.outbox import OutboxItem  # noqa: E402
from bot.store.models.sla import DigestRun, JobRun  # noqa: E402
from bot.tickets.digests import build_digest, chart_png, render_html, render_text  # noqa: E402
from bot.tickets.escalation import SweepReport, sweep  # noqa: E402

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
ISSUES = [
    "voucher-missing", "registration-program-error", "promo-code-rejected", "results-pending",
    "invitation-not-received", "exam-not-available", None,
]  # fmt: skip
OWNERS = {"dev": 30, "lena": 20, "maria": 15, "kenji": 10, "ananya": 10, "sam": 8, "oliver": 7}
STATUSES = {"escalated": 80, "new": 10, "answered": 5, "waiting-on-candidate": 5}


def load(factory, count: int, *, seed: int = 7) -> float:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    owners = rng.choices(list(OWNERS), weights=list(OWNERS.values()), k=count)
    statuses = rng.choices(list(STATUSES), weights=list(STATUSES.values()), k=count)
    started = time.perf_counter()
    rows = []
    for n in range(count):
        created = NOW - timedelta(minutes=rng.randrange(14 * 24 * 60))
        status = statuses[n]
        rows.append(
            {
                "status": status,
                "issue": rng.choice(ISSUES),
                "priority": rng.choice(["normal", "normal", "high", "low"]),
                "source": "email",
                "candidate_key": f"{1000000 + n}",
                "candidate_mcp_id": f"{1000000 + n}",
                "owner": owners[n],
                "routing_rule": "bench",
                "entities": {},
                "facts": {"owed": 1},
                "facts_summary": ["beta exams taken: 2", "vouchers issued: 1, owed: 1"],
                "created_at": created,
                "updated_at": created,
                "first_response_at": created + timedelta(hours=1) if status == "answered" else None,
                "first_response_due_at": created + timedelta(hours=8),
                "sla_due_at": created + timedelta(days=3),
                "sla_paused_at": created if status == "waiting-on-candidate" else None,
                "sla_paused_seconds": 0,
                "chase_count": 0,
                "escalation_level": 0,
                "confidence": 0.9,
            }
        )
        if len(rows) == 5000:
            with factory() as session, session.begin():
                session.execute(insert(Ticket), rows)
            rows = []
    if rows:
        with factory() as session, session.begin():
            session.execute(insert(Ticket), rows)
    return time.perf_counter() - started


def load_average() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def database_cpu(engine) -> float | None:  # type: ignore[no-untyped-def]
    """CPU seconds used so far by this database's PostgreSQL backends, when they run on this
    machine (their /proc entries are readable); None otherwise (SQLite runs in-process)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        pids = list(connection.scalars(text(query)))
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def timed(label: str, fn, engine=None):  # type: ignore[no-untyped-def]
    """Run `fn`; print its wall time, the CPU it took here (and in the database's backends,
    when local), and the load: on a shared machine the CPU figures say what the wall time
    would be when quiet."""
    db_before = database_cpu(engine) if engine is not None else None
    started, cpu = time.perf_counter(), time.process_time()
    result = fn()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    db_after = database_cpu(engine) if engine is not None else None
    spent = f"cpu {cpu:.2f} s"
    if db_before is not None and db_after is not None:
        spent += f" + {db_after - db_before:.2f} s in PostgreSQL"
    print(f"{label:<46} {elapsed:8.2f} s   ({spent}; {load_average()})")
    return result, elapsed


def told(report, factory) -> str:  # type: ignore[no-untyped-def]
    """The steps fired, and the messages that told people of them."""
    with factory() as session:
        queued = session.scalar(select(func.count()).select_from(OutboxItem)) or 0
    summaries = sum(1 for t in report.told if t.summary)
    return (
        f"steps: {len(report.steps)}; people told: {len(report.told)} ({summaries} by summary); "
        f"outbox items in all: {queued}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--reset", action="store_true", help="empty the ticket tables first")
    parser.add_argument("--owner", default="dev", help="whose digest to build")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    factory = session_factory(engine)
    with factory() as session, session.begin():
        existing = session.scalar(select(func.count()).select_from(Ticket)) or 0
        if existing and not args.reset:
            print(f"{url} already has {existing} tickets: pass --reset to empty it")
            return 2
        tables = [m.__table__.name for m in (OutboxItem, TicketEvent, DigestRun, JobRun, Ticket)]
        if engine.dialect.name == "postgresql":
            session.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for model in (OutboxItem, TicketEvent, DigestRun, JobRun, Ticket):
                session.execute(delete(model))
    config = load_settings(config_path=ROOT / "app.yaml", DATABASE_URL=url).app

    print(
        f"database: {engine.dialect.name}; {platform.python_version()}; tickets: {args.tickets}; "
        f"{os.cpu_count()} CPUs; {load_average()} at start"
    )
    elapsed = load(factory, args.tickets)
    print(f"{'load tickets':<46} {elapsed:8.2f} s   ({load_average()})")

    def run(now: datetime) -> SweepReport:
        return sweep(factory, config, now=now)

    first, _ = timed("sweep 1: escalates every due ticket", lambda: run(NOW), engine)
    print(f"  {told(first, factory)}")
    # Long-overdue tickets climb one chain step per sweep, a minute apart (as the worker runs).
    rounds = len(config.escalation.chain) - 1
    minutes = [NOW + timedelta(minutes=n + 1) for n in range(rounds)]
    rest, _ = timed("sweeps 2..: the rest of the chain", lambda: [run(m) for m in minutes], engine)
    steps, people = sum(len(r.steps) for r in rest), sum(len(r.told) for r in rest)
    print(f"  {rounds} more sweeps: {steps} steps, {people} people told; {told(rest[-1], factory)}")
    after = minutes[-1] + timedelta(minutes=1)
    again, _ = timed("steady sweep (the next minute, as the worker)", lambda: run(after), engine)
    print(f"  {told(again, factory)}")
    with factory() as session:
        digest, _ = timed(
            f"digest for {args.owner}: build",
            lambda: build_digest(session, config, owner_id=args.owner, now=NOW),
        )
    print(f"  open tickets in it: {digest.counts.open}, groups: {len(digest.groups)}")
    timed("digest: text + HTML", lambda: (render_text(digest), render_html(digest)))
    timed("digest: chart PNG", lambda: chart_png(digest))
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
