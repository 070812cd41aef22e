"""The outbox's Slack sender against the fake Web API: rendering, DMs, uploads, failures."""

import base64
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.delivery.messages import Chart, DigestMessage, Note, Outgoing, dump
from bot.delivery.notifications import notify_escalation
from bot.delivery.outbox import deliver_due, enqueue
from bot.ops.adapters import discover_senders
from bot.store.models.base import utcnow
from bot.store.models.outbox import OutboxItem
from bot.tickets.digests import send_digest
from handlers.slack.outbound import make_sender
from tests.slack.conftest import DEV, INTAKE, make_ticket
from tests.slack.fake_slack import FakeSlack, render_text

PNG = base64.b64encode(b"\x89PNG fake chart").decode()


def queue(
    db: Session,
    key: str,
    *,
    recipient: str = INTAKE,
    text: str = "fallback",
    thread_ts: str | None = None,
    message: Outgoing | None = None,
) -> None:
    """One of the core's messages on the outbox for Slack (a plain note unless given)."""
    message = message or Note(text=text, reply_to={"thread_ts": thread_ts} if thread_ts else {})
    enqueue(
        db, channel="slack", kind="test", recipient=recipient, payload=dump(message),
        dedupe_key=key,
    )  # fmt: skip
    db.commit()


def items(db: Session) -> list[OutboxItem]:
    db.expire_all()
    return list(db.scalars(select(OutboxItem).order_by(OutboxItem.id)))


def test_sender_is_discovered_only_when_slack_is_configured(
    slack_settings: Settings, settings: Settings
) -> None:
    assert "slack" in discover_senders(slack_settings)
    assert "slack" not in discover_senders(settings)


def test_escalation_goes_to_the_owner_by_dm_with_buttons(
    slack_settings: Settings, sessions: sessionmaker[Session], db: Session, fake_slack: FakeSlack
) -> None:
    ticket = make_ticket(db, priority="high", facts_summary=["owed: 1 voucher"])
    notify_escalation(db, slack_settings.app, ticket=ticket, recipient="dev", level="1",
                      reason="resolution overdue by 2h", now=utcnow())  # fmt: skip
    db.commit()
    assert deliver_due(sessions, {"slack": make_sender(slack_settings)}) == (1, 0)
    [opened] = fake_slack.called("conversations.open")
    assert opened.args["users"] == DEV
    [post] = fake_slack.called("chat.postMessage")
    assert post.args["channel"] == "D02DEV"
    text = render_text(post.args)
    assert f"*TRI-{ticket.id}* `voucher-missing` · high — resolution overdue by 2h" in text
    assert "Candidate: MCP 4471203" in text and "• owed: 1 voucher" in text
    assert "[Acknowledge] [Resolve] [Reassign]" in text


def test_digest_goes_by_dm_with_its_chart_uploaded_once(
    slack_settings: Settings, sessions: sessionmaker[Session], db: Session, fake_slack: FakeSlack
) -> None:
    ticket = make_ticket(db, created_at=utcnow() - timedelta(days=2))
    send_digest(db, slack_settings.app, owner_id="dev", now=utcnow(), channels=["slack"])
    db.commit()
    assert deliver_due(sessions, {"slack": make_sender(slack_settings)}) == (1, 0)
    [post] = fake_slack.called("chat.postMessage")
    text = render_text(post.args)
    assert "Triage digest for Dev Patel" in text
    assert f"TRI-{ticket.id}" in text and "voucher-missing" in text
    [upload] = fake_slack.called("upload")
    assert upload.args["bytes"] > 1000  # the PNG chart
    [complete] = fake_slack.called("files.completeUploadExternal")
    assert complete.args["channel_id"] == "D02DEV"


def test_rate_limit_is_retried_after_retry_after(
    slack_settings: Settings, sessions: sessionmaker[Session], db: Session, fake_slack: FakeSlack
) -> None:
    queue(db, "reply:1", text="hello", thread_ts="1.1")
    fake_slack.fail(429, retry_after=1, methods={"chat.postMessage"})
    assert deliver_due(sessions, {"slack": make_sender(slack_settings)}) == (1, 0)
    first, second = fake_slack.called("chat.postMessage")
    assert first.args["_failed"] == 429 and "_failed" not in second.args
    assert second.args["thread_ts"] == "1.1"  # the thread the adapter's reply_to names
    assert second.at - first.at >= 0.95


def test_lasting_rate_limit_is_handed_back_to_the_outbox_with_retry_after(
    slack_settings: Settings, sessions: sessionmaker[Session], db: Session, fake_slack: FakeSlack
) -> None:
    queue(db, "reply:2", text="hello")
    fake_slack.fail(429, retry_after=1, count=3, methods={"chat.postMessage"})
    before = utcnow()
    assert deliver_due(sessions, {"slack": make_sender(slack_settings)}) == (0, 1)
    [item] = items(db)
    assert item.status == "pending" and "rate limited" in (item.last_error or "")
    assert before + timedelta(seconds=0.5) < item.next_attempt_at < before + timedelta(seconds=10)


def test_outage_keeps_the_reply_and_delivers_it_later(
    slack_settings: Settings, sessions: sessionmaker[Session], db: Session, fake_slack: FakeSlack
) -> None:
    queue(db, "reply:3", text="we are on it", thread_ts="1.1")
    fake_slack.fail(500, count=100)
    assert deliver_due(sessions, {"slack": make_sender(slack_settings)}) == (0, 1)
    [item] = items(db)
    assert item.status == "pending" and "500" in (item.last_error or "")
    fake_slack.recover()
    later = utcnow() + timedelta(minutes=5)
    assert deliver_due(sessions, {"slack": make_sender(slack_settings)}, now=later) == (1, 0)
    assert items(db)[0].status == "sent"
    assert [
        c.args["text"] for c in fake_slack.called("chat.postMessage") if "_failed" not in c.args
    ] == ["we are on it"]


def test_unknown_channel_is_a_permanent_failure(
    slack_settings: Settings, sessions: sessionmaker[Session], db: Session, fake_slack: FakeSlack
) -> None:
    queue(db, "reply:4", recipient="CGONE", text="hello")
    assert deliver_due(sessions, {"slack": make_sender(slack_settings)}) == (0, 1)
    [item] = items(db)
    assert item.status == "dead" and "channel_not_found" in (item.last_error or "")


def test_failed_upload_does_not_post_the_message_twice(
    slack_settings: Settings, sessions: sessionmaker[Session], db: Session, fake_slack: FakeSlack
) -> None:
    chart = Chart(filename="chart.png", title="chart", data_b64=PNG, content_id="chart")
    digest = DigestMessage(text="Digest", digest={"owner": "dev"}, chart=chart)
    queue(db, "digest:x", recipient=DEV, message=digest)
    fake_slack.fail(500, count=3, methods={"files.getUploadURLExternal"})
    send = make_sender(slack_settings)
    assert deliver_due(sessions, {"slack": send}) == (0, 1)
    assert deliver_due(sessions, {"slack": send}, now=utcnow() + timedelta(minutes=5)) == (1, 0)
    assert len(fake_slack.called("chat.postMessage")) == 1
    assert len(fake_slack.called("files.completeUploadExternal")) == 1
