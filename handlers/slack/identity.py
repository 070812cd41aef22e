"""The "Verify identity" button on a ticket whose writer is not proven to be the candidate they
name: an agent who has checked who wrote (by phone, a document) verifies them as that MCP id, and
the usual check and answer follow (`bot.privacy.identity`). Acknowledged at once; the lazy
listener checks on the server that the presser is an agent (and the core, that the who-may-do-what
table lets them verify), and answers them ephemerally."""

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.privacy.identity import verify_identity
from handlers.slack import blocks, core
from handlers.slack.access import REFUSAL, Actor
from handlers.slack.deps import Deps
from handlers.slack.ids import Action
from handlers.slack.respond import Reply, run_reporting_errors

log = logging.getLogger("triage.slack")


def register(app: App, deps: Deps) -> None:
    def ack_only(ack: Ack) -> None:
        ack()

    def work(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
        actor = deps.directory.actor(body["user"]["id"])
        pressed = body["actions"][0]
        run_reporting_errors(
            respond, lambda: press(pressed, actor=actor, context=context, deps=deps)
        )

    app.action(Action.VERIFY_IDENTITY.value)(ack=ack_only, lazy=[work])


def press(pressed: dict[str, Any], *, actor: Actor, context: BoltContext, deps: Deps) -> Reply:
    """Verify the ticket's writer as the MCP id they named."""
    if not actor.agent:
        return blocks.message(REFUSAL)
    try:
        ticket_id = int(pressed["value"])
    except (KeyError, TypeError, ValueError):
        return blocks.message("That button no longer points at a ticket.")
    ref = blocks.ticket_ref(ticket_id, deps.prefix)
    with context["db"].transaction() as session:
        ticket = core.lock_ticket(session, ticket_id, prefix=deps.prefix)
        if not ticket.named_mcp_id:
            return blocks.message(
                f"{ref} names no MCP ID: verify its writer with "
                f"`triage tickets verify {ref} MCP_ID --as NAME`."
            )
        done = verify_identity(
            session, deps.runtime, ticket_id=ticket.id, mcp_id=ticket.named_mcp_id,
            actor=actor.principal(),
        )  # fmt: skip
    log.info("%s verified the writer of %s", actor.name, ref)
    deps.flush_outbox()
    where = f"; the answer is on its way ({done.sent_to})" if done.sent_to else ""
    return blocks.message(f"{ref} verified as MCP {done.mcp_id}: {done.action}{where}.")
