"""`triage serve --socket` (for desks without a public URL), as a real process against a loopback
Socket Mode endpoint: it connects with the app-level token, acknowledges commands, events and
button presses by envelope id (an event only once its message is stored), and reconnects when
asked to and when the connection drops."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config.settings import Settings
from bot.store.models import Ticket
from handlers.slack.ids import Action
from tests.slack.conftest import AGENT, DEV, INTAKE, ROOT, SECRET, TOKEN, message_event
from tests.slack.fake_slack import FakeSlack, render_text
from tests.slack.socket_server import SocketModeServer


@pytest.fixture
def socket_server() -> Iterator[SocketModeServer]:
    server = SocketModeServer().start()
    yield server
    server.stop()


@pytest.fixture
def serving(
    socket_server: SocketModeServer, fake_slack: FakeSlack, slack_settings: Settings,
    tmp_path: Path,
) -> Iterator[subprocess.Popen[bytes]]:  # fmt: skip
    fake_slack.socket_url = socket_server.url
    env = {
        **os.environ,
        "DATABASE_URL": slack_settings.database_url,
        "TRIAGE_KNOWLEDGE": str(ROOT / "knowledge"),
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_APP_TOKEN": "xapp-test-token",
        "SLACK_API_URL": fake_slack.api_url,
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()",
         "--config", str(ROOT / "app.yaml"), "serve", "--socket"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    try:
        socket_server.wait_connections(1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


def command(text: str, *, user: str, fake: FakeSlack) -> dict[str, object]:
    return {"token": "legacy", "team_id": "T1", "channel_id": "C0AGENTS", "user_id": user,
            "command": "/triage", "text": text, "response_url": fake.response_url("socket"),
            "trigger_id": f"trigger.{time.time_ns()}"}  # fmt: skip


def event(text: str, *, ts: str, event_id: str) -> dict[str, object]:
    return {"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time()),
            "event": message_event(text, user="U0EMILY", ts=ts)}  # fmt: skip


def test_serve_socket_takes_commands_events_and_presses_and_reconnects(
    serving: subprocess.Popen[bytes], socket_server: SocketModeServer, fake_slack: FakeSlack,
    db: Session, records: None,
) -> None:  # fmt: skip
    [opened] = fake_slack.called("apps.connections.open")
    assert opened.args.get("_failed") is None

    ack = socket_server.envelope("slash_commands", command("help", user=AGENT, fake=fake_slack))
    assert "Triage commands" in json.dumps(ack.get("payload"))

    text = "I took the 71-621 beta in March and my free voucher never came."
    socket_server.envelope("events_api", event(text, ts="1764000900.000100", event_id="EvS1"))
    # acknowledged only once the message and its ticket are stored
    [ticket] = db.scalars(select(Ticket)).all()
    assert ticket.candidate_mcp_id == "1034567"
    reply = fake_slack.posts(INTAKE)[0]
    assert reply.args["thread_ts"] == "1764000900.000100"

    press = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": DEV},
             "api_app_id": "A1", "channel": {"id": INTAKE}, "trigger_id": "t",
             "container": {"type": "message", "channel_id": INTAKE, "message_ts": "1.1"},
             "response_url": fake_slack.response_url("press"),
             "actions": [{"type": "button", "action_id": Action.ESCALATE.value,
                          "value": str(ticket.id), "block_id": "b"}]}  # fmt: skip
    assert socket_server.envelope("interactive", press)
    answered = render_text(fake_slack.wait_for("response_url")[0].args)
    assert f"TRI-{ticket.id} escalated to" in answered

    socket_server.ask_to_reconnect()  # Slack retires the connection: the app opens a new one
    socket_server.wait_connections(2)
    assert len(fake_slack.called("apps.connections.open")) >= 2
    socket_server.envelope("events_api", event("Any news on my voucher?", ts="1764000950.000100",
                                               event_id="EvS2"))  # fmt: skip

    socket_server.drop()  # the connection breaks without warning: the app reconnects by itself
    socket_server.wait_connections(3)
    ack = socket_server.envelope("slash_commands", command("help", user=AGENT, fake=fake_slack))
    assert "Triage commands" in json.dumps(ack.get("payload"))
    assert serving.poll() is None  # still serving
