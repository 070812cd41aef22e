"""`triage surges list|show|draft|merge|ignore|answer` and `triage knowledge add`: the triage
lead's door to surges (`bot/surges/decisions.py`) and to adding a drafted known issue.

What candidates wrote (phrasings, error text) is printed as text, never as Rich markup.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli.common import console, print_json, state
from bot.cli.model_cmd import DATA_DIR, report, retrain
from bot.cli.ticket_actions import AS_HELP, operator
from bot.config.settings import Settings
from bot.errors import UserError
from bot.matching.knowledge import KnowledgeError, load_issue, load_knowledge
from bot.records.source import records_source
from bot.store.models.base import utcnow
from bot.store.models.surges import SURGE_STATUSES, Surge
from bot.surges import decisions
from bot.surges.alerts import surge_ref
from bot.tickets.lifecycle import display_id

AsOption = Annotated[str | None, typer.Option("--as", help=AS_HELP)]


def register(app: typer.Typer) -> None:
    surges = typer.Typer(help="Surges: many candidates hitting one problem.", no_args_is_help=True)
    surges.command("list")(list_cmd)
    surges.command("show")(show_cmd)
    surges.command("draft")(draft_cmd)
    surges.command("merge")(merge_cmd)
    surges.command("ignore")(ignore_cmd)
    surges.command("answer")(answer_cmd)
    app.add_typer(surges, name="surges")
    knowledge = typer.Typer(help="The knowledge base of known issues.", no_args_is_help=True)
    knowledge.command("add")(add_cmd)
    app.add_typer(knowledge, name="knowledge")


def surge_id(text: str) -> int:
    digits = text.upper().removeprefix("SURGE-").removeprefix("#")
    if not digits.isdigit():
        raise UserError(f"not a surge id: {text!r} (use e.g. 3 or SURGE-3)")
    return int(digits)


def summary(session: Session, settings: Settings, surge: Surge) -> dict[str, Any]:
    """A surge as `list --json` and `show --json` print it."""
    tickets = decisions.tickets(session, surge, open_only=False)
    shared = surge.shared or {}
    return {
        "id": surge.id,
        "ref": surge_ref(surge.id),
        "kind": surge.kind,
        "status": surge.status,
        "issue": surge.issue,
        "suggested": surge.suggested,
        "count": surge.count,
        "open_tickets": sum(1 for t in tickets if t.status not in ("resolved", "closed")),
        "tickets": [display_id(settings.app, t.id) for t in tickets],
        "expected": surge.expected,
        "exams": shared.get("exams", []),
        "providers": shared.get("providers", []),
        "regions": shared.get("regions", []),
        "errors": shared.get("errors", []),
        "phrasings": shared.get("phrasings", []),
        "first_at": surge.first_at.isoformat(),
        "last_at": surge.last_at.isoformat(),
        "draft_id": surge.draft_id,
        "decided_by": surge.decided_by,
    }


def list_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    status: Annotated[
        str, typer.Option(help=f"open (default), all, or one of {', '.join(SURGE_STATUSES)}.")
    ] = "open",
) -> None:
    """Surges, newest first (open ones unless --status says otherwise)."""
    if status not in ("all", *SURGE_STATUSES):
        raise UserError(f"unknown status {status!r} (use all, {', '.join(SURGE_STATUSES)})")
    cli = state(ctx)
    settings = cli.settings()
    with cli.sessions()() as session:
        query = select(Surge).order_by(Surge.id.desc())
        if status != "all":
            query = query.where(Surge.status == status)
        items = [summary(session, settings, s) for s in session.scalars(query)]
    if as_json:
        print_json(items)
        return
    if not items:
        console.print(f"no {'' if status == 'all' else status + ' '}surges")
        return
    table = Table("surge", "kind", "status", "tickets", "issue", "shared", "since")
    for item in items:
        shared = " · ".join(
            ", ".join(item[k]) for k in ("exams", "providers", "regions", "errors") if item[k]
        )
        table.add_row(
            item["ref"], item["kind"], item["status"], str(item["count"]),
            escape(str(item["issue"] or item["suggested"] or "-")), escape(shared),
            item["first_at"][:16],
        )  # fmt: skip
    console.print(table)


def show_cmd(
    ctx: typer.Context,
    surge: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One surge: what its tickets share, its typical phrasings and its tickets."""
    cli = state(ctx)
    settings = cli.settings()
    with cli.sessions()() as session:
        item = summary(session, settings, decisions.get(session, surge_id(surge)))
    if as_json:
        print_json(item)
        return
    console.print(
        f"{item['ref']} · {item['kind']} · {item['status']} · {item['count']} tickets · "
        f"{escape(str(item['issue'] or item['suggested'] or 'new problem'))}"
    )
    for key in ("exams", "providers", "regions", "errors"):
        if item[key]:
            console.print(f"  {key}: {escape(', '.join(item[key]))}")
    for text in item["phrasings"]:
        console.print(f"  “{escape(text)}”", soft_wrap=True)
    console.print(f"  tickets: {', '.join(item['tickets'])}")


def draft_cmd(
    ctx: typer.Context,
    surge: str,
    issue_id: Annotated[str | None, typer.Option("--id", help="The new issue's id.")] = None,
    title: Annotated[str | None, typer.Option(help="The new issue's title.")] = None,
    as_: AsOption = None,
) -> None:
    """Make it a known issue: write the draft knowledge file to review and add."""
    cli = state(ctx)
    settings = cli.settings()
    known = load_knowledge(settings.knowledge_dir).issues
    with cli.sessions()() as session, session.begin():
        outcome = decisions.draft(
            session, settings.app, surge=decisions.get(session, surge_id(surge)),
            actor=operator(as_), now=utcnow(), drafts_dir=Path(settings.app.surges.drafts_dir),
            known=known, issue_id=issue_id, title=title,
        )  # fmt: skip
    path = escape(str(outcome.path))
    console.print(
        f"[green]✓[/] {outcome.ref}: draft `{escape(str(outcome.draft_id))}` written to {path}; "
        f"review it, then `triage knowledge add {path}`"
    )


def merge_cmd(ctx: typer.Context, surge: str, issue: str, as_: AsOption = None) -> None:
    """Merge into a known issue: each ticket relabelled (the correction kept) and re-routed."""
    cli = state(ctx)
    settings = cli.settings()
    catalogue = sorted(load_knowledge(settings.knowledge_dir).issues)
    with cli.sessions()() as session, session.begin():
        outcome = decisions.merge(
            session, settings.app, surge=decisions.get(session, surge_id(surge)), issue=issue,
            catalogue=catalogue, actor=operator(as_), now=utcnow(),
            records=records_source(settings, session),
        )  # fmt: skip
    console.print(
        f"[green]✓[/] {outcome.ref} merged into `{escape(issue)}`: "
        f"{len(outcome.changed)} tickets relabelled ({', '.join(outcome.changed) or 'none'})"
    )


def ignore_cmd(ctx: typer.Context, surge: str, as_: AsOption = None) -> None:
    """Ignore a surge: no further alerts about it."""
    cli = state(ctx)
    settings = cli.settings()
    with cli.sessions()() as session, session.begin():
        outcome = decisions.ignore(
            session, settings.app, surge=decisions.get(session, surge_id(surge)),
            actor=operator(as_), now=utcnow(),
        )  # fmt: skip
    console.print(f"[green]✓[/] {outcome.ref} ignored")


def answer_cmd(ctx: typer.Context, surge: str, text: str, as_: AsOption = None) -> None:
    """Send one answer to every open ticket of a surge, each privately to its candidate."""
    cli = state(ctx)
    settings = cli.settings()
    with cli.sessions()() as session, session.begin():
        outcome = decisions.answer_all(
            session, settings.app, surge=decisions.get(session, surge_id(surge)), text=text,
            actor=operator(as_), now=utcnow(), records=records_source(settings, session),
        )  # fmt: skip
    console.print(
        f"[green]✓[/] {outcome.ref}: answer queued for {len(outcome.changed)} tickets "
        f"({', '.join(outcome.changed)})"
    )
    for line in outcome.skipped:
        console.print(f"  skipped {escape(line)}")


def add_cmd(
    ctx: typer.Context,
    draft: Annotated[Path, typer.Argument(help="The reviewed draft, e.g. knowledge-drafts/x.yaml")],
    train: Annotated[
        bool, typer.Option("--train/--no-train", help="Retrain the matcher with it (default).")
    ] = True,
    data: Annotated[
        Path, typer.Option("--data", help="Folder of the labelled corpora.", file_okay=False)
    ] = DATA_DIR,
    as_: AsOption = None,
) -> None:
    """Add a drafted known issue: validate it, relabel and re-route its surge's open tickets,
    retrain the matcher, and copy the file into the knowledge folder. Nothing is added when the
    retrained matcher scores worse on the frozen splits."""
    cli = state(ctx)
    settings = cli.settings()
    actor = operator(as_)
    if not draft.is_file():
        raise UserError(f"{draft}: no such file")
    try:
        issue, _template = load_issue(draft)
    except KnowledgeError as exc:
        raise UserError(str(exc)) from None
    target_dir = settings.knowledge_dir
    kb = load_knowledge(target_dir)
    if issue.id in kb.issues:
        raise UserError(f"`{issue.id}` is already in {target_dir}")
    if train and not (data / "eval-tune.jsonl").exists():
        raise UserError(f"{data}: no labelled corpora here (eval-tune.jsonl); give --data")
    with cli.sessions()() as session, session.begin():
        surge = session.scalar(
            select(Surge).where(Surge.draft_id == issue.id, Surge.status == "open")
        )
        changed: list[str] = []
        if surge is not None:
            outcome = decisions.make_known(
                session, settings.app, surge=surge, issue=issue.id, catalogue=sorted(kb.issues),
                actor=actor, now=utcnow(), records=records_source(settings, session),
            )  # fmt: skip
            changed = outcome.changed
        if train:
            grown = kb.model_copy(update={"issues": {**kb.issues, issue.id: issue}})
            result = retrain(session, grown, data, actor=actor.name)
            report(result)
            if result.problems:  # raised inside the transaction: nothing is kept
                raise UserError(f"`{issue.id}` not added: the retrained matcher scores worse")
        shutil.copyfile(draft, target_dir / f"{issue.id}.yaml")
    where = (
        f" ({surge_ref(surge.id)}: {len(changed)} tickets relabelled and re-routed)"
        if surge
        else ""
    )
    console.print(f"[green]✓[/] `{issue.id}` added to {target_dir}{where}")
    if not train:
        console.print("  the matcher does not know it yet: run `triage model train`")
