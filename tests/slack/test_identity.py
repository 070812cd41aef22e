"""Identity before disclosure, over Slack (signed HTTP into the running app): a Slack user not on
a candidate's record who quotes their MCP ID learns nothing of them and never touches their
ticket; an agent's "Verify identity" lets the answer through, privately."""

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Ticket, TicketMessage
from handlers.slack.ids import Action
from tests.slack.conftest import AGENT, INTAKE, STRANGER, SlackClient, button, message_event
from tests.slack.fake_slack import FakeSlack, render_text

PRIYA_VOUCHER = (
    "My MCP ID is 4012345. I took 71-621 and 71-622 in the beta but only got one voucher."
)
STRANGER_VOUCHER = (
    "Hi, my MCP ID is 4012345. I took 71-621 and 71-622 in the beta but my second voucher never "
    "arrived."
)
EMILY_SCOPE = "MCP ID 1034567. Can I use my beta voucher for 70-640?"


def tickets(db: Session) -> list[Ticket]:
    db.expire_all()
    return list(db.scalars(select(Ticket).order_by(Ticket.id)))


def answer(fake: FakeSlack, count: int = 1) -> str:
    return render_text(fake.wait_for("response_url", count)[count - 1].args)


def test_slack_user_quoting_a_candidates_mcp_id_learns_nothing_and_touches_nothing(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    priya = message_event(PRIYA_VOUCHER, user="U0PRIYA", ts="1764100000.000100")
    slack.event(priya, event_id="E1")
    fake_slack.posts(INTAKE)
    [victim] = tickets(db)
    slack.event(
        message_event(STRANGER_VOUCHER, user=STRANGER, ts="1764100100.000100"), event_id="E2"
    )
    reply = render_text(fake_slack.posts(INTAKE, 2)[1].args)
    # ... and in her thread, a "solved" that would resolve her ticket if it were hers
    thanks = message_event(
        "Solved, thank you!", user=STRANGER, ts="1764100200.000100", thread_ts="1764100000.000100"
    )
    slack.event(thanks, event_id="E3")
    time.sleep(0.5)

    victim_now, own = tickets(db)
    assert (own.candidate_key, own.identity_status, own.named_mcp_id) == (
        STRANGER, "unverified", "4012345",
    )  # fmt: skip
    assert own.facts_summary == [] and own.answer is None and own.candidate_mcp_id is None
    assert victim_now.status == "escalated" and victim_now.chase_count == victim.chase_count
    assert db.scalars(
        select(TicketMessage.message_id).where(TicketMessage.ticket_id == victim.id)
    ).all() == [1]
    assert f"TRI-{own.id}" in reply and "verified" in reply and "[Verify identity]" in reply
    for secret in ("Priya", "4012345", "owed", "7Q2K", "ananya", "Ananya", f"TRI-{victim.id}"):
        assert secret not in reply, secret


def test_verify_identity_button_sends_the_answer_privately_to_the_writer(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    slack.event(message_event(EMILY_SCOPE, user=STRANGER, ts="1764100300.000100"), event_id="E4")
    before = render_text(fake_slack.posts(INTAKE)[0].args)
    [own] = tickets(db)
    assert own.identity_status == "unverified" and "P4VX" not in before

    slack.press(button(Action.VERIFY_IDENTITY, own.id), user=STRANGER)  # not an agent
    assert "for help-desk agents only" in answer(fake_slack)
    assert tickets(db)[0].identity_status == "unverified"

    slack.press(button(Action.VERIFY_IDENTITY, own.id), user=AGENT)
    assert f"TRI-{own.id} verified as MCP 1034567: answer" in answer(fake_slack, 2)
    [dm] = fake_slack.posts("D99NOBODY")  # conversations.open with the writer's user id
    assert "P4VX" in render_text(dm.args) and "any exam" in render_text(dm.args)
    in_public = [c for c in fake_slack.called("chat.postMessage") if c.args["channel"] == INTAKE]
    assert not any("P4VX" in render_text(c.args) for c in in_public)
    verified = tickets(db)[0]
    assert (verified.identity_status, verified.candidate_mcp_id) == ("verified", "1034567")
    assert verified.status == "answered"
    assert any(
        e.action == "verify-identity" and e.actor == "slack:U10AGENT" for e in verified.events
    )


def test_agents_find_the_verify_button_on_the_owners_notice_and_the_ticket_view(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    event = message_event(STRANGER_VOUCHER, user=STRANGER, ts="1764100400.000100")
    slack.event(event, event_id="E5")
    fake_slack.posts(INTAKE)
    [own] = tickets(db)
    [notice] = fake_slack.posts("D02DEV")  # dev owns vouchers: the stranger's ticket went there
    text = render_text(notice.args)
    assert "[Verify identity]" in text and "identity unverified; names MCP 4012345" in text
    assert "owed" not in text  # no records were read for it
    slack.command(f"ticket TRI-{own.id}", user=AGENT)
    assert "[Verify identity]" in answer(fake_slack)
