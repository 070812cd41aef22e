"""The `/triage` slash command: acknowledged at once, the work done in a lazy listener.

Every answer is ephemeral (only the agent sees it), so record facts can be shown.
"""

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.errors import UserError
from bot.tickets.queue import counts_by_issue, queue
from bot.types import InboundMessage
from handlers.slack import blocks, core
from handlers.slack.access import REFUSAL, Act, Actor, may, refusal
from handlers.slack.app import Database, Deps
from handlers.slack.command_text import Command, UsageError, help_text, parse
from handlers.slack.mrkdwn import escape as esc

log = logging.getLogger("triage.slack")

Reply = tuple[str, blocks.Blocks]
# What may be repeated in a public thread: no ids, addresses or codes.
PUBLIC_ENTITIES = ("exams", "providers", "regions", "error_messages")


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


def run_reporting_errors(respond: Respond, work: Callable[[], Reply | None]) -> None:
    """Run slow work and answer with its result; its errors reach the user and the log."""
    try:
        result = work()
    except UserError as exc:
        result = blocks.message(str(exc))
    except Exception as exc:
        log.exception("slack work failed")
        result = blocks.message(
            f":warning: Sorry, that failed ({type(exc).__name__}); it has been logged."
        )
    if result is not None:
        text, body = result
        respond(text=text, blocks=body, response_type="ephemeral", replace_original=False)


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
            return blocks.records(
                core.records_summary(session, settings=deps.settings, candidate=parsed.candidate)
            )
        assert parsed.ticket_id is not None
        ticket = core.lock_ticket(session, parsed.ticket_id, prefix=prefix)
        ref = blocks.ticket_ref(ticket.id, prefix)
        if parsed.name == "ticket":
            data = {**core.ticket_data(session, ticket, prefix=prefix)}
            data["catalogue"] = core.catalogue(deps.runtime)
            return blocks.ticket_detail(data, private=True)
        act = {"assign": Act.ASSIGN, "escalate": Act.ESCALATE, "resolve": Act.RESOLVE}[parsed.name]
        if not may(actor, act, ticket_owner=ticket.owner, ticket_team=ticket.team):
            return blocks.message(refusal(ticket.owner, f"{parsed.name} {ref}"))
        target = owner_of(deps, parsed.user) if parsed.user else actor.owner_id
        if parsed.name == "assign":
            if target is None:
                return blocks.message("Name an owner: `/triage assign ID @user`.")
            core.assign(session, deps.settings, ticket=ticket, owner=target, actor=actor.name)
            outcome = f"{ref} assigned to {target}."
        elif parsed.name == "escalate":
            to = core.escalate(
                session,
                deps.settings,
                ticket=ticket,
                owner=target if parsed.user else None,
                actor=actor.name,
                reason=parsed.text or None,
            )
            outcome = f"{ref} escalated to {to}."
        else:
            core.resolve(
                session, deps.settings, ticket=ticket, actor=actor.name, note=parsed.text or None
            )
            outcome = f"{ref} resolved."
    deps.flush_outbox()
    return blocks.message(outcome)


def owner_of(deps: Deps, slack_user_id: str) -> str:
    owner = deps.settings.app.owner_by_slack(slack_user_id)
    if owner is None:
        raise UserError(f"That person ({slack_user_id}) is not an owner in app.yaml.")
    return owner.id


def open_ticket(
    parsed: Command, *, actor: Actor, command: dict[str, Any], db: Database, deps: Deps
) -> Reply:
    """Classify the agent's text and open a ticket for the named candidate through intake."""
    message = InboundMessage(
        source="slack",
        external_id=f"command:{command.get('trigger_id') or command.get('channel_id')}",
        text=parsed.text,
        slack_channel=command.get("channel_id"),
        on_behalf_of=parsed.candidate,
        actor=actor.name,
        # the agent sees the outcome ephemerally; nothing is posted in the agents' channel
        suppress_reply=True,
        meta={"slack_command": command.get("command"), "team_id": command.get("team_id")},
    )
    with db.transaction() as session:
        outcome = core.take_in(session, deps.runtime, message)
        data = outcome_data(session, outcome, deps=deps, private=True)
    deps.flush_outbox()
    return blocks.triage_result(data, private=True)


def outcome_data(session: Any, outcome: Any, *, deps: Deps, private: bool) -> dict[str, Any]:
    """What the builders need from an intake outcome (and its tickets' entities)."""
    tickets = []
    entities: dict[str, Any] = {}
    for t in outcome.tickets:
        row = core.get_ticket(session, t.ticket_id, prefix=deps.prefix)
        entities = entities or {
            kind: values
            for kind, values in (row.entities or {}).items()
            if private or kind in PUBLIC_ENTITIES
        }
        tickets.append(
            {
                "id": t.ticket_id,
                "issue": t.issue,
                "status": t.status,
                "priority": t.priority,
                "action": t.action,
                "owner": t.owner,
                "routing_rule": t.routing_rule,
                "answer": t.answer,
                "facts_summary": t.facts_summary if private else [],
            }
        )
    return {
        "prefix": deps.prefix,
        "tickets": tickets,
        "issues": outcome.issues or ([outcome.issue] if outcome.issue else []),
        "entities": entities,
        "candidate": outcome.candidate_mcp_id if private else None,
        "catalogue": core.catalogue(deps.runtime),
        "private": private,
    }
