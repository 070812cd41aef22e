"""What a candidate wrote arrives as text, never as Slack markup: no broadcast, no mention, no
disguised link, no HTML, no unmasked code, in a public thread, an owner's DM, an agent's
ephemeral view and the owner's HTML digest."""

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.delivery.outbox import deliver_due
from bot.intake.flow import take_in
from bot.ops.runtime import Runtime
from bot.tickets.digests import build_digest, render_html
from bot.types import InboundMessage
from handlers.slack.mrkdwn import escape, to_plain
from handlers.slack.outbound import make_sender, render
from tests.slack.conftest import INTAKE, LEAD, SlackClient, message_event
from tests.slack.fake_slack import Call, FakeSlack, render_text

# As Slack delivers a candidate's message: their own `<` arrives as `&lt;`, a link they pasted
# with a label and a channel-wide mention as Slack's markup.
SLACK_TEXT = (
    'Prometric says "&lt;b&gt;html&lt;/b&gt; error occurred <!channel> '
    '<https://evil.example/login|sign in>" when I register for 71-621'
)
# As a mail client delivers it: the markup is just characters in the subject.
SUBJECT = "<!channel> <https://evil.example/login|sign in> <b>html</b> <@U01MARIA> in26 9f3d 7q2k"
LIVE_MARKUP = re.compile(r"<[!@#]|<https?:|<mailto:|<b>|<script")
BARE_BROADCAST = re.compile(r"@(?:channel|here|everyone)\b")


def texts_of(args: dict[str, Any]) -> list[str]:
    """Every string Slack would parse as mrkdwn in a message: `text` and each text object."""
    found = [str(args.get("text", ""))]
    blocks = args.get("blocks") or []
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    for block in blocks:
        objects = [block.get("text") or {}, *block.get("elements", [])]
        for obj in objects:
            if isinstance(obj, dict) and obj.get("type") == "mrkdwn":
                assert obj.get("verbatim") is True, obj  # no auto-links, no @word mentions
                found.append(obj["text"])
    return found


def assert_inert(calls: list[Call]) -> None:
    assert calls
    for call in calls:
        for text in texts_of(call.args):
            assert not LIVE_MARKUP.search(text), text
            assert not BARE_BROADCAST.search(text), text
            assert "9f3d" not in text.lower(), text


def test_candidate_markup_in_a_public_thread_arrives_as_text(
    slack: SlackClient, fake_slack: FakeSlack, records: None
) -> None:
    event = message_event(SLACK_TEXT, user="U0MARCO", ts="1764001000.000100")
    assert slack.event(event, event_id="EvMarkup").status_code == 200
    posts = fake_slack.posts(INTAKE)
    assert_inert(posts)
    shown = render_text(posts[0].args)
    # the quoted error is repeated as the candidate wrote it, readable and dead
    assert "<b>html</b> error occurred @\u2060channel sign in (https://evil.example/login)" in shown


def test_candidate_markup_in_an_owner_dm_and_an_agent_view_arrives_as_text(
    slack_settings: Settings,
    slack: SlackClient,
    fake_slack: FakeSlack,
    sessions: sessionmaker[Session],
    db: Session,
    records: None,
) -> None:
    message = InboundMessage(
        source="email",
        external_id="<markup-1@example.in>",
        sender_email="priya.raman@example.in",
        subject=SUBJECT,
        text='Someone registered 71-621 in my name, I did not. "<b>html</b> error occurred"',
        received_at=datetime.now(UTC),
    )
    with sessions.begin() as session:
        outcome = take_in(session, Runtime(slack_settings), message)
    escalated = next(t for t in outcome.tickets if t.action == "escalate")
    assert escalated.owner == "maria"
    deliver_due(sessions, {"slack": make_sender(slack_settings)})
    dms = fake_slack.posts("D01MARIA")
    assert_inert(dms)
    assert "<!channel> <https://evil.example/login|sign in> <b>html</b>" in render_text(dms[0].args)
    assert "****-7q2k" in render_text(dms[0].args)

    slack.command(f"ticket {escalated.ticket_id}", user=LEAD)
    [view] = fake_slack.wait_for("response_url")
    assert_inert([view])
    assert "Subject: <!channel> <https://evil.example/login|sign in>" in render_text(view.args)

    digest = build_digest(db, slack_settings.app, owner_id="maria", now=datetime.now(UTC))
    html = render_html(digest)
    assert "<b>html</b>" not in html and "<https://evil" not in html and "9f3d" not in html
    assert "&lt;!channel&gt; &lt;https://evil.example/login|sign in&gt; &lt;b&gt;html" in html


@pytest.mark.parametrize(
    ("written", "escaped"),
    [
        ("<!channel> now", "&lt;!channel&gt; now"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("ping <@U123> and <#C1|general>", "ping &lt;@U123&gt; and &lt;#C1|general&gt;"),
        ("<https://evil|sign in>", "&lt;https://evil|sign in&gt;"),
        ("Tom & Jerry <b>bold</b>", "Tom &amp; Jerry &lt;b&gt;bold&lt;/b&gt;"),
        ("already &lt; escaped", "already &amp;lt; escaped"),
        ("@channel @Here @everyone", "@\u2060channel @\u2060Here @\u2060everyone"),
        ("code IN26 9F3D 7Q2K", "code ****-7Q2K"),
    ],
)
def test_escape_shows_every_character_and_obeys_none(written: str, escaped: str) -> None:
    assert escape(written) == escaped


@pytest.mark.parametrize(
    ("delivered", "plain"),
    [
        ("&lt;b&gt;x&lt;/b&gt; &amp;lt;", "<b>x</b> &lt;"),
        ("<!channel> <!here> <!subteam^S1|@desk>", "@channel @here @desk"),
        ("<@U123> <@U123|maria> <#C1|general>", "@U123 @maria #general"),
        ("<mailto:priya@example.in|priya@example.in>", "priya@example.in"),
        ("<https://evil.example|sign in> <https://ok.example>", "sign in (https://evil.example) https://ok.example"),
    ],
)  # fmt: skip
def test_slack_markup_is_read_as_plain_text(delivered: str, plain: str) -> None:
    assert to_plain(delivered) == plain


def test_a_notification_line_is_escaped_too() -> None:
    text, blocks = render({"view": "answer", "text": "Hello <!here>, see <https://evil|here>"})
    assert text == "Hello &lt;!here&gt;, see &lt;https://evil|here&gt;"
    fallback, _ = render({"view": "digest", "text": "@channel TRI-3 <b>needs</b> you"})
    assert fallback == "@\u2060channel TRI-3 &lt;b&gt;needs&lt;/b&gt; you"
    plain, _ = render({"view": "", "text": "<!everyone> hi"})
    assert plain == "&lt;!everyone&gt; hi" and blocks[0]["text"]["verbatim"] is True
