"""Logs carry no personal data at any level: a whole flow run at DEBUG (a candidate's Slack
message, an agent looking at their records and ticket, an email taken in and the owner's DM
delivered, a request with an address in its query string) leaves no name, address, MCP ID or
code in the log, though Slack's client and bolt log their bodies at DEBUG."""

import io
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.delivery.outbox import deliver_due
from bot.intake.flow import take_in
from bot.ops.logs import QUIET_LIBRARIES, configure_logging
from bot.ops.runtime import Runtime
from bot.store.models import Ticket
from bot.types import InboundMessage
from handlers.slack.outbound import make_sender
from tests.slack.conftest import AGENT, INTAKE, LEAD, message_event
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import Served, SlackClient

NAME, EMAIL, MCP_ID, CODE = "Priya Raman", "priya.raman@example.in", "4012345", "IN26-9F3D-7Q2K"
PERSONAL = [NAME, "Priya", "Raman", EMAIL, "priya.r@work.example.com", MCP_ID, CODE, "9F3D"]


@pytest.fixture
def debug_log(slack_settings: Settings, served: Served) -> Iterator[io.StringIO]:
    """Everything logged at DEBUG, as `triage serve` with LOG_LEVEL=DEBUG would print it."""
    stream, root = io.StringIO(), logging.getLogger()
    level = root.level
    handler = configure_logging(slack_settings, stream=stream, level=logging.DEBUG)
    access = logging.getLogger("uvicorn.access")
    access_level = access.level
    access.setLevel(logging.INFO)  # the harness runs uvicorn with its access log on
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        access.setLevel(access_level)
        for name in QUIET_LIBRARIES:
            logging.getLogger(name).setLevel(logging.NOTSET)


def test_a_flow_at_debug_logs_no_personal_data(
    debug_log: io.StringIO,
    slack_settings: Settings,
    slack: SlackClient,
    served: Served,
    fake_slack: FakeSlack,
    sessions: sessionmaker[Session],
    db: Session,
    records: None,
) -> None:
    fake_slack.user_emails["U0PRIYA"] = EMAIL
    text = (
        f"Hi, {NAME} here, MCP ID {MCP_ID}. Someone registered 71-621 at Prometric in my name "
        f"and my voucher code {CODE.lower()} was refused. Reach me at {EMAIL}."
    )
    event = message_event(text, user="U0PRIYA", ts="1764002000.000100")
    assert slack.event(event, event_id="EvPrivate").status_code == 200
    fake_slack.posts(INTAKE)
    slack.command(f"records {MCP_ID}", user=AGENT)
    [shown] = fake_slack.wait_for("response_url")
    assert NAME in shown.args["text"] or NAME in str(shown.args.get("blocks"))
    ticket = db.scalars(select(Ticket).order_by(Ticket.id)).first()
    assert ticket is not None and ticket.candidate_mcp_id == MCP_ID
    slack.command(f"ticket {ticket.id}", user=LEAD)
    fake_slack.wait_for("response_url", 2)

    mail = InboundMessage(
        source="email",
        external_id="<private-1@example.in>",
        sender_email=EMAIL,
        sender_name=NAME,
        subject=f"Voucher {CODE} refused",
        text=f"{text} Thanks, {NAME}",
        received_at=datetime.now(UTC),
    )
    with sessions.begin() as session:
        take_in(session, Runtime(slack_settings), mail)
    deliver_due(sessions, {"slack": make_sender(slack_settings)})
    assert fake_slack.called("chat.postMessage")
    requests.get(f"{served.url}/healthz?email={EMAIL}&mcp={MCP_ID}", timeout=5)

    output = debug_log.getvalue()
    assert "message taken in" in output and "[query hidden]" in output  # the log did run
    for value in PERSONAL:
        assert not re.search(re.escape(value), output, re.IGNORECASE), value
