"""Agents' corrections become training data: they are stored scrubbed, exported by
`triage slack corrections` and read by `triage model train`. What a candidate wrote about
themselves must not survive into them, and only agents may make them. Raw mail and the real CLI;
the "Not this issue" menu by signed HTTP into the served Slack app."""

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models.slack import IssueCorrection
from handlers.slack.ids import Action
from tests.security.conftest import PRIYA, Mailroom, mail
from tests.slack.conftest import INTAKE, STRANGER, SlackClient, message_event
from tests.slack.fake_slack import FakeSlack, render_text

# Priya introduces herself the way candidates do: her name mid-sentence, not signed after a
# closing, with her MCP ID, phone number and a voucher code.
INTRODUCED = (
    "Hello, this is Priya Raman from Chennai, MCP ID 4012345. I took 71-621 in the beta in "
    "March. Raman is my family name, Priya my given name. When will my result come? "
    "Call me on +91 98450 12345. My voucher IN26-9F3D-7Q2K is unused."
)
HER_TRACES = ["Priya", "Raman", "4012345", "98450", "9F3D", "7Q2K", PRIYA]


def test_a_correction_keeps_nothing_of_the_candidate_it_was_about(
    desk: Mailroom, db: Session
) -> None:
    [hers, *_] = desk.take(mail(PRIYA, INTRODUCED, msgid="i.1@mail.example.in"))["ticket_ids"]
    ran = desk.cli("tickets", "relabel", str(hers), "exam-not-available", "--as", "lena")
    assert ran.code == 0, ran.err
    [stored] = db.scalars(select(IssueCorrection)).all()
    exported = desk.cli("slack", "corrections")
    assert exported.code == 0, exported.err
    [line] = exported.out.splitlines()
    assert json.loads(line)["issues"] == ["exam-not-available"]
    for trace in HER_TRACES:
        assert trace not in stored.text, trace
        assert trace not in exported.out, trace
    assert "71-621" in stored.text  # what the message is about stays


def test_a_non_agents_not_this_issue_changes_nothing_and_teaches_nothing(
    slack: SlackClient, fake_slack: FakeSlack, db: Session, records: None
) -> None:
    post = "My MCP ID is 4012345. I took 71-621 and 71-622 in the beta but only got one voucher."
    slack.event(message_event(post, user="U0PRIYA", ts="1764100000.000100"), event_id="E1")
    fake_slack.posts(INTAKE)
    for user in (STRANGER, "U0PRIYA"):  # a stranger, and the candidate herself
        for choice in ("not-a-request", "unknown", "voucher-scope"):
            pressed = {
                "type": "static_select", "action_id": Action.NOT_THIS_ISSUE.value,
                "block_id": "b", "selected_option": {"value": f"1:{choice}"},
            }  # fmt: skip
            slack.press(pressed, user=user)
    said = fake_slack.wait_for("response_url", 6)
    assert all("for help-desk agents only" in render_text(c.args) for c in said)
    db.expire_all()
    assert db.scalars(select(IssueCorrection)).all() == []
