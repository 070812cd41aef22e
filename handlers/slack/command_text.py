"""Reading the text after `/triage`: which subcommand, with which arguments (pure)."""

import re
from dataclasses import dataclass

from bot.tickets.queue import VIEWS

USAGE = {
    "open": "/triage <message> for <MCP id|email>",
    "ticket": "/triage ticket <id>",
    "queue": "/triage queue [mine|open|escalated|breached]",
    "records": "/triage records <MCP id|email>",
    "assign": "/triage assign <id> [@user]",
    "escalate": "/triage escalate <id> [@user] [reason]",
    "resolve": "/triage resolve <id> [note]",
    "reopen": "/triage reopen <id> [reason]",
    "kb": "/triage kb <words>",
    "help": "/triage help",
}

_TICKET_ID = re.compile(r"^(?:[A-Za-z]+-|#)?(\d{1,9})$")
# Slack escapes mentions in slash commands as <@U123|name> (with should_escape) or <@U123>.
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_FOR = re.compile(
    r"^(?P<text>.+?)\s+for\s+(?:<mailto:[^|>]+\|)?(?P<who>\d{4,10}|[^\s@<>|]+@[^\s@<>|]+?\.[^\s@<>|]+)>?\s*$",
    re.IGNORECASE | re.DOTALL,
)


class UsageError(ValueError):
    """Bad or missing arguments; the message is the usage line to show."""


@dataclass(frozen=True)
class Command:
    name: str
    ticket_id: int | None = None
    user: str | None = None  # a Slack user id named with @
    text: str = ""  # the message, reason, note, query or view
    candidate: str | None = None


def usage(name: str) -> str:
    return f"Usage: `{USAGE[name]}` (see `/triage help`)"


def help_text(command: str = "/triage") -> str:
    lines = [f"• `{line.replace('/triage', command, 1)}`" for line in USAGE.values()]
    return "*Triage commands* (answers are visible only to you):\n" + "\n".join(lines)


def parse(text: str) -> Command:
    """The command in `text`; raises UsageError with the usage line when it is malformed."""
    text = " ".join(text.strip().split(" ")).strip()
    word, _, rest = text.partition(" ")
    rest = rest.strip()
    name = word.lower()
    if name in ("", "help"):
        return Command("help")
    if name in ("ticket", "show"):
        return Command("ticket", ticket_id=_ticket_id(rest, "ticket"))
    if name == "queue":
        view = rest.lower() or "mine"
        if view not in VIEWS:
            raise UsageError(usage("queue"))
        return Command("queue", text=view)
    if name == "records":
        if not rest or " " in rest:
            raise UsageError(usage("records"))
        return Command("records", candidate=_unwrap_mailto(rest))
    if name in ("assign", "escalate", "resolve", "reopen"):
        first, _, tail = rest.partition(" ")
        ticket_id = _ticket_id(first, name)
        user, tail = _leading_mention(tail.strip())
        if name in ("resolve", "reopen") and user:
            raise UsageError(usage(name))
        if name == "assign" and tail:
            raise UsageError(usage("assign"))
        return Command(name, ticket_id=ticket_id, user=user, text=tail)
    if name == "kb":
        if not rest:
            raise UsageError(usage("kb"))
        return Command("kb", text=rest)
    match = _FOR.match(text)
    if not match:
        raise UsageError(usage("open"))
    return Command("open", text=match["text"].strip(), candidate=match["who"])


def _ticket_id(value: str, name: str) -> int:
    match = _TICKET_ID.match(value.strip())
    if not match:
        raise UsageError(usage(name))
    return int(match[1])


def _leading_mention(text: str) -> tuple[str | None, str]:
    first, _, tail = text.partition(" ")
    match = _MENTION.match(first)
    if match:
        return match[1], tail.strip()
    return None, text


def _unwrap_mailto(value: str) -> str:
    # Slack links email addresses: <mailto:a@b.org|a@b.org>
    match = re.match(r"^<mailto:([^|>]+)(?:\|[^>]*)?>$", value)
    return match[1] if match else value
