"""Block Kit's pieces, shared by every builder: sections and context lines of escaped mrkdwn,
buttons, ticket references and times.

`section` and `context` take mrkdwn the builders composed; every value from the data goes in
through `esc` (`mrkdwn.escape`), so nothing a candidate wrote can mention, broadcast or link.
Text objects are `verbatim`: Slack does not turn bare URLs, channel names or @words into links.
"""

from datetime import UTC, datetime
from typing import Any

from handlers.slack.ids import Action
from handlers.slack.mrkdwn import escape as esc

Blocks = list[dict[str, Any]]
MAX_SECTION = 2900  # Slack refuses a section text over 3000 characters
UNKNOWN = "unknown"


def _text(value: str) -> str:
    return value if len(value) <= MAX_SECTION else value[: MAX_SECTION - 1] + "…"


def _mrkdwn(markdown: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _text(markdown), "verbatim": True}


def section(markdown: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(markdown)}


def context(markdown: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(markdown)]}


def button(label: str, action: Action, value: str, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action.value,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def ticket_ref(ticket_id: Any, prefix: str = "TRI") -> str:
    return esc(f"{prefix}-{ticket_id}")


def when(value: str) -> str:
    """An ISO timestamp as `2026-12-07 08:30 UTC`; anything else unchanged."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def message(text: str) -> tuple[str, Blocks]:
    """A plain-text answer (escaped; backticks and asterisks keep their formatting)."""
    return esc(text), [section(esc(text))]


def ticket_id_of(ticket: dict[str, Any]) -> Any:
    return ticket.get("id") or ticket.get("ticket_id")


def facts_text(lines: list[Any]) -> str:
    return "*Facts*\n" + "\n".join(f"• {esc(line)}" for line in lines)


def verify_button(identity: str | None, value: str) -> list[dict[str, Any]]:
    """The Verify identity button, for a ticket whose writer is not proven to be whom they name."""
    if identity != "unverified":
        return []
    return [button("Verify identity", Action.VERIFY_IDENTITY, value)]
