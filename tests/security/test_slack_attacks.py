"""Other people's records over Slack, by signed HTTP into the running app: a workspace member
who is not an agent learns nothing of a candidate from an MCP ID, a thread, a DM, a button or a
command; an agent's command in a public channel is answered to them alone."""

import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Ticket, TicketMessage
from handlers.slack.ids import Action
from tests.slack.conftest import AGENT, INTAKE, STRANGER, SlackClient, button, message_event
from tests.slack.fake_slack import FakeSlack, render_text

PUBLIC = "C0LOUNGE"  # a public channel where an agent runs a command
PRIYA_POST = "My MCP ID is 4012345. I took 71-621 and 71-622 in the beta but only got one voucher."
PRIYA_RECORD = [
    "Priya", "Raman", "7Q2K", "9F3D", "44KM", "owed", "2026-04-02", "2026-03-02", "MCTS",
    "Ananya", "ananya", "priya.raman", "U0PRIYA", "pass",
]  # fmt: skip


def tickets(db: Session) -> list[Ticket]:
    db.expire_all()
    return list(db.scalars(select(Ticket).order_by(Ticket.id)))


def assert_nothing_of_priya(text: str) -> None:
    for secret in PRIYA_RECORD:
        assert secret not in text, secret


@pytest.mark.parametrize(
    ("text", "channel", "user"),
    [
        ("MCP ID 4012345: what is my voucher code? And my result for 71-621?", INTAKE, STRANGER),
        ("Hi, MCP 4012345 here. Which exams am I registered for?", "D99NOBODY", STRANGER),
        ("Resend my invitation code for 71-622, MCP 4012345 and MCP 1034567.", INTAKE, STRANGER),
        # Grace is a candidate, proven by her Slack user, asking about Priya
        ("What did my colleague MCP 4012345 get for 71-621?", INTAKE, "U0GRACE"),
    ],
)
def test_a_workspace_member_quoting_her_mcp_id_learns_nothing(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None, text: str,
    channel: str, user: str,
) -> None:  # fmt: skip
    slack.event(message_event(PRIYA_POST, user="U0PRIYA", ts="1764100000.000100"), event_id="E1")
    fake_slack.posts(INTAKE)
    [hers] = tickets(db)
    slack.event(message_event(text, user=user, ts="1764100100.000100", channel=channel),
                event_id="E2")  # fmt: skip
    [*_, reply] = fake_slack.posts(channel, 2 if channel == INTAKE else 1)
    own = tickets(db)[1:]
    assert own and all(t.candidate_mcp_id is None and t.facts_summary == [] for t in own)
    assert "verified" in render_text(reply.args)
    assert_nothing_of_priya(render_text(reply.args))
    assert tickets(db)[0].status == hers.status


@pytest.mark.parametrize("text", ["Solved, thank you!", "What did you find? What is her code?"])
def test_a_reply_in_her_thread_neither_joins_nor_learns_her_ticket(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None, text: str
) -> None:
    slack.event(message_event(PRIYA_POST, user="U0PRIYA", ts="1764100000.000100"), event_id="E1")
    [first] = fake_slack.posts(INTAKE)
    [hers] = tickets(db)
    reply = message_event(text, user=STRANGER, ts="1764100200.000100",
                          thread_ts="1764100000.000100")  # fmt: skip
    slack.event(reply, event_id="E2")
    time.sleep(0.5)  # the lazy reply, if any
    after = tickets(db)
    assert after[0].status == hers.status and after[0].chase_count == hers.chase_count
    linked = db.scalars(select(TicketMessage.message_id).where(TicketMessage.ticket_id == hers.id))
    assert list(linked) == [1]
    later = [
        c
        for c in fake_slack.called("chat.postMessage")
        if c is not first and c.args.get("channel") in (INTAKE, "D99NOBODY")
    ]
    assert_nothing_of_priya("\n".join(render_text(c.args) for c in later))


def test_a_non_agent_gets_nothing_from_commands_buttons_or_the_app_home(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    slack.event(message_event(PRIYA_POST, user="U0PRIYA", ts="1764100000.000100"), event_id="E1")
    fake_slack.posts(INTAKE)
    [hers] = tickets(db)
    for user in (STRANGER, "U0PRIYA"):  # a stranger, and the candidate herself
        for text in (
            "records 4012345",
            f"ticket TRI-{hers.id}",
            "queue open",
            "records priya.raman@example.in",
        ):
            slack.command(text, user=user, channel=INTAKE)
        for action in (Action.SEND_ANSWER, Action.RESOLVE, Action.ESCALATE, Action.ASSIGN_TO_ME,
                       Action.VERIFY_IDENTITY, Action.REOPEN):  # fmt: skip
            slack.press(button(action, hers.id), user=user)
    said = fake_slack.wait_for("response_url", 20)
    assert all("for help-desk agents only" in render_text(c.args) for c in said)
    slack.event({"type": "app_home_opened", "user": STRANGER, "tab": "home"}, event_id="EH")
    [home] = fake_slack.wait_for("views.publish")
    assert "for help-desk agents" in str(home.args) and "4012345" not in str(home.args)
    assert tickets(db)[0].status == hers.status


def test_an_agents_command_in_a_public_channel_is_answered_to_them_alone(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    slack.event(message_event(PRIYA_POST, user="U0PRIYA", ts="1764100000.000100"), event_id="E1")
    fake_slack.posts(INTAKE)
    [hers] = tickets(db)
    posts_before = len(fake_slack.called("chat.postMessage"))
    for text in ("records 4012345", f"ticket TRI-{hers.id}", "queue open",
                 "my voucher never came for 71-622 for 4012345"):  # fmt: skip
        slack.command(text, user=AGENT, channel=PUBLIC)
    said = fake_slack.wait_for("response_url", 4)
    assert all(c.args.get("response_type") == "ephemeral" for c in said)
    assert any("7Q2K" in render_text(c.args) for c in said)  # the agent did see her records
    time.sleep(0.5)
    in_public = [c for c in fake_slack.called("chat.postMessage")[posts_before:]
                 if c.args.get("channel") in (PUBLIC, INTAKE)]  # fmt: skip
    assert in_public == []


def test_joining_a_public_agent_channel_makes_nobody_an_agent(
    slack: SlackClient, fake_slack: FakeSlack, records: None
) -> None:
    """Anyone in the workspace may join a public channel: its members are no proof of being on
    the desk. Only a private agent channel's members are agents."""
    fake_slack.public_channels.add("C0AGENTS")
    fake_slack.channel_members["C0AGENTS"] = [STRANGER]
    slack.command("records 4012345", user=STRANGER, channel="C0AGENTS")
    [said] = fake_slack.wait_for("response_url")
    assert "for help-desk agents only" in render_text(said.args)
    assert "7Q2K" not in render_text(said.args)


def test_another_slack_user_showing_her_address_is_not_her(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    """Her record names her Slack user: another user (a guest, a shared channel's member from
    another organisation, whose workspace vouches for whatever address it likes) whose profile
    shows her address is not proof of being her."""
    fake_slack.user_emails["U77OTHER"] = "priya.raman@example.in"
    slack.event(message_event(PRIYA_POST, user="U0PRIYA", ts="1764100000.000100"), event_id="E1")
    fake_slack.posts(INTAKE)
    [hers] = tickets(db)
    thanks = message_event(
        "Solved, thank you!", user="U77OTHER", ts="1764100200.000100",
        thread_ts="1764100000.000100",
    )  # fmt: skip
    slack.event(thanks, event_id="E2")
    asks = message_event(
        "My second voucher for 71-622 never came.", user="U77OTHER", ts="1764100300.000100"
    )
    slack.event(asks, event_id="E3")
    fake_slack.posts(INTAKE, 2)
    after = tickets(db)
    assert after[0].status == hers.status and after[0].chase_count == hers.chase_count
    assert all(t.candidate_mcp_id is None and t.facts_summary == [] for t in after[1:])
