"""`/triage queue`, `/triage ticket`, the Not-this-issue menu and App Home, on real tickets."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli import main
from bot.store.models.base import utcnow
from bot.store.models.slack import IssueCorrection
from handlers.slack.ids import Action
from tests.slack.conftest import AGENT, DEV, LEAD, ROOT, SlackClient, make_ticket
from tests.slack.fake_slack import FakeSlack, render_text


def reply(fake: FakeSlack, count: int = 1) -> str:
    return render_text(fake.wait_for("response_url", count)[count - 1].args)


def test_queue_mine_lists_the_owners_tickets_breached_first(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    now = utcnow()
    fine = make_ticket(db, sla_due_at=now + timedelta(hours=5))
    late = make_ticket(db, sla_due_at=now - timedelta(hours=1), issue="voucher-scope")
    make_ticket(db, owner="lena", issue="promo-code-rejected")
    slack.command("queue mine", user=DEV)
    text = reply(fake_slack)
    assert text.index(f"TRI-{late.id}") < text.index(f"TRI-{fine.id}")
    assert "🔴" in text and "promo-code-rejected" not in text.split("\n")[1]


def test_queue_breached_and_escalated(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    now = utcnow()
    late = make_ticket(db, owner="lena", sla_due_at=now - timedelta(minutes=5))
    up = make_ticket(db, owner="lena", status="escalated", sla_due_at=now + timedelta(hours=1))
    slack.command("queue breached", user=LEAD)
    assert f"TRI-{late.id}" in reply(fake_slack) and f"TRI-{up.id}" not in reply(fake_slack)
    slack.command("queue escalated", user=LEAD)
    assert f"TRI-{up.id}" in reply(fake_slack, 2) and f"TRI-{late.id}" not in reply(fake_slack, 2)


def test_ticket_shows_facts_and_buttons_to_an_agent(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    ticket = make_ticket(
        db,
        facts={"vouchers": {"codes": ["IN26-9F3D-7Q2K"]}},
        facts_summary=["took 71-621 and 71-622; voucher IN26-9F3D-7Q2K issued; 1 owed"],
    )
    slack.command(f"ticket TRI-{ticket.id}")
    text = reply(fake_slack)
    assert f"TRI-{ticket.id}" in text and "voucher-missing" in text
    assert "1 owed" in text and "voucher ****-7Q2K issued" in text and "9F3D" not in text
    assert "[Assign to me] [Escalate] [Resolve] [Send answer] [Not this issue]" in text
    [call] = fake_slack.called("response_url")
    assert call.args["response_type"] == "ephemeral"


def test_unknown_ticket_is_said_plainly(slack: SlackClient, fake_slack: FakeSlack) -> None:
    slack.command("ticket 999")
    assert "There is no ticket TRI-999." in reply(fake_slack)


def test_not_this_issue_stores_a_labelled_example(
    slack: SlackClient,
    fake_slack: FakeSlack,
    db: Session,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
) -> None:
    ticket = make_ticket(db, entities={"exams": ["71-621"], "providers": ["prometric"]})
    slack.press(
        {
            "type": "static_select",
            "action_id": Action.NOT_THIS_ISSUE.value,
            "block_id": f"ticket_actions:{ticket.id}",
            "selected_option": {"value": f"{ticket.id}:voucher-scope"},
        },
        user=AGENT,
    )
    assert "noted as `voucher-scope`" in reply(fake_slack)
    [row] = db.scalars(select(IssueCorrection)).all()
    assert (row.predicted, row.corrected, row.actor) == (
        "voucher-missing",
        "voucher-scope",
        "slack:U10AGENT",
    )
    monkeypatch.setenv("DATABASE_URL", database_url)
    with pytest.raises(SystemExit, match="0"):
        main(["--config", str(ROOT / "app.yaml"), "slack", "corrections"])
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {
        "text": "voucher never came",
        "channel": "slack",
        "issues": ["voucher-scope"],
        "entities": {"exams": ["71-621"], "providers": ["prometric"], "regions": [], "mcp_ids": []},
        "split": "corrections",
        "predicted": "voucher-missing",
        "ticket_id": ticket.id,
    }


def test_not_this_issue_refuses_an_id_outside_the_catalogue(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    ticket = make_ticket(db)
    slack.press(
        {
            "type": "static_select",
            "action_id": Action.NOT_THIS_ISSUE.value,
            "selected_option": {"value": f"{ticket.id}:made-up"},
        }
    )
    assert "is not a known issue" in reply(fake_slack)
    assert db.scalars(select(IssueCorrection)).all() == []


def test_app_home_shows_the_queue_and_counts(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    now = utcnow()
    late = make_ticket(db, sla_due_at=now - timedelta(hours=2))
    make_ticket(db, issue="voucher-scope", sla_due_at=now + timedelta(hours=2))
    response = slack.event(
        {"type": "app_home_opened", "user": DEV, "tab": "home"}, event_id="EvHOME1"
    )
    assert response.status_code == 200
    [call] = fake_slack.wait_for("views.publish")
    assert call.args["user_id"] == DEV
    text = "\n".join(render_text({"blocks": call.args["view"]["blocks"]}).splitlines())
    assert f"🔴 *TRI-{late.id}*" in text
    assert "`voucher-missing`: 1" in text and "`voucher-scope`: 1" in text
