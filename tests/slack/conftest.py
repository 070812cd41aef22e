"""Fixtures for the Slack tests: the fake Web API, the app served by uvicorn on loopback, and a
client that sends real signed Slack requests to it."""

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings, load_settings
from bot.store.models.base import utcnow
from bot.store.models.tickets import Ticket
from handlers.slack.server import create_web_app
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import AGENT as AGENT
from tests.slack.harness import INTAKE as INTAKE
from tests.slack.harness import SECRET as SECRET
from tests.slack.harness import Served, SlackClient

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "xoxb-test-token"
LEAD = "U01MARIA"  # triage lead
DEV = "U02DEV"  # vouchers owner, lead of the vouchers team
OLIVER = "U07OLIVER"  # registrations member, leads EMEA
STRANGER = "U99NOBODY"


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
