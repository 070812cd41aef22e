"""Every `/triage` subcommand and every button, through signed HTTP with the real core."""

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Ticket, TicketEvent
from handlers.slack.ids import Action
from tests.slack.conftest import (
    AGENT,
    DEV,
    LEAD,
    OLIVER,
    STRANGER,
    SlackClient,
    button,
    make_ticket,
)
from tests.slack.fake_slack import FakeSlack, render_text

VOUCHER = "my voucher never came, I took 71-621 and 71-622 in the beta"
ANANYA = "U05ANANYA"  # owns India's vouchers, leads the india team


def answer(fake: FakeSlack, count: int = 1) -> str:
    return render_text(fake.wait_for("response_url", count)[count - 1].args)


def ticket(db: Session, ticket_id: int) -> Ticket:
    db.expire_all()
    found = db.get(Ticket, ticket_id)
    assert found is not None
    return found


def open_voucher_ticket(slack: SlackClient, fake: FakeSlack, db: Session) -> Ticket:
    slack.command(f"{VOUCHER} for 4012345")
    answer(fake)
    [found] = db.scalars(select(Ticket)).all()
    return found


def test_triage_text_opens_a_ticket_for_the_named_candidate(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    slack.command(f"{VOUCHER} for 4012345")
    text = answer(fake_slack)
    [new] = db.scalars(select(Ticket)).all()
    assert new.candidate_mcp_id == "4012345" and new.owner == "ananya"
    assert f"*TRI-{new.id}* `voucher-missing`" in text and "→ *ananya*" in text
    assert "1 owed" in text and "****-7Q2K" in text and "IN26-9F3D-7Q2K" not in text
    assert "[Assign to me] [Escalate] [Resolve] [Send answer] [Not this issue]" in text
    [call] = fake_slack.called("response_url")
    assert call.args["response_type"] == "ephemeral"
    # nothing was posted in the agents' channel; the owner got the escalation DM
    posts = fake_slack.posts("D05ANANYA")
    assert "TRI-" in render_text(posts[0].args)
    assert [
        c for c in fake_slack.called("chat.postMessage") if c.args["channel"] == "C0AGENTS"
    ] == []


def test_triage_text_by_email_address(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    slack.command(
        "she never received her invitation for the 71-634 beta "
        "for <mailto:fatima.zahra@example.ma|fatima.zahra@example.ma>"
    )
    text = answer(fake_slack)
    [new] = db.scalars(select(Ticket)).all()
    assert new.candidate_mcp_id == "5189012" and "invitation-not-received" in text


def test_records_are_shown_masked(slack: SlackClient, fake_slack: FakeSlack, records: None) -> None:
    slack.command("records 4012345")
    text = answer(fake_slack)
    assert "Priya Raman · MCP 4012345" in text
    assert "*vouchers* (escalate)" in text and "1 owed" in text
    assert "****-7Q2K" in text and "IN26-9F3D-7Q2K" not in text


def test_records_of_an_unknown_candidate(
    slack: SlackClient, fake_slack: FakeSlack, records: None
) -> None:
    slack.command("records nobody@example.org")
    assert "No candidate with MCP id or email 'nobody@example.org'." in answer(fake_slack)


def test_records_are_refused_to_a_non_agent(
    slack: SlackClient, fake_slack: FakeSlack, records: None
) -> None:
    slack.command("records 4012345", user=STRANGER)
    text = answer(fake_slack)
    assert "for help-desk agents only" in text and "Priya" not in text


def test_kb_finds_the_known_issue(slack: SlackClient, fake_slack: FakeSlack) -> None:
    slack.command("kb voucher never arrived")
    text = answer(fake_slack)
    assert text.splitlines()[1].startswith("*`voucher-missing`*")


def test_assign_escalate_resolve_subcommands(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    new = open_voucher_ticket(slack, fake_slack, db)
    slack.command(f"assign TRI-{new.id} <@U02DEV|dev>", user=LEAD)
    assert f"TRI-{new.id} reassigned to dev." in answer(fake_slack, 2)
    assert ticket(db, new.id).owner == "dev"
    slack.command(f"escalate {new.id} <@U03LENA|lena> needs a registrations look", user=DEV)
    assert f"TRI-{new.id} escalated to lena." in answer(fake_slack, 3)
    assert ticket(db, new.id).owner == "lena" and ticket(db, new.id).status == "escalated"
    assert "needs a registrations look" in render_text(fake_slack.posts("D03LENA")[0].args)
    slack.command(f"resolve {new.id} voucher reissued by phone", user="U03LENA")
    assert f"TRI-{new.id} resolved." in answer(fake_slack, 4)
    done = ticket(db, new.id)
    assert done.status == "resolved"
    assert done.events[-1].reason == "voucher reissued by phone"


def test_owner_cannot_resolve_someone_elses_ticket(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    new = open_voucher_ticket(slack, fake_slack, db)  # ananya's, team india
    slack.command(f"resolve {new.id}", user=OLIVER)
    assert f"only ananya, their team's lead or the triage lead can resolve TRI-{new.id}." in answer(
        fake_slack, 2
    )
    assert ticket(db, new.id).status == "escalated"


def test_queue_open_lists_new_tickets(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    new = open_voucher_ticket(slack, fake_slack, db)
    slack.command("queue open", user=AGENT)
    assert f"TRI-{new.id}" in answer(fake_slack, 2)


def test_assign_to_me_button(slack: SlackClient, fake_slack: FakeSlack, db: Session) -> None:
    mine = make_ticket(db, owner=None, team=None, status="new")
    slack.press(button(Action.ASSIGN_TO_ME, mine.id), user=DEV)
    assert f"TRI-{mine.id} is yours now." in answer(fake_slack)
    assert ticket(db, mine.id).owner == "dev"


def test_forged_press_on_someone_elses_ticket_is_refused(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    theirs = make_ticket(db, owner="lena", team="registrations", status="escalated")
    for action in (Action.RESOLVE, Action.ASSIGN_TO_ME, Action.ACKNOWLEDGE):
        slack.press(button(action, theirs.id), user=DEV)
    # The presses are answered by lazy listeners, in whichever order they finish.
    said = [render_text(c.args) for c in fake_slack.wait_for("response_url", 3)[:3]]
    for verb in ("resolve", "reassign", "acknowledge"):
        refusal = f"only lena, their team's lead or the triage lead can {verb} TRI-{theirs.id}."
        assert sum(refusal in text for text in said) == 1, said
    after = ticket(db, theirs.id)
    assert (after.owner, after.status, after.events) == ("lena", "escalated", [])


def test_team_lead_may_act_on_the_teams_ticket(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    member = make_ticket(db, owner="oliver", team="registrations", status="escalated")
    slack.press(button(Action.RESOLVE, member.id), user="U03LENA")  # lena leads registrations
    assert f"TRI-{member.id} resolved." in answer(fake_slack)


def test_non_agent_button_press_is_refused(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    theirs = make_ticket(db)
    slack.press(button(Action.RESOLVE, theirs.id), user=STRANGER)
    assert "for help-desk agents only" in answer(fake_slack)
    assert ticket(db, theirs.id).status == "new"


def test_escalate_button_goes_to_the_owner_then_up_the_chain(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    new = make_ticket(db, owner="dev", team="vouchers", status="new")
    slack.press(button(Action.ESCALATE, new.id), user=AGENT)
    assert f"TRI-{new.id} escalated to dev." in answer(fake_slack)
    assert "[Acknowledge] [Resolve] [Reassign]" in render_text(fake_slack.posts("D02DEV")[0].args)
    slack.press(button(Action.ESCALATE, new.id), user=AGENT)
    assert f"TRI-{new.id} escalated to lena." in answer(fake_slack, 2)  # dev's backup
    assert ticket(db, new.id).owner == "lena"


def test_acknowledge_and_reassign_from_the_escalation_dm(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    new = make_ticket(db, owner="dev", team="vouchers", status="escalated")
    slack.press(button(Action.ACKNOWLEDGE, new.id), user=DEV, channel="D02DEV")
    assert f"TRI-{new.id} acknowledged" in answer(fake_slack)
    reassign = {
        "type": "users_select",
        "action_id": Action.REASSIGN.value,
        "block_id": f"escalation_actions:{new.id}",
        "selected_user": "U06SAM",
    }
    slack.press(reassign, user=DEV, channel="D02DEV")
    assert f"TRI-{new.id} reassigned to sam." in answer(fake_slack, 2)
    after = ticket(db, new.id)
    assert after.owner == "sam"
    assert [e.action for e in after.events] == ["acknowledge", "reassign"]
    assert after.events[0].actor == "dev"


def test_resolve_button(slack: SlackClient, fake_slack: FakeSlack, db: Session) -> None:
    new = make_ticket(db, owner="dev", team="vouchers")
    slack.press(button(Action.RESOLVE, new.id), user=DEV)
    assert f"TRI-{new.id} resolved." in answer(fake_slack)
    assert ticket(db, new.id).status == "resolved"


def test_button_errors_reach_the_user(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    bare = make_ticket(db, owner="dev", team="vouchers", answer=None)
    slack.press(button(Action.SEND_ANSWER, bare.id), user=DEV)
    assert f"TRI-{bare.id} has no drafted answer to send." in answer(fake_slack)
    slack.press(button(Action.RESOLVE, 424242), user=DEV)
    assert "There is no ticket TRI-424242." in answer(fake_slack, 2)
    assert db.scalars(select(TicketEvent)).all() == []
    assert (
        json.loads(json.dumps(fake_slack.called("response_url")[0].args))["response_type"]
        == "ephemeral"
    )
