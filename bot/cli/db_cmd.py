"""`triage db upgrade|status`: apply and inspect the schema migrations."""

import typer

from bot.cli.common import console, state
from bot.store.db import checked_revisions, head_revisions, make_engine, upgrade


def register(app: typer.Typer) -> None:
    db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
    db_app.command("upgrade")(upgrade_cmd)
    db_app.command("status")(status_cmd)
    app.add_typer(db_app, name="db")


def upgrade_cmd(ctx: typer.Context) -> None:
    """Apply every pending migration (running it twice changes nothing)."""
    settings = state(ctx).settings()
    engine = make_engine(settings.database_url)
    applied = upgrade(engine)
    if applied:
        console.print(f"[green]✓[/] upgraded to {', '.join(applied)}")
    else:
        console.print("[green]✓[/] already current, nothing to do")


def status_cmd(ctx: typer.Context) -> None:
    """Show the database's revision and the newest one shipped."""
    settings = state(ctx).settings()
    engine = make_engine(settings.database_url)
    current, heads = checked_revisions(engine), head_revisions()
    console.print(
        f"current: {', '.join(sorted(current)) or 'empty'}; shipped: {', '.join(sorted(heads))}"
    )
    if current != heads:
        raise typer.Exit(1)
