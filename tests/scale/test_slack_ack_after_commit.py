"""A Slack event is acknowledged only once its message is committed: a database failure answers
500, and Slack's retry takes the message in, once."""

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.config.settings import Settings
from bot.ops.runtime import Runtime
from bot.store.models import Message, Ticket
from handlers.slack.server import create_web_app
from tests.slack.conftest import message_event
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import INTAKE, Served, SlackClient

VOUCHER = "my voucher never came, I took 71-621 and 71-622 in the beta"


class FlakyRuntime(Runtime):
    """The database connection drops while the first message is being triaged."""

    failures = 1

    def records(self, session: Session):  # type: ignore[no-untyped-def]
        if FlakyRuntime.failures:
            FlakyRuntime.failures -= 1
            raise OperationalError("SELECT 1", {}, Exception("terminating connection"))
        return super().records(session)


@pytest.fixture
def flaky_slack(
    slack_settings: Settings, engine: Engine, fake_slack: FakeSlack, sessions
) -> Iterator[SlackClient]:  # type: ignore[no-untyped-def]
    FlakyRuntime.failures = 1
    web = create_web_app(
        slack_settings, engine=engine, runtime_factory=lambda: FlakyRuntime(slack_settings)
    )
    with Served(web) as served:
        yield SlackClient(served.url, fake_slack)


def test_event_lost_to_a_database_error_is_taken_on_slacks_retry(
    flaky_slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    event = message_event(VOUCHER, user="U0PRIYA", ts="1764000300.000100")
    assert flaky_slack.event(event, event_id="EvFLAKY").status_code == 500
    assert db.scalar(select(func.count()).select_from(Message)) == 0  # nothing half-done
    assert flaky_slack.event(event, event_id="EvFLAKY", retry_num=1).status_code == 200
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Ticket)) == 1
    fake_slack.posts(INTAKE)  # the reply follows the acknowledgement
    assert flaky_slack.event(event, event_id="EvFLAKY", retry_num=2).status_code == 200
    time.sleep(0.3)
    assert db.scalar(select(func.count()).select_from(Ticket)) == 1
    assert len(fake_slack.posts(INTAKE)) == 1


def test_event_arriving_while_slack_auth_fails_is_refused_for_a_retry(
    slack_settings: Settings, engine: Engine, fake_slack: FakeSlack, db: Session
) -> None:
    fake_slack.fail(500, count=3, methods={"auth.test"})  # a fresh process, the Web API down
    web = create_web_app(slack_settings, engine=engine)
    with Served(web) as served:
        slack = SlackClient(served.url, fake_slack)
        event = message_event(VOUCHER, user="U0PRIYA", ts="1764000400.000100")
        assert slack.event(event, event_id="EvAUTH").status_code == 503  # not dropped with a 200
        assert db.scalar(select(func.count()).select_from(Message)) == 0
        fake_slack.recover()
        assert slack.event(event, event_id="EvAUTH", retry_num=1).status_code == 200
        db.expire_all()
        assert db.scalar(select(func.count()).select_from(Message)) == 1
