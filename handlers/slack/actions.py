"""Buttons and menus on ticket messages and escalation DMs.

Each press is acknowledged at once; the lazy listener hands it to the action layer
(`bot.tickets.actions`), which checks on the server that the presser may do it to that ticket (a
forged payload naming someone else's ticket is refused, and nothing changes), then says what
happened, ephemerally.
"""

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from sqlalchemy.orm import Session

from bot.matching.corrections import UNKNOWN
from bot.store.models.base import utcnow
from bot.store.models.tickets import Ticket
from bot.tickets import actions
from handlers.slack import blocks, core
from handlers.slack.access import REFUSAL, Actor
from handlers.slack.deps import Deps
from handlers.slack.ids import Action
from handlers.slack.respond import Reply, owner_of, run_reporting_errors

log = logging.getLogger("triage.slack")

PRESSES = (
    Action.ASSIGN_TO_ME,
    Action.ESCALATE,
    Action.RESOLVE,
    Action.SEND_ANSWER,
    Action.NOT_THIS_ISSUE,
    Action.ACKNOWLEDGE,
    Action.REASSIGN,
    Action.REOPEN,
)


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

    for action_id in PRESSES:
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
    with context["db"].transaction() as session:
        ticket = core.lock_ticket(session, ticket_id, prefix=deps.prefix)
        text = carry_out(action, session, ticket=ticket, choice=choice, actor=actor, deps=deps)
    deps.flush_outbox()
    return blocks.message(text)


def carry_out(
    action: Action,
    session: Session,
    *,
    ticket: Ticket,
    choice: str | None,
    actor: Actor,
    deps: Deps,
) -> str:
    """Call the action layer for one press; returns what to tell the presser."""
    config, now, who = deps.settings.app, utcnow(), actor.principal()
    ref = blocks.ticket_ref(ticket.id, deps.prefix)
    if action in (Action.ASSIGN_TO_ME, Action.REASSIGN):
        if action is Action.REASSIGN and not choice:
            return "Pick someone to reassign to."
        owner = owner_of(deps, choice) if action is Action.REASSIGN and choice else actor.owner_id
        if owner is None:
            return "You are not an owner in app.yaml, so tickets cannot be yours."
        done = actions.assign(session, config, ticket=ticket, owner=owner, actor=who, now=now)
        if action is Action.ASSIGN_TO_ME:
            return f"{ref} is yours now."
        return f"{ref} reassigned to {done.owner}."
    if action is Action.ESCALATE:
        done = actions.escalate(
            session, config, ticket=ticket, actor=who, now=now,
            records=core.records(session, deps.settings),
        )  # fmt: skip
        return f"{ref} escalated to {done.owner}."
    if action is Action.RESOLVE:
        actions.resolve(session, config, ticket=ticket, actor=who, now=now)
        return f"{ref} resolved."
    if action is Action.REOPEN:
        done = actions.reopen(session, config, ticket=ticket, actor=who, now=now)
        return f"{ref} reopened ({done.status})."
    if action is Action.ACKNOWLEDGE:
        actions.acknowledge(session, config, ticket=ticket, actor=who, now=now)
        return f"{ref} acknowledged: noted on its audit trail."
    if action is Action.SEND_ANSWER:
        done = actions.send_answer(
            session, config, ticket=ticket, actor=who, now=now,
            records=core.records(session, deps.settings),
        )  # fmt: skip
        where = (
            "a Slack DM to their user on record"
            if done.delivered_by == "slack"
            else f"{done.delivered_by} to {done.delivered_to}"
        )
        return f"{ref}: the answer is on its way to the candidate privately ({where})."
    issue = choice or UNKNOWN
    actions.relabel(
        session, config, ticket=ticket, issue=issue, catalogue=core.catalogue(deps.runtime),
        actor=who, now=now,
    )  # fmt: skip
    return f"Thanks: {ref} noted as `{issue}`; it joins the labelled examples."
