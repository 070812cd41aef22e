"""`triage model train|list`: retrain the learned matcher and see the deployment's models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from bot.cli.common import console, print_json, state
from bot.errors import UserError
from bot.matching import corrections, registry
from bot.matching.evaluation import load_corpus
from bot.matching.knowledge import KnowledgeBase, load_knowledge
from bot.matching.matcher import Matcher, shipped_model
from bot.matching.model import SHIPPED_DIR, LinearModel, ModelFormatError
from bot.matching.training import train, training_rows

DATA_DIR = Path("tests/data")
# The frozen splits a retrained model must not score worse on than the model in use.
FROZEN = {"blind": "blind-test.jsonl", "holdout": "eval-holdout.jsonl"}

DataOption = Annotated[
    Path, typer.Option("--data", help="Folder of the labelled corpora.", file_okay=False)
]
KnowledgeOption = Annotated[
    Path | None,
    typer.Option("--knowledge", envvar="TRIAGE_KNOWLEDGE", help="Knowledge directory.",
                 file_okay=False),
]  # fmt: skip


def register(app: typer.Typer) -> None:
    model_app = typer.Typer(
        help="The learned matcher: train and list models.", no_args_is_help=True
    )
    model_app.command("train")(train_cmd)
    model_app.command("list")(list_cmd)
    app.add_typer(model_app, name="model")


def frozen_figures(matcher: Matcher, data: Path) -> dict[str, float]:
    """Top-1 on each frozen split, and the blind requests read as not-a-request."""
    from bot.matching.evaluation import evaluate

    figures: dict[str, float] = {}
    for name, file in FROZEN.items():
        report = evaluate(matcher, load_corpus([data / file]))
        figures[f"{name}_top1"] = report.top1_accuracy
        if name == "blind":
            figures["blind_requests_dropped"] = report.requests_dropped
    return figures


def worse(new: dict[str, float], old: dict[str, float]) -> list[str]:
    """The frozen-split figures on which `new` is worse than `old`."""
    bad = [
        f"{k} {new[k]:.4f} < {old[k]:.4f}" for k in old if k.endswith("_top1") and new[k] < old[k]
    ]
    if new["blind_requests_dropped"] > old["blind_requests_dropped"]:
        bad.append(
            f"blind requests dropped {new['blind_requests_dropped']:.0f} > "
            f"{old['blind_requests_dropped']:.0f}"
        )
    return bad


def train_cmd(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="Write the model (repository data only) to this folder.",
            file_okay=False,
        ),
    ] = None,
    ship: Annotated[
        bool, typer.Option("--ship", help="Rebuild the model shipped in the package.")
    ] = False,
    data: DataOption = DATA_DIR,
    knowledge: KnowledgeOption = None,
    actor: Annotated[str, typer.Option(help="Who retrains (kept with the model).")] = "cli",
) -> None:
    """Train the matcher. With --output or --ship: from the repository's data into a folder.
    Otherwise: with this deployment's corrections too, compared with the model in use on the
    frozen splits (blind and old holdout top-1, blind requests dropped) and stored in the
    database; a model that scores worse there is kept but not used."""
    if not (data / "eval-tune.jsonl").exists():
        raise UserError(f"{data}: no labelled corpora here (eval-tune.jsonl); give --data")
    if output is not None or ship:
        kb = load_knowledge(knowledge or Path("knowledge"))
        model = train(kb, training_rows(kb, data))
        target = SHIPPED_DIR if ship else output
        assert target is not None
        model.save(target)
        console.print(f"[green]✓[/] model written to {target}: {_summary(model)}")
        return
    settings = state(ctx).settings()
    kb = load_knowledge(knowledge or settings.knowledge_dir)
    with state(ctx).sessions()() as session:
        result = retrain(session, kb, data, actor=actor)
        session.commit()
    report(result)
    if result.problems:
        raise typer.Exit(1)


@dataclass
class Retrained:
    version: int
    label: str  # the model it was compared with
    before: dict[str, float]
    after: dict[str, float]
    problems: list[str]
    corrections: int
    model: LinearModel


def in_use_knowledge(kb: KnowledgeBase, model: LinearModel) -> KnowledgeBase:
    """The knowledge base as the model in use knows it: an issue added since (a surge's draft)
    is left out, so the model in use can be compared with the one that learned it."""
    known = {k: v for k, v in kb.issues.items() if k in model.classes}
    return kb.model_copy(update={"issues": known})


def retrain(session: Session, kb: KnowledgeBase, data: Path, *, actor: str) -> Retrained:
    """Train with the corrections in `session`, compare with the model in use on the frozen
    splits and store the new model (used only when no worse); the caller commits."""
    examples = corrections.training_examples(session)
    model_id = registry.newest_passing_id(session)
    in_use, label = shipped_model(), "shipped"
    if model_id is not None:
        try:
            version, in_use = registry.load_model(session, model_id)
            label = f"version {version}"
        except ModelFormatError:  # stored by an older release: the shipped model is in use
            label = "shipped (the stored model has an older format)"
    model = train(kb, training_rows(kb, data, examples))
    before = frozen_figures(Matcher(in_use_knowledge(kb, in_use), in_use), data)
    after = frozen_figures(Matcher(kb, model), data)
    problems = worse(after, before)
    figures = {
        "corrections": len(examples), "compared_with": label, "before": before,
        "after": after, "training": model.meta.get("training", {}),
        "thresholds": model.thresholds.as_dict(),
    }  # fmt: skip
    row = registry.store_model(session, model, passed=not problems, actor=actor, figures=figures)
    return Retrained(row.version, label, before, after, problems, len(examples), model)


def report(result: Retrained) -> None:
    table = Table("figure (frozen splits)", f"in use ({result.label})",
                  f"new (version {result.version})")  # fmt: skip
    for key in result.before:
        table.add_row(key, f"{result.before[key]:g}", f"{result.after[key]:g}")
    console.print(table)
    if result.problems:
        console.print(
            f"[red]✗[/] version {result.version} stored but not used: {'; '.join(result.problems)}"
        )
        return
    console.print(
        f"[green]✓[/] version {result.version} in use ({result.corrections} corrections): "
        f"{_summary(result.model)}"
    )


def _summary(model: LinearModel) -> str:
    t = model.thresholds
    training = model.meta.get("training", {})
    return (
        f"out-of-fold top-1 {training.get('out_of_fold_top1')}, thresholds: auto-answer "
        f"{t.auto_answer}, not-a-request {t.not_a_request}, unknown {t.unknown}, "
        f"secondary {t.secondary}"
    )


def list_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The deployment's trained models, oldest first, with their figures."""
    with state(ctx).sessions()() as session:
        rows = registry.list_models(session)
        items = [
            {"version": r.version, "passed": r.passed, "actor": r.actor,
             "created_at": r.created_at.isoformat(), "figures": r.figures}
            for r in rows
        ]  # fmt: skip
    if as_json:
        print_json(items)
        return
    if not items:
        console.print("no trained models in the database: the shipped model is in use")
        return
    table = Table("version", "passed", "by", "created", "blind top-1 before → after")
    for item in items:
        table.add_row(
            str(item["version"]), "yes" if item["passed"] else "no", item["actor"],
            item["created_at"][:16], _blind_change(item["figures"]),
        )  # fmt: skip
    console.print(table)


def _blind_change(figures: object) -> str:
    """Blind top-1 before → after, or `–` for a row whose figures say otherwise (stored by hand
    or by an older version): the list shows every row, whatever it holds."""
    try:
        before, after = figures["before"]["blind_top1"], figures["after"]["blind_top1"]  # type: ignore[index]
        return f"{float(before):.3f} → {float(after):.3f}"
    except (KeyError, TypeError, ValueError):
        return "–"
