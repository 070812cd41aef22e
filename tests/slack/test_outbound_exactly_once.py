"""A Slack post goes out once even when its sender dies between Slack's OK and the outbox's
commit: the next attempt finds the post by its outbox id in the channel's history (or the
thread's replies) and records it instead of posting again."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.delivery.messages import POSTED
from bot.delivery.outbox import BATCH_CLAIM_FOR, CLAIM_FOR, deliver_due
from bot.store.models.base import utcnow
from bot.store.models.outbox import OutboxItem
from handlers.slack.outbound import make_sender
from tests import killed_sender
from tests.slack.conftest import DEV, INTAKE, TOKEN
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_outbound import items, queue


def posts(fake_slack: FakeSlack) -> list[dict]:  # type: ignore[type-arg]
    return [c.args for c in fake_slack.called("chat.postMessage") if "_failed" not in c.args]


def killed_env(slack_settings: Settings, fake_slack: FakeSlack) -> dict[str, str]:
    return {"DATABASE_URL": slack_settings.database_url, "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_API_URL": fake_slack.api_url}  # fmt: skip


@pytest.mark.parametrize(
    ("recipient", "thread_ts", "looked_in"),
    [
        (INTAKE, None, "conversations.history"),
        (INTAKE, "1764000200.000100", "conversations.replies"),
        (DEV, None, "conversations.history"),  # a DM: opened, then its history
    ],
)
def test_a_post_whose_sender_was_killed_before_recording_it_is_not_posted_again(
    slack_settings: Settings,
    sessions: sessionmaker[Session],
    db: Session,
    fake_slack: FakeSlack,
    recipient: str,
    thread_ts: str | None,
    looked_in: str,
) -> None:
    queue(db, "reply:killed", recipient=recipient, text="we are on it", thread_ts=thread_ts)
    killed_sender.run("after", killed_env(slack_settings, fake_slack))
    [first] = posts(fake_slack)
    [item] = items(db)
    assert item.status == "pending" and item.sending_at is not None  # the outcome is unknown

    later = utcnow() + CLAIM_FOR + timedelta(seconds=1)
    assert deliver_due(sessions, {"slack": make_sender(slack_settings)}, now=later) == (1, 0)
    assert len(posts(fake_slack)) == 1
    [looked] = fake_slack.called(looked_in)
    assert looked.args["include_all_metadata"] in ("1", "true")
    [item] = items(db)
    assert item.status == "sent" and item.sending_at is None
    assert item.payload[POSTED]["ts"] == fake_slack.messages[first["channel"]][0]["ts"]


def test_a_sender_killed_before_posting_leaves_one_post_after_looking(
    slack_settings: Settings, sessions: sessionmaker[Session], db: Session, fake_slack: FakeSlack
) -> None:
    queue(db, "reply:early", text="we are on it", thread_ts="1764000300.000100")
    killed_sender.run("before", killed_env(slack_settings, fake_slack))
    assert posts(fake_slack) == []
    later = utcnow() + CLAIM_FOR + timedelta(seconds=1)
    assert deliver_due(sessions, {"slack": make_sender(slack_settings)}, now=later) == (1, 0)
    assert len(fake_slack.called("conversations.replies")) == 1
    [post] = posts(fake_slack)
    assert post["metadata"]["event_payload"]["outbox_id"] == items(db)[0].id


def test_a_retry_after_an_unclear_failure_looks_before_posting(
    slack_settings: Settings, sessions: sessionmaker[Session], db: Session, fake_slack: FakeSlack
) -> None:
    """A 500 may come after Slack posted: the retry looks first (here: it was not posted)."""
    queue(db, "reply:500", text="hello")
    fake_slack.fail(500, count=3, methods={"chat.postMessage"})
    send = make_sender(slack_settings)
    assert deliver_due(sessions, {"slack": send}) == (0, 1)
    assert deliver_due(sessions, {"slack": send}, now=utcnow() + timedelta(minutes=5)) == (1, 0)
    assert len(fake_slack.called("conversations.history")) == 1
    assert len(posts(fake_slack)) == 1


def test_a_rate_limit_longer_than_the_attempt_is_handed_back_without_waiting(
    slack_settings: Settings, sessions: sessionmaker[Session], db: Session, fake_slack: FakeSlack
) -> None:
    """Waiting out a 429 of 10 minutes inside the attempt would outlast its claim."""
    queue(db, "reply:429", text="hello")
    fake_slack.fail(429, retry_after=600, count=1, methods={"chat.postMessage"})
    started = utcnow()
    assert deliver_due(sessions, {"slack": make_sender(slack_settings)}) == (0, 1)
    assert utcnow() - started < timedelta(seconds=5)
    [item] = items(db)
    assert item.next_attempt_at >= started + timedelta(seconds=590)


def test_the_serve_process_and_a_worker_delivering_at_once_post_each_item_once(
    slack_settings: Settings, engine: Engine, sessions: sessionmaker[Session], db: Session,
    fake_slack: FakeSlack,
) -> None:  # fmt: skip
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent claims need PostgreSQL row locks")
    for n in range(40):
        queue(db, f"reply:{n}", text=f"reply {n}", thread_ts=f"1764001{n:03d}.000100")
    errors: list[BaseException] = []

    def deliver() -> None:  # serve's immediate delivery and the worker's round, each with its own
        try:
            while deliver_due(sessions, {"slack": make_sender(slack_settings)}, limit=5) != (0, 0):
                pass
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # The worker's next round, once every claim has run out: under load an attempt can miss its
    # item (called off as too slow to start, or its row briefly locked by another's claim) and
    # leave it to a later round. Each item still goes out exactly once.
    later = utcnow() + BATCH_CLAIM_FOR + timedelta(seconds=1)
    deliver_due(sessions, {"slack": make_sender(slack_settings)}, now=later)
    ids = sorted(p["metadata"]["event_payload"]["outbox_id"] for p in posts(fake_slack))
    assert ids == sorted(db.scalars(select(OutboxItem.id)))
