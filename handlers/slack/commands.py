"""The `/triage` slash command: acknowledged at once, the work done in a lazy listener.

Every answer is ephemeral (only the agent sees it), so record facts can be shown.
"""

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.errors import UserError
from bot.store.models.base import utcnow
from bot.tickets import actions
from bot.tickets.permissions import Act
from bot.tickets.queue import counts_by_issue, queue
from bot.types import InboundMessage
from handlers.slack import blocks, core
from handlers.slack.access import REFUSAL, Actor
from handlers.slack.command_text import Command, UsageError, help_text, parse
from handlers.slack.deps import Database, Deps
from handlers.slack.mrkdwn import escape as esc
from handlers.slack.respond import Reply, owner_of, run_reporting_errors

log = logging.getLogger("triage.slack")


def register(app: App, deps: Deps) -> None:
    directory = deps.directory
    slash = deps.settings.app.slack.command

    def acknowledge(ack: Ack, command: dict[str, Any]) -> None:
        """Answer help and malformed input at once; everything else is lazy work."""
        try:
            parsed = parse(command.get("text", ""))
        except UsageError as exc:
            ack(response_type="ephemeral", text=esc(str(exc)))
            return
        if parsed.name == "help":
            ack(response_type="ephemeral", text=esc(help_text(slash)))
            return
        ack()

    def work(command: dict[str, Any], respond: Respond, context: BoltContext) -> None:
        try:
            parsed = parse(command.get("text", ""))
        except UsageError:
            return  # already answered in the ack
        if parsed.name == "help":
            return
        actor = directory.actor(command["user_id"])
        run_reporting_errors(
            respond,
            lambda: run(parsed, actor=actor, command=command, db=context["db"], deps=deps),
        )

    app.command(slash)(ack=acknowledge, lazy=[work])


def run(
    parsed: Command, *, actor: Actor, command: dict[str, Any], db: Database, deps: Deps
) -> Reply:
    if not actor.agent:
        return blocks.message(REFUSAL)
    prefix = deps.prefix
    if parsed.name == "open":
        return open_ticket(parsed, actor=actor, command=command, db=db, deps=deps)
    if parsed.name == "kb":
        return blocks.kb_results(parsed.text, core.search_knowledge(deps.runtime, parsed.text))
    with db.transaction() as session:
        if parsed.name == "queue":
            if parsed.text == "mine" and actor.owner_id is None:
                return blocks.message("You own no tickets: try `queue open`.")
            # the triage lead and front-line agents watch the whole desk; owners their own
            whole_desk = actor.triage_lead or actor.owner_id is None
            owner = None if parsed.text != "mine" and whole_desk else actor.owner_id
            entries = queue(session, view=parsed.text, owner=owner)  # type: ignore[arg-type]
            rows = [
                {**core.ticket_data(session, e.ticket, prefix=prefix), "breached": e.breached}
                for e in entries
            ]
            text, body = blocks.queue_list(f"Queue: {parsed.text}", rows, prefix)
            counts = counts_by_issue(session, owner=None if parsed.text == "open" else owner)
            if counts:
                line = " · ".join(f"{esc(k)}: {esc(v)}" for k, v in counts.items())
                body.append(blocks.context(line))
            return text, body
        if parsed.name == "records":
            actions.authorize(deps.settings.app, actor.principal(), Act.SEE_RECORDS)
            return blocks.records(
                core.records_summary(session, settings=deps.settings, candidate=parsed.candidate)
            )
        assert parsed.ticket_id is not None
        ticket = core.lock_ticket(session, parsed.ticket_id, prefix=prefix)
        if parsed.name == "ticket":
            data = {**core.ticket_data(session, ticket, prefix=prefix)}
            data["catalogue"] = core.catalogue(deps.runtime)
            return blocks.ticket_detail(data, private=True)
        outcome = act(parsed, session, ticket=ticket, actor=actor, deps=deps)
    deps.flush_outbox()
    return blocks.message(outcome)


def act(parsed: Command, session: Any, *, ticket: Any, actor: Actor, deps: Deps) -> str:
    """One ticket action through the action layer (which checks the right to it); what to say."""
    config, now, who = deps.settings.app, utcnow(), actor.principal()
    if parsed.name == "assign":
        target = owner_of(deps, parsed.user) if parsed.user else actor.owner_id
        if target is None:
            raise UserError("Name an owner: `/triage assign ID @user`.")
        done = actions.assign(session, config, ticket=ticket, owner=target, actor=who, now=now)
        verb = "assigned" if done.action == "assign" else "reassigned"
        return (
            f"{done.ref} {verb} to {done.owner}."
            if done.changed
            else f"{done.ref} is {done.owner}'s."
        )
    if parsed.name == "escalate":
        done = actions.escalate(
            session, config, ticket=ticket, actor=who, now=now,
            to=owner_of(deps, parsed.user) if parsed.user else None, reason=parsed.text or None,
            records=core.records(session, deps.settings),
        )  # fmt: skip
        return f"{done.ref} escalated to {done.owner}."
    if parsed.name == "reopen":
        done = actions.reopen(
            session, config, ticket=ticket, actor=who, now=now, reason=parsed.text or None
        )
        return f"{done.ref} reopened ({done.status})."
    done = actions.resolve(
        session, config, ticket=ticket, actor=who, now=now, note=parsed.text or None
    )
    return f"{done.ref} resolved."


def open_ticket(
    parsed: Command, *, actor: Actor, command: dict[str, Any], db: Database, deps: Deps
) -> Reply:
    """Classify the agent's text and open a ticket for the named candidate through intake."""
    message = InboundMessage(
        source="slack",
        external_id=f"command:{command.get('trigger_id') or command.get('channel_id')}",
        text=parsed.text,
        # A command is a private exchange with the agent, not a message in their channel.
        on_behalf_of=parsed.candidate,
        actor=actor.name,
        # the agent sees the outcome ephemerally; nothing is posted in the agents' channel
        suppress_reply=True,
        meta={
            "slack_command": command.get("command"),
            "team_id": command.get("team_id"),
            "channel_id": command.get("channel_id"),
        },
    )
    with db.transaction() as session:
        outcome = core.take_in(session, deps.runtime, message)
        data = core.outcome_data(
            session, outcome, runtime=deps.runtime, prefix=deps.prefix, private=True
        )
    deps.flush_outbox()
    return blocks.triage_result(data, private=True)
