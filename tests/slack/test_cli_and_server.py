"""`triage serve` and `triage slack manifest` as an operator runs them; health; failures."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.config.settings import Settings
from bot.store.db import make_engine
from bot.store.models import Ticket
from bot.store.models.slack import InboundEvent
from handlers.slack.server import create_web_app
from tests.slack.conftest import ROOT, SECRET, message_event
from tests.slack.fake_slack import FakeSlack, shown
from tests.slack.harness import Served, SlackClient, free_port

TRIAGE = Path(sys.executable).with_name("triage")


def test_manifest_names_the_command_events_scopes_and_url(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit, match="0"):
        main(["--config", str(ROOT / "app.yaml"), "slack", "manifest"])
    manifest = yaml.safe_load(capsys.readouterr().out)
    url = "https://triage.desk.example.org/slack/events"
    [command] = manifest["features"]["slash_commands"]
    assert (command["command"], command["url"], command["should_escape"]) == ("/triage", url, True)
    events = manifest["settings"]["event_subscriptions"]
    assert events["request_url"] == url
    assert set(events["bot_events"]) == {
        "message.channels", "message.im", "app_mention", "app_home_opened",
    }  # fmt: skip
    assert manifest["settings"]["interactivity"] == {"is_enabled": True, "request_url": url}
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "commands", "im:write", "files:write", "usergroups:read"} <= scopes
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_serve_without_slack_secrets_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    result = subprocess.run(
        [str(TRIAGE), "--config", str(ROOT / "app.yaml"), "serve"],
        env={**env, "DATABASE_URL": f"sqlite:///{tmp_path}/t.db"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"
    ]


@pytest.mark.slow
def test_triage_serve_with_two_workers_answers_signed_requests(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/serve.db",
        "TRIAGE_KNOWLEDGE": str(ROOT / "knowledge"),
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake_slack.api_url,
    }
    command = [str(TRIAGE), "--config", str(ROOT / "app.yaml"), "serve", "--port", str(port)]
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen([*command, "--workers", "2"], env=env, cwd=tmp_path,
                                  stdout=log, stderr=log)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = requests.get(url + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.1)
        assert (health.status_code, health.json()["database"]) == (200, "reachable")
        slack = SlackClient(url, fake_slack)
        assert "/triage kb <words>" in shown(slack.command("help").json()["text"])
        assert slack.command("help", signature="v0=forged").status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_health_is_503_when_the_database_is_down(slack_settings: Settings) -> None:
    unreachable = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with Served(create_web_app(slack_settings, engine=unreachable)) as served:
        response = requests.get(served.url + "/healthz", timeout=10)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down"}


def broken_runtime() -> object:
    raise RuntimeError("knowledge base unreadable")


def test_failed_work_reaches_the_user_and_a_retry_can_still_succeed(
    slack_settings: Settings,
    fake_slack: FakeSlack,
    db: Session,
    sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    web = create_web_app(slack_settings, engine=db.get_bind(), runtime_factory=broken_runtime)
    event = message_event("my voucher never came", user="U0PRIYA", ts="1764009999.000100")
    with Served(web) as served:
        slack = SlackClient(served.url, fake_slack)
        slack.command("my voucher never came for 4012345")
        [response] = fake_slack.wait_for("response_url")
        assert "Sorry, that failed (RuntimeError); it has been logged." in response.args["text"]
        slack.event(event, event_id="EvBROKEN")
        [note] = fake_slack.wait_for("chat.postEphemeral")
        assert note.args["user"] == "U0PRIYA"
        assert "could not take this message in" in note.args["text"]
    assert "knowledge base unreadable" in caplog.text
    # the failed event left no claim behind, so Slack's retry is processed by a healthy app
    assert db.scalars(select(InboundEvent)).all() == []
    with Served(create_web_app(slack_settings, engine=db.get_bind())) as served:
        SlackClient(served.url, fake_slack).event(event, event_id="EvBROKEN", retry_num=1)
        fake_slack.posts("C0INTAKE")
    assert len(db.scalars(select(Ticket)).all()) == 1
