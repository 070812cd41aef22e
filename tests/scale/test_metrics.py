"""Metrics count what happened, read ticket and outbox state from the database, and add up
across processes; health says whether the database is there and migrated."""

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery.outbox import PermanentDeliveryError, TransientDeliveryError, deliver_due
from bot.intake.flow import take_in
from bot.ops import metrics
from bot.ops.health import liveness, readiness
from bot.ops.runtime import Runtime
from bot.store.db import make_engine
from tests.scale.conftest import NOW, ROOT, email

OWED = "I took 71-621 and 71-622 in the beta but only one voucher came. MCP ID 4012345"


def samples(exposition: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(exposition.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def counter(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_change_as_tickets_flow(runtime: Runtime, db: Session, engine: Engine) -> None:
    before = counter("triage_messages_taken_in_total", source="email")
    dupes = counter("triage_messages_duplicate_total", source="email")
    timed = counter("triage_classify_seconds_count")
    take_in(db, runtime, email(OWED), now=NOW)
    take_in(db, runtime, email(OWED), now=NOW)
    db.commit()
    assert counter("triage_messages_taken_in_total", source="email") == before + 1
    assert counter("triage_messages_duplicate_total", source="email") == dupes + 1
    assert counter("triage_classify_seconds_count") == timed + 1

    seen = samples(metrics.render(engine))
    assert seen[("triage_tickets", (("issue", "voucher-missing"), ("status", "escalated")))] == 1
    assert seen[("triage_outbox_depth", (("channel", "email"), ("status", "pending")))] >= 1
    assert seen[("triage_database_up", ())] == 1


def test_delivery_errors_are_counted_by_channel(
    sessions: sessionmaker[Session], runtime: Runtime
) -> None:
    with sessions() as session, session.begin():
        take_in(session, runtime, email(OWED), now=NOW)
    errors = counter("triage_delivery_errors_total", channel="email", kind="transient")

    def down(_item: object) -> None:
        raise TransientDeliveryError("SMTP down")

    sent, failed = deliver_due(sessions, {"email": down}, now=NOW)
    assert failed >= 1 and sent == 0
    assert (
        counter("triage_delivery_errors_total", channel="email", kind="transient")
        == errors + failed
    )

    refused = counter("triage_delivery_errors_total", channel="email", kind="permanent")

    def refuse(_item: object) -> None:
        raise PermanentDeliveryError("550 no such user")

    deliver_due(sessions, {"email": refuse}, now=NOW.replace(year=2027))
    assert (
        counter("triage_delivery_errors_total", channel="email", kind="permanent")
        == refused + failed
    )


def test_an_unreachable_database_reads_as_down_not_as_an_error() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    seen = samples(metrics.render(engine))
    assert seen[("triage_database_up", ())] == 0
    assert readiness(engine)[0] is False


def test_readiness_needs_a_current_schema(engine: Engine, tmp_path: Path) -> None:
    ok, details = readiness(engine)
    assert ok and details == {"status": "ok", "database": "reachable", "migrations": "current"}
    assert liveness() == {"status": "ok"}
    fresh = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with fresh.begin() as connection:
        connection.execute(text("SELECT 1"))
    ok, details = readiness(fresh)
    assert not ok and details["migrations"] == "behind"


BUMP = """
from bot.ops import metrics
metrics.message_taken_in("slack", duplicate=False)
metrics.escalation_fired(1, breached=True)
"""


def test_counters_add_up_across_processes(tmp_path: Path) -> None:
    env = {**os.environ, metrics.MULTIPROC_ENV: str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", BUMP], env=env, cwd=ROOT, check=True)
    render = "import sys; from bot.ops import metrics; sys.stdout.buffer.write(metrics.render())"
    out = subprocess.run(
        [sys.executable, "-c", render], env=env, cwd=ROOT, check=True, capture_output=True
    ).stdout
    seen = samples(out)
    assert seen[("triage_messages_taken_in_total", (("source", "slack"),))] == 2
    assert seen[("triage_sla_breaches_total", ())] == 2
