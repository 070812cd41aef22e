"""`triage ingest ...`: take mail in from IMAP, a Maildir or mbox, .eml files or an MTA pipe,
and list what is in quarantine."""

import imaplib
import sys
from collections.abc import Iterable
from pathlib import Path

import typer
from imap_tools.errors import ImapToolsError
from rich.markup import escape
from rich.table import Table

from bot.cli.common import console, print_json, state
from bot.errors import UserError
from bot.intake.quarantine import list_quarantined, release
from bot.ops.logs import scrub
from handlers.email import imap, sources
from handlers.email.intake import Incoming, IngestResult, core_intake, ingest_batch

EX_TEMPFAIL = 75  # sysexits.h: the MTA keeps the message and retries

ingest_app = typer.Typer(help="Take mail in: IMAP, Maildir, mbox, .eml files, an MTA pipe.")


def register(app: typer.Typer) -> None:
    app.add_typer(ingest_app, name="ingest")


BATCH_SIZE = typer.Option(
    None, "--batch-size", min=1, max=5000,
    help="Messages per transaction (default: email.batch_size in app.yaml, 200).",
)  # fmt: skip


def _ingest_all(
    ctx: typer.Context, messages: Iterable[tuple[str, bytes]], batch_size: int | None = None
) -> list[IngestResult]:
    """Take the messages in by the batch (one transaction each), in order."""
    cli = state(ctx)
    settings, sessions = cli.settings(), cli.sessions()
    intake = core_intake(settings)
    config = settings.app.email
    results = []
    incoming = (Incoming(origin, raw) for origin, raw in messages)
    for batch in sources.batches(
        incoming,
        size=batch_size or config.batch_size,
        seconds=config.batch_seconds,
        weight=lambda item: len(item.raw),
    ):
        taken = ingest_batch(sessions, batch, settings=settings, intake=intake)
        results += [result for result in taken if result is not None]
    return results


def _report(results: list[IngestResult], as_json: bool) -> None:
    if as_json:
        print_json([r.model_dump() for r in results])
        return
    table = Table("origin", "status", "from", "subject", "noise", "tickets", box=None)
    for r in results:
        # What the mail says is printed as text: Rich would read `[/bold]` in a subject as a tag.
        error = escape(r.error or "")
        status = r.status if r.status != "quarantined" else f"[red]quarantined[/] ({error})"
        table.add_row(
            escape(r.origin), status, escape(r.sender or ""), escape((r.subject or "")[:50]),
            r.noise or "", ", ".join(f"#{t}" for t in r.ticket_ids),
        )  # fmt: skip
    console.print(table)
    counts = {
        s: sum(r.status == s for r in results) for s in ("stored", "duplicate", "quarantined")
    }
    console.print(", ".join(f"{n} {s}" for s, n in counts.items()))


@ingest_app.command("eml")
def ingest_eml(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help=".eml files (one message each)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per message."),
    batch_size: int | None = BATCH_SIZE,
) -> None:
    """Take in .eml files."""
    _report(_ingest_all(ctx, sources.from_files(files), batch_size), as_json)


@ingest_app.command("maildir")
def ingest_maildir(
    ctx: typer.Context,
    path: Path,
    as_json: bool = typer.Option(False, "--json"),
    batch_size: int | None = BATCH_SIZE,
) -> None:
    """Take in every message of a Maildir (read only; running it again stores nothing twice)."""
    _report(_ingest_all(ctx, sources.from_maildir(path), batch_size), as_json)


@ingest_app.command("mbox")
def ingest_mbox(
    ctx: typer.Context,
    path: Path,
    as_json: bool = typer.Option(False, "--json"),
    batch_size: int | None = BATCH_SIZE,
) -> None:
    """Take in every message of an mbox file."""
    _report(_ingest_all(ctx, sources.from_mbox(path), batch_size), as_json)


@ingest_app.command("stdin")
def ingest_stdin(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Take in one message from standard input (an MTA pipe). Exits 75 (EX_TEMPFAIL) when it
    could not be stored, so the MTA keeps it and retries."""
    origin, raw = sources.from_stream(sys.stdin.buffer)
    try:
        results = _ingest_all(ctx, [(origin, raw)])
    except Exception as exc:  # database down, migration pending...: the MTA must retry
        # The MTA writes this to its own log: the cause in one line, never the database error
        # whole (it quotes the statement's parameters: the message's sender, subject and body).
        cause = (str(getattr(exc, "orig", None) or exc).splitlines() or [""])[0]
        cause = scrub(f"{type(exc).__name__}: {cause}", limit=200)
        typer.echo(f"triage: message not stored, retry later: {cause}", err=True)
        # sys.exit, not typer.Exit: the root runs click with standalone_mode=False, which turns
        # Exit into a return value and the process would exit 0.
        sys.exit(EX_TEMPFAIL)
    _report(results, as_json)


@ingest_app.command("imap")
def ingest_imap(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Poll once and exit."),
    interval: float = typer.Option(60.0, "--interval", min=1.0, help="Seconds between polls."),
    folder: str | None = typer.Option(None, "--folder", help="Folder to poll (IMAP_FOLDER)."),
    as_json: bool = typer.Option(False, "--json"),
    batch_size: int | None = BATCH_SIZE,
) -> None:
    """Poll the IMAP mailbox (IMAP_HOST, IMAP_USERNAME, IMAP_PASSWORD)."""
    cli = state(ctx)
    settings = cli.settings()
    account = imap.account_from_settings(settings, folder=folder)

    def report(result: imap.PollResult) -> None:
        _report(result.taken, as_json)

    try:
        imap.run(
            account=account,
            sessions=cli.sessions(),
            settings=settings,
            intake=core_intake(settings),
            interval=interval,
            once=once,
            report=report,
            batch_size=batch_size,
        )
    except (OSError, imaplib.IMAP4.error, ImapToolsError) as exc:
        raise UserError(f"IMAP {account.host}:{account.port}: {exc}") from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


@ingest_app.command("quarantine")
def ingest_quarantine(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json"),
    show: int | None = typer.Option(None, "--show", help="Print one message's raw bytes."),
    retry: int | None = typer.Option(None, "--retry", help="Take one message in again."),
) -> None:
    """List the messages kept raw because they could not be taken in (or show or retry one)."""
    if retry is not None:
        _retry(ctx, retry, as_json)
        return
    with state(ctx).sessions()() as session:
        rows = list_quarantined(session)
        if show is not None:
            match = next((r for r in rows if r.id == show), None)
            if match is None:
                raise UserError(f"no quarantined message {show}")
            sys.stdout.buffer.write(match.raw)
            return
        if as_json:
            print_json(
                [
                    {
                        "id": r.id,
                        "origin": r.origin,
                        "error": r.error,
                        "size": r.size,
                        "seen_count": r.seen_count,
                        "received_at": r.received_at.isoformat(),
                    }
                    for r in rows
                ]
            )
            return
        table = Table("id", "received", "origin", "size", "error", box=None)
        for r in rows:
            table.add_row(
                str(r.id), f"{r.received_at:%Y-%m-%d %H:%M}", escape(r.origin), str(r.size),
                escape(r.error),
            )  # fmt: skip
        console.print(table if rows else "quarantine is empty")


def _retry(ctx: typer.Context, quarantine_id: int, as_json: bool) -> None:
    """Hand a quarantined message to intake again (after a fix); if it fails again it stays."""
    cli = state(ctx)
    with cli.sessions()() as session, session.begin():
        raw = release(session, quarantine_id=quarantine_id)
    if raw is None:
        raise UserError(f"no quarantined message {quarantine_id}")
    _report(_ingest_all(ctx, [(f"quarantine:{quarantine_id}", raw)]), as_json)
