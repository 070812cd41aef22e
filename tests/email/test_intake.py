"""One intake path: duplicates, quarantine, bounces, the auto-reply limit, the CLI sources."""

import mailbox
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.delivery.autoreply_limits import record_reply
from bot.store.models import Message, Ticket, TicketEvent, utcnow
from bot.store.models.mail import BouncingAddress, QuarantinedMessage
from bot.types import InboundMessage, IntakeOutcome, TicketOutcome
from handlers.email.intake import Intake, ingest_message
from handlers.email.parse import raw_bytes
from tests.email.conftest import CORPUS, corpus


def ingest(sessions: sessionmaker[Session], settings: Settings, intake: Intake, raw: bytes):  # type: ignore[no-untyped-def]
    result = ingest_message(sessions, raw, settings=settings, intake=intake, origin="test")
    assert result is not None
    return result


def stored(db: Session) -> list[Message]:
    return list(db.scalars(select(Message).order_by(Message.id)))


def test_same_message_twice_is_stored_once(sessions, settings, intake, db) -> None:  # type: ignore[no-untyped-def]
    first = ingest(sessions, settings, intake, corpus("plain-voucher.eml"))
    again = ingest(sessions, settings, intake, corpus("plain-voucher.eml"))
    assert (first.status, again.status) == ("stored", "duplicate")
    assert again.message_id == first.message_id
    [message] = stored(db)
    assert message.external_id == "<plain-voucher-1@mail.example.com>"
    assert raw_bytes(message.raw or "", message.meta["raw_encoding"]) == corpus("plain-voucher.eml")


def test_redelivery_with_another_trace_header_is_the_same_message(
    sessions, settings, intake, db
) -> None:  # type: ignore[no-untyped-def]
    ingest(sessions, settings, intake, corpus("duplicate-message-id-a.eml"))
    again = ingest(sessions, settings, intake, corpus("duplicate-message-id-a-redelivered.eml"))
    assert again.status == "duplicate"
    assert len(stored(db)) == 1


def test_reused_message_id_with_different_content_is_not_lost(
    sessions, settings, intake, db
) -> None:  # type: ignore[no-untyped-def]
    ingest(sessions, settings, intake, corpus("duplicate-message-id-a.eml"))
    second = ingest(sessions, settings, intake, corpus("duplicate-message-id-b.eml"))
    assert second.status == "stored"
    first, other = stored(db)
    assert first.external_id == "<same-id@broken-mailer.example>"
    assert other.external_id.startswith("<same-id@broken-mailer.example>#")
    assert other.subject == "Second, different message"


def test_message_without_message_id_is_taken_once(sessions, settings, intake, db) -> None:  # type: ignore[no-untyped-def]
    ingest(sessions, settings, intake, corpus("missing-message-id.eml"))
    again = ingest(
        sessions, settings, intake, b"Received: by mx2\n" + corpus("missing-message-id.eml")
    )
    assert again.status == "duplicate"
    [message] = stored(db)
    assert message.meta["message_id_missing"] is True


@pytest.mark.parametrize("fixture", ["empty.eml", "not-mail.bin"])
def test_unparseable_message_is_quarantined_byte_for_byte(
    sessions, settings, intake, db, fixture
) -> None:  # type: ignore[no-untyped-def]
    result = ingest(sessions, settings, intake, corpus(fixture))
    ingest(sessions, settings, intake, corpus(fixture))
    assert result.status == "quarantined" and result.error
    [row] = db.scalars(select(QuarantinedMessage)).all()
    assert row.raw == corpus(fixture) and row.seen_count == 2
    assert stored(db) == []


def test_message_the_core_fails_on_is_quarantined_and_nothing_half_stored(
    sessions, settings, db
) -> None:  # type: ignore[no-untyped-def]
    def failing(session: Session, message: InboundMessage, *, now=None) -> IntakeOutcome:  # type: ignore[no-untyped-def]
        session.add(Message(source="email", external_id=message.external_id, body="half"))
        session.flush()
        raise RuntimeError("core bug")

    result = ingest(sessions, settings, failing, corpus("plain-voucher.eml"))
    assert result.status == "quarantined" and "core bug" in (result.error or "")
    assert stored(db) == []
    assert db.scalar(select(QuarantinedMessage.raw)) == corpus("plain-voucher.eml")


@pytest.mark.parametrize(
    "fixture",
    ["bounce-dsn.eml", "out-of-office.eml", "out-of-office-exchange.eml", "auto-submitted.eml",
     "list-mail.eml", "bulk-precedence.eml", "own-mail.eml", "own-mail-x-loop.eml"],
)  # fmt: skip
def test_machine_mail_is_stored_with_replies_suppressed(sessions, settings, db, fixture) -> None:  # type: ignore[no-untyped-def]
    seen: list[InboundMessage] = []

    def core(session: Session, message: InboundMessage, *, now=None) -> IntakeOutcome:  # type: ignore[no-untyped-def]
        seen.append(message)
        return IntakeOutcome(message_id=1, reply=None if message.suppress_reply else "ack")

    result = ingest(sessions, settings, core, corpus(fixture))
    assert result.suppressed and result.noise and not result.replied
    assert seen[0].suppress_reply and seen[0].meta["noise"]["reason"] == result.noise


def test_bounce_marks_the_address_and_threads_onto_the_bounced_ticket(
    sessions, settings, db
) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        ticket = Ticket(source="email", subject="voucher")
        session.add(ticket)
        session.flush()
        ticket_id = ticket.id
    seen: list[InboundMessage] = []

    def core(session: Session, message: InboundMessage, *, now=None) -> IntakeOutcome:  # type: ignore[no-untyped-def]
        seen.append(message)
        return IntakeOutcome(
            message_id=7,
            tickets=[TicketOutcome(ticket_id=ticket_id, issue=None, status="new", priority="normal",
                                   action="none", created=False)],
        )  # fmt: skip

    ingest(sessions, settings, core, corpus("bounce-dsn.eml"))
    assert seen[0].in_reply_to[0] == "<ack.42.1@triage.desk.example.org>"
    assert seen[0].ticket_id == 42  # the returned message's tag
    row = db.scalar(select(BouncingAddress))
    assert row is not None and (row.address, row.status) == ("gone.candidate@example.net", "5.1.1")
    event = db.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id))
    assert event is not None and event.action == "bounce"
    assert "gone.candidate@example.net" in (event.reason or "")


def test_auto_reply_limit_per_address_suppresses_further_replies(sessions, settings, db) -> None:  # type: ignore[no-untyped-def]
    limit = settings.app.email.auto_reply_limit_per_hour
    seen: list[InboundMessage] = []

    def core(session: Session, message: InboundMessage, *, now=None) -> IntakeOutcome:  # type: ignore[no-untyped-def]
        seen.append(message)
        return IntakeOutcome(message_id=len(seen), reply=None if message.suppress_reply else "ack")

    template = corpus("plain-voucher.eml")
    for n in range(limit + 2):
        raw = template.replace(b"plain-voucher-1@", f"loop-{n}@".encode())
        ingest(sessions, settings, core, raw)
    assert [m.suppress_reply for m in seen] == [False] * limit + [True, True]
    assert seen[-1].meta["noise"]["reason"] == "auto-reply-limit"


def test_auto_reply_limit_window_is_one_hour(sessions, settings, db) -> None:  # type: ignore[no-untyped-def]
    from bot.delivery.autoreply_limits import reply_allowed

    with sessions() as session, session.begin():
        for _ in range(3):
            record_reply(session, address="A@Example.com", now=utcnow() - timedelta(minutes=61))
        record_reply(session, address="a@example.com")
    with sessions() as session:
        assert reply_allowed(session, address="a@example.com", limit=2)
        record_reply(session, address="a@example.com")
        assert not reply_allowed(session, address="a@example.com", limit=2)


def test_cli_eml_maildir_and_mbox_feed_one_path(triage, tmp_path, db) -> None:  # type: ignore[no-untyped-def]
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for name in ("plain-voucher.eml", "latin1.eml", "not-mail.bin"):
        box.add(corpus(name))
    mbox = mailbox.mbox(tmp_path / "mail.mbox")
    mbox.add(corpus("html-only.eml"))
    mbox.add(corpus("plain-voucher.eml"))
    mbox.close()

    maildir = triage(["ingest", "maildir", str(tmp_path / "Maildir")])
    assert maildir.returncode == 0, maildir.stderr.decode()
    assert b"2 stored, 0 duplicate, 1 quarantined" in maildir.stdout
    again = triage(["ingest", "maildir", str(tmp_path / "Maildir")])
    assert b"0 stored, 2 duplicate, 1 quarantined" in again.stdout
    mboxed = triage(["ingest", "mbox", str(tmp_path / "mail.mbox")])
    assert b"1 stored, 1 duplicate" in mboxed.stdout
    eml = triage(["ingest", "eml", "--json", str(CORPUS / "tnef-winmail.eml")])
    assert b'"status": "stored"' in eml.stdout
    assert db.scalar(select(func.count(Message.id))) == 4

    listed = triage(["ingest", "quarantine", "--json"])
    assert b"not a mail message" in listed.stdout


def test_cli_reports_a_missing_file_without_a_traceback(triage) -> None:  # type: ignore[no-untyped-def]
    result = triage(["ingest", "eml", "/nonexistent.eml"])
    assert result.returncode == 2
    assert b"no such file: /nonexistent.eml" in result.stderr and b"Traceback" not in result.stderr


def test_cli_stdin_stores_a_piped_message(triage, db) -> None:  # type: ignore[no-untyped-def]
    result = triage(["ingest", "stdin"], stdin=corpus("latin1.eml"))
    assert result.returncode == 0, result.stderr.decode()
    assert db.scalar(select(Message.subject)) == "Problème d'inscription à l'examen 71-623"


def test_cli_stdin_exits_tempfail_when_the_database_is_down(triage) -> None:  # type: ignore[no-untyped-def]
    down = {"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/nothing"}
    result = triage(["ingest", "stdin"], down, stdin=corpus("plain-voucher.eml"))
    assert result.returncode == 75
    assert b"not stored, retry later" in result.stderr


def test_cli_retries_a_quarantined_message(triage, sessions, settings, db) -> None:  # type: ignore[no-untyped-def]
    def failing(session: Session, message: InboundMessage, *, now=None) -> IntakeOutcome:  # type: ignore[no-untyped-def]
        raise RuntimeError("core bug, since fixed")

    kept = ingest(sessions, settings, failing, corpus("latin1.eml"))
    retried = triage(["ingest", "quarantine", "--retry", str(kept.quarantine_id), "--json"])
    assert retried.returncode == 0, retried.stderr.decode()
    assert b'"status": "stored"' in retried.stdout
    assert db.scalar(select(Message.subject)) == "Problème d'inscription à l'examen 71-623"
    assert triage(["ingest", "quarantine", "--json"]).stdout.strip() == b"[]"
    missing = triage(["ingest", "quarantine", "--retry", "999"])
    assert missing.returncode == 2 and b"no quarantined message 999" in missing.stderr


def test_data_the_database_refuses_is_quarantined_not_retried_forever(
    sessions, settings, db
) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import DataError

    def refusing(session: Session, message: InboundMessage, *, now=None) -> IntakeOutcome:  # type: ignore[no-untyped-def]
        raise DataError("INSERT ...", {}, Exception("value too long for type character varying"))

    result = ingest(sessions, settings, refusing, corpus("plain-voucher.eml"))
    assert result.status == "quarantined"
    assert result.error == "cannot store: value too long for type character varying"
