"""`triage tickets assign|escalate|resolve|reopen|merge|send-answer|relabel`: the operator's door
to the action layer (`bot/tickets/actions.py`).

The CLI runs on the server, so its user may do everything; each action is audited with their
name (`--as NAME`, default the OS user) as `cli:NAME`.
"""

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import typer
from sqlalchemy.orm import Session

from bot.cli.common import console, state
from bot.config.app import AppConfig
from bot.config.settings import Settings
from bot.errors import UserError
from bot.matching.knowledge import load_knowledge
from bot.records.source import records_source
from bot.store.models import Ticket
from bot.store.models.base import utcnow
from bot.tickets import actions
from bot.tickets import lifecycle as tickets
from bot.tickets.permissions import Actor

AS_HELP = "Your name on the audit trail (default: your login name)."


def operator(name: str | None) -> Actor:
    """The operator running the command, as the audit trail names them."""
    if name is not None and not name.strip():
        raise UserError("--as needs a name")
    if name is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "operator"
    return Actor.operator(f"cli:{name.strip()}")


def load(session: Session, config: AppConfig, text: str) -> Ticket:
    return tickets.get_ticket(
        session, ticket_id=tickets.parse_ticket_id(config, text), config=config
    )


def resolve_owner(config: AppConfig, name: str) -> str:
    """An owner by id, or by name (case-insensitive, first name or full name)."""
    wanted = name.strip().casefold()
    for owner in config.owners:
        if wanted in (owner.id.casefold(), owner.name.casefold(), owner.name.split()[0].casefold()):
            return owner.id
    raise UserError(f"unknown owner {name!r} (known: {', '.join(o.id for o in config.owners)})")


@dataclass(frozen=True)
class OnTicket:
    """What every action command works with: its transaction, the ticket, who acts, and when."""

    session: Session
    settings: Settings
    config: AppConfig
    ticket: Ticket
    actor: Actor
    now: datetime


@contextmanager
def on_ticket(ctx: typer.Context, ticket_id: str, as_: str | None) -> Iterator[OnTicket]:
    """Load the ticket in one transaction, committed when the action returns."""
    cli = state(ctx)
    settings = cli.settings()
    actor = operator(as_)
    with cli.sessions()() as session, session.begin():
        ticket = load(session, settings.app, ticket_id)
        yield OnTicket(session, settings, settings.app, ticket, actor, utcnow())


def say(text: object) -> None:
    console.print(text, soft_wrap=True)


def add_commands(group: typer.Typer) -> None:
    """Add the action commands to the `tickets` group."""

    @group.command("assign")
    def assign(
        ctx: typer.Context,
        ticket_id: str,
        owner: str,
        reason: str | None = typer.Option(None, "--reason"),
        as_: str | None = typer.Option(None, "--as", help=AS_HELP),
    ) -> None:
        """Give a ticket to an owner, or move it to another (who is notified)."""
        with on_ticket(ctx, ticket_id, as_) as on:
            done = actions.assign(
                on.session, on.config, ticket=on.ticket, owner=resolve_owner(on.config, owner),
                actor=on.actor, now=on.now, reason=reason,
            )  # fmt: skip
        verb = "assigned" if done.action == "assign" else "reassigned"
        say(
            f"{done.ref} {verb} to {done.owner}"
            if done.changed
            else f"{done.ref} is {done.owner}'s"
        )

    @group.command("escalate")
    def escalate(
        ctx: typer.Context,
        ticket_id: str,
        to: str | None = typer.Option(None, "--to", help="Owner (default: the next person)."),
        reason: str | None = typer.Option(None, "--reason"),
        as_: str | None = typer.Option(None, "--as", help=AS_HELP),
    ) -> None:
        """Escalate a ticket to one named owner: --to, else the routing rules for a ticket nobody
        owns, its owner, then the next person of the escalation chain."""
        with on_ticket(ctx, ticket_id, as_) as on:
            done = actions.escalate(
                on.session, on.config, ticket=on.ticket, actor=on.actor, now=on.now,
                to=resolve_owner(on.config, to) if to is not None else None, reason=reason,
                records=records_source(on.settings, on.session),
            )  # fmt: skip
        say(f"{done.ref} escalated to {done.owner} (rule {done.rule})")

    @group.command("resolve")
    def resolve(
        ctx: typer.Context,
        ticket_id: str,
        note: str | None = typer.Option(None, "--note"),
        as_: str | None = typer.Option(None, "--as", help=AS_HELP),
    ) -> None:
        """Mark a ticket resolved (its resolution time is stored)."""
        with on_ticket(ctx, ticket_id, as_) as on:
            done = actions.resolve(
                on.session, on.config, ticket=on.ticket, actor=on.actor, now=on.now, note=note
            )
        say(f"{done.ref} resolved")

    @group.command("reopen")
    def reopen(
        ctx: typer.Context,
        ticket_id: str,
        reason: str | None = typer.Option(None, "--reason"),
        as_: str | None = typer.Option(None, "--as", help=AS_HELP),
    ) -> None:
        """Reopen a resolved or closed ticket (its owner is notified)."""
        with on_ticket(ctx, ticket_id, as_) as on:
            done = actions.reopen(
                on.session, on.config, ticket=on.ticket, actor=on.actor, now=on.now, reason=reason
            )
        say(f"{done.ref} reopened ({done.status})")

    @group.command("merge")
    def merge(
        ctx: typer.Context,
        ticket_id: str,
        into_id: str,
        as_: str | None = typer.Option(None, "--as", help=AS_HELP),
    ) -> None:
        """Merge a ticket into another: its messages and history move, it is closed."""
        with on_ticket(ctx, ticket_id, as_) as on:
            into = load(on.session, on.config, into_id)
            done = actions.merge(
                on.session, on.config, ticket=on.ticket, into=into, actor=on.actor, now=on.now
            )
            target = tickets.display_id(on.config, into.id)
        say(f"{done.ref} merged into {target}")

    @group.command("send-answer")
    def send_answer(
        ctx: typer.Context,
        ticket_id: str,
        as_: str | None = typer.Option(None, "--as", help=AS_HELP),
    ) -> None:
        """Send the ticket's drafted answer to the candidate, privately."""
        with on_ticket(ctx, ticket_id, as_) as on:
            done = actions.send_answer(
                on.session, on.config, ticket=on.ticket, actor=on.actor, now=on.now,
                records=records_source(on.settings, on.session),
            )  # fmt: skip
        say(
            f"{done.ref}: the answer is on its way to the candidate privately "
            f"({done.delivered_by} to {done.delivered_to})"
        )

    @group.command("relabel")
    def relabel(
        ctx: typer.Context,
        ticket_id: str,
        issue: str = typer.Argument(..., help="The right issue id, or 'unknown'."),
        as_: str | None = typer.Option(None, "--as", help=AS_HELP),
    ) -> None:
        """Correct a ticket's issue; the correction is kept as a labelled example."""
        with on_ticket(ctx, ticket_id, as_) as on:
            catalogue = load_knowledge(on.settings.knowledge_dir).issues
            done = actions.relabel(
                on.session, on.config, ticket=on.ticket, issue=issue.strip(), catalogue=catalogue,
                actor=on.actor, now=on.now,
            )  # fmt: skip
        shown = f"relabelled {issue.strip()}" if done.changed else f"is {issue.strip()} already"
        say(f"{done.ref} {shown}")
