"""`/readyz` and `/metrics` on the running Slack app (`triage serve`'s ASGI app under uvicorn)
and on `triage worker --metrics-port`; the metrics follow the tickets as they flow."""

import os
import signal
import subprocess
import sys
import time

import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from bot.records.importer import import_records
from tests.scale.conftest import ROOT
from tests.slack.conftest import message_event
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import INTAKE, Served, SlackClient, free_port

VOUCHER = "my voucher never came, I took 71-621 and 71-622 in the beta. MCP ID 4012345"


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = requests.get(url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def open_tickets(seen: dict) -> float:  # type: ignore[type-arg]
    return sum(v for (name, _), v in seen.items() if name == "triage_tickets")


def test_readyz_and_metrics_answer_and_follow_the_tickets(
    served: Served, slack: SlackClient, fake_slack: FakeSlack, sessions: sessionmaker[Session]
) -> None:
    import_records(sessions, [ROOT / "samples" / "records"])
    ready = requests.get(served.url + "/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "reachable", "migrations": "current"}

    before = scrape(served.url)
    taken = before.get(("triage_messages_taken_in_total", frozenset({("source", "slack")})), 0)
    assert open_tickets(before) == 0
    event = message_event(VOUCHER, user="U0PRIYA", ts="1764000100.000100")
    assert slack.event(event, event_id="EvM1").status_code == 200
    fake_slack.posts(INTAKE)  # the reply went out: the ticket is filed

    after = scrape(served.url)
    assert after[("triage_messages_taken_in_total", frozenset({("source", "slack")}))] == taken + 1
    assert open_tickets(after) == 1
    assert after[("triage_database_up", frozenset())] == 1
    assert any(name == "triage_classify_seconds_count" for name, _ in after)


def test_worker_serves_metrics_on_its_port(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TRIAGE_CONFIG": str(ROOT / "app.yaml"),
        "TRIAGE_KNOWLEDGE": str(ROOT / "knowledge"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    worker = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "worker", "--interval", "0.5",
         "--metrics-port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline and worker.poll() is None, "worker did not serve"
            time.sleep(0.2)
        assert requests.get(url + "/healthz", timeout=5).json() == {"status": "ok"}
        assert ("triage_database_up", frozenset()) in scrape(url)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
