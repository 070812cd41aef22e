"""Who may do what, through signed Slack requests into the running app: an agent without the
right gets a polite ephemeral refusal and nothing changes (no state, no event, no notice)."""

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.config.settings import Settings, load_settings
from bot.store.models import Ticket, TicketEvent
from bot.store.models.outbox import OutboxItem
from handlers.slack.ids import Action
from handlers.slack.server import create_web_app
from tests.slack.conftest import (
    AGENT,
    DEV,
    LEAD,
    OLIVER,
    ROOT,
    SECRET,
    TOKEN,
    SlackClient,
    button,
    make_ticket,
)
from tests.slack.fake_slack import FakeSlack, render_text
from tests.slack.harness import Served


def said(fake: FakeSlack, count: int) -> str:
    return render_text(fake.wait_for("response_url", count)[count - 1].args)


def untouched(db: Session, ticket_id: int, owner: str | None, status: str) -> None:
    db.expire_all()
    ticket = db.get_one(Ticket, ticket_id)
    assert (ticket.owner, ticket.status) == (owner, status)
    assert db.scalar(select(func.count()).select_from(TicketEvent)) == 0
    assert db.scalar(select(func.count()).select_from(OutboxItem)) == 0


def test_front_line_agent_escalates_along_the_chain_but_cannot_name_the_person(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    new = make_ticket(db, owner="dev", team="vouchers", status="new")
    slack.command(f"escalate {new.id} <@U03LENA|lena> please look", user=AGENT)
    text = said(fake_slack, 1)
    assert text.startswith("Sorry, front-line agents escalate along the escalation chain")
    assert f"leave out the name and TRI-{new.id} goes to the next person" in text
    untouched(db, new.id, "dev", "new")
    assert fake_slack.called("response_url")[0].args["response_type"] == "ephemeral"
    slack.command(f"escalate {new.id} please look", user=AGENT)
    assert f"TRI-{new.id} escalated to dev." in said(fake_slack, 2)


def test_front_line_agent_cannot_resolve_reassign_reopen_or_assign(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    mine = make_ticket(db, owner="dev", team="vouchers", status="escalated")
    done = make_ticket(db, owner="dev", team="vouchers", status="resolved")
    nobodys = make_ticket(db, owner=None, team=None, status="new")
    asks: list[tuple[str, str]] = [
        (f"resolve {mine.id}", "only dev, their team's lead or the triage lead can resolve"),
        (f"assign {mine.id} <@U06SAM|sam>", f"can reassign TRI-{mine.id}."),
        (f"reopen {done.id}", f"can reopen TRI-{done.id}."),
        (f"assign {nobodys.id} <@U06SAM|sam>", "only an owner, a team lead or the triage lead can"),
    ]  # fmt: skip
    for n, (command, refusal) in enumerate(asks, start=1):
        slack.command(command, user=AGENT)
        assert refusal in said(fake_slack, n)
    slack.press(button(Action.ASSIGN_TO_ME, nobodys.id), user=AGENT)
    assert "You are not an owner in app.yaml" in said(fake_slack, len(asks) + 1)
    db.expire_all()
    states = [(t.owner, t.status) for t in db.scalars(select(Ticket).order_by(Ticket.id))]
    assert states == [("dev", "escalated"), ("dev", "resolved"), (None, "new")]
    assert db.scalar(select(func.count()).select_from(TicketEvent)) == 0
    assert db.scalar(select(func.count()).select_from(OutboxItem)) == 0


def test_owner_takes_a_ticket_nobody_owns_and_works_their_own(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    nobodys = make_ticket(db, owner=None, team=None, status="new")
    slack.press(button(Action.ASSIGN_TO_ME, nobodys.id), user=OLIVER)
    assert f"TRI-{nobodys.id} is yours now." in said(fake_slack, 1)
    slack.command(f"resolve {nobodys.id} done", user=OLIVER)
    assert f"TRI-{nobodys.id} resolved." in said(fake_slack, 2)
    slack.command(f"reopen {nobodys.id} not yet", user=OLIVER)
    assert f"TRI-{nobodys.id} reopened (escalated)." in said(fake_slack, 3)


def test_an_owner_may_not_acknowledge_or_resolve_for_another_team(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    theirs = make_ticket(db, owner="lena", team="registrations", status="escalated")
    slack.press(button(Action.ACKNOWLEDGE, theirs.id), user=DEV)
    assert f"can acknowledge TRI-{theirs.id}." in said(fake_slack, 1)
    untouched(db, theirs.id, "lena", "escalated")
    slack.press(button(Action.RESOLVE, theirs.id), user=LEAD)  # the triage lead may
    assert f"TRI-{theirs.id} resolved." in said(fake_slack, 2)


def test_a_desk_can_let_front_line_agents_name_whom_they_escalate_to(
    tmp_path: Path, slack_settings: Settings, engine: Engine, fake_slack: FakeSlack, db: Session
) -> None:
    config: dict[str, Any] = yaml.safe_load((ROOT / "app.yaml").read_text())
    config["permissions"] = {"front_line_agent": {"escalate": "yes"}}
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(config))
    settings = load_settings(
        config_path=path, DATABASE_URL=slack_settings.database_url,
        TRIAGE_KNOWLEDGE=ROOT / "knowledge", SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake_slack.api_url,
    )  # fmt: skip
    new = make_ticket(db, owner="dev", team="vouchers", status="new")
    with Served(create_web_app(settings, engine=engine)) as served:
        SlackClient(served.url, fake_slack).command(
            f"escalate {new.id} <@U03LENA|lena>", user=AGENT
        )
        assert f"TRI-{new.id} escalated to lena." in said(fake_slack, 1)
