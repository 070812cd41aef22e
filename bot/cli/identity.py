"""`triage tickets verify TICKET MCP_ID --as OPERATOR`: record that an operator verified who wrote
a ticket (an unproven writer naming a candidate, or one asked for their MCP ID); the usual check
and answer follow (`bot.privacy.identity`)."""

import typer

from bot.cli.common import console, state
from bot.errors import UserError
from bot.ops.runtime import Runtime
from bot.privacy.identity import verify_identity
from bot.store.models.base import utcnow
from bot.tickets import lifecycle as tickets
from bot.tickets.permissions import Actor

# Registered after the modules whose command groups it extends (`bot/cli/__init__.py`).
REGISTER_AFTER = ("tickets",)


def register(app: typer.Typer) -> None:
    group = next((g.typer_instance for g in app.registered_groups if g.name == "tickets"), None)
    if group is None:  # the tickets commands are not installed: stand alone
        group = typer.Typer(help="Verify who wrote a ticket.", no_args_is_help=True)
        app.add_typer(group, name="identity")

    @group.command("verify")
    def verify(
        ctx: typer.Context,
        ticket_id: str = typer.Argument(..., help="The ticket, e.g. TRI-12."),
        mcp_id: str = typer.Argument(..., help="The MCP ID the writer is verified to have."),
        operator: str = typer.Option(
            ..., "--as", help="Who verified them (named on the audit trail)."
        ),
    ) -> None:
        """Record that OPERATOR verified the writer of TICKET as MCP_ID; then check and answer."""
        if not operator.strip():
            raise UserError("--as needs the name of the person who verified the writer")
        cli = state(ctx)
        settings = cli.settings()
        number = tickets.parse_ticket_id(settings.app, ticket_id)
        with cli.sessions()() as session, session.begin():
            done = verify_identity(
                session, Runtime(settings), ticket_id=number, mcp_id=mcp_id,
                actor=Actor.operator(f"cli:{operator.strip()}"), now=utcnow(),
            )  # fmt: skip
        where = f"; the answer goes by {done.sent_to}" if done.sent_to else ""
        console.print(
            f"{done.ref} verified as MCP {done.mcp_id} by {operator.strip()}: {done.action}{where}",
            soft_wrap=True,
        )
