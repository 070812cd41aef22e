"""Sending by SMTP to a real server on loopback: headers, threading, retries, storage."""

import base64
import logging
import socket
import time
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bot.config.settings import Settings
from bot.delivery import outbox
from bot.delivery.messages import Answer, Chart, DigestMessage, dump
from bot.delivery.outbox import CLAIM_FOR, deliver_due, enqueue
from bot.ops.adapters import discover_senders
from bot.store.models import Message, Ticket, TicketMessage, utcnow
from bot.store.models.outbox import OutboxItem
from handlers.email.noise import detect_noise
from handlers.email.outbound import build_mime, sender
from handlers.email.parse import parse_email, read_message
from handlers.email.sink import Sink, free_port, local_smtp_sink
from tests import killed_sender

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode()


def ack_payload(ticket_id: int | None) -> dict:  # type: ignore[type-arg]
    """The core's acknowledgement, threaded by the email adapter's own reply_to data."""
    thread = {"message_id": "<plain-voucher-1@mail.example.com>",
              "references": ["<root@mail.example.com>"]}  # fmt: skip
    return dump(
        Answer(
            text="Thank you, we are looking at it.",
            subject="We received your message",
            ticket_id=ticket_id,
            reply_to=thread,
            auto=True,
        )
    )


def make_ticket(sessions) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        ticket = Ticket(source="email", subject="voucher")
        session.add(ticket)
        session.flush()
        return ticket.id


def test_without_smtp_host_there_is_no_email_sender(settings: Settings) -> None:
    assert sender(settings) is None
    assert "email" not in discover_senders(settings)


def test_acknowledgement_reaches_the_smtp_server_tagged_threaded_and_marked_automatic(
    sessions, mail_settings: Settings, smtp_sink: Sink, db
) -> None:  # type: ignore[no-untyped-def]
    ticket_id = make_ticket(sessions)
    with sessions() as session, session.begin():
        enqueue(
            session,
            channel="email",
            kind="ack",
            recipient="priya.raman@example.com",
            payload=ack_payload(ticket_id),
            dedupe_key="reply:1",
            ticket_id=ticket_id,
        )
    senders = discover_senders(mail_settings)
    assert deliver_due(sessions, senders) == (1, 0)

    [sent] = smtp_sink.messages
    desk = mail_settings.app.desk
    assert sent["Subject"] == f"We received your message [TRI-{ticket_id}]"
    assert sent["To"] == "priya.raman@example.com"
    assert sent["Auto-Submitted"] == "auto-replied"
    assert sent["X-Loop"] == desk.bot_email
    assert sent["In-Reply-To"] == "<plain-voucher-1@mail.example.com>"
    assert sent["References"] == "<root@mail.example.com> <plain-voucher-1@mail.example.com>"
    assert sent["Message-ID"].endswith(f"@{desk.message_id_domain}>")
    assert smtp_sink.envelopes == [(desk.bot_email, ["priya.raman@example.com"])]
    assert "Thank you, we are looking at it." in sent.get_body(("plain",)).get_content()

    stored = db.scalar(select(Message).where(Message.direction == "out"))
    assert stored is not None and stored.external_id == sent["Message-ID"]
    assert (
        db.scalar(select(TicketMessage.ticket_id).where(TicketMessage.message_id == stored.id))
        == ticket_id
    )


def test_the_bots_own_mail_coming_back_is_recognised_as_its_own(
    sessions, mail_settings: Settings, smtp_sink: Sink
) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        enqueue(
            session,
            channel="email",
            kind="ack",
            recipient="x@example.com",
            payload=ack_payload(None),
            dedupe_key="reply:2",
        )  # type: ignore[arg-type]
    deliver_due(sessions, discover_senders(mail_settings))
    returned = smtp_sink.messages[0].as_bytes()
    desk = mail_settings.app.desk
    noise = detect_noise(
        read_message(returned), own_domain=desk.message_id_domain, bot_address=desk.bot_email
    )
    assert noise is not None and noise.reason == "own-mail"


def test_failed_send_is_retried_later_and_then_delivered(sessions, settings: Settings, db) -> None:  # type: ignore[no-untyped-def]
    ticket_id = make_ticket(sessions)
    with local_smtp_sink() as sink:
        port = sink.port
    env = settings.env.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    down = Settings(env, settings.app)  # nothing listens on the port now
    with sessions() as session, session.begin():
        enqueue(
            session,
            channel="email",
            kind="ack",
            recipient="priya.raman@example.com",
            payload=ack_payload(ticket_id),
            dedupe_key="reply:3",
            ticket_id=ticket_id,
        )
    now = utcnow()
    assert deliver_due(sessions, discover_senders(down), now=now) == (0, 1)
    item = db.scalar(select(OutboxItem))
    assert item is not None and item.status == "pending" and item.attempts == 1
    assert "SMTP unavailable" in (item.last_error or "")
    assert item.ticket_id == ticket_id  # so the ticket shows the failed delivery
    # Not due again until the back-off has passed.
    assert deliver_due(sessions, discover_senders(down), now=now + timedelta(seconds=5)) == (0, 0)

    with local_smtp_sink(port=port) as sink:
        later = now + timedelta(minutes=5)
        assert deliver_due(sessions, discover_senders(down), now=later) == (1, 0)
        assert len(sink.messages) == 1
    db.expire_all()
    assert db.scalar(select(OutboxItem.status)) == "sent"
    assert db.scalar(select(Message).where(Message.direction == "out")) is not None


def test_temporary_refusal_is_retried_and_permanent_refusal_is_dead(
    sessions, mail_settings, smtp_sink, db
) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        for key in ("a", "b"):
            enqueue(
                session,
                channel="email",
                kind="ack",
                recipient="x@example.com",
                payload=ack_payload(None),
                dedupe_key=key,
            )  # type: ignore[arg-type]
    smtp_sink.refuse_with = "451 4.3.0 try again later"
    send = discover_senders(mail_settings)
    assert deliver_due(sessions, send, limit=1) == (0, 1)
    smtp_sink.refuse_with = "550 5.1.1 no such user"
    assert deliver_due(sessions, send) == (0, 1)
    db.expire_all()
    statuses = {item.dedupe_key: item.status for item in db.scalars(select(OutboxItem))}
    assert statuses == {"a": "pending", "b": "dead"}


def test_digest_html_with_inline_chart_and_plain_text_alternative(mail_settings: Settings) -> None:
    chart = Chart(filename="chart.png", title="New tickets", data_b64=PNG, content_id="chart1")
    payload = dump(
        DigestMessage(
            text="3 open tickets",
            subject="Your digest",
            html='<p>3 open tickets</p><img src="cid:chart1">',
            chart=chart,
        )
    )
    message = build_mime(
        payload, to="maria.okafor@desk.example.org", desk=mail_settings.app.desk,
        message_id="<d.1@x>",
    )  # fmt: skip
    assert message["Auto-Submitted"] is None  # not an automatic reply
    assert message.get_body(("plain",)).get_content().strip() == "3 open tickets"
    html = message.get_body(("html",))
    assert html.get_content_type() == "text/html"
    related = [p for p in message.walk() if p.get_content_type() == "multipart/related"]
    assert related, "the chart is related to the HTML part"
    image = next(p for p in message.walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<chart1>"
    assert list(message.iter_attachments()) == []  # the chart is inline, not attached
    assert parse_email(message.as_bytes()).text.strip() == "3 open tickets"


def queue_ack(sessions, key: str = "reply:once") -> None:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        enqueue(session, channel="email", kind="ack", recipient="priya.raman@example.com",
                payload=ack_payload(None), dedupe_key=key)  # fmt: skip


def test_an_email_whose_sender_was_killed_before_recording_it_goes_again_with_its_message_id(
    sessions, mail_settings: Settings, smtp_sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    """SMTP cannot be asked what it received: the one repeat left, and it is recognisably one
    message (the same Message-ID), logged as an unknown outcome."""
    queue_ack(sessions)
    env = {"DATABASE_URL": mail_settings.database_url, "SMTP_HOST": smtp_sink.host,
           "SMTP_PORT": str(smtp_sink.port)}  # fmt: skip
    killed_sender.run("after", env)
    assert len(smtp_sink.messages) == 1
    later = utcnow() + CLAIM_FOR + timedelta(seconds=1)
    with caplog.at_level(logging.WARNING, logger="triage.outbox"):
        assert deliver_due(sessions, discover_senders(mail_settings), now=later) == (1, 0)
    first, again = smtp_sink.messages
    assert first["Message-ID"] == again["Message-ID"]
    assert "has no recorded result; its outcome is unknown" in caplog.text


def test_a_stalled_smtp_server_cannot_hold_a_send_past_its_attempts_time(
    sessions, settings: Settings, db, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Every wait on the server is cut to the attempt's time, so the claim outlives the sender
    (a server that accepts and never answers would otherwise hold it for minutes)."""
    monkeypatch.setattr(outbox, "SEND_WITHIN", timedelta(seconds=2))
    with socket.socket() as stalled:
        stalled.bind(("127.0.0.1", 0))
        stalled.listen()
        env = settings.env.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": stalled.getsockname()[1]}
        )
        queue_ack(sessions)
        started = time.monotonic()
        assert deliver_due(sessions, discover_senders(Settings(env, settings.app))) == (0, 1)
        assert time.monotonic() - started < 5
    item = db.scalar(select(OutboxItem))
    assert item.status == "pending" and "timed out" in (item.last_error or "")


class _RudeGoodbye:
    """Takes the message, then answers QUIT with 421 (a server shutting down)."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received += 1
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        return "421 4.3.2 shutting down"


def test_a_failed_goodbye_after_the_message_was_taken_does_not_send_it_again(
    sessions, settings: Settings, db
) -> None:  # type: ignore[no-untyped-def]
    handler, port = _RudeGoodbye(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        env = settings.env.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
        queue_ack(sessions)
        assert deliver_due(sessions, discover_senders(Settings(env, settings.app))) == (1, 0)
    finally:
        controller.stop()
    assert handler.received == 1
    assert db.scalar(select(OutboxItem.status)) == "sent"
