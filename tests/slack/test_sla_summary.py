"""An SLA sweep that finds many tickets due for one owner reaches them in Slack as one DM: the
counts, the most overdue tickets, and where their queue is."""

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.delivery.outbox import deliver_due
from bot.store.models.base import utcnow
from bot.tickets.escalation import sweep
from handlers.slack.outbound import make_sender
from tests.slack.conftest import DEV, make_ticket
from tests.slack.fake_slack import FakeSlack, render_text


def test_many_due_tickets_reach_the_owner_as_one_dm(
    slack_settings: Settings, sessions: sessionmaker[Session], db: Session, fake_slack: FakeSlack
) -> None:
    now = utcnow()
    tickets = [
        make_ticket(
            db,
            status="escalated",
            candidate_key=f"{5000000 + n}",
            candidate_mcp_id=None,
            priority="high" if n % 4 == 0 else "normal",
            first_response_due_at=now - timedelta(hours=12 - n),
            sla_due_at=now + timedelta(days=2),
        )
        for n in range(12)
    ]
    report = sweep(sessions, slack_settings.app, now=now)
    assert [(t.recipient, t.steps, t.summary) for t in report.told] == [("dev", 12, True)]
    senders = {"slack": make_sender(slack_settings)}
    assert deliver_due(sessions, senders, now=now + timedelta(seconds=1)) == (1, 0)
    [opened] = fake_slack.called("conversations.open")
    assert opened.args["users"] == DEV
    [post] = fake_slack.called("chat.postMessage")
    text = render_text(post.args)
    lines = text.splitlines()
    assert lines[0] == ":rotating_light: 12 tickets need you: 12 overdue"
    assert lines[1] == "12 overdue · 0 due soon · 3 high · 9 normal"
    worst = [line for line in lines if line.startswith("• ")]
    assert worst[0] == (
        f"• *TRI-{tickets[0].id}* `voucher-missing` · high — first response overdue by 12h"
    )
    assert [line.split("*")[1] for line in worst] == [f"TRI-{t.id}" for t in tickets[:10]]
    assert "… and 2 more" in lines
    assert lines[-1] == "Your queue: `/triage queue`"
    assert post.args["text"] == "12 tickets need you: 12 overdue (SLA sweep)"
