"""Fixtures for the scale-out tests: a runtime over the sample records, messages to take in."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.ops.runtime import Runtime
from bot.records.importer import import_records
from bot.types import InboundMessage

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
# A body with a voucher code and a sentence no log line may repeat.
SECRET_BODY = (
    "My voucher code is X9K2-7Q2K-ABCD and the promo code PROMO7Z9Q8 fails. "
    "The purple giraffe sentence identifies this body. MCP ID 4012345, exam 71-621."
)


@pytest.fixture
def runtime(settings: Settings, sessions: sessionmaker[Session]) -> Runtime:
    report = import_records(sessions, [ROOT / "samples" / "records"])
    assert not report.errors
    return Runtime(settings)


def email(text: str, external_id: str = "<m1@example.in>", **fields: object) -> InboundMessage:
    values: dict[str, object] = {
        "source": "email",
        "external_id": external_id,
        "text": text,
        "subject": "Voucher X9K2-7Q2K-ABCD",
        "sender_email": "priya.raman@example.in",
        "received_at": NOW,
    }
    return InboundMessage(**{**values, **fields})  # type: ignore[arg-type]


# The Slack tests' fixtures: the fake Web API, the app under uvicorn, a signed-request client.
from tests.slack.conftest import fake_slack, served, slack, slack_settings  # noqa: E402

__all__ = ["fake_slack", "served", "slack", "slack_settings"]
