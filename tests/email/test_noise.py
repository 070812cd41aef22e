"""Loop and noise protection: what must never get an automatic reply, and what must."""

import pytest

from handlers.email.noise import detect_noise
from handlers.email.parse import read_message
from tests.email.conftest import corpus

DESK = {"own_domain": "triage.desk.example.org", "bot_address": "triage@desk.example.org"}


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("bounce-dsn.eml", "bounce"),
        ("cpython-msg_16.txt", "bounce"),
        ("out-of-office.eml", "auto-reply"),
        ("out-of-office-exchange.eml", "auto-reply"),
        ("auto-submitted.eml", "auto-submitted"),
        ("list-mail.eml", "list"),
        ("bulk-precedence.eml", "bulk"),
        ("own-mail.eml", "own-mail"),
        ("own-mail-x-loop.eml", "own-mail"),
    ],
)
def test_machine_mail_is_recognised(fixture: str, reason: str) -> None:
    noise = detect_noise(read_message(corpus(fixture)), **DESK)
    assert noise is not None and noise.reason == reason


@pytest.mark.parametrize(
    "fixture",
    [
        "plain-voucher.eml", "latin1.eml", "html-only.eml", "multipart-alternative.eml",
        "forwarded-inline.eml", "forwarded-attachment.eml", "tnef-winmail.eml",
        "reply-with-tag.eml", "iso-2022-jp.eml", "raw-8bit-headers.eml", "missing-message-id.eml",
    ],
)  # fmt: skip
def test_a_persons_mail_is_not_noise(fixture: str) -> None:
    assert detect_noise(read_message(corpus(fixture)), **DESK) is None


def test_bounce_names_the_failed_recipient_and_the_returned_message() -> None:
    noise = detect_noise(read_message(corpus("bounce-dsn.eml")), **DESK)
    assert noise is not None and noise.bounce is not None
    [recipient] = noise.bounce.recipients
    assert (recipient.address, recipient.status) == ("gone.candidate@example.net", "5.1.1")
    assert noise.bounce.original_message_id == "<ack.42.1@triage.desk.example.org>"
    assert noise.bounce.original_ticket_id == 42


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Auto-Submitted: no\n", None),
        ("Auto-Submitted: auto-notified\n", "auto-submitted"),
        ("Precedence: junk\n", "bulk"),
        ("Precedence: first-class\n", None),
        ("List-Unsubscribe: <mailto:x@y>\n", "list"),
        ("X-Autoreply: yes\n", "auto-reply"),
        ("X-Autorespond: yes\n", "auto-reply"),
        ("Return-Path: <>\n", "null-sender"),
        ("X-Failed-Recipients: a@example.com\n", "bounce"),
        ("Subject: Out of Office: back Monday\n", "auto-reply"),
        ("Subject: Automatische Antwort: Urlaub\n", "auto-reply"),
        ("Subject: Question about out of office hours testing\n", None),
    ],
)
def test_header_rules(headers: str, reason: str | None) -> None:
    raw = f"From: a@example.com\nMessage-ID: <x@example.com>\n{headers}\nbody\n".encode()
    noise = detect_noise(read_message(raw), **DESK)
    assert (noise.reason if noise else None) == reason


def test_mail_from_mailer_daemon_is_a_bounce() -> None:
    raw = b"From: MAILER-DAEMON@mx.example.com\nSubject: failure notice\n\nsorry\n"
    noise = detect_noise(read_message(raw), **DESK)
    assert noise is not None and noise.reason == "bounce"


def test_dsn_status_keeps_the_code_and_moves_the_comment_to_the_diagnostic() -> None:
    noise = detect_noise(read_message(corpus("cpython-msg_16.txt")), **DESK)
    assert noise is not None and noise.bounce is not None
    [recipient] = noise.bounce.recipients
    assert recipient.status == "5.0.0"
    assert recipient.diagnostic == "recipient reached disk quota"
