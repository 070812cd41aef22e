"""Block Kit for surges: the triage lead's alert with its buttons, the App Home section of open
surges, and the answer-all modal. Builders only (below the listeners, like `blocks`); what a
candidate wrote goes in through `esc`, codes are already masked by the core."""

from typing import Any

from handlers.slack.block_kit import Blocks, button, context, section
from handlers.slack.ids import Action, Block, View
from handlers.slack.mrkdwn import escape as esc

MAX_OPTIONS = 100  # Slack's limit for a static select


def _shared(data: dict[str, Any]) -> str:
    parts = [
        f"{label}: {esc(', '.join(map(str, data[key])))}"
        for key, label in (("exams", "exam"), ("providers", "provider"), ("regions", "region"))
        if data.get(key)
    ]
    return " · ".join(parts)


def alert(data: dict[str, Any]) -> tuple[str, Blocks]:
    """The surge alert (`SurgeAlert` as JSON): counts, what the tickets share, sample messages,
    and the lead's buttons while it is open."""
    ref, count = esc(data["ref"]), int(data["count"])
    status = str(data.get("status") or "open")
    if data.get("kind") == "rate":
        what = f"`{esc(data.get('issue'))}` far above its usual rate"
        if data.get("expected") is not None:
            what += f" (about {float(data['expected']):.1f} expected)"
    else:
        what = "a new problem the bot does not know"
    grew = f" (+{int(data['grew_by'])} since the first alert)" if data.get("grew_by") else ""
    fallback = f"{ref}: {count} tickets in {esc(data.get('window'))} look like one problem"
    blocks: Blocks = [
        section(
            f":ocean: *{ref}*: *{count} tickets* in {esc(data.get('window'))} look like {what}"
            f"{grew}"
        )
    ]
    shared = _shared(data)
    errors = [f"“{esc(e)}”" for e in data.get("errors") or []]
    if shared or errors:
        blocks.append(context(" · ".join(x for x in (shared, *errors) if x)))
    samples = data.get("samples") or []
    if samples:
        lines = [f"*{esc(s['ref'])}* {esc(s['text'])}" for s in samples]
        blocks.append(section("\n".join(f">{line}" for line in lines)))
    if status != "open":
        blocks.append(context(f"Decided: {esc(status)}"))
        return fallback, blocks
    value = str(data["surge_id"])
    suggested = data.get("suggested")
    elements: list[dict[str, Any]] = [
        button("Make it a known issue", Action.SURGE_MAKE_KNOWN, value, "primary"),
    ]
    if suggested:
        elements.append(
            button(f"Merge into {suggested}"[:75], Action.SURGE_MERGE, f"{value}:{suggested}")
        )
    issues = [i for i in data.get("catalogue") or [] if i != suggested][:MAX_OPTIONS]
    if issues:
        elements.append(
            {
                "type": "static_select",
                "action_id": Action.SURGE_MERGE_PICK.value,
                "placeholder": {"type": "plain_text", "text": "Merge into…"},
                "options": [
                    {"text": {"type": "plain_text", "text": i[:75]}, "value": f"{value}:{i}"}
                    for i in issues
                ],
            }
        )
    elements += [
        button("Ignore", Action.SURGE_IGNORE, value),
        button("Answer all", Action.SURGE_ANSWER, value),
    ]
    blocks.append(
        {
            "type": "actions",
            "block_id": f"{Block.SURGE_ACTIONS.value}:{value}",
            "elements": elements,
        }
    )
    return fallback, blocks


def home_section(surges: list[dict[str, Any]]) -> Blocks:
    """The lead's App Home: the open surges, one line each (empty when there are none)."""
    if not surges:
        return []
    lines = [
        f"*{esc(s['ref'])}* {esc(s['kind'])} · {int(s['count'])} tickets · "
        f"`{esc(s.get('issue') or s.get('suggested') or 'new problem')}`"
        + (f" · {_shared(s)}" if _shared(s) else "")
        for s in surges
    ]
    return [
        {**section("*Open surges*\n" + "\n".join(lines)), "block_id": Block.HOME_SURGES.value},
        {"type": "divider"},
    ]


def answer_modal(surge_id: int, ref: str, count: int) -> dict[str, Any]:
    """The modal an agent writes one answer in, for every open ticket of the surge."""
    return {
        "type": "modal",
        "callback_id": View.SURGE_ANSWER.value,
        "private_metadata": str(surge_id),
        "title": {"type": "plain_text", "text": "Answer the surge"},
        "submit": {"type": "plain_text", "text": "Send to all"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            context(
                f"{esc(ref)}: one answer to its {count} tickets, each sent privately to its"
                " candidate. Write what everyone may read: no record facts."
            ),
            {
                "type": "input",
                "block_id": Block.SURGE_ANSWER_TEXT.value,
                "label": {"type": "plain_text", "text": "Answer"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": Block.SURGE_ANSWER_TEXT.value,
                    "multiline": True,
                    "max_length": 3000,
                },
            },
        ],
    }
