"""`triage demo`: print, as tables, what the bot does with the shipped samples."""

import sys
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from bot.cli.common import state
from bot.tickets.digests import render_text
from bot.tickets.lifecycle import display_id
from demo.run import (
    DemoResult,
    demo_tickets,
    message_sources,
    run_demo,
    slack_replies,
)

DEMO_NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
# Wide tables read better than wrapped ones; a terminal keeps its own width.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    ctx: typer.Context,
    samples: Path = typer.Option(Path("samples"), help="Folder of sample records, mail, Slack."),
    owner: str = typer.Option("dev", help="Whose digest to show."),
    out: Path = typer.Option(Path("out"), help="Where the digest chart is written."),
) -> None:
    """Run the bot on the sample records, mail and Slack messages, on DATABASE_URL."""
    cli = state(ctx)
    settings = cli.settings()
    if settings.app.find_owner(owner) is None:
        raise typer.BadParameter(f"unknown owner {owner!r}", param_hint="--owner")
    if not (samples / "records").is_dir():
        raise typer.BadParameter(f"no sample folder at {samples}", param_hint="--samples")
    console.rule(
        f"[bold]{settings.app.desk.name}: triage demo[/] (clock: {DEMO_NOW:%Y-%m-%d %H:%M} UTC)"
    )
    console.print(f"database: {settings.database_url}")
    result = run_demo(
        settings, cli.sessions(), samples=samples, now=DEMO_NOW, digest_owner=owner, out_dir=out
    )
    _intake(result)
    with cli.sessions()() as session:
        tickets = demo_tickets(session, result.message_ids)
        sources = message_sources(session, [t.id for t in tickets])
        _tickets(settings.app, tickets, sources)
        _escalations(settings.app, tickets)
        _sent(result)
        _slack(slack_replies(session, result.message_ids))
    _sweep(settings.app, result)
    _digest(result)


def _intake(result: DemoResult) -> None:
    files = result.records.files
    rows = sum(f.rows for f in files)
    new = sum(f.inserted for f in files)
    console.print(
        f"records: {len(files)} files, {rows} rows ({new} new) from samples/records\n"
        f"mail: {len(result.mail)} messages ({sum(m.status == 'stored' for m in result.mail)} new, "
        f"{sum(m.status == 'duplicate' for m in result.mail)} already taken in)\n"
        f"slack: {result.slack_total} messages ({result.slack_new} new)"
    )


def _tickets(config, tickets, sources) -> None:  # type: ignore[no-untyped-def]
    table = Table(title="Tickets made from the sample messages", title_justify="left")
    for column in ("ticket", "via", "candidate", "issue", "conf.", "priority", "decision",
                   "status", "owner"):  # fmt: skip
        table.add_column(column)
    for t in tickets:
        table.add_row(
            display_id(config, t.id),
            sources.get(t.id, t.source),
            t.candidate_mcp_id or t.candidate_key or "-",
            t.issue or "[italic]unknown[/]",
            f"{t.confidence:.2f}",
            t.priority,
            t.decision or "-",
            t.status,
            t.owner or "-",
        )
    console.print(table)


def _escalations(config, tickets) -> None:  # type: ignore[no-untyped-def]
    table = Table(title="Escalations: one named owner each, and the rule that chose them",
                  title_justify="left")  # fmt: skip
    for column in ("ticket", "issue", "owner", "rule", "first response due", "the facts"):
        table.add_column(column)
    for t in tickets:
        if t.decision != "escalate":
            continue
        owner = config.find_owner(t.owner)
        due = t.first_response_due_at or t.sla_due_at
        table.add_row(
            display_id(config, t.id),
            t.issue or "unknown",
            owner.name if owner else "-",
            t.routing_rule or "-",
            f"{due:%a %d %b %H:%M} UTC" if due else "-",
            escape("; ".join(t.facts_summary or []) or "-"),
        )
    console.print(table)


def _sent(result: DemoResult) -> None:
    title = "Email sent: replies to candidates, notices to owners (to a local SMTP sink)"
    table = Table(title=title, title_justify="left")
    for column in ("to", "subject", "answer"):
        table.add_column(column)
    for mail in result.sent_emails:
        body = [line for line in mail["body"].splitlines() if line.strip()]
        table.add_row(mail["to"], escape(mail["subject"]), escape("\n".join(body[2:-3])[:400]))
    if not result.sent_emails:
        console.print("[dim]email: nothing new to send (already delivered on an earlier run)[/]")
    else:
        console.print(table)


def _slack(items) -> None:  # type: ignore[no-untyped-def]
    table = Table(title="Slack thread replies (public: no record facts)", title_justify="left")
    for column in ("channel", "thread", "reply", "delivery"):
        table.add_column(column)
    for item in items:
        p = item.payload
        thread = (p.get("reply_to") or {}).get("thread_ts")
        table.add_row(item.recipient, thread or "-", escape(p["text"]), item.status)
    console.print(table)


def _sweep(config, result: DemoResult) -> None:  # type: ignore[no-untyped-def]
    if not result.notices:
        console.print("[dim]SLA sweep a day later: nothing new to escalate[/]")
        return
    table = Table(title="SLA sweep one day later: escalation chain steps notified",
                  title_justify="left")  # fmt: skip
    for column in ("ticket", "level", "notified", "why"):
        table.add_column(column)
    for notice in result.notices:
        owner = config.find_owner(notice.recipient)
        table.add_row(
            display_id(config, notice.ticket_id),
            str(notice.level),
            owner.name if owner else notice.recipient,
            notice.reason,
        )
    console.print(table)


def _digest(result: DemoResult) -> None:
    assert result.digest is not None
    title = f"Digest for {result.digest.owner_name}"
    console.print(Panel(escape(render_text(result.digest)), title=title, expand=False))
    console.print(f"digest chart: {result.chart_path}")
