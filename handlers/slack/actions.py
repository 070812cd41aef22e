"""Buttons and menus on ticket messages and escalation DMs.

Each press is acknowledged at once; the lazy listener checks, on the server, that the presser may
act on that ticket (a forged payload naming someone else's ticket is refused), then calls the core.
"""

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.matching.corrections import UNKNOWN, correct_ticket
from bot.store.models.tickets import Ticket
from handlers.slack import blocks, core
from handlers.slack.access import REFUSAL, Act, Actor, may, refusal
from handlers.slack.app import Deps
from handlers.slack.commands import Reply, owner_of, run_reporting_errors
from handlers.slack.ids import Action

log = logging.getLogger("triage.slack")

ACTS = {
    Action.ASSIGN_TO_ME: Act.ASSIGN,
    Action.ESCALATE: Act.ESCALATE,
    Action.RESOLVE: Act.RESOLVE,
    Action.SEND_ANSWER: Act.SEND_ANSWER,
    Action.NOT_THIS_ISSUE: Act.CORRECT,
    Action.ACKNOWLEDGE: Act.ACKNOWLEDGE,
    Action.REASSIGN: Act.REASSIGN,
}


def register(app: App, deps: Deps) -> None:
    directory = deps.directory

    def ack_only(ack: Ack) -> None:
        ack()

    def lazy_for(action: Action) -> Callable[..., None]:
        def work(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
            actor = directory.actor(body["user"]["id"])
            pressed = body["actions"][0]
            run_reporting_errors(
                respond, lambda: press(action, pressed, actor=actor, context=context, deps=deps)
            )

        return work

    for action_id in ACTS:
        app.action(action_id.value)(ack=ack_only, lazy=[lazy_for(action_id)])


def ticket_id_of(pressed: dict[str, Any]) -> tuple[int, str | None]:
    """The ticket a press is about, and the chosen value of a menu (issue id or user id)."""
    if pressed.get("type") == "static_select":
        ticket, _, choice = pressed["selected_option"]["value"].partition(":")
        return int(ticket), choice
    if pressed.get("type") == "users_select":
        return int(pressed["block_id"].rpartition(":")[2]), pressed.get("selected_user")
    return int(pressed["value"]), None


def press(
    action: Action, pressed: dict[str, Any], *, actor: Actor, context: BoltContext, deps: Deps
) -> Reply:
    if not actor.agent:
        return blocks.message(REFUSAL)
    try:
        ticket_id, choice = ticket_id_of(pressed)
    except (KeyError, ValueError):
        return blocks.message("That button no longer points at a ticket.")
    prefix = deps.prefix
    ref = blocks.ticket_ref(ticket_id, prefix)
    act = ACTS[action]
    with context["db"].transaction() as session:
        ticket = core.lock_ticket(session, ticket_id, prefix=prefix)
        if not may(actor, act, ticket_owner=ticket.owner, ticket_team=ticket.team):
            log.warning("refused %s on %s by %s (owner %s)", act, ref, actor.name, ticket.owner)
            return blocks.message(refusal(ticket.owner, f"do that on {ref}"))
        outcome = _do(action, session, ticket=ticket, choice=choice, actor=actor, deps=deps)
        text = outcome(ref)
    deps.flush_outbox()
    return blocks.message(text)


def _do(
    action: Action, session: Any, *, ticket: Ticket, choice: str | None, actor: Actor, deps: Deps
) -> Callable[[str], str]:
    """Call the core for one action; returns how to say what happened."""
    if action is Action.ASSIGN_TO_ME:
        if actor.owner_id is None:
            return lambda ref: "You are not an owner in app.yaml, so tickets cannot be yours."
        core.assign(session, deps.settings, ticket=ticket, owner=actor.owner_id, actor=actor.name)
        return lambda ref: f"{ref} is yours now."
    if action is Action.ESCALATE:
        to = core.escalate(
            session, deps.settings, ticket=ticket, owner=None, actor=actor.name, reason=None
        )
        return lambda ref: f"{ref} escalated to {to}."
    if action is Action.RESOLVE:
        core.resolve(session, deps.settings, ticket=ticket, actor=actor.name, note=None)
        return lambda ref: f"{ref} resolved."
    if action is Action.ACKNOWLEDGE:
        core.acknowledge(session, ticket=ticket, actor=actor.name)
        return lambda ref: f"{ref} acknowledged: noted on its audit trail."
    if action is Action.SEND_ANSWER:
        where = core.send_answer(session, deps.settings, ticket=ticket, actor=actor.name)
        return lambda ref: f"{ref}: the answer is on its way to the candidate ({where})."
    if action is Action.REASSIGN:
        if not choice:
            return lambda ref: "Pick someone to reassign to."
        owner = owner_of(deps, choice)
        core.assign(session, deps.settings, ticket=ticket, owner=owner, actor=actor.name)
        return lambda ref: f"{ref} reassigned to {owner}."
    issue = choice or UNKNOWN
    if issue != UNKNOWN and issue not in core.catalogue(deps.runtime):
        return lambda ref: f"`{issue}` is not a known issue."
    correct_ticket(session, ticket_id=ticket.id, corrected=issue, actor=actor.name)
    return lambda ref: f"Thanks: {ref} noted as `{issue}`; it joins the labelled examples."
