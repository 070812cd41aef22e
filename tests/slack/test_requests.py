"""Signed HTTP into the running app: signatures, health, help, usage, refusals."""

import time

import requests

from tests.slack.conftest import AGENT, STRANGER, Served, SlackClient
from tests.slack.fake_slack import FakeSlack, shown


def test_forged_signature_is_refused(slack: SlackClient, fake_slack: FakeSlack) -> None:
    response = slack.command("help", signature="v0=" + "0" * 64)
    assert response.status_code == 401
    assert not fake_slack.called("response_url")


def test_request_signed_with_another_secret_is_refused(
    served: Served, fake_slack: FakeSlack
) -> None:
    assert SlackClient(served.url, fake_slack, secret="wrong").command("help").status_code == 401


def test_stale_timestamp_is_refused(slack: SlackClient) -> None:
    assert slack.command("help", timestamp=int(time.time()) - 6 * 60).status_code == 401


def test_health_reports_the_database(served: Served) -> None:
    response = requests.get(served.url + "/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json()["database"] == "reachable"


def test_help_is_answered_in_the_acknowledgement(slack: SlackClient) -> None:
    response = slack.command("help")
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "/triage queue [mine|open|escalated|breached]" in shown(body["text"])


def test_bad_arguments_get_the_usage_line(slack: SlackClient) -> None:
    for text, usage in [
        ("ticket abc", "/triage ticket <id>"),
        ("queue everything", "/triage queue [mine|open|escalated|breached]"),
        ("resolve", "/triage resolve <id> [note]"),
        ("frobnicate", "/triage <message> for <MCP id|email>"),
    ]:
        body = slack.command(text).json()
        assert usage in shown(body["text"]), text


def test_unauthorised_user_is_refused_politely(slack: SlackClient, fake_slack: FakeSlack) -> None:
    assert slack.command("queue open", user=STRANGER).status_code == 200
    [reply] = fake_slack.wait_for("response_url")
    assert "for help-desk agents only" in reply.args["text"]


def test_member_of_the_agent_user_group_is_an_agent(
    slack: SlackClient, fake_slack: FakeSlack
) -> None:
    fake_slack.usergroups["S0AGENTS"] = ["U55GROUPIE"]
    slack.command("queue open", user="U55GROUPIE")
    [reply] = fake_slack.wait_for("response_url")
    assert "Queue: open" in reply.args["text"]
    assert fake_slack.called("usergroups.users.list")[0].args["usergroup"] == "S0AGENTS"


def test_agent_is_known_from_the_config(slack: SlackClient, fake_slack: FakeSlack) -> None:
    slack.command("queue open", user=AGENT)
    [reply] = fake_slack.wait_for("response_url")
    assert "Queue: open" in reply.args["text"]


def test_member_of_an_agent_channel_is_an_agent(slack: SlackClient, fake_slack: FakeSlack) -> None:
    fake_slack.channel_members["C0AGENTS"] = ["U56CHANNEL"]
    slack.command("queue open", user="U56CHANNEL")
    [reply] = fake_slack.wait_for("response_url")
    assert "Queue: open" in reply.args["text"]


def test_agent_membership_is_cached_briefly(slack: SlackClient, fake_slack: FakeSlack) -> None:
    for n in (1, 2, 3):
        slack.command("queue open", user="U99NOBODY")
        fake_slack.wait_for("response_url", n)
    assert len(fake_slack.called("usergroups.users.list")) == 1
