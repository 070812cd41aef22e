"""Send answer delivers the drafted answer to the candidate privately (a DM to their Slack user
on record, or mail to their address on record), never into the public thread, which only hears
that it was answered."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Ticket
from bot.store.models.outbox import OutboxItem
from handlers.slack.ids import Action
from tests.slack.conftest import AGENT, INTAKE, SlackClient, button, message_event
from tests.slack.fake_slack import FakeSlack, render_text

GRACE = "U0GRACE"  # MCP 3190123, passed 71-621 in the beta; her Slack user is on record
ASKS = "When do the beta exam results for 71-621 arrive?"


def answer(fake: FakeSlack, count: int = 1) -> str:
    return render_text(fake.wait_for("response_url", count)[count - 1].args)


def intake_channel_texts(fake: FakeSlack) -> list[str]:
    return [
        render_text(call.args)
        for call in fake.called("chat.postMessage")
        if call.args.get("channel") == INTAKE
    ]


def test_send_answer_goes_to_the_candidates_dm_and_the_thread_only_hears_it_was_sent(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    slack.event(message_event(ASKS, user=GRACE, ts="1764000600.000300"), event_id="EvGRACE")
    fake_slack.posts(INTAKE)
    [new] = db.scalars(select(Ticket)).all()
    assert new.candidate_mcp_id == "3190123" and new.answer == "Your result for 71-621 is in: pass."
    slack.press(button(Action.SEND_ANSWER, new.id), user=AGENT)
    said = answer(fake_slack)
    assert f"TRI-{new.id}: the answer is on its way to the candidate privately" in said
    assert "a Slack DM to their user on record" in said
    [dm] = fake_slack.posts("D0GRACE")
    assert render_text(dm.args).strip() == new.answer
    assert "thread_ts" not in dm.args or dm.args["thread_ts"] is None
    _reply, note = fake_slack.posts(INTAKE, 2)
    assert note.args["thread_ts"] == "1764000600.000300"
    assert render_text(note.args) == f"TRI-{new.id}: answer sent to the candidate privately."
    for text in intake_channel_texts(fake_slack):  # nothing of her record in the channel
        for fact in ("pass", "3190123", "Grace", "grace.lee", "2026-03-16", new.answer):
            assert fact not in text
    db.expire_all()
    done = db.get(Ticket, new.id)
    assert done is not None and done.status == "answered" and done.first_response_at is not None
    slack.press(button(Action.SEND_ANSWER, new.id), user=AGENT)  # a second press sends nothing new
    answer(fake_slack, 2)
    assert len(db.scalars(select(OutboxItem).where(OutboxItem.kind == "answer")).all()) == 1


def test_a_stranger_quoting_someones_mcp_id_gets_no_answer_to_send(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    asks = "When do the beta exam results for 71-621 arrive? MCP 3190123"
    slack.event(message_event(asks, user="U0STRANGER", ts="1764000700.000100"), event_id="EvX")
    fake_slack.posts(INTAKE)
    [new] = db.scalars(select(Ticket)).all()
    assert new.identity_status == "unverified" and not new.answer  # nothing of hers is drafted
    slack.press(button(Action.SEND_ANSWER, new.id), user=AGENT)
    assert "has no drafted answer to send" in answer(fake_slack)
    assert db.scalars(select(OutboxItem).where(OutboxItem.kind == "answer")).all() == []
    for text in intake_channel_texts(fake_slack):
        assert "pass" not in text and "3190123" not in text and "Grace" not in text


def test_send_answer_by_mail_to_the_address_on_record(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    # Hans (5023456) has no Slack user on record: his answer goes to his address on record.
    slack.command("Hans asks: can his voucher be used for any exam? for 5023456", user=AGENT)
    answer(fake_slack)
    [new] = db.scalars(select(Ticket)).all()
    assert new.answer
    slack.press(button(Action.SEND_ANSWER, new.id), user=AGENT)
    assert "email to hans.mueller@example.de" in answer(fake_slack, 2)
    [item] = db.scalars(select(OutboxItem).where(OutboxItem.kind == "answer")).all()
    assert (item.channel, item.recipient) == ("email", "hans.mueller@example.de")
    assert item.payload["text"] == new.answer and item.payload["view"] == "answer"
    # the command was a private exchange with the agent: no note in any channel
    assert db.scalars(select(OutboxItem).where(OutboxItem.kind == "note")).all() == []
