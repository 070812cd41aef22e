"""Block Kit builders: every message and view the app shows is built here, from plain data.

Builders take JSON-safe dicts (the outbox payload's `data`, or what a handler read from the core)
and return `(fallback_text, blocks)`. Record facts appear only when the caller says the place is
private (a DM or an ephemeral message to an agent).

`section` and `context` take mrkdwn the builders composed; every value from the data goes in
through `esc` (`mrkdwn.escape`), so nothing a candidate wrote can mention, broadcast or link.
Text objects are `verbatim`: Slack does not turn bare URLs, channel names or @words into links.
"""

from typing import Any

from handlers.slack.block_kit import (
    MAX_SECTION,
    UNKNOWN,
    Blocks,
    button,
    context,
    facts_text,
    message,
    section,
    ticket_id_of,
    ticket_ref,
    verify_button,
    when,
)
from handlers.slack.ids import Action, Block
from handlers.slack.mrkdwn import escape as esc

# The pieces other modules take from here with the builders.
__all__ = [
    "MAX_SECTION",
    "Blocks",
    "button",
    "context",
    "esc",
    "message",
    "section",
    "ticket_ref",
    "when",
]


def _entity_line(entities: dict[str, Any]) -> str:
    parts = [
        f"{esc(kind.replace('_', ' '))}: {', '.join(esc(v) for v in values)}"
        for kind, values in entities.items()
        if values
    ]
    return "; ".join(parts) or "none found"


def _ticket_line(ticket: dict[str, Any], prefix: str) -> str:
    owner = f" → *{esc(ticket['owner'])}*" if ticket.get("owner") else ""
    rule = f" (rule `{esc(ticket['routing_rule'])}`)" if ticket.get("routing_rule") else ""
    title = f" {esc(ticket['title'])}" if ticket.get("title") else ""
    return (
        f"*{ticket_ref(ticket_id_of(ticket), prefix)}* "
        f"`{esc(ticket.get('issue') or UNKNOWN)}`{title} · "
        f"{esc(ticket.get('status', 'new'))} · {esc(ticket.get('priority', 'normal'))} · "
        f"{esc(ticket.get('action') or ticket.get('decision') or 'none')}{owner}{rule}"
    )


def ticket_actions(
    ticket_id: int,
    catalogue: list[str],
    current: str | None,
    status: str | None = None,
    *,
    identity: str | None = None,
) -> dict[str, Any]:
    """Assign to me, Escalate, Resolve, Send answer and the Not-this-issue menu for one ticket
    (and Verify identity when its writer is not proven to be the candidate they name; Reopen
    instead of the others once it is resolved or closed)."""
    value = str(ticket_id)
    choices = [i for i in [*catalogue, UNKNOWN] if i != (current or UNKNOWN)][:100]
    menu = {
        "type": "static_select",
        "action_id": Action.NOT_THIS_ISSUE.value,
        "placeholder": {"type": "plain_text", "text": "Not this issue"},
        "options": [
            {"text": {"type": "plain_text", "text": issue}, "value": f"{value}:{issue}"}
            for issue in choices
        ],
    }
    if status in ("resolved", "closed"):
        return {
            "type": "actions",
            "block_id": f"{Block.TICKET_ACTIONS.value}:{value}",
            "elements": [button("Reopen", Action.REOPEN, value), menu],
        }
    return {
        "type": "actions",
        "block_id": f"{Block.TICKET_ACTIONS.value}:{value}",
        "elements": [
            button("Assign to me", Action.ASSIGN_TO_ME, value, "primary"),
            button("Escalate", Action.ESCALATE, value),
            button("Resolve", Action.RESOLVE, value),
            button("Send answer", Action.SEND_ANSWER, value),
            *verify_button(identity, value),
            menu,
        ],
    }


def triage_result(data: dict[str, Any], *, private: bool) -> tuple[str, Blocks]:
    """What the bot understood of a message: issues, entities, decision, (facts), buttons.

    `data`: `tickets` [{id, issue, status, priority, action, owner, routing_rule, answer,
    facts_summary}], `issues`, `entities`, `candidate`, `catalogue`, `prefix`, `note`.
    """
    prefix = data.get("prefix", "TRI")
    tickets: list[dict[str, Any]] = data.get("tickets", [])
    issues = data.get("issues") or [t.get("issue") for t in tickets if t.get("issue")]
    fallback = f"Understood: {', '.join(esc(i) for i in issues) or UNKNOWN}" + (
        f" — {', '.join(ticket_ref(t['id'], prefix) for t in tickets)}" if tickets else ""
    )
    understood = ", ".join(f"`{esc(i)}`" for i in issues) or UNKNOWN
    blocks: Blocks = [section(f"*Understood:* {understood}")]
    if data.get("note"):
        blocks.append(context(esc(data["note"])))
    blocks.append(context(f"Entities: {_entity_line(data.get('entities', {}))}"))
    if private and data.get("candidate"):
        blocks.append(context(f"Candidate: {esc(data['candidate'])}"))
    for ticket in tickets:
        blocks.append(section(_ticket_line(ticket, prefix)))
        if private and ticket.get("facts_summary"):
            blocks.append(section(facts_text(ticket["facts_summary"])))
        if ticket.get("answer"):
            blocks.append(
                section("*Drafted answer*\n" + esc(ticket["answer"]))
                if private
                else context("An answer is drafted: an agent can send it with *Send answer*.")
            )
        actions = ticket_actions(
            ticket_id_of(ticket),
            data.get("catalogue", []),
            ticket.get("issue"),
            identity=ticket.get("identity"),
        )
        blocks.append(actions)
    if not tickets:
        blocks.append(context("No ticket opened."))
    return fallback, blocks


def ticket_detail(data: dict[str, Any], *, private: bool) -> tuple[str, Blocks]:
    """One ticket: its state, owner, SLA, facts (private only), answer and audit trail."""
    prefix = data.get("prefix", "TRI")
    ref = ticket_ref(data["id"], prefix)
    fallback = f"{ref}: {esc(data.get('issue') or UNKNOWN)} ({esc(data.get('status'))})"
    blocks: Blocks = [section(_ticket_line(data, prefix))]
    details = [f"Subject: {esc(data['subject'])}" if data.get("subject") else None]
    details.append(
        f"Candidate: {esc(data['candidate'])}" if private and data.get("candidate") else None
    )
    details.append(f"SLA due: {esc(data['sla_due_at'])}" if data.get("sla_due_at") else None)
    details.append(f"Opened: {esc(data['created_at'])}" if data.get("created_at") else None)
    if any(details):
        blocks.append(context(" · ".join(d for d in details if d)))
    if private and data.get("facts_summary"):
        blocks.append(section(facts_text(data["facts_summary"])))
    if private and data.get("answer"):
        blocks.append(section("*Drafted answer*\n" + esc(data["answer"])))
    if data.get("events"):
        trail = "\n".join(
            f"{esc(e['at'])} {esc(e['actor'])}: {esc(e['action'])}" for e in data["events"][-8:]
        )
        blocks.append(context(trail))
    actions = ticket_actions(
        data["id"], data.get("catalogue", []), data.get("issue"), data.get("status"),
        identity=data.get("identity"),
    )  # fmt: skip
    blocks.append(actions)
    return fallback, blocks


def queue_list(
    title: str, entries: list[dict[str, Any]], prefix: str = "TRI"
) -> tuple[str, Blocks]:
    """A list of tickets, one line each (breached marked)."""
    title = esc(title)
    if not entries:
        return f"{title}: nothing here.", [section(f"*{title}*: nothing here.")]
    lines = [
        ("🔴 " if entry.get("breached") else "")
        + _ticket_line(entry, prefix)
        + (f" · due {esc(entry['sla_due_at'])}" if entry.get("sla_due_at") else "")
        for entry in entries
    ]
    return f"{title}: {len(entries)} tickets", [
        section(f"*{title}* ({len(entries)})"),
        section("\n".join(lines)),
    ]


def kb_results(query: str, hits: list[dict[str, Any]]) -> tuple[str, Blocks]:
    query = esc(query)
    if not hits:
        return f"No known issue matches “{query}”.", [section(f"No known issue matches “{query}”.")]
    lines = [
        f"*`{esc(hit['id'])}`* {esc(hit['title'])} ({hit['score']:.0f})"
        + (f"\n>{esc(hit['example'])}" if hit.get("example") else "")
        for hit in hits
    ]
    return f"{len(hits)} known issues match “{query}”", [
        section(f"Known issues matching “{query}”"),
        section("\n".join(lines)),
    ]


def records(data: dict[str, Any]) -> tuple[str, Blocks]:
    """A candidate's records summary (only ever sent ephemerally or by DM).

    `data`: `title`, `contact`, `checks` [{name, outcome, summary}]."""
    title = esc(data.get("title") or "Records")
    lines = [esc(data["contact"])] if data.get("contact") else []
    lines += [
        f"*{esc(c['name'])}* ({esc(c['outcome'])}): {esc(c['summary'])}"
        for c in data.get("checks") or []
    ]
    return title, [section(f"*{title}*"), section("\n".join(lines) or "no records")]


def home(data: dict[str, Any]) -> dict[str, Any]:
    """The App Home view: the user's queue, counts per issue, the latest digest."""
    prefix = data.get("prefix", "TRI")
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Your triage queue"}},
    ]
    entries = data.get("queue", [])
    if entries:
        lines = [("🔴 " if e.get("breached") else "") + _ticket_line(e, prefix) for e in entries]
        blocks.append({**section("\n".join(lines)), "block_id": Block.HOME_QUEUE.value})
    else:
        blocks.append({**section("Nothing in your queue."), "block_id": Block.HOME_QUEUE.value})
    counts = data.get("counts") or {}
    if counts:
        blocks.append({"type": "divider"})
        blocks.append(
            {
                **section(
                    "*Open tickets per issue*\n"
                    + "\n".join(f"`{esc(k)}`: {esc(v)}" for k, v in counts.items())
                ),
                "block_id": Block.HOME_COUNTS.value,
            }
        )
    if data.get("digest"):
        blocks.append({"type": "divider"})
        blocks.append(
            {**section("*Latest digest*\n" + data["digest"]), "block_id": Block.HOME_DIGEST.value}
        )
    return {"type": "home", "blocks": blocks[:100]}
