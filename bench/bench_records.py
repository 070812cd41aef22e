#!/usr/bin/env python3
"""Benchmark the records: import time, peak memory, and lookup-plus-all-checks latency.

    python bench/bench_records.py                       # 1,000,000 candidates, SQLite
    python bench/bench_records.py --candidates 100000   # a smaller run
    python bench/bench_records.py --database-url postgresql+psycopg://root@127.0.0.1:5432/bench
    python bench/bench_records.py --serve-rate 0        # lookups without `triage serve` beside

Generates CSV files (N candidates, 3N exam attempts, N registrations, N invitations, about N
vouchers, N/2 certifications, a few restrictions) in a temporary folder, imports them with
`bot.records.importer` (workers as `triage records import` chooses, or `--workers`), then times
`DatabaseRecords.get` + every check for random candidates while `triage serve --workers 2` on the
same database takes `--serve-rate` signed `/triage` commands a second (as bench_slack.py drives
it, with the test suite's fake Slack Web API). Targets: import at 41,000 rows/s or more (1 M
candidates under 3 minutes), p99 under 5 ms per candidate. The records tables of the target
database are emptied first (use a database of its own). The machine's load is printed beside
every figure.
"""

import argparse
import csv
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_slack import SECRET, TEXTS, RemoteFake, start_server  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402
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


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f})"


class ServeLoad:
    """`triage serve --workers 2` on the benchmark's database, taking `rate` signed `/triage`
    commands a second from a paced sender (a late answer does not slow the pace)."""

    def __init__(self, database_url: str, rate: float, log: Path) -> None:
        self.rate = rate
        self.fake = RemoteFake()
        self.process, self.url = start_server(database_url, self.fake, 2, log)
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.failures = 0
        self.sender = threading.Thread(target=self._send, daemon=True)

    def __enter__(self) -> "ServeLoad":
        self.sender.start()
        time.sleep(2)  # the server warms up (knowledge, auth.test) before the lookups start
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.sender.join(timeout=30)
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # a server that will not stop is killed
            self.process.kill()
        self.fake.stop()

    def _send(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        verifier = SignatureVerifier(SECRET)
        with ThreadPoolExecutor(max_workers=16) as pool:
            n, next_at = 0, time.monotonic()
            while not self.stop.is_set():
                pool.submit(self._one, verifier, n)
                n += 1
                next_at += 1 / self.rate
                self.stop.wait(max(0.0, next_at - time.monotonic()))

    def _one(self, verifier: SignatureVerifier, n: int) -> None:
        from urllib.parse import urlencode

        import requests

        body = urlencode({
            "team_id": "T1", "channel_id": "C0AGENTS", "user_id": "U10AGENT",
            "command": "/triage", "text": TEXTS[n % len(TEXTS)],
            "response_url": self.fake.response_url(f"r{n}"), "trigger_id": f"bench.{n}",
        })  # fmt: skip
        ts = str(int(time.time()))
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": ts,
            "x-slack-signature": verifier.generate_signature(timestamp=ts, body=body),
        }
        started = time.perf_counter()
        try:
            answer = requests.post(
                f"{self.url}/slack/events", data=body, headers=headers, timeout=10
            )
            ok = answer.status_code == 200
        except requests.RequestException:
            ok = False
        if ok:
            self.latencies.append((time.perf_counter() - started) * 1000)
        else:
            self.failures += 1


def lookups(sessions, candidates: int, count: int, rate: float) -> list[float]:  # type: ignore[no-untyped-def]
    """Milliseconds of `DatabaseRecords.get` + all eight checks for random candidates, `rate`
    a second (as messages come in, not back to back)."""
    catalogue = load_catalogue(ROOT / "knowledge")
    rng = random.Random(11)
    keys = [str(10_000_000 + rng.randrange(candidates)) for _ in range(count)]
    timings: list[float] = []
    with sessions() as session:
        source = DatabaseRecords(session)
        for key in keys[:50]:  # warm up
            source.get(key)
        next_at = time.monotonic()
        for key in keys:
            next_at += 1 / rate
            time.sleep(max(0.0, next_at - time.monotonic()))
            t0 = time.perf_counter()
            records = source.get(key)
            run_all_checks(records, catalogue=catalogue, exams=["71-621"], today=TODAY)
            timings.append((time.perf_counter() - t0) * 1000)
            session.expunge_all()
    return timings


def _import(engine, sessions, folder: Path, args: argparse.Namespace) -> None:  # type: ignore[no-untyped-def]
    """Generate the records files and time their import into an emptied database."""
    empty_records(engine)
    started = time.perf_counter()
    counts = generate(folder, args.candidates)
    generated = time.perf_counter() - started
    print(f"generated {sum(counts.values()):,} rows in {generated:.1f}s: {counts}", flush=True)

    print(f"import starts; {load()}", flush=True)
    started, cpu = time.perf_counter(), time.process_time()
    chosen = {} if args.workers is None else {"workers": args.workers}
    report = import_records(sessions, [folder], batch_size=args.batch_size, **chosen)
    imported, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert not report.errors, report.errors[:5]
    rows = sum(f.inserted for f in report.files)
    rate = rows / imported
    used = getattr(report, "cpu_seconds", cpu)  # (older versions: this process only)
    print(f"import: {imported:.1f}s for {rows:,} rows ({rate:,.0f} rows/s); "
          f"{used:.1f}s CPU in the importing processes ({cpu:.1f}s here); "
          f"peak RSS here {peak_mb:,.0f} MB; {load()}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=None, help="default: as the CLI chooses")
    parser.add_argument("--lookup-rate", type=float, default=100, help="lookups a second")
    parser.add_argument("--serve-rate", type=float, default=20, help="/triage commands a second")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the records already in --database-url (imported by an earlier run of the same"
        " --candidates) and measure the lookups only, e.g. again on a quieter machine",
    )
    args = parser.parse_args()
    if args.reuse and not args.database_url:
        parser.error("--reuse needs the --database-url of an earlier run")

    with tempfile.TemporaryDirectory(prefix="bench-records-") as tmp:
        folder = Path(tmp)
        url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        sessions = session_factory(engine)
        if not args.reuse:
            _import(engine, sessions, folder, args)
        quiet = lookups(sessions, args.candidates, args.lookups, args.lookup_rate)
        print(f"lookup + all checks, no other work: p50 {percentile(quiet, 50):.2f} ms, "
              f"p99 {percentile(quiet, 99):.2f} ms, mean {statistics.mean(quiet):.2f} ms over "
              f"{len(quiet)} candidates; {load()}", flush=True)  # fmt: skip
        if args.serve_rate > 0:
            with ServeLoad(url, args.serve_rate, folder / "serve.log") as serve:
                busy = lookups(sessions, args.candidates, args.lookups, args.lookup_rate)
                sent = len(serve.latencies) + serve.failures
            print(f"lookup + all checks, serve taking {args.serve_rate:g} /triage a second: "
                  f"p50 {percentile(busy, 50):.2f} ms, p99 {percentile(busy, 99):.2f} ms, "
                  f"mean {statistics.mean(busy):.2f} ms over {len(busy)} candidates; "
                  f"{load()}", flush=True)  # fmt: skip
            acks = serve.latencies or [0.0]
            print(
                f"  serve meanwhile: {sent} /triage commands, {serve.failures} failed, ack "
                f"p50 {percentile(acks, 50):.0f} ms, p99 {percentile(acks, 99):.0f} ms"
            )
        machine = platform.processor() or platform.machine()
        version, dialect = platform.python_version(), engine.dialect.name
        print(f"machine: {machine}, {os.cpu_count()} CPUs, python {version}, database {dialect}")
        engine.dispose()


if __name__ == "__main__":
    main()
