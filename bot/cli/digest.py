"""`triage digest --owner NAME [--send] [--json] [--chart PATH]`: an owner's digest on demand."""

from pathlib import Path

import typer

from bot.cli.common import print_json, state
from bot.cli.tickets import resolve_owner, say
from bot.delivery.outbox import deliver_due
from bot.errors import UserError
from bot.ops.adapters import discover_senders
from bot.store.models.base import utcnow
from bot.tickets.digests import build_digest, chart_png, render_text, send_digest


def register(app: typer.Typer) -> None:
    @app.command("digest")
    def digest(
        ctx: typer.Context,
        owner: str = typer.Option(..., "--owner", help="Owner id or name."),
        send: bool = typer.Option(False, "--send", help="Deliver it now (Slack DM and email)."),
        as_json: bool = typer.Option(False, "--json", help="Print the digest as JSON."),
        chart: Path | None = typer.Option(None, "--chart", help="Write the chart PNG here."),
    ) -> None:
        """Show an owner's digest: open tickets by issue, SLA states, change, chart."""
        cli = state(ctx)
        settings = cli.settings()
        config = settings.app
        owner_id = resolve_owner(config, owner)
        now = utcnow()
        if send:
            senders = discover_senders(settings)
            if not senders:
                raise UserError(
                    "cannot send: no Slack or email sender is configured "
                    "(set SLACK_BOT_TOKEN or SMTP_HOST); the digest was not sent"
                )
            with cli.sessions()() as session, session.begin():
                built, added = send_digest(session, config, owner_id=owner_id, now=now)
            sent, failed = deliver_due(cli.sessions(), senders, now=now)
            fresh = ", ".join(channel for channel, new in added.items() if new)
            say(
                f"digest for {owner_id}: enqueued {fresh or 'nothing new (already sent today)'}"
                f"; outbox {sent} sent, {failed} failed"
            )
        else:
            with cli.sessions()() as session:
                built = build_digest(session, config, owner_id=owner_id, now=now)
        if chart is not None:
            chart.write_bytes(chart_png(built))
            if not as_json:
                say(f"chart written to {chart}")
        if as_json:
            print_json(built.model_dump(mode="json"))
        elif not send:
            typer.echo(render_text(built), nl=False)
