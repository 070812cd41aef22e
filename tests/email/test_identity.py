"""Identity before disclosure, by email: raw mail in, the worker's delivery out over SMTP on
loopback. A writer not proven to be the candidate they name learns nothing of them and never
touches their tickets; an agent's verification lets the usual answer through."""

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.delivery.outbox import deliver_due
from bot.ops.adapters import discover_senders
from bot.records.importer import import_records
from bot.store.models import Message, Ticket, TicketEvent, TicketMessage
from bot.store.models.outbox import OutboxItem
from handlers.email.intake import IngestResult, Intake, core_intake, ingest_message
from handlers.email.sink import Sink
from tests.email.conftest import Cli

ROOT = Path(__file__).resolve().parents[2]
PRIYA_MAIL = (ROOT / "samples" / "mail" / "01-voucher-owed.eml").read_bytes()
EMILY_MAIL = (ROOT / "samples" / "mail" / "03-voucher-scope.eml").read_bytes()
# What the records say of Priya (4012345) and Emily (1034567), and who has Priya's ticket.
PRIYA_SECRETS = ["Priya", "Raman", "4012345", "7Q2K", "owed", "2026-04-02", "Ananya", "pass"]
EMILY_SECRETS = ["Emily", "Carter", "1034567", "P4VX", "any exam", "unredeemed"]


@pytest.fixture
def records(sessions: sessionmaker[Session]) -> None:
    assert not import_records(sessions, [ROOT / "samples" / "records"]).errors


def trusting(settings: Settings, authserv_id: str = "mx.desk.example.org") -> Settings:
    """The settings with `email.trusted_authserv_id` set."""
    email = settings.app.email.model_copy(update={"trusted_authserv_id": authserv_id})
    return Settings(settings.env, settings.app.model_copy(update={"email": email}))


def mail(
    sender: str, body: str, *, subject: str = "Question", msgid: str, extra: str = ""
) -> bytes:
    return (
        f"From: {sender}\r\nTo: support@desk.example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <{msgid}>\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


class Desk:
    """Mail in through the real intake, out through the outbox to the SMTP sink."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, sink: Sink) -> None:
        self.sessions, self.settings, self.sink = sessions, settings, sink
        self.intake: Intake = core_intake(settings)

    def take(self, raw: bytes) -> IngestResult:
        result = ingest_message(self.sessions, raw, settings=self.settings, intake=self.intake)
        assert result is not None and result.status == "stored"
        return result

    def deliver(self) -> None:
        deliver_due(self.sessions, discover_senders(self.settings))

    def mail_to(self, address: str) -> str:
        """Everything delivered to `address`: headers and text, as the recipient sees it."""
        sent = zip(self.sink.messages, self.sink.envelopes, strict=True)
        return "\n".join(m.as_string() for m, (_, to) in sent if address in to)


@pytest.fixture
def desk(
    sessions: sessionmaker[Session], mail_settings: Settings, smtp_sink: Sink, records: None
) -> Desk:
    return Desk(sessions, mail_settings, smtp_sink)


def ticket(db: Session, ticket_id: int) -> Ticket:
    db.expire_all()
    found = db.get(Ticket, ticket_id)
    assert found is not None
    return found


def messages_on(db: Session, ticket_id: int) -> list[str]:
    return list(
        db.scalars(
            select(Message.external_id)
            .join(TicketMessage, TicketMessage.message_id == Message.id)
            .where(TicketMessage.ticket_id == ticket_id, Message.direction == "in")
        )
    )


def test_stranger_quoting_a_candidates_mcp_id_learns_nothing_and_touches_nothing(
    desk: Desk, db: Session
) -> None:
    [victim] = desk.take(PRIYA_MAIL).ticket_ids
    desk.deliver()
    before = ticket(db, victim)
    state = (before.status, before.owner, before.chase_count, len(before.events))
    stranger = mail(
        "Mallory <mallory@evil.example>",
        "Hi, my MCP ID is 4012345. What was my result for 71-621? And where is the voucher "
        "for 71-622? It has not come.",
        subject=f"Re: Only one voucher received [TRI-{victim}]",
        msgid="m1@evil.example",
        extra="In-Reply-To: <CAF8x2+priya.0001@mail.example.in>\r\n",
    )
    result = desk.take(stranger)
    desk.deliver()

    assert victim not in result.ticket_ids
    # The stranger asks two things (a result and a voucher): their own tickets, one per issue.
    own, *_ = result.ticket_ids
    mine = ticket(db, own)
    assert mine.candidate_key == "mallory@evil.example" and mine.candidate_mcp_id is None
    assert (mine.identity_status, mine.named_mcp_id) == ("unverified", "4012345")
    assert mine.status == "escalated" and mine.answer is None and mine.facts_summary == []
    after = ticket(db, victim)
    assert (after.status, after.owner, after.chase_count, len(after.events)) == state
    assert messages_on(db, victim) == ["<CAF8x2+priya.0001@mail.example.in>"]

    told = desk.mail_to("mallory@evil.example")
    assert f"TRI-{own}" in told and "verified" in told
    for secret in [*PRIYA_SECRETS, f"TRI-{victim}"]:
        assert secret not in told, secret


def test_stranger_saying_solved_does_not_resolve_the_candidates_ticket(
    desk: Desk, db: Session
) -> None:
    [victim] = desk.take(PRIYA_MAIL).ticket_ids
    thanks = mail(
        "mallory@evil.example",
        "All solved now, thank you! MCP ID 4012345",
        subject=f"Re: Only one voucher received [TRI-{victim}]",
        msgid="m2@evil.example",
        extra="In-Reply-To: <CAF8x2+priya.0001@mail.example.in>\r\n",
    )
    result = desk.take(thanks)
    assert victim not in result.ticket_ids
    assert ticket(db, victim).status == "escalated"
    assert messages_on(db, victim) == ["<CAF8x2+priya.0001@mail.example.in>"]


def test_encoded_word_posing_as_the_address_is_not_the_sender(desk: Desk, db: Session) -> None:
    [victim] = desk.take(PRIYA_MAIL).ticket_ids
    forged = mail(
        "=?utf-8?q?priya.raman=40example.in?= <attacker@evil.example>",
        "Solved, thanks a lot!",
        subject=f"Re: Only one voucher received [TRI-{victim}]",
        msgid="m3@evil.example",
    )
    result = desk.take(forged)
    assert result.sender == "attacker@evil.example"
    assert ticket(db, victim).status == "escalated"
    # ... nor does it get Priya's answers when it asks about her records
    asked = mail(
        "=?utf-8?q?priya.raman=40example.in?= <attacker@evil.example>",
        "Where is my second voucher for 71-622? MCP ID 4012345",
        msgid="m4@evil.example",
    )
    [own] = desk.take(asked).ticket_ids
    desk.deliver()
    assert ticket(db, own).identity_status == "unverified"
    told = desk.mail_to("attacker@evil.example")
    assert f"TRI-{own}" in told
    for secret in PRIYA_SECRETS:
        assert secret not in told, secret


@pytest.mark.parametrize(
    "sender",
    [
        '"Bcc: collector@evil.example" <emily.carter@example.com>',
        "=?utf-8?q?Bcc=3A_collector=40evil.example?= <emily.carter@example.com>",
        '"Emily\r\n Carter, Bcc: collector@evil.example" <emily.carter@example.com>',
    ],
)
def test_a_display_name_never_becomes_a_recipient(desk: Desk, sender: str) -> None:
    raw = EMILY_MAIL.replace(
        b"From: Emily Carter <emily.carter@example.com>", f"From: {sender}".encode()
    )
    result = desk.take(raw)
    desk.deliver()
    assert result.sender == "emily.carter@example.com"
    assert [to for _, to in desk.sink.envelopes] == [["emily.carter@example.com"]]
    assert "P4VX" in desk.mail_to("emily.carter@example.com")  # her answer reached her


def test_the_answer_goes_to_the_proven_address_never_to_reply_to(desk: Desk, db: Session) -> None:
    raw = EMILY_MAIL.replace(b"MIME-Version", b"Reply-To: collector@evil.example\r\nMIME-Version")
    result = desk.take(raw)
    desk.deliver()
    [item] = db.scalars(select(OutboxItem).where(OutboxItem.kind == "reply")).all()
    assert item.recipient == "emily.carter@example.com"
    assert [to for _, to in desk.sink.envelopes] == [["emily.carter@example.com"]]
    assert desk.mail_to("collector@evil.example") == ""
    assert "P4VX" in desk.mail_to("emily.carter@example.com") and result.replied


def test_several_or_malformed_from_addresses_are_taken_in_unproven(desk: Desk, db: Session) -> None:
    for n, sender in enumerate(
        ["emily.carter@example.com, mallory@evil.example", "Emily <emily.carter@example.com"]
    ):
        raw = EMILY_MAIL.replace(
            b"From: Emily Carter <emily.carter@example.com>", f"From: {sender}".encode()
        ).replace(b"<emily.carter.20261123.113000@example.com>", f"<several-{n}@x>".encode())
        result = desk.take(raw)
        stored = db.get(Message, result.message_id)
        assert stored is not None and stored.meta["sender_unproven"]
        assert result.ticket_ids  # taken in, for a person
    desk.deliver()
    assert desk.sink.messages == []  # no reply to an address it cannot be sure of


TRUSTED_FAIL = (
    "Authentication-Results: mx.desk.example.org; spf=pass smtp.mailfrom=evil.example;\r\n"
    " dkim=none; dmarc=fail (p=reject) header.from=example.com\r\n"
)
FORGED_PASS = "Authentication-Results: mx.desk.example.org; dmarc=pass header.from=example.com\r\n"
OTHER_PASS = "Authentication-Results: relay.evil.example; dmarc=pass header.from=example.com\r\n"
TRUSTED_PASS = (
    "Authentication-Results: mx.desk.example.org;\r\n"
    " dkim=pass header.d=example.com; spf=pass smtp.mailfrom=example.com;\r\n"
    " dmarc=pass header.from=example.com\r\n"
)


@pytest.mark.parametrize(
    ("headers", "proven"),
    [
        (TRUSTED_FAIL, False),  # the desk's server says DMARC failed
        (TRUSTED_FAIL + FORGED_PASS, False),  # a pass below the server's own is the sender's
        (OTHER_PASS, False),  # another server's word, and the desk's server said nothing
        (
            "Authentication-Results: mx.desk.example.org; spf=fail smtp.mailfrom=example.com;"
            " dkim=fail header.d=example.com\r\n",
            False,
        ),
        (TRUSTED_PASS, True),
        (OTHER_PASS.replace("pass", "fail") + TRUSTED_PASS, True),
    ],
)
def test_the_trusted_mail_servers_verdict_decides_whether_the_from_proves_anything(
    sessions: sessionmaker[Session],
    mail_settings: Settings,
    smtp_sink: Sink,
    records: None,
    db: Session,
    headers: str,
    proven: bool,
) -> None:
    desk = Desk(sessions, trusting(mail_settings), smtp_sink)
    raw = EMILY_MAIL.replace(b"MIME-Version", f"{headers}MIME-Version".encode())
    [own] = desk.take(raw).ticket_ids
    desk.deliver()
    told = desk.mail_to("emily.carter@example.com")
    assert ("P4VX" in told) is proven
    assert (ticket(db, own).identity_status == "unverified") is not proven
    if not proven:
        for secret in EMILY_SECRETS:
            assert secret not in told, secret


def test_null_sender_mail_opens_no_ticket(desk: Desk, db: Session) -> None:
    for n, headers in enumerate(
        ["From: <>\r\n", "Return-Path: <>\r\nSender: postmaster@mx.example.net\r\n"]
    ):
        raw = (
            f"{headers}To: support@desk.example.org\r\nSubject: Your voucher\r\n"
            f"Message-ID: <null-{n}@mx.example.net>\r\n\r\n"
            "My voucher for 71-621 never arrived. MCP ID 4012345\r\n"
        ).encode()
        result = desk.take(raw)
        assert result.noise == "null-sender" and result.ticket_ids == []
    assert db.scalars(select(Ticket)).all() == []


def test_after_an_agent_verifies_the_writer_the_answer_is_delivered(
    desk: Desk, db: Session, triage: Cli
) -> None:
    other_address = EMILY_MAIL.replace(
        b"From: Emily Carter <emily.carter@example.com>", b"From: Emily <em.carter@home.example>"
    ).replace(b"for taking the 71-624", b"(MCP ID 1034567) for taking the 71-624")
    [own] = desk.take(other_address).ticket_ids
    desk.deliver()
    first = desk.mail_to("em.carter@home.example")
    assert "P4VX" not in first and "verified" in first

    done = triage(["tickets", "verify", f"TRI-{own}", "1034567", "--as", "lena"])
    assert done.returncode == 0, done.stderr
    assert f"TRI-{own} verified as MCP 1034567 by lena" in done.stdout.decode()
    desk.deliver()
    answer = desk.mail_to("em.carter@home.example").removeprefix(first)
    assert "P4VX" in answer and "Hello Emily" in answer and f"[TRI-{own}]" in answer
    verified = ticket(db, own)
    assert (verified.identity_status, verified.candidate_mcp_id) == ("verified", "1034567")
    assert verified.status == "answered"
    event = db.scalars(
        select(TicketEvent).where(
            TicketEvent.ticket_id == own, TicketEvent.action == "verify-identity"
        )
    ).one()
    assert (event.actor, event.reason) == ("cli:lena", "verified as MCP 1034567")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["TRI-999", "1034567", "--as", "lena"], "no ticket TRI-999"),
        (["TRI-1", "12", "--as", "lena"], "not an MCP ID"),
        (["TRI-1", "9999999", "--as", "lena"], "no candidate with MCP ID 9999999"),
        (["TRI-1", "1034567", "--as", " "], "--as needs"),
        (["TRI-1", "4012345", "--as", "lena"], "already"),
    ],
)
def test_verify_refuses_bad_input_in_one_line(
    desk: Desk, triage: Cli, args: list[str], says: str
) -> None:
    desk.take(PRIYA_MAIL)  # TRI-1, Priya's own (proven) ticket
    result = triage(["tickets", "verify", *args])
    assert result.returncode == 2
    err = result.stderr.decode()
    assert says in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_reply_never_tells_whether_a_quoted_mcp_id_exists(desk: Desk) -> None:
    bodies = []
    for n, (writer, mcp_id) in enumerate(
        [("mallory@evil.example", "4012345"), ("eve@evil.example", "4999999")]
    ):  # Priya's MCP ID, and nobody's
        raw = mail(
            writer,
            f"My voucher for 71-622 never came. MCP ID {mcp_id}",
            msgid=f"probe-{n}@evil.example",
        )
        [own] = desk.take(raw).ticket_ids
        desk.deliver()
        [told] = [m for m in desk.sink.messages if m["In-Reply-To"] == f"<probe-{n}@evil.example>"]
        bodies.append(told.get_content().replace(f"TRI-{own}", "TRI-N"))
    assert bodies[0] == bodies[1]


def test_forgetting_a_candidate_clears_them_from_the_tickets_of_those_who_named_them(
    desk: Desk, db: Session, triage: Cli
) -> None:
    desk.take(PRIYA_MAIL)
    [own] = desk.take(
        mail("mallory@evil.example", "Where is my voucher? MCP ID 4012345", msgid="f@evil.example")
    ).ticket_ids
    assert triage(["records", "forget", "4012345", "--yes"]).returncode == 0
    theirs = ticket(db, own)
    assert theirs.candidate_key == "mallory@evil.example"  # the writer's own ticket stays his
    assert theirs.named_mcp_id is None and "4012345" not in str(theirs.facts)
    assert all("4012345" not in str(e.data) + (e.reason or "") for e in theirs.events)
