"""Email ingest throughput, end to end: a generated Maildir of N messages read, parsed, screened
for noise, stored, triaged, ticketed and acknowledged (outbox), by the batch as `triage ingest
maildir` does it (one transaction per batch; `--batch-size 1`: one per message).

Run: `python bench/bench_ingest.py [--messages 20000] [--batch-size N] [--database-url URL
--fresh] [--write bench/RESULTS-email.md]`. Without --database-url it uses a new SQLite file.
`--fresh` drops and recreates the PostgreSQL schema first (use a throwaway database). It is a
benchmark, not a test: it prints figures, with the machine's load, and never fails on them.
"""

from __future__ import annotations

import argparse
import mailbox
import os
import platform
import resource
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What candidates write, plus the machine mail every desk receives (about 1 in 10 messages).
BODIES = [
    "I took the beta exam 71-621 at Prometric in September and still have no free voucher.",
    "Pearson VUE says 'A program error occurred' at the last step when I register for 71-623.",
    "When will the results of my beta exam 71-622 arrive? I took it on 1 October.",
    "The invitation email for beta exam 71-625 never arrived.",
    "Prometric says the exam 71-629 is not available yet.",
    "Can I use my voucher for 70-620 instead?",
    "Someone registered me for 71-626 and it was not me!",
    "The promotion code from the invitation is rejected, they want a special code.",
    "I passed 70-620 but my transcript does not show the certification.",
    "Thanks, that worked!",
]
NOISE_HEADERS = [
    "Auto-Submitted: auto-replied\nSubject: Automatic reply: your message",
    "Precedence: bulk\nList-Id: <news.lists.example.org>\nSubject: Newsletter",
]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def generate_maildir(path: Path, count: int) -> None:
    box = mailbox.Maildir(path, create=True)
    for n in range(count):
        sender = f"candidate{n % 4000}@example.com"
        extra = NOISE_HEADERS[n % 2] if n % 10 == 9 else f"Subject: Help with my exam ({n})"
        body = BODIES[n % len(BODIES)]
        raw = (
            f"From: Candidate {n % 4000} <{sender}>\nTo: triage@desk.example.org\n{extra}\n"
            f"Date: Wed, 25 Nov 2026 09:00:00 +0000\nMessage-ID: <bench-{n}@example.com>\n"
            f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
            f"Hello,\n\n{body}\n\nRegards,\nCandidate {n % 4000}\n"
        )
        box.add(raw.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the PG schema")
    parser.add_argument("--write", type=Path, default=None, help="append a Markdown section")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="messages per transaction (app.yaml's)"
    )
    parser.add_argument(
        "--adapter-only",
        action="store_true",
        help="store without triage (bot.intake.flow.store_message): the email adapter's own cost",
    )
    args = parser.parse_args()

    from sqlalchemy import func, select, text

    from bot.config.settings import load_settings
    from bot.store.db import make_engine, session_factory, upgrade
    from bot.store.models import Message, Ticket
    from bot.store.models.outbox import OutboxItem
    from handlers.email.intake import Incoming, core_intake, ingest_batch
    from handlers.email.sources import batches, from_maildir

    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    engine = make_engine(url)
    if args.fresh and engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    sessions = session_factory(engine)
    settings = load_settings(config_path=ROOT / "app.yaml", DATABASE_URL=url)
    records = ROOT / "samples" / "records"
    if records.is_dir():
        from bot.records.importer import import_records

        import_records(sessions, [records])

    started = time.perf_counter()
    generate_maildir(workdir / "Maildir", args.messages)
    generated = time.perf_counter() - started

    intake = core_intake(settings)
    if args.adapter_only:
        from bot.intake.flow import store_message
        from bot.types import IntakeOutcome

        def intake(session, message, *, now=None):  # type: ignore[no-untyped-def]
            stored, created = store_message(session, message)
            return IntakeOutcome(message_id=stored.id, duplicate=not created)

    statuses: Counter[str] = Counter()
    size = args.batch_size or settings.app.email.batch_size
    incoming = (Incoming(origin, raw) for origin, raw in from_maildir(workdir / "Maildir"))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    load_before = os.getloadavg()[0]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for batch in batches(incoming, size=size, seconds=settings.app.email.batch_seconds):
        for result in ingest_batch(sessions, batch, settings=settings, intake=intake):
            statuses[result.status if result else "skipped"] += 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    load_after = os.getloadavg()[0]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    with sessions() as session:
        messages = session.scalar(select(func.count(Message.id)))
        tickets = session.scalar(select(func.count(Ticket.id)))
        outbox = session.scalar(select(func.count(OutboxItem.id)))
    rate = args.messages / wall
    backend = engine.dialect.name
    mode = "adapter only (parse, screen, store)" if args.adapter_only else "end to end"
    lines = [
        f"### {backend}, {mode}: {args.messages} messages, batches of {size}",
        "",
        f"- machine: {os.cpu_count()} CPUs, {_cpu_model()}, load {load_before:.1f} at the start,"
        f" {load_after:.1f} at the end",
        f"- {wall:.1f} s wall, {cpu:.1f} s CPU → **{rate:.0f} msg/s** wall clock, "
        f"{args.messages / cpu:.0f} msg per CPU-second of this process",
        f"- outcomes: {dict(statuses)}; messages stored {messages}, tickets {tickets}, "
        f"outbox items {outbox}",
        f"- peak RSS: {peak_mb:.0f} MB (before intake {rss_before / 1024:.0f} MB)",
        f"- Maildir generation (not timed above): {generated:.1f} s",
        "",
    ]
    engine.dispose()
    shutil.rmtree(workdir, ignore_errors=True)
    report = "\n".join(lines)
    print(report)
    if args.write:
        with args.write.open("a", encoding="utf-8") as out:
            out.write(report + "\n")


if __name__ == "__main__":
    main()
