"""What used to drift between Slack and the other doors: resolving from Slack keeps the SLA
figures, reassigning from Slack tells the new owner and moves the promise into their calendar."""

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy.orm import Session

from bot.config.settings import Settings
from bot.store.models import Ticket
from bot.tickets import sla
from handlers.slack.ids import Action
from tests.slack.conftest import DEV, SlackClient, button, make_ticket
from tests.slack.fake_slack import FakeSlack, render_text

# Wednesday 25 November 2026, 16:00 UTC: 10:00 in Chicago (dev, sam), 16:00 in London (lena).
NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


def said(fake: FakeSlack, count: int = 1) -> str:
    return render_text(fake.wait_for("response_url", count)[count - 1].args)


def test_resolve_from_slack_records_the_resolution_time_and_the_paused_time(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, slack_settings: Settings
) -> None:
    with time_machine.travel(NOW, tick=False):
        waiting = make_ticket(
            db, owner="dev", team="vouchers", status="waiting-on-candidate",
            created_at=NOW - timedelta(hours=6), sla_paused_at=NOW - timedelta(hours=1),
        )  # fmt: skip
        slack.press(button(Action.RESOLVE, waiting.id), user=DEV)
        assert f"TRI-{waiting.id} resolved." in said(fake_slack)
    db.expire_all()
    done = db.get_one(Ticket, waiting.id)
    assert done.status == "resolved" and done.resolved_at == NOW
    assert done.sla_paused_at is None and done.sla_paused_seconds == 3600
    # dev's business hours since it opened (08:00-10:00 in Chicago), less the paused hour
    assert done.resolution_seconds == 3600


def test_reassign_from_slack_tells_the_new_owner_and_keeps_the_promise(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, slack_settings: Settings
) -> None:
    config = slack_settings.app
    with time_machine.travel(NOW, tick=False):
        ticket = make_ticket(
            db, owner="dev", team="vouchers", status="escalated",
            created_at=NOW - timedelta(hours=6),
        )  # fmt: skip
        sla.start_clock(ticket, config=config, now=ticket.created_at)
        db.commit()
        before = (ticket.first_response_due_at, ticket.sla_due_at)
        block = f"escalation_actions:{ticket.id}"
        reassign = {"type": "users_select", "action_id": Action.REASSIGN.value,
                    "block_id": block, "selected_user": "U03LENA"}  # fmt: skip
        slack.press(reassign, user=DEV, channel="D02DEV")
        assert f"TRI-{ticket.id} reassigned to lena." in said(fake_slack)
        [dm] = fake_slack.posts("D03LENA")
    assert f"TRI-{ticket.id}" in render_text(dm.args)
    assert "reassigned to you by dev" in render_text(dm.args)
    db.expire_all()
    after = db.get_one(Ticket, ticket.id)
    assert after.owner == "lena"
    chicago, london = sla.calendar_for(config, "dev"), sla.calendar_for(config, "lena")
    for old, new in zip(before, (after.first_response_due_at, after.sla_due_at), strict=True):
        assert old is not None and new is not None
        left = sla.business_time_between(NOW, old, chicago)
        assert sla.business_time_between(NOW, new, london) == left
