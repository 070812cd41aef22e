"""The triage lead's surge buttons (Make it a known issue, Merge into, Ignore) and the agents'
Answer all (a modal), translated into `bot.surges.decisions`, which checks who may decide and
carries every ticket change out through the action layer.

Each press is acknowledged at once; the work runs in a lazy listener and its outcome is said
ephemerally (a modal's, in a DM to the agent who sent it).
"""

import hashlib
import logging
from pathlib import Path
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.delivery.messages import Note, dump
from bot.delivery.outbox import enqueue
from bot.errors import UserError
from bot.store.models.base import utcnow
from bot.surges import decisions
from handlers.slack import blocks, core, surge_blocks
from handlers.slack.access import REFUSAL, Actor
from handlers.slack.deps import Deps
from handlers.slack.ids import Action, Block, View
from handlers.slack.mrkdwn import escape as esc
from handlers.slack.respond import Reply, run_reporting_errors

log = logging.getLogger("triage.slack")

DECISIONS = (
    Action.SURGE_MAKE_KNOWN,
    Action.SURGE_MERGE,
    Action.SURGE_MERGE_PICK,
    Action.SURGE_IGNORE,
)
MAX_DRAFT = 2500  # the draft shown in the ephemeral answer (the file has all of it)


def register(app: App, deps: Deps) -> None:
    directory = deps.directory

    def ack_only(ack: Ack) -> None:
        ack()

    def decide(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
        actor = directory.actor(body["user"]["id"])
        pressed = body["actions"][0]
        run_reporting_errors(
            respond, lambda: press(pressed, actor=actor, context=context, deps=deps)
        )

    for action_id in DECISIONS:
        app.action(action_id.value)(ack=ack_only, lazy=[decide])

    def open_answer(body: dict[str, Any], client: WebClient, respond: Respond,
                    context: BoltContext) -> None:  # fmt: skip
        actor = directory.actor(body["user"]["id"])
        if not actor.agent:
            respond(text=REFUSAL, response_type="ephemeral", replace_original=False)
            return
        try:
            surge_id = int(body["actions"][0]["value"])
            with context["db"].transaction() as session:
                surge = decisions.get(session, surge_id)
                count = len(decisions.tickets(session, surge))
                ref = f"SURGE-{surge.id}"
        except (KeyError, ValueError, UserError) as exc:
            respond(text=esc(str(exc)), response_type="ephemeral", replace_original=False)
            return
        client.views_open(
            trigger_id=body["trigger_id"], view=surge_blocks.answer_modal(surge_id, ref, count)
        )

    # views.open must come within 3 seconds of the press: done at once, it reads little
    app.action(Action.SURGE_ANSWER.value)(ack=ack_only, lazy=[open_answer])

    def check_answer(ack: Ack, view: dict[str, Any]) -> None:
        if not answer_text(view).strip():
            ack(response_action="errors",
                errors={Block.SURGE_ANSWER_TEXT.value: "Write the answer first."})  # fmt: skip
            return
        ack()

    def send_answers(body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
        if not answer_text(view).strip():
            return  # refused in the ack: the modal stays open with its error
        user = body["user"]["id"]
        actor = directory.actor(user)
        try:
            text = answer(view, actor=actor, context=context, deps=deps)
        except UserError as exc:
            text = str(exc)
        except Exception as exc:
            log.exception("surge answer failed")
            text = f"Sorry, sending the answers failed ({type(exc).__name__}); it has been logged."
        with context["db"].transaction() as session:
            enqueue(
                session, channel="slack", kind="note", recipient=user,
                payload=dump(Note(text=text)),
                dedupe_key=f"surge-answer-note:{view.get('id')}:{digest(answer_text(view))}",
            )  # fmt: skip
        deps.flush_outbox()

    app.view(View.SURGE_ANSWER.value)(ack=check_answer, lazy=[send_answers])


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def answer_text(view: dict[str, Any]) -> str:
    values = (view.get("state") or {}).get("values") or {}
    field = (values.get(Block.SURGE_ANSWER_TEXT.value) or {}).get(Block.SURGE_ANSWER_TEXT.value)
    return str((field or {}).get("value") or "")


def surge_of(pressed: dict[str, Any]) -> tuple[int, str | None]:
    """The surge a press is about, and the issue it names (merge)."""
    if pressed.get("type") == "static_select":
        value = pressed["selected_option"]["value"]
    else:
        value = pressed["value"]
    surge, _, issue = str(value).partition(":")
    return int(surge), issue or None


def press(pressed: dict[str, Any], *, actor: Actor, context: BoltContext, deps: Deps) -> Reply:
    if not actor.agent:
        return blocks.message(REFUSAL)
    try:
        surge_id, issue = surge_of(pressed)
        action = Action(pressed["action_id"])
    except (KeyError, ValueError):
        return blocks.message("That button no longer points at a surge.")
    config, now, who = deps.settings.app, utcnow(), actor.principal()
    catalogue = core.catalogue(deps.runtime)
    with context["db"].transaction() as session:
        surge = decisions.get(session, surge_id)
        if action is Action.SURGE_IGNORE:
            done = decisions.ignore(session, config, surge=surge, actor=who, now=now)
            reply = blocks.message(f"{done.ref} ignored: no more alerts about it.")
        elif action is Action.SURGE_MAKE_KNOWN:
            done = decisions.draft(
                session, config, surge=surge, actor=who, now=now,
                drafts_dir=Path(config.surges.drafts_dir), known=catalogue,
            )  # fmt: skip
            reply = drafted(done, surge.draft or "")
        else:
            if not issue:
                return blocks.message("Pick the issue to merge into.")
            done = decisions.merge(
                session, config, surge=surge, issue=issue, catalogue=catalogue, actor=who,
                now=now, records=core.records(session, deps.settings),
            )  # fmt: skip
            reply = blocks.message(
                f"{done.ref} merged into `{issue}`: {len(done.changed)} tickets relabelled and"
                " re-routed; their messages joined the labelled examples."
            )
    deps.flush_outbox()
    return reply


def drafted(done: decisions.Outcome, draft: str) -> Reply:
    shown = draft if len(draft) <= MAX_DRAFT else draft[:MAX_DRAFT] + "\n…"
    text = (
        f"{done.ref}: draft `{done.draft_id}` written to {done.path}. Review it in a pull request,"
        f" or on the server: `triage knowledge add {done.path}` (it relabels and re-routes the"
        " surge's tickets and retrains the matcher)."
    )
    return esc(text), [blocks.section(esc(text)), blocks.section(f"```{esc(shown)}```")]


def answer(view: dict[str, Any], *, actor: Actor, context: BoltContext, deps: Deps) -> str:
    """Send the modal's answer to every open ticket of the surge; what to tell the agent."""
    if not actor.agent:
        return REFUSAL
    try:
        surge_id = int(view["private_metadata"])
    except (KeyError, ValueError):
        return "That form no longer points at a surge."
    with context["db"].transaction() as session:
        done = decisions.answer_all(
            session, deps.settings.app, surge=decisions.get(session, surge_id),
            text=answer_text(view), actor=actor.principal(), now=utcnow(),
            records=core.records(session, deps.settings),
        )  # fmt: skip
    skipped = f" Skipped: {'; '.join(done.skipped)}." if done.skipped else ""
    return (
        f"{done.ref}: your answer is on its way to {len(done.changed)} candidates, each"
        f" privately ({', '.join(done.changed)}).{skipped}"
    )
