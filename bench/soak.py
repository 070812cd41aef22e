"""Soak test with faults: several bot processes on one PostgreSQL, real servers around them,
messages fed while things break, then proof that nothing was lost or doubled.

    python bench/soak.py --database-url postgresql+psycopg://root@127.0.0.1:5432/test_scale
    python bench/soak.py --short ...     # 200 emails + 200 Slack events, a few minutes (CI)

Runs 3 `triage serve` (HTTP, Slack events) and 2 `triage worker` (SLA sweep, outbox delivery)
processes and 2 IMAP pollers (`triage ingest imap`), a Slack Web API stand-in, an SMTP server and
a Dovecot mailbox. Feeds N emails (IMAP APPEND) and N signed Slack events, 10% of each delivered
twice, while injecting faults: a process SIGKILLed and restarted every few seconds, the Slack
stand-in answering 429 then 500, the SMTP server down, the app's PostgreSQL connections
terminated. Then checks every message stored once, every ticket made once, every due escalation
notified once, every automatic email and Slack reply delivered once, the outbox empty, and no log
line holding a voucher code or a message body. Prints the figures and writes them (with the
machine) to bench/RESULTS-soak.md or --results. Needs root (Dovecot) and a PostgreSQL database it
may empty: its name must contain "test" or "soak".
"""

import argparse
import json
import os
import platform
import random
import re
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import yaml
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.soak_services import ROOT, Dovecot, Proc, SmtpServer, free_port
from bot.config.settings import load_settings
from bot.ops.worker import SWEEP_JOB
from bot.records.importer import import_records
from bot.store.db import make_engine, session_factory, upgrade
from bot.store.models import Base, Message, Ticket, TicketEvent, TicketMessage
from bot.store.models.outbox import OutboxItem
from bot.store.models.sla import JobRun, PendingEscalation
from bot.tickets.escalation import SWEPT_STATUSES, chain_recipients, next_step
from handlers.email.outbound import message_id_for
from tests.slack.fake_slack import FakeSlack

SECRET = "soak-signing-secret"
INTAKE = "C0INTAKE"
BODY_MARK = re.compile(r"soakbody[es]\d+x")
# The outbox's line for an attempt that died unrecorded, and the Slack sender's for a post it
# then found in the channel instead of posting again.
UNKNOWN = re.compile(r"outbox item (\d+) \((\w+)\): attempt by [^ ]*:(\d+) at ")
FOUND = re.compile(r"outbox item (\d+): an earlier attempt posted it")
CODE_MARK = re.compile(r"SOAK\d{5}-7Q2K")
TEMPLATES = [
    "My voucher for the 71-621 beta never arrived, I took the exam last month.",
    "Prometric says 'A program error occurred' at the last step when I register for 71-622.",
    "I never received the invitation email for the 71-623 beta exam.",
    "Pearson VUE rejects my promotion code for the 71-624 beta, it wants a special code.",
    "Someone registered me for 71-625 at Prometric and it was not me, please check.",
]


@dataclass
class Figures:
    started: float = field(default_factory=time.monotonic)
    ack_latencies: list[float] = field(default_factory=list)
    slack_sent: int = 0
    slack_redelivered: int = 0
    slack_retries: int = 0
    emails_appended: int = 0
    emails_redelivered: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    # When a fault could cut a delivery between the receiver's OK and the outbox's commit.
    cut_at: list[float] = field(default_factory=list)
    fed_at: float = 0.0
    stored_at: float = 0.0
    drained_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


# The sample records' candidates: messages name them, so tickets are escalated, not held for an id.
CANDIDATES = [
    line.split(",", 1)[0]
    for line in (ROOT / "samples" / "records" / "candidates.csv").read_text().splitlines()[1:]
    if line.strip()
]


def body(kind: str, n: int) -> str:
    template = TEMPLATES[n % len(TEMPLATES)]
    return (
        f"{template} My voucher code is SOAK{n:05d}-7Q2K. "
        f"Please look at case soakbody{kind[0]}{n}x for me. "
        f"MCP ID {CANDIDATES[n % len(CANDIDATES)]}"
    )


def email_bytes(n: int) -> bytes:
    return (
        f"From: Candidate {n} <cand{n}@soak.example.org>\r\n"
        f"To: desk@desk.example.org\r\n"
        f"Subject: Beta exam problem {n}\r\n"
        f"Message-ID: <soak-{n}@soak.example.org>\r\n"
        f"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body('email', n)}\r\n"
    ).encode()


def soak_config(directory: Path) -> Path:
    """The repo's app.yaml with minute-long SLAs on 24x7 calendars, a two-step chain, no digests."""
    config = yaml.safe_load((ROOT / "app.yaml").read_text())
    for owner in config["owners"]:
        owner["calendar"] = "24x7"
    config["sla"] = {p: {"first_response": 1, "resolution": 2} for p in config["sla"]}
    config["escalation"] = {"due_soon": 1, "chain": ["owner", "backup"]}
    config["digests"] = []
    config["email"]["auto_reply_limit_per_hour"] = 1000
    path = directory / "soak-app.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.url = args.database_url
        self.work = Path(tempfile.mkdtemp(prefix="triage-soak-"))
        self.logs = self.work / "logs"
        self.logs.mkdir()
        self.figures = Figures()
        self.stop_faults = threading.Event()
        self.procs: list[Proc] = []
        self.serve_ports: list[int] = []
        self.config_path = soak_config(self.work)
        self.settings = load_settings(config_path=self.config_path, DATABASE_URL=self.url,
                                      TRIAGE_KNOWLEDGE=ROOT / "knowledge")  # fmt: skip
        self.engine = make_engine(self.settings.database_url)
        self.sessions = session_factory(self.engine)

    # -- setup -----------------------------------------------------------------------------
    def prepare_database(self) -> None:
        upgrade(self.engine)
        with self.engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
        import_records(self.sessions, [ROOT / "samples" / "records"])

    def start(self) -> None:
        self.slack = FakeSlack().start()
        self.smtp = SmtpServer()
        self.smtp.start()
        self.dovecot = Dovecot().start()
        env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "TRIAGE_CONFIG": str(self.config_path),
            "TRIAGE_KNOWLEDGE": str(ROOT / "knowledge"),
            "SLACK_BOT_TOKEN": "xoxb-soak",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": self.slack.api_url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp.port),
            "IMAP_HOST": "127.0.0.1",
            "IMAP_PORT": str(self.dovecot.port),
            "IMAP_SSL": "false",
            "IMAP_USERNAME": self.dovecot.user,
            "IMAP_PASSWORD": self.dovecot.password,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "PROMETHEUS_MULTIPROC_DIR": str(self.work / "metrics"),
        }
        (self.work / "metrics").mkdir()
        for i in range(3):
            port = free_port()
            self.serve_ports.append(port)
            serve = ["serve", "--port", str(port), "--deliver-every", "1"]
            self.procs.append(Proc(f"serve{i}", serve, env, self.logs))
        self.metrics_port = free_port()
        for i in range(2):
            extra = ["--metrics-port", str(self.metrics_port)] if i == 0 else []
            self.procs.append(
                Proc(f"worker{i}", ["worker", "--interval", "0.5", *extra], env, self.logs)
            )
        for i in range(2):
            self.procs.append(
                Proc(f"imap{i}", ["ingest", "imap", "--interval", "1"], env, self.logs)
            )
        for proc in self.procs:
            proc.start()
        deadline = time.monotonic() + 240
        for port in self.serve_ports:
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"triage serve on {port} did not become ready")
                time.sleep(0.2)

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()
        for service in ("slack", "smtp", "dovecot"):
            if hasattr(self, service):
                getattr(self, service).stop()
        self.engine.dispose()

    # -- feeding ---------------------------------------------------------------------------
    def feed_emails(self, count: int, seconds: float) -> None:
        order = list(range(count))
        twice = set(random.sample(order, k=count // 10))
        chunk = max(1, count // max(1, int(seconds)))
        pending: list[bytes] = []
        for n in order:
            raw = email_bytes(n)
            pending.append(raw)
            if n in twice:
                pending.append(raw)  # the same message delivered twice (IMAP does)
            if len(pending) >= chunk:
                self._append(pending)
                pending = []
                time.sleep(seconds / max(1, count / chunk))
        if pending:
            self._append(pending)
        with self.figures.lock:
            self.figures.emails_redelivered = len(twice)

    def _append(self, raws: list[bytes]) -> None:
        self.dovecot.append(raws)
        with self.figures.lock:
            self.figures.emails_appended += len(raws)

    def feed_slack(self, count: int, seconds: float, threads: int = 8) -> None:
        twice = set(random.sample(range(count), k=count // 10))
        queue = list(range(count))
        lock = threading.Lock()
        pace = seconds / max(1, count) * threads

        def run() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    n = queue.pop(0)
                event = {
                    "type": "message",
                    "channel": INTAKE,
                    "channel_type": "channel",
                    "user": f"U0SOAK{n:05d}",
                    "text": body("slack", n),
                    "ts": f"{1764000000 + n}.000100",
                }
                self._deliver_event(event, event_id=f"EvSOAK{n}")
                if n in twice:  # Slack delivers again, as it does when it doubts the first
                    self._deliver_event(event, event_id=f"EvSOAK{n}", retry_num=1)
                time.sleep(pace)

        workers = [threading.Thread(target=run) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        with self.figures.lock:
            self.figures.slack_redelivered = len(twice)

    def _deliver_event(self, event: dict[str, Any], *, event_id: str, retry_num: int = 0) -> None:
        """POST the event as Slack would, to a live server, until one acknowledges it (Slack
        retries an unacknowledged event)."""
        verifier = SignatureVerifier(SECRET)
        for attempt in range(60):
            payload = json.dumps({"token": "x", "team_id": "T1", "api_app_id": "A1",
                                  "type": "event_callback", "event_id": event_id,
                                  "event_time": int(time.time()), "event": event})  # fmt: skip
            ts = str(int(time.time()))
            headers = {
                "content-type": "application/json",
                "x-slack-request-timestamp": ts,
                "x-slack-signature": verifier.generate_signature(timestamp=ts, body=payload),
            }
            if retry_num or attempt:
                headers["x-slack-retry-num"] = str(retry_num + attempt)
                headers["x-slack-retry-reason"] = "http_error"
            port = random.choice(self.serve_ports)
            started = time.monotonic()
            try:
                response = requests.post(f"http://127.0.0.1:{port}/slack/events", data=payload,
                                         headers=headers, timeout=10)  # fmt: skip
                ok = response.status_code == 200
            except requests.RequestException:
                ok = False
            with self.figures.lock:
                if ok:
                    self.figures.ack_latencies.append(time.monotonic() - started)
                    self.figures.slack_sent += 1
                    return
                self.figures.slack_retries += 1
            time.sleep(0.2)
        raise RuntimeError(f"no server acknowledged {event_id}")

    # -- faults ----------------------------------------------------------------------------
    def inject_faults(self, every: float) -> None:
        rotation = ["kill", "slack-429", "pg-terminate", "smtp-down", "kill", "slack-500"]
        i = 0
        while not self.stop_faults.wait(every):
            fault = rotation[i % len(rotation)]
            i += 1
            try:
                self._inject(fault, every)
            except Exception as exc:  # a fault that could not be injected is reported, not fatal
                self.figures.faults[f"injection failed: {fault}: {type(exc).__name__}"] += 1

    def _inject(self, fault: str, every: float) -> None:
        if fault == "kill":
            proc = random.choice(self.procs)
            self.figures.cut_at.append(time.monotonic())
            proc.kill()
            time.sleep(0.5)
            proc.start()
            self.figures.faults[f"SIGKILL {proc.name.rstrip('0123456789')}"] += 1
        elif fault == "slack-429":
            self.slack.fail(429, count=30, retry_after=1)
            self.figures.faults["Slack 429 stretch"] += 1
        elif fault == "slack-500":
            self.slack.fail(500, count=30)
            self.figures.faults["Slack 500 stretch"] += 1
        elif fault == "smtp-down":
            self.figures.cut_at.append(time.monotonic())
            self.smtp.stop()
            self.stop_faults.wait(min(every, 4))
            self.smtp.start()
            self.figures.faults["SMTP down stretch"] += 1
        elif fault == "pg-terminate":
            self.figures.faults["pg_terminate_backend rounds"] += 1
            self.figures.faults["connections terminated"] += self.terminate_connections()

    def terminate_connections(self) -> int:
        admin = create_engine(make_url(self.settings.database_url), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                return len(connection.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'"
                )).all())  # fmt: skip
        finally:
            admin.dispose()

    # -- waiting and checking --------------------------------------------------------------
    def wait_until_settled(self, expected: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        config = self.settings.app
        chain_len = len(config.escalation.chain)
        while time.monotonic() < deadline:
            for proc in self.procs:  # a process that died on its own is a finding, not a fault
                if not proc.alive:
                    raise AssertionError(f"{proc.name} exited: see {proc.log_path}")
            with self.sessions() as s:
                stored = (
                    s.scalar(
                        select(func.count()).select_from(Message).where(Message.direction == "in")
                    )
                    or 0
                )
                if stored >= expected and not self.figures.stored_at:
                    self.figures.stored_at = time.monotonic()
                pending = (
                    s.scalar(
                        select(func.count())
                        .select_from(OutboxItem)
                        .where(OutboxItem.status == "pending")
                    )
                    or 0
                )
                swept = s.scalars(
                    select(Ticket).where(
                        Ticket.status.in_(SWEPT_STATUSES),
                        Ticket.escalation_level < chain_len,
                        Ticket.sla_paused_at.is_(None),
                    )
                )
                # A chain ends early when it names fewer people (an owner without a backup).
                open_chains = sum(
                    1 for t in swept if t.escalation_level < len(chain_recipients(config, t))
                )
                untold = s.scalar(select(func.count()).select_from(PendingEscalation)) or 0
            if (
                stored >= expected
                and pending == 0
                and not open_chains
                and not untold
                and self.dovecot.inbox_count() == 0
            ):
                self.figures.drained_at = time.monotonic()
                return
            time.sleep(1)
        raise AssertionError(
            f"not settled in {timeout:.0f}s: {stored}/{expected} stored, {pending} deliveries "
            f"pending, {open_chains} escalation chains still running, {untold} steps untold"
        )

    def check(self, emails: int, slack: int) -> list[str]:
        problems: list[str] = []
        domain = self.settings.app.desk.message_id_domain
        with self.sessions() as s:
            inbound = list(
                s.execute(select(Message.source, Message.body).where(Message.direction == "in"))
            )
            bodies = Counter(m for _, b in inbound for m in BODY_MARK.findall(b))
            by_source = Counter(source for source, _ in inbound)
            if by_source != Counter({"email": emails, "slack": slack}):
                problems.append(
                    f"messages stored by source {dict(by_source)}, expected {emails} + {slack}"
                )
            if any(c != 1 for c in bodies.values()) or len(bodies) != emails + slack:
                problems.append(f"{len(bodies)} distinct bodies stored, some not exactly once")
            links = list(s.execute(select(TicketMessage.message_id, Ticket.issue).join(Ticket)))
            doubled = [k for k, c in Counter(links).items() if c > 1]
            if doubled:
                problems.append(f"{len(doubled)} messages filed twice under one issue")
            filed = select(TicketMessage.message_id)
            unfiled = s.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.direction == "in", ~Message.id.in_(filed))
            )
            if unfiled:
                problems.append(f"{unfiled} messages without a ticket")
            events = Counter((e.ticket_id, e.data.get("level")) for e in s.scalars(
                select(TicketEvent).where(TicketEvent.action == "sla-escalation")))  # fmt: skip
            if any(c > 1 for c in events.values()):
                problems.append("an escalation step fired twice")
            last_sweep = s.scalar(select(JobRun.last_started_at).where(JobRun.name == SWEEP_JOB))
            if last_sweep is not None:
                swept = s.scalars(select(Ticket).where(Ticket.status.in_(SWEPT_STATUSES)))
                missed = [t.id for t in swept if next_step(self.settings.app, t, now=last_sweep)]
                if missed:
                    problems.append(f"{len(missed)} tickets with a due escalation not notified")
            items = list(s.scalars(select(OutboxItem)))
        self.counts = {"escalation steps": len(events), "tickets": len({t for t, _ in links}),
                       "deliveries": len(items)}  # fmt: skip
        not_sent = Counter(i.status for i in items if i.status != "sent")
        if not_sent:
            problems.append(f"outbox not empty: {dict(not_sent)}")
        self.read_unknown_outcomes()
        emails_out = {message_id_for(i, domain): i for i in items if i.channel == "email"}
        received = self.smtp.received
        missing_mail = [m for m in emails_out if received[m] == 0]
        twice = [m for m, c in received.items() if m in emails_out and c > 1]
        self.resent_email = len(twice)
        self.resent_after_kill = sum(1 for m in twice if self.died_sending(emails_out[m].id))
        unexplained = [
            m
            for m in twice
            if not self.cut(self.smtp.first_at[m]) and not self.died_sending(emails_out[m].id)
        ]
        if missing_mail or unexplained:
            problems.append(
                f"emails: {len(missing_mail)} never received, {len(unexplained)} received twice "
                f"with no fault to explain it: {unexplained[:3]}"
            )
        posts: Counter[Any] = Counter()
        first_post: dict[Any, float] = {}
        for call in self.slack.called("chat.postMessage"):
            if "_failed" not in call.args:
                key = (call.args.get("metadata") or {}).get("event_payload", {}).get("outbox_id")
                posts[key] += 1
                first_post.setdefault(key, call.at)
        # A newer version of a posted message (a surge that grew) is an edit of that post, not a
        # post of its own: delivered when its post saw an edit for it.
        edits = Counter(
            (call.args.get("channel"), call.args.get("ts"))
            for call in self.slack.called("chat.update")
            if "_failed" not in call.args
        )
        editing: defaultdict[Any, list[int]] = defaultdict(list)
        for i in items:
            replaces = i.payload.get("replaces") or {}
            if i.channel == "slack" and replaces.get("ts"):
                editing[(replaces.get("channel"), replaces["ts"])].append(i.id)
        unedited = [i for post, ids in editing.items() for i in ids[edits[post] :]]
        edited = {i for ids in editing.values() for i in ids} - set(unedited)
        slack_items = [i.id for i in items if i.channel == "slack" and i.id not in edited]
        twice_posted = [i for i in slack_items if posts[i] > 1]
        self.resent_slack = len(twice_posted)
        # Not even a SIGKILL explains a repeated post now: the retry looks for it first.
        unexplained = twice_posted
        missing_posts = [i for i in slack_items if posts[i] == 0]
        if missing_posts or unexplained:
            problems.append(
                f"Slack: {len(missing_posts)} never posted, {len(unexplained)} posted twice "
                f"with no fault to explain it: outbox ids {unexplained[:3]}"
            )
        # Each fired step is told once: in a notice of its own or counted in a summary (by email,
        # which every desk person has; Slack when they have an id).
        mails = [i for i in items if i.channel == "email"]
        told = sum(1 for i in mails if re.fullmatch(r"escalation:\d+:\d+:email", i.dedupe_key))
        told += sum(i.payload["total"] for i in mails if i.kind == "sla-summary")
        if told != len(events):
            problems.append(f"{len(events)} escalation steps fired, {told} told by email")
        self.escalations_sent = sum(1 for i in items if i.kind in ("escalation", "sla-summary"))
        leaks = self.log_leaks()
        if leaks:
            problems.append(f"log lines holding a body or a code: {leaks[:3]}")
        return problems

    def read_unknown_outcomes(self) -> None:
        """From the logs: each delivery whose attempt died unrecorded (which process made it),
        and the Slack posts a retry found in the channel instead of posting again."""
        self.unknown: dict[int, set[int]] = {}
        self.found_posted = 0
        killed = {pid for proc in self.procs for pid in proc.killed_pids}
        for path in self.logs.glob("*.log"):
            for line in path.read_text(errors="replace").splitlines():
                if match := UNKNOWN.search(line):
                    self.unknown.setdefault(int(match[1]), set()).add(int(match[3]))
                self.found_posted += bool(FOUND.search(line))
        self.unknown_after_kill = sum(1 for pids in self.unknown.values() if pids & killed)
        self.killed_pids = killed

    def died_sending(self, item_id: int) -> bool:
        """Whether this delivery's earlier attempt was made by a process the soak SIGKILLed
        before it could record the outcome (SMTP cannot be asked: the email goes again)."""
        return bool(self.unknown.get(item_id, set()) & self.killed_pids)

    def cut(self, delivered_at: float) -> bool:
        """Whether a fault struck just after this delivery was accepted: a SIGKILL or an SMTP
        stop between the receiver's OK and the outbox's commit, where the sender cannot know the
        delivery happened (at-least-once: it sends again). A terminated database connection is
        no excuse: the outbox records such a delivery afresh."""
        return any(0 <= at - delivered_at <= 3.0 for at in self.figures.cut_at)

    def log_leaks(self) -> list[str]:
        leaks = []
        for path in self.logs.glob("*.log"):
            for line in path.read_text(errors="replace").splitlines():
                if BODY_MARK.search(line) or CODE_MARK.search(line):
                    leaks.append(f"{path.name}: {line[:160]}")
        self.log_lines = sum(
            len(p.read_text(errors="replace").splitlines()) for p in self.logs.glob("*.log")
        )
        return leaks


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


def report(soak: Soak, args: argparse.Namespace, problems: list[str]) -> str:
    f = soak.figures
    total = args.emails + args.slack
    intake_seconds = (f.stored_at or f.drained_at) - f.started
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((x.split(":", 1)[1].strip() for x in cpuinfo if x.startswith("model name")), "?")
    run = "short" if args.short else "full"
    p50, p99 = percentile(f.ack_latencies, 50) * 1000, percentile(f.ack_latencies, 99) * 1000
    slowest = max(f.ack_latencies, default=0) * 1000
    settle = f.drained_at - (f.stored_at or f.drained_at)
    lines = [
        f"# Soak with faults ({run} run, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        "PostgreSQL on loopback.",
        "Processes: 3 `triage serve`, 2 `triage worker`, 2 `triage ingest imap`; Slack stand-in, "
        "aiosmtpd, Dovecot.",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| messages fed | {args.emails} emails (+{f.emails_redelivered} delivered twice), "
        f"{args.slack} Slack events (+{f.slack_redelivered} delivered twice) |",
        f"| end-to-end throughput | {total / intake_seconds:.1f} messages/s ({total} stored "
        f"in {intake_seconds:.1f} s, triage included) |",
        f"| Slack acknowledgement latency | p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
        f"max {slowest:.0f} ms |",
        f"| Slack deliveries refused or cut by faults (retried, as Slack does) | "
        f"{f.slack_retries} |",
        f"| tickets | {soak.counts['tickets']} |",
        f"| escalation steps fired / notices and summaries delivered | "
        f"{soak.counts['escalation steps']} / "
        f"{soak.escalations_sent} |",
        f"| outbox deliveries | {soak.counts['deliveries']}, all sent; repeated after a fault cut "
        f"the acknowledgement: {soak.resent_email} emails (same Message-ID; "
        f"{soak.resent_after_kill} after their sender was SIGKILLed unrecorded), "
        f"{soak.resent_slack} Slack posts |",
        f"| attempts that died unrecorded (outcome unknown) | {len(soak.unknown)}, "
        f"{soak.unknown_after_kill} of them in a process the soak SIGKILLed; Slack posts found "
        f"in the channel by the retry instead of posted again: {soak.found_posted} |",
        f"| time to settle after the last message | {settle:.1f} s |",
        f"| log lines checked for codes and bodies | {soak.log_lines} |",
        "",
        "Faults injected:",
        "",
        *[f"- {name}: {count}" for name, count in sorted(f.faults.items())],
        "",
        "Result: " + ("every check passed." if not problems else "FAILED: " + "; ".join(problems)),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SOAK_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"),
    )
    parser.add_argument("--short", action="store_true", help="200 + 200 messages, a few minutes")
    parser.add_argument("--emails", type=int)
    parser.add_argument("--slack", type=int)
    parser.add_argument("--feed-seconds", type=float)
    parser.add_argument("--fault-every", type=float, default=3.0)
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS-soak.md")
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith("postgres"):
        parser.error("needs a PostgreSQL --database-url (or SOAK_DATABASE_URL / TEST_DATABASE_URL)")
    name = make_url(args.database_url).database or ""
    if "test" not in name and "soak" not in name:
        parser.error(f"refusing to empty database {name!r}: its name must contain 'test' or 'soak'")
    args.emails = args.emails or (200 if args.short else 5000)
    args.slack = args.slack or (200 if args.short else 5000)
    args.feed_seconds = args.feed_seconds or (40.0 if args.short else 300.0)

    soak = Soak(args)
    soak.prepare_database()
    problems: list[str] = []
    try:
        soak.start()
        faults = threading.Thread(target=soak.inject_faults, args=(args.fault_every,), daemon=True)
        faults.start()
        feeders = [
            threading.Thread(target=soak.feed_emails, args=(args.emails, args.feed_seconds)),
            threading.Thread(target=soak.feed_slack, args=(args.slack, args.feed_seconds)),
        ]
        for feeder in feeders:
            feeder.start()
        for feeder in feeders:
            feeder.join()
        soak.figures.fed_at = time.monotonic()
        soak.stop_faults.set()
        faults.join()
        soak.slack.recover()
        if not soak.smtp.up:
            soak.smtp.start()
        soak.wait_until_settled(args.emails + args.slack, timeout=240 if args.short else 900)
        problems = soak.check(args.emails, args.slack)
    except AssertionError as exc:
        problems = [str(exc)]
    finally:
        soak.stop()
    if hasattr(soak, "counts"):
        text_report = report(soak, args, problems)
        print(text_report)
        args.results.write_text(text_report)
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    print(f"logs: {soak.logs}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
