"""`triage records forget MCPID|EMAIL`: erase a candidate's personal data, keep the tickets."""

import getpass
from pathlib import Path

import typer
from rich.table import Table

from bot.cli.common import console, print_json, state
from bot.errors import UserError
from bot.privacy.erasure import find_person, forget, plan_erasure
from bot.records.source import records_source
from bot.store.db import transaction


def forget_cmd(
    ctx: typer.Context,
    who: str = typer.Argument(..., metavar="MCPID|EMAIL", help="The candidate to forget."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    actor: str | None = typer.Option(None, "--actor", help="Who asked (default: your login)."),
    as_json: bool = typer.Option(False, "--json", help="Print the erasure record as JSON."),
) -> None:
    """Erase a candidate everywhere: records, messages and message ids, mentions of them,
    deliveries (waiting ones are cancelled); tickets stay, anonymised, with an audit event.
    Cannot be undone."""
    settings = state(ctx).settings()
    sessions = state(ctx).sessions()
    with sessions() as session:
        plan = plan_erasure(session, find_person(session, who, records_source(settings, session)))
    if plan.empty:
        raise UserError(f"nothing is stored about {who.strip()!r}")
    if not yes:
        table = Table("what", "count", box=None)
        table.add_row("records", "yes" if plan.has_records else "none")
        table.add_row("tickets (kept, anonymised)", str(len(plan.ticket_ids)))
        table.add_row("their messages (erased)", str(len(plan.message_ids)))
        table.add_row("messages naming them (redacted)", str(len(plan.mention_ids)))
        table.add_row("deliveries (emptied)", str(len(plan.outbox_ids)))
        table.add_row("deliveries waiting (cancelled)", str(plan.pending_outbox))
        console.print(table)
        typer.confirm(f"Erase {who.strip()}'s personal data? This cannot be undone", abort=True)
    with transaction(sessions) as session:
        erasure = forget(
            session,
            identifier=who,
            actor=actor or f"cli:{getpass.getuser()}",
            records=records_source(settings, session),
            drafts_dir=Path(settings.app.surges.drafts_dir),
        )
    counts = erasure.counts
    if as_json:
        print_json(
            {
                "erasure_id": erasure.id,
                "reference": erasure.reference,
                "erased_at": erasure.erased_at.isoformat(),
                **counts,
            }
        )
        return
    console.print(
        f"erased: {counts['tickets']} tickets anonymised (erased:{erasure.reference}), "
        f"{counts['messages']} messages erased, {counts['mentions']} naming them redacted, "
        f"{counts['deliveries']} deliveries emptied ({counts['deliveries_cancelled']} cancelled), "
        f"{counts['other_rows']} other rows redacted, "
        f"records {'deleted' if counts['records'] else 'none'}"
    )
