"""Messages in intake channels, DMs and mentions become tickets, answered in their thread."""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.delivery.outbox import deliver_due
from bot.store.models import Message, Ticket, TicketMessage
from bot.store.models.base import utcnow
from bot.store.models.outbox import OutboxItem
from bot.store.models.slack import InboundEvent
from handlers.slack.outbound import make_sender
from handlers.slack.server import create_web_app
from tests.slack.conftest import AGENT, INTAKE, SlackClient, message_event
from tests.slack.fake_slack import FakeSlack, render_text
from tests.slack.harness import Served

RETAKE = (
    "I failed 71-623 in April and got the retake invitation two weeks ago, but Prometric's site "
    "says policy allows only one registration per beta exam and tells me to phone. Can I take "
    "the retake at Pearson VUE instead?"
)
VOUCHER = "My MCP ID is 4012345. I took 71-621 and 71-622 in the beta but only got one voucher."


def tickets(db: Session) -> list[Ticket]:
    db.expire_all()
    return list(db.scalars(select(Ticket).order_by(Ticket.id)))


def wait_until(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_intake_message_opens_a_ticket_and_replies_in_its_thread(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    event = message_event(RETAKE, user="U0MARCO", ts="1764000000.000100")
    assert slack.event(event, event_id="Ev1").status_code == 200
    [post] = fake_slack.posts(INTAKE)
    assert post.args["thread_ts"] == "1764000000.000100"
    [ticket] = tickets(db)
    assert ticket.issue == "retake-registration-blocked" and ticket.candidate_mcp_id == "5134567"
    text = render_text(post.args)
    assert f"TRI-{ticket.id}" in text and "`retake-registration-blocked`" in text
    assert "Entities: exams: 71-623; providers:" in text
    assert "[Assign to me] [Escalate] [Resolve] [Send answer] [Not this issue]" in text
    # a public thread: no record facts, no drafted answer, no candidate id
    assert "*Facts*" not in text and "Drafted answer" not in text and "5134567" not in text


def test_retried_event_makes_no_second_ticket(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    event = message_event(VOUCHER, user="U0PRIYA", ts="1764000100.000100")
    slack.event(event, event_id="EvRETRY")
    fake_slack.posts(INTAKE)
    assert slack.event(event, event_id="EvRETRY", retry_num=1).status_code == 200
    assert slack.event(event, event_id="EvRETRY", retry_num=2).status_code == 200
    # the same message delivered under another event id (e.g. message + app_mention)
    slack.event(event, event_id="EvOTHER")
    wait_until(lambda: db.scalar(select(func.count()).select_from(InboundEvent)) == 2)
    time.sleep(0.3)
    assert len(tickets(db)) == 1
    assert len(fake_slack.posts(INTAKE)) == 1


def test_thread_reply_goes_onto_the_same_ticket(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    first = message_event(VOUCHER, user="U0PRIYA", ts="1764000200.000100")
    slack.event(first, event_id="EvA")
    fake_slack.posts(INTAKE)
    reply = message_event(
        "This is my third message: the second voucher still has not come.",
        user="U0PRIYA",
        ts="1764000260.000100",
        thread_ts="1764000200.000100",
    )
    slack.event(reply, event_id="EvB")
    wait_until(lambda: db.scalar(select(func.count()).select_from(TicketMessage)) == 2)
    [ticket] = tickets(db)
    assert ticket.issue == "voucher-missing" and ticket.chase_count >= 1
    assert fake_slack.posts(INTAKE, 2)[1].args["thread_ts"] == "1764000200.000100"


def test_agent_dm_shows_the_record_facts(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    event = message_event(VOUCHER, user=AGENT, ts="1764000300.000100", channel="D0AGENT")
    slack.event(event, event_id="EvDM")
    [post] = fake_slack.posts("D0AGENT")
    text = render_text(post.args)
    assert post.args["channel"] == "D0AGENT"
    assert "*Facts*" in text and "owed" in text
    assert "IN26-9F3D-7Q2K" not in json.dumps(post.args)  # codes stay masked even in a DM


def test_candidate_dm_gets_no_facts(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    event = message_event(VOUCHER, user="U0PRIYA", ts="1764000400.000100", channel="D0PRIYA")
    slack.event(event, event_id="EvDM2")
    [post] = fake_slack.posts("D0PRIYA")
    assert "*Facts*" not in render_text(post.args)


def test_mention_in_another_channel_is_taken_in(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    event = {
        "type": "app_mention",
        "channel": "C0GENERAL",
        "user": "U0MARCO",
        "text": f"<@UBOT> {RETAKE}",
        "ts": "1764000500.000100",
    }
    slack.event(event, event_id="EvMENTION")
    [post] = fake_slack.posts("C0GENERAL")
    assert post.args["thread_ts"] == "1764000500.000100"
    [ticket] = tickets(db)
    assert ticket.issue == "retake-registration-blocked"


def test_other_channels_and_bot_messages_are_ignored(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    slack.event(message_event(VOUCHER, user="U0PRIYA", ts="1.1", channel="C0RANDOM"), event_id="E1")
    slack.event(message_event("Understood", user="UBOT", ts="1.2", bot_id="BBOT"), event_id="E2")
    slack.event(
        message_event(VOUCHER, user="U0PRIYA", ts="1.3", subtype="message_changed"), event_id="E3"
    )
    time.sleep(0.5)
    assert tickets(db) == [] and fake_slack.called("chat.postMessage") == []


def test_rate_limited_reply_is_retried_after_retry_after(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    fake_slack.fail(429, retry_after=1, methods={"chat.postMessage"})
    slack.event(message_event(RETAKE, user="U0MARCO", ts="1764000600.000100"), event_id="Ev429")
    first, second = fake_slack.wait_for("chat.postMessage", 2)
    assert first.args["_failed"] == 429 and "_failed" not in second.args
    assert second.at - first.at >= 0.95


def test_web_api_outage_keeps_the_ticket_and_delivers_the_reply_later(
    slack: SlackClient,
    fake_slack: FakeSlack,
    db: Session,
    records: None,
    sessions: sessionmaker[Session],
    slack_settings: Settings,
) -> None:
    fake_slack.fail(500, count=1000, methods={"chat.postMessage"})
    slack.event(message_event(RETAKE, user="U0MARCO", ts="1764000700.000100"), event_id="EvDOWN")
    wait_until(lambda: bool(db.scalar(select(OutboxItem.last_error))))
    [ticket] = tickets(db)
    [item] = db.scalars(select(OutboxItem).where(OutboxItem.kind == "reply")).all()
    assert item.status == "pending" and "500" in (item.last_error or "")
    fake_slack.recover()
    later = utcnow() + timedelta(minutes=10)
    assert deliver_due(sessions, {"slack": make_sender(slack_settings)}, now=later) == (1, 0)
    delivered = [c for c in fake_slack.called("chat.postMessage") if "_failed" not in c.args]
    assert len(delivered) == 1 and f"TRI-{ticket.id}" in render_text(delivered[0].args)


def test_same_event_at_two_workers_at_once_makes_one_ticket(
    slack_settings: Settings, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    engine = db.get_bind()
    event = message_event(VOUCHER, user="U0PRIYA", ts="1764000800.000100")
    with (
        Served(create_web_app(slack_settings, engine=engine)) as one,
        Served(create_web_app(slack_settings, engine=engine)) as two,
    ):
        clients = [SlackClient(one.url, fake_slack), SlackClient(two.url, fake_slack)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            sent = [
                pool.submit(client.event, event, event_id="EvTWICE", retry_num=n)
                for n, client in enumerate(clients * 2)
            ]
            assert [f.result().status_code for f in sent] == [200] * 4
        fake_slack.posts(INTAKE)
        wait_until(lambda: db.scalar(select(func.count()).select_from(InboundEvent)) == 1)
        time.sleep(0.5)
    assert len(tickets(db)) == 1
    assert len(fake_slack.posts(INTAKE)) == 1


def test_poster_is_identified_by_their_slack_profile_email(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    fake_slack.user_emails["U0HANS"] = "hans.mueller@example.de"  # no Slack id in his records
    text = "I took the 71-626 beta in April. Where is my free voucher?"
    slack.event(message_event(text, user="U0HANS", ts="1764000900.000100"), event_id="EvHANS")
    fake_slack.posts(INTAKE)
    [ticket] = tickets(db)
    assert ticket.candidate_mcp_id == "5023456"
    [message] = db.scalars(select(Message)).all()
    assert json.loads(message.raw or "{}")["ts"] == "1764000900.000100"
