"""Block Kit builders for what the core sends people unasked: an escalation, the SLA sweep's
summary, a digest, an answer in a candidate's thread. Each takes the outbox payload's data and
returns `(fallback_text, blocks)`.
"""

from typing import Any

from handlers.slack.block_kit import (
    UNKNOWN,
    Blocks,
    button,
    context,
    facts_text,
    section,
    ticket_id_of,
    ticket_ref,
    verify_button,
    when,
)
from handlers.slack.ids import Action, Block
from handlers.slack.mrkdwn import escape as esc


def escalation(data: dict[str, Any]) -> tuple[str, Blocks]:
    """An escalation DM to an owner: the ticket, why, the facts, and Acknowledge/Resolve/Reassign.

    `data`: `ticket_id`, `issue`, `priority`, `reason`, `level`, `candidate`, `facts` (lines),
    `summary`/`subject`, `sla_due_at`, `prefix`.
    """
    prefix = data.get("prefix", "TRI")
    ticket_id = data.get("ticket_id") or data.get("id")
    ref = ticket_ref(ticket_id, prefix)
    reason = esc(data.get("reason") or "escalated to you")
    issue = esc(data.get("issue") or UNKNOWN)
    fallback = f"{ref} escalated to you: {issue} ({reason})"
    blocks: Blocks = [
        section(
            f":rotating_light: *{ref}* `{issue}` · {esc(data.get('priority', 'normal'))} — {reason}"
        )
    ]
    about = data.get("summary") or data.get("subject")
    if about:
        # one quoted line per line written, so a newline cannot end the quote early
        blocks.append(section("\n".join(f">{esc(line)}" for line in str(about).splitlines())))
    level = str(data.get("level") or "")
    extra = [
        f"Candidate: {esc(data['candidate'])}" if data.get("candidate") else None,
        f"Escalation step {level}" if level.isdigit() else None,
        f"Resolution due: {esc(when(data['sla_due_at']))}" if data.get("sla_due_at") else None,
    ]
    if any(extra):
        blocks.append(context(" · ".join(e for e in extra if e)))
    facts = data.get("facts") or data.get("facts_summary") or []
    if isinstance(facts, dict):
        facts = [f"{k}: {v}" for k, v in facts.items()]
    if facts:
        blocks.append(section(facts_text(facts)))
    value = str(ticket_id)
    blocks.append(
        {
            "type": "actions",
            "block_id": f"{Block.ESCALATION_ACTIONS.value}:{value}",
            "elements": [
                button("Acknowledge", Action.ACKNOWLEDGE, value, "primary"),
                button("Resolve", Action.RESOLVE, value),
                *verify_button(data.get("identity"), value),
                {
                    "type": "users_select",
                    "action_id": Action.REASSIGN.value,
                    "placeholder": {"type": "plain_text", "text": "Reassign"},
                },
            ],
        }
    )
    return fallback, blocks


def sla_summary(data: dict[str, Any]) -> tuple[str, Blocks]:
    """One DM for many tickets that came due for a person in one SLA sweep (`SlaSummary` as
    JSON): the counts, the worst cases (most overdue first), and where their queue is."""
    total, overdue = int(data.get("total", 0)), int(data.get("overdue", 0))
    title = f"{total} tickets need you: {overdue} overdue"
    counts = [f"{overdue} overdue", f"{int(data.get('due_soon', 0))} due soon"] + [
        f"{int(n)} {esc(priority)}" for priority, n in (data.get("by_priority") or {}).items()
    ]
    lines = [
        f"• *{esc(case.get('ref') or '')}* `{esc(case.get('issue') or UNKNOWN)}` · "
        f"{esc(case.get('priority', 'normal'))} — {esc(case.get('target', ''))} "
        f"{esc(case.get('late', ''))}".rstrip()
        for case in data.get("worst") or []
    ]
    if data.get("more"):
        lines.append(f"… and {int(data['more'])} more")
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": f":rotating_light: {title}"}},
        context(" · ".join(counts)),
    ]
    if lines:
        blocks.append(section("*Most overdue first*\n" + "\n".join(lines)))
    blocks.append(context(f"Your queue: `{esc(data.get('command') or '/triage')} queue`"))
    return f"{title} (SLA sweep)", blocks


def digest(data: dict[str, Any]) -> tuple[str, Blocks]:
    """An owner's digest (`Digest` as JSON): counts, change, tickets by issue."""
    owner = data.get("owner_name") or data.get("owner", "")
    title = f"Triage digest for {owner}".strip() + (
        f", {data['local_date']}" if data.get("local_date") else ""
    )
    counts = data.get("counts") or {}
    fallback = f"{esc(title)}: {counts.get('open', 0)} open, {counts.get('breached', 0)} breached"
    blocks: Blocks = [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}}]
    if counts:
        blocks.append(
            context(" · ".join(f"{esc(k.replace('_', ' '))}: {esc(v)}" for k, v in counts.items()))
        )
    change = data.get("change") or {}
    if change.get("new") or change.get("resolved") or change.get("open_delta"):
        blocks.append(
            context(
                f"Since the last digest: {change.get('new', 0)} new, "
                f"{change.get('resolved', 0)} resolved, open {change.get('open_delta') or 0:+d}"
            )
        )
    for group in data.get("groups", []):
        lines = [digest_line(t) for t in group.get("tickets", [])]
        hidden = group.get("count", len(lines)) - len(lines)
        if hidden > 0:
            lines.append(f"… and {hidden} more")
        label = esc(group.get("label") or group.get("issue") or UNKNOWN)
        heading = f"*{label}* ({esc(group.get('count', len(lines)))})"
        blocks.append(section("\n".join([heading, *(f"• {line}" for line in lines)])))
    if not data.get("groups"):
        blocks.append(section("No open tickets."))
    return fallback, blocks[:50]


def digest_line(ticket: dict[str, Any] | str) -> str:
    if isinstance(ticket, str):
        return esc(ticket)
    state = ticket.get("sla_state", "")
    mark = "🔴 " if state == "breached" else ("🟠 " if state == "due soon" else "")
    subject = f"“{ticket['subject']}”" if ticket.get("subject") else None
    parts = [ticket.get("ref") or f"TRI-{ticket_id_of(ticket)}", ticket.get("age"), state,
             ticket.get("candidate"), subject, ticket.get("facts")]  # fmt: skip
    return mark + " · ".join(esc(p) for p in parts if p)


def answer(data: dict[str, Any]) -> tuple[str, Blocks]:
    """A drafted answer sent to the candidate (posted in their thread)."""
    text = esc(data.get("answer") or data.get("text") or "")
    return text, [section(text)]
