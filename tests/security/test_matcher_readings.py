"""The learned matcher's readings decide what the desk does alone, so text is crafted to read
the way an attacker wants: a request wrapped in thanks so it reads as a confident
`not-a-request` (dropped, and the writer's open ticket resolved), by raw mail through the real
CLI. Nothing a candidate wrote may be dropped silently."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Ticket, TicketMessage
from tests.security.conftest import PRIYA, Mailroom, mail
from tests.security.test_other_peoples_ids import PRIYA_MAIL


def on_a_ticket(db: Session, message_id: int) -> bool:
    linked = db.scalar(
        select(TicketMessage.ticket_id).where(TicketMessage.message_id == message_id)
    )
    return linked is not None


@pytest.mark.parametrize(
    "body",
    [
        "Thank you! It worked. But I still have not received my voucher.",
        "Thanks so much, that worked! By the way my voucher for 71-621 never arrived.",
        # Five thanks outweigh three words of request in the whole message; the sentence
        # that complains keeps it from being dropped.
        "Thanks!! Great, thanks, thank you, cheers. voucher never came.",
    ],
)
def test_thanks_wrapped_around_a_request_neither_drops_it_nor_resolves_her_ticket(
    desk: Mailroom, db: Session, body: str
) -> None:
    [hers] = desk.take(PRIYA_MAIL)["ticket_ids"]
    desk.deliver()
    result = desk.take(
        mail(PRIYA, body, msgid="thanks.0002@mail.example.in", subject="Re: voucher")
    )
    db.expire_all()
    ticket = db.get(Ticket, hers)
    assert ticket is not None and ticket.status != "resolved"
    assert result["ticket_ids"], "the request was dropped: no ticket holds the message"
    assert on_a_ticket(db, result["message_id"])


def test_plain_thanks_still_resolves_her_ticket(desk: Mailroom, db: Session) -> None:
    """The other side of the line above: a thank-you and nothing else closes her own ticket."""
    [hers] = desk.take(PRIYA_MAIL)["ticket_ids"]
    desk.deliver()
    desk.take(mail(PRIYA, "Solved, thank you so much!", msgid="t.3@mail.example.in"))
    db.expire_all()
    ticket = db.get(Ticket, hers)
    assert ticket is not None and ticket.status == "resolved"
