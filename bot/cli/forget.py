"""`triage records forget MCPID|EMAIL`: erase a candidate's personal data, keep the tickets."""

import getpass

import typer
from rich.table import Table

from bot.cli.common import console, print_json, state
from bot.errors import UserError
from bot.privacy.erasure import find_subject, forget, plan_erasure
from bot.store.db import transaction


def forget_cmd(
    ctx: typer.Context,
    who: str = typer.Argument(..., metavar="MCPID|EMAIL", help="The candidate to forget."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    actor: str | None = typer.Option(None, "--actor", help="Who asked (default: your login)."),
    as_json: bool = typer.Option(False, "--json", help="Print the erasure record as JSON."),
) -> None:
    """Erase a candidate's records, message bodies and addresses; tickets stay, anonymised,
    with an audit event. Cannot be undone."""
    sessions = state(ctx).sessions()
    with sessions() as session:
        plan = plan_erasure(session, find_subject(session, who))
    if plan.empty:
        raise UserError(f"nothing is stored about {who.strip()!r}")
    if not yes:
        table = Table("what", "count", box=None)
        table.add_row("records", "yes" if plan.has_records else "none")
        table.add_row("tickets (kept, anonymised)", str(len(plan.ticket_ids)))
        table.add_row("messages (redacted)", str(len(plan.message_ids)))
        table.add_row("deliveries (emptied)", str(len(plan.outbox_ids)))
        console.print(table)
        typer.confirm(f"Erase {who.strip()}'s personal data? This cannot be undone", abort=True)
    with transaction(sessions) as session:
        erasure = forget(session, identifier=who, actor=actor or f"cli:{getpass.getuser()}")
    if as_json:
        print_json(
            {
                "erasure_id": erasure.id,
                "reference": erasure.reference,
                "erased_at": erasure.erased_at.isoformat(),
                **erasure.counts,
            }
        )
        return
    counts = erasure.counts
    console.print(
        f"erased: {counts['tickets']} tickets anonymised (erased:{erasure.reference}), "
        f"{counts['messages']} messages redacted, {counts['deliveries']} deliveries emptied "
        f"({counts['deliveries_cancelled']} cancelled), "
        f"records {'deleted' if counts['records'] else 'none'}"
    )
