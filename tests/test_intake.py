"""The core's one entry: every message stored once, triaged, filed, and answered on its channel."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.intake.flow import take_in
from bot.ops.runtime import Runtime
from bot.records.importer import import_records
from bot.store.models import Message, Ticket
from bot.store.models.outbox import OutboxItem
from bot.types import InboundMessage

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def runtime(settings: Settings, sessions: sessionmaker[Session]) -> Runtime:
    report = import_records(sessions, [ROOT / "samples" / "records"])
    assert not report.errors
    return Runtime(settings)


def email(text: str, **fields: object) -> InboundMessage:
    values: dict[str, object] = {
        "source": "email",
        "external_id": "<m1@example.in>",
        "text": text,
        "subject": "Voucher",
        "sender_email": "priya.raman@example.in",
        "received_at": NOW,
        # the email adapter's own threading data, which the core hands back untouched
        "meta": {"thread": {"message_id": "<m1@example.in>"}},
    }
    return InboundMessage(**{**values, **fields})  # type: ignore[arg-type]


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def replies(db: Session) -> list[OutboxItem]:
    return list(db.scalars(select(OutboxItem).where(OutboxItem.kind == "reply")))


OWED = "I took 71-621 and 71-622 in the beta but only one voucher came. MCP ID 4012345"


def test_same_message_twice_is_stored_and_filed_once(runtime: Runtime, db: Session) -> None:
    first = take_in(db, runtime, email(OWED), now=NOW)
    db.commit()
    again = take_in(db, runtime, email(OWED), now=NOW)
    db.commit()
    assert again.duplicate and not first.duplicate
    assert [t.ticket_id for t in again.tickets] == [t.ticket_id for t in first.tickets]
    assert count(db, Message) == 1 and count(db, Ticket) == 1 and len(replies(db)) == 1


def test_owed_voucher_is_escalated_to_the_regional_vouchers_owner(
    runtime: Runtime, db: Session
) -> None:
    outcome = take_in(db, runtime, email(OWED), now=NOW)
    db.commit()
    assert outcome.candidate_mcp_id == "4012345"
    (ticket,) = outcome.tickets
    assert (ticket.issue, ticket.action, ticket.owner) == ("voucher-missing", "escalate", "ananya")
    assert ticket.routing_rule == "india-vouchers"
    assert any("1 owed" in line for line in ticket.facts_summary)


def test_email_reply_is_queued_with_the_ticket_tag_and_the_adapters_threading(
    runtime: Runtime, db: Session
) -> None:
    outcome = take_in(db, runtime, email(OWED), now=NOW)
    db.commit()
    item = db.scalars(select(OutboxItem).where(OutboxItem.kind == "reply")).one()
    ref = f"TRI-{outcome.tickets[0].ticket_id}"
    assert item.recipient == "priya.raman@example.in"
    assert item.payload["subject"] == f"Re: Voucher [{ref}]"
    assert item.payload["view"] == "answer" and item.payload["auto"] is True
    assert item.payload["reply_to"] == {"message_id": "<m1@example.in>"}
    assert outcome.reply and f"[{ref}]" in outcome.reply and "Ananya" in outcome.reply


def test_auto_replies_are_stored_but_never_answered(runtime: Runtime, db: Session) -> None:
    outcome = take_in(db, runtime, email(OWED, suppress_reply=True), now=NOW)
    db.commit()
    assert outcome.reply is None and replies(db) == [] and count(db, Message) == 1


def test_reply_threads_onto_the_ticket_of_the_message_it_answers(
    runtime: Runtime, db: Session
) -> None:
    first = take_in(db, runtime, email(OWED), now=NOW)
    db.commit()
    follow_up = email(
        "Any news? This is my third email about it.",
        external_id="<m2@example.in>",
        in_reply_to=["<m1@example.in>"],
    )
    second = take_in(db, runtime, follow_up, now=NOW)
    db.commit()
    assert second.tickets and second.tickets[0].ticket_id == first.tickets[0].ticket_id
    assert not second.tickets[0].created
    assert count(db, Ticket) == 1


def test_unknown_sender_is_asked_for_the_mcp_id(runtime: Runtime, db: Session) -> None:
    message = email("my voucher never arrived", sender_email="someone@nowhere.example")
    outcome = take_in(db, runtime, message, now=NOW)
    db.commit()
    assert outcome.candidate_mcp_id is None
    assert outcome.tickets[0].action == "ask-id"
    assert outcome.reply and "MCP ID" in outcome.reply


def test_slack_reply_in_a_public_thread_carries_no_record_facts(
    runtime: Runtime, db: Session
) -> None:
    message = InboundMessage(
        source="slack",
        external_id="C0INTAKE:1764000000.000100",
        text="I only got one voucher for 71-621 and 71-622, MCP 4012345",
        slack_user_id="U0PRIYA",
        slack_channel="C0INTAKE",
        thread_key="1764000000.000100",
        received_at=NOW,
        meta={"thread": {"thread_ts": "1764000000.000100"}},
    )
    take_in(db, runtime, message, now=NOW)
    db.commit()
    (item,) = replies(db)
    assert (item.channel, item.recipient) == ("slack", "C0INTAKE")
    assert item.payload["reply_to"] == {"thread_ts": "1764000000.000100"}
    rendered = str(item.payload)
    assert "owed" not in rendered and "****" not in rendered
    assert item.payload["view"] == "reply"
    assert item.payload["tickets"][0]["issue"] == "voucher-missing"


def test_agent_names_the_candidate_for_a_phone_call(runtime: Runtime, db: Session) -> None:
    message = InboundMessage(
        source="phone",
        external_id="phone-1",
        text="Caller says the voucher never came for the betas she took",
        on_behalf_of="4012345",
        actor="U10AGENT",
        received_at=NOW,
    )
    outcome = take_in(db, runtime, message, now=NOW)
    db.commit()
    assert outcome.candidate_mcp_id == "4012345"
    assert outcome.reply is None  # the agent on the phone gives the answer
    assert outcome.tickets[0].issue == "voucher-missing"


def test_machine_mail_opens_no_ticket_and_notifies_nobody(runtime: Runtime, db: Session) -> None:
    out_of_office = email(
        "I am out of the office until Monday. My voucher never arrived, by the way.",
        external_id="<ooo@example.in>",
        suppress_reply=True,
        automated=True,
        meta={"noise": {"reason": "auto-reply"}},
    )
    outcome = take_in(db, runtime, out_of_office, now=NOW)
    db.commit()
    assert outcome.tickets == [] and count(db, Ticket) == 0 and count(db, OutboxItem) == 0
    assert count(db, Message) == 1  # kept, visible to agents


def test_machine_mail_answering_a_ticket_joins_it_with_an_audit_event(
    runtime: Runtime, db: Session
) -> None:
    first = take_in(db, runtime, email(OWED), now=NOW)
    db.commit()
    bounce = email(
        "Delivery failed",
        external_id="<dsn@mailer.example.in>",
        sender_email="mailer-daemon@example.in",
        in_reply_to=["<m1@example.in>"],
        suppress_reply=True,
        automated=True,
        meta={"noise": {"reason": "bounce"}},
    )
    outcome = take_in(db, runtime, bounce, now=NOW)
    db.commit()
    ticket = db.get(Ticket, first.tickets[0].ticket_id)
    assert ticket is not None
    assert [t.ticket_id for t in outcome.tickets] == [ticket.id] and count(db, Ticket) == 1
    assert ticket.events[-1].action == "machine-mail" and ticket.events[-1].reason == "bounce"
