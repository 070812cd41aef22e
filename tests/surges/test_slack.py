"""Surges in Slack, through signed HTTP into `triage serve` and the local Web API stand-in: the
triage lead's alert (updated in place as the surge grows), its buttons, the draft, the merge,
and the agents' answer to all of a surge's tickets."""

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.delivery.outbox import deliver_due
from bot.store.models import Ticket
from bot.store.models.outbox import OutboxItem
from handlers.slack.ids import Action, Block, View
from handlers.slack.outbound import make_sender
from tests.slack.conftest import AGENT, LEAD
from tests.slack.fake_slack import FakeSlack, render_text
from tests.slack.harness import SlackClient
from tests.surges.conftest import surges, wave

LEAD_DM = "D01MARIA"  # the stand-in opens a DM with U01MARIA as D01MARIA


@pytest.fixture
def alerted(
    take,
    detect_at,
    sessions: sessionmaker[Session],
    slack_settings: Settings,
    fake_slack: FakeSlack,
    monkeypatch,
    tmp_path: Path,
) -> int:
    """The transcript wave (w5) detected, and its alert delivered to the lead's DM."""
    monkeypatch.chdir(tmp_path)  # drafts are written under the working folder
    take(wave("w5")[:14])
    detect_at(85)
    deliver(sessions, slack_settings)
    with sessions() as session:
        [surge] = surges(session)
        return surge.id


def deliver(sessions: sessionmaker[Session], settings: Settings) -> None:
    deliver_due(sessions, {"slack": make_sender(settings)})


def press(slack: SlackClient, action: Action, value: str, *, user: str = LEAD) -> None:
    slack.press(
        {"type": "button", "action_id": action.value, "value": value, "block_id": "b"},
        user=user, channel=LEAD_DM,
    )  # fmt: skip


def surge_posts(fake: FakeSlack) -> list:
    """The lead's DMs that are surge alerts (unknown tickets also reach her as escalations)."""
    return [c for c in fake.posts(LEAD_DM) if "SURGE-" in render_text(c.args)]


def said(fake: FakeSlack, count: int = 1) -> str:
    return render_text(fake.wait_for("response_url", count)[count - 1].args)


def test_the_lead_gets_one_dm_with_the_group_and_the_buttons(alerted, fake_slack):
    [post] = surge_posts(fake_slack)
    text = render_text(post.args)
    assert f"SURGE-{alerted}" in text and "tickets* in 2h" in text
    assert (
        "[Make it a known issue]" in text
        and "[Merge into transcript-missing-certification]" in text
    )
    assert "[Ignore]" in text and "[Answer all]" in text
    assert "transcript" in text.lower() and "TR-503" not in text  # codes masked
    assert "2290451" not in text  # no MCP ID


def test_a_surge_that_grows_edits_its_alert_in_place(
    alerted,
    take,
    detect_at,
    sessions,
    slack_settings,
    fake_slack,
):
    take(wave("w5")[14:26], tag="later")
    detect_at(105)
    deliver(sessions, slack_settings)
    [update] = fake_slack.wait_for("chat.update")
    assert update.args["channel"] == LEAD_DM and update.args["ts"]
    assert "since the first alert" in render_text(update.args)
    assert len(surge_posts(fake_slack)) == 1  # no second alert


def test_make_it_a_known_issue_writes_the_draft(alerted, slack, fake_slack, tmp_path):
    press(slack, Action.SURGE_MAKE_KNOWN, str(alerted))
    answer = said(fake_slack)
    assert "draft `" in answer and "triage knowledge add" in answer
    [draft] = (tmp_path / "knowledge-drafts").glob("*.yaml")
    text = draft.read_text(encoding="utf-8")
    assert "examples:" in text and "Mohammed Iqbal" not in text and "2290451" not in text


def test_only_the_triage_lead_decides_and_a_merge_relabels_the_tickets(
    alerted,
    slack,
    fake_slack,
    db,
    sessions,
    slack_settings,
):
    issue = "transcript-missing-certification"
    press(slack, Action.SURGE_MERGE, f"{alerted}:{issue}", user=AGENT)
    assert "only the triage lead" in said(fake_slack)
    press(slack, Action.SURGE_MERGE, f"{alerted}:{issue}")
    assert f"merged into `{issue}`" in said(fake_slack, 2)
    db.expire_all()
    [surge] = surges(db)
    assert surge.status == "merged"
    tickets = db.scalars(select(Ticket).where(Ticket.id.in_(_ticket_ids(db, alerted)))).all()
    assert {t.issue for t in tickets} == {issue}
    deliver(sessions, slack_settings)  # the alert is edited: decided, without its buttons
    update = fake_slack.wait_for("chat.update")[-1]
    assert "Decided: merged" in render_text(update.args)
    assert "[Ignore]" not in render_text(update.args)


def _ticket_ids(db: Session, surge_id: int) -> list[int]:
    from bot.store.models.surges import SurgeTicket

    return list(db.scalars(select(SurgeTicket.ticket_id).where(SurgeTicket.surge_id == surge_id)))


def submit(slack: SlackClient, surge_id: int, text: str, *, user: str = AGENT):
    payload = {
        "type": "view_submission",
        "team": {"id": "T1"},
        "user": {"id": user},
        "api_app_id": "A1",
        "trigger_id": "t.1",
        "view": {
            "id": "VMODAL1",
            "type": "modal",
            "callback_id": View.SURGE_ANSWER.value,
            "private_metadata": str(surge_id),
            "state": {
                "values": {
                    Block.SURGE_ANSWER_TEXT.value: {
                        Block.SURGE_ANSWER_TEXT.value: {"type": "plain_text_input", "value": text}
                    }
                }
            },
        },
    }
    return slack.post(
        urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
    )


def test_an_agent_answers_every_ticket_of_a_surge_privately(
    alerted,
    slack,
    fake_slack,
    db,
):
    press(slack, Action.SURGE_ANSWER, str(alerted), user=AGENT)
    [opened] = fake_slack.wait_for("views.open")
    view = opened.args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == View.SURGE_ANSWER.value and view["private_metadata"] == str(
        alerted
    )
    empty = submit(slack, alerted, "   ")
    assert empty.status_code == 200 and empty.json()["response_action"] == "errors"
    text = "The transcript page is down for everyone; it will be back today."
    assert submit(slack, alerted, text).status_code == 200
    [note] = fake_slack.posts("D10AGENT")
    assert "on its way to" in render_text(note.args)
    db.expire_all()
    answers = db.scalars(select(OutboxItem).where(OutboxItem.kind == "answer")).all()
    assert {a.ticket_id for a in answers} == set(_ticket_ids(db, alerted))
    # privately, each to the address its writer wrote from; nothing in any channel
    assert all(a.channel == "email" and a.payload["text"] == text for a in answers)
    assert all(a.recipient.endswith("@candidates.example.org") for a in answers)


def test_the_leads_app_home_lists_open_surges(alerted, slack, fake_slack):
    slack.event({"type": "app_home_opened", "user": LEAD, "tab": "home"}, event_id="EvHOMES")
    [call] = fake_slack.wait_for("views.publish")
    text = render_text({"blocks": call.args["view"]["blocks"]})
    assert "Open surges" in text and f"SURGE-{alerted}" in text
