"""The HTTP edge of `triage serve`: a body over the cap is refused while it streams in (413), a
request without a well-formed fresh Slack signature is refused before its body is parsed (401),
a signed body that is not a Slack payload is a 400, and none of it leaves a traceback in the
log."""

import hmac
import io
import json
import logging
import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import Engine

from bot.config.settings import Settings
from bot.ops.logs import configure_logging
from handlers.slack.server import create_web_app
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import SECRET, Served, SlackClient

CAP = 512 * 1024
HUGE = 100 * 1024 * 1024
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
DEEP_JSON = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000
DEEP_FORM = "payload=" + quote("[" * 30_000 + "]" * 30_000)


class Edge:
    def __init__(self, served: Served, client: SlackClient, log: io.StringIO) -> None:
        self.served, self.client, self.log = served, client, log

    def raw(self, head: str, chunks: Iterator[bytes] = iter(())) -> tuple[int, int]:
        """Send a request over a plain socket, body chunk by chunk until the server answers;
        returns the status and how many body bytes went out before the answer."""
        sent = 0
        with socket.create_connection(("127.0.0.1", self.served.port), timeout=20) as sock:
            sock.sendall(head.encode("latin-1"))
            for chunk in chunks:
                if select.select([sock], [], [], 0)[0]:
                    break  # the server has answered (or closed): stop sending
                try:
                    sock.sendall(chunk)
                except OSError:  # the server closed the connection after answering
                    break
                sent += len(chunk)
            status_line = sock.makefile("rb").readline().decode()
        return int(status_line.split()[1]), sent

    def clean_log(self) -> str:
        text = self.log.getvalue()
        assert "Traceback" not in text and 'File "' not in text, text
        return text


@pytest.fixture
def edge(slack_settings: Settings, engine: Engine, fake_slack: FakeSlack) -> Iterator[Edge]:
    web = create_web_app(slack_settings, engine=engine, max_body=CAP)
    with Served(web) as served:
        # as `triage serve` does: every logger, uvicorn's included, through the one handler
        stream, root = io.StringIO(), logging.getLogger()
        level = root.level
        handler = configure_logging(slack_settings, stream=stream, level=logging.INFO)
        try:
            yield Edge(served, SlackClient(served.url, fake_slack), stream)
        finally:
            root.removeHandler(handler)
            root.setLevel(level)


def test_a_body_declared_over_the_cap_is_refused_before_it_is_sent(edge: Edge) -> None:
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {HUGE}\r\n\r\n"
    )
    status, sent = edge.raw(head)
    assert (status, sent) == (413, 0)
    assert "refused a Slack request" in edge.clean_log()


@pytest.mark.parametrize(
    "head",
    [
        "POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        "POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "GARBAGE\r\n\r\n",
    ],
)
def test_a_malformed_request_is_400(edge: Edge, head: str) -> None:
    assert edge.raw(head)[0] == 400
    edge.clean_log()


def test_a_streamed_body_is_refused_once_it_passes_the_cap(edge: Edge) -> None:
    """No length given: the server counts while reading and answers long before 100 MB."""
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"x" * 65536
    chunks = (b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(HUGE // len(piece)))
    status, sent = edge.raw(head, chunks)
    assert status == 413 and sent < HUGE // 4
    edge.clean_log()


def test_the_cap_is_configurable(
    slack_settings: Settings, engine: Engine, fake_slack: FakeSlack
) -> None:
    web = create_web_app(slack_settings, engine=engine, max_body=4096)
    with Served(web) as served:
        client = SlackClient(served.url, fake_slack)
        assert client.command("help").status_code == 200
        assert client.command("kb " + "voucher " * 600).status_code == 413


@pytest.mark.parametrize(
    "timestamp",
    [None, b"", b"abc", b"12.5", b"1e9", b"-5", b"+1700000000", "١٧٠٠".encode(), b"9" * 40],
)
def test_a_missing_or_malformed_timestamp_is_401(edge: Edge, timestamp: bytes | None) -> None:
    headers: dict[str, str | bytes] = {"content-type": JSON, "x-slack-signature": "v0=" + "0" * 64}
    if timestamp is not None:
        headers["x-slack-request-timestamp"] = timestamp
    response = requests.post(edge.client.url, data=b"{}", headers=headers, timeout=10)
    assert response.status_code == 401
    assert "timestamp" in response.json()["error"]
    edge.clean_log()


@pytest.mark.parametrize(
    "signature", [None, b"", b"v0=abc", b"v0=\xe9" + b"0" * 63, b"v1=" + b"0" * 64]
)
def test_a_missing_or_malformed_signature_is_401(edge: Edge, signature: bytes | None) -> None:
    headers: dict[str, str | bytes] = {
        "content-type": JSON,
        "x-slack-request-timestamp": str(int(time.time())),
    }
    if signature is not None:
        headers["x-slack-signature"] = signature
    response = requests.post(edge.client.url, data=b"{}", headers=headers, timeout=10)
    assert response.status_code == 401
    edge.clean_log()


@pytest.mark.parametrize("body", [DEEP_JSON, DEEP_OBJECT, DEEP_FORM, "{bad"])
def test_an_unsigned_body_is_never_parsed(edge: Edge, body: str) -> None:
    content_type = FORM if body.startswith("payload=") else JSON
    assert edge.client.post(body, content_type, signature="v0=" + "0" * 64).status_code == 401
    edge.clean_log()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (DEEP_JSON, JSON),
        (DEEP_OBJECT, JSON),
        (DEEP_FORM, FORM),
        ("{not json", JSON),
        ("[1, 2]", JSON),
        ("payload=%5B%5D", FORM),
        ("payload=not-json", FORM),
    ],
)
def test_a_signed_body_that_is_no_slack_payload_is_400(
    edge: Edge, body: str, content_type: str
) -> None:
    assert edge.client.post(body, content_type).status_code == 400
    edge.clean_log()


def test_a_body_that_is_not_utf8_is_400(edge: Edge) -> None:
    body = b'{"type": "event_callback", "x": "\xff\xfe"}'
    ts = str(int(time.time()))
    signature = (
        "v0=" + hmac.new(SECRET.encode(), b"v0:%s:%s" % (ts.encode(), body), "sha256").hexdigest()
    )
    headers = {
        "content-type": JSON,
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature,
    }
    assert requests.post(edge.client.url, data=body, headers=headers, timeout=10).status_code == 400
    edge.clean_log()


def test_signed_payloads_of_the_wrong_shape_are_400(edge: Edge) -> None:
    for payload in [
        {"type": "event_callback", "event": "x"},
        {"type": "event_callback", "event": [1]},
        {"type": "block_actions", "actions": "x", "user": {"id": "U1"}},
        {"type": "block_actions", "actions": [1], "user": {"id": "U1"}},
        {"type": "block_actions", "user": 5},
        {"type": "view_submission", "view": "x"},
        {"type": "event_callback", "event_id": "Ev1", "event": None},
    ]:
        assert edge.client.post(json.dumps(payload), JSON).status_code == 400, payload
    lean = {"type": "event_callback", "event_id": "Ev2", "event": {"type": "message"}}
    assert edge.client.post(json.dumps(lean), JSON).status_code == 200
    edge.clean_log()
