"""Other people's MCP IDs and tickets, by raw mail through the real CLI: a stranger who knows a
candidate's MCP ID, Message-ID or ticket number learns nothing of them and changes nothing of
theirs, whatever they ask and however they thread their mail."""

import hashlib

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.models import Message, Ticket, TicketEvent, TicketMessage
from tests.security.conftest import EMILY, PRIYA, Mailroom, mail

MALLORY = "mallory@evil.example"
PRIYA_MAIL = mail(
    PRIYA,
    "I took 71-621 and 71-622 in the beta but only got one voucher. My MCP ID is 4012345.",
    msgid="CAF8x2+priya.0001@mail.example.in",
    subject="Only one voucher received",
)
# Everything on Priya's record, and who has her ticket.
PRIYA_RECORD = [
    "Priya", "Raman", "7Q2K", "9F3D", "44KM", "PR7Q", "81TN", "owed", "2026-04-02", "2026-02-10",
    "2026-03-02", "2026-03-09", "MCTS", "Desktop Applications", "2026-05-04", "Ananya", "pass",
    "work.example.com", "U0PRIYA", "wave-1",
]  # fmt: skip


def state(db: Session, ticket_id: int) -> tuple[object, ...]:
    """What a change to the ticket would show: status, owner, counts, messages, events."""
    db.expire_all()
    ticket = db.get(Ticket, ticket_id)
    assert ticket is not None
    messages = db.scalar(
        select(func.count()).select_from(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
    )
    events = db.scalar(
        select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    )
    return ticket.status, ticket.owner, ticket.chase_count, ticket.priority, messages, events


def assert_learns_nothing(told: str, *, victim_ticket: int) -> None:
    for secret in [*PRIYA_RECORD, f"TRI-{victim_ticket}]", f"TRI-{victim_ticket} "]:
        assert secret not in told, secret


@pytest.mark.parametrize(
    "question",
    [
        "What was my result for 71-621? My MCP ID is 4012345.",
        "My second voucher never came, MCP 4012345. What is the code of the first one?",
        "Which exams am I registered for, and when? MCP ID: 4012345",
        "My transcript does not show MCTS. Which certifications do I have? MCP ID 4012345",
        "Please resend my invitation code for the 71-622 beta. MCP ID 4012345",
        "Someone registered me for 71-621 without my doing. Who? MCP ID 4012345",
    ],
)
def test_a_stranger_quoting_her_mcp_id_learns_nothing_whatever_they_ask(
    desk: Mailroom, db: Session, question: str
) -> None:
    [hers] = desk.take(PRIYA_MAIL)["ticket_ids"]
    desk.deliver()
    before = state(db, hers)
    asked = desk.take(mail(MALLORY, question, msgid="q@evil.example"))
    desk.deliver()
    assert hers not in asked["ticket_ids"]
    assert state(db, hers) == before
    told = desk.read(MALLORY)
    assert "verified" in told  # told how record questions are answered
    assert_learns_nothing(told, victim_ticket=hers)
    for own in asked["ticket_ids"]:
        ticket = db.get(Ticket, own)
        assert ticket is not None and ticket.facts_summary == [] and ticket.answer is None


@pytest.mark.parametrize(
    "body",
    ["Solved, thanks a lot!", "Any news? What did you find?", "Thanks. Also, what is my code?"],
)
@pytest.mark.parametrize("threading", ["in-reply-to", "references", "subject-tag", "all"])
def test_a_stranger_threading_onto_her_ticket_neither_joins_nor_learns_it(
    desk: Mailroom, db: Session, body: str, threading: str
) -> None:
    [hers] = desk.take(PRIYA_MAIL)["ticket_ids"]
    desk.deliver()
    [ack] = desk.to(PRIYA)
    before = state(db, hers)
    ids = f"<CAF8x2+priya.0001@mail.example.in> {ack['Message-ID']}"
    headers = {
        "in-reply-to": f"In-Reply-To: {ack['Message-ID']}\r\n",
        "references": f"References: {ids}\r\n",
        "subject-tag": "",
        "all": f"In-Reply-To: {ack['Message-ID']}\r\nReferences: {ids}\r\n",
    }[threading]
    subject = f"Re: {ack['Subject']}" if threading in ("subject-tag", "all") else "Re: voucher"
    result = desk.take(
        mail(MALLORY, body, msgid="t@evil.example", subject=subject, headers=headers)
    )
    desk.deliver()
    assert hers not in result["ticket_ids"]
    assert state(db, hers) == before
    assert_learns_nothing(desk.read(MALLORY), victim_ticket=hers)


def test_a_message_naming_two_mcp_ids_is_about_neither(desk: Mailroom, db: Session) -> None:
    """Emily, proven by her own address, names her MCP ID and Priya's: the desk cannot tell whom
    to answer about, so nobody's facts go out; and a stranger naming Priya's and a made-up one."""
    desk.take(PRIYA_MAIL)
    emily = desk.take(
        mail(EMILY, "Where are the vouchers for MCP 1034567 and MCP 4012345?", msgid="e2@x")
    )
    mallory = desk.take(
        mail(MALLORY, "Vouchers for MCP 4012345 and MCP 4999999 please", msgid="m2@x")
    )
    desk.deliver()
    for result, writer in ((emily, EMILY), (mallory, MALLORY)):
        assert result["ticket_ids"]
        for own in result["ticket_ids"]:
            ticket = db.get(Ticket, own)
            assert ticket is not None and ticket.candidate_mcp_id is None
            assert ticket.identity_status == "unverified" and ticket.facts_summary == []
        assert_learns_nothing(desk.read(writer), victim_ticket=1)
    assert "P4VX" not in desk.read(EMILY)  # nor her own facts, in a message about two people


def test_a_candidate_asking_about_another_candidate_gets_only_an_acknowledgement(
    desk: Mailroom, db: Session
) -> None:
    [hers] = desk.take(PRIYA_MAIL)["ticket_ids"]
    desk.deliver()
    before = state(db, hers)
    asked = desk.take(
        mail(
            EMILY,
            "My colleague's voucher for 71-622 never came, MCP ID 4012345. What is her code?",
            msgid="e3@example.com",
            subject=f"Re: Only one voucher received [TRI-{hers}]",
        )
    )
    desk.deliver()
    assert hers not in asked["ticket_ids"] and state(db, hers) == before
    assert asked["ticket_ids"]  # one per issue the matcher reads; every one is hers alone
    for own in asked["ticket_ids"]:
        ticket = db.get(Ticket, own)
        assert ticket is not None
        assert (ticket.candidate_key, ticket.identity_status) == (EMILY, "unverified")
    assert_learns_nothing(desk.read(EMILY), victim_ticket=hers)


# --- machine mail: auto-replies and bounces are filed without a person's reply ---------------

MACHINE = {
    "out-of-office": "Auto-Submitted: auto-replied\r\n",
    "autoreply-header": "X-Autoreply: yes\r\n",
    "precedence-bulk": "Precedence: bulk\r\n",
    "bounce": "X-Failed-Recipients: priya.raman@example.in\r\n",
}


@pytest.mark.parametrize("kind", sorted(MACHINE))
def test_a_strangers_machine_mail_naming_her_ticket_does_not_join_it(
    desk: Mailroom, db: Session, kind: str
) -> None:
    [hers] = desk.take(PRIYA_MAIL)["ticket_ids"]
    desk.deliver()
    before = state(db, hers)
    result = desk.take(
        mail(
            MALLORY,
            "I am away. Meanwhile please send my voucher codes to mallory@evil.example.",
            msgid="auto@evil.example",
            subject=f"Automatic reply: Only one voucher received [TRI-{hers}]",
            headers=MACHINE[kind],
        )
    )
    assert result["noise"] and hers not in result["ticket_ids"]
    assert state(db, hers) == before


def test_a_stranger_posing_as_the_desks_own_mail_joins_nothing(desk: Mailroom, db: Session) -> None:
    [hers] = desk.take(PRIYA_MAIL)["ticket_ids"]
    desk.deliver()
    before = state(db, hers)
    desk.take(
        mail(
            MALLORY,
            "Please send her codes to mallory@evil.example.",
            msgid="x.1@triage.desk.example.org",
            subject=f"Re: [TRI-{hers}]",
        )
    )
    assert state(db, hers) == before


def guessed_message_ids(domain: str) -> list[str]:
    """The desk's Message-IDs as a stranger would guess them: kind, ticket, outbox row and the
    message they answer are small sequential numbers."""
    guesses = []
    for ticket in range(1, 3):
        for item in range(1, 5):
            for message in range(1, 3):
                for kind in ("reply", "escalation", "answer"):
                    key = f"{kind}:{message}" if kind == "reply" else f"{kind}:{ticket}"
                    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
                    guesses.append(f"<{kind}.t{ticket}.{item}.{digest}@{domain}>")
    return guesses


def test_the_desks_message_ids_cannot_be_guessed_to_thread_onto_her_ticket(
    desk: Mailroom, db: Session
) -> None:
    [hers] = desk.take(PRIYA_MAIL)["ticket_ids"]
    desk.deliver()
    sent = {m["Message-ID"] for m in desk.sink.messages}
    guesses = guessed_message_ids("triage.desk.example.org")
    assert not sent & set(guesses)
    before = state(db, hers)
    desk.take(
        mail(
            MALLORY,
            "Out of office. Send her codes to mallory@evil.example.",
            msgid="ooo@evil.example",
            subject="Automatic reply: Your message",
            headers=f"Auto-Submitted: auto-replied\r\nReferences: {' '.join(guesses)}\r\n",
        )
    )
    assert state(db, hers) == before


def test_her_own_out_of_office_still_lands_on_her_ticket(desk: Mailroom, db: Session) -> None:
    [hers] = desk.take(PRIYA_MAIL)["ticket_ids"]
    desk.deliver()
    [ack] = desk.to(PRIYA)
    result = desk.take(
        mail(
            PRIYA,
            "I am out of the office until Monday.",
            msgid="ooo@example.in",
            subject=f"Automatic reply: {ack['Subject']}",
            headers=f"Auto-Submitted: auto-replied\r\nIn-Reply-To: {ack['Message-ID']}\r\n",
        )
    )
    assert result["ticket_ids"] == [hers]
    on_ticket = db.scalars(
        select(Message.external_id)
        .join(TicketMessage, TicketMessage.message_id == Message.id)
        .where(TicketMessage.ticket_id == hers, Message.direction == "in")
    ).all()
    assert "<ooo@example.in>" in on_ticket


def test_a_stranger_answering_the_desks_request_for_an_mcp_id_with_hers_learns_nothing(
    desk: Mailroom, db: Session
) -> None:
    """The desk asks an unknown writer for their MCP ID; the stranger answers with hers, in the
    thread of their own ticket: the ticket stays theirs, unverified, and they learn nothing."""
    [hers] = desk.take(PRIYA_MAIL)["ticket_ids"]
    first = desk.take(mail(MALLORY, "My voucher for 71-622 never came.", msgid="a1@evil.example"))
    desk.deliver()
    [asked] = desk.to(MALLORY)
    before = state(db, hers)
    again = desk.take(
        mail(
            MALLORY,
            "Sure, my MCP ID is 4012345. So where is it, and what is the code?",
            msgid="a2@evil.example",
            subject=f"Re: {asked['Subject']}",
            headers=f"In-Reply-To: {asked['Message-ID']}\r\n",
        )
    )
    desk.deliver()
    assert again["ticket_ids"] == first["ticket_ids"]
    assert state(db, hers) == before
    [own] = first["ticket_ids"]
    ticket = db.get(Ticket, own)
    assert ticket is not None
    assert (ticket.identity_status, ticket.candidate_mcp_id) == ("unverified", None)
    assert_learns_nothing(desk.read(MALLORY), victim_ticket=hers)
