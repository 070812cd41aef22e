#!/usr/bin/env python3
"""Benchmark the records: import time, peak memory, and lookup-plus-all-checks latency.

    python bench/bench_records.py                       # 1,000,000 candidates, SQLite
    python bench/bench_records.py --candidates 100000   # a smaller run
    python bench/bench_records.py --database-url postgresql+psycopg://root@127.0.0.1:5432/bench

Generates CSV files (N candidates, 3N exam attempts, N registrations, N invitations, about N
vouchers, N/2 certifications, a few restrictions) in a temporary folder, imports them with
`bot.records.importer`, then times `DatabaseRecords.get` + every check for random candidates.
Targets: import under 3 minutes, p99 under 5 ms per candidate. The records tables of the target
database are emptied first (use a database of its own).
"""

import argparse
import csv
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete  # noqa: E402

from bot.records.catalogue import load_catalogue  # noqa: E402
from bot.records.checks import run_all_checks  # noqa: E402
from bot.records.importer import import_records  # noqa: E402
from bot.records.source import DatabaseRecords  # noqa: E402
from bot.store.db import make_engine, session_factory, upgrade  # noqa: E402
from bot.store.models.records import (  # noqa: E402
    Candidate,
    CandidateEmail,
    CatalogueExam,
    Certification,
    ExamAttempt,
    Invitation,
    RegionRestriction,
    Registration,
    Voucher,
)

COUNTRIES = [
    ("United States", "North America"), ("Canada", "North America"), ("Germany", "EMEA"),
    ("United Kingdom", "EMEA"), ("France", "EMEA"), ("Nigeria", "EMEA"), ("Japan", "APAC"),
    ("Australia", "APAC"), ("China", "APAC"), ("Vietnam", "APAC"), ("India", "India"),
]  # fmt: skip
BETAS = [f"71-6{n:02d}" for n in range(20, 36)]
START = date(2026, 1, 5)
TODAY = date(2026, 11, 25)


def generate(folder: Path, candidates: int, seed: int = 7) -> dict[str, int]:
    """Write the seven records files; returns the number of rows per file."""
    rng = random.Random(seed)
    counts = dict.fromkeys(
        ["candidates", "exam_attempts", "registrations", "invitations", "vouchers",
         "certifications", "restrictions"], 0)  # fmt: skip
    files = {
        name: (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") for name in counts
    }
    out = {name: csv.writer(handle) for name, handle in files.items()}
    out["candidates"].writerow(["mcp_id", "name", "emails", "country", "region", "slack_user_id"])
    out["exam_attempts"].writerow(["mcp_id", "exam", "provider", "taken_on", "beta", "result"])
    out["registrations"].writerow(
        ["mcp_id", "exam", "provider", "created_at", "created_by", "scheduled_for"]
    )
    out["invitations"].writerow(["mcp_id", "campaign", "exam", "sent_at", "promo_code", "status"])
    out["vouchers"].writerow(["mcp_id", "code", "issued_at", "for_exam", "scope", "redeemed_at"])
    out["certifications"].writerow(["mcp_id", "certification", "granted_on"])
    out["restrictions"].writerow(["exam", "country", "since"])
    for exam, country in (("71-630", "China"), ("71-633", "Vietnam"), ("71-635", "Russia")):
        out["restrictions"].writerow([exam, country, "2026-02-01"])
        counts["restrictions"] += 1
    for i in range(candidates):
        mcp = str(10_000_000 + i)
        country, region = COUNTRIES[i % len(COUNTRIES)]
        slack = f"U{i:09d}" if i % 4 == 0 else ""
        out["candidates"].writerow(
            [mcp, f"Candidate {i}", f"c{i}@example.org", country, region, slack]
        )
        exams = rng.sample(BETAS, 3)
        first = START + timedelta(days=rng.randrange(240))
        for k, exam in enumerate(exams):  # 3 attempts each; the third retakes the first exam
            exam = exams[0] if k == 2 else exam
            day = first + timedelta(days=60 * k)
            result = "pending" if day > TODAY - timedelta(weeks=8) else rng.choice(["pass", "fail"])
            provider = "prometric" if k % 2 == 0 else "vue"
            out["exam_attempts"].writerow([mcp, exam, provider, day.isoformat(), "true", result])
        day = START + timedelta(days=rng.randrange(300))
        out["registrations"].writerow(
            [mcp, exams[0], "vue", f"{day.isoformat()}T10:00:00Z",
             rng.choice(["candidate", "candidate", "candidate", "agent"]),
             f"{(day + timedelta(days=20)).isoformat()}T09:00:00Z"]
        )  # fmt: skip
        out["invitations"].writerow(
            [mcp, "wave-1-2026", exams[0], f"{START.isoformat()}T09:00:00Z", f"PROMO-{i:08d}",
             "bounced" if i % 50 == 0 else "sent"]
        )  # fmt: skip
        if i % 10:  # most are issued a voucher
            issued = START + timedelta(days=rng.randrange(300))
            out["vouchers"].writerow(
                [mcp, f"V{i:09d}-{rng.randrange(16**4):04X}", issued.isoformat(), exams[0], "any",
                 "" if i % 3 else (issued + timedelta(days=30)).isoformat()]
            )  # fmt: skip
            counts["vouchers"] += 1
        if i % 2 == 0:
            out["certifications"].writerow(
                [mcp, f"MCTS ({exams[0].replace('71', '70')})", "2026-06-01"]
            )
            counts["certifications"] += 1
        counts["candidates"] += 1
        counts["exam_attempts"] += 3
        counts["registrations"] += 1
        counts["invitations"] += 1
    for handle in files.values():
        handle.close()
    return counts


def empty_records(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as connection:
        for model in (CandidateEmail, ExamAttempt, Registration, Invitation, Voucher,
                      Certification, RegionRestriction, CatalogueExam, Candidate):  # fmt: skip
            connection.execute(delete(model))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-records-") as tmp:
        folder = Path(tmp)
        url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        empty_records(engine)
        started = time.perf_counter()
        counts = generate(folder, args.candidates)
        generated = time.perf_counter() - started
        print(f"generated {sum(counts.values()):,} rows in {generated:.1f}s: {counts}", flush=True)

        sessions = session_factory(engine)
        started, cpu = time.perf_counter(), time.process_time()
        report = import_records(sessions, [folder], batch_size=args.batch_size)
        imported, cpu = time.perf_counter() - started, time.process_time() - cpu
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        assert not report.errors, report.errors[:5]
        rows = sum(f.inserted for f in report.files)
        rate = rows / imported
        print(f"import: {imported:.1f}s for {rows:,} rows ({rate:,.0f} rows/s); "
              f"{cpu:.1f}s CPU here; peak RSS {peak_mb:,.0f} MB", flush=True)  # fmt: skip

        catalogue = load_catalogue(ROOT / "knowledge")
        rng = random.Random(11)
        keys = [str(10_000_000 + rng.randrange(args.candidates)) for _ in range(args.lookups)]
        timings: list[float] = []
        with sessions() as session:
            source = DatabaseRecords(session)
            for key in keys[:50]:  # warm up
                source.get(key)
            for key in keys:
                t0 = time.perf_counter()
                records = source.get(key)
                run_all_checks(records, catalogue=catalogue, exams=["71-621"], today=TODAY)
                timings.append((time.perf_counter() - t0) * 1000)
                session.expunge_all()
        p50, p99 = percentile(timings, 50), percentile(timings, 99)
        print(f"lookup + all checks: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
              f"mean {statistics.mean(timings):.2f} ms over {len(timings)} candidates")  # fmt: skip
        print(f"load average during the run: {os.getloadavg()[0]:.1f}")
        machine = platform.processor() or platform.machine()
        version, dialect = platform.python_version(), engine.dialect.name
        print(f"machine: {machine}, {os.cpu_count()} CPUs, python {version}, database {dialect}")
        engine.dispose()


if __name__ == "__main__":
    main()
