"""The decision acts on the matcher's confidence and the thresholds stored with the model."""

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.intake.flow import take_in
from bot.matching import registry
from bot.matching.matcher import shipped_model
from bot.matching.model import LinearModel
from bot.ops.runtime import Runtime
from bot.records.importer import import_records
from bot.store.models import Ticket
from bot.store.models.outbox import OutboxItem
from bot.types import InboundMessage

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
SCOPE = "Can I use my beta voucher for 70-640?"  # Emily Carter: a voucher valid for any exam


@pytest.fixture
def runtime(settings: Settings, sessions: sessionmaker[Session]) -> Runtime:
    assert not import_records(sessions, [ROOT / "samples" / "records"]).errors
    return Runtime(settings)


def email(text: str, n: int = 1) -> InboundMessage:
    return InboundMessage(
        source="email", external_id=f"<c{n}@example.com>", text=text, subject="Beta",
        sender_email="emily.carter@example.com", received_at=NOW,
    )  # fmt: skip


def deploy(db: Session, **thresholds: float) -> LinearModel:
    """The shipped model with other thresholds, stored as this deployment's model in use."""
    model = shipped_model()
    changed = dataclasses.replace(
        model, thresholds=dataclasses.replace(model.thresholds, **thresholds)
    )
    registry.store_model(db, changed, passed=True, actor="test", figures={})
    db.commit()
    return changed


def answers_sent(db: Session) -> list[OutboxItem]:
    return list(db.scalars(select(OutboxItem).where(OutboxItem.kind == "answer")))


def test_a_confident_reading_with_records_deciding_is_answered(runtime: Runtime, db: Session):
    (ticket,) = take_in(db, runtime, email(SCOPE), now=NOW).tickets
    assert (ticket.issue, ticket.action, ticket.status) == ("voucher-scope", "answer", "answered")
    assert "any exam" in (ticket.answer or "")


def test_a_low_confidence_reading_is_drafted_not_sent(runtime: Runtime, db: Session):
    assert runtime.matcher.classify(SCOPE).confidence <= 1.0
    deploy(db, auto_answer=1.01)  # above any confidence: nothing is sure enough
    outcome = take_in(db, runtime, email(SCOPE), now=NOW)
    db.commit()
    (filed,) = outcome.tickets
    assert (filed.issue, filed.action, filed.answer) == ("voucher-scope", "escalate", None)
    ticket = db.get_one(Ticket, filed.ticket_id)
    assert ticket.status == "escalated" and ticket.owner
    assert "any exam" in (ticket.answer or "")  # the draft waits for an agent's Send answer
    assert "low confidence" in ticket.facts["decision_reason"]
    assert "any exam" not in (outcome.reply or "")  # the candidate gets no facts yet
    assert not answers_sent(db)


def test_a_confident_thank_you_makes_no_ticket(runtime: Runtime, db: Session):
    outcome = take_in(db, runtime, email("thanks, that worked!"), now=NOW)
    assert outcome.issue == "not-a-request" and outcome.tickets == []


def test_an_unsure_not_a_request_goes_to_the_triage_lead(runtime: Runtime, db: Session):
    deploy(db, not_a_request=1.01)
    outcome = take_in(db, runtime, email("thanks, that worked!", 2), now=NOW)
    db.commit()
    (filed,) = outcome.tickets
    assert filed.issue is None and filed.action == "escalate"
    assert filed.owner == runtime.settings.app.triage_lead
    ticket = db.get_one(Ticket, filed.ticket_id)
    assert "needs a person" in ticket.facts["decision_reason"]


def test_a_stored_model_of_an_older_release_gives_way_to_the_shipped_one(
    runtime: Runtime, db: Session
):
    row = registry.store_model(db, shipped_model(), passed=True, actor="test", figures={})
    row.document = {**row.document, "meta": {**row.document["meta"], "dense": ["exam_beta"]}}
    db.commit()
    (ticket,) = take_in(db, runtime, email(SCOPE), now=NOW).tickets
    assert ticket.issue == "voucher-scope"
