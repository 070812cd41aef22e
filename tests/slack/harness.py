"""Driving the Slack app as Slack does: the ASGI app under uvicorn on a loopback port, and a
client that sends signed slash commands, interactive payloads and events to it. Used by the
tests and by `bench/slack_transcript.py`."""

import json
import socket
import threading
import time
from typing import Any
from urllib.parse import urlencode

import requests
import uvicorn
from slack_sdk.signature import SignatureVerifier

from tests.slack.fake_slack import FakeSlack

SECRET = "test-signing-secret"
AGENT = "U10AGENT"
INTAKE = "C0INTAKE"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """`triage serve`'s ASGI app under uvicorn in a thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Served":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class SlackClient:
    """Sends what Slack sends: signed slash commands, interactive payloads and events."""

    def __init__(self, base_url: str, fake: FakeSlack, secret: str = SECRET) -> None:
        self.url = base_url + "/slack/events"
        self.fake = fake
        self.verifier = SignatureVerifier(secret)
        self.triggers = 0

    def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        sig = signature or self.verifier.generate_signature(timestamp=ts, body=body)
        return requests.post(
            self.url,
            data=body.encode(),
            headers={
                "content-type": content_type,
                "x-slack-request-timestamp": ts,
                "x-slack-signature": sig,
                **(headers or {}),
            },
            timeout=10,
        )

    def command(
        self, text: str, *, user: str = AGENT, channel: str = "C0AGENTS", **kw: Any
    ) -> requests.Response:
        self.triggers += 1
        form = {
            "token": "legacy",
            "team_id": "T1",
            "channel_id": channel,
            "user_id": user,
            "command": "/triage",
            "text": text,
            "response_url": self.fake.response_url(f"cmd{self.triggers}"),
            "trigger_id": f"trigger.{self.triggers}.{time.time_ns()}",
        }
        return self.post(urlencode(form), "application/x-www-form-urlencoded", **kw)

    def press(
        self,
        action: dict[str, Any],
        *,
        user: str = AGENT,
        channel: str = INTAKE,
        **kw: Any,
    ) -> requests.Response:
        payload = {
            "type": "block_actions",
            "team": {"id": "T1"},
            "user": {"id": user},
            "api_app_id": "A1",
            "channel": {"id": channel},
            "container": {"type": "message", "channel_id": channel, "message_ts": "1.1"},
            "trigger_id": "t",
            "response_url": self.fake.response_url("press"),
            "actions": [action],
        }
        return self.post(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **kw
        )

    def event(
        self, event: dict[str, Any], *, event_id: str, retry_num: int | None = None
    ) -> requests.Response:
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": "T1",
                "api_app_id": "A1",
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "event": event,
            }
        )
        headers = (
            {"x-slack-retry-num": str(retry_num), "x-slack-retry-reason": "http_timeout"}
            if retry_num
            else {}
        )
        return self.post(body, "application/json", headers=headers)
