"""Prometheus metrics: counters the core bumps as work happens, gauges read from the database.

Several processes (uvicorn workers, `triage worker`s) each count their own work. With
`PROMETHEUS_MULTIPROC_DIR` set (an empty directory, wiped when the deployment starts, set in every
process's environment before it starts), prometheus-client writes each process's counters to
files there and any process can render the sum. Without it, a process renders its own counts.

Ticket and outbox gauges are not counted in memory at all: they are read from the database at
scrape time (`DatabaseCollector`), so they are right whichever process did the work and
however many were killed on the way.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.store.models import Ticket
from bot.store.models.base import utcnow
from bot.store.models.outbox import OutboxItem
from bot.store.models.tickets import OPEN_STATUSES

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# The process's own metrics live in this registry (not the library's global one), so rendering
# never mixes in another library's collectors.
REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES = Counter(
    "triage_messages_taken_in",
    "Messages stored by intake (duplicates excluded), by source.",
    ["source"],
    registry=REGISTRY,
)
DUPLICATES = Counter(
    "triage_messages_duplicate",
    "Messages taken in again (a retried event, a re-polled mail) and recognised, by source.",
    ["source"],
    registry=REGISTRY,
)
TICKETS_OPENED = Counter(
    "triage_tickets_opened", "Tickets created, by issue.", ["issue"], registry=REGISTRY
)
ESCALATIONS = Counter(
    "triage_escalations",
    "SLA escalation steps fired (each notified once), by chain level.",
    ["level"],
    registry=REGISTRY,
)
SLA_BREACHES = Counter(
    "triage_sla_breaches",
    "Escalation steps fired after the deadline had passed.",
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "triage_deliveries",
    "Outbox items delivered, by channel (email is SMTP, slack the Web API).",
    ["channel"],
    registry=REGISTRY,
)
DELIVERY_ERRORS = Counter(
    "triage_delivery_errors",
    "Failed outbox delivery attempts by channel and kind (transient: retried; permanent/dead: "
    "given up).",
    ["channel", "kind"],
    registry=REGISTRY,
)
CLASSIFY_SECONDS = Histogram(
    "triage_classify_seconds",
    "Time to triage one message (parse, match, records checks).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)


def message_taken_in(source: str, *, duplicate: bool) -> None:
    (DUPLICATES if duplicate else MESSAGES).labels(source=source).inc()


def ticket_opened(issue: str | None) -> None:
    TICKETS_OPENED.labels(issue=issue or "unknown").inc()


def escalation_fired(level: int, *, breached: bool, count: int = 1) -> None:
    ESCALATIONS.labels(level=str(level)).inc(count)
    if breached:
        SLA_BREACHES.inc(count)


def delivery_result(channel: str, error: Exception | None, *, gave_up: bool = False) -> None:
    if error is None:
        DELIVERIES.labels(channel=channel).inc()
        return
    kind = "permanent" if gave_up else "transient"
    DELIVERY_ERRORS.labels(channel=channel, kind=kind).inc()


@contextmanager
def classify_timer() -> Iterator[None]:
    start = perf_counter()
    try:
        yield
    finally:
        CLASSIFY_SECONDS.observe(perf_counter() - start)


class DatabaseCollector(Collector):
    """Gauges read at scrape time: tickets by issue and status, outbox depth, open breaches."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("triage_database_up", "1 when the database answered the scrape.")
        try:
            with Session(self.engine) as session:
                families = list(database_gauges(session))
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families


def database_gauges(session: Session) -> Iterator[Metric]:
    tickets = GaugeMetricFamily(
        "triage_tickets", "Tickets by issue and status.", labels=["issue", "status"]
    )
    rows = session.execute(
        select(Ticket.issue, Ticket.status, func.count()).group_by(Ticket.issue, Ticket.status)
    )
    for issue, status, count in rows:
        tickets.add_metric([issue or "unknown", status], count)
    yield tickets

    depth = GaugeMetricFamily(
        "triage_outbox_depth", "Outbox items by channel and status.", labels=["channel", "status"]
    )
    rows = session.execute(
        select(OutboxItem.channel, OutboxItem.status, func.count())
        .where(OutboxItem.status != "sent")
        .group_by(OutboxItem.channel, OutboxItem.status)
    )
    for channel, status, count in rows:
        depth.add_metric([channel, status], count)
    yield depth

    breached = GaugeMetricFamily(
        "triage_tickets_sla_breached", "Open tickets past their resolution deadline now."
    )
    count = session.scalar(
        select(func.count()).where(
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.sla_due_at.is_not(None),
            Ticket.sla_due_at < utcnow(),
        )
    )
    breached.add_metric([], count or 0)
    yield breached


def multiprocess_enabled() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def render(engine: Engine | None = None) -> bytes:
    """The exposition text for `/metrics`: every process's counters (when the multiprocess
    directory is set, else this process's) plus the database gauges when `engine` is given."""
    if multiprocess_enabled():
        counters = CollectorRegistry()
        MultiProcessCollector(counters)
    else:
        counters = REGISTRY
    text = generate_latest(counters)
    if engine is not None:
        gauges = CollectorRegistry()
        gauges.register(DatabaseCollector(engine))
        text += generate_latest(gauges)
    return text
