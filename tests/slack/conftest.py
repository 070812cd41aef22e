"""Fixtures for the Slack tests: the fake Web API, the app served by uvicorn on loopback, and a
client that sends real signed Slack requests to it."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import uvicorn
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.models.base import utcnow
from bot.models.tickets import Ticket
from bot.settings import Settings, load_settings
from handlers.slack.server import create_web_app
from tests.slack.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"
AGENT = "U10AGENT"  # an agent who owns nothing (app.yaml agent_users)
LEAD = "U01MARIA"  # triage lead
DEV = "U02DEV"  # vouchers owner, lead of the vouchers team
OLIVER = "U07OLIVER"  # registrations member, leads EMEA
STRANGER = "U99NOBODY"
INTAKE = "C0INTAKE"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def slack_settings(database_url: str, fake_slack: FakeSlack) -> Settings:
    return load_settings(
        config_path=ROOT / "app.yaml",
        DATABASE_URL=database_url,
        TRIAGE_KNOWLEDGE=ROOT / "knowledge",
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake_slack.api_url,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """`triage serve`'s ASGI app under uvicorn in a thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Served":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class SlackClient:
    """Sends what Slack sends: signed slash commands, interactive payloads and events."""

    def __init__(self, base_url: str, fake: FakeSlack, secret: str = SECRET) -> None:
        self.url = base_url + "/slack/events"
        self.fake = fake
        self.verifier = SignatureVerifier(secret)
        self.triggers = 0

    def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        sig = signature or self.verifier.generate_signature(timestamp=ts, body=body)
        return requests.post(
            self.url,
            data=body.encode(),
            headers={
                "content-type": content_type,
                "x-slack-request-timestamp": ts,
                "x-slack-signature": sig,
                **(headers or {}),
            },
            timeout=10,
        )

    def command(
        self, text: str, *, user: str = AGENT, channel: str = "C0AGENTS", **kw: Any
    ) -> requests.Response:
        self.triggers += 1
        form = {
            "token": "legacy",
            "team_id": "T1",
            "channel_id": channel,
            "user_id": user,
            "command": "/triage",
            "text": text,
            "response_url": self.fake.response_url(f"cmd{self.triggers}"),
            "trigger_id": f"trigger.{self.triggers}.{time.time_ns()}",
        }
        return self.post(urlencode(form), "application/x-www-form-urlencoded", **kw)

    def press(
        self,
        action: dict[str, Any],
        *,
        user: str = AGENT,
        channel: str = INTAKE,
        **kw: Any,
    ) -> requests.Response:
        payload = {
            "type": "block_actions",
            "team": {"id": "T1"},
            "user": {"id": user},
            "api_app_id": "A1",
            "channel": {"id": channel},
            "container": {"type": "message", "channel_id": channel, "message_ts": "1.1"},
            "trigger_id": "t",
            "response_url": self.fake.response_url("press"),
            "actions": [action],
        }
        return self.post(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **kw
        )

    def event(
        self, event: dict[str, Any], *, event_id: str, retry_num: int | None = None
    ) -> requests.Response:
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": "T1",
                "api_app_id": "A1",
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "event": event,
            }
        )
        headers = (
            {"x-slack-retry-num": str(retry_num), "x-slack-retry-reason": "http_timeout"}
            if retry_num
            else {}
        )
        return self.post(body, "application/json", headers=headers)


@pytest.fixture
def served(
    slack_settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> Iterator[Served]:
    web = create_web_app(slack_settings, engine=engine)
    with Served(web) as running:
        yield running


@pytest.fixture
def slack(served: Served, fake_slack: FakeSlack) -> SlackClient:
    return SlackClient(served.url, fake_slack)


def button(action_id: str, ticket_id: int) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "value": str(ticket_id), "block_id": "b"}


def make_ticket(db: Session, **fields: Any) -> Ticket:
    now = fields.pop("now", None) or utcnow()
    values: dict[str, Any] = {
        "status": "new",
        "issue": "voucher-missing",
        "priority": "normal",
        "source": "slack",
        "subject": "voucher never came",
        "candidate_key": "4471203",
        "candidate_mcp_id": "4471203",
        "owner": "dev",
        "routing_rule": "vouchers",
        "decision": "escalate",
        "created_at": now,
        "updated_at": now,
    }
    values.update(fields)
    ticket = Ticket(**values)
    db.add(ticket)
    db.commit()
    return ticket


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def records(sessions: sessionmaker[Session]) -> None:
    """The demo's sample records (20 candidates), as the README's demo uses them."""
    from bot.records.importer import import_records

    report = import_records(sessions, [ROOT / "samples" / "records"])
    assert not report.errors


def message_event(
    text: str, *, user: str, ts: str, channel: str = INTAKE, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": channel,
        "channel_type": "im" if channel.startswith("D") else "channel",
        "user": user,
        "text": text,
        "ts": ts,
        **extra,
    }
