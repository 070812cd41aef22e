"""Hostile Slack requests: forged or malformed button presses, forged users and oversized or
SQL-laden text are refused or handled on the server; nothing changes that should not."""

import json
import time
from urllib.parse import urlencode

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.models import Message, Ticket, TicketEvent
from handlers.slack.ids import Action
from tests.slack.conftest import DEV, LEAD, STRANGER, make_ticket, message_event
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import INTAKE, SlackClient

VALUES = st.one_of(
    st.sampled_from(["'; DROP TABLE tickets; --", "-1", "0", "99999999999999999999", "1 OR 1=1",
                     "", "null", "[]", "{}", "1e309", "\x00", "x" * 10_000]),
    st.text(max_size=60),
)  # fmt: skip


FRONT_LINE_MAY = {Action.ESCALATE, Action.SEND_ANSWER, Action.NOT_THIS_ISSUE}


def unchanged(db: Session, ticket_id: int) -> None:
    db.expire_all()
    ticket = db.get_one(Ticket, ticket_id)
    assert (ticket.owner, ticket.status) == ("lena", "escalated")
    assert db.scalar(select(func.count()).select_from(TicketEvent)) == 0


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(action=st.sampled_from(list(Action)), value=VALUES, user=st.sampled_from([DEV, STRANGER]))
def test_forged_button_values_change_nothing(
    slack: SlackClient, db: Session, action: Action, value: str, user: str
) -> None:
    # Any agent may escalate along the chain, send a drafted answer or relabel (the table in
    # bot/tickets/permissions.py); the rest of someone else's ticket is not theirs to touch.
    assume(not (user == DEV and action in FRONT_LINE_MAY))
    theirs = db.scalars(select(Ticket)).first() or make_ticket(
        db, owner="lena", team="registrations", status="escalated"
    )
    press = {"type": "button", "action_id": str(action), "value": value, "block_id": "b"}
    assert slack.press(press, user=user).status_code < 500
    forged = {**press, "value": str(theirs.id)}  # a real ticket the user may not touch
    assert slack.press(forged, user=user).status_code < 500
    unchanged(db, theirs.id)


def test_a_forged_user_id_without_slacks_signature_is_refused(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    theirs = make_ticket(db, owner="lena", team="registrations", status="escalated")
    press = {"type": "button", "action_id": Action.RESOLVE, "value": str(theirs.id)}
    # The payload claims the triage lead, but is not signed by Slack.
    assert slack.press(press, user=LEAD, signature="v0=" + "0" * 64).status_code == 401
    # Signed with a valid signature for another body: the body was altered after signing.
    body = urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": DEV}})})
    signature = slack.verifier.generate_signature(timestamp=str(int(time.time())), body=body)
    payload = {"type": "block_actions", "user": {"id": LEAD}, "actions": [press]}
    tampered = urlencode({"payload": json.dumps(payload)})
    assert (
        slack.post(tampered, "application/x-www-form-urlencoded", signature=signature).status_code
        == 401
    )
    unchanged(db, theirs.id)
    assert fake_slack.called("response_url") == []


def test_malformed_signed_payloads_are_not_server_errors(slack: SlackClient, db: Session) -> None:
    form = "application/x-www-form-urlencoded"
    null_actions = urlencode({"payload": json.dumps({"type": "block_actions", "actions": None})})
    bodies = ["payload=not-json", "payload=" + "%7B" * 5000, "", "a=b&c", "payload=%5B%5D"]
    for body in bodies:
        assert slack.post(body, form).status_code < 500, body[:40]
    for body in [*bodies, null_actions]:  # unsigned: refused before anything reads it
        assert slack.post(body, form, signature="v0=" + "0" * 64).status_code in (400, 401)
    assert slack.post("{not json", "application/json").status_code < 500
    assert db.scalar(select(func.count()).select_from(Ticket)) == 0


def test_oversized_sql_laden_intake_message_is_stored_once(
    slack: SlackClient, fake_slack: FakeSlack, db: Session
) -> None:
    text = "my voucher never came'); DELETE FROM tickets; --\x00 " + "z" * 200_000
    event = message_event(text, user="U0HOSTILE", ts="1764000999.000100", channel=INTAKE)
    assert slack.event(event, event_id="EvHOSTILE").status_code == 200
    assert slack.event(event, event_id="EvHOSTILE", retry_num=1).status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        db.expire_all()
        if db.scalar(select(func.count()).select_from(Message).where(Message.source == "slack")):
            break
        time.sleep(0.05)
    [stored] = db.scalars(select(Message).where(Message.source == "slack")).all()
    assert len(stored.body) == len(text) and "DELETE FROM tickets" in stored.body
    assert db.scalar(select(func.count()).select_from(Ticket)) >= 1
