"""Mail through the real core: acknowledged with the ticket tag, replies threaded onto their
ticket, and no automatic reply to machines."""

import pytest
from sqlalchemy import func, select

from bot.delivery.outbox import deliver_due
from bot.ops.adapters import discover_senders
from bot.store.models import Message, TicketEvent, TicketMessage
from bot.store.models.mail import BouncingAddress
from bot.store.models.outbox import OutboxItem
from handlers.email.intake import ingest_message
from tests.email.conftest import corpus

NOISE = [
    "bounce-dsn.eml", "cpython-msg_16.txt", "out-of-office.eml", "out-of-office-exchange.eml",
    "auto-submitted.eml", "list-mail.eml", "bulk-precedence.eml", "own-mail.eml",
    "own-mail-x-loop.eml",
]  # fmt: skip


def take(sessions, settings, intake, raw: bytes):  # type: ignore[no-untyped-def]
    result = ingest_message(sessions, raw, settings=settings, intake=intake, origin="test")
    assert result is not None
    return result


@pytest.mark.parametrize("fixture", NOISE)
def test_machine_mail_is_stored_but_never_answered(
    fixture, sessions, mail_settings, intake, smtp_sink, db
) -> None:  # type: ignore[no-untyped-def]
    result = take(sessions, mail_settings, intake, corpus(fixture))
    assert result.status == "stored" and result.suppressed and not result.replied
    to_sender = select(func.count(OutboxItem.id)).where(
        func.lower(OutboxItem.recipient) == result.sender
    )
    assert db.scalar(to_sender) == 0
    assert db.scalar(select(func.count(OutboxItem.id)).where(OutboxItem.kind == "reply")) == 0
    deliver_due(sessions, discover_senders(mail_settings))
    assert [m for m in smtp_sink.messages if result.sender in str(m["To"]).lower()] == []
    stored = db.get(Message, result.message_id)
    assert stored is not None and stored.meta["noise"]["reason"] == result.noise


def test_candidate_mail_is_acknowledged_with_the_ticket_tag_and_replies_thread_onto_it(
    sessions, mail_settings, intake, smtp_sink, db
) -> None:  # type: ignore[no-untyped-def]
    first = take(sessions, mail_settings, intake, corpus("plain-voucher.eml"))
    assert first.status == "stored" and first.ticket_ids and first.replied
    ticket_id = first.ticket_ids[0]
    # its MCP ID matches no record here: the acknowledgement, and an owner's notice
    assert deliver_due(sessions, discover_senders(mail_settings))[0] == 2
    [ack] = [m for m in smtp_sink.messages if m["To"] == "priya.raman@example.com"]
    assert f"[TRI-{ticket_id}]" in ack["Subject"]
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == "<plain-voucher-1@mail.example.com>"
    assert ack["X-Loop"] == mail_settings.app.desk.bot_email

    # The candidate answers the acknowledgement without the tag: In-Reply-To threads it.
    reply = (
        f"From: Priya Raman <priya.raman@example.com>\nTo: triage@desk.example.org\n"
        f"Subject: Re: voucher\nMessage-ID: <reply-2@mail.example.com>\n"
        f"In-Reply-To: {ack['Message-ID']}\n\nStill no voucher for 71-621, any news?\n"
    ).encode()
    threaded = take(sessions, mail_settings, intake, reply)
    assert ticket_id in threaded.ticket_ids

    # ... and with only the tag in the subject.
    tagged = corpus("reply-with-tag.eml").replace(b"TRI-1234", f"TRI-{ticket_id}".encode())
    tagged = tagged.replace(b"In-Reply-To: <ack.1234.1@triage.desk.example.org>\r\n", b"")
    assert ticket_id in take(sessions, mail_settings, intake, tagged).ticket_ids

    on_ticket = db.scalars(
        select(Message.external_id)
        .join(TicketMessage, TicketMessage.message_id == Message.id)
        .where(TicketMessage.ticket_id == ticket_id)
    ).all()
    assert "<plain-voucher-1@mail.example.com>" in on_ticket
    assert ack["Message-ID"] in on_ticket  # the sent acknowledgement is stored on the ticket
    assert "<reply-2@mail.example.com>" in on_ticket


def test_bounce_of_an_acknowledgement_marks_the_address_on_its_ticket(
    sessions, mail_settings, intake, smtp_sink, db
) -> None:  # type: ignore[no-untyped-def]
    raw = corpus("plain-voucher.eml").replace(b"priya.raman@example.com", b"gone@example.net")
    first = take(sessions, mail_settings, intake, raw)
    deliver_due(sessions, discover_senders(mail_settings))
    [ack] = [m for m in smtp_sink.messages if m["To"] == "gone@example.net"]
    bounce = (
        corpus("bounce-dsn.eml")
        .replace(b"gone.candidate@example.net", b"gone@example.net")
        .replace(b"<ack.42.1@triage.desk.example.org>", ack["Message-ID"].encode())
        .replace(b"[TRI-42] ", b"")
    )
    result = take(sessions, mail_settings, intake, bounce)
    assert result.noise == "bounce" and not result.replied
    assert db.scalar(select(BouncingAddress.address)) == "gone@example.net"
    events = db.scalars(
        select(TicketEvent.action).where(TicketEvent.ticket_id == first.ticket_ids[0])
    ).all()
    assert "bounce" in events
    replies = select(func.count(OutboxItem.id)).where(OutboxItem.kind == "reply")
    assert db.scalar(replies) == 1  # only the first acknowledgement


def test_automatic_replies_to_one_address_stop_at_the_hourly_limit(
    sessions, mail_settings, intake, db
) -> None:  # type: ignore[no-untyped-def]
    limit = mail_settings.app.email.auto_reply_limit_per_hour
    subjects = ["voucher missing", "results pending", "exam not available", "promo code rejected"]
    results = []
    for n in range(limit + 3):
        raw = (
            f"From: looper@example.com\nTo: triage@desk.example.org\n"
            f"Subject: {subjects[n % 4]} {n}\nMessage-ID: <loop-{n}@example.com>\n\n"
            f"My voucher for 71-62{n % 10} has not arrived, MCP ID 99887{n}.\n"
        ).encode()
        results.append(take(sessions, mail_settings, intake, raw))
    assert sum(r.replied for r in results) <= limit
    replies = db.scalar(
        select(func.count(OutboxItem.id)).where(OutboxItem.recipient == "looper@example.com")
    )
    assert replies <= limit
    assert any(r.noise == "auto-reply-limit" for r in results) or replies < limit
