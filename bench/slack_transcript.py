"""Print a transcript of a scripted Slack session: what people sent and what the bot said.

Runs the real app (`triage serve`'s ASGI app under uvicorn on loopback) against the test suite's
fake Slack Web API, on a fresh SQLite database with the sample records, and prints every message
the bot posted, every ephemeral answer and the App Home it published, in order.

    python bench/slack_transcript.py
"""

import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config.settings import load_settings  # noqa: E402
from bot.delivery.outbox import deliver_due  # noqa: E402
from bot.records.importer import import_records  # noqa: E402
from bot.store.db import open_database, session_factory, transaction  # noqa: E402
from bot.store.models import Ticket  # noqa: E402
from bot.store.models.base import utcnow  # noqa: E402
from bot.tickets.digests import send_digest  # noqa: E402
from handlers.slack.ids import Action  # noqa: E402
from handlers.slack.outbound import make_sender  # noqa: E402
from handlers.slack.server import create_web_app  # noqa: E402
from tests.slack.fake_slack import FakeSlack, render_text  # noqa: E402
from tests.slack.harness import SECRET, Served, SlackClient  # noqa: E402

NAMES = {
    "U10AGENT": "Alex (agent)",
    "U05ANANYA": "Ananya (owner, India)",
    "U02DEV": "Dev (owner, vouchers)",
    "U0MARCO": "Marco (candidate)",
    "U0PRIYA": "Priya (candidate)",
}
CHANNELS = {"C0INTAKE": "#exam-help", "C0AGENTS": "#desk-agents"}


def where(channel: str) -> str:
    if channel.startswith("D"):
        return "DM " + NAMES.get("U" + channel[1:], channel)
    return CHANNELS.get(channel, channel)


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


class Transcript:
    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.seen = 0

    def say(self, who: str, place: str, text: str) -> None:
        print(f"\n> {NAMES.get(who, who)} in {place}:\n{indent(text)}")

    def bot(self, quiet: float = 0.5, timeout: float = 20.0) -> None:
        """Print what the bot did since the last call, once it has said something and then
        been quiet for a moment (its lazy work has settled)."""
        deadline = time.monotonic() + timeout
        count = len(self.fake.calls)
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = len(self.fake.calls)
            if now == count and self._said_something(now):
                break
            count = now
        calls = self.fake.calls[self.seen :]
        self.seen = len(self.fake.calls)
        for call in calls:
            args = call.args
            if "_failed" in args:
                continue
            if call.method == "chat.postMessage":
                thread = " (in thread)" if args.get("thread_ts") else ""
                print(f"\n< bot in {where(args['channel'])}{thread}:\n{indent(render_text(args))}")
            elif call.method == "response_url":
                print(f"\n< bot, only visible to the user:\n{indent(render_text(args))}")
            elif call.method == "files.completeUploadExternal":
                print(f"\n< bot uploaded a chart to {where(args.get('channel_id', ''))}")
            elif call.method == "views.publish":
                home = render_text({"blocks": args["view"]["blocks"]})
                print(f"\n< bot published the App Home of {NAMES.get(args['user_id'])}:")
                print(indent(home))

    def _said_something(self, upto: int) -> bool:
        shown = {
            "chat.postMessage",
            "response_url",
            "views.publish",
            "files.completeUploadExternal",
        }
        return any(c.method in shown for c in self.fake.calls[self.seen : upto])


def main() -> None:
    logging.basicConfig(level=logging.ERROR)  # the transcript, not the server's log
    fake = FakeSlack().start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            config_path=ROOT / "app.yaml",
            DATABASE_URL=f"sqlite:///{tmp}/transcript.db",
            TRIAGE_KNOWLEDGE=ROOT / "knowledge",
            SLACK_BOT_TOKEN="xoxb-demo",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.api_url,
        )
        engine = open_database(settings.database_url)
        sessions = session_factory(engine)
        import_records(sessions, [ROOT / "samples" / "records"])
        with Served(create_web_app(settings, engine=engine)) as served:
            run(SlackClient(served.url, fake), Transcript(fake), sessions, settings)
        engine.dispose()
    fake.stop()


def run(slack: SlackClient, out: Transcript, sessions, settings) -> None:  # type: ignore[no-untyped-def]
    def post(user: str, text: str, ts: str, channel: str = "C0INTAKE") -> None:
        out.say(user, where(channel), text)
        event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
                 "channel_type": "im" if channel.startswith("D") else "channel"}  # fmt: skip
        slack.event(event, event_id=f"Ev{ts}")
        out.bot()

    def command(user: str, text: str) -> None:
        out.say(user, "#desk-agents", f"/triage {text}")
        response = slack.command(text, user=user)
        if response.content and response.headers.get("content-type", "").startswith(
            "application/json"
        ):
            print(f"\n< bot, only visible to the user:\n{indent(response.json()['text'])}")
        out.bot()

    def press(user: str, action: Action, ticket_id: int, label: str) -> None:
        out.say(user, "Slack", f"[presses {label} on TRI-{ticket_id}]")
        slack.press(
            {"type": "button", "action_id": action.value, "value": str(ticket_id)}, user=user
        )
        out.bot()

    def newest(query: Callable[[Ticket], bool]) -> int:
        with sessions() as session:
            return max(t.id for t in session.query(Ticket).all() if query(t))

    retake = (
        "I failed 71-623 in April and got the retake invitation two weeks ago, but Prometric's "
        "site says policy allows only one registration per beta exam and tells me to phone. "
        "Can I take the retake at Pearson VUE instead?"
    )
    post("U0MARCO", retake, "1764000000.000100")
    marco = newest(lambda t: t.candidate_mcp_id == "5134567")
    post("U0PRIYA", "My MCP ID is 4012345. I took 71-621 and 71-622 in the beta but only got "
         "one voucher.", "1764000100.000100")  # fmt: skip
    priya = newest(lambda t: t.candidate_mcp_id == "4012345")
    command("U10AGENT", "help")
    command("U10AGENT", "records 4012345")
    press("U10AGENT", Action.SEND_ANSWER, marco, "Send answer")
    press("U02DEV", Action.RESOLVE, priya, "Resolve")
    press("U05ANANYA", Action.ACKNOWLEDGE, priya, "Acknowledge")
    command("U05ANANYA", "queue mine")
    command("U10AGENT", "kb cannot register retake")
    with transaction(sessions) as session:
        send_digest(session, settings.app, owner_id="ananya", now=utcnow(), channels=["slack"])
    deliver_due(sessions, {"slack": make_sender(settings)})
    out.say("triage worker", "the digest schedule", "[sends Ananya's digest]")
    out.bot()
    out.say("U05ANANYA", "Slack", "[opens the bot's Home tab]")
    slack.event({"type": "app_home_opened", "user": "U05ANANYA", "tab": "home"}, event_id="EvHome")
    out.bot()
    press("U05ANANYA", Action.RESOLVE, priya, "Resolve")


if __name__ == "__main__":
    main()
