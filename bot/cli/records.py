"""`triage records import|show`: load entitlement records, look at one candidate's facts."""

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bot.cli.common import console, print_json, state
from bot.cli.forget import forget_cmd
from bot.errors import UserError
from bot.privacy.masking import mask_secret
from bot.records.catalogue import EXAMS_FILE, load_catalogue, sync_catalogue
from bot.records.checks import run_all_checks
from bot.records.importer import import_records
from bot.records.schemas import CandidateRecords
from bot.records.source import records_source
from bot.store.db import transaction

LARGE_FILE = 2_000_000  # bytes: show a progress bar from here on


def register(app: typer.Typer) -> None:
    records_app = typer.Typer(help="Entitlement records.", no_args_is_help=True)
    records_app.command("import")(import_cmd)
    records_app.command("show")(show_cmd)
    records_app.command("forget")(forget_cmd)
    app.add_typer(records_app, name="records")


def import_cmd(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Folders of records files, or single files."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import records CSV/JSONL files; bad rows are listed as file:line: reason (exit 1)."""
    cli = state(ctx)
    settings = cli.settings()
    err = Console(stderr=True, highlight=False)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=as_json or not err.is_terminal,
    ) as bar:

        def progress(label: str, total: int):  # type: ignore[no-untyped-def]
            if total < LARGE_FILE:
                return lambda _n: None
            task = bar.add_task(f"importing {label}", total=total)
            return lambda n: bar.advance(task, n)

        report = import_records(cli.sessions(), paths, progress=progress)
    exams = 0
    catalogue_path = settings.knowledge_dir / EXAMS_FILE
    if catalogue_path.exists():
        with transaction(cli.sessions()) as session:
            exams = sync_catalogue(session, load_catalogue(catalogue_path))
    if as_json:
        print_json({**report.to_dict(), "catalogue_exams": exams})
    else:
        table = Table("file", "rows", "inserted", "updated", "unchanged", "bad", title="Import")
        for f in report.files:
            table.add_row(
                escape(f.path),
                *(str(n) for n in (f.rows, f.inserted, f.updated, f.unchanged)),
                f"[red]{len(f.errors)}[/]" if f.errors else "0",
            )
        console.print(table)
        for error in report.errors:
            err.print(error, soft_wrap=True, markup=False)  # quotes cells, which may hold [tags]
        if exams:
            console.print(f"exam catalogue: {exams} exams from {catalogue_path}")
    if report.errors:
        # SystemExit, not typer.Exit: `bot.cli.main` drops typer.Exit's code (standalone_mode off)
        raise SystemExit(1)


def show_cmd(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="MCP id or email address."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    exam: list[str] = typer.Option([], "--exam", help="Exam the question is about (repeatable)."),
    today: str | None = typer.Option(None, "--today", help="Date to check against (YYYY-MM-DD)."),
) -> None:
    """One candidate's records (codes masked) and every check's result."""
    cli = state(ctx)
    settings = cli.settings()
    day = _day(today)
    catalogue = load_catalogue(settings.knowledge_dir)
    session = cli.sessions()() if settings.app.records.source == "database" else None
    try:
        records = records_source(settings, session).get(key)
    finally:
        if session is not None:
            session.close()
    if records is None:
        raise UserError(f"no candidate with MCP id or email {key!r}")
    checks = run_all_checks(
        records,
        catalogue=catalogue,
        exams=exam,
        today=day,
        vouchers_per_beta_exam=settings.app.records.vouchers_per_beta_exam,
    )
    if as_json:
        print_json(
            {
                "candidate": records.candidate.model_dump(mode="json"),
                "records": masked_records(records),
                "checks": {
                    name: {
                        **r.facts,
                        "summary": r.summary,
                        "settles": r.settles,
                        "escalate": r.escalate,
                        "reason": r.reason,
                    }
                    for name, r in checks.items()
                },
            }
        )
        return
    person = records.candidate
    console.print(
        f"[bold]{person.name}[/] · MCP {person.mcp_id} · {person.country} ({person.region})"
    )
    console.print(
        f"  emails: {', '.join(person.emails) or '-'}; Slack: {person.slack_user_id or '-'}"
    )
    for name, rows in masked_records(records).items():
        if rows:
            table = Table(*rows[0].keys(), title=name.replace("_", " "), title_justify="left")
            for row in rows:
                table.add_row(*("" if v is None else str(v) for v in row.values()))
            console.print(table)
    table = Table("check", "outcome", "facts", title="Checks", title_justify="left")
    for name, result in checks.items():
        outcome = "[red]escalate[/]" if result.escalate else ("answer" if result.settles else "-")
        table.add_row(name, outcome, "\n".join(result.summary))
    console.print(table)


def masked_records(records: CandidateRecords) -> dict[str, list[dict[str, Any]]]:
    """The candidate's records as JSON-safe rows, with voucher and promotion codes masked."""

    def rows(items: list[Any]) -> list[dict[str, Any]]:
        out = []
        for item in items:
            row = item.model_dump(mode="json", exclude={"mcp_id"})
            for secret in ("code", "promo_code"):
                if secret in row:
                    row[secret] = mask_secret(row[secret])
            if isinstance(row.get("scope"), list):
                row["scope"] = ";".join(row["scope"])
            out.append(row)
        return out

    return {
        "exam_attempts": rows(records.attempts),
        "registrations": rows(records.registrations),
        "invitations": rows(records.invitations),
        "vouchers": rows(records.vouchers),
        "certifications": rows(records.certifications),
        "restrictions": rows(records.restrictions),
    }


def _day(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--today: not a date: {text!r} (use YYYY-MM-DD)") from None
