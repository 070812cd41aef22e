"""`triage classify` and `triage eval`: the matcher from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.errors import UserError
from bot.matching.evaluation import NONE_LABEL, EvalReport, evaluate, load_corpus
from bot.matching.matcher import Classification, Matcher, get_matcher

DEFAULT_CORPUS_DIR = Path("tests/data")

KnowledgeOption = Annotated[
    Path,
    typer.Option(
        "--knowledge",
        envvar="TRIAGE_KNOWLEDGE",
        help="Knowledge directory (issue files and exams.yaml).",
        file_okay=False,
    ),
]


def _read_text(text: str | None) -> str:
    if text is not None and text != "-":
        return text
    # Bytes, decoded leniently: a pipe may carry anything, and junk must not crash the command.
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        return sys.stdin.read()
    return stream.read().decode("utf-8", errors="replace")


def _matcher(knowledge: Path) -> Matcher:
    return get_matcher(knowledge.resolve())


def _print_summary(console: Console, result: Classification, explain: bool) -> None:
    issue = result.issue or "unknown (goes to the triage lead)"
    console.print(f"[bold]issue:[/] {issue}  [dim]confidence {result.confidence:.2f}[/]")
    if len(result.issues) > 1:
        others = ", ".join(f"{i.id} ({i.score:.2f})" for i in result.issues[1:])
        console.print(f"[bold]also:[/] {others}")
    for kind, values in result.entities.model_dump().items():
        if values:
            console.print(f"[bold]{kind}:[/] {', '.join(values)}", highlight=False)
    sig = result.signals
    tone = [m for m in sig.anger_markers]
    if sig.chasing:
        tone.append(f"chasing x{sig.chasing}")
    if sig.waiting_days:
        tone.append(f"waiting {sig.waiting_days} days")
    if sig.follow_up:
        tone.append("follow-up")
    if tone:
        console.print(f"[bold]signals:[/] {', '.join(tone)}", highlight=False)
    if explain:
        table = Table("issue", "kind", "phrase or signal", "weight", title="why")
        for ev in result.explanation:
            table.add_row(ev.issue, ev.kind, ev.detail, f"{ev.weight:+.2f}")
        console.print(table)


def classify_cmd(
    text: Annotated[
        str | None, typer.Argument(help="Message text; standard input when absent or -.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON contract object.")
    ] = False,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show the phrases and signals that decided.")
    ] = False,
    knowledge: KnowledgeOption = Path("knowledge"),
) -> None:
    """Classify one message against the known issues."""
    message = _read_text(text)
    result = _matcher(knowledge).classify(message)
    if as_json:
        payload = result.contract()
        if explain:
            payload["explanation"] = [e.model_dump() for e in result.explanation]
        typer.echo(json.dumps(payload, ensure_ascii=False))
    else:
        _print_summary(Console(), result, explain)


def _print_report(console: Console, name: str, report: EvalReport) -> None:
    console.print(
        f"[bold]{name}[/]: {report.messages} messages, top-1 accuracy "
        f"[bold]{report.top1_accuracy:.3f}[/], lowest issue recall {report.min_recall:.3f}"
    )
    table = Table("issue", "precision", "recall", "F1", "support", title=f"{name}: issues")
    for iid, f in report.issues.items():
        table.add_row(iid, f"{f.precision:.3f}", f"{f.recall:.3f}", f"{f.f1:.3f}", str(f.support))
    console.print(table)
    table = Table("entity", "precision", "recall", "F1", "support", title=f"{name}: entities")
    for kind, f in report.entities.items():
        table.add_row(kind, f"{f.precision:.3f}", f"{f.recall:.3f}", f"{f.f1:.3f}", str(f.support))
    console.print(table)
    predicted = sorted({p for row in report.confusion.values() for p in row})
    short = {p: p if p == NONE_LABEL else "".join(w[0] for w in p.split("-")) for p in predicted}
    table = Table(
        "expected \\ predicted", *(short[p] for p in predicted), title=f"{name}: confusion"
    )
    for expected, row in report.confusion.items():
        table.add_row(expected, *(str(row.get(p, "")) for p in predicted))
    console.print(table)
    console.print("[dim]columns: " + ", ".join(f"{short[p]}={p}" for p in predicted) + "[/]")


def eval_cmd(
    files: Annotated[
        list[Path] | None, typer.Argument(help="JSONL corpora; default tests/data/*.jsonl.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    split: Annotated[str | None, typer.Option(help="Only this split: tune or holdout.")] = None,
    knowledge: KnowledgeOption = Path("knowledge"),
) -> None:
    """Evaluate the matcher on a labelled corpus, per split."""
    paths = files or sorted(DEFAULT_CORPUS_DIR.glob("*.jsonl"))
    if not paths:
        raise UserError(f"no corpus given and none found in {DEFAULT_CORPUS_DIR}/")
    rows = load_corpus(paths)
    matcher = _matcher(knowledge)
    splits = [split] if split else sorted({r.split for r in rows})
    reports = {"all": evaluate(matcher, rows)} if not split and len(splits) > 1 else {}
    for name in splits:
        subset = [r for r in rows if r.split == name]
        if not subset:
            raise UserError(f"no messages in split {name!r}")
        reports[name] = evaluate(matcher, subset)
    if as_json:
        typer.echo(
            json.dumps(
                {k: v.model_dump() | {"min_recall": v.min_recall} for k, v in reports.items()}
            )
        )
        return
    console = Console()
    for name, report in reports.items():
        _print_report(console, name, report)


def register(app: typer.Typer) -> None:
    """Add `classify` and `eval` to the `triage` app."""
    app.command("classify")(classify_cmd)
    app.command("eval")(eval_cmd)
