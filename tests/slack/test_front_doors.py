"""Every ticket action through every front door that offers it (the `triage tickets` CLI, signed
Slack commands and buttons into the running app, mail for "solved, thanks") leaves the same
ticket: the same state, audit events (the actor aside), SLA figures and notifications.

Each door works on its own copy of the same ticket at the same (frozen) moment, so the figures
are equal to the second."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.config.settings import Settings
from bot.store.models import Ticket
from bot.store.models.outbox import OutboxItem
from bot.store.models.slack import IssueCorrection
from bot.tickets import sla
from handlers.email.intake import core_intake, ingest_message
from handlers.slack.ids import Action
from tests.conftest import ROOT
from tests.slack.conftest import LEAD, SlackClient, button
from tests.slack.fake_slack import FakeSlack

# Wednesday 25 November 2026, 16:00 UTC: 10:00 in Chicago (dev), 16:00 in London (lena).
NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
OPENED = NOW - timedelta(hours=6)
ACTOR = "maria"  # the triage lead, who may do everything from Slack; the CLI says --as maria
PRIYA = "4012345"  # on record with priya.raman@example.in and Slack user U0PRIYA


@dataclass
class Doors:
    slack: SlackClient
    fake: FakeSlack
    sessions: sessionmaker[Session]
    settings: Settings
    capsys: pytest.CaptureFixture[str]

    def cli(self, *args: str) -> None:
        self.capsys.readouterr()
        try:
            main(["--config", str(ROOT / "app.yaml"), *args])
        except SystemExit as exc:
            assert not exc.code, self.capsys.readouterr().err

    def command(self, text: str) -> None:
        seen = len(self.fake.called("response_url"))
        self.slack.command(text, user=LEAD)
        self.fake.wait_for("response_url", seen + 1)

    def press(self, action: dict[str, Any]) -> None:
        seen = len(self.fake.called("response_url"))
        self.slack.press(action, user=LEAD)
        self.fake.wait_for("response_url", seen + 1)

    def mail(self, ticket_id: int, text: str) -> None:
        raw = (
            "From: Priya Raman <priya.raman@example.in>\r\nTo: support@desk.example.org\r\n"
            f"Subject: Re: my voucher [TRI-{ticket_id}]\r\n"
            f"Message-ID: <thanks-{ticket_id}@example.in>\r\n"
            "Date: Wed, 25 Nov 2026 21:30:00 +0530\r\n\r\n"
            f"{text}\r\n"
        ).encode()
        intake = core_intake(self.settings)
        assert ingest_message(self.sessions, raw, settings=self.settings, intake=intake, now=NOW)


Door = Callable[[Doors, int], None]


def menu(action: Action, value: str) -> dict[str, Any]:
    return {"type": "static_select", "action_id": action.value, "block_id": "b",
            "selected_option": {"value": value}}  # fmt: skip


def reassign_to(slack_user: str) -> Door:
    def door(d: Doors, ticket_id: int) -> None:
        block = f"escalation_actions:{ticket_id}"
        d.press({"type": "users_select", "action_id": Action.REASSIGN.value, "block_id": block,
                 "selected_user": slack_user})  # fmt: skip

    return door


# action -> (the ticket it starts from, {door: how that door does it})
SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, Door]]] = {
    "assign": (
        {"owner": None, "team": None, "status": "new"},
        {
            "cli": lambda d, t: d.cli("tickets", "assign", str(t), "dev", "--as", ACTOR),
            "slack command": lambda d, t: d.command(f"assign {t} <@U02DEV|dev>"),
        },
    ),
    "reassign": (
        {"status": "escalated"},
        {
            "cli": lambda d, t: d.cli("tickets", "assign", str(t), "lena", "--as", ACTOR),
            "slack command": lambda d, t: d.command(f"assign TRI-{t} <@U03LENA|lena>"),
            "slack menu": reassign_to("U03LENA"),
        },
    ),
    "escalate": (
        {"status": "new"},
        {
            "cli": lambda d, t: d.cli("tickets", "escalate", str(t), "--as", ACTOR),
            "slack command": lambda d, t: d.command(f"escalate {t}"),
            "slack button": lambda d, t: d.press(button(Action.ESCALATE, t)),
        },
    ),
    "resolve": (
        {"status": "waiting-on-candidate", "sla_paused_at": NOW - timedelta(hours=1)},
        {
            "cli": lambda d, t: d.cli("tickets", "resolve", str(t), "--as", ACTOR),
            "slack command": lambda d, t: d.command(f"resolve {t}"),
            "slack button": lambda d, t: d.press(button(Action.RESOLVE, t)),
            "mail": lambda d, t: d.mail(t, "Thank you, that worked! All sorted now."),
        },
    ),
    "reopen": (
        {"status": "resolved", "resolved_at": NOW - timedelta(hours=1), "resolution_seconds": 60},
        {
            "cli": lambda d, t: d.cli("tickets", "reopen", str(t), "--as", ACTOR),
            "slack command": lambda d, t: d.command(f"reopen {t}"),
            "slack button": lambda d, t: d.press(button(Action.REOPEN, t)),
        },
    ),
    "send answer": (
        {
            "status": "new",
            "decision": "answer",
            "answer": "Your voucher ****-7Q2K can be used for any exam.",
        },
        {
            "cli": lambda d, t: d.cli("tickets", "send-answer", str(t), "--as", ACTOR),
            "slack button": lambda d, t: d.press(button(Action.SEND_ANSWER, t)),
        },
    ),
    "relabel": (
        {"status": "escalated"},
        {
            "cli": lambda d, t: d.cli("tickets", "relabel", str(t), "voucher-scope", "--as", ACTOR),
            "slack menu": lambda d, t: d.press(menu(Action.NOT_THIS_ISSUE, f"{t}:voucher-scope")),
        },
    ),
}


def start(sessions: sessionmaker[Session], settings: Settings, **fields: Any) -> int:
    """A voucher ticket of Priya's, dev's by default, opened six hours ago, its clock started."""
    values: dict[str, Any] = {
        "status": "new", "issue": "voucher-missing", "priority": "normal", "source": "email",
        "subject": "my voucher", "candidate_key": PRIYA, "candidate_mcp_id": PRIYA,
        "owner": "dev", "team": "vouchers", "routing_rule": "vouchers", "decision": "escalate",
        "created_at": OPENED, "updated_at": OPENED, **fields,
    }  # fmt: skip
    with sessions() as session, session.begin():
        ticket = Ticket(**values)
        sla.start_clock(ticket, config=settings.app, now=OPENED)
        session.add(ticket)
        session.flush()
        return ticket.id


def snapshot(db: Session, ticket_id: int) -> dict[str, Any]:
    """What a user of the ticket can see of it, with the actor's name taken out."""
    db.expire_all()
    ticket = db.get_one(Ticket, ticket_id)
    fields = ("status", "owner", "team", "issue", "priority", "decision", "routing_rule",
              "answer", "updated_at", "first_response_at", "first_response_seconds",
              "first_response_due_at", "sla_due_at", "sla_paused_at", "sla_paused_seconds",
              "resolved_at", "resolution_seconds", "escalation_level")  # fmt: skip
    items = db.scalars(select(OutboxItem).where(OutboxItem.ticket_id == ticket_id))
    corrections = db.scalars(select(IssueCorrection).where(IssueCorrection.ticket_id == ticket_id))
    seen = {
        "ticket": {name: getattr(ticket, name) for name in fields},
        "events": [(e.action, e.from_status, e.to_status, e.data) for e in ticket.events],
        "notifications": sorted(
            (i.channel, i.kind, i.recipient, i.payload.get("view"), i.payload.get("reason") or "")
            for i in items
        ),
        "corrections": [(c.predicted, c.corrected) for c in corrections],
    }
    text = json.dumps(seen, default=str)
    for name in (f"cli:{ACTOR}", ACTOR):
        text = text.replace(name, "<actor>")
    return json.loads(text)


@pytest.mark.parametrize("action", list(SCENARIOS))
def test_every_front_door_leaves_the_same_ticket(
    action: str,
    slack: SlackClient,
    fake_slack: FakeSlack,
    sessions: sessionmaker[Session],
    slack_settings: Settings,
    db: Session,
    records: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", slack_settings.database_url)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    doors = Doors(slack, fake_slack, sessions, slack_settings, capsys)
    ticket, ways = SCENARIOS[action]
    results = {}
    with time_machine.travel(NOW, tick=False):
        for name, door in ways.items():
            ticket_id = start(sessions, slack_settings, **ticket)
            before = snapshot(db, ticket_id)
            door(doors, ticket_id)
            results[name] = snapshot(db, ticket_id)
            assert results[name] != before, f"{action} through the {name} changed nothing"
    first, *others = results
    for name in others:
        assert results[name] == results[first], f"{action}: {name} differs from {first}"
    after = results[first]
    assert after["events"], "the action is on the audit trail"
    EXPECTED[action](after)


def _assign(after: dict[str, Any]) -> None:
    assert after["ticket"]["owner"] == "dev"
    assert ("slack", "escalation", "U02DEV", "notice", "assigned to you by <actor>") in [
        tuple(n) for n in after["notifications"]
    ]


def _reassign(after: dict[str, Any]) -> None:
    assert after["ticket"]["owner"] == "lena" and after["events"][-1][0] == "reassign"
    recipients = {n[2] for n in after["notifications"]}
    assert recipients == {"U03LENA", "lena.fischer@desk.example.org"}


def _escalate(after: dict[str, Any]) -> None:
    assert (after["ticket"]["status"], after["ticket"]["owner"]) == ("escalated", "dev")
    assert after["ticket"]["routing_rule"] == "escalation-chain"
    assert {n[2] for n in after["notifications"]} == {"U02DEV", "dev.patel@desk.example.org"}


def _resolve(after: dict[str, Any]) -> None:
    state = after["ticket"]
    assert state["status"] == "resolved" and state["sla_paused_at"] is None
    assert state["sla_paused_seconds"] == 3600  # 09:00-10:00 in Chicago, within dev's hours
    # dev's business time from 04:00 in Chicago (opening at 08:00) to 10:00, less the paused hour
    assert state["resolution_seconds"] == 3600


def _reopen(after: dict[str, Any]) -> None:
    assert after["ticket"]["status"] == "escalated" and after["ticket"]["resolved_at"] is None
    assert {n[2] for n in after["notifications"]} == {"U02DEV", "dev.patel@desk.example.org"}


def _send_answer(after: dict[str, Any]) -> None:
    assert after["ticket"]["status"] == "answered"
    assert after["ticket"]["first_response_seconds"] == 2 * 3600  # 08:00-10:00 in Chicago
    assert [n[:4] for n in after["notifications"]] == [["slack", "answer", "U0PRIYA", "answer"]]


def _relabel(after: dict[str, Any]) -> None:
    assert after["ticket"]["issue"] == "voucher-scope" and after["ticket"]["owner"] == "dev"
    assert after["corrections"] == [["voucher-missing", "voucher-scope"]]


EXPECTED: dict[str, Callable[[dict[str, Any]], None]] = {
    "assign": _assign,
    "reassign": _reassign,
    "escalate": _escalate,
    "resolve": _resolve,
    "reopen": _reopen,
    "send answer": _send_answer,
    "relabel": _relabel,
}
